"""DSSN end to end: training, exact certification, checkpoint round-trip, refusals, analysis."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rsmooth.analysis import certified_accuracy
from rsmooth.cli.analyze import analyze
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.cli.train import train
from rsmooth.data import DigitsDataModule
from rsmooth.loading.checkpoint import CheckpointMismatchError, load_classifier
from rsmooth.noise import DeterministicSplittingNoise, split_midpoint
from rsmooth.results import read_rows
from rsmooth.smoothing import Smooth


@pytest.fixture(scope="module")
def dssn_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("dssn")
    cfg = compose(
        "train",
        [
            "experiment=digits_dssn",
            f"paths.output_dir={out}",
            "logger=csv",
            "trainer.enable_progress_bar=false",
            "certification.progress=false",
        ],
    )
    return train(cfg)


def exact_smoothed_predictions(
    model: torch.nn.Module, noise: DeterministicSplittingNoise, xs: torch.Tensor
) -> list[int]:
    """g(x) computed independently of the engine: every split draw through the paper's float formula."""
    d = xs[0].numel()
    table = noise.split_indices(d)  # (L, d)
    preds = []
    with torch.no_grad():
        for x in xs:
            s = (table.double() + 0.5) / noise.q  # (L, d) split points
            noisy = split_midpoint(x.flatten().double().unsqueeze(0), s, 2 * noise.lam).float()
            votes = model(noisy.view(noise.L, *x.shape)).argmax(1)
            counts = torch.bincount(votes, minlength=10)
            preds.append(int(torch.argmax(counts)))  # first maximum: smallest index on ties
    return preds


def test_digits_dssn_trains_certifies_exactly_and_plots(dssn_run: dict) -> None:
    rows = read_rows(dssn_run["certify_tsv"])
    assert len(rows) == 359 and (dssn_run["output_dir"] / "certify.png").stat().st_size > 5_000
    assert all(r.norm == "l1" and r.alpha == 0.0 and r.predict >= 0 for r in rows)  # exact: never abstains
    noise = DeterministicSplittingNoise(0.5, 16, seed=0)
    assert all(r.n == noise.L for r in rows)
    assert all(abs(r.radius * 16 - round(r.radius * 16)) < 1e-4 for r in rows)  # radius = t*/q
    # certified accuracy at ρ = 0 equals the exact smoothed accuracy, computed independently
    loaded = load_classifier(dssn_run["checkpoint"])
    dataset = DigitsDataModule().certification_dataset()
    xs = torch.stack([dataset[i][0] for i in range(len(dataset))])
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    preds = exact_smoothed_predictions(loaded.model, loaded.noise, xs)
    exact_accuracy = sum(p == y for p, y in zip(preds, labels)) / len(labels)
    assert certified_accuracy(rows, [0.0])[0] == pytest.approx(exact_accuracy)
    assert [r.predict for r in sorted(rows, key=lambda r: r.idx)] == preds
    assert exact_accuracy > 0.9
    # the training-time callback certified with exact enumeration too
    snapshots = sorted((dssn_run["output_dir"] / "cert").glob("cert_epoch*.tsv"))
    assert snapshots and all(r.alpha == 0.0 and r.n == noise.L for r in read_rows(snapshots[-1]))


def test_checkpoint_round_trip_is_deterministic(dssn_run: dict) -> None:
    ckpt = torch.load(dssn_run["checkpoint"], map_location="cpu", weights_only=True)
    state = ckpt["rsmooth"]["noise_state"]
    assert state["q"] == 16 and state["seed"] == 0 and len(state["offsets"]["64"]) == 64
    loaded = load_classifier(dssn_run["checkpoint"])
    assert loaded.noise.offsets(64).tolist() == state["offsets"]["64"]
    x = DigitsDataModule().certification_dataset()[3][0]
    a = Smooth(loaded.model, loaded.noise, 10).certify(x, 1, 1, 0.001, batch_size=8)
    again = load_classifier(dssn_run["checkpoint"])
    b = Smooth(again.model, again.noise, 10).certify(x, 1, 1, 0.001, batch_size=1000)
    assert a == b
    row = next(r for r in read_rows(dssn_run["certify_tsv"]) if r.idx == 3)
    assert (row.predict, row.radius) == (a.prediction, pytest.approx(a.radius, abs=1e-6))


