"""Hostile inputs, third round: one argument at a time replaced by a plausible mistake.

A sweep (not kept) called the public verbs of a Taylor and a replicate design (the demo survey
and ``apistrat``), their result objects, ``sh.models``, ``sh.tables`` and ``sh.plot``, each
time with one argument replaced by a wrong column name, a misspelt option, a number for a name,
a list for a string, a string for a number (``"95%"``, ``"10"``), None, an empty list, a
negative number, NaN, a bool, a dict or a Series of the wrong length. Each test below failed
before the fix that came with it; what it found:

1. ``proportion(...).confint(level="95%")`` / ``to_frame(level=[0.9])`` (also quantile
   results): numpy's "could not convert string to float" ValueError or a TypeError;
2. ``glm(tol="1e-8")``: a bare ValueError; ``glm(offset=["bmi"])``: a bare ValueError;
3. ``glm(...).to_frame(exponentiate="no")``: taken as True, silently exponentiated;
4. ``lrt(None)`` / ``wald_test(1)``: "'int' object is not iterable"; ``lrt(df="x")``: a bare
   ValueError; ``aic(k="2")``: a TypeError from multiplying a string;
5. ``predict(offset="x")``: a bare ValueError, ``offset=[]``: a broadcasting error;
6. ``ratio(..., by=[])``: a pandas KeyError (``mean(by=[])`` means no domains, so now does
   ``ratio``);
7. ``subset(None)``: "iteration over a 0-d array"; ``subset(Series of 3 values)``: silently
   aligned on row labels (the other rows dropped from the subset);
8. ``restrict_to_rows("x")`` / ``restrict_to_rows(None)``: an IndexError;
9. ``calibrate(max_iter="10")`` / ``epsilon="x"``: a TypeError comparing str and int;
   ``max_iter=nan``: "cannot convert float NaN to integer";
10. ``cdf(at="x")``: a bare ValueError;
11. ``quantile(quantiles=True)``: silently the maximum (True taken as 1);
12. ``association`` / ``interaction`` / ``compare_risk_factors``: ``measure=["or"]`` an
    "unhashable type" TypeError, ``adjust=1`` "'int' object is not iterable";
    ``interaction(level="95%")`` a TypeError and ``level=95`` silently NaN limits;
    ``compare_risk_factors(outcome=None)`` / ``exposures=1``: TypeErrors;
13. ``margins(level=95)`` silently NaN limits, ``margins(["sex"])`` an unhashable TypeError,
    ``margins(at=40)`` "'int' object is not iterable";
14. ``ordinal`` / ``multinomial`` / ``survreg`` with ``max_iter="10"`` or ``tol="x"``: a
    TypeError from deep in the Newton loop;
15. ``sh.plot.prevalence(by=["sex", "region"])`` (any column argument given a list): an
    unhashable TypeError;
16. ``sh.tables.describe(by=["sex"])``: an unhashable TypeError; ``labels=1``: not iterable;
    ``overall="no"`` / ``test="no"``: taken as True; ``sh.tables.regression``:
    ``exponentiate="no"`` and ``intercept="no"`` taken as True, ``labels=1`` /
    ``variable_labels=1``: "'int' object is not iterable";
17. ``models.meta(ratio="no")``: taken as True (estimates logged); ``se_from_ci(log="no")``:
    taken as True; ``meta(labels=1)``: not iterable; ``i2_from_q("x", 5)``: a bare ValueError;
18. ``association(complete_cases="no")``, ``pr_fallback="no"``, ``categorical="yes"``,
    ``interaction(complete_cases="no")``, ``compare_risk_factors(mutual="no", anchors="no")``:
    text taken as True; ``anchor_outcome=1`` / ``anchor_match="lonely"``: a TypeError /
    AttributeError from pandas;
19. ``marginpred(se="no", calibration_in_variance="no")``: taken as True;
    ``se_method="linearisation"`` (misspelt): silently ignored on a glm;
20. ``plot.forest(estimate=None)`` / ``plot.prevalence(ci_low=None)``: a pandas KeyError;
    ``forest(labels="Age")``: an AttributeError, ``ref="1"``: a numpy ufunc TypeError,
    ``terms=1``: not iterable; ``annotate="no"``, ``drop_intercept="no"``,
    ``prevalence(percent="no")``: taken as True;
21. ``plot.hist(probability="no", right="no")``, ``plot.boxplot(all_outliers="no")``: taken as
    True;
22. ``sh.design.contrast(est, ..., level=95)`` (or 1.5, NaN, 0) and ``df=-1``: silently
    accepted (NaN or nonsense intervals); ``level="95%"``: a bare ValueError;
23. ``sh.design.contrast(est, {"x": ["api00"]})``: numpy's "could not convert string to
    float"; ``est.contrast(..., name=None)``: an estimate labelled None;
24. ``ReplicateDesign(data, "weight", 20)``: "'int' object is not iterable";
    ``ReplicateDesign(data, ["weight"], ...)``: "could not convert string to float";
    ``with_replicates("api00")``: "'str' object is not callable";
25. ``multinomial(...).to_frame(exponentiate="no")`` and ``meta(...).to_frame(
    exponentiate="no")``: taken as True;
26. ``plot.forest(ref=0)`` on the log scale: matplotlib's "Axis limits cannot be NaN or Inf";
    ``plot.coplot(figsize=10)``: "object of type 'int' has no len()";
27. ``TwoPhaseDesign(..., nest="no")``: taken as True (``SurveyDesign`` refuses it since
    round 2); ``glm(start=["a", "b"])``: numpy's "could not convert string to float".
"""
from __future__ import annotations

