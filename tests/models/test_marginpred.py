"""models.marginpred against R survey 4.1-1 ``marginpred`` (and hand checks of the calibration).

Reference: tests/models/fixtures/marginpred/make_marginpred.R, run on the synthetic cohort it
writes (mp_cohort.csv: 4 strata x 6 PSUs, 370 rows; loneliness more common in the old and in
women). Design: ``svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE)``.

R's ``svykm`` without ``se`` lists every distinct follow-up time (censoring times too, where the
curve is flat), with ``se = TRUE`` every event row (tied deaths one by one); our table has one row
per distinct event time, the value after the last tied death. The comparisons reduce R's lists
accordingly and check R's other entries against our step function (``at``).

``marginpred.svyglm`` in R leaves the calibration out of the refit's variance (it attaches it to a
copy of the design it does not use): its SEs are compared with ``calibration_in_variance=False``,
and our default with R's function corrected by one line (``marginpred_cal`` in the script).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import models
from socialhealth.errors import ConvergenceError, MissingColumnError, ModelError

HERE = Path(__file__).parent / "fixtures" / "marginpred"
REF = json.loads((HERE / "marginpred_reference.json").read_text())
RTOL = 1e-9          # reached: about 1e-14 (same raking iterations as R's grake)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return pd.read_csv(HERE / "mp_cohort.csv")


@pytest.fixture(scope="module")
def design(cohort):
    return sh.SurveyDesign(cohort, weights="w", strata="stratum", psu="psu", nest=True)


def _reduce(case):
    """R's entries reduced to one per distinct time (the last, as after tied deaths)."""
    t = np.asarray(case["time"], dtype=float)
    last = np.r_[t[1:] != t[:-1], True]
    v = np.asarray(case["varlog"], dtype=float)[last] if "varlog" in case else None
    return t[last], np.asarray(case["surv"], dtype=float)[last], v


def _check_curves(km, ref, se: bool):
    frame = km.to_frame()
    assert sorted(frame["lonely"].unique()) == sorted(ref)
    for level, case in ref.items():
        part = frame[frame["lonely"] == level]
        t, s, v = _reduce(case)
        # our rows are R's event times; R's other (censoring) times: the curve is flat there
        at_ours = np.isin(t, part["time"].to_numpy())
        assert at_ours.sum() == len(part)
        np.testing.assert_allclose(part["surv"].to_numpy(), s[at_ours], rtol=RTOL)
        step = km.at(t[~at_ours])
        step = step[step["lonely"] == level]
        np.testing.assert_allclose(step["surv"].to_numpy(), s[~at_ours], rtol=RTOL)
        if se:
            np.testing.assert_allclose(part["se_log"].to_numpy() ** 2, v[at_ours], rtol=RTOL)


# ----------------------------------------------------------------------------- survival curves
def test_unadjusted_curves_are_rs(design):
    km = models.kaplan_meier(design, "time", "dead", by="lonely")
    _check_curves(km, REF["km_unadjusted"], se=False)


def test_curves_standardised_for_age_and_sex_match_r(design):
    km = models.kaplan_meier(design, "time", "dead", by="lonely")
    adj = models.marginpred(km, adjustfor="~age + sex")
    _check_curves(adj, REF["km_age_sex"], se=False)
    # the adjustment moves the lonely curve (older, more often women): not the unadjusted one
    assert not np.allclose(adj.to_frame()["surv"], km.to_frame()["surv"], rtol=1e-3)
    assert isinstance(adj, models.KaplanMeierResult)
    assert "marginpred(km, adjustfor = ~age + sex" in adj.r_call


def test_curves_with_se_match_r(design):
    km = models.kaplan_meier(design, "time", "dead", by="lonely", se=True)
    adj = models.marginpred(km, adjustfor=["age", "sex"], se=True)
    assert adj.estimator == "aalen" and adj.se
    _check_curves(adj, REF["km_age_sex_se"], se=True)


def test_categorical_adjustment_variable_matches_r(design):
    km = models.kaplan_meier(design, "time", "dead", by="lonely", se=True)
    adj = models.marginpred(km, adjustfor="~agegrp + sex", se=True)
    assert adj.marginpred["adjustment_columns"] == ["agegrp65-77", "agegrp78+", "sexmale"]
    _check_curves(adj, REF["km_agegrp_sex_se"], se=True)


def test_domain_matches_r(design, cohort):
    km = models.kaplan_meier(design.subset(cohort["sex"] == "female"), "time", "dead",
                             by="lonely", se=True)
    _check_curves(models.marginpred(km, ["age"], se=True), REF["km_female_age_se"], se=True)


