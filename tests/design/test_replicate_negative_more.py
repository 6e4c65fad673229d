"""More verbs on replicate designs with ACS-style negative replicate weights.

Expected values: fixtures/replicate_negative/replicate_negative_more.json, written by
make_replicate_negative_more.R (same folder; R 4.2.2, survey 4.1-1, survival 3.5-3) from the
rows of replicate_negative_reference.json (80 rows, 16 successive-difference replicates, 42
negative replicate weights in replicates 3, 6, 8, 15) plus the count column ``cnt = round(y)``
stored in the JSON. ``*_sdr_clip`` entries are the same calls with the negative replicate
weights set to 0. What R does, and socialhealth with it:

* svyglm with the poisson, quasipoisson, Gamma (inverse and log link) and gaussian (identity
  and log link) families refits each replicate with glm.fit, which counts a negative weight
  as 0 (R's result is the clipped one, up to glm.fit's stopping rule); socialhealth does the
  same with an RDifferenceWarning. anova() of such fits follows.
* svylogrank (method "small") totals fixed score residuals, and svystandardize
  post-stratifies every replicate, with the replicate weights as given: same numbers, no
  warning.
* svykm gives no standard errors on replicate designs, and withReplicates around
  survival::survfit stops ("weights must be non-negative"): kaplan_meier(se=True) raises
  ReplicateWeightsError; the curve itself (full-sample weights) is R's.
* trimWeights on a replicate design raises negative replicate weights below ``lower`` to
  ``lower`` but mis-recycles the redistribution (column totals change); socialhealth applies
  the documented rule to every non-zero weight, negative ones included (checked by hand).
* attrition(variance="replicate") on a replicate-weight panel design refuses negative
  replicate weights; its linearised option is the replicate variance with the weights known.
"""
import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import models
from socialhealth.errors import RDifferenceWarning, ReplicateWeightsError

HERE = Path(__file__).parent / "fixtures" / "replicate_negative"
BASE = json.loads((HERE / "replicate_negative_reference.json").read_text())
FIX = json.loads((HERE / "replicate_negative_more.json").read_text())
RES = FIX["results"]
DATA = pd.DataFrame(BASE["data"]).assign(cnt=FIX["cnt"])
RW = [f"rw{r}" for r in range(1, 17)]
NEG = "3, 6, 8, 15"
TOL = 1e-8


def design(name: str = "sdr", data: pd.DataFrame = DATA) -> sh.ReplicateDesign:
    if name == "sdr_clip":
        data = data.assign(**{c: data[c].clip(lower=0) for c in RW})
    return sh.ReplicateDesign(data, weights="w", replicate_weights="^rw[0-9]+$",
                              method="jk1" if name == "jk1" else "sdr")


def value(key: str) -> dict:
    return RES[key]["value"]


@contextlib.contextmanager
def no_r_difference_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RDifferenceWarning)
        yield


def test_fixture_count_column_and_negative_weights():
    np.testing.assert_array_equal(DATA.cnt, np.round(DATA.y))
    assert (DATA[RW].to_numpy() < 0).sum() == 42
    assert design()._negative_replicates() == [3, 6, 8, 15]


# ------------------------------------------------------------------------------ GLM families
GLM = {
    "quasipoisson": ("cnt ~ x + grp", {"family": "quasipoisson"}),
    "poisson": ("cnt ~ x + grp", {"family": "poisson"}),
    "gamma": ("y ~ x", {"family": "gamma"}),
    "gamma_log_tight": ("y ~ x + grp", {"family": "gamma", "link": "log"}),
    "gaussian_log_tight": ("y ~ x", {"family": "gaussian", "link": "log"}),
    "gaussian": ("y ~ x + sex", {"family": "gaussian"}),
}


def _glm(d, key):
    formula, kw = GLM[key]
    return d.glm(formula, **kw).to_frame()


@pytest.mark.parametrize("key", sorted(GLM))
def test_r_glm_refits_equal_the_clipped_weights(key):
    # what the fixture shows about R: with negative replicate weights svyglm gives the fit of
    # the clipped weights; the standard errors differ only by glm.fit's stopping rule (its
    # convergence test uses the deviance with the negative weights), at most 6e-6 here
    a, b = value(f"glm_{key}_sdr"), value(f"glm_{key}_sdr_clip")
    np.testing.assert_allclose(a["est"], b["est"], rtol=1e-12)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-5)


