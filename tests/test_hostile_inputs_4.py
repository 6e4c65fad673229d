"""Hostile inputs, fourth round: the survival and ordinal models.

The sweep of round three (not kept) also called ``models.coxph``, ``kaplan_meier``,
``logrank``, ``survreg``, ``ordinal`` and ``multinomial`` and their results with one argument
replaced by a plausible mistake. Each test below failed before the fix that came with it; what
it found:

1. ``coxph(time=[...])`` / ``event=[...]`` / ``strata=[...]``: an "unhashable type" TypeError
   from pandas;
2. ``coxph(min_events="10")`` / ``events_per_variable="10"``: a TypeError comparing str and
   int; ``min_events=-1``, ``min_events=nan``, ``events_per_variable=-1``: silently accepted
   (no check of the number of events); ``tol="x"`` / ``max_iter="10"``: a TypeError from the
   Newton loop (``max_iter=2.5`` too); ``tol=nan``: the loop ran to max_iter and said to
   raise max_iter;
3. ``CoxResult.to_frame(level="95%")``: a TypeError (``1 - "95%"``);
   ``to_frame(exponentiate="no")`` and ``predict_curve(se="no")``: taken as True;
4. ``kaplan_meier(time=[...])`` / ``event=[...]`` / ``by=[["sex"]]``: an "unhashable type"
   TypeError; ``kaplan_meier(se="no")``: taken as True (standard errors computed, and the
   default estimator switched to Aalen's); ``by=`` or ``estimator=`` given a Series: "unhashable
   type" / "truth value of a Series is ambiguous" (also ``predict_curve(se_method=Series)``);
5. ``kaplan_meier(...).at(level="95%")`` / ``quantile(level="95%")`` / ``to_frame(level=
   "95%")``: a TypeError comparing str and int; ``at(times="x")``, ``quantile(p="x")``:
   numpy's bare "could not convert string to float" ValueError;
6. ``logrank(time=[...])`` (any column argument): an "unhashable type" TypeError;
   ``rho=True`` / ``gamma=True`` / ``rho="1"``: taken as 1 (a Harrington-Fleming test
   instead of the log-rank test);
7. ``survreg(time=[...])`` / ``event=[...]`` / ``dist=["weibull"]``: "unhashable type";
   ``to_frame(exponentiate="no")``: taken as True;
8. ``ordinal(levels=5)`` / ``multinomial(levels=5)``: "'int' object is not iterable";
   ``levels="poor"``: split into letters ("outcome values ... are not in levels= ('p', 'o',
   ...)");
   ``ordinal(method=["probit"])``: "unhashable type"; ``OrdinalResult.to_frame(level=
   "95%")``: a TypeError; ``to_frame(exponentiate="no")``: taken as True.
"""
from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from hostile_inputs import demo, refused  # tests/_support
from socialhealth import models

LEVELS = ["excellent", "very good", "good", "fair", "poor"]
SRH = "self_rated_health ~ lonely + age"


