"""describe() says whether the single-PSU rule has anything to act on.

Regression: ``describe`` printed "lonely_psu: fail" for every design, including a weights-only
ESS design with no strata, where the rule cannot apply and the line reads as a warning.
"""
from __future__ import annotations

import pandas as pd

import socialhealth as sh


def _frame(psus_per_stratum):
    rows = []
    for h, k in enumerate(psus_per_stratum):
        for j in range(k):
            rows += [{"h": h, "psu": 10 * h + j, "w": 2.0, "y": float(h + j)}] * 2
    return pd.DataFrame(rows)


def test_weights_only_design_says_the_rule_does_not_apply():
    d = sh.SurveyDesign(_frame([3]), weights="w")
    assert ("lonely_psu: fail (no stratum has a single PSU, so it does not apply)"
            in d.describe())


def test_counts_strata_with_one_psu():
    df = _frame([1, 2, 1, 3])
    d = sh.SurveyDesign(df, weights="w", psu="psu", strata="h", lonely_psu="adjust")
    assert "lonely_psu: adjust (2 strata have a single PSU)" in d.describe()
    d1 = sh.SurveyDesign(_frame([1, 2]), weights="w", psu="psu", strata="h",
                         lonely_psu="remove")
    assert "lonely_psu: remove (1 stratum has a single PSU)" in d1.describe()


def test_fail_with_single_psu_strata_is_named():
    d = sh.SurveyDesign(_frame([1, 2]), weights="w", psu="psu", strata="h")
    assert "lonely_psu: fail (1 stratum has a single PSU)" in d.describe()


def test_counts_and_weight_sums_read_as_numbers():
    """Regression: describe() printed "rows: 19602" and "weights: weight, sum 5.1777e+06"."""
    from socialhealth._text import amount

    assert amount(19602) == "19,602" and amount(5177698.4) == "5,177,698"
    assert amount(6005.53) == "6,005.53" and amount(1773.0) == "1,773" and amount(14.0) == "14"
    df = pd.DataFrame({"psu": range(12000), "w": 431.5, "y": 1.0})
    text = sh.SurveyDesign(df, weights="w", psu="psu").describe()
    assert "rows: 12,000" in text and "sum 5,178,000" in text
    assert "PSUs: 12,000, degrees of freedom: 11,999" in text
    rep = sh.SurveyDesign(df.iloc[:50], weights="w", psu="psu").to_replicate("jk1").describe()
    assert "rows: 50" in rep and "sum 21,575" in rep