@pytest.mark.parametrize("key", sorted(GLM))
def test_glm_families_count_negative_weights_as_zero_as_r(key):
    with pytest.warns(RDifferenceWarning, match=NEG):
        f = _glm(design("sdr"), key)
    r = value(f"glm_{key}_sdr")
    assert list(f.term.str.replace("Intercept", "(Intercept)").str.replace(
        r"\[T\.(\w)\]", r"\1", regex=True)) == r["names"]
    np.testing.assert_allclose(f.estimate, r["est"], rtol=1e-8)
    # R's refits with negative weights stop by a deviance that includes them (tight fits: 1e-7)
    np.testing.assert_allclose(f.se, r["se"], rtol=1e-7 if "tight" not in key else 5e-7)


@pytest.mark.parametrize("key", sorted(GLM))
def test_glm_families_on_clipped_weights_match_r_without_warning(key):
    with no_r_difference_warning():
        f = _glm(design("sdr_clip"), key)
    r = value(f"glm_{key}_sdr_clip")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=1e-8)
    np.testing.assert_allclose(f.se, r["se"], rtol=1e-8)


def test_glm_log_links_at_r_default_tolerance():
    # R's default stopping rule (deviance change 1e-8) leaves these fits ~1e-5 from the root
    with pytest.warns(RDifferenceWarning):
        f = _glm(design("sdr"), "gamma_log_tight")
    np.testing.assert_allclose(f.estimate, value("glm_gamma_log_sdr")["est"], rtol=3e-5)
    np.testing.assert_allclose(f.se, value("glm_gamma_log_sdr")["se"], rtol=3e-5)


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
def test_quasipoisson_domain_matches_r(name):
    d = design(name).subset(DATA.sex == "u")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f = d.glm("cnt ~ x", family="quasipoisson").to_frame()
    assert any(issubclass(w.category, RDifferenceWarning) for w in rec) == (name == "sdr")
    r = value(f"glm_poisson_sub_{name}")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


def test_quasipoisson_jk1_matches_r():
    with pytest.warns(RDifferenceWarning):
        f = _glm(design("jk1"), "quasipoisson")
    r = value("glm_quasipoisson_jk1")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
def test_anova_of_quasipoisson_fits_matches_r(name):
    d = design(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RDifferenceWarning)
        m1 = d.glm("cnt ~ x + grp", family="quasipoisson")
        m0 = d.glm("cnt ~ x", family="quasipoisson")
    # the p-values use the replicate covariance: R's refits with negative weights stop ~1e-7
    # from the clipped fits' root (see the glm standard errors above)
    tol = 1e-6 if name == "sdr" else 1e-7
    lrt = d.anova(m1, m0).to_frame().loc[0]
    r = value(f"anova_LRT_{name}")
    assert lrt.chisq == pytest.approx(r["chisq"], rel=TOL)
    # (the saddlepoint tail probability itself agrees with R's to ~1e-7, clipped or not)
    assert lrt.p == pytest.approx(r["p"], rel=1e-6)
    assert (lrt.df, lrt.ddf) == (r["df"], r["ddf"])
    wald = d.anova(m1, m0, method="Wald").to_frame().loc[0]
    r = value(f"anova_Wald_{name}")
    assert wald.statistic == pytest.approx(r["stat"], rel=tol)
    assert wald.p == pytest.approx(r["p"], rel=tol)
    assert (wald.df, wald.ddf) == (r["df"], r["ddf"])


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
def test_standardize_uses_the_weights_as_given_as_r(name):
    with no_r_difference_warning():
        std = design(name).standardize("sex", by="grp", population=[40, 60])
        f = std.mean("y", by="grp").to_frame()
    r = value(f"standardize_{name}")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


# ------------------------------------------------------------------------------ log-rank
@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
@pytest.mark.parametrize("key, by, kw", [("sex", "sex", {}), ("grp", "grp", {}),
                                         ("rho1", "sex", {"rho": 1})])
