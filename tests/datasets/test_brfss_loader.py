"""BRFSS loader on small SAS transport (XPT v5) files written here, in CDC's LLCP layout.

Expected values are written out by hand below. The weights of the SDLONELY / SDHISOLT rows are
the CDC codebook's weighted percentages (measures_and_datasets.md §2.4: 2023 SDLONELY 3.19,
4.18, 24.48, 29.04, 38.47, 0.31 (7), 0.33 (9); 2022 SDHISOLT 4.06, 5.63, 21.62, 26.18, 41.21,
0.79 (7), 0.50 (9)), so the loader + design must give back exactly those shares.
"""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.errors import DataNotCachedError, DatasetError, SurveyFileError, UnknownWaveError

NA = np.nan

# 12 rows; row 12 has no weight (dropped); stratum 11014 keeps a single PSU (row 11)
ROWS = {
    "_STATE":   [6, 6, 6, 6, 36, 36, 36, 36, 48, 48, 72, 72],
    "_STSTR":   [11011] * 4 + [11012] * 4 + [11013] * 2 + [11014] * 2,
    "_LLCPWT":  [3.19, 4.18, 12.24, 12.24, 29.04, 20.00, 18.47, 0.31, 0.33, 40.0, 10.0, NA],
    "SDLONELY": [1, 2, 3, 3, 4, 5, 5, 7, 9, NA, NA, 1],
    "GENHLTH":  [1, 2, 3, 4, 5, 7, 9, NA, 1, 2, 3, 4],
    "MENTHLTH": [88, 5, 30, 77, 99, NA, 88, 1, 2, 3, 88, 4],
    "_AGEG5YR": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14],
    "_AGE80":   [18, 25, 30, 35, 40, 45, 50, 55, 60, 65, 80, 70],
    "SEXVAR":   [1, 2] * 6,
    "_BMI5":    [2534, NA, 3000, 1850, 4012, 2200, 2999, 3100, NA, 2500, 2600, 2700],
    "_BMI5CAT": [3, NA, 4, 1, 4, 2, 3, 4, NA, 3, 3, 3],
    "_SMOKER3": [1, 2, 3, 4, 9, 1, 4, 4, 4, 3, NA, 4],
    "_TOTINDA": [1, 2, 9, 1, 1, 2, 1, 1, 2, 1, 1, 1],
    "ADDEPEV3": [1, 2, 7, 2, 2, 1, 9, 2, 2, 2, 1, 2],
    "EMTSUPRT": [1, 2, 3, 4, 5, 7, 9, NA, 1, 1, NA, NA],
    "IYEAR":    ["2023"] * 8 + ["2024", "2024", "2023", "2023"],
}


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def write_llcp(path, year=2023, drop=(), rename=None):
    import pyreadstat

    rows = dict(ROWS)
    rows["_PSU"] = [year * 1_000_000 + i + 1 for i in range(12)]
    rows["IYEAR"] = [str(int(v) + year - 2023) for v in ROWS["IYEAR"]]
    if rename:
        rows = {rename.get(k, k): v for k, v in rows.items()}
    df = pd.DataFrame({k: v for k, v in rows.items() if k not in drop})
    for c in df.columns:
        if c != "IYEAR":
            df[c] = df[c].astype(float)
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name="LLCP")
    return path


@pytest.fixture
def llcp2023(tmp_path):
    return write_llcp(tmp_path / "LLCP2023.XPT")