def test_calibration_balances_the_adjustment_variables(design, cohort):
    """By hand: after calibration the weighted covariance of each centred adjustment column with
    the (centred) lonely indicator is ~0 (R's epsilon 1e-4 on the cross-products)."""
    km = models.kaplan_meier(design, "time", "dead", by="lonely")
    adj = models.marginpred(km, adjustfor=["age", "sex"])
    w0 = cohort["w"].to_numpy()
    g = adj.marginpred["g"]
    w = w0 * g
    lon = (cohort["lonely"] == "yes").to_numpy(float)
    mc = lon - np.sum(w0 * lon) / w0.sum()
    for col in ((cohort["sex"] == "male").to_numpy(float), cohort["age"].to_numpy(float)):
        ac = col - np.sum(w0 * col) / w0.sum()
        before, after = np.sum(w0 * ac * mc), np.sum(w * ac * mc)
        assert abs(before) > 1.0
        assert abs(after) < 1e-4
    # the raked weights stay positive (raking) and age is balanced across loneliness groups
    assert g.min() > 0
    age = cohort["age"].to_numpy()
    def gap(wt):
        m = [np.sum(wt[lon == v] * age[lon == v]) / wt[lon == v].sum() for v in (0, 1)]
        return abs(m[1] - m[0])

    assert gap(w0) > 1.0 and gap(w) < 0.01


# ----------------------------------------------------------------------------- GLMs
GLMS = {"gaussian": ("sbp ~ lonely + sex", "gaussian", "~agegrp"),
        "binomial": ("poor ~ lonely", "binomial", "~age + sex")}


@pytest.mark.parametrize("name", sorted(GLMS))
@pytest.mark.parametrize("type_", ["link", "response"])
def test_glm_predictions_match_r(design, name, type_):
    formula, family, adjust = GLMS[name]
    m = design.glm(formula, family=family, tol=1e-8)         # R's glm.control epsilon
    pat = pd.DataFrame(REF[name]["predictat"])
    fixed = models.marginpred(m, adjust, pat, type=type_, calibration_in_variance=False)
    ref = REF[name][type_]
    np.testing.assert_allclose(fixed.to_frame()["estimate"], ref["estimate"], rtol=RTOL)
    np.testing.assert_allclose(fixed.to_frame()["se"], ref["se"], rtol=RTOL)
    cal = models.marginpred(m, adjust, pat, type=type_)
    ref_cal = REF[name][type_ + "_cal"]
    np.testing.assert_allclose(cal.to_frame()["estimate"], ref_cal["estimate"], rtol=RTOL)
    np.testing.assert_allclose(cal.to_frame()["se"], ref_cal["se"], rtol=RTOL)
    # the calibration changes the SEs (so the two references test different things)
    assert not np.allclose(cal.to_frame()["se"], ref["se"], rtol=1e-3)
    # and the adjustment changes the predictions
    unadj = REF[name]["unadjusted_link"]["estimate"]
    if type_ == "link":
        assert not np.allclose(cal.to_frame()["estimate"], unadj, rtol=1e-4)


def test_glm_result_table_and_interval(design):
    m = design.glm("poor ~ lonely", family="binomial")
    pat = pd.DataFrame({"lonely": ["no", "yes"]})
    p = models.marginpred(m, ["age", "sex"], pat, type="response", level=0.9)
    f = p.to_frame()
    assert list(f.columns) == ["lonely", "estimate", "se", "ci_low", "ci_high"]
    z = 1.6448536269514722                                  # normal 95th percentile
    np.testing.assert_allclose(f["ci_low"], f["estimate"] - z * f["se"], rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(p.vcov)), f["se"], rtol=1e-12)
    assert p.adjustment_variables == ["age", "sex"]
    assert "Adjusted for: age, sex" in str(p.summary())
    assert p.model.design is p.design


# ----------------------------------------------------------------------------- errors
def test_adjustment_variables_all_in_model(design):
    assert REF["errors"]["all_in_model"] == "adjustment variables are all in model"
    m = design.glm("sbp ~ lonely + sex", tol=1e-8)
    with pytest.raises(ModelError, match="all in the model"):
        models.marginpred(m, "~sex", pd.DataFrame({"lonely": ["no"], "sex": ["male"]}))


def test_singular_model(cohort):
    df = cohort.assign(x=(cohort["age"] > 70).astype(float), x2=lambda d: 2 * d["x"])
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu", nest=True)
    km = models.kaplan_meier(d, "time", "dead", by=["x", "x2"])
    with pytest.raises(ModelError, match="singular"):
        models.marginpred(km, ["sex"])


