"""Calibrations that make weights negative say so; estimates on such weights stay clean.

An unbounded linear calibration (GREG) can give negative weights. R says nothing at
calibration and then stops in svyglm / svyciprop / svyttest ('negative weights not allowed');
socialhealth warns once, at calibration, naming the way to positive weights.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.errors import NegativeWeightsWarning


def _four_rows():
    # weights 1, x = 1..4; totals N = 4, T_x = 20. The linear calibration g = 1 + l0 + l1 x
    # solves 4 + 4 l0 + 10 l1 = 4 and 10 + 10 l0 + 30 l1 = 20: l1 = 2, l0 = -5, so
    # g = 2x - 4 = (-2, 0, 2, 4), and the weights are the same.
    return sh.SurveyDesign(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "w": 1.0}), weights="w")


def test_a_calibration_that_makes_a_weight_negative_warns_with_the_count_and_the_way_out():
    with pytest.warns(NegativeWeightsWarning) as caught:
        cal = _four_rows().calibrate("~x", {"(Intercept)": 4, "x": 20})
    np.testing.assert_allclose(cal.weights, [-2.0, 0.0, 2.0, 4.0], atol=1e-12)
    message = str(caught[0].message)
    assert "1 of 4 calibrated weights are negative" in message
    assert "the smallest is -2" in message
    assert "bounds=(L, U)" in message and "calfun='raking'" in message
    assert caught[0].filename == __file__          # points at the user's line


def test_bounds_that_keep_weights_positive_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeWeightsWarning)
        cal = _four_rows().calibrate("~x", {"(Intercept)": 4, "x": 11})
        bounded = _four_rows().calibrate("~x", {"(Intercept)": 4, "x": 12}, bounds=(0.1, 5))
    assert (cal.weights > 0).all() and (bounded.weights > 0).all()


def test_the_logit_interval_on_negative_weights_is_the_closed_form_without_numpy_warnings():
    rng = np.random.default_rng(7)
    n = 60
    x = rng.uniform(0, 10, n)
    df = pd.DataFrame({"x": x, "y": (rng.uniform(size=n) < 0.3).astype(float), "w": 5.0})
    design = sh.SurveyDesign(df, weights="w")
    with pytest.warns(NegativeWeightsWarning):
        cal = design.calibrate("~x", {"(Intercept)": 300, "x": 300 * 8.5})
    assert (cal.weights < 0).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)       # no log of a negative number
        ci = cal.proportion("y", method="logit").to_frame().iloc[0]
    mean = cal.mean("y").to_frame().iloc[0]
    p, se = mean["estimate"], mean["se"]
    # svyciprop(method = "logit"): logit(p) -/+ t se / (p (1 - p)), back-transformed
    half = stats.t.ppf(0.975, cal.degf()) * se / (p * (1 - p))
    logit = np.log(p / (1 - p))
    expected = 1 / (1 + np.exp(-np.array([logit - half, logit + half])))
    np.testing.assert_allclose([ci["ci_low"], ci["ci_high"]], expected, rtol=1e-9)


def test_negative_weights_given_to_with_weights_warn_and_are_kept():
    d = _four_rows()
    with pytest.warns(NegativeWeightsWarning, match=r"1 weight\(s\) are negative .*-2") as caught:
        d2 = d.with_weights([-2.0, 0.0, 2.0, 4.0])
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(d2.weights, [-2.0, 0.0, 2.0, 4.0])
    # the total is sum w x = -2 + 0 + 6 + 16 = 20
    assert d2.total("x").to_frame()["estimate"].iloc[0] == pytest.approx(20.0)
