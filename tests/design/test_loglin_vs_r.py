"""Loglinear models (R ``svyloglin``) and the goodness-of-fit test (R ``svygofchisq``) against
R survey 4.1-1, plus their error paths.

Expected values: fixtures/loglin/loglin_reference.json, written by make_loglin.R (same folder,
``set.seed(20261207)``) from 24 seeded synthetic data sets of 200-600 rows stored in the JSON,
on eight design kinds: Taylor (strata + PSUs; with fpc; a subset ``z > 0``), ``as.svrepdesign``
JK1 / JKn / BRR, bootstrap replicate weights given as PSU multipliers (stored in the JSON), and
a subset of a JKn design. Factors a, b, c (2-4 levels; c missing in ~5% of the rows of every
other case) and in every third case d. Per case: five models (independence, ``update`` with
``a:b``, all two-way interactions, ``~a*b + c``, ``~a + b*c``, the saturated ``~a*b*c``),
five anova pairs (one given larger model first) with the deviance and score statistics and
their first-order, F and saddlepoint p-values, and three goodness-of-fit tests.

Tolerances: 1e-8 relative for everything (the loglinear fits are iterative, but R's
``glm`` is close enough to the exact maximum that coefficients, vcov, deviances and the
first-order and F p-values agree to 1e-8), except the saddlepoint p-values: 1e-6, because R
finds the saddlepoint with ``uniroot`` at its default tolerance (differences up to 9e-8
relative seen; socialhealth solves to machine precision).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.loglin import anova_loglin
from socialhealth.errors import EstimationError, FormulaError, MissingColumnError
from r_compare import as_array, close  # noqa: E402 - tests/_support

FIX = json.loads((Path(__file__).parent / "fixtures" / "loglin"
                  / "loglin_reference.json").read_text())
CASES = FIX["cases"]
TOL_FIT = 1e-8
TOL_SADDLE = 1e-6
TOL = 1e-8


def design(case):
    df = pd.DataFrame(case["data"])
    kind = case["kind"]
    if kind == "bootstrap":
        M = np.column_stack(case["multipliers"])            # PSU x replicate
        W = M[df["psu"].to_numpy() - 1] * df["w"].to_numpy()[:, None]
        return sh.ReplicateDesign(df, weights="w", replicate_weights=W, method="bootstrap")
    if kind in ("JK1",):
        return sh.SurveyDesign(df, weights="w", psu="psu").to_replicate("jk1")
    d = sh.SurveyDesign(df, weights="w", psu="psu", strata="st", nest=True,
                        fpc="N" if kind == "taylor_fpc" else None)
    if kind == "taylor_sub":
        return d.subset(df["z"] > 0)
    if kind == "jkn_sub":
        return d.to_replicate("jkn").subset(df["z"] > 0)
    if kind in ("JKn", "BRR"):
        return d.to_replicate(kind.lower())
    return d


def models(case, d):
    ind_f = "~a + b + c + d" if "d" in case["vars"] else "~a + b + c"
    m = {"ind": d.loglin(ind_f)}
    m["ab"] = m["ind"].update("~. + a:b")
    m["two"] = m["ind"].update("~.^2")
    m["abc"] = d.loglin("~a * b + c")
    m["bc"] = d.loglin("~a + b*c")
    if "sat" in case["results"]:
        m["sat"] = d.loglin("~a*b*c")
    return m


ANOVAS = {"an_ind_ab": ("ind", "ab"), "an_ab_two": ("ab", "two"), "an_two_ind": ("two", "ind"),
          "an_two_sat": ("two", "sat")}


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for cid, case in CASES.items():
        d = design(case)
        out[cid] = (d, models(case, d))
    return out


@pytest.mark.parametrize("cid", list(CASES))
def test_models_match_r(cid, fitted):
    case = CASES[cid]
    d, m = fitted[cid]
    assert d.degf() == case["degf"]
    for name, model in m.items():
        r = case["results"][name]
        assert "error" not in r, r
        assert list(model.coef().index) == r["names"], name
        close(model.coef(), r["coef"], TOL_FIT, f"{cid} {name} coef")
        close(model.vcov.to_numpy().ravel(order="F"), r["vcov"], TOL_FIT, f"{cid} {name} vcov")
        close(model.se(), np.sqrt(np.diag(np.reshape(as_array(r["vcov"]),
                                                     (len(r["names"]),) * 2))),
              TOL_FIT, f"{cid} {name} se")
        assert model.n == r["n"] and model.degf() == r["degf"]
        close(model.deviance(), r["deviance"], TOL_FIT, f"{cid} {name} deviance",
              scale=max(abs(r["deviance"]), 1.0))


@pytest.mark.parametrize("cid", list(CASES))
def test_anova_matches_r(cid, fitted):
    case = CASES[cid]
    _, m = fitted[cid]
    pairs = dict(ANOVAS)
    pairs["an_abc_bc_sum"] = ("abc", None)
    checked = 0
    for key, (m0, m1) in pairs.items():
        r = case["results"].get(key)
        if r is None:
            continue
        big = m[m0].update("~. + b:c") if m1 is None else m[m1]
        res = {pv: m[m0].anova(big, pval=pv).to_frame() for pv in ("chisq", "F", "saddlepoint")}
        f = res["F"]
        k = int(f["df"].iloc[0])
        if "error" in r:
            # R fails in its saddlepoint step (complex eigenvalues of a nearly singular Delta:
            # BRR / few PSUs); nothing to compare, but the statistics are still defined
            assert np.isfinite(f["statistic"]).all()
            continue
        assert k == r["k"]
        close(f["statistic"].iloc[0], r["dev"], TOL_FIT, f"{cid} {key} deviance")
        close(f["statistic"].iloc[1], r["score"], TOL_FIT, f"{cid} {key} score")
        for row, rkey in ((0, "dev_p"), (1, "score_p")):
            ours = [res[pv]["p"].iloc[row] for pv in ("chisq", "F", "saddlepoint")]
            rp = as_array(r[rkey])
            close(ours[:2], rp[:2], TOL_FIT, f"{cid} {key} {rkey}")
            close(ours[2], rp[2], TOL_SADDLE, f"{cid} {key} {rkey} saddlepoint")
            close([f["p_chisq"].iloc[row], f["p_F"].iloc[row]], rp[:2], TOL_FIT,
                  f"{cid} {key} {rkey} columns")
            assert f["p_saddlepoint"].iloc[row] == ours[2]
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("cid", list(CASES))
def test_gofchisq_matches_r(cid, fitted):
    case = CASES[cid]
    d, _ = fitted[cid]
    for var in ("a", "b", "c"):
        r = case["results"][f"gof_{var}"]
        res = d.gofchisq(var, r["p"])
        f = res.to_frame()
        close(f["statistic"], r["statistic"], TOL, f"{cid} gof {var} X2")
        close(f[["scale", "df"]].to_numpy().ravel(), r["parameter"], TOL, f"{cid} gof {var}")
        close(f["p"], r["p.value"], TOL, f"{cid} gof {var} p")
        close(res.extra["lambda"], np.sort(as_array(r["lambda"]))[::-1], TOL,
              f"{cid} gof {var} lambda")


def test_r_compatible_false_uses_design_effects(fitted):
    """Basis-invariant mode: nu from the eigenvalues of Delta; for one extra df (Delta a
    1 x 1 matrix) it equals R's numbers."""
    from scipy import stats

    _, m = fitted["c01_taylor"]
    res = m["two"].anova(m["ind"], r_compatible=False).to_frame()
    r = m["two"].anova(m["ind"]).to_frame()
    delta = m["two"].anova(m["ind"]).design_effects
    nu = delta.sum() ** 2 / (delta ** 2).sum()
    assert res["ndf"].iloc[0] == pytest.approx(nu, rel=1e-10)
    # the first-order p-value does not depend on the mode
    assert res["p_chisq"].tolist() == pytest.approx(r["p_chisq"].tolist(), rel=1e-12)
    stat = res["statistic"].iloc[0]
    ddf = res["ddf"].iloc[0]
    assert res["p_F"].iloc[0] == pytest.approx(
        stats.f.sf(stat / delta.sum(), nu, ddf), rel=1e-10)
    # a 2-level factor pair: k = 1, both modes agree
    df = pd.DataFrame(CASES["c01_taylor"]["data"])
    d = sh.SurveyDesign(df, weights="w", psu="psu", strata="st", nest=True)
    mi, mab = d.loglin("~a + b"), d.loglin("~a*b")
    if mab.degf() == 0 and len(mi.levels["a"]) == 2 and len(mi.levels["b"]) == 2:
        a1 = mi.anova(mab).to_frame()
        a2 = mi.anova(mab, r_compatible=False).to_frame()
        pd.testing.assert_frame_equal(a1, a2, rtol=1e-10)


