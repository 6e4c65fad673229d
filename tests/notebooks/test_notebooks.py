"""Execute every example notebook: a broken notebook fails the suite.

Demo notebooks always run; real-data notebooks run when their files are present (found as in
the notebooks: ``$SOCIALHEALTH_DATA`` or ``<repo>/../shared/data``) and skip otherwise.
The kernel is ``python3``; jupyter_client starts it with the interpreter running the tests
(``"python"`` in the kernelspec is replaced by ``sys.executable``), so it sees this venv.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
DATA = Path(os.environ.get("SOCIALHEALTH_DATA", REPO.parent / "shared" / "data"))

CASES = {
    "01_quickstart.ipynb": [],
    "02_gss_loneliness_and_health.ipynb": ["gss/gss_panel20.dta"],
    "03_uk_loneliness.ipynb": ["ess/ESS7GB.sav", "ess/ESS9GB.sav"],
    "04_evidence.ipynb": [],
    "05_longitudinal.ipynb": ["gss/gss_panel06_long.dta.zip", "gss/gss_panel20_extract.dta"],
}


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_executes(name, monkeypatch):
    missing = [f for f in CASES[name] if not (DATA / f).exists()]
    if missing:
        pytest.skip(f"real data not present: {', '.join(missing)} under {DATA} (third-party survey "
                    "microdata, not redistributable: GSS from NORC, https://gss.norc.org; ESS from "
                    "https://www.europeansocialsurvey.org after free registration; put them under "
                    "../shared/data/<survey>/ next to the clone or set SOCIALHEALTH_DATA)")
    monkeypatch.setenv("SOCIALHEALTH_DATA", str(DATA))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every notebook shows at least one figure
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{name} produced no figure"