from functools import cache

import matplotlib
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from hostile_inputs import demo, refused  # tests/_support
from socialhealth import models

matplotlib.use("Agg")


@cache
def api() -> sh.SurveyDesign:
    data = sh.datasets.load_example("apistrat").copy()
    data["high"] = data["api00"] > 700
    return sh.SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")


# ----------------------------------------------------------------------------- 1. interval results
@pytest.mark.parametrize("level", ["95%", [0.9], "0.9x"])
@pytest.mark.parametrize("which", ["proportion", "quantile"])
def test_interval_estimate_level_refused(which, level):
    d = api()
    est = d.proportion("high") if which == "proportion" else d.quantile("api00", (0.25, 0.5))
    refused(lambda: est.confint(level=level), "level must be")
    refused(lambda: est.to_frame(level=level), "level must be")
    assert est.to_frame(level=0.9).shape[0] == est.to_frame().shape[0]


# ----------------------------------------------------------------------------- 2-5. glm
def test_glm_tol_and_offset_refused():
    d = api()
    refused(lambda: d.glm("api00 ~ ell", tol="1e-8"), "tol")
    refused(lambda: d.glm("api00 ~ ell", offset=["ell"]), "offset")


def test_glm_to_frame_exponentiate_must_be_a_flag():
    m = api().glm("high ~ ell", family="binomial")
    refused(lambda: m.to_frame(exponentiate="no"), "exponentiate")
    assert m.to_frame(exponentiate=False)["estimate"].tolist() == m.coef().tolist()


@pytest.mark.parametrize("terms", [None, 1, 2.5])
def test_glm_tests_need_term_names(terms):
    m = api().glm("high ~ ell + stype", family="binomial")
    refused(lambda: m.lrt(terms), "term")
    refused(lambda: m.wald_test(terms), "term")


def test_glm_lrt_df_and_aic_k_refused():
    m = api().glm("high ~ ell + stype", family="binomial")
    refused(lambda: m.lrt("stype", df="x"), "df")
    refused(lambda: m.aic(k="2"), "k=")
    refused(lambda: m.aic(k=float("nan")), "k=")
    refused(lambda: m.aic(null_has_intercept="no"), "null_has_intercept")


@pytest.mark.parametrize("offset", ["x", [], [1.0, 2.0]])
def test_glm_predict_offset_refused(offset):
    m = api().glm("api00 ~ ell")
    refused(lambda: m.predict(api().data.head(5), offset=offset), "offset")
    # one number is still added to every row
    base = m.predict(api().data.head(5))
    assert np.allclose(m.predict(api().data.head(5), offset=1.0), base + 1.0)


# ----------------------------------------------------------------------------- 6-11. design verbs
def test_ratio_by_empty_list_is_no_domains():
    d = api()
    assert d.ratio("api00", "api99", by=[]).to_frame()["estimate"].tolist() == \
        d.ratio("api00", "api99").to_frame()["estimate"].tolist()


@pytest.mark.parametrize("mask", [None, {"a": 1}])
def test_subset_mask_of_wrong_kind(mask):
    refused(lambda: api().subset(mask), "subset")


