"""Hostile inputs, fifth round: what the sweep of round four (not kept) left.

The sweep replaced one argument at a time by a plausible mistake. Each test below failed before
the fix that came with it; what it found:

1. a pandas Series passed where an option string goes (``method=``, ``statistic=``,
   ``qrule=``, ``type=``, ``style=``, ...) or a flag (``deff=``, ``bounds_const=``,
   ``points=``): pandas' "The truth value of a Series is ambiguous" (or "unhashable type")
   from ``if method not in METHODS``. Options are now checked with
   ``socialhealth._options.is_choice``, which answers False for such a value, so the option's
   own message (naming the valid values) is raised, with the Series written "a pandas Series of
   3 values" by ``show_given``;
2. plot functions given ``ax=`` of the wrong kind (42, a string, a list): "'str' object has
   no attribute 'bar'" and the like from matplotlib; ``title=``/``xlabel=``/``ylabel=``/
   ``caption=`` given a Series: the ambiguous truth value. Every public plot function checks
   them in its shared decorator (``plot.style.plain_text``);
3. ``coxph(strata="")`` was read as no strata;
4. ``kaplan_meier(...).at(times=-1)`` returned survival 1 (a time before follow-up began);
   ``quantile(p=[])`` returned an empty table;
5. ``r_code(data_name=42)`` printed ``data = 42`` (any text was pasted into the R code);
6. messages wrote a NaN the user passed as "missing" (``max_levels=missing must be a whole
   number``), which read as a contradiction; ``logrank(rho=nan)`` said the design covariance
   was singular;
7. about 40 messages that did refuse a Series printed it whole (``family=0    1.0\n1    2.0
   ...dtype: float64 is not supported``): they write the value with ``show_given``;
8. numbers given as text or True/False were read by ``float()``/``int()``: ``rake(max_iter=
   "10", epsilon="10")`` (and ``max_iter=2.5`` cut to 2), ``i2_from_q("10", 5)``,
   ``density(bandwidth="10")``, ``scatter(inches=True)``, ``marginpred(epsilon=True)``;
   ``glm.aic(k=-1)`` (a negative penalty) was accepted.
"""
from __future__ import annotations

import re
import warnings
from functools import cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from hostile_inputs import (SAID, SERIES, api, close_figures,  # noqa: F401  tests/_support
                            demo, glm, refused)
from socialhealth import measures, models, plot

