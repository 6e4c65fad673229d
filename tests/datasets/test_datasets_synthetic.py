"""Loaders on small native-format files written here, with hand-checked expected outputs
(the rows are listed in conftest.py: GSS_CUM and ESS_SYN)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning
from socialhealth.errors import SurveyFileError, UnknownWaveError


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def test_gss_cumulative_by_hand(gss_cum_file):
    sd = datasets.load("gss", path=gss_cum_file, columns=["health"])
    p = sd.provenance
    # row 5 has no weight at all, row 6 has no vstrat
    assert p["rows_read"] == 7 and p["rows_kept"] == 5
    assert p["rows_dropped"] == {"no weight (wtssnrps / wtssps / wtssall all missing)": 1,
                                 "no vstrat/vpsu": 1}
    d = sd.data
    # recommended weight per row: wtssnrps, else wtssps (row 3), else wtssall (1978)
    assert d["weight"].tolist() == [1.5, 0.5, 2.0, 1.2, 1.2]
    assert p["weight_by_year"] == {"1978": "wtssall", "2018": "wtssnrps / wtssps",
                                   "2022": "wtssnrps"}
    # the design note says which weight this file used in which year, not only the releases
    assert ("first answered of wtssnrps, wtssps, wtssall; used in this file: 1978: wtssall; "
            "2018: wtssnrps / wtssps; 2022: wtssnrps. Weights across GSS releases:"
            ) in sd.design_spec["notes"]
    assert sd.design_spec["notes"] == p["design"]
    assert _vals(d["strata"]) == ["2018-1", "2018-1", "2018-2", "2022-1", "1978-1"]
    assert _vals(d["psu"]) == ["1", "2", "1", "1", "1"]
    assert _vals(d["respondent_id"]) == ["2018-1", "2018-2", "2018-3", "2022-1", "1978-5"]
    assert d["year"].tolist() == [2018, 2018, 2018, 2022, 1978]
    assert _vals(d["self_rated_health"]) == ["excellent", None, "poor", "good", "fair"]
    assert _vals(d["poor_health"]) == [False, None, True, False, True]
    assert _vals(d["sex"]) == ["male", "female", "female", "male", "male"]
    # 17 is outside the GSS age range (18-89): missing, and counted
    assert _vals(d["age"]) == [30.0, None, 89.0, None, 50.0]
    assert p["unmapped_codes"] == {"age": {"17": 1}}
    assert _vals(d["age_group"]) == ["25-34", None, "75+", None, "45-54"]
    # the more frequent of socrel / socfrend; row 2 has socrel 7 (never) and socfrend
    # unanswered: unknown (its friends' evenings could be more frequent), not "never"
    assert _vals(d["contact_in_person"]) == ["daily", None, None, "less than monthly", "weekly"]
    assert _vals(d["lives_alone"]) == [True, False, False, None, True]
    # Stata extended missing codes, counted over all 7 rows read
    mc = p["missing_codes"]
    assert mc["health"] == {".d": 1}
    assert mc["wtssnrps"] == {".i": 2, ".y": 1}
    assert mc["wtssall"] == {".y": 2}
    assert mc["vstrat"] == {".i": 1}
    assert mc["age"] == {".n": 1}
    assert mc["socfrend"] == {".i": 2} and mc["socrel"] == {".i": 1}
    assert mc["hompop"] == {".d": 1}
    assert d["health"].isna().tolist() == [False, True, False, False, False]
    # concepts the file lacks: all missing, with a "not measured" codebook row
    cb = sd.codebook.set_index("concept")
    for c in ["lonely", "ucla3_score", "died", "social_support"]:
        assert not cb.loc[c, "measured"] and d[c].isna().all()
    # the design: weighted share in poor health = (2.0 + 1.2) / (1.5 + 2.0 + 1.2 + 1.2)
    est = sd.design.mean("poor_health").to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(3.2 / 5.9, rel=1e-14)


def test_gss_cumulative_weight_and_year_options(gss_cum_file):
    sd = datasets.load("gss", path=gss_cum_file, weight="wtssall")
    assert sd.provenance["rows_kept"] == 4          # rows 4 and 5 lack wtssall; row 6 vstrat
    assert sd.provenance["rows_dropped"] == {"no weight (wtssall all missing)": 2,
                                             "no vstrat/vpsu": 1}
    assert sd.data["weight"].tolist() == [1.0, 1.0, 1.0, 1.2]
    sd = datasets.load("gss", path=gss_cum_file, wave=2018)
    assert sd.provenance["rows_kept"] == 3 and sd.provenance["rows_dropped"]["other years"] == 4
    with pytest.raises(UnknownWaveError, match="2010"):
        datasets.load("gss", path=gss_cum_file, wave=2010)     # a GSS year absent from this file
    with pytest.raises(UnknownWaveError, match="1979"):
        datasets.load("gss", path=gss_cum_file, wave=1979)     # no GSS in 1979


def test_ess_synthetic_by_hand(ess_sav_file):
    with pytest.warns(DesignFallbackWarning):
        sd = datasets.load("ess", path=ess_sav_file, country="GB", columns=["fltlnl"])
    p = sd.provenance
    assert p["rows_read"] == 6 and p["rows_kept"] == 5
    assert p["rows_dropped"] == {"other countries": 1}
    d = sd.data
    assert d["weight"].tolist() == [2.0, 4.0, 1.0, 3.0, 2.0]      # pspwght * pweight
    assert _vals(d["lonely"]) == [False, True, None, True, False]
    assert _vals(d["lonely_direct3"]) == ["hardly ever or never", "often or always", None,
                                          "often or always", "some of the time"]
    assert _vals(d["contact_in_person"]) == ["daily", "never", "weekly", None, "less than monthly"]
    assert _vals(d["social_support"]) == [False, True, None, True, True]
    assert _vals(d["self_rated_health"]) == ["very good", "poor", "fair", None, "good"]
    assert _vals(d["age"]) == [16.0, None, 80.0, 45.0, 30.0]
    assert _vals(d["sex"]) == ["male", "female", "female", None, "male"]
    assert _vals(d["lives_alone"]) == [True, False, True, False, None]
    assert _vals(d["country"]) == ["GB"] * 5
    mc = p["missing_codes"]
    # counted over the 6 rows read (the FR row included)
    assert mc == {"fltlnl": {"8": 1}, "sclmeet": {"88": 1}, "inprdsc": {"77": 1},
                  "health": {"7": 1}, "agea": {"999": 1}, "gndr": {"9": 1}, "hhmmb": {"99": 1}}
    assert d["fltlnl"].isna().tolist() == [False, False, True, False, False]
    # weighted lonely share by hand: (4 + 3) / (2 + 4 + 3 + 2)
    est = sd.design.mean("lonely").to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(7 / 11, rel=1e-14)
    with pytest.raises(UnknownWaveError):
        datasets.load("ess", path=ess_sav_file, wave=42)
    with pytest.raises(SurveyFileError, match="round"):
        datasets.load("ess", path=ess_sav_file, wave=9)


def test_ess_zip_and_csv(ess_sav_file, tmp_path):
    import zipfile

    z = tmp_path / "ESS7XX.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(ess_sav_file, "ESS7XX.sav")
    with pytest.warns(DesignFallbackWarning):
        a = datasets.load("ess", path=z)
        b = datasets.load("ess", path=ess_sav_file)
    assert a.provenance["member"] == "ESS7XX.sav"
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.provenance["missing_codes"] == b.provenance["missing_codes"]


def test_ess_csv_declared_missing(tmp_path):
    """ESS CSV downloads have no missing metadata: the codebook's codes are set missing, counted."""
    rows = {"idno": [1, 2, 3], "cntry": ["GB"] * 3, "essround": [7, 7, 7],
            "pspwght": [1.0, 1.0, 2.0], "pweight": [1.0, 1.0, 1.0],
            "fltlnl": [3, 9, 1], "sclmeet": [77, 7, 1], "agea": [999, 40, 50],
            "gndr": [1, 2, 9], "hhmmb": [1, 88, 2], "inprdsc": [0, 1, 2], "health": [1, 2, 8]}
    p = tmp_path / "ESS7.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    with pytest.warns(DesignFallbackWarning):
        sd = datasets.load("ess", path=p)
    mc = sd.provenance["missing_codes"]
    assert mc["fltlnl"] == {"9": 1} and mc["sclmeet"] == {"77": 1} and mc["agea"] == {"999": 1}
    assert mc["gndr"] == {"9": 1} and mc["hhmmb"] == {"88": 1} and mc["health"] == {"8": 1}
    assert _vals(sd.data["lonely"]) == [True, None, False]
    assert _vals(sd.data["age"]) == [None, 40.0, 50.0]
    assert sd.provenance["unmapped_codes"] == {}


