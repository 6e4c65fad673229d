"""socialhealth.design.contrast (linear and nonlinear contrasts, delta method) against R survey
4.1-1 ``svycontrast`` on Taylor and JK1 replicate designs.

Expected values: fixtures/contrast/contrast_reference.json, written by make_contrast.R from
the seeded synthetic ../ttest/ttest_data.csv (svymean, svyby(covmat = TRUE), svytotal,
svyratio and svyglm results; R differentiates with ``deriv()``, socialhealth by forward-mode
automatic differentiation). Closed forms: tolerance 1e-10 relative; the glm contrasts 1e-9
(IRLS stopped at R's epsilon = 1e-8 on the same path, as in test_glm_r_parity.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.design import contrast
from socialhealth.errors import EstimationError, FormulaError

HERE = Path(__file__).parent / "fixtures"
REF = json.loads((HERE / "contrast" / "contrast_reference.json").read_text())
TOL = 1e-10


@pytest.fixture(scope="module")
def designs():
    df = pd.read_csv(HERE / "ttest" / "ttest_data.csv")
    reps = [c for c in df.columns if c.startswith("rw")]
    G = len(reps)
    return {
        "taylor": sh.SurveyDesign(df, weights="wt", strata="st", psu="psu"),
        "replicate": sh.ReplicateDesign(df, weights="wt", replicate_weights=reps, method="jk1",
                                        scale=(G - 1) / G),
    }


CASES = {
    "mean": (lambda d: d.mean(["x", "y"]),
             {"ratio": "x / y", "lg": "log(x)", "ex": "exp(y / 10)", "sq": "sqrt(x) * y",
              "pw": "x^2 - y", "neg": "-x + 2 * y - 3"}, TOL),
    "mean_linear": (lambda d: d.mean(["x", "y"]), [1, -1], TOL),
    "mean_linear_named": (lambda d: d.mean(["x", "y"]),
                          {"d1": {"x": 1, "y": -1}, "d2": [0.5, 0.5]}, TOL),
    "by": (lambda d: d.mean("ybin", by=["grp", "yr"]),
           {"pr2020": "b.2020 / a.2020", "logpr": "log(b.2021 / a.2021)",
            "year_diff": "a.2021 - a.2020", "did": "(b.2021 - a.2021) - (b.2020 - a.2020)",
            "or2020": "exp(logit(b.2020) - logit(a.2020))"}, TOL),
    "prop": (lambda d: d.mean("grp"), {"logit_b": "logit(grpb)", "expit": "expit(`grp[a]`)"}, TOL),
    "total": (lambda d: d.total("x", by="grp"), {"share_b": "b / (a + b)"}, TOL),
    "ratio": (lambda d: d.ratio("x", "y"), {"inv": "1 / `x/y`"}, TOL),
    # R's svyglm stops IRLS at epsilon = 1e-8: tol=1e-8 follows the same path
    "glm": (lambda d: d.glm("ybin ~ x + grp", family="quasibinomial", tol=1e-8),
            {"or_b": "exp(grpb)", "p50": "expit(`(Intercept)` + 50 * x)"}, 1e-9),
}


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
@pytest.mark.parametrize("case", list(CASES))
def test_contrast_matches_r(designs, kind, case):
    make, spec, tol = CASES[case]
    if case == "glm" and kind == "replicate":
        tol = 1e-7      # each replicate refit stops at epsilon 1e-8 too: SEs agree to ~1e-8
    r = REF[kind][case]
    res = contrast(make(designs[kind]), spec)
    f = res.to_frame()
    assert list(f.term) == list(np.atleast_1d(r["names"]))
    np.testing.assert_allclose(f.estimate, np.atleast_1d(r["estimate"]), rtol=tol)
    np.testing.assert_allclose(f.se, np.ravel(r["se"]), rtol=tol)
    np.testing.assert_allclose(res.vcov, np.reshape(r["vcov"], res.vcov.shape), rtol=tol, atol=1e-14)


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_interval_uses_source_df_and_level(designs, kind):
    d = designs[kind]
    r = REF[kind]["by"]
    res = contrast(d.mean("ybin", by=["grp", "yr"]), {"pr2020": "b.2020 / a.2020"}, level=0.9)
    f = res.to_frame().loc[0]
    q = stats.t.ppf(0.95, d.degf())
    assert f.df == d.degf()
    np.testing.assert_allclose([f.ci_low, f.ci_high],
                               [r["estimate"][0] - q * r["se"][0], r["estimate"][0] + q * r["se"][0]],
                               rtol=TOL)
    g = d.glm("ybin ~ x + grp", family="quasibinomial")
    assert contrast(g, "exp(grpb)").to_frame().df.iloc[0] == REF[kind]["glm_df"]
    z = contrast(g, "exp(grpb)", df=float("inf")).to_frame(level=0.95).loc[0]
    assert z.ci_high - z.estimate == pytest.approx(stats.norm.ppf(0.975) * z.se, rel=1e-12)


def test_labels_and_functions_by_hand(designs):
    # names from estimate.index work (backticks); derivatives checked against hand formulas
    d = designs["taylor"]
    est = d.mean(["x", "y"])
    x, y = est.table.estimate
    V = est.vcov
    res = contrast(est, {"a": "`x` * exp(y / 100) + sqrt(x) ** 3"})
    grad = np.array([np.exp(y / 100) + 1.5 * np.sqrt(x), x * np.exp(y / 100) / 100])
    assert res.table.estimate.iloc[0] == pytest.approx(x * np.exp(y / 100) + x**1.5, rel=1e-14)
    assert res.table.se.iloc[0] == pytest.approx(np.sqrt(grad @ V @ grad), rel=1e-12)
    lab = est.estimate.index[0]
    assert contrast(est, f"`{lab}`").table.estimate.iloc[0] == pytest.approx(x, rel=1e-15)


def test_contrast_never_executes_python(designs):
    est = designs["taylor"].mean(["x", "y"])
    for bad in ["__import__('os').system('true')", "x.real", "[x, y][0]", "x if y else 1",
                "abs(x)", "exp(x, y)", "x < y", "lambda: 1", "'a'"]:
        with pytest.raises(FormulaError):
            contrast(est, bad)
    with pytest.raises(FormulaError, match="not the name of an estimate"):
        contrast(est, "z / x")
    with pytest.raises(FormulaError, match="2 coefficients"):
        contrast(est, [1, 2, 3])
    with pytest.raises(EstimationError, match="needs an estimate"):
        contrast(object(), "x")


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_proportion_results_as_mean_results(designs, kind):
    # design.proportion carries the same covariance as design.mean of the indicator; R's
    # logit of svymean(~grp) (fixture "prop") applies to it too, named grpb or `grp[b]`
    d = designs[kind]
    r = REF[kind]["prop"]
    f = contrast(d.proportion("grp"), {"logit_b": "logit(`grp[b]`)"}).to_frame().loc[0]
    np.testing.assert_allclose([f.estimate, f.se], [r["estimate"][0], r["se"][0]], rtol=TOL)


def test_estimate_contrast_method_takes_expressions_as_svycontrast():
    # est.contrast("E / H") is the nonlinear contrast (it raised a bare ValueError before).
    # R (survey 4.1-1) on the same example file:
    #   a <- read.csv(gzfile("src/socialhealth/datasets/examples/apistrat.csv.gz"))
    #   d <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = a)
    #   svycontrast(svyby(~api00, ~stype, d, svymean, covmat = TRUE), quote(E/H))
    #   -> 1.00675055107, SE 0.0246837138912
    a = sh.datasets.load_example("apistrat")
    est = sh.SurveyDesign(a, weights="pw", strata="stype", fpc="fpc").mean("api00", by="stype")
    f = est.contrast("E / H", name="E over H").to_frame()
    assert f["term"].tolist() == ["E over H"]
    assert f["estimate"][0] == pytest.approx(1.00675055107, rel=1e-10)
    assert f["se"][0] == pytest.approx(0.0246837138912, rel=1e-9)
    with pytest.raises(EstimationError, match="expression such as 'E - H'"):
        est.contrast(["E", "H", "M"])
