"""Calibration formulas are split by the package's one additive-formula parser
(socialhealth.design.formula.additive_terms); the calibrated weights are checked by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.formula import additive_terms
from socialhealth.errors import DesignError, FormulaError


def design():
    df = pd.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "g": ["a-1", "a-1", "b", "b"],
                       "x": [1.0, 2.0, 3.0, 4.0]})
    return sh.SurveyDesign(df, weights="w")


def test_intercept_only_and_cell_totals_by_hand():
    # "~": one column of ones; the linear g-weights scale every weight by N / sum(w) = 12 / 6
    d = design().calibrate("~", {"(Intercept)": 12})
    np.testing.assert_allclose(d.weights, [2.0, 2.0, 4.0, 4.0], rtol=1e-12)
    # "~ 0 + g": one indicator per level; a level with a '-' stays one term. The cells are
    # scaled to their totals: a-1 (weights 1+1) to 4, b (2+2) to 8
    d = design().calibrate("~ 0 + g", {"ga-1": 4, "gb": 8})
    np.testing.assert_allclose(d.weights, [2.0, 2.0, 4.0, 4.0], rtol=1e-12)
    d = design().calibrate("~ g - 1", {"ga-1": 4, "gb": 8})
    np.testing.assert_allclose(d.weights, [2.0, 2.0, 4.0, 4.0], rtol=1e-12)


def test_errors_keep_their_meaning():
    with pytest.raises(FormulaError, match="calibration formula '~ x \\+': a '\\+' has no term"):
        design().calibrate("~ x +", {"(Intercept)": 6, "x": 15})
    with pytest.raises(DesignError, match="cannot remove term 'x' from a calibration formula"):
        design().calibrate("~ g - x", {"(Intercept)": 6, "gb": 4})


def test_additive_terms_by_hand():
    assert additive_terms("~ a + C(b, contr.treatment('x-y')) - 1") == (
        False, ["a", "C(b, contr.treatment('x-y'))"], [])
    assert additive_terms("y ~ 0 + a - b + 1") == (True, ["a"], ["b"])
    assert additive_terms("~ `a-b` + c") == (True, ["`a-b`", "c"], [])
    assert additive_terms("~") == (True, [], [])
