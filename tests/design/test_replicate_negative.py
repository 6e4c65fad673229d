"""Negative replicate weights (ACS-style successive-difference replicates after calibration).

Expected values: fixtures/replicate_negative/replicate_negative_reference.json, written by
make_replicate_negative.R (same folder; R 4.2.2, survey 4.1-1) from seeded synthetic data
stored in the JSON (80 rows, 16 replicates, 42 negative replicate weights in replicates 3, 6,
8 and 15). What R does, and what socialhealth does:

* svymean / svytotal / svyratio / svyby / factor means / svyciprop ("mean", "asin", "beta",
  "xlogit") / svychisq use the weights as given: same numbers (1e-8).
* svyglm and svyciprop "logit" refit with glm.fit, which keeps only rows with a positive
  weight: a negative replicate weight counts as 0 (the JSON's ``*_clipped`` entries show it).
  socialhealth does the same, with an RDifferenceWarning (1e-7).
* svyvar recomputes the variance per replicate (with each replicate's mean); postStratify
  and rake use the weights as given: same numbers.
* calibrate() fails in R (sqrt of the replicate weights); socialhealth raises.
* svycoxph stops (coxph: "Invalid weights, must be >0"); replicate quantiles
  (interval_type="quantile") invert a non-monotone cumulative weight: both raise
  ReplicateWeightsError naming the replicates.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
import socialhealth.design.replicate as rp
from socialhealth.errors import RDifferenceWarning, ReplicateWeightsError

FIX = json.loads((Path(__file__).parent / "fixtures" / "replicate_negative"
                  / "replicate_negative_reference.json").read_text())
DATA = pd.DataFrame(FIX["data"])
RES = FIX["results"]
METHOD = {"successive-difference": "sdr", "ACS": "sdr", "JK1": "jk1", "bootstrap": "bootstrap",
          "other": "other"}
TOL = 1e-8


def design(name: str, data: pd.DataFrame = DATA) -> sh.ReplicateDesign:
    info = FIX["designs"][name]
    kw = {"method": METHOD[info["type"]], "mse": info["mse"]}
    if info["type"] == "other":
        kw.update(scale=info["scale"], rscales=info["rscales"])
    return sh.ReplicateDesign(data, weights="w", replicate_weights="^rw[0-9]+$", **kw)


def value(key: str) -> dict:
    return RES[key]["value"]


def test_fixture_has_negative_replicate_weights():
    W = DATA[[f"rw{r}" for r in range(1, 17)]].to_numpy()
    assert (W < 0).sum() == FIX["meta"]["n_negative"] == 42
    assert sorted(set(np.nonzero(W < 0)[1] + 1)) == FIX["meta"]["negative_replicates"]
    assert (DATA.w > 0).all()
    assert design("sdr")._negative_replicates() == FIX["meta"]["negative_replicates"]


@pytest.mark.parametrize("name", sorted(FIX["designs"]))
def test_design_scale_and_degf_match_r(name):
    d, info = design(name), FIX["designs"][name]
    assert d.scale == pytest.approx(info["scale"], rel=1e-12)
    np.testing.assert_allclose(d.rscales, info["rscales"], rtol=1e-12)
    assert d.degf() == info["degf"]


@pytest.mark.parametrize("name", sorted(FIX["designs"]))
@pytest.mark.parametrize("verb", ["mean", "total", "ratio"])
def test_mean_total_ratio_match_r(name, verb):
    d = design(name)
    est = d.ratio("y", "x") if verb == "ratio" else getattr(d, verb)(["y", "x"])
    f, r = est.to_frame(), value(f"{name}_{verb}")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


@pytest.mark.parametrize("key, call", [
    ("mean_factor", lambda d: d.mean("grp")),
    ("total_factor", lambda d: d.total("grp")),
    ("by_mean", lambda d: d.mean("y", by="grp")),
    ("by_total", lambda d: d.total("y", by="grp")),
    ("by_ratio", lambda d: d.ratio("y", "x", by="grp")),
    ("subset_mean", lambda d: d.subset(DATA.grp == "a").mean("y")),
])
def test_domains_and_factors_match_r(key, call):
    f, r = call(design("sdr")).to_frame(), value(key)
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


@pytest.mark.parametrize("key, name", [("var2", "sdr"), ("var_jk1", "jk1"), ("var_mse", "sdr_mse")])
def test_var_recomputed_per_replicate_matches_r(key, name):
    """svyvar on a replicate design recomputes the variance (with each replicate's own mean)
    per replicate; R lists y:x twice (the 2 x 2 matrix), socialhealth once."""
    f, r = design(name).var(["y", "x"]).to_frame(), value(key)
    np.testing.assert_allclose(f.estimate, np.array(r["est"])[[0, 1, 3]], rtol=TOL)
    np.testing.assert_allclose(f.se, np.array(r["se"])[[0, 1, 3]], rtol=TOL)


def test_var_by_domain_matches_r():
    f, r = design("sdr").var("y", by="grp").to_frame(), value("by_var")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    np.testing.assert_allclose(f.se, r["se"], rtol=TOL)


POP_GRP = pd.DataFrame({"grp": ["a", "b", "c"], "Freq": [2000, 1500, 2500]})
POP_SEX = pd.DataFrame({"sex": ["u", "v"], "Freq": [3000, 3000]})


@pytest.mark.parametrize("key, call", [
    ("poststratify_mean", lambda d: d.post_stratify("grp", POP_GRP)),
    ("rake_mean", lambda d: d.rake([("grp", POP_GRP), ("sex", POP_SEX)])),
])
def test_post_stratify_and_rake_match_r(key, call):
    f, r = call(design("sdr")).mean(["y", "x"]).to_frame(), value(key)
    np.testing.assert_allclose(f.estimate, r["est"], rtol=1e-7)
    np.testing.assert_allclose(f.se, r["se"], rtol=1e-7)


def test_calibrate_refuses_negative_replicate_weights_as_r_fails():
    assert "singular" in RES["calibrate_linear"]["error"]
    with pytest.raises(ReplicateWeightsError, match=r"calibrate\(\).*3, 6, 8, 15"):
        design("sdr").calibrate("~x", [6000, 6000 * 5.5])


def test_subset_degf_matches_r():
    assert design("sdr").subset(DATA.grp == "a").degf() == value("subset_degf")


@pytest.mark.parametrize("method", ["mean", "asin", "beta", "xlogit"])
def test_proportion_intervals_with_weights_as_given_match_r(method):
    d = design("sdr")
    f, r = d.proportion("b", method=method).to_frame(), value(f"ciprop_{method}")
    assert f.estimate[0] == pytest.approx(r["est"], rel=TOL)
    assert f.se[0] == pytest.approx(r["se"], rel=TOL)
    np.testing.assert_allclose([f.ci_low[0], f.ci_high[0]], r["ci"], rtol=TOL)
    fb, rb = d.proportion("b", by="grp", method=method).to_frame(), value(f"ciprop_by_{method}")
    np.testing.assert_allclose(fb.estimate, rb["est"], rtol=TOL)
    np.testing.assert_allclose(fb.se, rb["se"], rtol=TOL)


def test_proportion_logit_refits_count_negative_weights_as_zero_as_r():
    d = design("sdr")
    with pytest.warns(RDifferenceWarning, match="3, 6, 8, 15"):
        f = d.proportion("b", method="logit").to_frame()
    r = value("ciprop_logit")
    assert f.estimate[0] == pytest.approx(r["est"], rel=1e-7)
    assert f.se[0] == pytest.approx(r["se"], rel=TOL)
    np.testing.assert_allclose([f.ci_low[0], f.ci_high[0]], r["ci"], rtol=1e-7)
    # R's interval is the one of the clipped weights (glm.fit: good <- weights > 0)
    np.testing.assert_allclose(r["ci"], value("ciprop_logit_clipped")["ci"], rtol=1e-7)


@pytest.mark.parametrize("statistic", ["F", "Chisq", "Wald", "adjWald"])
def test_chisq_matches_r(statistic):
    t = design("sdr").chisq("grp", "sex", statistic=statistic).to_frame()
    r = value(f"chisq_{statistic}")
    assert t.statistic[0] == pytest.approx(r["statistic"], rel=TOL)
    assert t.p[0] == pytest.approx(r["p"], rel=1e-7)


def test_table_matches_r():
    t = design("sdr").table("grp", "sex")
    r = value("table")
    got = {f"{a} {b}": v for a, b, v in zip(t["grp"], t["sex"], t.iloc[:, -1], strict=True)}
    expected = dict(zip(r["names"], r["est"], strict=True))
    assert got == pytest.approx(expected, rel=TOL)


@pytest.mark.parametrize("key, name, formula, family", [
    ("glm_gaussian", "sdr", "y ~ x + grp", "gaussian"),
    ("glm_gaussian_jk1", "jk1", "y ~ x + grp", "gaussian"),
    ("glm_quasibinomial", "sdr", "b ~ x", "quasibinomial"),
    ("glm_binomial_other", "other", "b ~ x", "quasibinomial"),
])
def test_glm_refits_count_negative_weights_as_zero_as_r(key, name, formula, family):
    with pytest.warns(RDifferenceWarning, match="negative weights"):
        f = design(name).glm(formula, family=family).to_frame()
    r = value(key)
    np.testing.assert_allclose(f.estimate, r["est"], rtol=1e-7)
    np.testing.assert_allclose(f.se, r["se"], rtol=1e-7)


def test_glm_without_negative_weights_on_its_rows_does_not_warn():
    W = DATA[[f"rw{r}" for r in range(1, 17)]].to_numpy()
    clean = DATA.assign(y=np.where((W < 0).any(axis=1), np.nan, DATA.y))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", RDifferenceWarning)
        design("sdr", clean).glm("y ~ x", family="gaussian")


def test_quantile_replicate_interval_refuses_negative_weights():
    d = design("sdr")
    with pytest.raises(ReplicateWeightsError, match=r"3, 6, 8, 15.*not monotone"):
        d.quantile("y", [0.25, 0.5], interval_type="quantile")
    # R: svyquantile(interval.type = "mean") gives estimate 16.751 and NA standard error
    q = d.quantile("y", 0.5).to_frame()
    assert q.estimate[0] == value("quantile")["est"]
    assert np.isnan(q.se[0])


def test_quantile_mean_interval_uses_the_weights_as_given_as_r():
    """Woodruff interval from the replicate variance of the estimated distribution function
    (R interval.type = "mean"); at level 0.5 the 0.1 quantile's interval is finite."""
    f, r = design("sdr").quantile("y", [0.1, 0.9], level=0.5).to_frame(), value("quantile_mean_50")
    np.testing.assert_allclose(f.estimate, r["est"], rtol=TOL)
    assert f.se[0] == pytest.approx(r["se"][0], rel=TOL)
    assert np.isnan(f.se[1]) and r["se"][1] is None
    # R's confint: lower limits, then upper limits
    assert [f.ci_low[0], f.ci_low[1], f.ci_high[0]] == pytest.approx(r["ci"][:3], rel=TOL)
    assert np.isnan(f.ci_high[1]) and r["ci"][3] is None


def test_coxph_refuses_negative_replicate_weights_as_r():
    assert "Invalid weights, must be >0" in RES["coxph"]["error"]
    from socialhealth.models import coxph
    with pytest.raises(ReplicateWeightsError, match="3, 6, 8, 15"):
        coxph(design("sdr"), time="time", event="status", covariates="y", min_events=1)


@pytest.mark.parametrize("subset", [False, True])
def test_rank_shortcut_is_not_fooled_by_negative_weights(subset):
    """With non-negative weights every w^2 <= max(W) w bounds trace(W'W); a row of huge
    weights of alternating sign outside the sampled rows breaks that bound. The exact rank
    (eigenvalues of W'W above 1e-10 times the largest, computed here) is 1, not R = 4."""
    rng = np.random.default_rng(7)
    n, R = 20000, 4
    W = rng.normal(size=(n, R))
    W[40] = 1e8 * np.array([1.0, -1.0, 1.0, -1.0])     # row 40 is not in the sampled runs
    rows = np.ones(n, dtype=bool)
    if subset:
        rows[100:200] = False
    ev = np.linalg.eigvalsh(W[rows].T @ W[rows])
    expected = int((ev > 1e-10 * ev.max()).sum())
    assert expected == 1
    assert rp._rank(W, rows) == expected
    d = sh.ReplicateDesign(pd.DataFrame({"y": rng.normal(size=n)}), weights=None,
                           replicate_weights=W, method="bootstrap")
    d = d.subset(rows) if subset else d
    assert d.degf() == expected - 1


def test_margins_refits_and_ordinal_model_refuse_negative_replicate_weights():
    from socialhealth.models import margins, ordinal
    d = design("sdr")
    with pytest.warns(RDifferenceWarning):
        model = d.glm("y ~ x + grp", family="gaussian")
    with pytest.raises(ReplicateWeightsError, match="margins.*3, 6, 8, 15"):
        margins(model, "grp")
    with pytest.raises(ReplicateWeightsError, match="ordinal model.*3, 6, 8, 15"):
        ordinal(d, "grp ~ x")