def test_subset_series_of_wrong_length_refused():
    d = api()
    short = (d.data["awards"] == "Yes").iloc[:50]
    refused(lambda: d.subset(short), "Series of 50 values")
    # the same labels in another order are still aligned
    shuffled = (d.data["awards"] == "Yes").sample(frac=1, random_state=1)
    assert d.subset(shuffled).n == d.subset(d.data["awards"] == "Yes").n


@pytest.mark.parametrize("rows", ["x", None, [0.5, 1.5], [0, 10_000]])
def test_restrict_to_rows_refused(rows):
    refused(lambda: api().restrict_to_rows(rows), "restrict_to_rows")


@pytest.mark.parametrize("kw", [{"max_iter": "10"}, {"max_iter": float("nan")},
                                {"epsilon": "x"}, {"epsilon": None}])
def test_calibrate_controls_refused(kw):
    d = api()
    refused(lambda: d.calibrate("~ awards", {"(Intercept)": 6194, "awardsYes": 4000}, **kw),
            "max_iter|epsilon")


def test_cdf_at_text_refused():
    refused(lambda: api().cdf("api00", at="x"), "at=")


@pytest.mark.parametrize("q", [True, [0.5, False], "0.5"])
def test_quantile_probabilities_not_bool_or_text(q):
    refused(lambda: api().quantile("api00", quantiles=q), "quantiles")


# ----------------------------------------------------------------------------- 12-14. models
@pytest.mark.parametrize("verb", ["association", "interaction"])
def test_association_measure_and_adjust(verb):
    d = demo()
    extra = {"by": "sex"} if verb == "interaction" else {}
    fn = getattr(models, verb)
    refused(lambda: fn(d, "lonely", "depression", measure=["or"], **extra), "measure")
    refused(lambda: fn(d, "lonely", "depression", adjust=1, **extra), "adjust=")


@pytest.mark.parametrize("level", ["95%", 95])
def test_interaction_and_margins_level(level):
    d = demo()
    refused(lambda: models.interaction(d, "lonely", "depression", "sex", level=level), "level")
    m = d.glm("lonely ~ age + sex", family="binomial")
    refused(lambda: models.margins(m, "sex", level=level), "level")


def test_margins_variable_and_at():
    m = demo().glm("lonely ~ age + sex", family="binomial")
    refused(lambda: models.margins(m, ["sex"]), "variable=")
    refused(lambda: models.margins(m, "age", at=40), "at=")


def test_compare_risk_factors_names():
    d = demo()
    refused(lambda: models.compare_risk_factors(d, ["lonely"], outcome=None), "outcome")
    refused(lambda: models.compare_risk_factors(d, 1), "exposures=")
    refused(lambda: models.compare_risk_factors(d, ["lonely"], measure=["or"]), "measure")


@pytest.mark.parametrize("kw", [{"max_iter": "10"}, {"max_iter": 2.5}, {"tol": "x"},
                                {"tol": None}])
def test_newton_models_controls(kw):
    d = demo()
    refused(lambda: models.ordinal(d, "self_rated_health ~ age", **kw), "max_iter|tol")
    refused(lambda: models.multinomial(d, "education ~ age", **kw), "max_iter|tol")
    refused(lambda: models.survreg(d, "followup_years", "died", "age", **kw), "max_iter|tol")


# ----------------------------------------------------------------------------- 15. plots
@pytest.mark.parametrize("kw", [{"by": ["sex", "region"]}, {"estimate": ["estimate"]},
                                {"ci_low": {"a": 1}}])
def test_plot_column_arguments_take_one_name(kw):
    frame = demo().proportion("lonely", by="sex").to_frame()
    refused(lambda: sh.plot.prevalence(frame, **kw), "one column name")


# ----------------------------------------------------------------------------- 16. tables
def test_describe_arguments():
    d = demo()
    refused(lambda: sh.tables.describe(d, by=["sex"], variables=["age"]), "by=")
    refused(lambda: sh.tables.describe(d, variables=["age"], labels=1), "labels=")
    refused(lambda: sh.tables.describe(d, variables={"age": 1}), "variables=")
    refused(lambda: sh.tables.describe(d, variables=["age"], overall="no"), "overall")
    refused(lambda: sh.tables.describe(d, variables=["age"], test="no"), "test")


def test_regression_arguments():
    m = demo().glm("lonely ~ age + sex", family="binomial")
    refused(lambda: sh.tables.regression(m, exponentiate="no"), "exponentiate")
    refused(lambda: sh.tables.regression(m, intercept="no"), "intercept")
    refused(lambda: sh.tables.regression(m, labels=1), "labels=")
    refused(lambda: sh.tables.regression(m, variable_labels=1), "variable_labels=")


