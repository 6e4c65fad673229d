"""The documentation (docs/) builds with warnings as errors, and has what it promises.

The build runs ``python -m sphinx -W --keep-going -b html docs <tmp>`` in a subprocess, the
same command as the README's, so a broken cross-reference (``nitpicky``: every name on the
"Coming from R survey / Stata svy" page is one), a docstring that does not parse or a gallery
example that raises fails the test suite and CI. The doc tools are in the ``test`` extra; the
tests skip (saying so) only when they are not installed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from socialhealth.datasets._schema import tomllib

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PACKAGE = REPO / "src" / "socialhealth"


def _require_doc_tools() -> None:
    for module in ("sphinx", "numpydoc", "myst_nb"):
        pytest.importorskip(module, reason=f"{module} is not installed: install the test extra "
                                           f"(pip install -e '.[test]') to build the docs")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The HTML documentation, built once for this module."""
    _require_doc_tools()
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, (
        f"sphinx-build failed (exit {proc.returncode}); warnings are errors:\n"
        f"{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}")
    return out / "html"


def _text(path: Path) -> str:
    html = path.read_text("utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_r_stata_table_names_exist():
    """Every socialhealth object named on the R/Stata page exists (also without Sphinx)."""
    import importlib

    text = (DOCS / "r_stata.rst").read_text("utf-8")
    targets = set(re.findall(r"<(socialhealth[\w.]*)>`", text))
    assert len(targets) >= 30
    for target in sorted(targets):
        parts = target.split(".")
        obj = importlib.import_module(parts[0])
        for name in parts[1:]:   # socialhealth.SurveyDesign.mean
            assert hasattr(obj, name), f"{target} (docs/r_stata.rst) does not exist"
            obj = getattr(obj, name)
    for verb in ("mean", "total", "ratio", "var", "proportion", "quantile", "table", "ttest",
                 "chisq", "glm", "post_stratify", "rake", "calibrate", "subset", "to_replicate"):
        assert f"<socialhealth.SurveyDesign.{verb}>" in text, verb


def test_docs_build_without_warnings(built):
    for page in ("index", "getting_started", "r_stata", "gallery", "harmonised_schema",
                 "notebooks", "surveys/index"):
        assert (built / f"{page}.html").is_file(), page
    for module in ("socialhealth", "design", "datasets", "measures", "models", "tables",
                   "plot", "report"):
        assert (built / "api" / f"{module}.html").is_file(), module


def test_one_page_per_registered_survey_with_its_codebook(built):
    registry = tomllib.loads((PACKAGE / "datasets" / "registry.toml").read_text("utf-8"))
    assert len(registry) >= 15
    for name, entry in registry.items():
        page = built / "surveys" / f"{name}.html"
        assert page.is_file(), f"no page for survey {name}"
        text = _text(page)
        assert f"{name}: " in text and entry["country"] in text, name
        book = entry.get("codebook")
        if not book:
            continue
        codebook = tomllib.loads(
            (PACKAGE / "datasets" / "codebooks" / f"{book}.toml").read_text("utf-8"))
        for concept, spec in codebook["concepts"].items():
            assert f">{concept}<" in page.read_text("utf-8").replace(
                '<span class="pre">', ">").replace("</span>", "<"), (name, concept)
            for source in spec.get("sources", []):
                assert source in text, (name, concept, source)


def test_gallery_draws_every_plot_function(built):
    import socialhealth.plot as plot

    functions = [n for n in plot.__all__ if callable(getattr(plot, n))
                 and not isinstance(getattr(plot, n), type)]
    assert {"forest", "prevalence", "trend", "likert", "risk_factors", "survival"} <= set(functions)
    source = (DOCS / "gallery.rst").read_text("utf-8")
    for name in functions:
        assert re.search(rf"sh\.plot\.{name}\(", source), f"plot.{name} is not in the gallery"
    html = (built / "gallery.html").read_text("utf-8")
    images = set(re.findall(r'src="(_images/[^"]+\.png)"', html))
    assert len(images) >= len(functions)
    for image in images:
        assert (built / image).stat().st_size > 5000, image   # a drawn figure, not an empty one


def test_every_notebook_is_rendered(built):
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        assert (built / "notebooks" / f"{nb.stem}.html").is_file(), nb.name


def test_getting_started_examples_run(tmp_path, monkeypatch):
    """The Python blocks of "A first analysis on the demo survey" run as written."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    text = (DOCS / "getting_started.md").read_text("utf-8")
    section = text.split("## A first analysis on the demo survey")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "getting_started.md", "exec"), namespace)
    assert namespace["sd"].provenance["rows_kept"] == len(namespace["sd"].data)
    assert (tmp_path / "forest.png").is_file() and (tmp_path / "report.html").is_file()
