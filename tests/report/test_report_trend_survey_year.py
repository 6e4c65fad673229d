"""The trend section goes by survey year, not by interview year.

Regression: a BRFSS year's interviews run into January-March of the next calendar year (in the
2016 Tennessee file 301 of 6,167 interviews are dated 2017), and the report's trend grouped
the pooled files by interview year: three pooled survey years gave four "years", the last
holding only the early-next-year interviews of the last file, weighted as if they were a
year's sample. The trend now takes each wave's survey year (the wave itself for BRFSS, NHIS,
GSS; for ESS rounds the year of most of the round's interviews). The expected shares below
are computed by hand from the rows written here.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.report.sections.trend import survey_years

#: per survey year: GENHLTH (4, 5 = fair or poor), _LLCPWT; the last row is interviewed in
#: January of the next year
GENHLTH = {2022: [1, 2, 4, 5, 3, 5], 2023: [1, 1, 2, 4, 3, 5], 2024: [1, 2, 2, 3, 4, 5]}
WEIGHT = [10.0, 20.0, 30.0, 15.0, 25.0, 40.0]


def _write(path, year):
    import pyreadstat

    n = 6
    df = pd.DataFrame({
        "_STATE": [6.0] * n, "_STSTR": [11011.0] * 3 + [11012.0] * 3,
        "_LLCPWT": WEIGHT, "_PSU": [float(year * 1_000_000 + i + 1) for i in range(n)],
        "GENHLTH": [float(v) for v in GENHLTH[year]],
        "_AGEG5YR": [1.0, 3.0, 5.0, 7.0, 9.0, 11.0], "_AGE80": [20.0, 32, 42, 52, 62, 72],
        "SEXVAR": [1.0, 2.0] * 3, "ADDEPEV3": [1.0, 2.0, 2.0, 1.0, 2.0, 2.0],
        "IYEAR": [str(year)] * (n - 1) + [str(year + 1)]})
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name="LLCP")
    return path


def _hand_share(year):
    poor = np.isin(GENHLTH[year], [4, 5])
    w = np.array(WEIGHT)
    return float(w[poor].sum() / w.sum())


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    d = tmp_path_factory.mktemp("brfss_trend")
    files = [_write(d / f"LLCP{y}.XPT", y) for y in (2022, 2023, 2024)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load("brfss", path=files, cache=False)


def test_interview_years_spill_into_a_fourth_year(pooled):
    """The premise: by interview year the three files span 2022-2025."""
    assert sorted(pooled.data["year"].unique()) == [2022, 2023, 2024, 2025]


def test_trend_table_is_by_survey_year_with_hand_shares(pooled):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(pooled, exposure="poor_health", outcomes=["depression"])
    sec = next(s for s in rep.sections if s.key == "trend")
    assert sec.status == "ok", sec.status
    table = sec.tables[0].frame
    assert table["year"].tolist() == [2022, 2023, 2024]
    for y, est in zip(table["year"], table["estimate"], strict=True):
        assert est == pytest.approx(_hand_share(y), rel=1e-12), y
    text = " ".join(sec.text)
    assert text.startswith("3 survey years, 2022-2024 (each survey wave at its survey year")
    assert sec.r_code[0] == "des <- update(des, survey_year = as.integer(as.character(wave)))"
    assert any(line.startswith("svyglm(poor_health ~ survey_year, design = des")
               for line in sec.r_code)


def test_survey_year_of_rounds_is_the_year_of_most_interviews():
    data = pd.DataFrame({"wave": ["7"] * 4 + ["9"] * 4,
                         "year": [2014, 2014, 2014, 2015, 2018, 2019, 2018, 2019]})
    sy, expr = survey_years(data)
    assert sy.tolist() == [2014] * 4 + [2018] * 4          # a 2-2 tie takes the earlier year
    assert expr == 'unname(c("7" = 2014, "9" = 2018)[as.character(wave)])'


def test_no_survey_year_column_when_waves_are_interview_years():
    data = pd.DataFrame({"wave": ["2016", "2018"], "year": [2016, 2018]})
    assert survey_years(data) is None
    assert survey_years(pd.DataFrame({"year": [2016, 2018]})) is None


def test_single_round_is_one_survey_year(pooled):
    """One BRFSS file whose interviews span two calendar years is one survey year."""
    one = pooled.data["wave"].astype(str).eq("2023").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.SurveyData(
            "brfss", pooled.data[one].reset_index(drop=True), pooled.codebook,
            dict(pooled.provenance), dict(pooled.design_spec)),
            exposure="poor_health", outcomes=["depression"])
    sec = next(s for s in rep.sections if s.key == "trend")
    assert "measured in 1 survey year only (2023)" in sec.status


def test_sample_table_names_the_survey_years_next_to_the_interview_years(pooled):
    """Regression: ESS round 7 read "Year(s) of interview 2014, 2015" in the sample table and
    "1 survey year (2014)" in the trend, with nothing saying why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(pooled, exposure="poor_health", outcomes=["depression"])
    table = next(t.frame for t in rep["sample"].tables)
    items = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    assert items["Year(s) of interview"] == "2022, 2023, 2024, 2025"
    assert items["Survey year(s) (the trend's years)"] == "2022, 2023, 2024"
    demo = sh.report.build(sh.datasets.load("demo"), outcomes=["depression"])
    first = next(t.frame for t in demo["sample"].tables)
    assert "Survey year(s) (the trend's years)" not in first.iloc[:, 0].tolist()
