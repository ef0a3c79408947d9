"""The layers are a checked contract (pyproject.toml, ``[tool.importlinter]``): each package of rsmooth
imports only from the packages below it, and the pure core imports no Lightning, Hydra or W&B. The negative
control plants one wrong-way import in a copy of the package and shows the same check failing on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's ``lint-imports`` on the ``rsmooth`` package found first on ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=package_parent, env=env, capture_output=True, text=True)


def test_every_package_imports_only_from_below() -> None:
    run = lint_imports(ROOT, ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 kept, 0 broken" in run.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path: Path) -> None:
    """Negative control: a certificate that imports the CLI (a theorem reaching up to the entry points) and an
    engine module that imports Lightning are both caught, each by its contract."""
    shutil.copytree(ROOT / "rsmooth", tmp_path / "rsmooth", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "rsmooth" / "certificates" / "cohen.py", "a") as f:
        f.write("\nimport rsmooth.cli.schema  # wrong way\n")
    with open(tmp_path / "rsmooth" / "smoothing" / "loop.py", "a") as f:
        f.write("\nimport pytorch_lightning  # not in the pure core\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    run = lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert run.returncode != 0
    assert "0 kept, 2 broken" in run.stdout, run.stdout[-3000:]
    assert "rsmooth.certificates.cohen -> rsmooth.cli.schema" in run.stdout
    assert "rsmooth.smoothing.loop -> pytorch_lightning" in run.stdout
