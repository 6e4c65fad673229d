"""Where the package's warnings and errors live ("Checks that keep it", issue 15).

* Every warning class is defined in socialhealth/errors.py and derives from
  SocialHealthWarning (an AST scan of src/socialhealth).
* No ``warnings.warn`` in the package uses a plain ``UserWarning`` (or no category, which is
  UserWarning): users filter socialhealth's warnings by SocialHealthWarning.
* MissingColumnError fits every part that raises it: a DataError, and also a DesignError,
  DatasetError and MeasureError.
"""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import errors

SRC = Path(__file__).resolve().parents[1] / "src" / "socialhealth"
FILES = sorted(SRC.rglob("*.py"))


def _warning_classes_outside_errors(source: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for b in node.bases:
                name = b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                if name.endswith("Warning"):
                    out.append(node.name)
    return out


def _plain_user_warnings(source: str) -> list[int]:
    """Lines of ``warnings.warn`` calls whose category is UserWarning or missing."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "warn" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "warnings"):
            continue
        cat = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "category"), None)
        if cat is None or (isinstance(cat, ast.Name) and cat.id == "UserWarning"):
            out.append(node.lineno)
    return out


def test_the_scans_see_offending_code():
    assert _warning_classes_outside_errors("class W(SocialHealthWarning):\n    pass") == ["W"]
    assert _warning_classes_outside_errors("class E(errors.ModelError):\n    pass") == []
    assert _plain_user_warnings("import warnings\nwarnings.warn('x')") == [2]
    assert _plain_user_warnings("warnings.warn('x', UserWarning, stacklevel=2)") == [1]
    assert _plain_user_warnings("warnings.warn('x', category=UserWarning)") == [1]
    assert _plain_user_warnings("warnings.warn('x', SocialHealthWarning)") == []
    assert len(FILES) > 100


def test_every_warning_class_lives_in_errors_py():
    found = {str(p.relative_to(SRC)): _warning_classes_outside_errors(p.read_text("utf-8"))
             for p in FILES if p.name != "errors.py" or p.parent != SRC}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"warning classes outside socialhealth/errors.py: {found}"
    ours = [c for c in vars(errors).values()
            if isinstance(c, type) and issubclass(c, Warning)]
    assert len(ours) >= 5
    assert all(issubclass(c, errors.SocialHealthWarning) for c in ours)
    assert sh.datasets.DesignFallbackWarning is errors.DesignFallbackWarning


def test_no_plain_user_warning():
    found = {str(p.relative_to(SRC)): _plain_user_warnings(p.read_text("utf-8")) for p in FILES}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"warnings.warn with UserWarning or no category: {found}"


def test_missing_column_error_fits_designs_loaders_and_measures():
    for base in (errors.DataError, errors.DesignError, errors.DatasetError, errors.MeasureError,
                 errors.SocialHealthError, ValueError):
        assert issubclass(errors.MissingColumnError, base), base
    d = sh.SurveyDesign(pd.DataFrame({"y": [1.0, 2.0], "w": [1.0, 1.0]}), weights="w")
    with pytest.raises(errors.DesignError, match="'yy'.*did you mean 'y'"):
        d.mean("yy")
    e = errors.MissingColumnError(["agee"], ["age", "sex"], "the survey file")
    assert isinstance(e, errors.DatasetError) and "did you mean 'age'" in str(e)


def test_the_former_user_warnings_are_socialhealth_warnings():
    # quantile on a replicate design with a Taylor-only interval type falls back to Woodruff
    d = sh.SurveyDesign(sh.datasets.load_example("apiclus1"), weights="pw", psu="dnum",
                        fpc="fpc").to_replicate("jk1")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        d.quantile("api00", 0.5, interval_type="beta")
    assert any(issubclass(w.category, errors.SocialHealthWarning) for w in got)