def test_brfss_2023_by_hand(llcp2023):
    sd = datasets.load("brfss", path=llcp2023, columns=["SDLONELY"])
    p = sd.provenance
    assert p["rows_read"] == 12 and p["rows_kept"] == 11
    assert p["rows_dropped"] == {"missing or zero _LLCPWT": 1}
    d = sd.data
    assert d["wave"].tolist() == ["2023"] * 11
    assert d["year"].tolist() == [2023] * 8 + [2024, 2024, 2023]          # IYEAR
    assert _vals(d["strata"])[:5] == ["2023-11011"] * 4 + ["2023-11012"]
    assert _vals(d["psu"])[0] == "2023000001"
    assert _vals(d["respondent_id"])[10] == "2023-72-2023000011"          # _STATE 72
    # SDLONELY: 7, 9 and blank missing, counted per code (over the 12 rows read)
    mc = p["missing_codes"]
    assert mc["SDLONELY"] == {".": 2, "7": 1, "9": 1}
    assert p["not_asked"]["SDLONELY"] == 2 and p["not_asked"]["GENHLTH"] == 1
    assert p["missing_code_meanings"]["."].startswith("blank")
    assert mc["GENHLTH"] == {".": 1, "7": 1, "9": 1}
    assert mc["MENTHLTH"] == {".": 1, "77": 1, "99": 1}
    assert mc["_AGEG5YR"] == {"14": 1}
    assert mc["_TOTINDA"] == {"9": 1} and mc["_SMOKER3"] == {".": 1, "9": 1}
    assert mc["ADDEPEV3"] == {"7": 1, "9": 1}
    assert _vals(d["lonely_direct"]) == ["Always", "Usually", "Sometimes", "Sometimes", "Rarely",
                                         "Never", "Never", None, None, None, None]
    assert list(d["lonely_direct"].cat.categories) == ["Never", "Rarely", "Sometimes", "Usually", "Always"]
    assert _vals(d["lonely"]) == [True, True, False, False, False, False, False, None, None, None, None]
    assert _vals(d["lonely_cdc"]) == [True, True, True, True, False, False, False, None, None, None, None]
    assert _vals(d["lonely_direct3"])[:5] == ["often or always", "often or always", "some of the time",
                                              "some of the time", "hardly ever or never"]
    assert _vals(d["self_rated_health"]) == ["excellent", "very good", "good", "fair", "poor", None,
                                             None, None, "excellent", "very good", "good"]
    assert _vals(d["poor_health"]) == [False, False, False, True, True, None, None, None, False,
                                       False, False]
    assert _vals(d["mental_health_days"]) == [0.0, 5.0, 30.0, None, None, None, 0.0, 1.0, 2.0, 3.0, 0.0]
    assert _vals(d["age_group"]) == ["18-24", "25-34", "25-34", "35-44", "35-44", "45-54", "45-54",
                                     "55-64", "55-64", "65-74", "75+"]
    assert _vals(d["sex"])[:2] == ["male", "female"]
    assert _vals(d["bmi"])[:6] == [25.34, None, 30.0, 18.5, 40.12, 22.0]
    assert _vals(d["obese"]) == [False, None, True, False, True, False, False, True, None, False, False]
    assert _vals(d["smoker"]) == [True, True, False, False, None, True, False, False, False, False, None]
    assert _vals(d["physically_inactive"]) == [False, True, None, False, False, True, False, False,
                                               True, False, False]
    assert _vals(d["depression"]) == [True, False, None, False, False, True, None, False, False, False, True]
    assert _vals(d["social_support"]) == [True, True, False, False, False, None, None, None, True, True, None]
    assert _vals(d["region"])[:5] == ["CA", "CA", "CA", "CA", "NY"] and _vals(d["region"])[10] == "PR"
    assert d["SDLONELY"].isna().tolist() == [False] * 7 + [True] * 4     # source column, codes -> NaN
    cb = sd.codebook.set_index("concept")
    assert cb.loc["lonely", "measured"] and "always, usually OR sometimes" in cb.loc["lonely", "notes"]
    assert not cb.loc["isolated_feeling", "measured"]            # SDHISOLT is not in 2023
    assert d["isolated_feeling"].isna().all()
    assert not cb.loc["ucla3_score", "measured"]
    # design: 4 strata, 11 PSUs (one per respondent); 11014 has a single PSU (lonely: adjust)
    assert d["strata"].nunique() == 4 and d["psu"].nunique() == 11
    assert sd.design_spec["lonely_psu"] == "adjust" and sd.design_spec["nest"] is True
    # CDC codebook anchor: weighted shares among the 7 non-blank codes are the codebook %;
    # the loader leaves 7/9 out of the denominator: 100 - 0.31 - 0.33 = 99.36
    des = sd.design
    est = des.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx((3.19 + 4.18) / 99.36, rel=1e-12)
    est = des.mean("lonely_cdc").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx((3.19 + 4.18 + 24.48) / 99.36, rel=1e-12)
    for level, pct in [("Always", 3.19), ("Usually", 4.18), ("Sometimes", 24.48),
                       ("Rarely", 29.04), ("Never", 38.47)]:
        ind = np.where(d["lonely_direct"].isna(), np.nan, (d["lonely_direct"] == level).astype(float))
        share = des.assign(ind=ind).mean("ind").to_frame().iloc[0]["estimate"]
        assert share * 99.36 == pytest.approx(pct, abs=1e-10)
    # poor health by hand: fair (12.24) + poor (29.04) over the rows with GENHLTH 1-5
    # (rows 1-5, 9, 10, 11): 3.19 + 4.18 + 12.24 + 12.24 + 29.04 + 0.33 + 40 + 10 = 111.22
    est = des.mean("poor_health").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx((12.24 + 29.04) / 111.22, rel=1e-12)