def cox(**changes):
    args = {"time": "followup_years", "event": "died", "covariates": ["lonely", "age"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return models.coxph(demo(), **{**args, **changes})


@cache
def cox_fit():
    return cox()


def km(**changes):
    return models.kaplan_meier(demo(), **{"time": "followup_years", "event": "died", **changes})


# ----------------------------------------------------------------------------- 1-3. coxph
@pytest.mark.parametrize("arg,value", [("time", ["followup_years"]), ("event", ["died"]),
                                       ("strata", ["sex"])])
def test_coxph_column_arguments_must_be_one_name(arg, value):
    refused(lambda: cox(**{arg: value}), f"{arg}= takes one column name")


@pytest.mark.parametrize("arg,value", [
    ("min_events", "10"), ("min_events", -1), ("min_events", np.nan), ("min_events", 2.5),
    ("events_per_variable", "10"), ("events_per_variable", -1),
    ("events_per_variable", np.nan), ("tol", "x"), ("tol", np.nan), ("max_iter", "10"),
    ("max_iter", 2.5)])
def test_coxph_controls_refused(arg, value):
    refused(lambda: cox(**{arg: value}), arg)


def test_coxph_controls_that_are_numbers_still_fit():
    m = cox(min_events=np.int64(5), events_per_variable=0, max_iter=np.int64(50))
    assert np.allclose(m.params, cox_fit().params)


def test_cox_result_level_and_flags_refused():
    m = cox_fit()
    refused(lambda: m.to_frame(level="95%"), "level must be")
    refused(lambda: m.to_frame(level=95), "level must be")
    refused(lambda: m.to_frame(exponentiate="no"), "exponentiate")
    new = pd.DataFrame({"lonely": [1], "age": [60]})
    refused(lambda: m.predict_curve(new, se="no"), "se=")
    refused(lambda: m.predict_curve(new, se_method=pd.Series(["r"])), "se_method")
    logged = m.to_frame(exponentiate=False)["estimate"].to_numpy()
    assert np.allclose(logged, m.params.to_numpy())


# ----------------------------------------------------------------------------- 4-5. kaplan_meier
@pytest.mark.parametrize("changes", [{"time": ["followup_years"]}, {"event": ["died"]},
                                     {"by": [["sex"]]}, {"se": "no"}, {"se": 1},
                                     {"by": pd.Series(["a", "b"])},
                                     {"estimator": pd.Series(["km"])}])
def test_kaplan_meier_arguments_refused(changes):
    refused(lambda: km(**changes))


@cache
def km_fit():
    return km(se=True)


@pytest.mark.parametrize("method", ["at", "quantile", "to_frame"])
def test_kaplan_meier_result_level_refused(method):
    r = km_fit()
    call = {"at": lambda lv: r.at([5], level=lv), "quantile": lambda lv: r.quantile(level=lv),
            "to_frame": lambda lv: r.to_frame(level=lv)}[method]
    refused(lambda: call("95%"), "level must be")
    refused(lambda: call([0.9]), "level must be")


def test_kaplan_meier_times_and_p_must_be_numbers():
    r = km_fit()
    refused(lambda: r.at(times="x"), "times must be")
    refused(lambda: r.at(times=["1", "x"]), "times must be")
    refused(lambda: r.quantile(p="x"), "p must be")
    refused(lambda: r.quantile(p=True), "p must be")
    assert r.at(times=5).shape[0] == r.at(times=[5]).shape[0]


# ----------------------------------------------------------------------------- 6. logrank
@pytest.mark.parametrize("changes", [{"time": ["followup_years"]}, {"status": ["died"]},
                                     {"by": ["sex", "region"]}, {"rho": True}, {"gamma": True},
                                     {"rho": "1"}])
def test_logrank_arguments_refused(changes):
    args = {"time": "followup_years", "status": "died", "by": "sex", **changes}
    refused(lambda: models.logrank(demo(), **args))


# ----------------------------------------------------------------------------- 7. survreg
def survreg(**changes):
    args = {"time": "followup_years", "event": "died", "covariates": ["lonely", "age"]}
    return models.survreg(demo(), **{**args, **changes})


@pytest.mark.parametrize("changes", [{"time": ["followup_years"]}, {"event": ["died"]},
                                     {"dist": ["weibull"]}])
def test_survreg_arguments_refused(changes):
    refused(lambda: survreg(**changes))


def test_survreg_to_frame_exponentiate_must_be_a_flag():
    m = survreg()
    refused(lambda: m.to_frame(exponentiate="no"), "exponentiate")
    assert np.allclose(m.to_frame()["estimate"], m.params)


# ----------------------------------------------------------------------------- 8. ordinal
@pytest.mark.parametrize("fit", [models.ordinal, models.multinomial])
@pytest.mark.parametrize("levels", [5, "poor", 2.5])
def test_outcome_levels_must_be_a_list(fit, levels):
    refused(lambda: fit(demo(), SRH, levels=levels), "levels= takes the outcome levels")


def test_ordinal_method_and_result_arguments_refused():
    refused(lambda: models.ordinal(demo(), SRH, method=["probit"]), "method=")
    m = models.ordinal(demo(), SRH, levels=LEVELS)
    refused(lambda: m.to_frame(level="95%"), "level must be")
    refused(lambda: m.to_frame(exponentiate="no"), "exponentiate")
    assert np.allclose(m.to_frame()["estimate"], m.params)