def _two_country_ess9_file(tmp_path):
    """An integrated ESS round-9 .sav with two GB and two FR respondents."""
    import pyreadstat

    df = pd.DataFrame({"idno": [1, 2, 3, 4], "cntry": ["GB", "GB", "FR", "FR"],
                       "essround": [9] * 4, "anweight": [1.0, 2.0, 1.0, 1.0],
                       "psu": [1, 2, 1, 2], "stratum": [1, 1, 1, 1],
                       "sclmeet": [1, 7, 3, 4], "inprdsc": [0, 1, 2, 3], "health": [1, 2, 3, 4],
                       "agea": [20, 30, 40, 50], "gndr": [1, 2, 1, 2], "hhmmb": [1, 2, 3, 4]})
    p = tmp_path / "ESS9e03.sav"
    pyreadstat.write_sav(df, str(p))
    return p


def test_ess_multicountry_design_keeps_countries_apart(tmp_path):
    p = _two_country_ess9_file(tmp_path)
    sd = datasets.load("ess", path=p)
    assert _vals(sd.data["strata"]) == ["GB-1", "GB-1", "FR-1", "FR-1"]
    assert _vals(sd.data["psu"]) == ["GB-1", "GB-2", "FR-1", "FR-2"]
    sd = datasets.load("ess", path=p, country="FR")
    assert _vals(sd.data["strata"]) == ["1", "1"] and sd.provenance["rows_dropped"] == {"other countries": 2}


