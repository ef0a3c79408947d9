"""README.md's Python, run as a reader pastes it: the command that trains the model it loads, then every fenced
Python block in order (one namespace, like a notebook), each ``print(...)  # -> expected`` checked against the
line it prints. A number the README shows is a number the code prints today."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
EXPECTED = re.compile(r"#\s*->\s*(?P<text>.+)$")


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, dedented body) of every fenced block, in order."""
    return [(m["lang"], textwrap.dedent(m["body"])) for m in FENCE.finditer(text)]


def _expected_lines(code: str) -> list[str]:
    """What each ``# ->`` comment says a print shows, in order."""
    found = [m["text"].strip() for line in code.splitlines() if (m := EXPECTED.search(line))]
    prints = [line for line in code.splitlines() if re.match(r"\s*print\(", line)]
    assert len(found) == len(prints), f"every print in the README shows its output (# -> ...): {prints}"
    return found


def test_the_readme_blocks_are_found() -> None:
    blocks = _blocks(README.read_text())
    python = [body for lang, body in blocks if lang == "python"]
    assert len(python) >= 2 and sum(len(_expected_lines(b)) for b in python) >= 5


def test_the_readme_python_runs_as_pasted_and_prints_what_it_shows(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocks = _blocks(README.read_text())
    first = next(i for i, (lang, _) in enumerate(blocks) if lang == "python")
    setup = next(body for lang, body in reversed(blocks[:first]) if lang == "bash")
    command = next(line for line in setup.splitlines() if line.startswith("rsmooth-train "))
    args = shlex.split(command)[1:]
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.train", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for lang, body in blocks[first:]:
        if lang != "python":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(body, "README.md", "exec"), namespace)  # the README's own code
        assert printed.getvalue().splitlines() == _expected_lines(body), body
