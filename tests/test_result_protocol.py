"""One protocol for every public result type (socialhealth.design.result_protocol).

Each case builds a result from a real small computation (example data shipped with the package,
the synthetic demo survey, or small seeded panels as in the models tests) and checks every
protocol member: ``to_frame``, ``coef``, ``se``, ``confint(level=)``, ``vcov``, ``summary``,
``_repr_html_``, ``float``, ``r_call`` and, for fitted models, statsmodels' aliases. The 90%
intervals are recomputed here from the estimates and standard errors with scipy quantiles (or
the method's own published formula), not by the code under test; the 95% intervals must equal
the interval columns the result's table already had.

A last test walks the package: every public class with a ``to_frame()`` must derive from
``Result`` (or be listed, with the reason, in ``NOT_RESULTS``) and must be one of the cases.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from message_watch import NUMPY_REPR
from scipy import stats

import socialhealth as sh
from socialhealth import measures, models
from socialhealth.datasets import PanelData
from socialhealth.design.result_protocol import Result, ResultProtocol, Summary
from socialhealth.errors import EstimationError, NotApplicableError, SocialHealthError

RTOL = 1e-10
NA_ALL = ("coef", "se", "confint", "vcov", "float")
TESTS = NA_ALL


# ----------------------------------------------------------------------------- data
def _apistrat():
    a = sh.datasets.load_example("apistrat")
    return sh.SurveyDesign(a, weights="pw", strata="stype", fpc="fpc")


_DEMO = {}


def _demo():
    if not _DEMO:
        _DEMO["sd"] = sh.datasets.load("demo")
    return _DEMO["sd"]


def _panel(n=240, seed=3):
    rng = np.random.default_rng(seed)
    iso = rng.random(n) < 0.35
    ph06 = rng.random(n) < 0.25
    ph10 = rng.random(n) < 0.15 + 0.2 * iso + 0.4 * ph06
    status = np.where(rng.random(n) < 0.75 - 0.2 * iso, "linked", "attrited")
    lv = ["good", "fair", "poor"]
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2, n),
        "strata": np.repeat(["a", "b", "c"], n // 3), "psu": np.tile(["1", "2", "3", "4"], n // 4),
        "followed": status == "linked", "followup_status": status,
        "isolated@2006": iso, "poor_health@2006": ph06,
        "poor_health@2010": pd.array(ph10, dtype="boolean"),
        "score@2006": rng.normal(size=n), "score@2010": rng.normal(size=n),
        "srh@2006": pd.Categorical(rng.choice(lv, n), categories=lv, ordered=True),
        "srh@2010": pd.Categorical(rng.choice(lv, n), categories=lv, ordered=True),
        "sex@2006": np.where(rng.random(n) < 0.5, "female", "male")})
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    return PanelData("gen", data, pd.DataFrame(), {"panel": {"weight_variable": "w"}}, spec,
                     waves=[2006, 2010])


def _q(level, df):
    """Two-sided quantile: t with df, the normal for inf (scipy, not the package)."""
    p = 0.5 + level / 2
    return float(stats.norm.ppf(p)) if not np.isfinite(df) else float(stats.t.ppf(p, df))


def _wald(est, se, df, level):
    df = np.broadcast_to(np.asarray(df, dtype=float), np.shape(est))
    q = np.array([_q(level, d) for d in df])
    return np.column_stack([est - q * se, est + q * se])


# ----------------------------------------------------------------------------- cases
# Each builder returns (result, spec). spec keys:
#   na       members that must raise NotApplicableError
#   ci95     f(result) -> (k x 2) the 95% interval from the result's existing table columns
#   ci90     f(result) -> (k x 2) the 90% interval computed here by hand
#   model    True for fitted models (statsmodels aliases)
#   vcov_rows  how many leading rows of coef() vcov covers (default all)
def case_estimate():
    r = _apistrat().mean("api00", by="stype")
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_estimate_single():
    r = _apistrat().total("enroll")
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_interval_estimate():
    # logit interval (R svyciprop method = "logit"): expit(logit(p) +- t se / (p (1 - p)))
    d = _apistrat()
    r = d.proportion("sch.wide", method="logit")
    f = r.to_frame()

    def ci90(r):
        p, se = f["estimate"].to_numpy(), f["se"].to_numpy()
        eta, s = np.log(p / (1 - p)), se / (p * (1 - p))
        q = _q(0.90, float(d.degf()))
        return np.column_stack([1 / (1 + np.exp(-(eta - q * s))),
                                1 / (1 + np.exp(-(eta + q * s)))])

    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(), ci90=ci90)


def case_contrast_estimate():
    d = _apistrat()
    r = sh.design.contrast(d.mean(["api00", "api99"]), "api00 - api99")
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_glm():
    r = _demo().design.glm("poor_health ~ C(lonely) + age", family="binomial")
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], r.df_resid, 0.90))


def case_wald_test():
    m = _demo().design.glm("poor_health ~ C(lonely) + age", family="binomial")
    return m.wald_test("age"), dict(na=TESTS)


def case_lrt():
    m = _demo().design.glm("poor_health ~ C(lonely) + age", family="binomial")
    return m.lrt("age"), dict(na=TESTS)


def case_test_result():
    a = sh.datasets.load_example("apiclus1")
    d = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    return d.chisq("sch.wide", "stype"), dict(na=TESTS)


def case_loglin():
    m = _apistrat().loglin("~stype + sch.wide + awards")
    f = m.to_frame()
    return m, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90))


def case_loglin_anova():
    d = _apistrat()
    return d.loglin("~stype + sch.wide").anova(d.loglin("~stype * sch.wide")), dict(na=TESTS)


def case_cox():
    sd = _demo()
    r = models.coxph(sd.design, "followup_years", "died", ["lonely", "age"])
    f = r.to_frame(exponentiate=False)
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90))


def case_survreg():
    sd = _demo()
    r = models.survreg(sd.design, "followup_years", "died", ["lonely", "age"])
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90))


def case_ordinal():
    a = sh.datasets.load_example("apiclus1")
    a = a.assign(band=pd.cut(a["api00"], [0, 600, 700, 1000], labels=["low", "mid", "high"]))
    d = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    r = models.ordinal(d, "band ~ ell + meals")
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90))


def case_multinomial():
    a = sh.datasets.load_example("apiclus1")
    a = a.assign(band=pd.cut(a["api00"], [0, 600, 700, 1000], labels=["low", "mid", "high"]))
    d = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    r = models.multinomial(d, "band ~ ell + meals")
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], r.df_resid, 0.90))


def case_cox_curve():
    # predicted Cox curves are KaplanMeierResult objects (estimator "cox")
    sd = _demo()
    m = models.coxph(sd.design, "followup_years", "died", ["lonely", "age"])
    r = m.predict_curve(pd.DataFrame({"lonely": [0, 1], "age": [70, 70]}), se=True)
    f = r.to_frame()

    def ci90(r):   # log-scale interval (R confint.svykm): exp(log S +- z se_log), capped at 1
        z = _q(0.90, np.inf)
        lo = np.exp(np.log(f["surv"]) - z * f["se_log"])
        hi = np.minimum(1.0, np.exp(np.log(f["surv"]) + z * f["se_log"]))
        return np.column_stack([lo, hi])

    return r, dict(na=("vcov",), ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(), ci90=ci90)


def case_ivreg():
    a = sh.datasets.load_example("apiclus1")
    d = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    r = models.ivreg(d, "api00 ~ ell + meals | mobility + meals + api99")
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], r.df_resid, 0.90))


def case_kaplan_meier():
    r = models.kaplan_meier(_demo().design, "followup_years", "died", by="lonely", se=True)
    f = r.to_frame()

    def ci90(r):   # log-scale interval (R confint.svykm): exp(log S +- z se_log), capped at 1
        z = _q(0.90, np.inf)
        lo = np.exp(np.log(f["surv"]) - z * f["se_log"])
        hi = np.minimum(1.0, np.exp(np.log(f["surv"]) + z * f["se_log"]))
        return np.column_stack([lo, hi])

    return r, dict(na=("vcov",), ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(), ci90=ci90)


def case_logrank():
    r = models.logrank(_demo().design, "followup_years", "died", "lonely")
    return r, dict(na=TESTS)


def case_goodness_of_fit():
    m = _demo().design.glm("poor_health ~ C(lonely) + age", family="binomial")
    return models.goodness_of_fit(m), dict(na=TESTS)


def case_margins():
    m = _demo().design.glm("poor_health ~ C(lonely) + age", family="binomial")
    r = models.margins(m, "lonely")
    f = r.to_frame()
    ratio = (f["kind"] == "ratio").to_numpy()

    def link(x):
        return np.where(ratio[:, None], np.log(x), x)

    def ci90(r):
        est = np.where(ratio, np.log(f["estimate"]), f["estimate"])
        return _wald(est, f["se"], f["df"], 0.90)

    return r, dict(ci95=lambda r: link(f[["ci_low", "ci_high"]].to_numpy()), ci90=ci90,
                   vcov_rows=len(r.levels))


def case_meta():
    r = models.meta([0.27, 0.06, 0.44, 0.00, 0.40], [0.36, 0.15, 0.09, 0.18, 0.16],
                    method="reml")
    st = r.studies

    def ci95(r):
        return np.vstack([st[["ci_low", "ci_high"]].to_numpy(), [r.ci_low, r.ci_high]])

    def ci90(r):
        est = np.append(st["yi"], r.estimate)
        return _wald(est, np.append(st["se"], float(r.se)), np.inf, 0.90)

    return r, dict(na=("vcov",), ci95=ci95, ci90=ci90, float_value=lambda r: r.estimate)


def case_meta_hksj():
    r = models.meta([0.27, 0.06, 0.44, 0.00, 0.40], [0.36, 0.15, 0.09, 0.18, 0.16],
                    method="reml", hksj=True)
    st = r.studies

    def ci90(r):
        est = np.append(st["yi"], r.estimate)
        df = np.append(np.full(len(st), np.inf), r.k - 1)
        return _wald(est, np.append(st["se"], float(r.se)), df, 0.90)

    return r, dict(na=("vcov",), ci90=ci90, float_value=lambda r: r.estimate,
                   ci95=lambda r: np.vstack([st[["ci_low", "ci_high"]].to_numpy(),
                                             [r.ci_low, r.ci_high]]))


def case_mi():
    a = sh.datasets.load_example("apiclus2")
    missing = a["enroll"].isna()
    observed = a.loc[~missing, "enroll"].to_numpy()
    rng = np.random.default_rng(1)
    fits = []
    for _ in range(3):
        imp = a.copy()
        imp.loc[missing, "enroll"] = rng.choice(observed, int(missing.sum()))
        d = sh.SurveyDesign(imp, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
        fits.append(d.glm("api00 ~ enroll"))
    r = models.mi_combine(fits)
    f = r.to_frame()
    return r, dict(model=True, ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_interaction():
    r = models.interaction(_demo().design, exposure="lonely", outcome="poor_health", by="sex",
                           adjust=["age"])
    f = r.to_frame()       # odds ratios; se of the log odds ratio
    return r, dict(na=("vcov",), ci95=lambda r: np.log(f[["ci_low", "ci_high"]].to_numpy()),
                   ci90=lambda r: _wald(np.log(f["estimate"]), f["se"], f["df"], 0.90))


def case_association():
    r = models.association(_demo().design, "lonely", "poor_health", adjust=["age"])
    f = r.to_frame()
    return r, dict(na=("vcov",), ci95=lambda r: np.log(f[["ci_low", "ci_high"]].to_numpy()),
                   ci90=lambda r: _wald(np.log(f["estimate"]), f["se"], f["df"], 0.90),
                   float_value=None)


def case_prospective():
    r = models.prospective(_panel(), exposure="isolated", exposure_wave=2006,
                           outcome="poor_health", outcome_wave=2010, adjust=["sex"])
    f = r.to_frame()
    return r, dict(na=("vcov",), ci95=lambda r: np.log(f[["ci_low", "ci_high"]].to_numpy()),
                   ci90=lambda r: _wald(np.log(f["estimate"]), f["se"], f["df"], 0.90))


def case_change():
    r = models.change(_panel(), "score", "score", waves=(2006, 2010))
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_attrition():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = models.attrition(_panel(), baseline=["isolated", "sex"])
    return r, dict(na=NA_ALL)


def case_transitions():
    return models.transitions(_panel(), "srh", 2006, 2010), dict(na=NA_ALL)


def case_risk_factors():
    sd = _demo()
    r = models.compare_risk_factors(sd.design, exposures=["lonely"], comparators=["smoker"],
                                    outcome="died", adjust=["age"])
    return r, dict(na=NA_ALL)


def case_reliability():
    df = _demo().data
    r = measures.reliability(df[["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]])
    f = r.to_frame()

    def ci90(r):   # Feldt (1965): 1 - (1 - alpha) F_{1 -+ g}(n - 1, (n - 1)(k - 1))
        d1, d2 = r.n - 1, (r.n - 1) * (r.k - 1)
        lo = 1 - (1 - r.alpha) * stats.f.ppf(0.95, d1, d2)
        hi = 1 - (1 - r.alpha) * stats.f.ppf(0.05, d1, d2)
        return np.array([[lo, hi], [np.nan, np.nan], [np.nan, np.nan]])

    assert r.ci_method == "feldt"
    return r, dict(na=("vcov",), ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(), ci90=ci90)


def case_survey_alpha():
    r = measures.survey_alpha(_apistrat(), ["ell", "mobility", "avg.ed", "meals"])
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_survey_kappa():
    d = _apistrat()
    r = measures.survey_kappa(d, "sch.wide", "comp.imp")
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], f["df"], 0.90))


def case_survey_factanal():
    r = measures.survey_factanal(_apistrat(), ["api00", "api99", "meals", "ell", "mobility"],
                                 factors=1, n="effective")
    return r, dict(na=NA_ALL)


def case_survey_prcomp():
    r = measures.survey_prcomp(_apistrat(), ["api00", "meals", "ell"], scale=True)
    return r, dict(na=NA_ALL)


def case_score():
    df = _demo().data
    r = measures.score("ucla3", df, coding="1-3")
    return r, dict(na=NA_ALL)


def case_marginpred():
    m = _demo().design.glm("poor_health ~ C(lonely)", family="binomial")
    r = models.marginpred(m, ["age", "sex"], pd.DataFrame({"lonely": [False, True]}),
                          type="response")
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90))


def case_mle():
    # a normal model with a log(sd) parameter: sh.design.mle (R svymle)
    def loglik(y, mean, log_sd):
        return stats.norm.logpdf(y, mean, np.exp(log_sd))

    r = sh.design.mle(_apistrat(), loglik, {"mean": "api00 ~ ell", "log_sd": "~ 1"},
                      start={"mean": [600, 0], "log_sd": 4})
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], np.inf, 0.90), model=True)


def case_nls():
    # a nonlinear mean function by weighted least squares: sh.design.nls (R svynls)
    r = sh.design.nls(_apistrat(), "api00", lambda d, a, b: a + b * np.log(d["api99"]),
                      start={"a": 0, "b": 100})
    f = r.to_frame()
    return r, dict(ci95=lambda r: f[["ci_low", "ci_high"]].to_numpy(),
                   ci90=lambda r: _wald(f["estimate"], f["se"], r.df_resid, 0.90), model=True)


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.fixture(scope="module")
def built():
    return {}


def _build(built, name):
    if name not in built:
        built[name] = CASES[name]()
    return built[name]


# ----------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize("name", sorted(CASES))
def test_result_protocol(name, built):
    r, spec = _build(built, name)
    na = set(spec.get("na", ()))
    assert isinstance(r, Result) and isinstance(r, ResultProtocol)

    # to_frame, summary, html
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    s = r.summary()
    assert isinstance(s, str) and isinstance(s, Summary) and len(s) > 0
    assert isinstance(s._repr_html_(), str) and s._repr_html_().startswith("<pre>")
    assert r._repr_html_() == s._repr_html_()
    assert str(s) in repr(r) or repr(r) in str(s) or str(s).splitlines()[0] in repr(r)
    call = getattr(r, "r_call", None)
    assert call is None or (isinstance(call, str) and call.strip())
    # what is printed is written for people: no numpy scalar reprs (np.float64(0.5))
    for text in (repr(r), str(s), s._repr_html_(), frame.to_string(), call or ""):
        assert not NUMPY_REPR.search(text), NUMPY_REPR.search(text).group(0)

    # members that do not apply: a socialhealth error saying why, never AttributeError
    for member in na:
        with pytest.raises(NotApplicableError, match="does not apply"):
            if member == "float":
                float(r)
            elif member == "vcov":
                r.vcov  # noqa: B018
            else:
                getattr(r, member)()
    if na >= {"coef", "se", "confint"}:
        return

    coef, se = r.coef(), r.se()
    assert isinstance(coef, pd.Series) and isinstance(se, pd.Series)
    assert list(coef.index) == list(se.index) and len(coef) > 0

    # confint(level=0.95) is the interval the table already had
    ci95 = r.confint(level=0.95)
    assert list(ci95.columns) == ["ci_low", "ci_high"] and list(ci95.index) == list(coef.index)
    np.testing.assert_allclose(ci95.to_numpy(), spec["ci95"](r), rtol=RTOL, equal_nan=True)
    # confint(level=0.90): narrower, and the method's formula computed here
    ci90 = r.confint(level=0.90)
    np.testing.assert_allclose(ci90.to_numpy(), spec["ci90"](r), rtol=1e-9, equal_nan=True)
    w90 = (ci90["ci_high"] - ci90["ci_low"]).to_numpy()
    w95 = (ci95["ci_high"] - ci95["ci_low"]).to_numpy()
    ok = np.isfinite(w90) & np.isfinite(w95) & (w95 > 0)
    assert ok.any() and np.all(w90[ok] < w95[ok])
    with pytest.raises(SocialHealthError, match="level"):
        r.confint(level=95)

    # vcov: square, its diagonal the squared standard errors
    if "vcov" not in na:
        V = np.asarray(r.vcov, dtype=float)
        k = spec.get("vcov_rows", len(coef))
        assert V.shape == (k, k)
        np.testing.assert_allclose(np.sqrt(np.diag(V)), se.to_numpy()[:k], rtol=1e-10)

    # float(): the single estimate, or a clear error naming the estimates
    if "float" not in na:
        want = spec.get("float_value")
        if want is not None:
            assert float(r) == pytest.approx(want(r), rel=1e-14)
        elif len(coef) == 1 and name != "association":
            assert float(r) == pytest.approx(float(coef.iloc[0]), rel=1e-14)
        elif len(frame) > 1:
            with pytest.raises(EstimationError, match="single"):
                float(r)

    # fitted models keep statsmodels' names: the same numbers
    if spec.get("model"):
        pd.testing.assert_series_equal(r.params, coef, check_names=False,
                                       check_series_type=False)
        pd.testing.assert_series_equal(r.bse, se, check_names=False, check_series_type=False)
        np.testing.assert_allclose(r.conf_int(alpha=0.10).to_numpy(), ci90.to_numpy(),
                                   rtol=1e-14)
        np.testing.assert_allclose(np.asarray(r.cov_params()), np.asarray(r.vcov), rtol=0)


def test_single_estimate_float_equals_the_table():
    r = _apistrat().total("enroll")
    assert float(r) == float(r.to_frame()["estimate"].iloc[0])
    m = sh.datasets.load_example("apistrat")
    d = sh.SurveyDesign(m, weights="pw", strata="stype", fpc="fpc")
    fit = d.glm("api00 ~ 1")
    assert float(fit) == pytest.approx(float(fit.params.iloc[0]), rel=1e-15)


def test_mi_conf_int_level_is_deprecated_but_unchanged(built):
    r, _ = _build(built, "mi")
    with pytest.warns(DeprecationWarning, match="confint"):
        old = r.conf_int(0.9)
    np.testing.assert_allclose(old.to_numpy(), r.confint(level=0.9).to_numpy(), rtol=0)


def test_old_accessors_unchanged(built):
    meta, _ = _build(built, "meta")
    assert isinstance(meta.se, float) and meta.se == meta.se().iloc[-1]
    assert isinstance(meta.summary, pd.DataFrame) and len(meta.summary) == 1
    assert isinstance(meta.summary(), Summary)
    km, _ = _build(built, "kaplan_meier")
    assert km.se and bool(km.se) is True
    glm, _ = _build(built, "glm")
    assert isinstance(glm.summary(), str) and repr(glm) == str(glm.summary())


# ----------------------------------------------------------------------------- discovery
NOT_RESULTS = {
    "Table": "a formatted publication table (socialhealth.tables); its numbers are to_frame()",
    "DesignPlot": "a plot; to_frame() is the numbers drawn",
    "ResultSeries": "the labelled Series that coef() / se() return (a pandas Series)",
    "ResultProtocol": "the typing.Protocol of the result protocol itself",
}


#: Result subclasses that are bases of others, not returned by any function
ABSTRACT = {"WaldCoefficients": "the coefficient-table mixin of SurveyGLMResult, CoxResult, "
                                "OrdinalResult, MultinomialResult, MLEResult (each a case)"}


def _public_classes_with_to_frame():
    found = {}
    for info in pkgutil.walk_packages(sh.__path__, "socialhealth."):
        if info.name.split(".")[-1].startswith("__"):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:          # optional plotting / docx backends
            continue
        for cname, cls in inspect.getmembers(mod, inspect.isclass):
            if (cls.__module__ == mod.__name__ and not cname.startswith("_")
                    and callable(getattr(cls, "to_frame", None))):
                found[cname] = cls
    return found


def test_every_public_result_class_follows_the_protocol(built):
    found = _public_classes_with_to_frame()
    assert {"Estimate", "SurveyGLMResult", "KaplanMeierResult", "MetaResult"} <= set(found)
    missing = sorted(n for n, c in found.items()
                     if not issubclass(c, Result) and n not in NOT_RESULTS)
    assert not missing, f"result classes without the protocol (derive from Result): {missing}"
    # every Result subclass is exercised by a case above
    covered = {type(_build(built, n)[0]).__name__ for n in CASES}
    # (classes defined inside docstring examples are in the registry too: keep the module's own)
    public = {c.__name__ for c in Result.registry if not c.__name__.startswith("_")
              and c.__module__.startswith("socialhealth.")
              and getattr(sys.modules[c.__module__], c.__name__, None) is c} - set(ABSTRACT)
    assert public - covered == set(), f"result types without a protocol case: {public - covered}"
