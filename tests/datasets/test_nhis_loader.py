"""NHIS loader on small Sample Adult CSV files inside a zip, as NCHS distributes them; expected
values written out by hand."""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets.nhis import load_nhis
from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError

NA = np.nan
ADULT = {
    "HHX":       ["H001", "H002", "H003", "H004", "H005", "H006", "H007", "H008"],
    "SRVY_YR":   [2024] * 8,
    "PSTRAT":    [100, 100, 100, 100, 101, 101, 102, 102],
    "PPSU":      [1, 1, 2, 2, 1, 2, 1, 2],
    "WTFA_A":    [1000, 2000, 1500, 500, 3000, 1000, 2000, 0],
    "AGEP_A":    [18, 30, 45, 97, 85, 60, 70, 40],
    "SEX_A":     [1, 2, 2, 1, 7, 2, 1, 2],
    "PHSTAT_A":  [1, 2, 3, 4, 5, 7, 9, 1],
    "LONELY_A":  [1, 2, 3, 4, 5, 8, NA, 1],
    "SUPPORT_A": [1, 5, 3, 2, 9, NA, 4, 1],
    "ANXFREQ_A": [1, 2, 3, 4, 5, 7, 8, 1],
    "DEPFREQ_A": [5, 1, 9, 2, 3, 4, 5, 1],
}


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def write_zip(path, year=2024, drop=(), rename=None):
    rows = dict(ADULT)
    rows["SRVY_YR"] = [year] * 8
    df = pd.DataFrame({(rename or {}).get(k, k): v for k, v in rows.items() if k not in drop})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"adult{year % 100}.csv", df.to_csv(index=False))
    return path


@pytest.fixture
def adult24(tmp_path):
    return write_zip(tmp_path / "adult24csv.zip")


def test_nhis_2024_by_hand(adult24):
    sd = datasets.load("nhis", path=adult24)
    p = sd.provenance
    assert p["member"] == "adult24.csv"
    assert p["rows_read"] == 8 and p["rows_kept"] == 7
    assert p["rows_dropped"] == {"zero or missing weight WTFA_A": 1}
    mc = p["missing_codes"]
    assert mc["LONELY_A"] == {"blank": 1, "8": 1} and mc["SUPPORT_A"] == {"blank": 1, "9": 1}
    assert mc["PHSTAT_A"] == {"7": 1, "9": 1} and mc["AGEP_A"] == {"97": 1}
    assert mc["SEX_A"] == {"7": 1} and mc["ANXFREQ_A"] == {"7": 1, "8": 1} and mc["DEPFREQ_A"] == {"9": 1}
    assert p["missing_code_meanings"]["8"].startswith("not ascertained")
    d = sd.data
    assert d["wave"].tolist() == ["2024"] * 7 and d["year"].tolist() == [2024] * 7
    assert _vals(d["respondent_id"])[0] == "2024-H001"
    assert _vals(d["lonely_direct"]) == ["Always", "Usually", "Sometimes", "Rarely", "Never", None, None]
    assert _vals(d["lonely"]) == [True, True, False, False, False, None, None]
    assert _vals(d["social_support"]) == [True, False, False, True, None, None, False]
    assert _vals(d["self_rated_health"]) == ["excellent", "very good", "good", "fair", "poor", None, None]
    assert _vals(d["poor_health"]) == [False, False, False, True, True, None, None]
    assert _vals(d["anxiety"]) == [True, True, False, False, False, None, None]
    assert _vals(d["depression"]) == [False, True, None, True, False, False, False]
    assert _vals(d["age"]) == [18.0, 30.0, 45.0, None, 85.0, 60.0, 70.0]
    assert _vals(d["sex"]) == ["male", "female", "female", "male", None, "female", "male"]
    # design: 3 strata, 5 PSUs; stratum 102 keeps one PSU (row 8 dropped)
    assert d["strata"].nunique() == 3 and len(set(zip(d["strata"], d["psu"]))) == 5
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(3000 / 8000, rel=1e-14)     # T 1000 + 2000; F 1500, 500, 3000