# ----------------------------------------------------------------------------- hand checks
def _srs():
    df = pd.DataFrame({"x": ["u", "v", "w", "u", "v", "u", "u", "w"],
                       "y": ["p", "q", "p", "q", "p", "p", "q", "q"],
                       "wt": [1.0, 2.0, 1.0, 1.0, 3.0, 2.0, 1.0, 1.0]})
    return df, sh.SurveyDesign(df, weights="wt")


def test_gofchisq_statistic_by_hand():
    df, d = _srs()
    p = [0.5, 0.25, 0.25]
    obs = df.groupby("x")["wt"].sum().to_numpy()
    E = np.array(p) * obs.sum()
    res = d.gofchisq("~x", p)
    assert float(res.statistic) == pytest.approx(((obs - E) ** 2 / E).sum(), rel=1e-12)


def test_saturated_model_fits_the_table_exactly():
    df, d = _srs()
    m = d.loglin("~x*y")
    fit = m.fitted()
    assert m.degf() == 0
    np.testing.assert_allclose(fit["fitted"], fit["p"], rtol=1e-10)
    # independence model: fitted = product of the weighted margins
    mi = d.loglin("~x + y")
    px = df.groupby("x")["wt"].sum() / df["wt"].sum()
    py = df.groupby("y")["wt"].sum() / df["wt"].sum()
    f = mi.fitted()
    expect = px[f["x"]].to_numpy() * py[f["y"]].to_numpy()
    np.testing.assert_allclose(f["fitted"], expect, rtol=1e-10)
    # sum-to-zero coding: x1 = log pi(u) - mean over x of log pi, at any y
    lp = np.log(expect.reshape(2, 3))             # rows y, columns x (x fastest)
    assert float(mi.coef()["x1"]) == pytest.approx(lp[0, 0] - lp[0].mean(), rel=1e-10)


