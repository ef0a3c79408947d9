"""What the entry points print beside their own lines: progress bars only on a terminal, and none of the notices
that libraries rsmooth drives print on every run although they are not the user's business.

Filtered only around the calls that trigger them (building the Trainer, fitting), and put back afterwards:

* Lightning's logger-connector tip advertising another logging service (one log record per Trainer);
* Lightning's own use of a deprecated torch pytree API (``isinstance(treespec, LeafSpec)``), a warning meant
  for Lightning's developers.

A warning about the user's own code or data (a data loader with too few workers, a metric logged without
``sync_dist`` under DDP by a user's objective) is left as it is.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: the loggers Lightning's ``rank_zero_info`` writes through (lightning_utilities uses whichever imported last)
_RANK_ZERO_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


def on_a_terminal() -> bool:
    """Whether both stdout and stderr are terminals: progress bars then redraw in place; in a file they would
    append a line (or 8 000 characters of carriage returns) per refresh."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class _DropAdvertisement(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


@contextmanager
def library_notices_filtered() -> Iterator[None]:
    """Inside: Lightning's tip, its pytree deprecation warning and its notice about modules in eval mode (denoised
    smoothing's frozen classifier is, on purpose) are dropped; outside nothing changes."""
    drop = _DropAdvertisement()
    loggers = [logging.getLogger(name) for name in _RANK_ZERO_LOGGERS]
    for lg in loggers:
        lg.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
            yield
    finally:
        for lg in loggers:
            lg.removeFilter(drop)