@pytest.mark.parametrize("year,support", [(2022, False), (2023, False), (2021, True), (2019, False)])
def test_nhis_years_without_the_items(tmp_path, year, support):
    p = write_zip(tmp_path / f"adult{year % 100}csv.zip", year=year,
                  drop=("LONELY_A",) + (() if support else ("SUPPORT_A",)))
    sd = load_nhis(p)
    cb = sd.codebook.set_index("concept")
    for c in ["lonely", "lonely_direct", "lonely_direct3"]:
        assert not cb.loc[c, "measured"] and sd.data[c].isna().all()
        assert cb.loc[c, "rule"] == "not measured"
    assert "2024 only" in cb.loc["lonely", "notes"]
    assert bool(cb.loc["social_support", "measured"]) is support
    if not support:
        assert "NOT 2019, 2022, 2023" in cb.loc["social_support", "notes"]


def test_nhis_variable_override_and_csv(tmp_path):
    p = write_zip(tmp_path / "adult24csv.zip", rename={"LONELY_A": "LONELYFREQ_A"})
    cb = load_nhis(p).codebook.set_index("concept")          # LONELY_A absent: says so
    assert not cb.loc["lonely", "measured"] and "LONELY_A" in cb.loc["lonely", "notes"]
    sd = load_nhis(p, variables={"lonely": "lonelyfreq_a"})    # case-insensitive match
    assert sd.provenance["variables"]["lonely"] == "LONELYFREQ_A"
    assert _vals(sd.data["lonely"])[:3] == [True, True, False]
    with pytest.raises(DatasetError, match="unknown key"):
        load_nhis(p, variables={"loneliness": "X"})
    csv = tmp_path / "adult24.csv"
    pd.DataFrame(ADULT).to_csv(csv, index=False)
    assert load_nhis(csv).provenance["rows_kept"] == 7


def test_nhis_bad_input(adult24, tmp_path, ess_sav_file, cache_dir, leftovers):
    with pytest.raises(UnknownWaveError, match="2019-2024"):
        load_nhis(adult24, wave=2018)
    with pytest.raises(SurveyFileError, match="2024"):
        load_nhis(adult24, wave=2023)
    with pytest.raises(SurveyFileError, match="WTFA_A"):
        load_nhis(ess_sav_file)
    with pytest.raises(SurveyFileError, match="PPSU"):
        load_nhis(write_zip(tmp_path / "nopsu.zip", drop=("PPSU",)))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SurveyFileError):
        load_nhis(bad)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        load_nhis(empty)
    assert leftovers(cache_dir) == []


# R survey 4.1-1 on the 7 kept rows (run by hand; the script is here so it can be re-run):
#   library(survey); options(survey.lonely.psu = "adjust")
#   d <- data.frame(pstrat = c(100, 100, 100, 100, 101, 101, 102), ppsu = c(1, 1, 2, 2, 1, 2, 1),
#                   wtfa_a = c(1000, 2000, 1500, 500, 3000, 1000, 2000),
#                   lonely_a = c(1, 2, 3, 4, 5, 8, NA), phstat_a = c(1, 2, 3, 4, 5, 7, 9))
#   d$lonely <- ifelse(d$lonely_a %in% 1:2, 1, ifelse(d$lonely_a %in% 3:5, 0, NA))
#   d$poor <- ifelse(d$phstat_a %in% 4:5, 1, ifelse(d$phstat_a %in% 1:3, 0, NA))
#   des <- svydesign(ids = ~ppsu, strata = ~pstrat, weights = ~wtfa_a, nest = TRUE, data = d)
#   svymean(~lonely, des, na.rm = TRUE); svymean(~poor, des, na.rm = TRUE)
R_NHIS = {"lonely": (0.375, 0.356989364337371),
          "poor_health": (0.4375, 0.241303831429383)}


@pytest.mark.parametrize("var", sorted(R_NHIS))
def test_nhis_design_matches_r(adult24, var):
    """The loader's design (PSUs nested in strata, stratum 102 left with one PSU: adjusted)
    gives R's svymean estimate and SE, not only the hand-computed point estimate."""
    est = datasets.load("nhis", path=adult24).design.mean(var).to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(R_NHIS[var][0], rel=1e-12)
    assert est["se"] == pytest.approx(R_NHIS[var][1], rel=1e-10)


