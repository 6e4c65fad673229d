"""`python -m mypy` finds nothing in src/ (settings: [tool.mypy] in pyproject.toml; see CONTRIBUTING.md)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_nothing_in_src():
    # mypy is in the test extra, so a missing mypy is a broken set-up, not a reason to skip.
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: install the test extra (pip install -e '.[test]')")
    proc = subprocess.run([sys.executable, "-m", "mypy"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, (
        "mypy found problems in src/ (fix them; run `python -m mypy` locally):\n"
        f"{proc.stdout[-12000:]}\n{proc.stderr[-2000:]}")
    assert "Success: no issues found" in proc.stdout, proc.stdout[-4000:]