def test_result_protocol_members():
    _, d = _srs()
    m = d.loglin("~x + y")
    assert list(m.to_frame().columns) == ["term", "estimate", "se", "statistic", "p", "ci_low",
                                          "ci_high"]
    ci = m.confint(level=0.9)
    se = m.se()
    np.testing.assert_allclose(ci["ci_high"] - m.coef(), 1.6448536269514722 * se, rtol=1e-10)
    assert "x1" in str(m.summary()) and "<pre>" in m._repr_html_()
    a = m.anova(d.loglin("~x*y"))
    assert "<pre>" in a._repr_html_() and "score" in str(a.summary())
    with pytest.raises(EstimationError):
        a.coef()
    g = d.gofchisq("x", [0.5, 0.25, 0.25])
    assert "<pre>" in g._repr_html_()


# ----------------------------------------------------------------------------- errors
def test_errors():
    df, d = _srs()
    with pytest.raises(MissingColumnError, match="'nope'"):
        d.loglin("~x + nope")
    with pytest.raises(FormulaError, match="one-sided"):
        d.loglin("y ~ x")
    with pytest.raises(FormulaError, match="not hierarchical"):
        d.loglin("~x + x:y")
    with pytest.raises(FormulaError, match="cannot read"):
        d.loglin("~x + (y")
    with pytest.raises(FormulaError, match="not a factor of this table"):
        d.loglin("~x + y").update("~. + z")
    m0, m1 = d.loglin("~x + y"), d.loglin("~x*y")
    with pytest.raises(EstimationError, match="not nested"):
        anova_loglin(m0, m0)
    with pytest.raises(EstimationError, match="same table"):
        anova_loglin(d.loglin("~y + x"), m1)
    with pytest.raises(EstimationError, match="pval"):
        m0.anova(m1, pval="lincom")
    df3 = pd.DataFrame({"a": list("ppqqrr") * 2, "b": list("stst") * 3, "c": list("uuvv") * 3,
                        "wt": 1.0})
    d3 = sh.SurveyDesign(df3, weights="wt")
    with pytest.raises(EstimationError, match="not nested"):
        anova_loglin(d3.loglin("~a*b + c"), d3.loglin("~a + b*c"))
    # rows 1 and 7 are the only ones with a = p, b = t: the a x b margin (p, t) becomes empty
    df3.loc[[1, 7], "b"] = "s"
    d3 = sh.SurveyDesign(df3, weights="wt")
    with pytest.raises(EstimationError, match="proportion 0"):
        d3.loglin("~a*b + c")
    d3.loglin("~a + b + c")                     # the main effects alone are fine
    with pytest.raises(EstimationError, match="2 levels"):
        sh.SurveyDesign(df.assign(k="one"), weights="wt").loglin("~x + k")
    with pytest.raises(EstimationError, match="3 levels"):
        d.gofchisq("x", [0.5, 0.5])
    with pytest.raises(EstimationError, match="add up to"):
        d.gofchisq("x", [0.5, 0.3, 0.3])
    with pytest.raises(EstimationError, match="> 0"):
        d.gofchisq("x", [1.0, 0.0, 0.0])
    with pytest.raises(MissingColumnError, match="'nope'"):
        d.gofchisq("nope", [0.5, 0.5])
    with pytest.raises(EstimationError, match="one variable"):
        d.gofchisq("~x + y", [0.5, 0.5])


