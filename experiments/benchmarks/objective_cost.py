"""Training time per epoch of each objective relative to noise augmentation, measured in one process.

Each objective trains the digits CNN (the denoisers: the digits DnCNN in front of a frozen digits CNN) over the
digits training split with the settings of its ``digits_*`` experiment, one epoch at a time in turns (noise
augmentation, stability, consistency, …, then again), so that machine load falls on all of them alike; the
median epoch time of each is divided by noise augmentation's. The forward/backward passes per input (m copies,
SmoothAdv's attack steps) are printed beside it: m copies should cost about m× the forward/backward, not more.

    python experiments/benchmarks/objective_cost.py --rounds 3 --json objective_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from rsmooth.cli.config import compose
from rsmooth.data.digits import DigitsDataModule
from rsmooth.training.module import SmoothingClassifier

#: experiment → passes per input it should cost relative to noise augmentation's one forward/backward
EXPERIMENTS = {
    "digits_gaussian": "1 (one noisy copy)",
    "digits_stability": "2 (two copies)",
    "digits_consistency": "2 (m = 2)",
    "digits_macer": "4 (m = 4)",
    "digits_smoothadv": "2 × (2 attack steps + 1) (m = 2; attack passes without weight gradients)",
    "digits_denoised_mse": "DnCNN forward/backward (classifier forward for logging only)",
    "digits_denoised_stability": "DnCNN + frozen classifier forward/backward",
}


def build(experiment: str, dm: DigitsDataModule) -> tuple[SmoothingClassifier, torch.optim.Optimizer]:
    cfg = compose("train", [f"experiment={experiment}"])
    plain: Any = lambda node: OmegaConf.to_container(node, resolve=True)  # noqa: E731
    model = plain(cfg.model)
    if "denoised" in experiment:  # a fresh digits CNN stands in for the frozen classifier (cost does not care)
        model = {"denoiser": model, "classifier": plain(compose("train", []).model)}
    module = SmoothingClassifier(
        model=model,
        noise=plain(cfg.noise),
        data=dm.info(),
        objective=plain(cfg.objective),
        optimizer=plain(cfg.optimizer),
        frozen_classifier={"path": "fresh"} if "denoised" in experiment else None,
    )
    optimizer = module.configure_optimizers()
    return module, optimizer if isinstance(optimizer, torch.optim.Optimizer) else optimizer["optimizer"]


def epoch_seconds(
    module: SmoothingClassifier, optimizer: torch.optim.Optimizer, loader: Any, batches: int | None = None
) -> float:
    """Seconds for one pass over ``loader`` (its first ``batches`` batches when given)."""
    module.train()
    start = time.perf_counter()
    for step, (x, y) in enumerate(loader):
        if batches is not None and step == batches:
            break
        out = module.objective(module.model, module.noise, x, y)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--batches", type=int, help="time only the first N batches of each epoch (a smoke run)")
    args = parser.parse_args()
    torch.manual_seed(0)
    dm = DigitsDataModule()
    loader = dm.train_dataloader()
    built = {name: build(name, dm) for name in EXPERIMENTS}
    times: dict[str, list[float]] = {name: [] for name in EXPERIMENTS}
    for module, opt in built.values():  # one warm-up epoch each, not timed
        epoch_seconds(module, opt, loader, args.batches)
    for _ in range(args.rounds):
        for name, (module, opt) in built.items():
            times[name].append(epoch_seconds(module, opt, loader, args.batches))
    base = statistics.median(times["digits_gaussian"])
    print(f"{'experiment':28s} {'s/epoch':>8s} {'× noise aug.':>12s}  passes per input")
    result = {}
    for name, passes in EXPERIMENTS.items():
        median = statistics.median(times[name])
        result[name] = {"seconds_per_epoch": median, "ratio": median / base, "all": times[name]}
        print(f"{name:28s} {median:8.2f} {median / base:12.2f}  {passes}")
    if args.json:
        args.json.write_text(json.dumps({"torch_threads": torch.get_num_threads(), "results": result}, indent=1))


if __name__ == "__main__":
    main()