# ----------------------------------------------------------------------------- 17. meta-analysis
def test_meta_flags_and_labels():
    est, se = [0.1, 0.2, 0.3], [0.05, 0.06, 0.07]
    refused(lambda: models.meta(est, se, ratio="no"), "ratio")
    refused(lambda: models.meta(est, se, exponentiate="no"), "exponentiate")
    refused(lambda: models.meta(est, se, labels=1), "labels=")
    refused(lambda: models.se_from_ci([1.0, 2.0], [2.0, 3.0], log="no"), "log")
    refused(lambda: models.i2_from_q("x", 5), "Q")


# ----------------------------------------------------------------------------- 18-21. flags
def test_model_flags_refuse_text():
    d = demo()
    refused(lambda: models.association(d, "lonely", "depression", complete_cases="no"),
            "complete_cases")
    refused(lambda: models.association(d, "lonely", "depression", pr_fallback="no"),
            "pr_fallback")
    refused(lambda: models.association(d, "lonely", "depression", categorical="yes"),
            "categorical")
    refused(lambda: models.interaction(d, "lonely", "depression", "sex", complete_cases="no"),
            "complete_cases")
    refused(lambda: models.compare_risk_factors(d, ["lonely"], mutual="no"), "mutual")
    refused(lambda: models.compare_risk_factors(d, ["lonely"], anchors="no"), "anchors")
    refused(lambda: models.compare_risk_factors(d, ["lonely"], anchor_outcome=1),
            "anchor_outcome")
    refused(lambda: models.compare_risk_factors(d, ["lonely"], anchor_match="lonely"),
            "anchor_match")


def test_marginpred_flags_and_se_method():
    m = demo().glm("lonely ~ sex", family="binomial")
    at = pd.DataFrame({"sex": ["male", "female"]})
    refused(lambda: models.marginpred(m, "age", at, se="no"), "se")
    refused(lambda: models.marginpred(m, "age", at, calibration_in_variance="no"),
            "calibration_in_variance")
    refused(lambda: models.marginpred(m, "age", at, se_method="linearisation"), "se_method")


def test_forest_and_prevalence_arguments():
    m = demo().glm("lonely ~ age + sex", family="binomial")
    tab = m.to_frame(exponentiate=True)
    refused(lambda: sh.plot.forest(tab, estimate=None), "estimate=")
    refused(lambda: sh.plot.forest(tab, labels="Age"), "labels=")
    refused(lambda: sh.plot.forest(tab, ref="1"), "ref=")
    refused(lambda: sh.plot.forest(tab, terms=1), "terms=")
    refused(lambda: sh.plot.forest(tab, annotate="no"), "annotate")
    refused(lambda: sh.plot.forest(tab, drop_intercept="no"), "drop_intercept")
    frame = demo().proportion("lonely", by="sex").to_frame()
    refused(lambda: sh.plot.prevalence(frame, ci_low=None), "ci_low=")
    refused(lambda: sh.plot.prevalence(frame, percent="no"), "percent")


def test_design_plot_flags():
    d = api()
    refused(lambda: sh.plot.hist(d, "api00", probability="no"), "probability")
    refused(lambda: sh.plot.hist(d, "api00", right="no"), "right")
    refused(lambda: sh.plot.boxplot(d, "api00", all_outliers="no"), "all_outliers")


# ----------------------------------------------------------------------------- 22-24. contrasts, replicates
@pytest.mark.parametrize("kw", [{"level": 95}, {"level": 1.5}, {"level": "95%"},
                                {"df": -1}, {"df": "x"}])
def test_design_contrast_level_and_df(kw):
    est = api().mean("api00", by="stype")
    refused(lambda: sh.design.contrast(est, {"EH": {"E": 1, "H": -1}}, **kw), "level|df")


def test_contrast_coefficients_and_name():
    est = api().mean("api00", by="stype")
    refused(lambda: sh.design.contrast(est, {"x": ["api00"]}), "contrast")
    refused(lambda: est.contrast([1, -1, 0], name=None), "name=")


def test_replicate_design_arguments():
    data = sh.datasets.load("demo").design.data
    reps = [f"repw_{i}" for i in range(1, 21)]
    refused(lambda: sh.ReplicateDesign(data, "weight", 20, method="bootstrap"),
            "replicate_weights=")
    refused(lambda: sh.ReplicateDesign(data, ["weight"], reps, method="bootstrap"), "weights=")
    r = api().to_replicate("jkn")
    refused(lambda: r.with_replicates("api00"), "function")


