"""proportion() against R survey 4.1-1 svyciprop / svyby(svyciprop).

Expected values: the shared R fixture (r_survey_reference.json, make_reference.R) and
tests/design/fixtures/proportion/extra_reference.json (make_extra.R next to it).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError, MissingColumnError

METHODS = ["logit", "likelihood", "asin", "beta", "mean", "xlogit"]
# closed-form intervals: ~1e-12; logit reproduces R's IRLS so it is as tight
RTOL = {"logit": 1e-10, "asin": 1e-12, "beta": 1e-12, "mean": 1e-12, "xlogit": 1e-12}
# "likelihood": exact roots of the Rao-Scott scaled deviance; R interpolates a profile grid,
# so R's limits are off the exact ones by 3e-7..3e-3 (worst: dclus1 ell == 0, p = 0.022 in R's
# apiclus1, 0.025 in the synthetic one)
RTOL_LIKELIHOOD = 5e-3


def _indicators(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "sch.wide" in out:
        out["sch_wide"] = out["sch.wide"]
        out["schwide"] = (out["sch.wide"] == "Yes").astype(float)
    if "ell" in out:
        out["ell0"] = (out["ell"] == 0).astype(float)
    return out


@pytest.fixture(scope="module")
def designs(r_survey, ref):
    clus1 = _indicators(r_survey.data("apiclus1"))
    strat = _indicators(r_survey.data("apistrat"))
    clus2 = _indicators(r_survey.data("apiclus2"))
    nh = r_survey.data("nhanes")
    rw = pd.DataFrame(r_survey.repweights("dclus1_jk1"), columns=[f"rw{j + 1}" for j in range(15)])
    jk = pd.concat([clus1, rw], axis=1)
    return {
        "dclus1": sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc"),
        "dstrat": sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc"),
        "dclus2": sh.SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
        "dnhanes": sh.SurveyDesign(nh, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True),
        "dclus1_jk1": sh.ReplicateDesign(jk, weights="pw", replicate_weights="^rw[0-9]+$", method="jk1",
                                         scale=ref["designs"]["dclus1_jk1"]["scale"]),
    }


CASES = {  # fixture prefix -> (design, column)
    "dclus1_ell0": ("dclus1", "ell0"),
    "dclus1_schwide": ("dclus1", "schwide"),
    "dstrat_schwide": ("dstrat", "schwide"),
    "dclus2_ell0": ("dclus2", "ell0"),
    "dnhanes_hichol": ("dnhanes", "HI_CHOL"),
}


def _check(row, r, rtol, est_rtol=1e-12):
    np.testing.assert_allclose(row["estimate"], r["est"], rtol=est_rtol)
    np.testing.assert_allclose(row["se"], r["se"], rtol=1e-12)
    np.testing.assert_allclose([row["ci_low"], row["ci_high"]], [r["ci_l"], r["ci_u"]], rtol=rtol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", list(CASES))
def test_ciprop_matches_r(designs, ref, case, method):
    dname, col = CASES[case]
    r = ref["results"][f"{case}_ciprop_{method}"]["result"]
    f = designs[dname].proportion(col, method=method).to_frame()
    assert len(f) == 1 and f.loc[0, "df"] == r["df"]
    _check(f.loc[0], r, RTOL_LIKELIHOOD if method == "likelihood" else RTOL[method])


@pytest.mark.parametrize("case", ["dnhanes_hichol", "dclus1_schwide"])
def test_ciprop_logit_with_sums_in_many_row_blocks_matches_r(designs, ref, case, monkeypatch):
    # the full-sample IRLS sums are taken in row blocks (65,536 rows at a time); blocks of 97
    # rows split these samples into many blocks, and the interval must still be R's
    from socialhealth.design import proportion as proportion_module

    monkeypatch.setattr(proportion_module, "_ROWS_PER_BLOCK", 97)
    dname, col = CASES[case]
    assert len(designs[dname].data) > 97
    r = ref["results"][f"{case}_ciprop_logit"]["result"]
    _check(designs[dname].proportion(col, method="logit").to_frame().loc[0], r, RTOL["logit"])


def test_likelihood_close_to_r_on_smooth_cases(designs, ref):
    # away from the boundary R's interpolated profile is close to the exact limits: within 4e-6
    # on R survey's data, 3.1e-5 on the synthetic data (dclus1 sch.wide, lower limit)
    for case in ["dclus1_schwide", "dstrat_schwide", "dnhanes_hichol"]:
        dname, col = CASES[case]
        r = ref["results"][f"{case}_ciprop_likelihood"]["result"]
        f = designs[dname].proportion(col, method="likelihood").to_frame().loc[0]
        np.testing.assert_allclose([f.ci_low, f.ci_high], [r["ci_l"], r["ci_u"]], rtol=5e-5)


def test_likelihood_solves_the_scaled_deviance_equation(designs):
    # hand-written check of the defining equation D(b) / phi = delta * F(0.95; 1, df) at both limits
    from scipy import stats
    d = designs["dclus1"]
    y = d.data["schwide"].to_numpy()
    w = d.weights / d.weights.mean()
    p = np.sum(w * y) / np.sum(w)
    v = d.mean("schwide").se.iloc[0] ** 2
    delta = v / (p * (1 - p)) ** 2 * np.sum(w) * p * (1 - p)
    phi = np.sum(w * (y - p) ** 2) / (p * (1 - p)) / (len(y) - 1)
    f = d.proportion("schwide", method="likelihood").to_frame().loc[0]
    for lim in (f.ci_low, f.ci_high):
        dev = 2 * np.sum(w * (y * np.log(p / lim) + (1 - y) * np.log((1 - p) / (1 - lim))))
        # delta and phi are evaluated at R's IRLS fit (within ~1e-6 of the converged p used
        # here); the dispersion factor alone is 0.55% and chi-squared vs F is 16%
        assert dev / phi == pytest.approx(delta * stats.f.ppf(0.95, 1, 14), rel=2e-5)


def test_ciprop_logit_replicate_design(designs, ref):
    r = ref["results"]["dclus1_jk1_ciprop_logit"]["result"]
    f = designs["dclus1_jk1"].proportion("schwide", method="logit").to_frame()
    assert f.loc[0, "df"] == r["df"]
    _check(f.loc[0], r, 1e-10)


@pytest.mark.parametrize("method", ["asin", "beta", "mean", "xlogit"])
def test_ciprop_replicate_design_all_methods(designs, extra, method):
    r = extra[f"dclus1_jk1_ciprop_{method}"]["result"]
    f = designs["dclus1_jk1"].proportion("ell0", method=method).to_frame()
    _check(f.loc[0], r, 1e-12)


def test_ciprop_logit_replicate_separation_is_degenerate(designs, extra):
    # some jackknife replicates have no school with ell == 0: the replicate GLMs diverge and R's
    # interval is essentially (0, 1); ours too (exact digits depend on where IRLS stops)
    r = extra["dclus1_jk1_ciprop_logit"]["result"]
    f = designs["dclus1_jk1"].proportion("ell0", method="logit").to_frame().loc[0]
    assert r["ci_l"] < 1e-15 and f.ci_low < 1e-15
    assert r["ci_u"] > 1 - 1e-12 and f.ci_high > 1 - 1e-12
    np.testing.assert_allclose(f.se, r["se"], rtol=1e-12)


def _by_frame(table, by):
    t = pd.DataFrame(table)
    cols = [c for c in t.columns if c not in by]
    return t.rename(columns={cols[0]: "est", cols[1]: "se"})


@pytest.mark.parametrize("entry,design,col,by,method", [
    ("dclus1_by_stype_ciprop_beta", "dclus1", "schwide", ["stype"], "beta"),
    ("dclus1_by_stype_ciprop_logit", "dclus1", "schwide", ["stype"], "logit"),
    ("dnhanes_by_agecat_ciprop_beta", "dnhanes", "HI_CHOL", ["agecat"], "beta"),
])
def test_svyby_ciprop(designs, ref, entry, design, col, by, method):
    t = _by_frame(ref["results"][entry]["result"]["table"], by)
    f = designs[design].proportion(col, method=method, by=by[0]).to_frame()
    assert list(f[by[0]].astype(str)) == list(t[by[0]])
    np.testing.assert_allclose(f.estimate, t.est, rtol=1e-12)
    np.testing.assert_allclose(f.se, t.se, rtol=1e-12)
    np.testing.assert_allclose(f.ci_low, t.ci_l, rtol=1e-12)
    np.testing.assert_allclose(f.ci_high, t.ci_u, rtol=1e-12)


def test_svyby_domain_df(designs):
    # inside svyby each domain has its own df: the districts (PSUs) holding that school type - 1
    f = designs["dclus1"].proportion("schwide", method="beta", by="stype").to_frame()
    data = designs["dclus1"].data
    assert list(f.df) == [float(data.loc[data.stype == s, "dnum"].nunique() - 1) for s in ("E", "H", "M")]


@pytest.mark.parametrize("method", ["beta", "xlogit"])
def test_svyby_two_variables(designs, extra, method):
    t = pd.DataFrame(extra[f"dclus1_by_stype_awards_ciprop_{method}"]["result"]["table"])
    f = designs["dclus1"].proportion("schwide", method=method, by=["stype", "awards"]).to_frame()
    assert list(f.stype) == list(t.stype) and list(f.awards) == list(t.awards)
    np.testing.assert_allclose(f.estimate, t.est, rtol=1e-12)
    np.testing.assert_allclose(f.se, t.se, rtol=1e-12, atol=1e-15)
    # awards == "Yes" domains have p = 1, variance 0: R's interval is NA, ours NaN
    np.testing.assert_allclose(f.ci_low, t.ci_l.astype(float), rtol=1e-12)
    np.testing.assert_allclose(f.ci_high, t.ci_u.astype(float), rtol=1e-12)


def test_svyby_replicate_logit(designs, extra):
    t = pd.DataFrame(extra["dclus1_jk1_by_stype_ciprop_logit"]["result"]["table"])
    f = designs["dclus1_jk1"].proportion("schwide", by="stype").to_frame()
    np.testing.assert_allclose(f.estimate, t.est, rtol=1e-12)
    np.testing.assert_allclose(f.se, t.se, rtol=1e-12)
    np.testing.assert_allclose(f.ci_low, t.ci_l, rtol=1e-10)
    np.testing.assert_allclose(f.ci_high, t.ci_u, rtol=1e-10)


def test_subset_design(designs, extra):
    r = extra["dclus1_subsetE_ciprop_beta"]["result"]
    d = designs["dclus1"]
    f = d.subset(d.data.stype == "E").proportion("schwide", method="beta").to_frame().loc[0]
    _check(f, r, 1e-12)


@pytest.mark.parametrize("method", ["logit", "beta"])
def test_level_90(designs, extra, method):
    r = extra[f"dclus1_ciprop_{method}_level90"]["result"]
    est = designs["dclus1"].proportion("schwide", method=method, level=0.9)
    _check(est.to_frame().loc[0], r, 1e-10)
    # the same interval recomputed from a 95% estimate
    f = designs["dclus1"].proportion("schwide", method=method).to_frame(level=0.9).loc[0]
    _check(f, r, 1e-10)


def test_boolean_and_categorical_columns(designs):
    d = designs["dclus1"]
    d2 = d.assign(yes=d.data["sch.wide"] == "Yes")
    a = d2.proportion("yes", method="beta").to_frame()
    b = d.proportion("schwide", method="beta").to_frame()
    np.testing.assert_allclose(a[["estimate", "se", "ci_low", "ci_high"]], b[["estimate", "se", "ci_low", "ci_high"]])
    # a categorical column: one row per level, each level as its own indicator
    c = d.proportion("sch_wide", method="beta").to_frame()
    assert list(c.level) == ["No", "Yes"]
    np.testing.assert_allclose(c.loc[1, ["estimate", "se", "ci_low", "ci_high"]].astype(float),
                               b.loc[0, ["estimate", "se", "ci_low", "ci_high"]].astype(float), rtol=1e-12)
    np.testing.assert_allclose(c.estimate.sum(), 1.0)


def test_missing_values_counted(designs, ref):
    est = designs["dnhanes"].proportion("HI_CHOL", method="mean")
    n_na = int(designs["dnhanes"].data["HI_CHOL"].isna().sum())
    assert n_na > 0 and est.n_missing == n_na and est.n_rows == len(designs["dnhanes"].data) - n_na


def test_beta_uses_rows_including_missing(designs, ref):
    # Korn-Graubard n_eff uses nrow(design) (NA rows included) as R
    from scipy import stats
    est = designs["dnhanes"].proportion("HI_CHOL", method="beta")
    r = ref["results"]["dnhanes_hichol_ciprop_beta"]["result"]
    p, v = r["est"], r["se"] ** 2
    n = len(designs["dnhanes"].data)
    n_eff = p * (1 - p) / v * (stats.t.ppf(0.025, n - 1) / stats.t.ppf(0.025, 16)) ** 2
    np.testing.assert_allclose(est.extra["n_eff"][0], n_eff, rtol=1e-12)


# ----------------------------------------------------------------------------- bad input
def test_non_binary_column_names_the_values(designs):
    v = sorted(designs["dclus1"].data["api00"].unique())
    with pytest.raises(EstimationError, match=rf"'api00'.*value\(s\) {v[0]}, {v[1]}"):
        designs["dclus1"].proportion("api00")


def test_unknown_method(designs):
    with pytest.raises(EstimationError, match="wilson.*logit, likelihood"):
        designs["dclus1"].proportion("schwide", method="wilson")


def test_bad_level(designs):
    with pytest.raises(EstimationError, match="level"):
        designs["dclus1"].proportion("schwide", level=95)


def test_missing_column(designs):
    with pytest.raises(MissingColumnError):
        designs["dclus1"].proportion("schwidee")


def test_by_group_without_rows(designs):
    d = designs["dclus1"]
    d2 = d.assign(y=np.where(d.data.stype == "H", np.nan, d.data.schwide))
    with pytest.raises(EstimationError, match="stype=H"):
        d2.proportion("y", by="stype")


def test_all_missing(designs):
    d = designs["dclus1"]
    with pytest.raises(EstimationError, match="no rows"):
        d.assign(y=np.nan).proportion("y")


@pytest.mark.parametrize("method", ["logit", "beta", "xlogit"])
def test_post_stratified_design(designs, extra, method):
    # the calibration residuals enter the logit variance through design._general_vcov
    r = extra[f"dclus1_poststrat_ciprop_{method}"]["result"]
    ps = designs["dclus1"].post_stratify("stype", {"E": 4421, "H": 755, "M": 1018})
    _check(ps.proportion("schwide", method=method).to_frame().loc[0], r, 1e-10)
