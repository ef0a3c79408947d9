"""Figures say what produced them: the title holds what every curve shares, each label what sets it apart,
never a bare file name unless nothing else tells two files apart."""

from __future__ import annotations

from pathlib import Path

from rsmooth.analysis.described import labels_and_title


def _described(sigma: float, n: str = "n=10 000", **more: str) -> dict[str, str]:
    noise = f"gaussian(sigma={sigma},norm=l2)"
    return {"dataset": "digits", "family": "gaussian", "noise": noise, "certificate": "cohen certificate", "n": n,
            "α": "α=0.001", **more}  # fmt: skip


def test_runs_at_two_sigmas_are_labelled_by_their_noise_and_titled_by_the_rest() -> None:
    paths = [Path("a/certify.tsv"), Path("b/certify.tsv")]
    labels, title = labels_and_title(paths, [_described(0.25), _described(0.5)])
    assert labels == ["gaussian(sigma=0.25,norm=l2)", "gaussian(sigma=0.5,norm=l2)"]
    assert title == "digits · gaussian · cohen certificate · n=10 000 · α=0.001"


def test_two_files_of_the_same_name_and_settings_are_told_apart_by_their_run_directory() -> None:
    paths = [Path("runs/x/certify.tsv"), Path("runs/y/certify.tsv")]
    labels, title = labels_and_title(paths, [_described(0.25), _described(0.25)])
    assert labels == ["x/certify", "y/certify"]  # the stems alone would repeat
    assert title == "digits · gaussian(sigma=0.25,norm=l2) · cohen certificate · n=10 000 · α=0.001"


def test_a_sweep_is_labelled_by_what_it_sweeps_and_titled_by_what_its_jobs_share() -> None:
    paths = [Path(f"sweep/{i}/certify.tsv") for i in range(2)]
    described = [
        _described(0.25, overrides="experiment=digits_stability noise.sigma=0.25 objective.lam=2"),
        _described(0.25, overrides="experiment=digits_stability noise.sigma=0.25 objective.lam=6"),
    ]
    labels, title = labels_and_title(paths, described)
    assert labels == ["objective.lam=2", "objective.lam=6"]
    assert title.endswith("α=0.001 · experiment=digits_stability noise.sigma=0.25")


def test_another_n_and_family_go_into_the_labels_and_a_file_without_a_record_into_neither() -> None:
    paths = [Path("a.tsv"), Path("b.tsv"), Path("c.tsv")]
    uniform = {"dataset": "digits", "family": "uniform_l1", "noise": "uniform_l1(sigma=0.5)", "n": "n=1 000"}
    labels, title = labels_and_title(paths, [_described(0.25), uniform, {}])
    assert labels == ["a", "b", "c"]  # a file with no record shares and differs in nothing: stems tell them apart
    labels, title = labels_and_title(paths[:2], [_described(0.25), uniform])
    assert labels == ["gaussian(sigma=0.25,norm=l2), n=10 000", "uniform_l1(sigma=0.5), n=1 000"]
    assert title == "digits"