def test_brfss_2022_isolation_is_not_loneliness(tmp_path):
    p = write_llcp(tmp_path / "LLCP2022.XPT", year=2022, rename={"SDLONELY": "SDHISOLT"})
    # 2022 codebook weighted % for SDHISOLT on the same rows
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(p))
    df["_LLCPWT"] = [4.06, 5.63, 10.81, 10.81, 26.18, 20.0, 21.21, 0.79, 0.50, 40.0, 10.0, NA]
    pyreadstat.write_xport(df, str(p), file_format_version=5)
    sd = datasets.load("brfss", path=p)
    d, cb = sd.data, sd.codebook.set_index("concept")
    assert d["wave"].iloc[0] == "2022"
    for c in ["lonely", "lonely_direct", "lonely_direct3", "lonely_cdc"]:
        assert d[c].isna().all() and not cb.loc[c, "measured"]
    assert "SDHISOLT" in cb.loc["lonely", "notes"] and "not loneliness" in cb.loc["lonely", "notes"]
    assert cb.loc["isolated_feeling", "measured"]
    assert _vals(d["isolated_feeling"])[:3] == ["Always", "Usually", "Sometimes"]
    assert sd.provenance["missing_codes"]["SDHISOLT"] == {".": 2, "7": 1, "9": 1}
    # CDC 'social isolation' (always/usually/sometimes): 31.31 % with 7/9 in the denominator;
    # without them the denominator is the sum of codes 1-5, 4.06 + 5.63 + 21.62 + 26.18 + 41.21
    # = 98.70 (the published percentages are rounded: 98.70 + 0.79 + 0.50 = 99.99);
    # measures_and_datasets.md §3.13 gives 31.72 %
    est = sd.design.mean("feels_isolated").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx((4.06 + 5.63 + 21.62) / 98.70, rel=1e-12)
    assert round(100 * est, 2) == 31.72


def test_brfss_pooled_years(tmp_path):
    a = write_llcp(tmp_path / "LLCP2022.XPT", year=2022, rename={"SDLONELY": "SDHISOLT"})
    b = write_llcp(tmp_path / "LLCP2023.XPT", year=2023)
    sd = datasets.load("brfss", path=[a, b])
    d = sd.data
    assert len(d) == 22 and d["wave"].tolist() == ["2022"] * 11 + ["2023"] * 11
    w = np.array(ROWS["_LLCPWT"][:11])
    np.testing.assert_allclose(d["weight"].to_numpy(), np.concatenate([w, w]) / 2, rtol=1e-15)
    assert d["strata"].nunique() == 8                     # year-specific strata
    assert d["lonely"].iloc[:11].isna().all() and d["lonely"].iloc[11:].notna().sum() == 7
    assert sd.provenance["pool"] == "equal" and "divided by the number of years" in sd.provenance["pool_rule"]
    cb = sd.codebook.set_index("concept")
    assert cb.loc["lonely", "measured"] and "[2022]" in cb.loc["lonely", "notes"]
    # a note that is the same in both years is given once, with both years (not repeated)
    anx = cb.loc["anxiety", "notes"]
    assert anx.startswith("[2022, 2023] ") and anx.count("anxiety item") == 1, anx
    # lonely in the pooled design = the 2023 share (2022 rows are missing)
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(7.37 / 99.36, rel=1e-12)
    s2 = datasets.load("brfss", path=[a, b], pool="sample_size")
    np.testing.assert_allclose(s2.data["weight"].to_numpy(), np.concatenate([w, w]) * 11 / 22)
    # state_years: a 2022 file without Puerto Rico (_STATE 72: rows 11-12) -> PR rows of 2023
    # keep their full weight, every other state's rows are halved
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(a))
    df.loc[df["_STATE"] == 72, "_STATE"] = 48                 # Texas instead
    pyreadstat.write_xport(df, str(a), file_format_version=5)
    s3 = datasets.load("brfss", path=[a, b], pool="state_years")
    f = np.where(s3.data["region"].astype(object).to_numpy() == "PR", 1.0, 0.5)
    np.testing.assert_allclose(s3.data["weight"].to_numpy(), np.concatenate([w, w]) * f)
    assert f.tolist().count(1.0) == 1                           # row 11 of 2023
    with pytest.raises(DatasetError, match="pool="):
        datasets.load("brfss", path=[a, b], pool="average")