def test_ess_country_code_matches_ignoring_case_and_unknown_code_names_the_codes(tmp_path):
    p = _two_country_ess9_file(tmp_path)
    sd = datasets.load("ess", path=p, country=" fr", cache=False)
    assert _vals(sd.data["respondent_id"]) == ["3", "4"]
    assert sd.provenance["rows_dropped"] == {"other countries": 2}
    with pytest.raises(SurveyFileError, match=r"no respondents of country 'DE'; its cntry "
                                              r"codes: \['FR', 'GB'\]"):
        datasets.load("ess", path=p, country="DE", cache=False)


def test_ess_round7_sddf_merged_on_idno_and_country(tmp_path):
    """A round-7 file has no psu/stratum; the SDDF's are merged on idno and cntry (the same
    idno in two countries is two respondents), and a respondent without an SDDF record is
    dropped and counted."""
    import pyreadstat

    df = pd.DataFrame({"idno": [1, 2, 3, 1, 2], "cntry": ["GB", "GB", "GB", "FR", "FR"],
                       "essround": [7] * 5, "pspwght": [1.0, 2.0, 1.0, 1.0, 1.5],
                       "pweight": [0.5] * 5,
                       "sclmeet": [1, 7, 3, 4, 5], "inprdsc": [0, 1, 2, 3, 4],
                       "health": [1, 2, 3, 4, 5], "agea": [20, 30, 40, 50, 60],
                       "gndr": [1, 2, 1, 2, 1], "hhmmb": [1, 2, 3, 4, 5]})
    p = tmp_path / "ESS7e02.sav"
    pyreadstat.write_sav(df, str(p))
    sddf = pd.DataFrame({"idno": [2, 1, 1, 2], "cntry": ["GB", "GB", "FR", "FR"],
                         "psu": [11, 10, 20, 21], "stratum": [1, 1, 2, 2]})
    sp = tmp_path / "ESS7SDDF.csv"
    sddf.to_csv(sp, index=False)
    sd = datasets.load("ess", path=p, sddf_path=sp, cache=False)
    assert _vals(sd.data["respondent_id"]) == ["1", "2", "1", "2"]
    assert _vals(sd.data["psu"]) == ["GB-10", "GB-11", "FR-20", "FR-21"]
    assert _vals(sd.data["strata"]) == ["GB-1", "GB-1", "FR-2", "FR-2"]
    assert sd.provenance["rows_dropped"] == {"no psu/stratum (no SDDF record)": 1}
    assert sd.design_spec["psu"] == "psu" and sd.design_spec["nest"] is True
    np.testing.assert_allclose(sd.data["weight"], [0.5, 1.0, 0.5, 0.75])
