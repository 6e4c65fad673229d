"""No public function of socialhealth shadows a submodule of the same name.

When ``socialhealth.models.meta`` was both a module and the function ``meta`` re-exported by
``socialhealth.models``, importing the module by its dotted path (as ``pytest
--doctest-modules`` does) rebound the package attribute to the module, and ``sh.plot.trend(...)``
raised "'module' object is not callable". The implementations now live in private modules
(``models/_meta.py``, ``plot/_trend.py``, ...) and the public names are the functions.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import socialhealth

ALL_MODULES = sorted(info.name for info in pkgutil.walk_packages(socialhealth.__path__,
                                                                  "socialhealth."))


def test_the_walk_sees_the_subpackages():
    assert "socialhealth.models._meta" in ALL_MODULES
    assert "socialhealth.plot._trend" in ALL_MODULES
    assert len(ALL_MODULES) > 100


def test_no_package_attribute_shadows_a_submodule():
    bad = []
    for name in ALL_MODULES:
        module = importlib.import_module(name)
        parent_name, _, leaf = name.rpartition(".")
        attr = getattr(importlib.import_module(parent_name), leaf, None)
        if attr is not None and attr is not module:
            bad.append(f"{name} is shadowed by a {type(attr).__name__}")
    assert bad == []


def test_public_names_are_the_functions_after_importing_every_module():
    import socialhealth as sh
    for name in ALL_MODULES:                 # what pytest --doctest-modules does
        importlib.import_module(name)
    from socialhealth.models import meta
    assert inspect.isfunction(meta) and meta is sh.models.meta
    for f in (sh.models.meta, sh.models.margins, sh.models.prospective, sh.models.association,
              sh.plot.trend, sh.plot.forest, sh.tables.describe, sh.report.build,
              sh.design.contrast, sh.measures.reliability):
        assert inspect.isfunction(f), f


def test_doctest_modules_runs_on_a_renamed_module():
    src = Path(socialhealth.__file__).parent
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--doctest-modules",
         str(src / "plot" / "_trend.py"), str(src / "models" / "_meta.py")],
        capture_output=True, text=True, cwd=src.parent.parent)
    assert out.returncode == 0, out.stdout[-3000:]
