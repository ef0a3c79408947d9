"""Errors a user can fix. The entry points print them as one line and exit with status 2.

Every class also derives from the builtin exception a caller would expect
(``ValueError``, ``FileNotFoundError``), so ``except ValueError`` keeps working.
This module imports nothing: the pure core uses it.
"""

from __future__ import annotations


class RsmoothError(Exception):
    """Base of the errors rsmooth reports to a user without a traceback."""


class ConfigError(RsmoothError, ValueError):
    """A configuration value or argument is invalid; the message names it."""


class CheckpointError(RsmoothError, ValueError):
    """A checkpoint is unreadable, unsafe, or does not fit the data, model or noise it is used with."""


class ResultsFileError(RsmoothError, ValueError):
    """A results file cannot be resumed (other settings, another writer, a corrupt row)."""


class DatasetNotFoundError(RsmoothError, FileNotFoundError):
    """A dataset is not where the config says; the message names the path and the expected layout."""


class DatasetError(RsmoothError, ValueError):
    """A dataset file is there but unreadable, corrupt or unsafe; the message names the file."""


class ResultsFileNotFoundError(RsmoothError, FileNotFoundError):
    """A results file (or a pattern meant to match some) names nothing on disk."""


class OutputError(RsmoothError, OSError):
    """An output file cannot be written (full disk, read-only directory); the message names it and says that
    the file on disk, if any, was left as it was."""


class ModelOutputError(RsmoothError, ValueError):
    """The base classifier returned something no certificate can rest on (NaN or inf logits); the message names
    the input."""


class TrainingDivergedError(RsmoothError, ArithmeticError):
    """The training loss became NaN or inf; the message names the epoch and batch and what to change."""
