"""socialhealth.models.multinomial (Stata ``svy: mlogit``) against R 4.2.2 / survey 4.1-1 / nnet
7.3-18 (fixture written by tests/models/fixtures/multinomial/make_multinomial.R from SYNTHETIC
data simulated there) and bad-input checks.

R has no svy_vglm here, so the references are built in R from public pieces, independently of
socialhealth:

* Taylor designs: nnet::multinom at reltol 1e-15, polished by Newton-Raphson written in R, the
  per-row scores and information in R, then svyrecvar() of the influence values (Binder 1983)
  on a stratified multistage design with fpc at both stages and a lonely PSU
  (survey.lonely.psu = "adjust"), a domain (subset()) of it, another reference level, the
  design post-stratified on g (and a domain of that), and a stratified cluster design;
* a 2-level outcome: svyglm(family = quasibinomial()) (the model is logistic regression);
* replicate designs (JK1, JKn, bootstrap): withReplicates(..., function(w, data)
  coef(nnet::multinom(...))) as a user runs it (nnet's BFGS stops ~6e-7 from the maximum), and
  the same replicate variance with every fit polished by Newton-Raphson in R.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import (ArgumentError, FormulaError, MissingColumnError, ModelError,
                                 SeparationError)
from socialhealth.models import MultinomialResult, multinomial
from socialhealth.models._multinomial import _fit_multinomial

FIX = Path(__file__).parent / "fixtures" / "multinomial"
REF = json.loads((FIX / "multinomial_reference.json").read_text())
TAYLOR = {c["id"]: c for c in REF["taylor"]}
REPS = {c["id"]: c for c in REF["replicate"]}
F = "y ~ x1 + C(g)"
TOL = 1e-8          # against R's Newton-polished fits
TOL_NNET = 2e-6     # against nnet::multinom's BFGS (reltol 1e-15): ~6e-7 on the coefficients


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(FIX / "multinomial_data.csv")


def _multistage(d):
    return sh.SurveyDesign(d, weights="wt", strata="stratum", psu=["psu", "ssu"],
                           fpc=["fpc1", "fpc2"], lonely_psu="adjust")


def _cluster(d):
    return sh.SurveyDesign(d, weights="wt", strata="stratum", psu="psu", fpc="fpc1",
                           lonely_psu="adjust")


def _terms_r(names):
    """R's model.matrix names -> socialhealth's ("(Intercept)" -> "Intercept", "gb" ->
    "C(g)[T.b]")."""
    out = []
    for n in names:
        level, term = n.split(":", 1)
        term = {"(Intercept)": "Intercept", "gb": "C(g)[T.b]", "gc": "C(g)[T.c]"}.get(term, term)
        out.append(f"{level}:{term}")
    return out


def _assert_matches_r(m, c):
    """Names, coefficients, SEs and covariance equal R's reference (Newton-polished) at TOL,
    and the coefficients nnet::multinom's at its optimiser's limit (TOL_NNET)."""
    assert m.names == _terms_r(c["terms"])
    assert _rel(m.params, c["coef"]) < TOL
    assert _rel(m.bse, c["se"]) < TOL
    np.testing.assert_allclose(m.cov_params().to_numpy(), c["vcov"], rtol=TOL,
                               atol=TOL * np.max(np.abs(c["vcov"])))
    assert _rel(m.params, c["coef_nnet"]) < TOL_NNET


@pytest.mark.parametrize("cid,kind,domain,ref", [
    ("taylor_multistage_fpc", "multistage", False, None),
    ("taylor_multistage_fpc_domain", "multistage", True, None),
    ("taylor_multistage_fpc_ref_partner", "multistage", False, "partner"),
    ("taylor_stratified_cluster", "cluster", False, None),
    ("taylor_multistage_poststratified", "poststratified", False, None),
    ("taylor_multistage_poststratified_domain", "poststratified", True, None),
])
def test_taylor_binder_sandwich_matches_r(data, cid, kind, domain, ref):
    des = _multistage(data) if kind != "cluster" else _cluster(data)
    if kind == "poststratified":
        des = des.post_stratify("g", pd.DataFrame({"g": ["a", "b", "c"],
                                                   "Freq": [40000, 35000, 25000]}))
    if domain:
        des = des.subset(data["dom"].to_numpy())
    m = multinomial(des, F, reference=ref)
    c = TAYLOR[cid]
    assert isinstance(m, MultinomialResult)
    _assert_matches_r(m, c)
    assert m.nobs == c["n"]
    assert m.df_resid == c["degf"] - 3          # degf - covariates of one equation
    assert m.to_frame()["df"].eq(c["degf"] - 3).all()


def test_two_levels_reduce_to_svyglm_quasibinomial(data):
    b = REF["binary"]
    m = _fit_multinomial(_cluster(data), "yb ~ x1 + C(g)", None, None, 1e-12, 100, 30,
                         min_levels=2)
    assert m.reference == "alone" and m.outcome_levels == ["with_others"]
    assert _rel(m.params, b["coef"]) < TOL
    assert _rel(m.bse, b["se"]) < TOL
    np.testing.assert_allclose(m.cov_params().to_numpy(), b["vcov"], rtol=TOL)
    assert m.df_resid == b["df_residual"]
    # t intervals with svyglm's residual df (R confint(g2, ddf = g2$df.residual))
    from scipy import stats
    q = stats.t.ppf(0.975, b["df_residual"])
    ci = m.confint()
    np.testing.assert_allclose(ci["ci_low"], np.asarray(b["coef"]) - q * np.asarray(b["se"]),
                               rtol=1e-7)


@pytest.mark.parametrize("kind", ["jk1", "jkn", "boot"])
def test_replicate_designs_match_r_withreplicates(data, kind):
    c = REPS[f"replicate_{kind}"]
    W = pd.read_csv(FIX / f"repweights_{kind}.csv.gz").to_numpy(float)
    assert W.shape == (len(data), c["n_replicates"])
    r = sh.ReplicateDesign(data, weights="wt", replicate_weights=W, method="other",
                           scale=c["scale"], rscales=c["rscales"], mse=c["mse"])
    m = multinomial(r, F)
    # every replicate fit converged (Newton in R); then withReplicates + nnet::multinom as a
    # user runs it: BFGS-limited
    _assert_matches_r(m, c)
    assert _rel(m.bse, c["se_nnet"]) < 1e-6
    V = np.asarray(c["vcov_nnet"])
    assert np.max(np.abs(m.cov_params().to_numpy() - V)) < 1e-6 * np.max(np.abs(V))
    assert m.df_resid == c["degf"] - 3


def test_reference_level_choice(data):
    des = _multistage(data)
    a = multinomial(des, F)
    b = multinomial(des, F, reference="partner")
    assert a.reference == "alone" and b.reference == "partner"
    assert b.outcome_levels == ["alone", "family", "other"]
    # log(P(alone)/P(partner)) = -log(P(partner)/P(alone)): same model, other baseline
    np.testing.assert_allclose(b.coef_table.loc["alone"], -a.coef_table.loc["partner"],
                               rtol=1e-9)
    np.testing.assert_allclose(b.coef_table.loc["family"],
                               a.coef_table.loc["family"] - a.coef_table.loc["partner"],
                               rtol=1e-8, atol=1e-12)
    with pytest.raises(ArgumentError, match="choose one of 'alone', 'family', 'other', 'partner'"):
        multinomial(des, F, reference="nobody")


def test_numeric_outcome_reference_and_messages_are_plain(data):
    codes = {"alone": 1.0, "family": 2.0, "other": 3.0, "partner": 4.0}
    d = data.assign(yn=data["y"].map(codes))
    des = _multistage(d)
    m = multinomial(des, "yn ~ x1 + C(g)", reference=4)
    assert m.outcome_levels == [1.0, 2.0, 3.0]
    assert list(m.coef_table.index) == ["1", "2", "3"]
    assert m.names[0] == "1:Intercept"
    np.testing.assert_allclose(m.params, TAYLOR["taylor_multistage_fpc_ref_partner"]["coef"],
                               rtol=TOL)
    with pytest.raises(ArgumentError) as e:
        multinomial(des, "yn ~ x1", reference=7)
    assert "choose one of 1, 2, 3, 4" in str(e.value) and "np." not in str(e.value)


def test_frame_exponentiate_and_summary(data):
    m = multinomial(_multistage(data), F)
    t = m.to_frame()
    assert list(t.columns) == ["outcome_level", "term", "estimate", "se", "ci_low", "ci_high",
                               "df", "statistic", "p"]
    assert list(t["outcome_level"].unique()) == ["family", "other", "partner"]
    assert len(t) == 12 and m.coef_table.shape == (3, 4) and m.se_table.shape == (3, 4)
    e = m.to_frame(exponentiate=True)
    np.testing.assert_allclose(e["estimate"], np.exp(t["estimate"]))
    np.testing.assert_allclose(e["ci_low"], np.exp(t["ci_low"]))
    np.testing.assert_allclose(e["se"], t["se"])
    s = str(m.summary())
    assert "log(P(other) / P(alone))" in s and "svy: mlogit y x1 i.g, baseoutcome(alone)" in s
    assert "nnet::multinom(factor(y) ~ x1 + factor(g)" in m.r_call
    r = multinomial(_multistage(data), F, reference="other")
    assert "relevel(factor(y), ref = 'other')" in r.r_call


def test_missing_values_left_out(data):
    d = data.copy()
    d.loc[[0, 1, 2], "y"] = np.nan
    d.loc[[5], "x1"] = np.nan
    m = multinomial(_multistage(d), F)
    assert m.nobs == len(d) - 4 and m.n_missing == 4


def test_bad_input(data):
    des = _multistage(data)
    with pytest.raises(ModelError,
                       match=r"3 or more levels.*design.glm\(\.\.\., family='binomial'"):
        multinomial(des, "yb ~ x1")
    with pytest.raises(ModelError, match="'nobody' have no rows"):
        multinomial(des, F, levels=["alone", "family", "nobody", "other", "partner"])
    with pytest.raises(MissingColumnError):
        multinomial(des, "nothere ~ x1")
    with pytest.raises(FormulaError):
        multinomial(des, "y ~ x1 + nothere")
    with pytest.raises(ArgumentError, match="max_levels"):
        multinomial(des, "x1 ~ C(g)")
    with pytest.raises(ModelError, match="x2"):
        multinomial(_multistage(data.assign(x2=2 * data["x1"])), "y ~ x1 + x2")


def test_empty_level_in_a_domain(data):
    des = _multistage(data)
    with pytest.raises(ModelError, match="'other' have no rows"):
        multinomial(des.subset((data["y"] != "other").to_numpy()), F,
                    levels=["alone", "family", "other", "partner"])


def _separated(kind):
    rng = np.random.default_rng(9)
    n = 300
    x = rng.normal(size=n)
    z = (rng.random(n) < 0.4).astype(float)
    y = rng.choice(["a", "b", "c"], n)
    if kind == "complete":
        y = np.where(x > 0.5, "c", np.where(x < -0.5, "a", "b"))
    else:                            # quasi-complete: no "c" where z = 1
        y = np.where((z == 1) & (y == "c"), "b", y)
    df = pd.DataFrame({"y": y, "x": x, "z": z, "w": rng.uniform(0.5, 2, n)})
    return sh.SurveyDesign(df, weights="w")


def test_separation_is_named():
    with pytest.raises(SeparationError, match="c:z") as e:
        multinomial(_separated("quasi"), "y ~ x + z")
    assert "'c'" in str(e.value)
    with pytest.raises(SeparationError, match="x"):
        multinomial(_separated("complete"), "y ~ x + z")


def test_separation_detector_on_unseparated_data(data):
    from socialhealth.design.extension import multinomial_separation

    X = np.column_stack([np.ones(len(data)), data["x1"]])
    y = data["y"].map({"alone": 0, "family": 1, "other": 2, "partner": 3}).to_numpy()
    names = [f"{k}:{t}" for k in ("family", "other", "partner") for t in ("Intercept", "x1")]
    assert multinomial_separation(X, y, 4, names) is None
    # the level "other" only where x1 < 0 is not separation (rows of other levels there too);
    # "other" exactly where x1 > 1 is
    y2 = np.where(X[:, 1] > 1, 2, np.where(y == 2, 0, y))
    d = multinomial_separation(X, y2, 4, names)
    assert d is not None and any(n.startswith("other:") for n in d.names)


def test_calls_and_degrees_of_freedom_without_intercept(data):
    des = _multistage(data)
    m = multinomial(des, "y ~ 0 + x1 + C(g)")
    assert m.terms == ["x1", "C(g)[a]", "C(g)[b]", "C(g)[c]"]       # as R: ~ 0 + x1 + g
    # svyglm's df.residual: degf + 1 - (coefficients of one equation), with or without intercept
    assert m.df_resid == TAYLOR["taylor_multistage_fpc"]["degf"] + 1 - len(m.terms)
    assert m.stata_call.endswith("baseoutcome(alone) noconstant")
    i = multinomial(des, "y ~ x1 + C(g) + x1:C(g)")
    assert "c.x1#i.g" in i.stata_call and "x1:factor(g)" in i.r_call


def test_not_converged_is_a_convergence_error(data):
    from socialhealth.errors import ConvergenceError

    with pytest.raises(ConvergenceError, match="max_iter"):
        multinomial(_multistage(data), F, max_iter=1)
    with pytest.raises(ArgumentError, match="tol"):
        multinomial(_multistage(data), F, tol=0)


def test_vgam_reference_levels(data):
    """VGAM::vglm(family = multinomial) (svy_vglm's fitter) takes the LAST level as reference
    by default; reference= reproduces both its default and refLevel = 1 (point estimates)."""
    vg = REF["vgam"]
    assert vg, "the committed fixture must hold the VGAM case (apt r-cran-vgam)"
    assert vg["default"]["ref_level"] == 4
    assert vg["default"]["equations"][0] == "log(mu[,1]/mu[,4])"
    des = sh.SurveyDesign(data, weights="wt")
    last = multinomial(des, F, reference="partner")
    first = multinomial(des, F)
    assert _rel(last.params, vg["default"]["coef"]) < TOL
    assert _rel(first.params, vg["ref1"]["coef"]) < TOL
