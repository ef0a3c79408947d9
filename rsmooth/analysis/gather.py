"""The stateful side of the certification summary: rows gathered across ranks as a torchmetrics ``Metric``
(the functional side is :func:`~rsmooth.analysis.metrics.summarize_rows`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Metric

from rsmooth.results.rows import CertificationRow

#: numeric row fields the metric carries between ranks (None ↔ NaN or −1)
_FLOAT_FIELDS = ("radius", "time", "p_lower", "alpha")
_INT_FIELDS = ("idx", "label", "predict", "correct", "count", "count_runner_up", "n", "exact_t", "exact_q")


class CertificationRows(Metric):
    """Accumulates certification rows on each rank; :meth:`rows` returns every rank's rows, by idx.

    Rows of one run share ``norm``, ``noise`` and ``certificate`` (given once); everything else
    travels as tensors (``dist_reduce_fx='cat'``), so Lightning/torchmetrics gathers it under DDP.
    """

    full_state_update = False

    def __init__(self, norm: str | None = None, noise: str | None = None, certificate: str | None = None) -> None:
        super().__init__()
        self.norm, self.noise, self.certificate = norm, noise, certificate
        for name in _FLOAT_FIELDS:
            self.add_state(name, default=[], dist_reduce_fx="cat")
        for name in _INT_FIELDS:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, rows: Sequence[CertificationRow]) -> None:
        nan = float("nan")
        values: dict[str, list[Any]] = {
            "radius": [r.radius for r in rows],
            "time": [r.time for r in rows],
            "p_lower": [nan if r.p_lower is None else r.p_lower for r in rows],
            "alpha": [nan if r.alpha is None else r.alpha for r in rows],
            "idx": [r.idx for r in rows],
            "label": [r.label for r in rows],
            "predict": [r.predict for r in rows],
            "correct": [int(r.correct) for r in rows],
            "count": [-1 if r.count is None else r.count for r in rows],
            "count_runner_up": [-1 if r.count_runner_up is None else r.count_runner_up for r in rows],
            "n": [-1 if r.n is None else r.n for r in rows],
            "exact_t": [-1 if r.exact_radius is None else r.exact_radius[0] for r in rows],
            "exact_q": [-1 if r.exact_radius is None else r.exact_radius[1] for r in rows],
        }
        for name, vals in values.items():
            dtype = torch.float64 if name in _FLOAT_FIELDS else torch.int64
            getattr(self, name).append(torch.tensor(vals, dtype=dtype, device=self.device))

    def compute(self) -> dict[str, torch.Tensor]:
        """Every rank's rows as columns (one tensor per field), synchronised under DDP."""
        cols = {}
        for name in (*_FLOAT_FIELDS, *_INT_FIELDS):
            state = getattr(self, name)
            if isinstance(state, list):
                state = torch.cat(state) if state else torch.empty(0)
            cols[name] = state
        return cols

    def rows(self) -> list[CertificationRow]:
        """:meth:`compute` as rows, sorted by idx."""
        cols = {k: v.cpu().tolist() for k, v in self.compute().items()}

        def opt(v: float) -> float | None:
            return None if v != v else v  # NaN → None

        def count(v: int) -> int | None:
            return None if v < 0 else v

        rows = [
            CertificationRow(
                idx=cols["idx"][i],
                label=cols["label"][i],
                predict=cols["predict"][i],
                radius=cols["radius"][i],
                correct=bool(cols["correct"][i]),
                time=cols["time"][i],
                p_lower=opt(cols["p_lower"][i]),
                count=count(cols["count"][i]),
                count_runner_up=count(cols["count_runner_up"][i]),
                n=count(cols["n"][i]),
                norm=self.norm,
                noise=self.noise,
                certificate=self.certificate,
                alpha=opt(cols["alpha"][i]),
                exact_radius=None if cols["exact_q"][i] < 0 else (cols["exact_t"][i], cols["exact_q"][i]),
            )
            for i in range(len(cols["idx"]))
        ]
        return sorted(rows, key=lambda r: r.idx)