def test_brfss_zip_cache_and_wave(llcp2023, tmp_path):
    z = tmp_path / "LLCP2023XPT.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(llcp2023, "LLCP2023.XPT")
    a = datasets.load("brfss", path=z)
    b = datasets.load("brfss", path=z)
    assert a.provenance["cache"] == "miss" and b.provenance["cache"] == "hit"
    pd.testing.assert_frame_equal(a.data, b.data)
    assert list(a.codebook["concept"]) == list(b.codebook["concept"])
    assert b.provenance["not_asked"]["SDLONELY"] == 2
    assert datasets.load("brfss", path=llcp2023, wave=2023).provenance["rows_kept"] == 11
    with pytest.raises(SurveyFileError, match="2023"):
        datasets.load("brfss", path=llcp2023, wave=2022)
    with pytest.raises(UnknownWaveError, match="2016-2024"):
        datasets.load("brfss", path=llcp2023, wave=2015)
    renamed = tmp_path / "LLCP2021.XPT"                  # file name says 2021, _PSU says 2023
    renamed.write_bytes(llcp2023.read_bytes())
    with pytest.raises(SurveyFileError, match="file name"):
        datasets.load("brfss", path=renamed)


def test_brfss_bad_input(tmp_path, ess_sav_file, cache_dir, leftovers):
    with pytest.raises(SurveyFileError, match="_LLCPWT") as e:
        datasets.load("brfss", path=ess_sav_file)
    assert "European Social Survey" in str(e.value)
    p = write_llcp(tmp_path / "LLCP2023.XPT", drop=("_STSTR",))
    with pytest.raises(SurveyFileError, match="_STSTR"):
        datasets.load("brfss", path=p)
    p = write_llcp(tmp_path / "LLCP2023b.XPT", drop=("GENHLTH",))
    with pytest.raises(SurveyFileError, match="GENHLTH"):
        datasets.load("brfss", path=p)
    bad = tmp_path / "LLCP2023c.XPT"
    bad.write_bytes(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"\x00garbage" * 30)
    with pytest.raises(SurveyFileError):
        datasets.load("brfss", path=bad)
    empty = tmp_path / "LLCP2023d.XPT"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        datasets.load("brfss", path=empty)
    with pytest.raises(DataNotCachedError, match="fetch"):     # open data: fetch() or path=
        datasets.load("brfss", wave=2023)
    assert leftovers(cache_dir) == []


# R survey 4.1-1 on the 11 kept rows (run by hand; the script is here so it can be re-run):
#   library(survey); options(survey.lonely.psu = "adjust")
#   d <- data.frame(ststr = c(rep(11011, 4), rep(11012, 4), rep(11013, 2), 11014),
#                   psu = 2023000001 + 0:10,
#                   w = c(3.19, 4.18, 12.24, 12.24, 29.04, 20.00, 18.47, 0.31, 0.33, 40, 10),
#                   sdlonely = c(1, 2, 3, 3, 4, 5, 5, 7, 9, NA, NA),
#                   genhlth = c(1, 2, 3, 4, 5, 7, 9, NA, 1, 2, 3))
#   d$lonely <- ifelse(d$sdlonely %in% 1:2, 1, ifelse(d$sdlonely %in% 3:5, 0, NA))
#   d$poor <- ifelse(d$genhlth %in% 4:5, 1, ifelse(d$genhlth %in% 1:3, 0, NA))
#   des <- svydesign(ids = ~psu, strata = ~ststr, weights = ~w, nest = TRUE, data = d)
#   svymean(~lonely, des, na.rm = TRUE); svymean(~poor, des, na.rm = TRUE)
R_BRFSS = {"lonely": (0.0741747181964573, 0.0539204222576994),
           "poor_health": (0.371156266858479, 0.233698697052594)}


