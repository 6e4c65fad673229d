"""`ruff check src` finds nothing (rules: [tool.ruff] in pyproject.toml; see CONTRIBUTING.md)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing_in_src():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed: install the test extra (pip install -e '.[test]')")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "src"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, (
        "ruff check src found problems (fix them; run `python -m ruff check src` locally):\n"
        f"{proc.stdout[-8000:]}\n{proc.stderr[-2000:]}")