def test_missing_adjustment_values_are_counted(cohort):
    df = cohort.copy()
    df.loc[[3, 10, 50], "age"] = np.nan
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu", nest=True)
    km = models.kaplan_meier(d, "time", "dead", by="lonely")
    with pytest.raises(ModelError, match=r"3 row\(s\).*'age'"):
        models.marginpred(km, ["age", "sex"])


def test_predictat_missing_a_model_column(design):
    m = design.glm("sbp ~ lonely + sex", tol=1e-8)
    with pytest.raises(MissingColumnError, match="'sex'"):
        models.marginpred(m, "~agegrp", pd.DataFrame({"lonely": ["no"]}))
    with pytest.raises(ModelError, match="predictat"):
        models.marginpred(m, "~agegrp")


def test_calibration_failure_names_bounds_and_epsilon(design):
    m = design.glm("sbp ~ lonely + sex", tol=1e-8)
    with pytest.raises(ConvergenceError, match=r"bounds \(0, inf\).*epsilon 0.0001"):
        models.marginpred(m, "~agegrp", pd.DataFrame({"lonely": ["no"], "sex": ["male"]}),
                          max_iter=1)


def test_extreme_calibration_warns_and_follows_rs_iterations(design):
    # age groups with age in the model: balancing needs weights changed ~1e-68-fold. Newton
    # passes through u < -1, where R's raking derivative is 0: with a plain exp derivative the
    # iterations (19 instead of 13) stop ~4e-9 (relative) from R's answer
    m = design.glm("sbp ~ lonely + age", tol=1e-8)
    ref = REF["extreme"]
    with pytest.warns(sh.errors.SocialHealthWarning, match="nearly determined"):
        p = models.marginpred(m, "~sex + agegrp", pd.DataFrame(ref["predictat"]))
    np.testing.assert_allclose(p.to_frame()["estimate"], ref["estimate"], rtol=1e-11)


def test_other_inputs(design):
    km1 = models.kaplan_meier(design, "time", "dead")
    with pytest.raises(ModelError, match="no groups"):
        models.marginpred(km1, ["age"])
    with pytest.raises(ModelError, match="a Cox model .models.coxph"):
        models.marginpred(design.mean("age"), ["age"])
    m = design.glm("poor ~ lonely", family="binomial")
    with pytest.raises(ModelError, match="type="):
        models.marginpred(m, ["age"], pd.DataFrame({"lonely": ["no"]}), type="terms")


# ----------------------------------------------------------------------------- replicate designs
def test_replicate_design_recalibrates_every_replicate(design, cohort):
    """R 4.1-1 stops on replicate designs (recorded); here each replicate is raked to the same
    targets: checked by hand on the replicate weights."""
    assert "non-conformable" in REF["replicate"]["marginpred"]
    rep = design.to_replicate("jkn")
    m = rep.glm("poor ~ lonely", family="binomial")
    pat = pd.DataFrame({"lonely": ["no", "yes"]})
    p = models.marginpred(m, ["age", "sex"], pat, type="response")
    # point predictions equal the Taylor design's (same full-sample weights)
    mt = design.glm("poor ~ lonely", family="binomial")
    pt = models.marginpred(mt, ["age", "sex"], pat, type="response")
    np.testing.assert_allclose(p.to_frame()["estimate"], pt.to_frame()["estimate"], rtol=1e-10)
    # every calibrated replicate balances age and sex against loneliness (R epsilon 1e-4)
    w0 = np.asarray(rep.weights)
    lon = (cohort["lonely"] == "yes").to_numpy(float)
    mc = lon - np.sum(w0 * lon) / w0.sum()
    W = p.design._W
    for col in ((cohort["sex"] == "male").to_numpy(float), cohort["age"].to_numpy(float)):
        ac = col - np.sum(w0 * col) / w0.sum()
        cross = (W * (ac * mc)[:, None]).sum(axis=0)
        assert np.all(np.abs(cross) < 1e-4)
    assert np.all(np.isfinite(p.to_frame()["se"])) and np.all(p.to_frame()["se"] > 0)
    # the replicate SEs are close to the linearised ones (the same design, JKn)
    np.testing.assert_allclose(p.to_frame()["se"], pt.to_frame()["se"], rtol=0.1)


def test_plot_survival_accepts_the_adjusted_curves(design):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    km = models.kaplan_meier(design, "time", "dead", by="lonely", se=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = sh.plot.survival(models.marginpred(km, ["age", "sex"], se=True), by="lonely")
    assert len(ax.get_lines()) >= 2