@pytest.mark.parametrize("var", sorted(R_BRFSS))
def test_brfss_design_matches_r(llcp2023, var):
    """The loader's design (year-specific strata, one PSU per respondent, lonely PSU adjusted)
    gives R's svymean estimate and SE."""
    est = datasets.load("brfss", path=llcp2023).design.mean(var).to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(R_BRFSS[var][0], rel=1e-12)
    assert est["se"] == pytest.approx(R_BRFSS[var][1], rel=1e-10)


def test_brfss_heart_disease_is_chd_or_mi(tmp_path):
    """CDC's _MICHD rule, by hand: True if CVDCRHD4 or CVDINFR4 is 1 (yes); False if both are
    2 (no); otherwise missing (7/9 are set missing and counted first)."""
    chd = [1, 1, 2, 2, 2, 7, 9, NA, 2, 1, 2, 2]
    mi = [1, 2, 1, 2, 7, 1, 2, 2, NA, NA, 9, 2]
    p = write_llcp(tmp_path / "LLCP2023.XPT")
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(p))
    df["CVDCRHD4"], df["CVDINFR4"] = [float(v) for v in chd], [float(v) for v in mi]
    pyreadstat.write_xport(df, str(p), file_format_version=5)
    sd = datasets.load("brfss", path=p)
    # row 12 (no weight) is dropped
    assert _vals(sd.data["heart_disease"]) == [True, True, True, False, None, True, None, None,
                                               None, True, None]
    mc = sd.provenance["missing_codes"]
    assert mc["CVDCRHD4"] == {"7": 1, "9": 1, ".": 1} and mc["CVDINFR4"] == {"7": 1, "9": 1, ".": 2}
    cb = sd.codebook.set_index("concept")
    assert cb.loc["heart_disease", "measured"] and "_MICHD" in cb.loc["heart_disease", "notes"]


