"""Quantiles, variances, t-tests, chi-squared tests and tables of PPS-without-replacement
designs against R survey 4.1-1 (pps = "overton", HR(), HR(psum), ppsmat(pij) with
variance = "HT"/"YG", and "brewer").

Expected values: tests/fixtures/pps/pps_exact_stats.json, written by make_pps_exact_stats.R
(same folder) from the data, joint inclusion probabilities and psum stored in pps_exact.json
(Midzuno samples: one stratum A, three strata S, one-stage cluster C, a single-PSU stratum L).
The designs are those of test_pps.py (``_exact_design``). Tolerance 1e-8 relative to the
largest |value| of each compared vector; a missing value (R ``NA``/``NaN``) must be NaN here.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import socialhealth as sh
from socialhealth import errors

sys.path.insert(0, str(Path(__file__).parent))
from test_pps import EXDATA, _exact_design  # noqa: E402

ST = json.loads((Path(__file__).parents[1] / "fixtures" / "pps" / "pps_exact_stats.json")
                .read_text())
RES = ST["results"]
PROBS = ST["meta"]["probs"]
TOL = 1e-8
IDS = list(RES)

NEGATIVE = pytest.mark.filterwarnings("ignore:the estimated variance is negative")


def close(ours, r, tol=TOL):
    """``ours`` equals R's ``r`` (None = NA/NaN) to ``tol`` relative to the largest |r|."""
    a = np.ravel(np.asarray(ours, float))
    b = np.asarray([np.nan if v is None else v for v in np.ravel(r)], float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 0.0
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


def test_fixture_is_r_survey_4_1_1():
    assert ST["meta"]["survey"] == "4.1.1"
    assert set(IDS) == {k for k in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "pps" / "pps_exact.json").read_text())["results"]}


@NEGATIVE
@pytest.mark.parametrize("qrule", ["math", "hf7"])
@pytest.mark.parametrize("rid", IDS)
def test_quantiles_woodruff_equal_r(rid, qrule):
    """svyquantile(~y1 + y2, d, c(0.25, 0.5, 0.9), qrule =, ci = TRUE, se = TRUE): estimates,
    Woodruff ("mean") limits and SE = width / (2 t); limits beyond [0, 1] are NA in both."""
    d, r = _exact_design(rid), RES[rid][f"quantile_{qrule}"]
    f = d.quantile(["y1", "y2"], PROBS, qrule=qrule).to_frame()
    assert (f["df"] == RES[rid]["degf"]).all()
    for var in ("y1", "y2"):
        s = f[f["term"] == var]
        close(s["estimate"], r[var]["est"])
        close(s["se"], r[var]["se"])
        close(s["ci_low"], r[var]["ci_low"])
        close(s["ci_high"], r[var]["ci_high"])


@NEGATIVE
@pytest.mark.parametrize("itype", ["beta", "xlogit", "asin"])
@pytest.mark.parametrize("rid", IDS)
def test_quantile_interval_types_equal_r(rid, itype):
    """svyquantile(~y1, d, c(0.25, 0.5, 0.9), interval.type = "beta" | "xlogit" | "asin").
    Sample L at p = 0.9 has F(q) = 1 with variance 0: R's limits and SE are NaN, and so are
    ours (this raised ZeroDivisionError before)."""
    d, r = _exact_design(rid), RES[rid][f"quantile_math_{itype}"]["y1"]
    f = d.quantile("y1", PROBS, interval_type=itype).to_frame()
    close(f["estimate"], r["est"])
    close(f["se"], r["se"])
    close(f["ci_low"], r["ci_low"])
    close(f["ci_high"], r["ci_high"])