ITEMS = ["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]

pytestmark = pytest.mark.usefixtures("close_figures")


@cache
def glm0():
    return demo().glm("lonely ~ age", family="binomial")


def quiet(call):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    return run


# ----------------------------------------------------------------------------- 1. options
OPTION_CALLS = {
    "SurveyDesign(variance=)": lambda v: sh.SurveyDesign(api().data, weights="pw",
                                                         strata="stype", fpc="fpc", variance=v),
    "mean(deff=)": lambda v: demo().mean("bmi", deff=v),
    "total(deff=)": lambda v: demo().total("bmi", deff=v),
    "proportion(method=)": lambda v: demo().proportion("lonely", method=v),
    "quantile(qrule=)": lambda v: demo().quantile("bmi", qrule=v),
    "quantile(interval_type=)": lambda v: demo().quantile("bmi", interval_type=v),
    "chisq(statistic=)": lambda v: demo().chisq("sex", "lonely", statistic=v),
    "ranktest(test=)": lambda v: demo().ranktest("bmi", by="sex", test=v),
    "rake(on_nonconvergence=)": lambda v: api().rake(
        [("awards", {"No": 2000, "Yes": 4194})], on_nonconvergence=v),
    "calibrate(bounds_const=)": lambda v: api().calibrate(
        "~ awards", {"(Intercept)": 6194, "awardsYes": 4000}, bounds_const=v),
    "glm.predict(type=)": lambda v: glm().predict(demo().data.head(5), type=v),
    "glm.lrt(approximation=)": lambda v: glm().lrt("sex", approximation=v),
    "anova(test=)": lambda v: demo().anova(glm0(), glm(), test=v),
    "anova(method=)": lambda v: demo().anova(glm0(), glm(), method=v),
    "marginpred(type=)": lambda v: models.marginpred(
        demo().glm("lonely ~ sex", family="binomial"), "age",
        pd.DataFrame({"sex": ["male", "female"]}), type=v),
    "marginpred(se_method=)": lambda v: models.marginpred(
        demo().glm("lonely ~ sex", family="binomial"), "age",
        pd.DataFrame({"sex": ["male", "female"]}), se_method=v),
    "margins(average_over=)": lambda v: models.margins(glm(), "sex", average_over=v),
    "margins(variance=)": lambda v: models.margins(glm(), "sex", variance=v),
    "margins(reference=)": lambda v: models.margins(glm(), "sex", reference=v),
    "reliability(ci_method=)": lambda v: measures.reliability(
        demo().data[ITEMS].dropna(), ci_method=v),
    "survey_factanal(n=)": lambda v: measures.survey_factanal(
        demo(), ITEMS + ["cognitive_score"], 1, n=v),
    "survey_factanal(rotation=)": lambda v: measures.survey_factanal(
        demo(), ITEMS + ["cognitive_score"], 1, rotation=v),
    "score(missing=)": lambda v: measures.score(
        "ucla3", pd.DataFrame({"q1": [1, 3], "q2": [1, 2], "q3": [2, 3]}),
        {"companionship": "q1", "left_out": "q2", "isolated": "q3"}, coding="1-3", missing=v),
    "categorise(scale=)": lambda v: measures.categorise("ucla3", pd.Series([3.0, 6.0]), scale=v),
    "describe(statistic=)": lambda v: sh.tables.describe(demo(), variables=["age"],
                                                         statistic=v),
    "describe(continuous=)": lambda v: sh.tables.describe(demo(), variables=["age"],
                                                          continuous=v),
    "describe(variables=)": lambda v: sh.tables.describe(demo(), variables=v),
    "describe(categorical=)": lambda v: sh.tables.describe(demo(), variables=["age"],
                                                           categorical=v),
    "forest(scale=)": lambda v: plot.forest(glm().to_frame(exponentiate=True), scale=v),
    "prevalence(kind=)": lambda v: plot.prevalence(
        demo().proportion("lonely", by="sex").to_frame(), kind=v),
    "prevalence(x=)": lambda v: plot.prevalence(
        demo().proportion("lonely", by="sex").to_frame(), x=v),
    "scatter(style=)": lambda v: plot.scatter(demo(), "age", "bmi", style=v),
    "coplot(style=)": lambda v: plot.coplot(demo(), "bmi", "age", by="cognitive_score",
                                            style=v),
    "smooth(method=)": lambda v: plot.smooth(demo(), "bmi", "age", method=v),
    "smooth(points=)": lambda v: plot.smooth(demo(), "bmi", "age", points=v),
}


@pytest.mark.parametrize("name", sorted(OPTION_CALLS))
def test_an_option_given_a_series_is_refused_saying_so(name):
    error = refused(quiet(lambda: OPTION_CALLS[name](SERIES)))
    assert "truth value" not in str(error)
    assert SAID in str(error), str(error)


@pytest.mark.parametrize("name", ["proportion(method=)", "chisq(statistic=)", "quantile(qrule=)",
                                  "anova(test=)", "margins(average_over=)", "forest(scale=)",
                                  "survey_factanal(rotation=)", "score(missing=)"])
def test_the_message_names_the_valid_choices(name):
    valid = {"proportion(method=)": "logit", "chisq(statistic=)": "adjWald",
             "quantile(qrule=)": "math", "anova(test=)": "Chisq",
             "margins(average_over=)": "design", "forest(scale=)": "linear",
             "survey_factanal(rotation=)": "varimax", "score(missing=)": "prorate"}[name]
    for wrong in (SERIES, ["x"], 3):
        error = refused(quiet(lambda w=wrong: OPTION_CALLS[name](w)))
        assert valid in str(error), wrong


def test_options_given_as_strings_still_work():
    d = demo()
    assert d.proportion("lonely", method="beta").to_frame().shape[0] == 1
    assert d.chisq("sex", "lonely", statistic="Chisq").p < 1
    assert d.mean("bmi", deff="replace").to_frame()["deff"].notna().all()
    assert d.mean("bmi", deff=np.True_).to_frame()["deff"].notna().all()
    assert models.margins(glm(), "sex", reference="male").to_frame().shape[0] >= 2
    assert isinstance(plot.smooth(d, "bmi", "age", points=True).ax, plt.Axes)


# ----------------------------------------------------------------------------- 2. plot axes, labels
def _estimates():
    return demo().proportion("lonely", by="sex").to_frame()


PLOTS = {
    "hist": lambda **k: plot.hist(demo(), "bmi", **k),
    "boxplot": lambda **k: plot.boxplot(demo(), "bmi", by="sex", **k),
    "density": lambda **k: plot.density(demo(), "bmi", **k),
    "qq": lambda **k: plot.qq(demo(), "bmi", **k),
    "scatter": lambda **k: plot.scatter(demo(), "age", "bmi", **k),
    "smooth": lambda **k: plot.smooth(demo(), "bmi", "age", **k),
    "prevalence": lambda **k: plot.prevalence(_estimates(), **k),
    "forest": lambda **k: plot.forest(glm().to_frame(exponentiate=True), **k),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
@pytest.mark.parametrize("ax", [42, "left", [1, 2], SERIES])
def test_plot_ax_of_the_wrong_kind_is_refused(name, ax):
    error = refused(quiet(lambda: PLOTS[name](ax=ax)), "ax= must be a matplotlib Axes")
    assert isinstance(error, sh.errors.PlotError)


@pytest.mark.parametrize("name,label", [(n, lab) for n in sorted(PLOTS)
                                        for lab in ("title", "xlabel", "ylabel", "caption")
                                        if (n, lab) != ("forest", "ylabel")])   # none there
def test_plot_labels_of_the_wrong_kind_are_refused(name, label):
    refused(quiet(lambda: PLOTS[name](**{label: SERIES})), f"{label}= must be text")
    refused(quiet(lambda: PLOTS[name](**{label: ["a", "b"]})), f"{label}= must be text")


def test_coplot_labels_are_checked_too():
    refused(quiet(lambda: plot.coplot(demo(), "bmi", "age", by="cognitive_score",
                                      title=SERIES)), "title= must be text")


def test_plots_with_an_axes_and_text_labels_still_draw():
    _fig, ax = plt.subplots()
    out = quiet(lambda: plot.hist(demo(), "bmi", ax=ax, title="BMI", xlabel="kg/m2",
                                  caption=None))()
    assert out.ax is ax and ax.get_title(loc="left") == "BMI"
    _fig, ax = plt.subplots()
    assert plot.prevalence(_estimates(), ax=ax, title="Lonely") is ax


# ----------------------------------------------------------------------------- 3. coxph strata
@pytest.mark.parametrize("strata", ["", "  "])
def test_coxph_blank_strata_is_refused_naming_the_columns(strata):
    error = refused(quiet(lambda: models.coxph(demo(), "followup_years", "died", "age",
                                               strata=strata)), "not a column name")
    assert "'sex'" in str(error) and "strata=None" in str(error)


def test_coxph_with_strata_still_fits():
    m = quiet(lambda: models.coxph(demo(), "followup_years", "died", "age", strata="sex"))()
    plain = quiet(lambda: models.coxph(demo(), "followup_years", "died", "age"))()
    assert m.params.shape == plain.params.shape
    assert not np.allclose(m.params, plain.params)      # the strata are used


# ----------------------------------------------------------------------------- 4. Kaplan-Meier
@cache
def km():
    return models.kaplan_meier(demo(), "followup_years", "died", by="sex")


@pytest.mark.parametrize("times", [-1, -0.5, [1, -1], -np.inf])
def test_kaplan_meier_at_refuses_negative_times(times):
    refused(lambda: km().at(times=times), "times must be a number >= 0")


def test_kaplan_meier_at_time_zero_is_survival_one():
    frame = km().at(times=[0, 5])
    assert (frame.loc[frame["time"] == 0, "surv"] == 1.0).all()
    assert (frame.loc[frame["time"] == 5, "surv"] < 1.0).all()


@pytest.mark.parametrize("p", [[], 0, 1, 1.5, -0.5, [0.5, 1.2]])
def test_kaplan_meier_quantile_refuses_empty_or_outside_0_1(p):
    refused(lambda: km().quantile(p=p), "p must be survival proportions")


def test_kaplan_meier_quantile_median_still_works():
    assert km().quantile(p=0.5).shape[0] == 2


# ----------------------------------------------------------------------------- 5. r_code
@pytest.mark.parametrize("name", [42, None, "", "2019 wave", "1df", "_df", "NULL", "..1",
                                  "my data", ["df"]])
def test_r_code_data_name_must_be_an_r_name(name):
    for design in (demo(), api(), api().to_replicate("jkn")):
        refused(lambda d=design: d.r_code(data_name=name), "data_name= must be the name")


@pytest.mark.parametrize("name", ["df", "my.data", "survey_2019", ".hidden", "T"])
def test_r_code_with_a_valid_data_name(name):
    assert re.search(rf"data = {re.escape(name)}\b", api().r_code(data_name=name))


# ----------------------------------------------------------------------------- 6. NaN in messages
def test_a_nan_the_user_passed_is_written_nan():
    nan = float("nan")
    cases = [
        (lambda: models.multinomial(demo(), "education ~ age", max_levels=nan), "max_levels=NaN"),
        (lambda: models.multinomial(demo(), "education ~ age", tol=nan), "tol=NaN"),
        (lambda: plot.smooth(demo(), "bmi", "age", method="quantreg", quantile=nan), "not NaN"),
        (lambda: plot.scatter(demo(), "age", "bmi", style="subsample", seed=nan), "not NaN"),
        (lambda: demo().cdf(nan), "not NaN"),
        (lambda: demo().cdf("bmi", at=[20, nan]), "[20, NaN]"),
    ]
    for call, said in cases:
        error = refused(quiet(call))
        assert said in str(error) and "missing" not in str(error), str(error)


def test_logrank_nan_rho_is_refused_as_such():
    refused(lambda: models.logrank(demo(), "followup_years", "died", "sex", rho=float("nan")),
            "rho and gamma must be finite numbers >= 0")


def test_show_given_describes_a_series():
    from socialhealth._text import show_given

    assert show_given(pd.Series([1.0])) == "a pandas Series of 1 value"
    assert show_given(SERIES) == SAID
    assert show_given(pd.DataFrame({"a": [1, 2]})) == "a data frame of 2 rows"


# ----------------------------------------------------------------------------- 7. Series printed
PRINTED_CALLS = {
    "glm(family=)": lambda v: demo().glm("lonely ~ age", family=v),
    "glm(link=)": lambda v: demo().glm("lonely ~ age", family="binomial", link=v),
    "calibrate(calfun=)": lambda v: api().calibrate(
        "~ awards", {"(Intercept)": 6194, "awardsYes": 4000}, calfun=v),
    "SurveyDesign(lonely_psu=)": lambda v: sh.SurveyDesign(api().data, weights="pw",
                                                           strata="stype", lonely_psu=v),
    "SurveyDesign(pps=)": lambda v: sh.SurveyDesign(api().data, weights="pw", pps=v),
    "to_replicate(method=)": lambda v: api().to_replicate(v),
    "ReplicateDesign(method=)": lambda v: sh.ReplicateDesign(
        demo().data, "weight", [f"repw_{i}" for i in range(1, 21)], method=v),
    "mean(variables=)": lambda v: demo().mean(v),
    "proportion(variable=)": lambda v: demo().proportion(v),
    "quantile(ci=)": lambda v: demo().quantile("bmi", ci=v),
    "chisq(max_levels=)": lambda v: demo().chisq("sex", "lonely", max_levels=v),
    "gofchisq(variable=)": lambda v: demo().gofchisq(v, p=[0.5, 0.5]),
    "glm.pseudo_rsquared(method=)": lambda v: glm().pseudo_rsquared(method=v),
    "coxph(ties=)": lambda v: models.coxph(demo(), "followup_years", "died", "age", ties=v),
    "coxph(covariates=)": lambda v: models.coxph(demo(), "followup_years", "died", v),
    "kaplan_meier(estimator=)": lambda v: models.kaplan_meier(
        demo(), "followup_years", "died", estimator=v),
    "survreg(dist=)": lambda v: models.survreg(demo(), "followup_years", "died", "age", dist=v),
    "ordinal(method=)": lambda v: models.ordinal(demo(), "self_rated_health ~ age", method=v),
    "ordinal(formula=)": lambda v: models.ordinal(demo(), v),
    "association(exposure=)": lambda v: models.association(demo(), v, "depression"),
    "association(family=)": lambda v: models.association(demo(), "lonely", "depression",
                                                         family=v),
    "meta(method=)": lambda v: models.meta([0.1, 0.2, 0.3], [0.05, 0.06, 0.07], method=v),
    "get_instrument(key=)": lambda v: measures.get_instrument(v),
    "survey_kappa(x=)": lambda v: measures.survey_kappa(demo(), v, "lonely_ucla3"),
    "hist(variable=)": lambda v: plot.hist(demo(), v),
    "hist(by=)": lambda v: plot.hist(demo(), "bmi", by=v),
    "qq(against=)": lambda v: plot.qq(demo(), "bmi", against=v),
}


@pytest.mark.parametrize("name", sorted(PRINTED_CALLS))
def test_a_refused_series_is_described_not_printed(name):
    error = refused(quiet(lambda: PRINTED_CALLS[name](SERIES)))
    assert "dtype" not in str(error) and "\n" not in str(error), str(error)
    assert SAID in str(error), str(error)


# ----------------------------------------------------------------------------- 8. text as numbers
NUMBER_CALLS = {
    "rake(max_iter='10')": lambda: api().rake([("awards", {"No": 2000, "Yes": 4194})],
                                              max_iter="10"),
    "rake(max_iter=2.5)": lambda: api().rake([("awards", {"No": 2000, "Yes": 4194})],
                                             max_iter=2.5),
    "rake(epsilon='10')": lambda: api().rake([("awards", {"No": 2000, "Yes": 4194})],
                                             epsilon="10"),
    "rake(epsilon=True)": lambda: api().rake([("awards", {"No": 2000, "Yes": 4194})],
                                             epsilon=True),
    "i2_from_q('10')": lambda: models.i2_from_q("10", 5.0),
    "i2_from_q(True)": lambda: models.i2_from_q(True, 5.0),
    "aic(k=-1)": lambda: glm().aic(k=-1),
    "density(bandwidth='10')": lambda: plot.density(demo(), "bmi", bandwidth="10"),
    "smooth(bandwidth='10')": lambda: plot.smooth(demo(), "bmi", "age", bandwidth="10"),
    "scatter(inches=True)": lambda: plot.scatter(demo(), "age", "bmi", inches=True),
    "scatter(inches='0.1')": lambda: plot.scatter(demo(), "age", "bmi", inches="0.1"),
    "marginpred(epsilon=True)": lambda: models.marginpred(
        demo().glm("lonely ~ sex", family="binomial"), "age",
        pd.DataFrame({"sex": ["male", "female"]}), epsilon=True),
}


@pytest.mark.parametrize("name", sorted(NUMBER_CALLS))
def test_text_or_true_false_is_not_read_as_a_number(name):
    refused(quiet(NUMBER_CALLS[name]))


def test_the_same_calls_with_numbers_still_work():
    raked = api().rake([("awards", {"No": 2000, "Yes": 4194})], max_iter=np.int64(10),
                       epsilon=1.0)
    assert raked.weights.sum() == pytest.approx(6194)
    assert models.i2_from_q(np.float64(10), 5) == pytest.approx(50.0)
    assert np.isfinite(glm().aic(k=0)["AIC"])
    assert plot.density(demo(), "bmi", bandwidth=np.float64(2.0)).bandwidth == 2.0
