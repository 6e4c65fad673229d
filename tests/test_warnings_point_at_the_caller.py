"""Every socialhealth warning names the user's line, not a line inside the package.

Warnings used fixed ``stacklevel=`` numbers, which pointed inside socialhealth whenever a
method went through the package's wrappers ("base.py:63: ... return func(self, *args,
**kwargs)"), and Python shows a DeprecationWarning by default only when it is attributed to
``__main__``. They now take the first frame outside the package (socialhealth._stack).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import (NegativeWeightsWarning, RDifferenceWarning, RowsDroppedWarning,
                                 SocialHealthWarning)


def _apistrat():
    api = sh.datasets.load_example("apistrat")
    api["none"] = 0.0
    api.loc[[0, 5], "ell"] = np.nan
    return sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")


def _calibrated_negative():
    d = sh.SurveyDesign(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "w": 1.0}), weights="w")
    return d.calibrate("~x", {"(Intercept)": 4, "x": 20})


CALLS = {
    "formula giving NaN": (RowsDroppedWarning,
                           lambda: _apistrat().glm("api00 ~ np.log(api99 - 600)")),
    "proportion at the boundary": (SocialHealthWarning,
                                   lambda: _apistrat().proportion("none", method="beta")),
    "negative calibrated weights": (NegativeWeightsWarning, _calibrated_negative),
    "deprecated parameter name": (DeprecationWarning, lambda: _apistrat().calibrate(
        "~stype", {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018}, maxit=20)),
    "replicate refits with negative weights": (RDifferenceWarning,
                                               lambda: _negative_replicates()),
}


def _negative_replicates():
    api = sh.datasets.load_example("apisrs")
    api["yes"] = api["sch.wide"] == "Yes"
    d = sh.SurveyDesign(api, weights="pw", fpc="fpc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = d.calibrate("~api99", {"(Intercept)": 6194, "api99": 1.25 * 3907872})
        rep = cal.to_replicate("jk1")
    return rep.proportion("yes", method="logit")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_warning_points_at_this_file(name):
    category, call = CALLS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    mine = [w for w in caught if issubclass(w.category, category)]
    assert mine, f"{name}: no {category.__name__} among {[str(w.message)[:60] for w in caught]}"
    for w in mine:
        assert w.filename == __file__, (name, w.filename, w.lineno, str(w.message)[:80])


def test_every_warning_in_the_package_takes_the_callers_line():
    """A new ``warnings.warn`` with a fixed ``stacklevel=2`` would again point inside the
    package whenever it is reached through a wrapper: every call passes
    ``stacklevel=user_stacklevel()`` (socialhealth._deprecation may pass a caller's own)."""
    import ast
    from pathlib import Path

    src = Path(sh.__file__).parent
    fixed = []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "warn" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "warnings"):
                continue
            level = next((k.value for k in node.keywords if k.arg == "stacklevel"), None)
            text = ast.unparse(level) if level is not None else ""
            if "user_stacklevel()" not in text:
                fixed.append(f"{path.relative_to(src)}:{node.lineno} stacklevel={text or None}")
    assert not fixed, fixed