def test_brfss_same_year_files_are_stacked(tmp_path):
    """Two files of one year (state extracts): rows appended, weights unchanged, accounting per
    file; the same respondent twice is refused."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_llcp(tmp_path / "a" / "LLCP2023.XPT")
    b = write_llcp(tmp_path / "b" / "LLCP2023.XPT")
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(b))
    df["_STATE"] = 44.0                                  # another state, same SEQNO/_PSU values
    df["_STSTR"] = df["_STSTR"] + 430000
    pyreadstat.write_xport(df, str(b), file_format_version=5)
    sd = datasets.load("brfss", path=[a, b], wave=2023)
    d, p = sd.data, sd.provenance
    assert len(d) == 22 and p["rows_read"] == 24 and p["rows_kept"] == 22
    assert p["rows_dropped"] == {"missing or zero _LLCPWT": 2}
    assert [f["rows_read"] for f in p["files"]] == [12, 12]
    assert [f["rows_dropped"] for f in p["files"]] == [{"missing or zero _LLCPWT": 1}] * 2
    w = np.array(ROWS["_LLCPWT"][:11])
    np.testing.assert_array_equal(d["weight"].to_numpy(), np.concatenate([w, w]))   # no rescaling
    assert p["missing_codes"]["SDLONELY"] == {".": 4, "7": 2, "9": 2}
    assert _vals(d["respondent_id"])[0] == "2023-6-2023000001"
    assert _vals(d["respondent_id"])[11] == "2023-44-2023000001"
    assert d["strata"].nunique() == 8 and p["wave"] == "2023"
    assert "pool" not in p and "stacked" in p
    with pytest.raises(DatasetError, match="respondent"):
        datasets.load("brfss", path=[a, a])


def _a_year_and_two_state_files(tmp_path):
    """LLCP2022 (isolation item), and two LLCP2023 files of different states: the default rows
    and a copy moved to Rhode Island (_STATE 44, its own strata, same SEQNO/_PSU values)."""
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
    y22 = write_llcp(tmp_path / "LLCP2022.XPT", year=2022, rename={"SDLONELY": "SDHISOLT"})
    a = write_llcp(tmp_path / "x" / "LLCP2023.XPT")
    b = write_llcp(tmp_path / "y" / "LLCP2023.XPT")
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(b))
    df["_STATE"] = 44.0
    df["_STSTR"] = df["_STSTR"] + 430000
    pyreadstat.write_xport(df, str(b), file_format_version=5)
    return y22, a, b


def test_brfss_states_stacked_then_years_pooled(tmp_path):
    """[2022, 2023 state A, 2023 state B]: the two 2023 files are stacked first (weights as
    they are), then the two years pooled (pool="equal": every weight / 2)."""
    y22, a, b = _a_year_and_two_state_files(tmp_path)
    sd = datasets.load("brfss", path=[y22, a, b])
    p = sd.provenance
    assert p["wave"] == "2022 + 2023" and len(sd.data) == 33
    assert [q["rows_kept"] for q in p["pooled"]] == [11, 22]
    assert [f["rows_read"] for f in p["pooled"][1]["files"]] == [12, 12]
    w = np.array(ROWS["_LLCPWT"][:11])
    np.testing.assert_array_equal(sd.data["weight"].to_numpy(), np.concatenate([w, w, w]) / 2)
    assert p["missing_codes"]["2023"]["SDLONELY"] == {".": 4, "7": 2, "9": 2}


def test_brfss_stacked_and_pooled_keep_the_population(tmp_path):
    """Regression: stacking state files or pooling years dropped provenance["population"]
    (describe printed no population, and with min_age "population: , restricted to ...");
    a state extract was described as the adults "in the United States"."""
    y22, a, b = _a_year_and_two_state_files(tmp_path)
    one = datasets.load("brfss", path=a, min_age=50).provenance["population"]
    assert one["description"] == (
        "adults aged 50 and over living in private residences or college housing in "
        "California, New York, Puerto Rico and Texas (landline and cell-phone samples); the 4 "
        "states and territories in the file")
    only_ri = datasets.load("brfss", path=b, min_age=50).provenance["population"]
    assert only_ri["description"].endswith(
        "in Rhode Island (landline and cell-phone samples); the only state in the file")
    for paths in ([a, b], [y22, a, b]):
        p = datasets.load("brfss", path=paths, min_age=50).provenance
        assert p["population"]["min_age"] == 50
        assert p["population"]["states"] == ["CA", "NY", "PR", "RI", "TX"]
        assert p["population"]["description"] == (
            "adults aged 50 and over living in private residences or college housing in "
            "California, New York, Puerto Rico, Rhode Island and Texas (landline and cell-phone "
            "samples); the 5 states and territories in the files")
        assert isinstance(p["notes"], list) and isinstance(p["data_warnings"], list)


def test_brfss_2024_heavy_drinker_is_rfdrhv9(tmp_path):
    """2024 renamed CDC's heavy-drinking flag to _RFDRHV9 (2024 LLCP codebook, USCODE24_LLCP:
    1 no, 2 yes, 9 don't know / refused / missing); the 2022/2023 name _RFDRHV8 is not in the
    2024 file. Reading _RFDRHV8 left heavy_drinker 'not measured' for every 2024 respondent."""
    flag = [1, 2, 9, NA, 1, 1, 2, 1, 1, 2, 1, 1]
    p = write_llcp(tmp_path / "LLCP2024.XPT", year=2024)
    import pyreadstat

    df, _ = pyreadstat.read_xport(str(p))
    df["_RFDRHV9"] = [float(v) for v in flag]
    pyreadstat.write_xport(df, str(p), file_format_version=5, table_name="LLCP")
    sd = datasets.load("brfss", path=p)
    d, cb = sd.data, sd.codebook.set_index("concept")
    assert d["wave"].iloc[0] == "2024"
    assert cb.loc["heavy_drinker", "measured"]
    assert "_RFDRHV9" in cb.loc["heavy_drinker", "source_variables"]
    # row 12 has no weight and is dropped; 1 -> no, 2 -> yes, 9 and blank -> missing
    assert _vals(d["heavy_drinker"]) == [False, True, None, None, False, False, True, False,
                                         False, True, False]
    assert sd.provenance["missing_codes"]["_RFDRHV9"] == {".": 1, "9": 1}
