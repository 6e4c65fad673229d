"""Survey GLMs on domains (``design.subset(...)``) of calibrated, PPS and two-phase designs
against R ``survey`` 4.1-1: the outputs that depend on the scale of the weights.

R's ``svyglm`` fits with the weights ``1/prob`` divided by their mean over the rows of the
design object it gets. R's ``subset()`` drops the rows outside the domain of a plain
``svydesign`` (also after ``trimWeights``), of replicate designs (calibrated or not) and of an
uncalibrated ``twophase(method = "approx")``, but keeps them with weight 0 for calibrated
(``postStratify``, ``calibrate``, ``rake``, ``svystandardize``, and those after
``trimWeights``), PPS (``pps=``) and ``twophase(method = "full")`` designs and calibrated
two-phase designs; the mean, and with it
the deviance, the LRT/anova deviance differences, the design effects (naive covariance),
AIC and BIC, then take all of those rows. The same holds for the rows R's ``na.omit`` removes.
Coefficients, SEs, residual df, dispersion and p-values do not depend on the scale.

Fixture: ``tests/design/fixtures/glm_domains/glm_domains_reference.json`` and
``glm_domains_data.csv``, written by ``make_glm_domains.R`` (same folder) from
``../glm_lrt/glm_lrt_data.csv``. R fits with ``glm.control(epsilon = 1e-12)``; socialhealth
with its default ``tol=1e-12``.

Tolerances (relative): coefficients, SEs, deviance, dispersion, residual df, design effects,
AIC, BIC, the sum of the rescaled weights 1e-8; deviance differences (LRT, anova) 1e-7 (a
difference of two converged deviances); saddlepoint p-values 1e-6 (R solves the saddlepoint
equation with ``uniroot(tol = 1e-8)``).

Documented difference (module docstring of :mod:`socialhealth.design.twophase`): domains of a
calibrated ``twophase(method = "full")`` design, where R's ``subset()`` drops phase-2
covariances of out-of-domain rows; their SEs differ from R's by ~5e-4 and so do the design
effects, p-values, AIC and BIC built on them. Their scale-dependent numbers (deviance,
deviance differences, dispersion) are checked.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.pps import HR

HERE = Path(__file__).parent / "fixtures" / "glm_domains"
FX = json.loads((HERE / "glm_domains_reference.json").read_text())
RES = [r for r in FX["results"] if "error" not in r]

MODELS = {
    "bin": ("ybin ~ x1 + x2 + C(grp)", "binomial", None),
    "pois": ("count ~ x1 + x2 + C(grp)", "poisson", None),
    "gauss": ("ypos ~ x1 + x2 + C(grp)", "gaussian", None),
    "gamma": ("ypos ~ x1 + x2 + C(grp)", "Gamma", "log"),
    "bin_na": ("ybin ~ x1 + x2na + C(grp)", "binomial", None),
    "gauss_na": ("ypos ~ x1 + x2na + C(grp)", "gaussian", None),
}
# SEs differ from R's on these (module docstring)
SE_DIFFERS = {("twophase_full_cal", "domain")}


def close(a, b, tol):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=0)


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(HERE / "glm_domains_data.csv")
    for c in ("in2", "dom"):
        d[c] = d[c].astype(bool)
    return d


@pytest.fixture(scope="module")
def designs(data):
    S = sh.SurveyDesign
    tay = S(data, psu="psu", strata="stratum", weights="w", nest=True)
    popg = pd.DataFrame({"grp": ["a", "b", "c"], "Freq": np.array([0.42, 0.33, 0.25]) * 6000})
    tpf = sh.TwoPhaseDesign(data, subset="in2", strata="grp")
    tpa = sh.TwoPhaseDesign(data, subset="in2", strata="grp", method="approx")
    out = {
        "taylor": tay,
        "poststrat": tay.post_stratify("grp", popg),
        "calibrate": tay.calibrate("~x1 + C(grp)", [6000, 1500, 2000, 1500]),
        "rake": tay.rake([("grp", popg),
                          ("hi", pd.DataFrame({"hi": ["hi", "lo"], "Freq": [3100, 2900]}))]),
        "pps_brewer": S(data, strata="stratum", fpc="pi", pps="brewer"),
        "pps_hr": S(data, fpc="pi", pps=HR()),
        "twophase_full": tpf,
        "twophase_approx": tpa,
        "twophase_full_cal": tpf.calibrate("~x2"),
        "twophase_approx_cal": tpa.calibrate("~x2"),
        "taylor_trim": tay.trim_weights(upper=40),
        "standardized": tay.standardize(
            "grp", population=pd.DataFrame({"grp": ["a", "b", "c"], "Freq": [1, 2, 3]})),
    }
    out["poststrat_trim"] = out["poststrat"].trim_weights(upper=40)
    out["jkn"] = tay.to_replicate("jkn")
    out["jkn_poststrat"] = out["jkn"].post_stratify("grp", popg)
    return out


_FITS: dict = {}


def fits(designs, data, r):
    """(design, model, null model ``~ x1``) for one reference entry (cached)."""
    key = (r["design"], r["domain"], r["model"])
    if key not in _FITS:
        des = designs[r["design"]]
        if r["domain"] == "domain":
            des = des.subset(data["dom"])
        formula, family, link = MODELS[r["model"]]
        m = des.glm(formula, family=family, link=link)
        m0 = des.glm(formula.split("~")[0] + "~ x1", family=family, link=link)
        _FITS[key] = (des, m, m0)
    return _FITS[key]


IDS = [f"{r['design']}-{r['domain']}-{r['model']}" for r in RES]


@pytest.mark.parametrize("r", RES, ids=IDS)
def test_scale_dependent_outputs(designs, data, r):
    des, m, _ = fits(designs, data, r)
    assert m.names[1:] == [n if not n.startswith("grp") else f"C(grp)[T.{n[3:]}]"
                           for n in r["term"][1:]]
    close(m.params, r["coef"], 1e-8)
    close(m.deviance, r["deviance"], 1e-8)
    close(m.dispersion, r["dispersion"], 1e-8)
    assert m.df_resid == r["df_residual"]
    # the rescaled weights themselves: R's sum(model$prior.weights)
    close(m._pw.sum(), r["sum_prior_weights"], 1e-8)
    lr = m.lrt("C(grp)")
    close(lr.chisq, r["lrt"]["chisq"], 1e-7)
    if (r["design"], r["domain"]) in SE_DIFFERS:
        return
    close(m.bse, r["se"], 1e-8)
    close(lr.lambdas, r["lrt"]["lambda"], 1e-8)
    close(lr.p, r["lrt"]["p"], 1e-6)
    if "aic" in r:
        a = m.aic()
        close([a["eff_p"], a["AIC"], a["deltabar"]], r["aic"], 1e-8)
    if "aic_all" in r:
        a = m.aic(null_has_intercept=False)
        close([a["eff_p"], a["AIC"], a["deltabar"]], r["aic_all"], 1e-8)


@pytest.mark.parametrize("r", [r for r in RES if "anova" in r],
                         ids=[i for i, r in zip(IDS, RES) if "anova" in r])
def test_anova_and_bic(designs, data, r):
    des, m, m0 = fits(designs, data, r)
    an = des.anova(m0, m)
    close(an.chisq, r["anova"]["chisq"], 1e-7)
    if (r["design"], r["domain"]) in SE_DIFFERS:
        return
    close(an.p, r["anova"]["p"], 1e-6)
    b0, b1 = m0.bic(maximal=m), m.bic(maximal=m)
    close([b0["p"], b0["BIC"], b0["neff"]], r["bic"]["small"], 1e-8)
    close([b1["p"], b1["BIC"]], r["bic"]["big"][:2], 1e-8)


def test_fixture_covers_every_design_on_a_domain(data):
    seen = {(r["design"], r["domain"]) for r in RES}
    assert len(seen) == 30
    # R's rescaled weights sum to the number of rows of its design object: all of the design's
    # rows (phase-2 rows of a two-phase design) where its subset() keeps them, the domain's
    # rows where it drops them
    n_all = {r["design"]: (int(data["in2"].sum()) if r["design"].startswith("twophase")
                           else len(data)) for r in RES}
    n_dom = {r["design"]: int((data["dom"] & (data["in2"] if r["design"].startswith("twophase")
                                              else True)).sum()) for r in RES}
    dom = {r["design"]: r["sum_prior_weights"] for r in RES
           if r["domain"] == "domain" and r["model"] == "bin"}
    kept = {k for k, v in dom.items() if v == pytest.approx(n_all[k], rel=1e-12)}
    dropped = {k for k, v in dom.items() if v == pytest.approx(n_dom[k], rel=1e-12)}
    assert kept == {"poststrat", "calibrate", "rake", "pps_brewer", "pps_hr", "poststrat_trim",
                    "standardized", "twophase_full", "twophase_full_cal", "twophase_approx_cal"}
    assert dropped == {"taylor", "taylor_trim", "twophase_approx", "jkn", "jkn_poststrat"}


def test_kept_rows_domain_deviance_by_hand(designs, data):
    """On a domain of a post-stratified design the weights are rescaled over every row of the
    design (R keeps them with weight 0): the deviance is the domain's deviance with the weights
    rescaled over the domain rows only, times (domain rows) / (design rows)."""
    ps = designs["poststrat"]
    dom = ps.subset(data["dom"])
    m = dom.glm("ybin ~ x1 + x2 + C(grp)", family="binomial")
    w = ps.weights.to_numpy() if hasattr(ps.weights, "to_numpy") else np.asarray(ps.weights)
    inside = data["dom"].to_numpy()
    p = m.predict(type="response").to_numpy()[inside]
    y = data["ybin"].to_numpy()[inside]
    unit = -2 * (y * np.log(p) + (1 - y) * np.log(1 - p))
    by_hand = float(np.sum(w[inside] / (w[inside].sum() / len(w)) * unit))
    assert m.deviance == pytest.approx(by_hand, rel=1e-10)
    # the uncalibrated design drops the rows: the same formula with the domain's own mean
    mt = designs["taylor"].subset(data["dom"]).glm("ybin ~ x1 + x2 + C(grp)", family="binomial")
    wt = designs["taylor"].weights
    wt = wt.to_numpy() if hasattr(wt, "to_numpy") else np.asarray(wt)
    pt = mt.predict(type="response").to_numpy()[inside]
    unit_t = -2 * (y * np.log(pt) + (1 - y) * np.log(1 - pt))
    assert mt.deviance == pytest.approx(float(np.sum(wt[inside] / wt[inside].mean() * unit_t)),
                                        rel=1e-10)