def test_logrank_uses_the_weights_as_given_as_r(name, key, by, kw):
    with no_r_difference_warning():
        res = models.logrank(design(name), "time", "status", by, **kw)
    r = value(f"logrank_{key}_{name}")
    f = res.to_frame()
    np.testing.assert_allclose(f.score, r["score"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)
    assert res.chisq == pytest.approx(r["chisq"], rel=TOL)
    assert res.p == pytest.approx(r["p"], rel=TOL)


def test_r_logrank_differs_with_clipped_weights():
    # so the test above does tell "as given" from "clipped"
    assert value("logrank_sex_sdr")["se"] != pytest.approx(value("logrank_sex_sdr_clip")["se"],
                                                           rel=1e-3)


# ------------------------------------------------------------------------------ Kaplan-Meier
def test_r_has_no_replicate_km_standard_errors_with_negative_weights():
    assert RES["km_se_sdr"]["error"] == "SE not yet available"
    assert "weights must be non-negative" in RES["km_withreplicates_sdr"]["error"]


@pytest.mark.parametrize("kw", [{}, {"by": "sex"}, {"estimator": "km"}])
def test_kaplan_meier_standard_errors_refuse_negative_replicate_weights(kw):
    with pytest.raises(ReplicateWeightsError,
                       match=rf"kaplan_meier\(se=True\).*{NEG}.*non-negative"):
        models.kaplan_meier(design(), "time", "status", se=True, **kw)


def test_kaplan_meier_curve_uses_full_sample_weights_as_r():
    km = models.kaplan_meier(design(), "time", "status").to_frame()
    r = value("km_sdr")
    # R's svykm curve starts at time 0 with S = 1 and lists every distinct time
    rt, rs = np.array(r["time"]), np.array(r["surv"])
    at = np.searchsorted(rt, km.time.to_numpy())
    np.testing.assert_array_equal(rt[at], km.time)
    np.testing.assert_allclose(km.surv, rs[at], rtol=TOL, atol=1e-15)   # R's last: 1.7e-17


def test_kaplan_meier_rows_without_negative_weights_keep_standard_errors():
    W = DATA[RW].to_numpy()
    clean = (W >= 0).all(axis=1)
    km = models.kaplan_meier(design().subset(clean), "time", "status", se=True)
    assert np.isfinite(km.to_frame().se).any()


def test_kaplan_meier_clipped_weights_match_r_withreplicates_survfit():
    f = models.kaplan_meier(design("sdr_clip"), "time", "status", se=True,
                            estimator="km").at([4, 6, 8])
    r = value("km_withreplicates_sdr_clip")
    np.testing.assert_allclose(np.log(f.surv), r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se_log, r["se"], rtol=TOL)


# ------------------------------------------------------------------------------ trim_weights
def _hand_trim(col, lower, upper):
    """One pass of R's documented rule on the non-zero weights of a column (written here)."""
    col = col.copy()
    active = col != 0
    out = active & ((col < lower) | (col > upper))
    new = col.copy()
    new[out] = np.minimum(np.maximum(col[out], lower), upper)
    new[active & ~out] += (col[out] - new[out]).sum() / (active & ~out).sum()
    return new


def test_trim_rule_on_a_negative_weight_by_hand():
    W = np.array([[-5.0, 50], [0, 50], [20, 50], [400, 50]])
    d = sh.ReplicateDesign(pd.DataFrame({"y": [1.0, 2, 3, 4]}), weights=np.full(4, 50.0),
                           replicate_weights=W, method="other", scale=1)
    t = d.trim_weights(lower=10, upper=300)
    # -5 -> 10 (adds 15), 400 -> 300 (removes 100): 85 to the one untrimmed row (20 -> 105);
    # the zero stays 0; the column total 415 is kept. Column 2 is inside the bounds.
    np.testing.assert_allclose(t.replicate_weights, [[10, 50], [0, 50], [105, 50], [300, 50]])
    # without lower the negative weight is untrimmed and takes its share: 100 / 2 each
    u = d.trim_weights(upper=300)
    np.testing.assert_allclose(u.replicate_weights[:, 0], [45, 0, 70, 300])


def test_trim_raises_negative_replicate_weights_as_r_and_keeps_totals():
    r = value("trim_sdr")
    # R: every negative replicate weight ends above lower = 10, but the column totals change
    assert r["n_below_lower"] == 0 and len(r["negative_after"]) == 42
    assert min(r["negative_after"]) > 10
    assert not np.allclose(r["colsums"], r["colsums_before"], rtol=1e-6)
    d = design()
    W0 = DATA[RW].to_numpy()
    t = d.trim_weights(lower=10, upper=300)
    W = t.replicate_weights
    np.testing.assert_allclose(W.sum(axis=0), W0.sum(axis=0), rtol=1e-12)
    expected = np.column_stack([_hand_trim(W0[:, j], 10, 300) for j in range(16)])
    np.testing.assert_allclose(W, expected, rtol=1e-12)
    assert (W[W0 < 0] >= 10).all()
    np.testing.assert_array_equal(t.weights, DATA.w)       # 20.32..117.78: inside the bounds
    # strict: every replicate weight inside the bounds, the totals still kept
    s = d.trim_weights(lower=10, upper=150, strict=True).replicate_weights
    assert ((s >= 10 - 1e-9) & (s <= 150 + 1e-9)).all()
    np.testing.assert_allclose(s.sum(axis=0), W0.sum(axis=0), rtol=1e-12)
    # the trimmed design has no negative weight left: estimators see a plain design
    assert t._negative_replicates() == []


def test_trim_without_lower_gives_negative_weights_their_share():
    W0 = DATA[RW].to_numpy()
    W = design().trim_weights(upper=300).replicate_weights
    expected = np.column_stack([_hand_trim(W0[:, j], -np.inf, 300) for j in range(16)])
    np.testing.assert_allclose(W, expected, rtol=1e-12)
    np.testing.assert_allclose(W.sum(axis=0), W0.sum(axis=0), rtol=1e-12)


# ------------------------------------------------------------------------------ attrition
def _replicate_panel(negative: bool, n: int = 900):
    """A generated baseline sample (as tests/models/test_longitudinal.py) with 8
    successive-difference-like replicate weights; two of them negative when asked."""
    from socialhealth.datasets import PanelData

    rng = np.random.default_rng(11)
    old = pd.array(rng.random(n) < 0.4, dtype="boolean")
    old[:7] = pd.NA                                       # 7 persons without the covariate
    iso = rng.random(n) < 0.3
    status = np.where(rng.random(n) < 0.75 - 0.3 * old.fillna(False).to_numpy(bool)
                      - 0.15 * iso, "linked", "attrited")
    status[rng.random(n) < 0.05] = "deceased"
    followed = status == "linked"
    ph = rng.random(n) < 0.15 + 0.2 * iso
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2.5, n),
        "followed": followed, "followup_status": status, "older@2006": old,
        "isolated@2006": iso,
        "poor_health@2010": pd.array(np.where(followed, ph, pd.NA), dtype="boolean")})
    for r in range(8):
        data[f"rw{r + 1}"] = data.weight * rng.choice([0.3, 1.0, 1.7], n)
    if negative:
        data.loc[5, "rw3"] = -0.4
        data.loc[17, "rw6"] = -1.0
    spec = {"kind": "replicate", "weights": "weight", "replicate_weights": "^rw[0-9]+$",
            "method": "sdr"}
    return PanelData("gen", data, pd.DataFrame(), {}, spec, waves=[2006, 2010])


