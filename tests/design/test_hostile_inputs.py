"""Hostile inputs to the designs, their verbs, association, describe and score (issue 12).

Every case either raises a socialhealth exception whose message says what is wrong (never a
bare KeyError/TypeError/ValueError/LinAlgError from numpy/pandas), or returns what R survey
4.1-1 returns (numbers compared with R where R gives numbers; NaN, with a warning, where R
gives NA). The comment on each case records what R does (checked with Rscript, survey 4.1-1).
Where socialhealth deliberately refuses input that R accepts silently (zero/negative weights,
probabilities > 1, an fpc varying within a stratum, an empty data frame, an infinite outcome)
the comment says so.

Shared data: ``i = 1..40``, 4 strata of 10 rows with PSUs 1, 2 (5 rows each), ``w = 1 + i %% 3``,
``y = sin(i)``, ``x = cos(i)``, ``b = i %% 2``; R builds the same frame from the same formulas.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import errors
from socialhealth.errors import (
    ArgumentError,
    DesignError,
    EstimationError,
    FormulaError,
    FPCError,
    ItemCodeError,
    ItemCountError,
    LonelyPSUError,
    MeasureError,
    MissingColumnError,
    ModelError,
    NestingError,
    ProbabilityError,
    ReplicateWeightsError,
    RowsDroppedWarning,
    SocialHealthError,
    SocialHealthWarning,
    WeightError,
)

I = np.arange(1, 41)


def frame() -> pd.DataFrame:
    g = np.array(["p", "q", "r"])[(I % 3 + I % 5) % 3]
    return pd.DataFrame({
        "st": np.repeat(list("abcd"), 10),
        "psu": np.tile(np.repeat([1, 2], 5), 4),
        "w": 1.0 + I % 3,
        "y": np.sin(I),
        "x": np.cos(I),
        "b": I % 2,
        "g": g,
        "N": 100.0,
    })


def simple(df=None, **kw):
    kw.setdefault("weights", "w")
    return sh.SurveyDesign(frame() if df is None else df, **kw)


def strat(df=None, **kw):
    kw.setdefault("strata", "st")
    kw.setdefault("psu", "psu")
    kw.setdefault("nest", True)
    return simple(df, **kw)


def with_reps(df=None):
    df = frame() if df is None else df
    for k in range(1, 5):
        df[f"rw{k}"] = df["w"] * (1 + 0.1 * k * np.cos(I * k))
    return df


def rep(df=None, **kw):
    kw.setdefault("method", "bootstrap")
    return sh.ReplicateDesign(with_reps() if df is None else df, weights="w",
                              replicate_weights="^rw", **kw)


def changed(**columns):
    """frame() with some columns replaced (callables get the frame)."""
    df = frame()
    for k, v in columns.items():
        df[k] = v(df) if callable(v) else v
    return df


def wmean(y, w):
    y, w = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    ok = ~np.isnan(y)
    return float((w[ok] * y[ok]).sum() / w[ok].sum())


# ----------------------------------------------------------------------------- error table
# (id, call, exception, message pattern); every exception must be a SocialHealthError.
ERRORS = [
    # weights. R: svydesign(weights = ~w) with NA -> "missing values in `weights'"
    ("weights all NaN", lambda: simple(changed(w=np.nan)), WeightError, "missing for every row"),
    ("weights some NaN", lambda: simple(changed(w=lambda d: d.w.where(I != 4))), WeightError,
     "missing for 1 of 40"),
    ("weights Int64 with NA", lambda: simple(changed(w=lambda d: pd.array([pd.NA] + [2] * 39, dtype="Int64"))),
     WeightError, "missing for 1 of 40"),
    # R computes with a zero or negative weight silently; socialhealth refuses (use subset())
    ("weight zero", lambda: simple(changed(w=lambda d: d.w.where(I != 4, 0.0))), WeightError,
     r"non-positive.*subset"),
    ("weight negative", lambda: simple(changed(w=lambda d: d.w.where(I != 4, -1.0))), WeightError,
     "non-positive"),
    # R: a weight of Inf gives mean NaN, SE NaN
    ("weight inf", lambda: simple(changed(w=lambda d: d.w.where(I != 4, np.inf))), WeightError, "infinite"),
    # R: "non-numeric argument to binary operator"
    ("weights strings", lambda: simple(changed(w="heavy")), WeightError, "not numeric.*'heavy'"),
    # R: TRUE/FALSE become weights 1/0 (zero weights, see above)
    ("weights boolean", lambda: simple(changed(w=I % 2 == 0)), WeightError, "non-positive"),
    ("weights as an array", lambda: sh.SurveyDesign(frame(), weights=np.ones(40)), DesignError,
     "column name"),
    ("weights column absent", lambda: simple(weights="wt"), MissingColumnError, "did you mean 'w'"),
    # replicate weights. R: "Missing values not allowed in 'repweights'"
    ("replicate NaN", lambda: rep(with_reps().assign(rw2=lambda d: d.rw2.where(I != 1))),
     ReplicateWeightsError, "missing"),
    # R: "NA/NaN/Inf in foreign function call (arg 1)"
    ("replicate inf", lambda: rep(with_reps().assign(rw2=lambda d: d.rw2.where(I != 1, np.inf))),
     ReplicateWeightsError, "infinite"),
    # (a negative replicate weight is accepted, as R: test_negative_replicate_weight_is_used_as_r)
    ("replicate strings", lambda: rep(with_reps().assign(rw2="x")), ReplicateWeightsError, "not numeric"),
    # R: "rscales has length 2, should be ncol(repweights)"
    ("rscales wrong length", lambda: rep(rscales=[1, 1]), ReplicateWeightsError, "length 2"),
    ("rscales 2-d", lambda: rep(rscales=np.ones((2, 2))), ReplicateWeightsError, "1-d"),
    ("rscales NaN", lambda: rep(rscales=[1, np.nan, 1, 1]), ReplicateWeightsError, "finite"),
    ("rscales text", lambda: rep(rscales="a"), ReplicateWeightsError, "numbers"),
    # R: scale = -1 gives SE NaN ("NaNs produced"); a vector scale is silently recycled
    ("scale negative", lambda: rep(scale=-1), ReplicateWeightsError, "positive"),
    ("scale zero", lambda: rep(scale=0), ReplicateWeightsError, "positive"),
    ("scale NaN", lambda: rep(scale=np.nan), ReplicateWeightsError, "positive"),
    ("scale list", lambda: rep(scale=[1, 2]), ReplicateWeightsError, "rscales"),
    ("scale text", lambda: rep(scale="a"), ReplicateWeightsError, "positive"),
    ("mse not boolean", lambda: rep(mse="no"), ArgumentError, "True or False"),
    # R: rho = 1.5 is accepted (scale 1/(R (1 - rho)^2)); Fay's rho lies in [0, 1)
    ("fay rho 1.5", lambda: rep(method="fay", fay_rho=1.5), ReplicateWeightsError, r"\[0, 1\)"),
    ("replicate method", lambda: rep(method="jackknife"), ReplicateWeightsError, "jk1, jkn, brr"),
    ("one replicate", lambda: sh.ReplicateDesign(with_reps(), weights="w", replicate_weights=["rw1"],
                                                 method="bootstrap"), ReplicateWeightsError, "two"),
    ("replicate duplicated column", lambda: rep(pd.concat([with_reps(), with_reps()[["rw1"]]], axis=1)),
     DesignError, "duplicated column name.*'rw1'"),
    # design variables. R: "missing values in `strata'" / "missing values in `id'"
    ("strata NaN", lambda: strat(changed(st=lambda d: d.st.where(I != 3))), DesignError,
     r"stratum \('st'\) has 1 missing"),
    ("PSU NaN", lambda: strat(changed(psu=lambda d: d.psu.where(I != 3))), DesignError,
     r"PSU \('psu'\) has 1 missing"),
    # R: "Stratum (a) has only one PSU at stage 1"
    ("lonely fail", lambda: strat(changed(psu=lambda d: np.where(d.st == "a", 1, d.psu))).mean("y"),
     LonelyPSUError, "stratum 'a' has only one PSU"),
    ("lonely option unknown", lambda: strat(lonely_psu="bogus"), DesignError,
     "fail, remove, adjust, average, certainty"),
    # R: "Clusters not nested in strata at top level; you may want nest=TRUE."
    ("PSUs reused across strata, nest=False", lambda: strat(nest=False), NestingError, "nest=True"),
    # R: "FPC implies >100% sampling in some strata"
    ("fpc smaller than sample", lambda: simple(changed(N=5.0), strata="st", fpc="N"), FPCError,
     "has 5 units in the population but 10 were sampled"),
    # R: warning "`fpc' varies within strata: stratum a at stage 1", then uses it anyway
    ("fpc varies within stratum", lambda: simple(changed(N=100.0 + I), strata="st", fpc="N"),
     FPCError, "not constant within stratum 'a'"),
    # R: "Must have all fpc>=1 or all fpc<=1"
    ("fpc mixes fractions and sizes", lambda: simple(changed(N=np.where(I <= 10, 0.5, 100.0)),
                                                     strata="st", fpc="N"), FPCError, "mixes fractions"),
    # R: "missing values in `fpc'"
    ("fpc NaN", lambda: simple(changed(N=np.where(I == 1, np.nan, 100.0)), strata="st", fpc="N"),
     FPCError, "missing"),
    # R: fpc 1 everywhere -> "Must have all fpc>=1 or all fpc<=1" (as.fpc: any(fpc > 1) xor
    # all(fpc >= 1)); a mix of 1 and fractions < 1 is fine in R and here
    ("fpc 1 everywhere", lambda: simple(changed(N=1.0), strata="st", fpc="N"), FPCError, "ambiguous"),
    ("fpc text", lambda: simple(changed(N="big"), strata="st", fpc="N"), FPCError, "not numeric"),
    # R: probs 0 gives mean NaN; probs 2 is accepted (weight 0.5)
    ("probs zero", lambda: sh.SurveyDesign(changed(p=np.where(I == 1, 0.0, 0.5)), probs="p"),
     ProbabilityError, r"\(0, 1\]"),
    ("probs above 1", lambda: sh.SurveyDesign(changed(p=np.where(I == 1, 2.0, 0.5)), probs="p"),
     ProbabilityError, r"\(0, 1\]"),
    # data. R builds a design from zero rows without complaint
    ("empty data frame", lambda: simple(frame().iloc[:0]), DesignError, "no rows"),
    ("empty data frame, replicate", lambda: rep(with_reps().iloc[:0]), DesignError, "no rows"),
    # R: "Design has only one primary sampling unit"
    ("one row", lambda: simple(frame().iloc[:1]).mean("y"), LonelyPSUError, "only one PSU"),
    ("MultiIndex columns", lambda: simple(frame().set_axis(pd.MultiIndex.from_product([frame().columns, [""]]),
                                                           axis=1), weights=("w", "")),
     DesignError, "MultiIndex"),
    ("duplicated outcome column", lambda: simple(pd.concat([frame(), frame()[["y"]]], axis=1)),
     DesignError, "duplicated column name.*'y'"),
    ("duplicated strata column", lambda: strat(pd.concat([frame(), frame()[["st"]]], axis=1)),
     DesignError, "duplicated"),
    ("not a data frame", lambda: sh.SurveyDesign(frame().to_dict(), weights="w"), DesignError, "DataFrame"),
    ("datetime outcome", lambda: simple(changed(y=pd.date_range("2020-01-01", periods=40))).mean("y"),
     EstimationError, "datetime"),
    ("datetime predictor", lambda: simple(changed(x=pd.date_range("2020-01-01", periods=40))).glm("y ~ x"),
     FormulaError, "model matrix"),
    # R (na.rm = TRUE): mean 0 with SE 0 -- a silently wrong number
    ("outcome all NaN, mean", lambda: simple(changed(y=np.nan)).mean("y"), EstimationError,
     "missing value in 'y'"),
    ("outcome all NaN, total", lambda: simple(changed(y=np.nan)).total("y"), EstimationError, "no rows"),
    ("outcome all NaN, quantile", lambda: simple(changed(y=np.nan)).quantile("y"), EstimationError,
     "no non-missing"),
    ("outcome all NaN, ttest", lambda: simple(changed(y=np.nan)).ttest("y"), EstimationError, "no rows"),
    ("outcome all NaN, glm", lambda: simple(changed(y=np.nan)).glm("y ~ x"), FormulaError, "no rows left"),
    ("outcome all NaN, proportion", lambda: simple(changed(b=np.nan)).proportion("b"), EstimationError,
     "every row"),
    # R: svymean/svytotal of a variable with an Inf give Inf/NaN estimates and SE NaN
    ("outcome inf, mean", lambda: simple(changed(y=lambda d: d.y.where(I != 1, np.inf))).mean("y"),
     EstimationError, "1 infinite value"),
    ("outcome inf, total", lambda: simple(changed(y=lambda d: d.y.where(I != 1, np.inf))).total("y"),
     EstimationError, "infinite"),
    ("outcome inf, ratio", lambda: simple(changed(y=lambda d: d.y.where(I != 1, np.inf))).ratio("y", "x"),
     EstimationError, "infinite"),
    ("outcome inf, glm", lambda: simple(changed(y=lambda d: d.y.where(I != 1, np.inf))).glm("y ~ x"),
     FormulaError, "infinite"),
    # R: svyratio(~y, ~z) with z == 0 gives Ratio Inf, SE NaN
    ("ratio denominator zero", lambda: simple(changed(z=0.0)).ratio("y", "z"), EstimationError,
     "denominator of 'y/z' totals 0"),
    ("by variable all missing", lambda: simple(changed(g=None)).mean("y", by="g"), EstimationError,
     "by= variable"),
    # R: svymean(~y, subset(des, y > 100)) gives 0 with SE 0
    ("subset selects nothing", lambda: strat().subset(frame().y > 100).mean("y"), EstimationError,
     "subset is empty"),
    ("subset selects nothing, replicate", lambda: rep().subset(frame().y > 100).total("y"),
     EstimationError, "subset is empty"),
    ("subset mask of wrong length", lambda: strat().subset(np.ones(3, bool)), DesignError, "3 values"),
    ("variable absent, mean", lambda: simple().mean("yy"), MissingColumnError, "did you mean 'y'"),
    ("variable absent, by", lambda: simple().mean("y", by="gg"), MissingColumnError, "did you mean 'g'"),
    ("variable absent, table", lambda: simple().table("gg"), MissingColumnError, "did you mean 'g'"),
    ("variable absent, ttest", lambda: simple().ttest("yy"), MissingColumnError, "did you mean 'y'"),
    ("variable absent, glm", lambda: simple().glm("y ~ xx"), FormulaError, "did you mean 'x'"),
    ("variable absent, post_stratify", lambda: simple().post_stratify("gg", {"p": 1}), MissingColumnError,
     "did you mean 'g'"),
    ("variable absent, association", lambda: sh.models.association(simple(), "xx", "b"),
     MissingColumnError, "did you mean 'x'"),
    ("variable absent, describe", lambda: sh.tables.describe(simple(), by="gg", variables=["y"]),
     MissingColumnError, "did you mean 'g'"),
    # options. R: method/family strings it does not know are errors too
    ("proportion method", lambda: simple().proportion("b", method="wilson"), EstimationError,
     "logit, likelihood, asin, beta, mean, xlogit"),
    ("quantile interval_type", lambda: simple().quantile("y", interval_type="bogus"), EstimationError, "mean, beta"),
    ("quantile qrule", lambda: simple().quantile("y", qrule="bogus"), EstimationError, "math"),
    ("quantiles as text", lambda: simple().quantile("y", quantiles="median"), EstimationError, "0.5"),
    ("quantiles above 1", lambda: simple().quantile("y", quantiles=1.5), EstimationError, "between 0 and 1"),
    # R: object 'normal2' of mode 'function' was not found
    ("glm family", lambda: simple().glm("y ~ x", family="normal2"), ModelError, "gaussian"),
    ("glm link", lambda: simple().glm("b ~ x", family="binomial", link="probitt"), ModelError,
     "logit, log, identity, probit, cloglog"),
    ("chisq statistic", lambda: simple().chisq("g", "b", statistic="bogus"), EstimationError,
     "F, Chisq, Wald, adjWald"),
    # R: svychisq(~g + g) / (~g + y): "system is computationally singular"
    ("chisq same variable twice", lambda: simple().chisq("g", "g"), EstimationError, "singular"),
    ("chisq with a continuous column", lambda: simple().chisq("g", "y"), EstimationError, "singular"),
    ("calibrate calfun", lambda: simple().calibrate("~x", {"(Intercept)": 100, "x": 0}, calfun="bogus"),
     DesignError, "'linear', 'raking', 'logit'"),
    ("to_replicate method", lambda: strat().to_replicate("bogus"), DesignError, "jk1, jkn, brr"),
    ("to_replicate option", lambda: strat().to_replicate("jkn", foo=1), DesignError, "unknown option"),
    ("association measure", lambda: sh.models.association(simple(), "x", "b", measure="bogus"),
     ModelError, "or, pr, rd"),
    ("association family", lambda: sh.models.association(simple(), "x", "b", family="bogus"),
     ModelError, "'gaussian'"),
    ("describe statistic", lambda: sh.tables.describe(simple(), by="g", variables=["y"], statistic="x"),
     DesignError, "'ci'"),
    ("describe digits negative", lambda: sh.tables.describe(simple(), by="g", variables=["y"], digits=-1),
     DesignError, "digits"),
    ("rake max_iter text", lambda: simple().rake([("g", {"p": 10, "q": 10, "r": 20})],
                                                 max_iter="x"), DesignError, "max_iter"),
    ("post_stratify count text", lambda: simple().post_stratify("g", {"p": "x", "q": 30, "r": 40}),
     DesignError, "numbers"),
    ("post_stratify count zero", lambda: simple().post_stratify("g", {"p": 0, "q": 30, "r": 40}),
     DesignError, "positive"),
    ("post_stratify level missing", lambda: simple().post_stratify("g", {"p": 30, "q": 30}),
     DesignError, "'r'"),
    # formulas. R: svyglm(~x, des) errors ("NAs in V(mu)"); a syntax error is an error
    ("formula one-sided", lambda: simple().glm("~ x"), FormulaError, "no response"),
    ("formula tilde only", lambda: simple().glm("~"), FormulaError, "right of '~'"),
    ("formula empty right side", lambda: simple().glm("y ~"), FormulaError, "right of '~'"),
    ("formula empty", lambda: simple().glm(""), FormulaError, "no '~'"),
    ("formula dangling +", lambda: simple().glm("y ~ x +"), FormulaError, "cannot parse"),
    ("formula unbalanced (", lambda: simple().glm("y ~ (x"), FormulaError, "cannot parse"),
    ("formula two tildes", lambda: simple().glm("y ~ x ~ b"), FormulaError, "cannot parse"),
    ("formula unknown function", lambda: simple().glm("y ~ foo(x)"), FormulaError, "'foo'"),
    ("formula not a string", lambda: simple().glm(42), FormulaError, "string"),
    ("ttest formula without group", lambda: simple().ttest("y ~ "), FormulaError, "outcome ~ group"),
    ("calibration formula dangling +", lambda: simple().calibrate("~ x +", {"(Intercept)": 40, "x": 0}),
     FormulaError, "no term after it"),
    # more of our own list
    ("deff unknown", lambda: simple().mean("y", deff="bogus"), EstimationError, "'replace'"),
    ("assign of wrong length", lambda: simple().assign(z=[1, 2, 3]), DesignError, "one value per row"),
    ("ttest mu text", lambda: simple().ttest("y", mu="a"), EstimationError, "finite number"),
    # R: svyttest(I(y - NA) ~ 0) gives an NA estimate silently
    ("ttest mu NaN", lambda: simple().ttest("y", mu=np.nan), EstimationError, "finite number"),
    ("subset query with an unknown column", lambda: simple().subset("yy > 0"), DesignError,
     "Did you mean 'y'"),
    ("subset by a DataFrame", lambda: simple().subset(frame()[["b"]] == 1), DesignError, "one boolean column"),
    ("calibrate bounds text", lambda: simple().calibrate("~x", {"(Intercept)": 100, "x": 0}, bounds="x"),
     DesignError, "two numbers"),
    ("post_stratify partial text", lambda: simple().post_stratify("g", {"p": 30, "q": 30, "r": 40},
                                                                  partial="yes"), DesignError, "True or False"),
    # R: "length of 'start' should equal 2 and correspond to initial coefs"
    ("glm start of wrong length", lambda: simple().glm("y ~ x", start=[1, 2, 3]), ModelError, "2 values"),
    # measures
    ("score: duplicated item column", lambda: sh.measures.score(
        "ucla3", pd.concat([_ucla(), _ucla()[["isolated"]]], axis=1), coding="1-3"),
     ItemCountError, "more than one column named 'isolated'"),
    ("score: text codes", lambda: sh.measures.score("ucla3", _ucla().assign(isolated="often"), coding="1-3"),
     ItemCodeError, "'often'"),
    ("score: inf codes", lambda: sh.measures.score("ucla3", _ucla().assign(isolated=np.inf), coding="1-3"),
     ItemCodeError, "inf"),
    ("score: unknown instrument", lambda: sh.measures.score("ucla", _ucla(), coding="1-3"), MeasureError,
     "Did you mean 'ucla3'"),
    ("score: unknown coding", lambda: sh.measures.score("ucla3", _ucla(), coding="1-9"), MeasureError, "1-3"),
    ("score: item column absent", lambda: sh.measures.score("ucla3", _ucla().drop(columns="isolated"),
                                                            coding="1-3"), MissingColumnError, "'isolated'"),
]


def _ucla() -> pd.DataFrame:
    return pd.DataFrame({k: 1 + (I[:20] * (j + 1)) % 3 for j, k in
                         enumerate(["companionship", "left_out", "isolated"])})


@pytest.mark.parametrize("call, exc, pattern", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_hostile_input_raises_a_clear_socialhealth_error(call, exc, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        with pytest.raises(exc, match=pattern) as info:
            call()
    assert isinstance(info.value, SocialHealthError)
    assert len(str(info.value)) > 20


# ----------------------------------------------------------------------------- levels
LEVELS = [0, 1, 1.5, "95%", 95, -0.5, np.nan, None, True]
# R: confint(svymean(~y, des), level = 1.5) gives NaN with a warning, level = 1 gives -Inf/Inf,
# level = 0 a zero-width interval, level = "95%" an error ("non-numeric argument to binary
# operator"). socialhealth refuses every level outside (0, 1), everywhere.
LEVEL_CALLS = {
    "Estimate.confint": lambda lv: simple().mean("y").confint(level=lv),
    "Estimate.to_frame": lambda lv: simple().mean("y").to_frame(level=lv),
    "proportion": lambda lv: simple().proportion("b", level=lv),
    "quantile": lambda lv: simple().quantile("y", level=lv),
    "ttest": lambda lv: simple().ttest("y", level=lv),
    "glm.to_frame": lambda lv: simple().glm("y ~ x").to_frame(level=lv),
    "association": lambda lv: sh.models.association(simple(), "x", "b", level=lv),
    "describe": lambda lv: sh.tables.describe(simple(), by="g", variables=["y"], level=lv),
}


@pytest.mark.parametrize("level", LEVELS, ids=repr)
@pytest.mark.parametrize("where", list(LEVEL_CALLS))
def test_level_outside_zero_one_raises(where, level):
    with pytest.raises(SocialHealthError, match="level must be"):
        LEVEL_CALLS[where](level)


def test_level_percent_hint():
    with pytest.raises(EstimationError, match=r"for 95% pass level=0.95"):
        simple().mean("y").confint(level=95)


def test_glm_conf_int_alpha_checked():
    with pytest.raises(EstimationError, match="alpha"):
        simple().glm("y ~ x").conf_int(alpha=1.5)


# ----------------------------------------------------------------------------- R numbers
# R: dl <- df; dl$psu[dl$st == "a"] <- 1; options(survey.lonely.psu = o)
#    des <- svydesign(ids = ~psu, strata = ~st, nest = TRUE, weights = ~w, data = dl)
#    c(coef(svymean(~y, des)), SE(svymean(~y, des)), SE(svytotal(~y, des)), degf(des))
LONELY_R = {
    "adjust": (0.048034190378, 0.0618982426925, 5.52691002552, 3),
    "average": (0.048034190378, 0.0614616125847, 4.95023247529, 3),
    "remove": (0.048034190378, 0.0532273178559, 4.28702707824, 3),
    "certainty": (0.048034190378, 0.0532273178559, 4.28702707824, 3),
}


@pytest.mark.parametrize("option", list(LONELY_R))
def test_lonely_psu_options_match_r(option):
    dl = changed(psu=lambda d: np.where(d.st == "a", 1, d.psu))
    d = strat(dl, lonely_psu=option)
    est, se_mean, se_total, degf = LONELY_R[option]
    m, t = d.mean("y").to_frame(), d.total("y").to_frame()
    assert m["estimate"][0] == pytest.approx(est, rel=1e-10)
    assert m["se"][0] == pytest.approx(se_mean, rel=1e-9)
    assert t["se"][0] == pytest.approx(se_total, rel=1e-9)
    assert d.degf() == degf


def test_replicate_column_of_zeros_is_discarded_with_a_warning_as_r():
    # R: rw[, 2] <- 0; svymean(~y, svrepdesign(data = df, repweights = rw, weights = ~w,
    #    type = "bootstrap", combined.weights = TRUE))
    # Warning "1 replicates gave NA results and were discarded."; mean 0.048034190378,
    # SE 0.00948226870893
    d = rep(with_reps().assign(rw2=0.0))
    with pytest.warns(SocialHealthWarning, match="1 replicates gave NA results and were discarded"):
        m = d.mean("y").to_frame()
    assert m["estimate"][0] == pytest.approx(0.048034190378, rel=1e-10)
    assert m["se"][0] == pytest.approx(0.00948226870893, rel=1e-9)


def test_negative_replicate_weight_is_used_as_r():
    """R svrepdesign accepts negative replicate weights (ACS PUMS: -9999..09999) and svymean
    uses them as given: the replicate means by hand, bootstrap scale 1 / (R - 1)."""
    df = with_reps().assign(rw2=lambda d: d.rw2.where(I != 1, -1.0))
    est = rep(df).mean("y").to_frame()
    W = df[[f"rw{k}" for k in range(1, 5)]].to_numpy()
    y = df["y"].to_numpy()
    reps = (W * y[:, None]).sum(axis=0) / W.sum(axis=0)
    se = np.sqrt(((reps - reps.mean()) ** 2).sum() / 3)
    assert est.se[0] == pytest.approx(se, rel=1e-12)
    assert est.estimate[0] == pytest.approx((df.w * y).sum() / df.w.sum(), rel=1e-12)


def test_replicate_mse_centres_at_the_full_sample_estimate():
    # hand computation of V = scale * sum_r (theta_r - theta)^2, bootstrap scale 1 / (R - 1)
    df = with_reps()
    W = df[[f"rw{k}" for k in range(1, 5)]].to_numpy()
    theta = wmean(df.y, df.w)
    reps = (W * df.y.to_numpy()[:, None]).sum(0) / W.sum(0)
    se_mse = np.sqrt(((reps - theta) ** 2).sum() / 3)
    se_plain = np.sqrt(((reps - reps.mean()) ** 2).sum() / 3)
    assert rep(df, mse=True).mean("y").to_frame()["se"][0] == pytest.approx(se_mse, rel=1e-12)
    assert rep(df, mse=False).mean("y").to_frame()["se"][0] == pytest.approx(se_plain, rel=1e-12)


def test_by_group_with_one_row_matches_r():
    # R: svyby(~y, ~h, des2, svymean), h = "solo" for row 1, "k" otherwise, stratified design
    #    k 0.0276896571874 se 0.0828258436618; solo 0.8414709848079 se 0
    d = strat(changed(h=np.where(I == 1, "solo", "k")))
    f = d.mean("y", by="h").to_frame().set_index("h")
    assert f.loc["k", "estimate"] == pytest.approx(0.0276896571874, rel=1e-10)
    assert f.loc["k", "se"] == pytest.approx(0.0828258436618, rel=1e-9)
    assert f.loc["solo", "estimate"] == pytest.approx(np.sin(1), rel=1e-12)
    assert f.loc["solo", "se"] == pytest.approx(0.0, abs=1e-12)


def test_glm_drops_unused_factor_levels_as_r():
    # R: g <- factor(..., levels = c("p", "q", "r", "zz")); svyglm(y ~ g, des) -- glm's model
    # frame drops unused levels: (Intercept) 0.0143530563406, gq 0.107783059429,
    # gr -2.68008528803e-06; SEs 0.254400119446 0.326678079748 0.326777784369
    df = frame()
    df["g"] = pd.Categorical(df["g"], categories=["p", "q", "r", "zz"])
    f = simple(df).glm("y ~ g")
    assert list(f.coef().index) == ["Intercept", "g[T.q]", "g[T.r]"]
    np.testing.assert_allclose(f.coef().to_numpy(), [0.0143530563406, 0.107783059429, -2.68008528803e-06],
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(f.bse.to_numpy(), [0.254400119446, 0.326678079748, 0.326777784369], rtol=1e-8)
    # svymean(~g) keeps the empty level with 0 and SE 0, as R
    m = simple(df).mean("g").to_frame().set_index("level")
    assert m.loc["zz", "estimate"] == 0 and m.loc["zz", "se"] == 0


def test_glm_r_style_dotted_name_matches_r():
    # R: df$sch.wide <- df$x; svyglm(y ~ sch.wide, svydesign(ids = ~1, weights = ~w, data = df))
    #    coef 0.0475335940076 0.144462985338; SE 0.124766432626 0.123595457838
    df = frame().rename(columns={"x": "sch.wide"})
    f = simple(df).glm("y ~ sch.wide")
    np.testing.assert_allclose(f.coef().to_numpy(), [0.0475335940076, 0.144462985338], rtol=1e-9)
    np.testing.assert_allclose(f.bse.to_numpy(), [0.124766432626, 0.123595457838], rtol=1e-9)
    assert simple(df).glm("y ~ `sch.wide`").coef().to_numpy() == pytest.approx(f.coef().to_numpy())


def test_glm_transform_producing_nan_warns_and_drops_rows_as_r():
    # R: svyglm(y ~ log(x), des): warning "NaNs produced"; coef 0.265695594412 0.182343393966,
    #    SE 0.15851293165 0.0735503928971 (rows with x < 0 dropped)
    n_negative = int((np.cos(I) < 0).sum())
    with pytest.warns(RowsDroppedWarning, match=f"NaN for {n_negative} row"):
        f = simple().glm("y ~ log(x)")
    np.testing.assert_allclose(f.coef().to_numpy(), [0.265695594412, 0.182343393966], rtol=1e-9)
    np.testing.assert_allclose(f.bse.to_numpy(), [0.15851293165, 0.0735503928971], rtol=1e-9)


def test_proportion_of_one_logit_interval_is_degenerate_as_r():
    # R: svyciprop(~one, des, method = "logit") -> 1, SE 0, CI (1, 1); in a domain too:
    #    svyby(~y, ~g, des, svyciprop, method = "logit", vartype = "ci") -> b: 1 (1, 1),
    #    a: 0.5121951 (0.2750393, 0.7439848)
    df = pd.DataFrame({"w": 1.0 + I % 3, "g": np.repeat(["a", "b"], 20)})
    df["y"] = np.where(df.g == "b", 1.0, (I % 2 == 0) * 1.0)
    f = sh.SurveyDesign(df, weights="w").proportion("y", by="g").to_frame().set_index("g")
    assert (f.loc["b", "ci_low"], f.loc["b", "ci_high"]) == (1.0, 1.0)
    np.testing.assert_allclose(f.loc["a", ["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float),
                               [0.5121951, 0.2750393, 0.7439848], atol=5e-8)


@pytest.mark.parametrize("method", ["asin", "beta", "xlogit"])
def test_proportion_of_one_other_methods_nan_with_warning_as_r(method):
    # R: svyciprop(~one, des, method = m) gives CI (NaN, NaN) for asin, beta and xlogit
    df = pd.DataFrame({"w": 1.0 + I % 3, "one": 1})
    with pytest.warns(SocialHealthWarning, match="exactly 0 or 1"):
        f = sh.SurveyDesign(df, weights="w").proportion("one", method=method).to_frame()
    assert f["estimate"][0] == 1 and np.isnan(f["ci_low"][0]) and np.isnan(f["ci_high"][0])


def test_ttest_constant_outcome_is_nan_not_significant():
    # R: svyttest(I(y - 5) ~ 0, des) with y == 5: t = NaN, p-value = NA, CI (0, 0);
    #    svyttest(y ~ b, des) with y constant: a difference of -2e-16 (rounding) and t = -0.76.
    # socialhealth: the exact 0 difference, se 0, t and p NaN, with a warning.
    d = strat(changed(y=5.0))
    with pytest.warns(SocialHealthWarning, match="constant"):
        one = d.ttest("y", mu=5).to_frame()
    assert one["estimate"][0] == 5 and one["se"][0] == 0
    assert np.isnan(one["statistic"][0]) and np.isnan(one["p"][0])
    with pytest.warns(SocialHealthWarning, match="constant"):
        two = d.ttest("y", by="b").to_frame()
    assert two["estimate"][0] == 0 and two["se"][0] == 0
    assert np.isnan(two["statistic"][0]) and np.isnan(two["p"][0])
    # R: svyttest(I(y - 6) ~ 0) with y == 5: t = -Inf, p = 0
    with pytest.warns(SocialHealthWarning):
        off = d.ttest("y", mu=6).to_frame()
    assert off["statistic"][0] == -np.inf and off["p"][0] == 0


def test_constant_outcome_mean_has_se_zero_as_r():
    # R: svymean(~y, des) with y == 5 -> 5, SE 0
    f = strat(changed(y=5.0)).mean("y").to_frame()
    assert f["estimate"][0] == 5 and f["se"][0] == pytest.approx(0, abs=1e-12)


def test_fpc_equal_to_sample_size_gives_se_zero_as_r():
    # R: svydesign(ids = ~1, strata = ~st, fpc = ~N, ...) with N = 10 = n_h: SE 0 (a census)
    f = simple(changed(N=10.0), strata="st", fpc="N").mean("y").to_frame()
    assert f["se"][0] == pytest.approx(0, abs=1e-12)


def test_fpc_of_one_with_other_fractions_is_a_certainty_stratum():
    # R: fpc = 1 in stratum a and 0.1 elsewhere are fractions; stratum a (fraction 1)
    # contributes no variance; the others as with fraction 0.1
    mixed = simple(changed(N=np.where(I <= 10, 1.0, 0.1)), strata="st", fpc="N").mean("y").to_frame()
    df = frame()
    ybar = wmean(df.y, df.w)
    z = df.w * (df.y - ybar) / df.w.sum()
    v = sum(0.9 * 10 / 9 * ((zs - zs.mean()) ** 2).sum() for h, zs in z.groupby(df.st) if h != "a")
    assert mixed["se"][0] == pytest.approx(np.sqrt(v), rel=1e-12)


def test_fpc_fraction_and_population_size_agree():
    # R treats fpc <= 1 as sampling fractions and fpc > 1 as population sizes: 10 of 100 in each
    # stratum is the fraction 0.1 (R gives the same SE for N = 100 and N = 0.1)
    a = simple(changed(N=100.0), strata="st", fpc="N").mean("y").to_frame()
    b = simple(changed(N=0.1), strata="st", fpc="N").mean("y").to_frame()
    assert a["se"][0] == pytest.approx(b["se"][0], rel=1e-12)
    # hand: stratified SRSWOR with f = 0.1, weights w; z_i = w_i (y_i - ybar) / sum w
    df = frame()
    ybar = wmean(df.y, df.w)
    z = df.w * (df.y - ybar) / df.w.sum()
    v = sum(0.9 * 10 / 9 * ((zs - zs.mean()) ** 2).sum() for _, zs in z.groupby(df.st))
    assert a["se"][0] == pytest.approx(np.sqrt(v), rel=1e-12)


# ----------------------------------------------------------------------------- numbers by hand
def test_weights_given_as_numeric_strings_are_converted_exactly():
    # R: svydesign(weights = ~w) with character w -> "non-numeric argument to binary operator";
    # socialhealth converts text that parses as numbers (a CSV read as object) exactly
    df = frame()
    as_text = simple(df.assign(w=df.w.map(repr).astype(object))).mean("y").to_frame()
    assert as_text["estimate"][0] == pytest.approx(wmean(df.y, df.w), rel=1e-14)


def test_weight_column_as_outcome():
    # R: svymean(~w, svydesign(ids = ~1, weights = ~w)) = sum(w^2) / sum(w)
    df = frame()
    f = simple(df).mean("w").to_frame()
    assert f["estimate"][0] == pytest.approx((df.w ** 2).sum() / df.w.sum(), rel=1e-14)


def test_nullable_dtypes_are_numbers_with_missing_values_left_out():
    df = frame()
    y = pd.array([pd.NA] + list(range(39)), dtype="Int64")
    f = simple(df.assign(y=y)).mean("y").to_frame()
    assert f["estimate"][0] == pytest.approx(wmean(np.r_[np.nan, np.arange(39)], df.w), rel=1e-14)
    yb = pd.array([pd.NA] + [bool(v) for v in I[1:] % 2], dtype="boolean")
    f = simple(df.assign(y=yb)).mean("y").to_frame()
    assert f["estimate"][0] == pytest.approx(wmean(np.r_[np.nan, I[1:] % 2], df.w), rel=1e-14)
    ys = pd.array([pd.NA] + list(df.g[1:]), dtype="string")
    f = simple(df.assign(y=ys)).mean("y").to_frame().set_index("level")
    for lv in ["p", "q", "r"]:
        expect = wmean(np.r_[np.nan, (df.g[1:] == lv).to_numpy(dtype=float)], df.w)
        assert f.loc[lv, "estimate"] == pytest.approx(expect, rel=1e-14)


@pytest.mark.parametrize("index", ["duplicated", "strings", "shuffled"])
def test_subset_by_a_mask_series_whatever_the_index(index):
    df = frame()
    if index == "duplicated":
        df.index = [0] * len(df)
    elif index == "strings":
        df.index = [f"r{k}" for k in range(len(df))]
    mask = df["b"] == 1
    if index == "shuffled":
        mask = mask.sample(frac=1, random_state=1)
    f = strat(df).subset(mask if index != "duplicated" else mask.to_numpy()).mean("y").to_frame()
    keep = (df["b"] == 1).to_numpy()
    assert f["estimate"][0] == pytest.approx(wmean(df.y[keep], df.w[keep]), rel=1e-13)


def test_subset_mask_with_missing_values_counts_them_as_false_as_r():
    # R: subset(des, cond) keeps rows where cond is TRUE (NA counts as FALSE)
    df = frame()
    mask = pd.array([pd.NA] + [True] * 39, dtype="boolean")
    f = strat(df).subset(mask).mean("y").to_frame()
    assert f["estimate"][0] == pytest.approx(wmean(df.y[1:], df.w[1:]), rel=1e-13)


def test_column_names_with_spaces_and_dots_in_verbs():
    df = frame().rename(columns={"y": "my y", "x": "sch.wide"})
    d = simple(df)
    assert d.mean("my y").to_frame()["estimate"][0] == pytest.approx(wmean(frame().y, df.w), rel=1e-14)
    assert d.ratio("my y", "sch.wide").to_frame()["estimate"][0] == pytest.approx(
        (df.w * df["my y"]).sum() / (df.w * df["sch.wide"]).sum(), rel=1e-12)
    assert d.glm("`my y` ~ sch.wide").coef().to_numpy() == pytest.approx(
        simple().glm("y ~ x").coef().to_numpy(), rel=1e-12)


def test_rake_with_inconsistent_margin_totals_warns():
    # R: rake(des, list(~g, ~b), list(pop g summing to 100, pop b summing to 1000)) returns
    # weights summing to 1000 without a warning; socialhealth warns
    with pytest.warns(SocialHealthWarning, match="different population totals"):
        r = simple().rake([("g", {"p": 30, "q": 30, "r": 40}), ("b", {0: 500, 1: 500})])
    assert r.weights.sum() == pytest.approx(1000, rel=1e-6)


def test_no_builtin_exception_escapes_a_replicate_conversion():
    # to_replicate on a design with a lonely stratum under lonely_psu="fail": R's as.svrepdesign
    # stops; here a clear message says what to do (under "adjust" etc. it converts as R does:
    # tests/design/test_replicate_lonely.py)
    dl = changed(psu=lambda d: np.where(d.st == "a", 1, d.psu))
    with pytest.raises(ReplicateWeightsError, match="single PSU"):
        strat(dl, lonely_psu="fail").to_replicate("jkn")
    assert strat(dl, lonely_psu="adjust").to_replicate("jkn").kind == "replicate"
    with pytest.raises(ReplicateWeightsError, match="jkn"):
        strat().to_replicate("jk1")


def test_numbers_in_an_object_column_are_numbers():
    # a column of floats with None has dtype object in pandas; R holds it as numeric with NA.
    # It was treated as categorical (one "proportion" per distinct value, a dummy per value in glm).
    df = frame()
    y_obj = pd.Series(list(df.y[:-1]) + [None], dtype=object)
    f = simple(df.assign(y=y_obj)).mean("y").to_frame()
    assert len(f) == 1
    assert f["estimate"][0] == pytest.approx(wmean(np.r_[df.y[:-1], np.nan], df.w), rel=1e-14)
    x_obj = pd.Series(list(df.x), dtype=object)
    assert simple(df.assign(x=x_obj)).glm("y ~ x").coef().to_numpy() == pytest.approx(
        simple(df).glm("y ~ x").coef().to_numpy(), rel=1e-12)


def test_subset_accepts_a_callable_as_pandas():
    df = frame()
    f = simple(df).subset(lambda d: d.y > 0).mean("y").to_frame()
    keep = (df.y > 0).to_numpy()
    assert f["estimate"][0] == pytest.approx(wmean(df.y[keep], df.w[keep]), rel=1e-13)


def test_by_group_with_no_rows_is_left_out_as_r():
    # R: svyby(~y, ~g, des, svymean) with a factor level nobody has: drop.empty.groups = TRUE
    # leaves it out of the table
    df = frame()
    df["g"] = pd.Categorical(df["g"], categories=["p", "q", "r", "zz"])
    f = simple(df).mean("y", by="g").to_frame()
    assert list(f["g"]) == ["p", "q", "r"]
    for lv in ["p", "q", "r"]:
        keep = (df.g == lv).to_numpy()
        assert f.set_index("g").loc[lv, "estimate"] == pytest.approx(wmean(df.y[keep], df.w[keep]), rel=1e-13)


def test_column_added_to_the_frame_after_the_design_names_design_assign():
    # a design keeps its own frame (a shallow copy, with or without pandas copy-on-write): a
    # column added to the user's frame afterwards is not in the design, and the message must
    # not tell the user to do what they just did ("add the column to the data frame")
    df = frame()
    d = strat(df)
    df["y2"] = df["y"] * 2
    for call in (lambda: d.mean("y2"), lambda: d.mean("y", by="y2"), lambda: d.table("y2"),
                 lambda: d.quantile("y2", 0.5), lambda: d.to_replicate("jkn").total("y2")):
        with pytest.raises(MissingColumnError) as info:
            call()
        assert "design.assign" in str(info.value)
        assert "add the column to the data frame" not in str(info.value)
    assert d.assign(y2=df["y2"]).mean("y2").to_frame()["estimate"].iloc[0] == pytest.approx(
        2 * wmean(df["y"], df["w"]), rel=1e-12)
