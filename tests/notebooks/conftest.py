"""Execute each example notebook once per test session and keep what it showed.

``executed(name)`` runs ``notebooks/<name>`` with nbclient (kernel ``python3``, started with the
interpreter running the tests) and appends one cell that pickles the notebook's own results:
every DataFrame it displayed (IPython's ``Out``, by execution count) and the extra expressions
of ``DUMPS`` (objects a cell plots or prints instead of displaying). Real-data notebooks skip
when their files are absent (``$SOCIALHEALTH_DATA`` or ``<repo>/../shared/data``).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
DATA = Path(os.environ.get("SOCIALHEALTH_DATA", REPO.parent / "shared" / "data"))

CASES = {
    "01_quickstart.ipynb": [],
    "02_gss_loneliness_and_health.ipynb": ["gss/gss_panel20.dta"],
    "03_uk_loneliness.ipynb": ["ess/ESS7GB.sav", "ess/ESS9GB.sav"],
    "04_evidence.ipynb": [],
    "05_longitudinal.ipynb": ["gss/gss_panel06_long.dta.zip", "gss/gss_panel20_extract.dta"],
    # demo part always; its GSS 2018 part prints that it is skipped without the file
    "06_scale_structure.ipynb": [],
}

# results a notebook plots or prints (not displayed as a table), re-read after its last cell
DUMPS = {
    "01_quickstart.ipynb": {"by_age": "by_age.to_frame()", "rf": "rf.survey()"},
    "02_gss_loneliness_and_health.ipynb": {"shares": "shares.to_frame()",
                                           "assoc": "assoc.to_frame()"},
    "03_uk_loneliness.ipynb": {
        "lonely_direct": 'd7.mean("lonely_direct", by="age_group").to_frame()',
        "contact": 'd9.mean("contact_in_person", by="age_group").to_frame()'},
    "04_evidence.ipynb": {"res": "res"},
    "05_longitudinal.ipynb": {"ch": "ch.to_frame()", "km": "km.to_frame()",
                              "cox": "cox.to_frame()", "att_weights": "att.weights",
                              "att_outcome": "att.outcome", "att_table": "att.table.to_frame()",
                              "att20_outcome": "att20.outcome"},
    "06_scale_structure.ipynb": {
        "alpha": "alpha", "fa3": "fa3", "fa4": "fa4", "pc": "pc", "eig": "eig",
        "share": "share.to_frame()", "by_age": "by_age.to_frame()", "kappa": "kappa",
        "have_gss": "HAVE_GSS", "g_alpha_ucla": 'globals().get("g_alpha_ucla")',
        "g_alpha_evenings": 'globals().get("g_alpha_evenings")', "g_fa": 'globals().get("g_fa")'},
}

MISSING_HELP = ("(third-party survey microdata, not redistributable: GSS from NORC, "
                "https://gss.norc.org; ESS from https://www.europeansocialsurvey.org after free "
                "registration; put them under ../shared/data/<survey>/ next to the clone or set "
                "SOCIALHEALTH_DATA)")


class Executed:
    """An executed notebook: its cells (with outputs) and the pickled results."""

    def __init__(self, nb, results: dict):
        self.nb = nb
        self.results = results

    @property
    def code_cells(self):
        return [c for c in self.nb.cells if c.cell_type == "code"]

    def cell(self, marker: str):
        """The one code cell whose source contains ``marker``."""
        hits = [c for c in self.code_cells if marker in c.source]
        assert len(hits) == 1, f"{len(hits)} cells contain {marker!r}"
        return hits[0]

    def shown(self, marker: str):
        """The DataFrame the cell containing ``marker`` displayed, at full precision."""
        return self.results["out"][self.cell(marker).execution_count]

    def stdout(self, marker: str) -> str:
        return "".join(o["text"] for o in self.cell(marker).get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _execute(name: str, tmp: Path) -> Executed:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbformat.v4 import new_code_cell

    missing = [f for f in CASES[name] if not (DATA / f).exists()]
    if missing:
        pytest.skip(f"real data not present: {', '.join(missing)} under {DATA} {MISSING_HELP}")
    dump = tmp / (Path(name).stem + ".pkl")
    extra = DUMPS.get(name, {})
    source = (
        "import pickle as _pickle\nimport pandas as _pd\n"
        "_keep = {'out': {k: v for k, v in Out.items() if isinstance(v, _pd.DataFrame)}}\n"
        + "".join(f"_keep[{k!r}] = {v}\n" for k, v in extra.items())
        + f"with open({str(dump)!r}, 'wb') as _fh:\n    _pickle.dump(_keep, _fh)\n")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(new_code_cell(source))
    old = {k: os.environ.get(k) for k in ("SOCIALHEALTH_DATA", "MPLBACKEND")}
    os.environ["SOCIALHEALTH_DATA"] = str(DATA)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb.cells.pop()
    with open(dump, "rb") as fh:
        results = pickle.load(fh)
    return Executed(nb, results)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """``executed(name) -> Executed``: each notebook runs at most once per session."""
    cache: dict[str, Executed] = {}
    tmp = tmp_path_factory.mktemp("notebooks")

    def get(name: str) -> Executed:
        if name not in cache:
            cache[name] = _execute(name, tmp)
        return cache[name]

    return get


def pytest_generate_tests(metafunc):
    """``notebook_name``: every notebook of ``CASES``."""
    if "notebook_name" in metafunc.fixturenames:
        metafunc.parametrize("notebook_name", sorted(CASES))


@pytest.fixture(scope="session")
def notebook_cases() -> dict:
    return CASES