OUTCOME = dict(exposure="isolated", exposure_wave=2006, outcome="poor_health", outcome_wave=2010,
               baseline_outcome=False)


def test_attrition_replicate_refits_refuse_negative_replicate_weights():
    with pytest.raises(ReplicateWeightsError, match=r"attrition.*replicate weight set\(s\) 3, 6"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RDifferenceWarning)
            models.attrition(_replicate_panel(True), baseline=["older", "isolated"],
                             variance="replicate", outcome_model=OUTCOME)


def _hand_pieces(panel):
    d = panel.data
    at_risk = d["followup_status"].isin(["linked", "attrited"]).to_numpy()
    ok = at_risk & d["older@2006"].notna().to_numpy()
    Xr = np.column_stack([np.ones(len(d)), d["older@2006"].astype("Float64").fillna(0)
                          .to_numpy(float), d["isolated@2006"].to_numpy(float)])
    followed = d["followed"].to_numpy(float)
    analysis = ok & d["followed"].to_numpy()
    X = np.column_stack([np.ones(len(d)), d["isolated@2006"].to_numpy(float)])
    y = d["poor_health@2010"].astype("Float64").fillna(0).to_numpy(float)
    W = d[[f"rw{r}" for r in range(1, 9)]].to_numpy()
    return ok, Xr, followed, analysis, X, y, W, d["weight"].to_numpy()