def test_formula_terms_in_r_order():
    from socialhealth.design.loglin import _parse_formula

    def labels(f, dot=None):
        terms, variables = _parse_formula(f, dot)
        return [":".join(v for v in variables if v in t) for t in terms]

    # R: attr(terms(~ ...), "term.labels")
    assert labels("~a*b + c") == ["a", "b", "c", "a:b"]
    assert labels("~(a + b + c)^2 - a:c") == ["a", "b", "c", "a:b", "b:c"]
    assert labels("~a*b*c") == ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"]
    assert labels("~b + a + a:b") == ["b", "a", "b:a"]
    terms, _ = _parse_formula("~a + b + c")
    assert labels("~. + c:a", dot=terms) == ["a", "b", "c", "a:c"]
    assert labels("~.^2", dot=terms) == ["a", "b", "c", "a:b", "a:c", "b:c"]


def test_a_margin_fixed_by_the_strata_has_standard_error_zero_not_nan():
    # stype is apistrat's stratification variable with fpc, so the design fixes its margin and
    # the variance of its coefficients is 0: the sandwich gave +-2e-18 of rounding error, and
    # the negative one printed NaN (numpy: "invalid value encountered in sqrt"). R 4.1-1 on
    # this data prints its rounding noise (SEs 2.97e-9 and 2.07e-9) and, as here,
    # sch.wide1 -0.5661177 SE 0.08723000, awards1 -0.2416209 SE 0.07770756.
    import warnings

    apistrat = sh.datasets.load_example("apistrat")
    d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        f = d.loglin("~stype + sch.wide + awards").to_frame().set_index("term")
    assert list(f.loc[["stype1", "stype2"], "se"]) == [0.0, 0.0]
    np.testing.assert_allclose(f.loc[["sch.wide1", "awards1"], "estimate"],
                               [-0.5661177, -0.2416209], rtol=1e-6)
    np.testing.assert_allclose(f.loc[["sch.wide1", "awards1"], "se"],
                               [0.08723000, 0.07770756], rtol=1e-6)


def test_anova_of_two_models_of_the_same_design_allows_rounding_differences():
    # the cell table's covariance is computed again for each model; on replicate designs it
    # comes from a multithreaded BLAS product whose last bits can differ between calls, and a
    # bitwise comparison then refused the anova now and then ("not fitted to the same table")
    apistrat = sh.datasets.load_example("apistrat")
    d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    small, large = d.loglin("~stype + sch.wide"), d.loglin("~stype * sch.wide")
    expected = small.anova(large).to_frame()
    large.prob_vcov = large.prob_vcov * (1 + 4 * np.finfo(float).eps)
    again = small.anova(large).to_frame()
    np.testing.assert_allclose(again["statistic"], expected["statistic"], rtol=1e-12)
    other = d.subset(apistrat["api00"] > 600).loglin("~stype * sch.wide")
    with pytest.raises(EstimationError, match="not fitted to the same table"):
        small.anova(other)
