"""TwoPhaseDesign (R ``twophase``) against R survey 4.1-1.

Reference numbers: tests/fixtures/twophase/make_twophase.R, which simulates an nwtco-like
case-cohort data set with a seed (twophase_data.csv; no real data) and writes
twophase_reference.json. Means, totals, ratios, domain estimates and phase contributions are
compared at 1e-8 (relative), svyglm coefficients and covariances at 1e-7 (R fitted with
glm.control(epsilon = 1e-12)).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError, LonelyPSUError, WeightError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "twophase"
METHODS = ["full", "approx"]
TOL = 1e-8
GLM_TOL = 1e-7


@pytest.fixture(scope="module")
def cohort():
    return pd.read_csv(FIX / "twophase_data.csv")


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIX / "twophase_reference.json").read_text())


def _close(got, want, tol=TOL):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=tol, atol=0)


def _design(cohort, method, **kw):
    return sh.TwoPhaseDesign(cohort, subset="in_phase2", strata="strat", method=method, **kw)


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("method", METHODS)
def test_weights_and_degf(cohort, ref, method):
    d = _design(cohort, method)
    r = ref[method]
    _close(d.weights[d.phase2], r["weights"])
    assert (d.weights[~d.phase2] == 0).all()
    assert d.degf() == r["degf"]
    # weights by hand: n1_h / n2_h in each phase-2 stratum
    n1 = cohort.groupby("strat").size()
    n2 = cohort[cohort.in_phase2].groupby("strat").size()
    hand = (n1 / n2).reindex(cohort.strat[cohort.in_phase2]).to_numpy()
    _close(d.weights[d.phase2], hand, 1e-14)


def test_top_level_export():
    from socialhealth.design import TwoPhaseDesign

    assert sh.TwoPhaseDesign is TwoPhaseDesign


# ----------------------------------------------------------------------------- estimates
@pytest.mark.parametrize("method", METHODS)
def test_mean_total_and_phases(cohort, ref, method):
    d = _design(cohort, method)
    r = ref[method]
    est = d.mean("age")
    _close(est.to_frame().estimate, r["mean_age"]["estimate"])
    _close(est.vcov, r["mean_age"]["vcov"])
    z = np.where(d.phase2, d.weights * (cohort.age - est.to_frame().estimate[0])
                 / d.weights.sum(), 0.0)
    V1, V2 = d.phase_variances(z)
    _close(V1, r["mean_age"]["phase1"])
    _close(V2, r["mean_age"]["phase2"])

    est = d.mean(["age", "edrel"])
    _close(est.to_frame().estimate, r["mean_age_edrel"]["estimate"])
    _close(est.vcov, r["mean_age_edrel"]["vcov"])

    est = d.total("age")
    _close(est.to_frame().estimate, r["total_age"]["estimate"])
    _close(est.vcov, r["total_age"]["vcov"])
    V1, V2 = d.phase_variances(np.where(d.phase2, d.weights * cohort.age, 0.0))
    _close(V1, r["total_age"]["phase1"])
    _close(V2, r["total_age"]["phase2"])


@pytest.mark.parametrize("method", METHODS)
def test_categorical_mean_and_ratio(cohort, ref, method):
    d = _design(cohort, method).assign(stage_f=cohort.stage.astype(str))
    r = ref[method]
    est = d.mean("stage_f")
    _close(est.to_frame().estimate, r["mean_stage"]["estimate"])
    _close(est.vcov, r["mean_stage"]["vcov"])
    est = d.ratio("nsites", "age")
    _close(est.to_frame().estimate, r["ratio"]["estimate"])
    _close(est.vcov, r["ratio"]["vcov"])


@pytest.mark.parametrize("method", METHODS)
def test_domains(cohort, ref, method):
    d = _design(cohort, method)
    r = ref[method]
    est = d.mean("age", by="histol")
    _close(est.to_frame().estimate, r["by_histol_mean"]["estimate"])
    # R's svyby(covmat = TRUE) reports zero covariances between domains of a twophase design,
    # so only the variances are compared (see the module docstring)
    _close(np.diag(est.vcov), np.diag(np.asarray(r["by_histol_mean"]["vcov"])))
    _close(d.subset(cohort.histol == 2).mean("age").vcov[0, 0],
           np.asarray(r["by_histol_mean"]["vcov"])[1, 1])

    est = d.total("age", by="stage")
    _close(est.to_frame().estimate, r["by_stage_total"]["estimate"])
    stage1 = r["total_age_stage1"]["vcov"][0][0]
    _close(est.vcov[0, 0], stage1)                 # = R's total of the zero-recoded variable
    if method == "full":
        _close(np.diag(est.vcov), np.diag(np.asarray(r["by_stage_total"]["vcov"])))
    else:
        # R's subset() of an approx design changes the phase-1 term of domain totals
        assert abs(est.vcov[0, 0] / r["by_stage_total"]["vcov"][0][0] - 1) > 1e-3


@pytest.mark.parametrize("method", METHODS)
def test_second_design_stratified_by_histol(cohort, ref, method):
    d = sh.TwoPhaseDesign(cohort, subset="in_sub2", strata="histol", method=method)
    r = ref[method]
    assert d.degf() == r["s2_degf"]
    est = d.mean("age")
    _close(est.to_frame().estimate, r["s2_mean_age"]["estimate"])
    _close(est.vcov, r["s2_mean_age"]["vcov"])
    est = d.total("nsites")
    _close(est.to_frame().estimate, r["s2_total_nsites"]["estimate"])
    _close(est.vcov, r["s2_total_nsites"]["vcov"])
    m = d.glm("age ~ nsites + rel")
    _close(m.params, r["s2_glm_gaussian"]["estimate"], GLM_TOL)
    _close(m.cov_params(), r["s2_glm_gaussian"]["vcov"], GLM_TOL)


@pytest.mark.parametrize("method", METHODS)
def test_phase1_probabilities(cohort, ref, method):
    d = _design(cohort, method, phase1_probs="p1")
    r = ref[method]
    _close(d.weights[d.phase2], r["p1_weights"])
    for name, est in [("p1_mean_age", d.mean("age")), ("p1_total_age", d.total("age"))]:
        _close(est.to_frame().estimate, r[name]["estimate"])
        _close(est.vcov, r[name]["vcov"])
    m = d.glm("rel ~ C(stage) + I(age / 12)", family="binomial")
    _close(m.params, r["p1_glm_binomial"]["estimate"], GLM_TOL)
    _close(m.cov_params(), r["p1_glm_binomial"]["vcov"], GLM_TOL)


def test_simple_is_approx(cohort):
    a = _design(cohort, "approx").mean("age")
    s = _design(cohort, "simple").mean("age")
    assert a.vcov[0, 0] == s.vcov[0, 0]


# ----------------------------------------------------------------------------- glm
GLMS = [
    ("glm_binomial", "rel ~ C(stage) + C(histol) + I(age / 12)", "binomial"),
    ("glm_gaussian", "np.log(edrel) ~ age + C(stage)", "gaussian"),
    ("glm_poisson", "nsites ~ age + C(stage)", "poisson"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key,formula,family", GLMS)
def test_glm(cohort, ref, method, key, formula, family):
    d = _design(cohort, method)
    r = ref[method][key]
    m = d.glm(formula, family=family)
    _close(m.params, r["estimate"], GLM_TOL)
    _close(m.cov_params(), r["vcov"], GLM_TOL)
    assert m.df_resid == r["df_residual"]


# ----------------------------------------------------------------------------- hand formulas
def test_small_hand_computation():
    # stratum 1: 4 phase-1 rows, 2 sampled (x = 1, 3); stratum 2: 2 of 2 (x = 2, 2)
    df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [True, True, False, False, True, True],
                       "x": [1.0, 3.0, np.nan, np.nan, 2.0, 2.0]})
    full = sh.TwoPhaseDesign(df, subset="p2", strata="s")
    est = full.total("x")
    assert est.to_frame().estimate[0] == pytest.approx(2 * (1 + 3) + 2 + 2)
    # Z = w x = (2, 6, 2, 2); pi2 = (1/2, 1/2, 1, 1)
    v1 = 0.5 * 4 + 0.5 * 36 + 4 + 4                              # sum pi2 Z^2
    v2 = (1 - 2 / 4) * 2 / 1 * ((2 - 4) ** 2 + (6 - 4) ** 2)      # stratum 2 is a census
    assert est.vcov[0, 0] == pytest.approx(v1 + v2, rel=1e-12)
    approx = sh.TwoPhaseDesign(df, subset="p2", strata="s", method="approx")
    y = np.array([1.0, 3.0, 2.0, 2.0])                           # pi2 Z
    w2 = np.array([2.0, 2.0, 1.0, 1.0])
    ybar = (w2 * y).sum() / w2.sum()
    v1a = 6 / 5 * (w2 * (y - ybar) ** 2).sum()
    assert approx.total("x").vcov[0, 0] == pytest.approx(v1a + v2, rel=1e-12)


def test_census_phase2_has_no_phase2_variance():
    df = pd.DataFrame({"x": [1.0, 4.0, 2.0, 7.0], "p2": [True] * 4})
    d = sh.TwoPhaseDesign(df, subset="p2", method="approx")
    V1, V2 = d.phase_variances(np.array([1.0, 4.0, 2.0, 7.0]))
    assert V2[0, 0] == 0
    # phase 1 = with-replacement variance of the total: n/(n-1) sum (x - xbar)^2
    assert V1[0, 0] == pytest.approx(4 / 3 * ((1 - 3.5) ** 2 + 0.25 + 1.5 ** 2 + 3.5 ** 2))


# ----------------------------------------------------------------------------- errors
def _toy():
    return pd.DataFrame({"s": ["a"] * 4 + ["b"] * 4,
                         "p2": [True, True, False, False, True, True, True, False],
                         "x": np.arange(8.0)})


def test_subset_column_missing():
    with pytest.raises(DesignError, match="nope"):
        sh.TwoPhaseDesign(_toy(), subset="nope", strata="s")


def test_subset_not_logical():
    df = _toy().assign(bad=[1, 2, 0, 0, 1, 1, 1, 0])
    with pytest.raises(DesignError, match="must be logical"):
        sh.TwoPhaseDesign(df, subset="bad", strata="s")


def test_subset_with_missing_values():
    df = _toy()
    df["p2"] = df["p2"].astype(object)
    df.loc[3, "p2"] = None
    with pytest.raises(DesignError, match="missing for 1 row"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")


def test_subset_zero_one_and_expression_accepted():
    df = _toy().assign(p2i=lambda t: t.p2.astype(int))
    a = sh.TwoPhaseDesign(df, subset="p2i", strata="s").mean("x")
    b = sh.TwoPhaseDesign(df, subset="p2 & (x >= 0)", strata="s").mean("x")
    assert a.vcov[0, 0] == b.vcov[0, 0]


def test_empty_phase2():
    df = _toy().assign(p2=False)
    with pytest.raises(DesignError, match="no row is in phase 2"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")


def test_lonely_phase2_stratum():
    df = _toy()
    df.loc[1, "p2"] = False                      # stratum a: 1 of 4 rows in phase 2
    with pytest.raises(LonelyPSUError, match="single phase-2 row"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")


def test_stratum_without_phase2_rows():
    df = _toy()
    df.loc[[0, 1], "p2"] = False
    with pytest.raises(DesignError, match="none in phase 2"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")


def test_missing_strata():
    df = _toy()
    df.loc[0, "s"] = None
    with pytest.raises(DesignError, match="phase-2 rows"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")
    df = _toy()
    df.loc[3, "s"] = None
    with pytest.raises(DesignError, match="phase-1 rows"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s")


def test_bad_method_and_weights():
    with pytest.raises(DesignError, match="method="):
        sh.TwoPhaseDesign(_toy(), subset="p2", strata="s", method="exact")
    df = _toy().assign(w=2.0, p=0.5, bad=-1.0)
    with pytest.raises(DesignError, match="only with method='approx'"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s", phase1_weights="w")
    with pytest.raises(WeightError, match="not positive"):
        sh.TwoPhaseDesign(df, subset="p2", strata="s", phase1_probs="bad")
    # weights (approx) and the equivalent probabilities give the same design
    a = sh.TwoPhaseDesign(df, subset="p2", strata="s", phase1_weights="w", method="approx")
    b = sh.TwoPhaseDesign(df, subset="p2", strata="s", phase1_probs="p", method="approx")
    assert a.total("x").vcov[0, 0] == pytest.approx(b.total("x").vcov[0, 0], rel=1e-14)


def test_weight_changes_not_implemented():
    # calibrate(): tests/design/test_twophase_calibration.py
    d = sh.TwoPhaseDesign(_toy(), subset="p2", strata="s")
    for verb in (d.rake, d.post_stratify, d.standardize, d.trim_weights):
        with pytest.raises(DesignError, match="not implemented for two-phase"):
            verb()


# ----------------------------------------------------------------------------- other verbs
@pytest.mark.parametrize("method", METHODS)
def test_other_verbs(cohort, ref, method):
    d = _design(cohort, method)
    r = ref[method]
    v = d.var("age").to_frame()
    _close(v.estimate, r["var_age"]["estimate"])
    _close(v.se ** 2, r["var_age"]["vcov"])
    p = d.proportion("in_subcohort").to_frame()
    _close(p[["estimate", "ci_low", "ci_high"]].to_numpy().ravel(), r["ciprop_logit"])
    q = d.quantile("age", 0.5).to_frame()
    _close(q[["estimate", "ci_low", "ci_high", "se"]].to_numpy().ravel(), r["quantile_age"])
    t = d.ttest("age", by="rel").to_frame()
    _close(t["statistic"], r["ttest_age_rel"])
    deff = d.mean("age", deff=True).to_frame().deff[0]
    if method == "full":
        _close(deff, r["deff_mean_age"])
    else:
        # R's deff is 0 for approx designs; here: variance / SRS-without-replacement variance
        assert r["deff_mean_age"] == 0
        used = d.phase2
        w, y = d.weights[used], cohort.age.to_numpy()[used]
        N, n = w.sum(), used.sum()
        s2 = n / (n - 1) * (w * (y - (w * y).sum() / N) ** 2).sum() / N
        _close(deff, d.mean("age").vcov[0, 0] / (s2 * (N - n) / (N * n)), 1e-12)
    chi = r.get("chisq_stage_histol")         # R's svychisq fails on method = "full" designs
    if chi is not None:
        got = d.chisq("stage", "histol").to_frame()
        _close(got.statistic, chi["statistic"])
        _close(got.ndf, chi["ndf"])
        _close(got.ddf, chi["ddf"])
