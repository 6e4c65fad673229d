"""The README's Python example runs, and its screenshot exists and is small."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    code = blocks[0]
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 10
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert (tmp_path / "report.html").stat().st_size > 100_000
    assert (tmp_path / "forest.png").exists()


def test_readme_screenshot():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"!\[[^\]]*\]\((docs/[^)]+\.png)\)", text)
    assert m, "README does not show the report screenshot"
    png = REPO / m.group(1)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert png.stat().st_size < 500_000
