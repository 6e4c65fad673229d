"""design.quantile(qrule=, interval_type=) against R survey 4.1-1 ``svyquantile``.

Expected values: fixtures/quantile_rules/quantile_rules_reference.json, written by
make_quantile_rules.R, which also generates the seeded synthetic data
(quantile_rules_data.csv: 4 strata x 4 PSUs, a continuous y and a tied yt, a domain grp, R's
JKn and bootstrap replicate weights). Every qrule (math, school, hf1-hf9) x interval type
(Taylor: mean, beta, xlogit, asin; replicate: mean, beta, xlogit, asin -- which R answers with
the mean interval -- and quantile) at p = 0.1, 0.25, 0.5, 0.75, 0.9: estimate, se and limits
(NaN where R gives NA) at 1e-8 relative; by-domain estimates and SEs; R's Taylor "score"
(Francisco-Fuller) interval for every qrule and by domain (more in test_quantile_score.py).
Hand checks: with equal weights the interpolating rules are numpy's Hyndman-Fan types.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError

HERE = Path(__file__).parent / "fixtures" / "quantile_rules"
REF = json.loads((HERE / "quantile_rules_reference.json").read_text())
TOL = 1e-8


@pytest.fixture(scope="module")
def designs():
    df = pd.read_csv(HERE / "quantile_rules_data.csv")
    out = {"taylor": sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")}
    for kind, prefix in (("jkn", "jk"), ("bootstrap", "bs")):
        cols = [c for c in df.columns if c.startswith(prefix)]
        out[kind] = sh.ReplicateDesign(df, weights="w", replicate_weights=cols, method="other",
                                       scale=REF[kind]["scale"], rscales=REF[kind]["rscales"])
    return out


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


CASES = [(kind, key) for kind in ("taylor", "jkn", "bootstrap") for key in REF[kind]
         if isinstance(REF[kind][key], dict) and not key.startswith("by")]


@pytest.mark.parametrize("kind,key", CASES)
def test_quantile_rules_match_r(designs, kind, key):
    var, qrule, itype = key.split("|")
    ref = REF[kind][key]
    if "error" in ref:        # R: uniroot's "f() values at end points not of opposite sign"
        assert "opposite sign" in ref["error"]
        with pytest.raises(EstimationError, match="does not change sign"):
            designs[kind].quantile(var, REF["probs"], qrule=qrule, interval_type=itype)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = designs[kind].quantile(var, REF["probs"], qrule=qrule, interval_type=itype).to_frame()
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(f[col].to_numpy(dtype=float), _arr(ref[col]), rtol=TOL,
                                   atol=1e-12, equal_nan=True, err_msg=col)


BY = [(kind, key) for kind in ("taylor", "jkn", "bootstrap") for key in REF[kind]
      if key.startswith("by|")]


@pytest.mark.parametrize("kind,key", BY)
def test_by_domain_matches_r(designs, kind, key):
    _, qrule, itype = key.split("|")
    ref = REF[kind][key]
    f = designs[kind].quantile("y", [0.25, 0.5], qrule=qrule, interval_type=itype,
                               by="grp").to_frame()
    assert list(f["grp"]) == ["p", "p", "q", "q"]
    np.testing.assert_allclose(f.estimate.to_numpy(dtype=float), _arr(ref["estimate"]), rtol=TOL)
    np.testing.assert_allclose(f.se.to_numpy(dtype=float), _arr(ref["se"]), rtol=TOL,
                               equal_nan=True)


@pytest.mark.parametrize("qrule,method", [("hf4", "interpolated_inverted_cdf"),
                                          ("hf5", "hazen"), ("hf6", "weibull"),
                                          ("hf7", "linear"), ("hf8", "median_unbiased"),
                                          ("hf9", "normal_unbiased")])
def test_equal_weights_give_hyndman_fan_types(qrule, method):
    y = np.array([3.1, 0.4, 7.7, 2.2, 5.0, 9.9, 1.3, 6.6, 4.4, 8.8])
    d = sh.SurveyDesign(pd.DataFrame({"y": y, "w": 3.0}), weights="w")
    probs = [0.15, 0.25, 0.5, 0.8]                 # inside [p_1, p_n] for every rule
    got = d.quantile("y", probs, qrule=qrule, ci=False).to_frame().estimate.to_numpy()
    np.testing.assert_allclose(got, np.quantile(y, probs, method=method), rtol=1e-12)


def test_school_and_hf3_at_exact_steps():
    # 1..5 with equal weights: F(2) = 0.4 exactly, so "school" averages 2 and 3 and "hf3"
    # takes the value at the even position (2); at F(3) = 0.6 hf3 moves up to 4
    # (R svyquantile: school 2.5, 3.5; hf3 2, 4)
    d = sh.SurveyDesign(pd.DataFrame({"y": [1., 2, 3, 4, 5], "w": 1.0}), weights="w")
    school = d.quantile("y", [0.4, 0.6], qrule="school", ci=False).to_frame().estimate
    hf3 = d.quantile("y", [0.4, 0.6], qrule="hf3", ci=False).to_frame().estimate
    assert list(school) == [2.5, 3.5]
    assert list(hf3) == [2.0, 4.0]


def test_interval_type_errors_and_replicate_warning(designs):
    with pytest.raises(EstimationError, match="ReplicateDesign"):
        designs["taylor"].quantile("y", 0.5, interval_type="quantile")
    with pytest.raises(EstimationError, match="Taylor design"):
        designs["jkn"].quantile("y", 0.5, interval_type="score")     # R: not an option there
    with pytest.raises(EstimationError, match="qrule"):
        designs["taylor"].quantile("y", 0.5, qrule="shahvaish")
    with pytest.warns(UserWarning, match="Woodruff"):
        designs["jkn"].quantile("y", 0.5, interval_type="beta")
