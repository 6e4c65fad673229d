"""Sphinx configuration for the socialhealth documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors; the test
suite runs the same build in tests/test_docs_build.py). The survey pages are generated from
``src/socialhealth/datasets/registry.toml`` and ``codebooks/*.toml`` and the notebooks are
copied from ``notebooks/`` at every build (``_ext/socialhealth_docs.py``); plots in the gallery
are drawn at build time on the demo survey.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import socialhealth  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")

project = "socialhealth"
author = "socialhealth developers"
copyright = "socialhealth developers"  # noqa: A001 - Sphinx's name
release = socialhealth.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "matplotlib.sphinxext.plot_directive",
    "socialhealth_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
templates_path: list[str] = []

# Every cross-reference must resolve: a renamed or removed function breaks the build.
nitpicky = True
# No intersphinx (the build must work offline): references to other libraries' objects
# (``pandas.DataFrame.assign``) are accepted as plain text.
nitpick_ignore_regex = [
    (r"py:.*", r"(pandas|numpy|matplotlib|scipy|statsmodels)\..*"),
]

# autodoc / numpydoc: signatures without type annotations (they are in the docstrings), class
# members listed on the class itself, one page per module.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# notebooks are rendered, never executed (the real-data ones need survey files)
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# gallery: code executed at build time, images not committed
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
plot_rcparams = {"figure.figsize": (7.0, 4.2), "savefig.bbox": "tight"}

html_theme = "alabaster"
html_title = f"socialhealth {release}"
html_static_path = ["_static"]
html_css_files = ["socialhealth.css"]
html_theme_options = {
    "description": "Loneliness, social connection and health from public surveys; "
                   "numbers equal to R survey",
    "page_width": "1180px",
    "sidebar_width": "250px",
}