def test_certify_cli_reproduces_training_rows_exactly(dssn_run: dict, tmp_path: Path) -> None:
    tsv = tmp_path / "again.tsv"
    certify(
        compose(
            "certify",
            [
                f"checkpoint={dssn_run['checkpoint']}",
                f"output={tsv}",
                f"paths.output_dir={tmp_path}",
                "certification.max=40",
                "certification.progress=false",
            ],
        )
    )
    first = {r.idx: (r.predict, r.radius) for r in read_rows(dssn_run["certify_tsv"])}
    assert all(first[r.idx] == (r.predict, r.radius) for r in read_rows(tsv))


@pytest.mark.parametrize("override", ["noise.seed=1", "noise.q=8", "noise.sigma=0.25"])
def test_certifying_with_other_dssn_parameters_is_refused(dssn_run: dict, tmp_path: Path, override: str) -> None:
    cfg = compose(
        "certify",
        [
            f"checkpoint={dssn_run['checkpoint']}",
            f"output={tmp_path / 'x.tsv'}",
            f"paths.output_dir={tmp_path}",
            "noise=dssn",
            "noise.q=16",
            "noise.sigma=0.5",
            "noise.seed=0",
            override,
        ],
    )
    with pytest.raises(CheckpointMismatchError, match="trained with DeterministicSplittingNoise"):
        certify(cfg)
    with pytest.raises(CheckpointMismatchError, match="trained with"):
        certify(
            compose(
                "certify", [f"checkpoint={dssn_run['checkpoint']}", f"paths.output_dir={tmp_path}", "noise=gaussian"]
            )
        )


def test_checkpoint_with_tampered_dssn_state_is_refused(dssn_run: dict, tmp_path: Path) -> None:
    ckpt = torch.load(dssn_run["checkpoint"], map_location="cpu", weights_only=True)
    ckpt["rsmooth"]["noise_state"]["L"] = 5
    bad = tmp_path / "bad.ckpt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointMismatchError, match="does not match"):
        load_classifier(bad)


def test_training_dssn_on_data_off_its_grid_is_refused(tmp_path: Path) -> None:
    cfg = compose("train", ["experiment=digits_dssn", "noise.q=255", f"paths.output_dir={tmp_path}", "logger=csv"])
    with pytest.raises(ValueError, match="quantized to q=255"):
        train(cfg)


def test_analysis_puts_l1_families_on_one_plot_and_refuses_mixed_norms(dssn_run: dict, tmp_path: Path) -> None:
    from rsmooth.results import CertificationRow, ResultsWriter

    mc = tmp_path / "uniform.tsv"
    with ResultsWriter(mc) as w:
        for i in range(4):
            w.write(
                CertificationRow(
                    i,
                    1,
                    1,
                    0.3 * i,
                    True,
                    0.25,
                    p_lower=0.9,
                    count=900,
                    n=1000,
                    norm="l1",
                    noise="uniform_l1(sigma=0.5)",
                    alpha=0.001,
                )
            )
    out = analyze(
        compose(
            "analyze",
            [f"inputs=[{dssn_run['certify_tsv']},{mc}]", "radii=[0.0,0.25,0.5]", f"paths.output_dir={tmp_path / 'an'}"],
        )
    )
    assert out["norm"] == "l1"
    dssn, uniform = out["labels"]  # what differs between them: the noise, certificate, n and α
    assert dssn.startswith("dssn(") and uniform.startswith("uniform_l1(sigma=0.5)")
    assert out["stats"][uniform]["s/img"] == pytest.approx(0.25)
    # exact certificates: the Appendix-D "lower bound" equals the curve itself
    assert out["curves"][f"{dssn} (App. D LB)"] == out["curves"][dssn]
    assert out["curves"][f"{uniform} (App. D LB)"][0] < out["curves"][uniform][0]
    assert "s/img" in (tmp_path / "an" / "table.md").read_text()
    l2 = tmp_path / "gauss.tsv"
    with ResultsWriter(l2) as w:
        w.write(
            CertificationRow(
                0,
                1,
                1,
                0.3,
                True,
                1.0,
                p_lower=0.9,
                count=900,
                n=1000,
                norm="l2",
                noise="gaussian(sigma=0.25,norm=l2)",
                alpha=0.001,
            )
        )
    with pytest.raises(ValueError, match="different norms"):
        analyze(compose("analyze", [f"inputs=[{mc},{l2}]", f"paths.output_dir={tmp_path / 'x'}"]))
