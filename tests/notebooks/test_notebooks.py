"""Execute every example notebook: a broken notebook fails the suite.

Demo notebooks always run; real-data notebooks run when their files are present (found as in
the notebooks: ``$SOCIALHEALTH_DATA`` or ``<repo>/../shared/data``) and skip otherwise.
The kernel is ``python3``; jupyter_client starts it with the interpreter running the tests
(``"python"`` in the kernelspec is replaced by ``sys.executable``), so it sees this venv.
Execution is shared with the R comparison (``conftest.executed``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_every_notebook_is_tested(notebook_cases):
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(notebook_cases)


def _plot_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "sh.plot." in c.source]


@pytest.mark.slow
def test_notebook_executes(notebook_name, executed):
    name = notebook_name
    nb = executed(name).nb
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every cell that draws a plot shows its figure (a plot function that switched off
    # matplotlib's interactive mode once hid every figure after the first)
    plots = _plot_cells(nb)
    assert plots, f"{name} draws no figure"
    for c in plots:
        images = [o for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) == 1, f"{name}: the cell\n{c.source}\nshows {len(images)} figures"