@NEGATIVE
@pytest.mark.parametrize("rid", IDS)
def test_quantile_score_interval_equal_r(rid):
    """interval.type = "score": where R stops (the statistic does not cross -+t in the search
    range, small samples at p = 0.9 and all of sample L) ours raises EstimationError."""
    d = _exact_design(rid)
    for p, r in zip(PROBS, RES[rid]["quantile_math_score"], strict=True):
        if "error" in r:
            assert "opposite sign" in r["error"]
            with pytest.raises(errors.EstimationError):
                d.quantile("y1", p, interval_type="score")
            continue
        f = d.quantile("y1", p, interval_type="score").to_frame()
        close(f["estimate"], r["est"])
        close(f["se"], r["se"])
        close(f["ci_low"], r["ci_low"])
        close(f["ci_high"], r["ci_high"])


@NEGATIVE
@pytest.mark.parametrize("rid", IDS)
def test_quantile_domains_equal_r(rid):
    """svyby(~y1, ~dom, d, svyquantile, quantiles = 0.5, ci = TRUE). R 4.1-1 cannot subset the
    cluster designs with pps = "overton" / HR() (stored error, as for svyby(svymean) in
    test_pps.py); ours answers there (domain variance checked by hand in test_pps.py)."""
    d, r = _exact_design(rid), RES[rid]["quantile_by"]
    f = d.quantile("y1", 0.5, by="dom").to_frame()
    if "error" in r:
        assert rid in ("C_overton", "C_hr") and "subscript" in r["error"]
        assert np.isfinite(f["estimate"]).all()
        return
    assert list(f["dom"]) == r["dom"]
    close(f["estimate"], r["est"])
    close(f["se"], r["se"])


@NEGATIVE
@pytest.mark.parametrize("rid", IDS)
def test_var_equal_r(rid):
    """svyvar(~y1, d) and svyvar(~y1 + y2, d): estimates and the covariance of (var y1,
    cov y1 y2, var y2) (R's 4 x 4 vcov of the column-major 2 x 2 matrix, rows 1, 2, 4)."""
    d, r = _exact_design(rid), RES[rid]
    v1 = d.var("y1").table
    close(v1["estimate"], [r["var1"]["est"]])
    close(v1["se"], [r["var1"]["se"]])
    v2 = d.var(["y1", "y2"])
    assert list(v2.table["term"]) == ["y1", "y1:y2", "y2"]
    est = np.asarray(r["var2"]["est"])
    V = np.asarray(r["var2"]["vcov"])
    keep = [0, 1, 3]
    close(v2.table["estimate"], est[keep])
    close(v2.vcov, V[np.ix_(keep, keep)])
    assert est[1] == est[2]


@NEGATIVE
@pytest.mark.parametrize("rid", IDS)
def test_ttest_equal_r(rid):
    """svyttest(y1 ~ dom, d): difference v - u, t, df = degf - 1, p and 95% interval."""
    d, r = _exact_design(rid), RES[rid]["ttest"]
    t = d.ttest("y1 ~ dom").to_frame()
    close(t["estimate"], [r["est"]])
    close(t["statistic"], [r["statistic"]])
    assert t["df"].iloc[0] == r["df"] == RES[rid]["degf"] - 1
    close(t["p"], [r["p"]])
    close([t["ci_low"].iloc[0], t["ci_high"].iloc[0]], r["ci"])
    close(t["se"], [r["est"] / r["statistic"]])


@NEGATIVE
@pytest.mark.parametrize("statistic", ["F", "Chisq", "Wald", "adjWald"])
@pytest.mark.parametrize("rid", IDS)
def test_chisq_equal_r(rid, statistic):
    """svychisq(~g + dom, d, statistic =): statistic, degrees of freedom and p. Sample L's
    table has two empty cells (see test_chisq_empty_cells_plain_design)."""
    d, r = _exact_design(rid), RES[rid][f"chisq_{statistic}"]
    x = d.chisq("g", "dom", statistic=statistic).to_frame()
    close(x["statistic"], [r["statistic"]])
    par = [x["ndf"].iloc[0]] if statistic == "Chisq" else [x["ndf"].iloc[0], x["ddf"].iloc[0]]
    close(par, r["parameter"])
    close(x["p"], [r["p"]])