# --- plausibility of the [U] answer-code order of LONELY_A / SUPPORT_A ---------------------
# 250 adults of equal weight. Plausible file: LONELY_A 1 (always) for 10, 5 (never) for 100;
# SUPPORT_A 1 (always) for 120, 5 (never) for 10. The reversed file swaps 1 and 5 in both.
def _write_big(path, reverse=False):
    n = 250
    lonely = [1] * 10 + [2] * 20 + [3] * 60 + [4] * 60 + [5] * 100
    support = [1] * 120 + [2] * 60 + [3] * 40 + [4] * 20 + [5] * 10
    if reverse:
        lonely = [6 - v for v in lonely]
        support = [6 - v for v in support]
    df = pd.DataFrame({"HHX": [f"H{i:04d}" for i in range(n)], "SRVY_YR": [2024] * n,
                       "PSTRAT": [100 + i % 5 for i in range(n)],
                       "PPSU": [1 + i % 2 for i in range(n)], "WTFA_A": [1000] * n,
                       "AGEP_A": [40] * n, "PHSTAT_A": [2] * n,
                       "LONELY_A": lonely, "SUPPORT_A": support})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("adult24.csv", df.to_csv(index=False))
    return path


def test_code_direction_plausible_file_passes(tmp_path):
    import warnings as _w

    from socialhealth.errors import SocialHealthWarning
    with _w.catch_warnings(record=True) as got:
        _w.simplefilter("always")
        sd = load_nhis(_write_big(tmp_path / "adult24csv.zip"), cache=False)
    assert not [w for w in got if issubclass(w.category, SocialHealthWarning)]
    chk = sd.provenance["code_direction_checks"]
    assert chk["lonely"]["plausible"] is True and chk["lonely"]["n"] == 250
    assert chk["lonely"]["share_rare"] == pytest.approx(10 / 250)       # code 1, equal weights
    assert chk["lonely"]["share_common"] == pytest.approx(100 / 250)    # code 5
    assert chk["support"]["plausible"] is True and chk["support"]["share_common"] == 0.48


def test_code_direction_reversed_file_warns(tmp_path):
    """Regression: a year whose LONELY_A / SUPPORT_A codes ran 1 = never ... 5 = always used to
    invert 'lonely' and 'social_support' silently (40% 'lonely' instead of 12%)."""
    from socialhealth.errors import SocialHealthWarning

    with pytest.warns(SocialHealthWarning) as rec:
        sd = load_nhis(_write_big(tmp_path / "adult24csv.zip", reverse=True), cache=False)
    msgs = sorted(str(w.message) for w in rec if issubclass(w.category, SocialHealthWarning))
    assert len(msgs) == 2
    assert msgs[0].startswith("LONELY_A: code 1 (expected rare) holds 40.0%")
    assert "invert the harmonised 'lonely'" in msgs[0]
    assert msgs[1].startswith("SUPPORT_A: code 5 (expected rare) holds 48.0%")
    assert "invert the harmonised 'social_support'" in msgs[1]
    chk = sd.provenance["code_direction_checks"]
    assert chk["lonely"]["plausible"] is False and chk["support"]["plausible"] is False
    assert sum("other way" in n for n in sd.provenance["notes"]) == 2


def test_code_direction_small_file_not_checked(adult24):
    sd = load_nhis(adult24, cache=False)
    chk = sd.provenance["code_direction_checks"]
    assert chk["lonely"]["checked"] is False and "fewer than 200" in chk["lonely"]["reason"]


def test_code_direction_warnings_again_from_the_cache(tmp_path):
    """Regression: the two code-direction warnings came with the load that read the file only;
    the same load from the Parquet cache (a notebook run again) was silent."""
    from socialhealth.errors import SocialHealthWarning

    path = _write_big(tmp_path / "adult24csv.zip", reverse=True)
    for expected in ("miss", "hit"):
        with pytest.warns(SocialHealthWarning) as rec:
            sd = load_nhis(path)
        assert sd.provenance["cache"] == expected
        msgs = sorted(str(w.message) for w in rec if issubclass(w.category, SocialHealthWarning)
                      and "expected rare" in str(w.message))
        assert [m.split(":")[0] for m in msgs] == ["LONELY_A", "SUPPORT_A"]