def test_model_result_to_frame_exponentiate_flag():
    mu = models.multinomial(demo(), "education ~ age")
    refused(lambda: mu.to_frame(exponentiate="no"), "exponentiate")
    mt = models.meta([0.1, 0.2, 0.3], [0.05, 0.06, 0.07])
    refused(lambda: mt.to_frame(exponentiate="no"), "exponentiate")


def test_forest_ref_on_log_scale_and_coplot_figsize():
    tab = demo().glm("lonely ~ age + sex", family="binomial").to_frame(exponentiate=True)
    refused(lambda: sh.plot.forest(tab, ref=0), "log scale")
    refused(lambda: sh.plot.coplot(api(), "api00", "ell", by="meals", figsize=10), "figsize=")
    # np.nan still means "no reference line"
    sh.plot.forest(tab, ref=float("nan"))


def test_twophase_nest_flag_and_glm_start_text():
    rng = np.random.default_rng(1)
    people = pd.DataFrame({"district": np.repeat([1, 2], 60),
                           "village": np.repeat(np.arange(6), 20), "N_villages": 20,
                           "sick": rng.binomial(1, 0.2, 120)})
    people["in2"] = (people["sick"] == 1) | (rng.random(120) < 0.3)
    refused(lambda: sh.TwoPhaseDesign(people, subset="in2", strata="sick", phase1_psu="village",
                                      phase1_strata="district", phase1_fpc="N_villages",
                                      nest="no"), "nest")
    refused(lambda: api().glm("high ~ ell", family="binomial", start=["a", "b"]), "start=")


# --------------------------------------------------------------------- measures (main session)
def test_measures_refuse_scores_items_and_options_of_the_wrong_kind():
    from socialhealth import measures
    from socialhealth.errors import MeasureError

    # categorise(score=3) / ("x") raised pandas/numpy errors
    for bad in (3, "x", None):
        with pytest.raises(MeasureError, match="Series or a list of numbers"):
            measures.categorise("djg6", bad)
    assert measures.categorise("djg6", [0, 3, 6]).tolist() == [
        "not lonely", "moderately lonely", "severely lonely"]
    # survey_alpha(items=5) raised "object of type 'int' has no len()"
    a = sh.datasets.load_example("apiclus1")
    d = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    with pytest.raises(MeasureError, match="two or more item columns"):
        sh.measures.survey_alpha(d, 5)
    # factors=42 for 6 items passed the degrees-of-freedom check ((6 - 42)^2 >= 48) and
    # failed in pandas ("Shape of passed values is (6, 6), indices imply (6, 42)")
    items = ["api99", "api00", "meals", "ell", "mobility", "enroll"]
    with pytest.raises(MeasureError, match="42 factors are too many for 6 items"):
        sh.measures.survey_factanal(d, items, factors=42)


def test_score_refuses_min_answered_that_its_missing_rule_would_ignore():
    # UCLA-3 is scored with missing='complete' by default: min_answered=2 was silently ignored
    # (a respondent with 2 of 3 items answered got no score although 2 were asked for), and
    # min_answered='x' was accepted
    from socialhealth import measures
    from socialhealth.errors import MeasureError

    df = pd.DataFrame({"q1": [1, 2, 3, np.nan], "q2": [1, 2, np.nan, 3], "q3": [3, 2, 1, 1]})
    items = {"companionship": "q1", "left_out": "q2", "isolated": "q3"}
    with pytest.raises(MeasureError, match="min_answered=2 needs missing='prorate'"):
        measures.score("ucla3", df, items=items, coding="1-3", min_answered=2)
    with pytest.raises(MeasureError, match="whole number from 1 to 3, not 'x'"):
        measures.score("ucla3", df, items=items, coding="1-3", min_answered="x")
    s = measures.score("ucla3", df, items=items, coding="1-3", min_answered=2, missing="prorate")
    assert s.score.tolist() == [5.0, 6.0, 6.0, 6.0]     # 3 + 1 prorated: 4 * 3 / 2; 4 * 3 / 2
    s = measures.score("ucla3", df, items=items, coding="1-3", min_answered=3)   # = complete
    assert s.score.iloc[:2].tolist() == [5.0, 6.0] and s.score.iloc[2:].isna().all()