@pytest.mark.parametrize("statistic", ["F", "Chisq"])
def test_chisq_empty_cells_plain_design(statistic):
    """Empty cells are not a PPS matter: with a plain probability-weighted design on sample L
    (cells a:v and c:u empty) R's Rao-Scott design effects use the log-linear contrasts with
    1/p set to 0 at the empty cells (Rao & Scott 1984, §4); ours now too (the earlier
    p-weighted linear contrasts agree only without empty cells)."""
    df = EXDATA["L"].assign(w=lambda t: 1 / t["p"])
    r = ST["chisq_plain_L"][statistic]
    x = sh.SurveyDesign(df, weights="w").chisq("g", "dom", statistic=statistic).to_frame()
    close(x["statistic"], [r["statistic"]])
    close(x["ndf"], np.ravel(r["parameter"])[:1])
    close(x["p"], [r["p"]])


def test_chisq_contrasts_agree_without_empty_cells():
    """Hand check that the two forms of the Rao-Scott matrix have the same traces when no cell
    is empty: log-linear (C' D C)^{-1} C' D V D C with D = diag(1/p) and C the OLS residuals of
    the interaction columns, and linear (C~' V0 C~)^{-1} C~' V C~ with V0 = diag(p) - p p' and C~
    the p-weighted residuals (V any covariance; here a random positive definite one)."""
    rng = np.random.default_rng(1)
    R, C = 3, 2
    cells = [(i, j) for j in range(C) for i in range(R)]
    ri = np.array([i for i, _ in cells])
    ci = np.array([j for _, j in cells])
    X1 = np.column_stack([np.ones(6)] + [(ri == i) * 1.0 for i in (1, 2)] + [(ci == 1) * 1.0])
    X2 = np.column_stack([((ri == i) & (ci == 1)) * 1.0 for i in (1, 2)])
    p = rng.dirichlet(np.ones(6))
    G = rng.normal(size=(6, 6))
    V = G @ G.T / 100
    Co = X2 - X1 @ np.linalg.lstsq(X1, X2, rcond=None)[0]
    A = Co / p[:, None]
    D1 = np.linalg.solve(Co.T @ A, A.T @ V @ A)
    B = np.linalg.solve((X1 * p[:, None]).T @ X1, (X1 * p[:, None]).T @ X2)
    Cw = X2 - X1 @ B
    D2 = np.linalg.solve(Cw.T @ (np.diag(p) - np.outer(p, p)) @ Cw, Cw.T @ V @ Cw)
    assert np.trace(D1) == pytest.approx(np.trace(D2), rel=1e-12)
    assert np.trace(D1 @ D1) == pytest.approx(np.trace(D2 @ D2), rel=1e-12)


@pytest.mark.parametrize("rid", IDS)
def test_table_equal_r(rid):
    """svytable(~g + dom, d) and svytable(~g, d): sums of the weights 1/pi_i."""
    d, r = _exact_design(rid), RES[rid]
    t = d.table("g", "dom")
    R_counts = np.asarray(r["table"]["counts"])          # rows g (a, b, c), columns dom (u, v)
    for a, g in enumerate(r["table"]["g"]):
        for b, dom in enumerate(r["table"]["dom"]):
            cell = t[(t["g"] == g) & (t["dom"] == dom)]["n"]
            close(cell, [R_counts[a, b]])
    t1 = d.table("g")
    assert list(t1["g"]) == r["table"]["g"]
    close(t1["n"], r["table1"])


def test_ppscov_fails_in_r_and_its_weighted_form_is_ppsmat():
    """R 4.1-1: pps = ppscov(cov) stops in svydesign ("argument of length 0"); ppscov(cov / pij,
    weighted = TRUE) takes the matrix as Dcheck and equals ppsmat(pij, tolerance = 0), whose
    SE ours reproduces. socialhealth has no ppscov (use ppsmat with the joint probabilities)."""
    pc = ST["ppscov"]
    assert "argument of length 0" in pc["unweighted"]["error"]
    d = _exact_design("A_ht_tol0")
    close(d.total("y1").table["se"], [pc["weighted_dcheck"]])
    assert not hasattr(sh.design, "ppscov")
