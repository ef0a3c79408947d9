"""The certification job shared by ``rsmooth-train`` (after fitting) and ``rsmooth-certify``:
config → ``Smooth`` → results file with provenance → rows → summary and plot."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from rsmooth import __version__
from rsmooth.analysis.summary import summarize_file
from rsmooth.certify.loop import certify_examples, group_size_setting, select_indices
from rsmooth.certify.results_file import ResultsWriter, merge_parts, part_path, parts_dir
from rsmooth.certify.rows import read_rows
from rsmooth.certify.sampling import RNG_SCHEME
from rsmooth.certify.sequential import MODES, SampleSchedule, check_sequential_certificate
from rsmooth.certify.smooth import Smooth
from rsmooth.certify.stats import check_alpha, check_count
from rsmooth.config import resolve_device
from rsmooth.distributed import joined_ranks
from rsmooth.errors import ConfigError, ResultsFileError, ResultsFileNotFoundError
from rsmooth.noise.base import NoiseFamily

PRECISIONS: dict[str | None, torch.dtype | None] = {None: None, "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


#: forward-pass switches of the certification config; each may change the network's logits (never the noise)
SPEED_SWITCHES = ("channels_last", "compile", "cudnn_benchmark")


def speed_switches(cert: DictConfig) -> dict[str, bool]:
    """The switches that are on (``certification.channels_last`` / ``compile`` / ``cudnn_benchmark``)."""
    on = {}
    for name in SPEED_SWITCHES:
        value = cert.get(name, False)
        if not isinstance(value, bool):
            raise ConfigError(f"certification.{name} must be true or false, got {value!r}")
        if value:
            on[name] = True
    return on


def build_smooth(
    model: nn.Module, noise: NoiseFamily, num_classes: int, cert: DictConfig, device: torch.device | None = None
) -> Smooth:
    """``Smooth`` from the certification config (device unless given, seed, certificates, forward precision
    and the speed switches: channels_last memory layout, ``torch.compile`` of the network, cuDNN autotuning)."""
    precision = cert.get("precision")
    if precision not in PRECISIONS:
        raise ConfigError(f"certification.precision must be one of {sorted(k for k in PRECISIONS if k)} or null, "
                          f"got {precision!r}")
    switches = speed_switches(cert)
    model = model.to(device or resolve_device(cert.device))
    if switches.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    if switches.get("cudnn_benchmark"):
        torch.backends.cudnn.benchmark = True  # process-wide: cuDNN times the algorithms of each new shape
    if switches.get("compile"):
        model = torch.compile(model)  # type: ignore[assignment]  # compiled on the first batch of each shape
    return Smooth(model, noise, num_classes, seed=cert.seed, certificate=cert.get("certificate"),
                  extra_certificates=list(cert.get("extra_certificates") or []), autocast_dtype=PRECISIONS[precision],
                  channels_last=bool(switches.get("channels_last")))


def record_time(cert: DictConfig) -> bool:
    """``certification.record_time``: wall time per row (true), or 0 so reruns write byte-identical files."""
    value = cert.get("record_time", True)
    if not isinstance(value, bool):
        raise ConfigError(f"certification.record_time must be true or false, got {value!r}")
    return value


def sequential_plan(smooth: Smooth, cert: DictConfig) -> tuple[str, list[float] | None, SampleSchedule | None]:
    """(mode, target radii, sample schedule) from ``certification.mode`` and ``certification.sequential``."""
    mode = cert.get("mode", "fixed")
    if mode not in MODES:
        raise ConfigError(f"certification.mode must be one of {MODES}, got {mode!r}")
    if mode == "fixed":
        return mode, None, None
    if smooth.exact:
        raise ConfigError(f"certification.mode=sequential: {smooth.certificate.name} enumerates every draw exactly; "
                          "sequential mode is for Monte Carlo families")
    seq = cert.get("sequential") or {}
    check_sequential_certificate(smooth.certificate)
    schedule = SampleSchedule.geometric(cert.n, seq.get("first", 1024), seq.get("growth", 2.0),
                                        seq.get("futility", 0.05), seq.get("final_share", 0.75))
    radii = seq.get("radii")
    return mode, None if radii is None else [float(r) for r in radii], schedule


def provenance(smooth: Smooth, cert: DictConfig, checkpoint: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """What a results file records about the run that wrote it; resuming compares all but the version."""
    alpha = None if smooth.exact else float(cert.alpha)
    mode, radii, schedule = sequential_plan(smooth, cert)
    sequential = {} if schedule is None else {"stages": list(schedule.sizes),
                                              "stage_alphas": list(schedule.stage_alphas(alpha)),  # type: ignore[arg-type]
                                              "radii": radii, "futility": schedule.futility}
    # primary settings first: a refused resume names the first field that differs
    return {
        "certification": {
            "mode": "exact" if smooth.exact else ("monte_carlo" if mode == "fixed" else "sequential"),
            "n0": None if smooth.exact else int(cert.n0), "n": None if smooth.exact else int(cert.n),
            "alpha": alpha, "seed": smooth.seed, "precision": cert.get("precision"), **speed_switches(cert),
            **({} if record_time(cert) else {"record_time": False}),
            **sequential,
        },
        "checkpoint": checkpoint,
        "data": data,
        "noise": smooth.noise.config(),
        "certificates": [{**c.describe(), "failure_probability": c.failure_probability(alpha or 0.0)}
                         for c in smooth.certificates],
        "randomness": {"scheme": RNG_SCHEME, "device": smooth.counter.device().type,
                       **({"stream_revision": rev} if (rev := smooth.noise.stream_revision) > 1 else {})},
        "rsmooth_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def run_certification_job(
    model: nn.Module, noise: NoiseFamily, num_classes: int, dataset: Dataset[Any], data_info: dict[str, Any],
    cert: DictConfig, tsv: Path, checkpoint: dict[str, Any],
) -> dict[str, Any]:
    """Certify the examples ``cert`` selects (start/end/skip/max) into ``tsv``, resuming after the rows
    already there (same provenance only); then write the plot and summary beside it. Returns the
    summary plus ``new_rows``, ``already`` and ``table_seconds`` (certificate tables, not in any row).

    Launched on several ranks (torchrun, srun, Lightning DDP; :mod:`rsmooth.distributed`), the examples
    not yet in ``tsv`` are dealt out in interleaved order (rank r takes every world-th, so slow and fast
    examples spread evenly); each rank writes its own file (``tsv.parts/rank{r}.tsv``, resumable) and rank
    0 merges them into ``tsv`` ordered by idx, then summarizes. Rows are those of one process: each
    example's noise comes from (seed, idx). Ranks other than 0 return ``new_rows`` and ``already`` only.
    """
    # Everything a user can get wrong is checked before the results file is touched.
    check_alpha(cert.alpha)
    for name in ("n0", "n", "batch_size"):
        check_count(f"certification.{name}", cert[name])
    group_size_setting(cert.group_size, "certification.group_size")
    check_count("certification.seed", cert.seed, minimum=0)
    baselines = [str(b) for b in cert.get("baselines") or []]
    for path in baselines:  # a missing baseline is refused now, not after hours of certifying
        if not Path(path).is_file():
            raise ResultsFileNotFoundError(f"certification.baselines: {path!r} does not exist")
    device = resolve_device(cert.device)
    with joined_ranks(device) as ranks:
        smooth = build_smooth(model, noise, num_classes, cert, ranks.device(device))
        indices = select_indices(len(dataset), cert.start, cert.end, cert.skip, cert.max)  # type: ignore[arg-type]
        if not indices:
            raise ConfigError(f"certification.start={cert.start}, end={cert.end}, skip={cert.skip}, max={cert.max} "
                              f"select no example of the {len(dataset)} in the test split")
        noise.check_input(torch.as_tensor(dataset[indices[0]][0]).unsqueeze(0))  # e.g. DSSN's q-grid
        data = {**data_info, "split": "test", "size": len(dataset)}  # type: ignore[arg-type]
        extra = [c.name for c in smooth.extra_certificates]
        record = provenance(smooth, cert, checkpoint, data)
        tsv = Path(ranks.broadcast(str(tsv)))  # Hydra dates each process's run directory: rank 0's is the one
        refused = None
        if ranks.is_zero and (ranks.distributed or parts_dir(tsv).is_dir()):
            try:
                merge_parts(tsv, record, extra)  # rows an earlier sharded run left in its rank files
            except ResultsFileError as err:
                refused = str(err)
        refused = ranks.broadcast(refused)  # every rank stops with rank 0's reason (none waits for it)
        if refused:
            raise ResultsFileError(refused)
        mine, already = indices, 0
        if ranks.distributed:
            done = {r.idx for r in read_rows(tsv)}
            remaining = [i for i in indices if i not in done]
            mine, already = remaining[ranks.rank :: ranks.world], len(indices) - len(remaining)
        with ResultsWriter(part_path(tsv, ranks.rank) if ranks.distributed else tsv, record, extra) as writer:
            already += len(writer.done)
            mode, radii, schedule = sequential_plan(smooth, cert)
            done_now = certify_examples(smooth, dataset, mine, cert.n0, cert.n, cert.alpha, cert.batch_size,
                                        writer=writer, group_size=cert.group_size,
                                        progress=cert.progress and ranks.is_zero, mode=mode, radii=radii,
                                        schedule=schedule, record_time=record_time(cert))
        ranks.barrier()
        if ranks.distributed and ranks.is_zero:
            merge_parts(tsv, record, extra)
    info = {"new_rows": len(done_now.rows), "already": already, "table_seconds": done_now.table_seconds}
    if not ranks.is_zero:
        print(f"rank {ranks.rank}: certified {info['new_rows']} new examples; rank 0 merged them into {tsv}")
        return info
    if done_now.table_seconds > 0.01:
        print(f"certificate tables built in {done_now.table_seconds:.2f} s (before the first row; in no row's time)")
    return summarize_file(tsv, cert.radii, tsv.parent, smooth.certificate.norm, extra=info, baselines=baselines)