def test_attrition_linearised_option_on_replicate_design_treats_weights_as_known(hand_logistic):
    panel = _replicate_panel(True)
    with pytest.warns(RDifferenceWarning):
        a = models.attrition(panel, baseline=["older", "isolated"], outcome_model=OUTCOME)
    o = a.outcome.set_index("weighting")
    fit = hand_logistic
    ok, Xr, followed, analysis, X, y, W, w0 = _hand_pieces(panel)
    p = 1 / (1 + np.exp(-Xr @ fit(Xr[ok], followed[ok], w0[ok])))
    for name, factor in [("baseline weight", np.ones(len(w0))),
                         ("baseline / P(retained)", 1 / p)]:
        # R: svyglm on svrepdesign(weights = w0 * factor, repweights = W * factor): glm.fit
        # counts the negative replicate weights as 0
        b = np.array([fit(X[analysis], y[analysis], (np.maximum(W[:, r], 0) * factor)[analysis])
                      for r in range(8)])[:, 1]
        se = np.sqrt(4 / 8 * ((b - b.mean()) ** 2).sum())
        assert o.loc[name, "se"] == pytest.approx(se, rel=1e-8)
        assert o.loc[name, "variance"] == "replicate weights of the design (weights as known)"
    assert o.loc["baseline weight", "se"] != pytest.approx(o.loc["baseline / P(retained)", "se"],
                                                          rel=1e-3)


def test_attrition_replicate_option_uses_the_design_replicates(hand_logistic):
    panel = _replicate_panel(False)
    a = models.attrition(panel, baseline=["older", "isolated"], variance="replicate",
                         outcome_model=OUTCOME)
    o = a.outcome.set_index("weighting").loc["baseline / P(retained)"]
    fit = hand_logistic
    ok, Xr, followed, analysis, X, y, W, w0 = _hand_pieces(panel)
    b = []
    for r in range(8):                  # retention and outcome refitted with each replicate
        p_r = 1 / (1 + np.exp(-Xr @ fit(Xr[ok], followed[ok], W[ok, r])))
        b.append(fit(X[analysis], y[analysis], (W[:, r] / p_r)[analysis])[1])
    b = np.array(b)
    assert o["se"] == pytest.approx(np.sqrt(4 / 8 * ((b - b.mean()) ** 2).sum()), rel=1e-8)
    assert o["variance"] == "replicate (sdr, the design's own, 8 replicates)"
    assert o["df"] == 8 - 1 + 1 - 2          # degf (rank 8 - 1) + 1 - coefficients
    assert "replicate standard errors (sdr, the design's own)" in " ".join(a.notes)


def test_reweight_scales_each_rows_replicate_weights_by_hand():
    d = design()
    w_new = np.where(DATA.sex == "u", DATA.w * 2.5, 0.0)
    r = d.reweight(w_new)
    W0 = DATA[RW].to_numpy()
    np.testing.assert_allclose(r.replicate_weights, W0 * np.where(DATA.sex == "u", 2.5, 0)[:, None],
                               rtol=1e-15)
    np.testing.assert_array_equal(r.weights, w_new)
    # the mean's replicate SE of the domain is that of the domain (a constant factor cancels)
    a = r.mean("y").to_frame()
    b = d.subset(DATA.sex == "u").mean("y").to_frame()
    np.testing.assert_allclose([a.estimate[0], a.se[0]], [b.estimate[0], b.se[0]], rtol=1e-12)
    from socialhealth.errors import DesignError, WeightError
    with pytest.raises(WeightError, match="current weight is 0"):
        d.subset(DATA.sex == "u").reweight(DATA.w.to_numpy())
    with pytest.raises(WeightError, match="negative"):
        d.reweight(-DATA.w.to_numpy())
    with pytest.raises(DesignError, match="one weight per row"):
        d.reweight(np.ones(3))
