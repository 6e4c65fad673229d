"""design.ttest degrees of freedom with whole PSUs missing, one-sample and paired t-tests,
against R survey 4.1-1 ``svyttest`` (Taylor and JK1 replicate designs).

Expected values: fixtures/ttest/ttest_reference.json, written by make_ttest.R from
ttest_data.csv (seeded synthetic data, make_data.py): 4 strata x 6 PSUs; ``xm`` is missing in
two whole PSUs, ``ym`` in one. R's two-sample test takes the residual df of ``svyglm``
(Taylor: degf of the rows used - 1, here 17 instead of 19; replicate: degf of the whole design
- 1); the one-sample test takes ``degf(design) - 1``. Tolerance 1e-10 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import FormulaError

HERE = Path(__file__).parent / "fixtures" / "ttest"
REF = json.loads((HERE / "ttest_reference.json").read_text())
TOL = 1e-10

CALLS = {
    "x_grp": lambda d: d.ttest("x ~ grp"),
    "xm_grp": lambda d: d.ttest("xm", by="grp"),
    "ym_grp": lambda d: d.ttest("ym ~ grp"),
    "xm_grp_2020": lambda d: d.subset(d.data.yr == 2020).ttest("xm ~ grp"),
    "x_0": lambda d: d.ttest("x ~ 0"),
    "xm_0": lambda d: d.ttest("xm"),
    "xm_1_2021": lambda d: d.subset(d.data.yr == 2021).ttest("xm ~ 1"),
    "paired_x_y": lambda d: d.ttest("I(x - y) ~ 0"),
    "paired_xm_ym": lambda d: d.ttest("xm", paired="ym"),
}


@pytest.fixture(scope="module")
def designs():
    df = pd.read_csv(HERE / "ttest_data.csv")
    reps = [c for c in df.columns if c.startswith("rw")]
    G = len(reps)
    return {
        "taylor": sh.SurveyDesign(df, weights="wt", strata="st", psu="psu"),
        "replicate": sh.ReplicateDesign(df, weights="wt", replicate_weights=reps, method="jk1",
                                        scale=(G - 1) / G),
    }


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
@pytest.mark.parametrize("case", list(CALLS))
def test_ttest_matches_r(designs, kind, case):
    r = REF[kind][case]
    f = CALLS[case](designs[kind]).to_frame().loc[0]
    assert f.df == r["df"]
    np.testing.assert_allclose([f.estimate, f.statistic, f.p, f.ci_low, f.ci_high],
                               [r["estimate"], r["statistic"], r["p"], *r["ci"]], rtol=TOL)


def test_whole_psu_missing_changes_df_as_r(designs):
    # Taylor: 24 PSUs - 4 strata = 20; xm misses PSUs 3 and 17 -> 22 - 4 - 1 = 17
    assert designs["taylor"].degf() == 20
    assert designs["taylor"].ttest("xm ~ grp").df == 17
    # replicate: R keeps the whole design's degf (23) - 1
    assert designs["replicate"].ttest("xm ~ grp").df == 22


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_glm_residual_df_matches_r(designs, kind):
    r = REF[kind]["glm_xm_grp"]
    fit = designs[kind].glm("xm ~ grp")
    assert fit.df_resid == r["df_residual"]


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_mu_equals_shifted_outcome(designs, kind):
    # R has no mu=: svyttest(I(x - 58) ~ 0) tests mean(x) - 58; hand: t = (m - 58) / se(m)
    d = designs[kind]
    one = d.ttest("x", mu=58).to_frame().loc[0]
    r = REF[kind]["x_0"]
    se = r["estimate"] / r["statistic"]
    assert one.statistic == pytest.approx((r["estimate"] - 58) / se, rel=TOL)
    assert one.estimate == pytest.approx(r["estimate"], rel=TOL)
    assert one.mu == 58


def test_paired_bad_input(designs):
    d = designs["taylor"]
    with pytest.raises(FormulaError, match="paired"):
        d.ttest("I(x - y) ~ grp")
    with pytest.raises(FormulaError, match="not both"):
        d.ttest("I(x - y) ~ 0", paired="y")


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
@pytest.mark.parametrize("statistic", ["F", "Wald", "adjWald"])
def test_chisq_keeps_whole_design_df_as_r(designs, kind, statistic):
    # svychisq's denominator df is degf of the whole design even when whole PSUs miss a
    # variable (unlike svyttest/svyglm on Taylor designs): 20 (Taylor) / 23 (replicate)
    d = designs[kind]
    xm = d.data.xm
    d = d.assign(xcat=np.where(xm.isna(), None, np.where(xm > 58, "hi", "lo")))
    r = REF[kind][f"chisq_{statistic}"]
    f = d.chisq("grp", "xcat", statistic=statistic).to_frame().loc[0]
    np.testing.assert_allclose([f.ndf, f.ddf], r["parameter"], rtol=TOL)
    stat = np.ravel(r["statistic"])[0]
    np.testing.assert_allclose([f.statistic, f.p], [stat, np.ravel(r["p"])[0]], rtol=1e-9)


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_quantile_df_of_rows_used_as_r(designs, kind):
    # svyquantile(na.rm = TRUE) drops rows missing any variable, then df = degf of the rest:
    # Taylor 22 PSUs - 4 strata = 18 (not 20); replicate rank 22 - 1 = 21 (not 23)
    d = designs[kind]
    r = REF[kind]
    f = d.quantile("xm", [0.25, 0.5]).to_frame()
    assert f.df.iloc[0] == {"taylor": 18, "replicate": 21}[kind]
    q = r["q_xm"]["xm"]
    np.testing.assert_allclose(f.estimate, q["est"], rtol=TOL)
    np.testing.assert_allclose(np.column_stack([f.ci_low, f.ci_high]), q["ci"], rtol=TOL)
    np.testing.assert_allclose(f.se, q["se"], rtol=TOL)
    # two variables: both on the rows where neither is missing (x's median = xm's here)
    f2 = d.quantile(["x", "xm"], 0.5).to_frame()
    for i, v in enumerate(["x", "xm"]):
        qq = r["q_x_xm"][v]
        np.testing.assert_allclose([f2.estimate[i], f2.ci_low[i], f2.ci_high[i], f2.se[i]],
                                   [qq["est"], *qq["ci"], qq["se"]], rtol=TOL)
    fb = d.quantile("xm", 0.5, by="grp").to_frame()
    qb = r["q_by"]
    np.testing.assert_allclose(np.column_stack([fb.estimate, fb.se, fb.ci_low, fb.ci_high]),
                               np.column_stack([qb["est"], qb["se"], qb["ci_l"], qb["ci_u"]]), rtol=TOL)
