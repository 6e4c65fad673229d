"""TwoPhaseDesign.estimate_weights: phase-2 weights estimated by logistic regression, against R
survey 4.1-1 ``estWeights``.

Reference: ``fixtures/estweights/make_estweights.R``: R's airquality data (phase 2 = the days
with Ozone measured; the example of ``?estWeights``, with ``formula = ~1`` and ``~Temp + Wind +
Month``) and R's National Wilms Tumor Study cohort (``survival::nwtco``) with a seeded
case-cohort-type phase 2 in four strata, three of them taken completely, with a formula and with
R's ``working.model =`` (whose score contributions the script writes for ``predictors=``).
Estimated weights, svymean / svytotal with their phase-1 and phase-2 variances, a domain mean
(svyratio), and svyglm coefficients and SEs at 1e-8 relative (R's glm and ours iterate the logistic fit to
convergence: the weights agree to ~1e-13).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError

HERE = Path(__file__).parent / "fixtures" / "estweights"
REF = json.loads((HERE / "estweights.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
RTOL = 1e-8


def load(name):
    if name == "airquality":
        df = pd.read_csv(HERE / "airquality.csv")
    else:
        df = pd.read_csv(HERE / "nwtco.csv.gz")
    df["in2"] = df["in2"].astype(str).str.upper() == "TRUE"
    return df


def close(got, want, what):
    np.testing.assert_allclose(np.asarray(got, dtype=float).ravel(),
                               np.asarray(want, dtype=float).ravel(), rtol=RTOL, atol=0,
                               err_msg=what)


def build(case):
    df = load(case["data"])
    args = case["args"]
    d = sh.TwoPhaseDesign(df, subset="in2", strata=args.get("strata"))
    if "formula" in args:
        return d.estimate_weights(args["formula"]), df
    return d.estimate_weights(predictors=df[args["predictors"]]), df


def check_phases(design, est, r, what):
    close(est.to_frame()["estimate"], r["estimate"], what + " estimate")
    close(est.to_frame()["se"], r["se"], what + " SE")
    V1, V2 = design._last_phases
    close(np.diag(V1), r["phase1"], what + " phase-1 variance")
    # phase-2 variances of calibration variables are 0 up to rounding (R ~1e-26)
    np.testing.assert_allclose(np.diag(V2), r["phase2"], rtol=RTOL,
                               atol=1e-12 * np.max(np.abs(np.diag(V1))), err_msg=what)


@pytest.mark.parametrize("name", list(CASES))
def test_estimated_weights_match_r(name):
    case = CASES[name]
    d, df = build(case)
    close(d.weights[d.phase2], case["weights"], "weights")
    if case["data"] == "airquality":
        m = d.mean("lo")
        check_phases(d, m, case["mean"], "mean")
        t = d.total(["Temp", "lo"])
        check_phases(d, t, case["total"], "total")
        g = d.glm("np.log(Ozone) ~ Temp + Wind")
    else:
        m = d.mean(["age12", "rel"])
        check_phases(d, m, case["mean"], "mean")
        t = d.total("rel")
        check_phases(d, t, case["total"], "total")
        # R svyglm stops at its glm tolerance 1e-8 (tol=1e-8 follows the same path)
        g = d.glm("rel ~ C(stage)*C(histol) + age12", family="quasibinomial", tol=1e-8)
    close(g.params, case["glm"]["coef"], "glm coefficients")
    close(g.bse, case["glm"]["se"], "glm SEs")
    # a domain mean: R's svyratio of the zero-recoded variable (R's svyby of calibrated
    # method="full" two-phase designs differs, see test_twophase_calibration.py)
    if case["data"] == "airquality":
        dm = d.mean("lo", by="Month").to_frame().set_index("Month").loc[7]
    else:
        dm = d.mean("age12", by="histol").to_frame().set_index("histol").loc[2]
    close(dm["estimate"], case["domain_mean"]["estimate"], "domain mean")
    close(dm["se"], case["domain_mean"]["se"], "domain mean SE")


def test_intercept_only_keeps_design_weights():
    # ~1 is saturated for an unstratified phase 2: pihat2 = n2 / n1, the weights of the design
    case = CASES["airquality ~1"]
    df = load("airquality")
    d = sh.TwoPhaseDesign(df, subset="in2")
    close(d.estimate_weights("~1").weights, d.weights, "weights")
    close(case["weights"], [len(df) / df["in2"].sum()] * int(df["in2"].sum()), "R weights")


def test_estimate_weights_errors():
    df = load("airquality")
    d = sh.TwoPhaseDesign(df, subset="in2")
    with pytest.raises(DesignError, match="one of the two"):
        d.estimate_weights()
    with pytest.raises(DesignError, match="one of the two"):
        d.estimate_weights("~Temp", predictors=df[["Wind"]])
    with pytest.raises(DesignError, match="missing in 7 phase-1 row"):
        d.estimate_weights("~Solar.R")
    with pytest.raises(DesignError, match="one row per phase-1 row"):
        d.estimate_weights(predictors=np.ones((5, 2)))
    with pytest.raises(DesignError, match="already calibrated"):
        d.calibrate("~Temp").estimate_weights("~Temp")
    with pytest.raises(DesignError, match="after estimate_weights"):
        d.estimate_weights("~Temp").calibrate("~Month")
    # an aliased predictor is dropped (R's glm gives it coefficient NA)
    aliased = d.estimate_weights(predictors=df[["Temp"]].assign(t2=df["Temp"] * 2))
    close(aliased.weights, d.estimate_weights("~Temp").weights, "aliased predictor")
