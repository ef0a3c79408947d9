"""Reading pickled data files (CIFAR-10's python batches) without letting them run code.

A pickle names the callables that rebuild its objects, so ``pickle.load`` on a crafted file runs whatever
it names. CIFAR-10's batches hold only dicts, lists, strings, bytes and NumPy arrays; this unpickler
builds those and refuses every other name with one line, as ``torch.load(weights_only=True)`` does for
checkpoints.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from rsmooth.errors import DatasetError

#: the callables a pickled NumPy array (NumPy 1 and 2 module names) and a Python 2 bytes string need
ALLOWED = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class _DataOnly(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise DatasetError(
            f"{self.path}: refusing to load it: the file names {module}.{name}, which a data file "
            "has no use for (a pickle can run the code it names)"
        )


def load_data_pickle(path: str | Path) -> Any:
    """The object pickled in ``path``, built from plain containers and NumPy arrays only."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _DataOnly(f, path).load()
    except DatasetError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise DatasetError(f"{path}: not a readable pickled data file ({type(err).__name__}: {err})") from None
    except OSError as err:
        raise DatasetError(f"{path}: cannot read it ({err.strerror})") from None
