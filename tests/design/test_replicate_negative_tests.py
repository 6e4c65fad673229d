"""svyttest / svyranktest / svyciprop(method = "likelihood") on replicate designs, including
ACS-style negative replicate weights.

Expected values: fixtures/replicate_negative/replicate_negative_tests.json, written by
make_replicate_negative_tests.R (same folder; R 4.2.2, survey 4.1-1) from the rows of
replicate_negative_reference.json (80 rows, 16 successive-difference replicates, 42 negative
replicate weights) plus a column ``y2`` stored in the JSON. ``*_sdr_clip`` entries are the same
calls with the negative replicate weights set to 0; ``*_pos`` designs have only positive
replicate weights (|w_r| + 1).

What R does, and socialhealth with it:

* svyttest(y ~ g) is svyglm(y ~ g): replicate refits count a negative weight as 0 (R's result
  equals the clipped one); socialhealth's ttest does the same, with an RDifferenceWarning.
* svyttest(y ~ 0) (one-sample, paired) is svymean: weights as given, no warning.
* svyranktest(y ~ g) (two groups) re-weights fixed rank scores: weights as given. With more
  than two groups R fails on replicate designs; socialhealth raises.
* svyciprop(method = "likelihood") gives NA on every replicate design (negative weights or
  not): confint.svyglm scales the profiled deviance by summary(fit)$dispersion, which for a
  replicate-weight fit is 80 (n) where the same fit on a linearisation design has 80/79, so
  the profile grid never reaches the cut-off. socialhealth gives the Rao-Scott interval with
  the replicate variance; checked against R's own profile machinery fed with that variance
  (grid-interpolated: 3e-3) and exactly against the defining equation (1e-9).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import socialhealth as sh
from socialhealth.errors import EstimationError, RDifferenceWarning

HERE = Path(__file__).parent / "fixtures" / "replicate_negative"
BASE = json.loads((HERE / "replicate_negative_reference.json").read_text())
FIX = json.loads((HERE / "replicate_negative_tests.json").read_text())
RES = FIX["results"]
DATA = pd.DataFrame(BASE["data"]).assign(y2=FIX["y2"])
RW = [f"rw{r}" for r in range(1, 17)]
TOL = 1e-8


def _data(kind: str) -> pd.DataFrame:
    if kind == "clip":
        return DATA.assign(**{c: DATA[c].clip(lower=0) for c in RW})
    if kind == "pos":
        return DATA.assign(**{c: DATA[c].abs() + 1 for c in RW})
    return DATA


def design(name: str) -> sh.ReplicateDesign:
    kind = {"sdr": "as given", "sdr_clip": "clip", "sdr_pos": "pos", "jk1_pos": "pos"}[name]
    return sh.ReplicateDesign(_data(kind), weights="w", replicate_weights="^rw[0-9]+$",
                              method="jk1" if name == "jk1_pos" else "sdr")


def value(key: str) -> dict:
    return RES[key]["value"]


def _check_t(f, r, tol=TOL):
    assert f.estimate[0] == pytest.approx(r["estimate"], rel=tol)
    assert f.statistic[0] == pytest.approx(r["statistic"], rel=tol)
    assert f.df[0] == r["df"]
    assert f.p[0] == pytest.approx(r["p"], rel=tol)
    if "ci" in r:
        np.testing.assert_allclose([f.ci_low[0], f.ci_high[0]], r["ci"], rtol=tol)


def test_r_two_group_ttest_equals_the_clipped_weights_and_one_sample_does_not():
    # what the fixture shows about R (the rule socialhealth copies)
    for key in ("ttest_two", "ttest_sex"):
        a, b = value(f"{key}_sdr"), value(f"{key}_sdr_clip")
        for k in ("estimate", "statistic", "p", "ci"):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12)
    for key in ("ttest_one", "ttest_paired", "rank_wilcoxon"):
        assert value(f"{key}_sdr")["statistic"] != pytest.approx(
            value(f"{key}_sdr_clip")["statistic"], rel=1e-3)


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
def test_two_group_ttest_matches_r(name):
    d = design(name)
    data = d.data.assign(isb=np.where(d.data.grp == "b", "TRUE", "FALSE"))
    d = sh.ReplicateDesign(data, weights="w", replicate_weights="^rw[0-9]+$", method="sdr")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        two = d.ttest("y ~ isb").to_frame()
        sex = d.ttest("y", by="sex").to_frame()
    diff = [w for w in rec if issubclass(w.category, RDifferenceWarning)]
    assert len(diff) == (2 if name == "sdr" else 0)
    if diff:
        assert "3, 6, 8, 15" in str(diff[0].message)
    _check_t(two, value(f"ttest_two_{name}"))
    _check_t(sex, value(f"ttest_sex_{name}"))


def test_two_group_ttest_without_negative_weights_on_its_rows_does_not_warn():
    W = DATA[RW].to_numpy()
    clean = DATA.assign(y=np.where((W < 0).any(axis=1), np.nan, DATA.y))
    d = sh.ReplicateDesign(clean, weights="w", replicate_weights="^rw[0-9]+$", method="sdr")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RDifferenceWarning)
        d.ttest("y ~ sex")


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
def test_one_sample_and_paired_ttest_match_r_with_weights_as_given(name):
    d = design(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RDifferenceWarning)
        one = d.ttest("y", mu=20).to_frame()
        paired = d.ttest("y", paired="y2").to_frame()
        paired_f = d.ttest("I(y - y2) ~ 0").to_frame()
    r = value(f"ttest_one_{name}")
    # R's estimate is that of I(y - 20); socialhealth reports the mean and mu
    assert one.estimate[0] - 20 == pytest.approx(r["estimate"], rel=TOL)
    assert one.statistic[0] == pytest.approx(r["statistic"], rel=TOL)
    assert one.p[0] == pytest.approx(r["p"], rel=TOL)
    assert one.df[0] == r["df"]
    np.testing.assert_allclose([one.ci_low[0] - 20, one.ci_high[0] - 20], r["ci"], rtol=TOL)
    _check_t(paired, value(f"ttest_paired_{name}"))
    _check_t(paired_f, value(f"ttest_paired_{name}"))


@pytest.mark.parametrize("name", ["sdr", "sdr_clip"])
@pytest.mark.parametrize("test", ["wilcoxon", "vanderWaerden", "median"])
def test_two_group_ranktest_matches_r_with_weights_as_given(name, test):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RDifferenceWarning)
        f = design(name).ranktest("y ~ sex", test=test).to_frame()
    _check_t(f, value(f"rank_{test}_{name}"))


def test_k_group_ranktest_refused_on_replicate_design_as_r_fails():
    assert "error" in RES["rank_kw_sdr"]
    with pytest.raises(EstimationError, match="replicate"):
        design("sdr").ranktest("y ~ grp", test="KruskalWallis")


# ------------------------------------------------------------------ likelihood intervals
@pytest.mark.parametrize("name", ["sdr", "sdr_pos", "jk1_pos"])
def test_r_likelihood_interval_is_na_on_replicate_designs(name):
    # R: NA for every replicate design, with or without negative weights, not only for
    # negative ones; the linearisation design on the same rows and weights has an interval
    assert value(f"lik_{name}")["ci"] == [None, None]
    assert all(np.isfinite(value("lik_tay")["ci"]))
    # the cause: the dispersion R's profile divides the deviance by
    n = len(DATA)
    assert value(f"fit_{name}")["dispersion"] == pytest.approx(n, rel=1e-9)
    assert value("fit_tay")["dispersion"] == pytest.approx(n / (n - 1), rel=1e-9)
    assert value(f"fit_{name}")["deviance"] == pytest.approx(value("fit_tay")["deviance"],
                                                             rel=1e-12)


def _likelihood(name):
    d = design(name)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f = d.proportion("b", method="likelihood").to_frame()
    negative = [w for w in rec if issubclass(w.category, RDifferenceWarning)]
    assert len(negative) == (1 if name == "sdr" else 0)
    return f.loc[0]


@pytest.mark.parametrize("name", ["sdr", "sdr_pos"])
def test_likelihood_interval_matches_r_profile_with_the_replicate_variance(name):
    # R's confint.svyglm(method = "likelihood") on the linearisation fit given the replicate
    # design's vcov and degf (R interpolates a profile grid: ~2e-3 from the exact roots)
    f = _likelihood(name)
    np.testing.assert_allclose([f.ci_low, f.ci_high], value(f"lik_swap_{name}")["ci"],
                               rtol=3e-3)


@pytest.mark.parametrize("name", ["sdr", "sdr_pos", "jk1_pos"])
def test_likelihood_interval_solves_rao_scott_equation_with_r_replicate_variance(name):
    # hand-written defining equation, with the design variance of logit(p) from R's svyglm on
    # the replicate design (negative weights counted as 0 there, as in socialhealth):
    # D(b) - D(b_hat) = var_rep * info * phi * F(0.95; 1, degf), phi = n / (n - 1) for 0/1 y
    # (Rao & Scott 1984 first-order correction of the working likelihood-ratio statistic)
    r = value(f"lik_swap_{name}")
    w = DATA.w / DATA.w.mean()
    y = DATA.b.to_numpy(dtype=float)
    n = len(y)
    s1, s0 = np.sum(w * y), np.sum(w * (1 - y))
    p = s1 / n

    def dev(b):
        return 2 * (s1 * np.logaddexp(0, -b) + s0 * np.logaddexp(0, b))

    # the information sum w~ mu (1 - mu) as R's naive.cov (at the working weights of R's last
    # IRLS step, 1e-5 from n p (1 - p) at the converged p)
    info = 1 / value(f"fit_{name}")["naive"]
    target = r["vcov"] * info * n / (n - 1) * stats.f.ppf(0.95, 1, r["df"])
    f = _likelihood(name)
    for lim in (f.ci_low, f.ci_high):
        assert dev(special.logit(lim)) - dev(special.logit(p)) == pytest.approx(target, rel=1e-8)
    assert f.ci_low < p < f.ci_high
