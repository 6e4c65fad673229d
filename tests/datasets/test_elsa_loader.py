"""ELSA loader on small Stata files written here with the real variable names, codes and the
'Hardly ever of never' label typo; expected outputs worked out by hand in the comments."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning
from socialhealth.datasets.elsa import load_elsa
from socialhealth.errors import DatasetError, LicensedDataError, SurveyFileError, UnknownWaveError

pytestmark = pytest.mark.filterwarnings("ignore::socialhealth.datasets.DesignFallbackWarning")

CESD = [  # A B C D E F G H (1 yes, 2 no); D and F are reversed
    [2, 2, 2, 1, 2, 1, 2, 2],    # 0
    [1, 1, 1, 2, 1, 2, 1, 1],    # 8
    [1, 1, 2, 1, 2, 1, 2, 1],    # 3 (A, B, H)
    [2, 2, 2, 2, 2, 2, 2, 2],    # row 4 is dropped (no weight)
    [1, 1, 1, 2, 2, 1, 2, 2],    # 4 (A, B, C, D no)
    [-9, 1, 1, 1, 1, 1, 1, 1],   # missing
    [2, 2, 2, 2, 2, 2, 2, 2],    # 2 (D no, F no)
    [1, 2, 2, 1, 1, 1, 1, 2],    # 3 (A, E, G)
]
W9 = {
    "idauniq": [1, 2, 3, 4, 5, 6, 7, 8],
    "w9xwgt":  [1.0, 2.0, 1.5, 0.0, 1.0, 2.0, 0.5, 1.0],
    "w9scwt":  [1.2, 1.8, 0.0, 0.0, 1.0, 2.2, 0.6, 0.9],
    "indager": [52, 67, 75, 80, 90, -7, 60, 55],
    "indsex":  [1, 2, 1, 2, 1, 2, 1, 2],
    "scfeela": [1, 3, 2, 1, -9, 3, 1, 2],
    "scfeelb": [1, 3, 2, 1, 2, 2, -1, 2],
    "scfeelc": [1, 2, 3, 1, 2, 3, 1, 2],
    "hehelf":  [1, 5, 4, 2, 3, -8, 2, 3],
    "marstat": [2, 1, 3, 2, 5, 4, 2, 1],
    "scchdg":  [1, 5, 2, 6, -1, 4, 1, 3],
    "scfamg":  [2, 6, 3, 1, 4, 5, 2, 4],
    "scfrdg":  [1, 4, 1, 2, 6, 6, 1, 5],
    "scorg96": [0, 1, 0, 0, 1, 1, 0, 0],
    "iintdaty": [2018] * 5 + [2019] * 3,
}
for j, letter in enumerate("ABCDEFGH"):
    W9[f"psced{letter}"] = [r[j] for r in CESD]     # lower-case 'psced' as in wave 9


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def write(path, rows=W9, drop=()):
    import pyreadstat

    df = pd.DataFrame({k: v for k, v in rows.items() if k not in drop})
    labels = {"scfeelc": {1: "Hardly ever of never", 2: "Some of the time", 3: "Often",
                          -9: "Refusal", -1: "Item not applicable"}}
    pyreadstat.write_dta(df, str(path), version=15,
                         variable_value_labels={k: v for k, v in labels.items() if k in df})
    return path


@pytest.fixture
def w9(tmp_path):
    return write(tmp_path / "wave_9_elsa_data_eul_v1.dta")


def test_elsa_wave9_by_hand(w9, tmp_path):
    import pyreadstat

    mort = tmp_path / "elsa_eol_mortality.dta"
    pyreadstat.write_dta(pd.DataFrame({"idauniq": [1, 2, 3, 5, 6],
                                       "yrdeath": [-1, 2020, -1, 2022, -1]}), str(mort))
    with pytest.warns(DesignFallbackWarning, match="weights-only"):
        sd = datasets.load("elsa", path=w9, mortality_path=mort, cache=False)
    p = sd.provenance
    assert p["wave"] == "9" and p["rows_read"] == 8 and p["rows_kept"] == 7
    assert p["weight_variable"] == "w9xwgt" and p["variables"]["cesd_a"] == "pscedA"
    mc = p["missing_codes"]
    assert mc["scfeela"] == {"-9": 1} and mc["scfeelb"] == {"-1": 1} and mc["hehelf"] == {"-8": 1}
    assert mc["scchdg"] == {"-1": 1} and mc["pscedA"] == {"-9": 1}
    # indager -7 is "collapsed at 90 plus" (the 90+ group), not a missing answer: age 90
    assert "indager" not in mc and p["top_coded"] == {"indager": {"-7": 1}}
    d = sd.data
    assert d["year"].tolist() == [2018] * 4 + [2019] * 3
    assert _vals(d["ucla3_isolated"]) == [1, 2, 3, 2, 3, 1, 2]      # by code despite the typo
    assert _vals(d["ucla3_score"]) == [3, 8, 7, None, 8, None, 6]
    assert _vals(d["lonely"]) == [False, True, True, None, True, None, True]
    assert _vals(d["lonely_ucla3"]) == _vals(d["lonely"])
    assert _vals(d["social_isolation_index"]) == [1, 5, 0, None, 4, 1, 3]
    assert _vals(d["self_rated_health"]) == ["excellent", "poor", "fair", "good", None,
                                             "very good", "good"]
    assert _vals(d["poor_health"]) == [False, True, True, False, None, False, False]
    assert _vals(d["depression"]) == [False, True, False, True, None, False, False]
    assert _vals(d["age"]) == [52.0, 67.0, 75.0, 90.0, 90.0, 60.0, 55.0]
    assert _vals(d["age_group"])[3:5] == ["75+", "75+"]
    assert _vals(d["died"]) == [False, True, False, True, False, None, None]
    assert _vals(d["followup_years"]) == [4.0, 2.0, 4.0, 4.0, 3.0, None, None]
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely_direct", "measured"] and "PScedE" in cb.loc["lonely_direct", "notes"]
    assert "scorg96" in cb.loc["social_isolation_index", "notes"]
    assert sd.design_spec["weights"] == "weight" and "strata" not in sd.design_spec
    # weighted lonely share (w9xwgt): rows 1 (F, 1.0), 2 (T, 2.0), 3 (T, 1.5), 6 (T, 2.0), 8 (T, 1.0)
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(6.5 / 7.5, rel=1e-14)


def test_elsa_self_completion_weight_and_four_point_scale(w9):
    sd = load_elsa(w9, weight="sc", health_scale="four")
    assert sd.provenance["weight_variable"] == "w9scwt" and sd.provenance["rows_kept"] == 6
    # rows 1, 2, 5, 6, 7, 8 kept; 4-point: 1 very good, 2 good, 3 fair, 4 poor; 5 not a code
    assert _vals(sd.data["self_rated_health"]) == ["very good", None, "fair", None, "good", "fair"]
    assert _vals(sd.data["poor_health"]) == [False, None, True, None, False, True]
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(4.9 / 6.1, rel=1e-14)        # rows 1 F 1.2, 2 T 1.8, 6 T 2.2, 8 T 0.9
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["died", "measured"] and "mortality_path" in cb.loc["died", "notes"]


def test_elsa_wave_without_ucla(tmp_path):
    rows = {k: v for k, v in W9.items() if not k.startswith(("scfeel", "w9"))}
    rows["w1wgt"] = W9["w9xwgt"]
    p = write(tmp_path / "wave_1_core_data_v3.dta", rows)
    sd = load_elsa(p)
    cb = sd.codebook.set_index("concept")
    assert sd.provenance["wave"] == "1"
    for c in ["ucla3_companionship", "lonely", "ucla3_score", "lonely_ucla3"]:
        assert not cb.loc[c, "measured"] and sd.data[c].isna().all()
    assert "from wave 2" in cb.loc["lonely", "notes"]
    # a wave-9 file without scfeela: lonely (custom rule) is not measured and says why
    q = write(tmp_path / "wave_9_x.dta", drop=("scfeela",))
    cb = load_elsa(q).codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"] and "scfeela" in cb.loc["lonely", "notes"]


def test_elsa_bad_input(tmp_path, w9, ess_sav_file, cache_dir, leftovers):
    with pytest.raises(UnknownWaveError):
        load_elsa(w9, wave=12)
    with pytest.raises(SurveyFileError, match="w8xwgt"):
        load_elsa(w9, wave=8)
    with pytest.raises(SurveyFileError, match="idauniq"):
        load_elsa(ess_sav_file, wave=9)
    with pytest.raises(SurveyFileError, match="w9xwgt"):
        load_elsa(write(tmp_path / "wave_9_nowt.dta", drop=("w9xwgt",)))
    with pytest.raises(DatasetError, match="health_scale"):
        load_elsa(w9, health_scale="seven")
    bad = tmp_path / "wave_9_bad.dta"
    bad.write_bytes(b"garbage" * 30)
    with pytest.raises(SurveyFileError):
        load_elsa(bad)
    empty = tmp_path / "wave_9_empty.dta"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        load_elsa(empty)
    with pytest.raises(LicensedDataError, match="5050"):
        datasets.load("elsa")
    with pytest.raises(LicensedDataError, match="ukdataservice"):
        load_elsa()
    assert leftovers(cache_dir) == []


def test_elsa_tab_edition_equals_stata(w9, tmp_path):
    """The UK Data Service tab-delimited edition (.tab: tab-separated text, numeric codes, the
    same negative missing codes) gives the same harmonised table and counts as the .dta file."""
    tab = tmp_path / "wave_9_elsa_data_eul_v1.tab"
    pd.DataFrame(W9).to_csv(tab, sep="\t", index=False)
    with pytest.warns(DesignFallbackWarning):
        a = datasets.load("elsa", path=w9, cache=False)
    with pytest.warns(DesignFallbackWarning):
        b = datasets.load("elsa", path=tab, cache=False)
    assert b.provenance["rows_read"] == 8 and b.provenance["rows_kept"] == 7
    assert b.provenance["missing_codes"] == a.provenance["missing_codes"]
    cols = ["ucla3_score", "lonely", "social_isolation_index", "self_rated_health", "depression", "age"]
    for c in cols:
        assert _vals(b.data[c]) == _vals(a.data[c]), c
    assert b.design.mean("lonely").to_frame().iloc[0]["estimate"] == pytest.approx(6.5 / 7.5, rel=1e-14)


def test_elsa_user_design_variables(tmp_path):
    import warnings

    import socialhealth as sh

    rows = dict(W9, mystrat=[1, 1, 1, 1, 2, 2, 2, 2], myclust=[1, 1, 2, 2, 3, 3, 4, -1])
    path = write(tmp_path / "wave_9_elsa_data_eul_v1.dta", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DesignFallbackWarning)     # no weights-only warning now
        sd = load_elsa(path, psu="MyClust", strata="mystrat", cache=False)   # case-insensitive
    p = sd.provenance
    # row 4 has weight 0; row 8 has PSU -1 (a negative code: missing) -> 6 rows kept
    assert p["rows_read"] == 8 and p["rows_kept"] == 6
    assert p["rows_dropped"] == {"zero or missing weight w9xwgt": 1, "no mystrat/myclust": 1}
    assert p["design_variables"] == {"psu": "myclust", "strata": "mystrat"}
    assert sd.data["psu"].tolist() == ["1", "1", "2", "3", "3", "4"]
    assert sd.data["strata"].tolist() == ["1", "1", "1", "2", "2", "2"]
    # the same design built by hand on the raw kept rows gives the same estimate and SE
    raw = pd.DataFrame(rows).iloc[[0, 1, 2, 4, 5, 6]].reset_index(drop=True)
    raw["age"] = raw["indager"].where(raw["indager"] >= 0).mask(raw["indager"] == -7, 90)
    ref = sh.SurveyDesign(raw, weights="w9xwgt", strata="mystrat", psu="myclust", nest=True,
                          lonely_psu="adjust").mean("age").to_frame()
    got = sd.design.mean("age").to_frame()
    assert got["estimate"].iloc[0] == pytest.approx(ref["estimate"].iloc[0], rel=1e-14)
    assert got["se"].iloc[0] == pytest.approx(ref["se"].iloc[0], rel=1e-14)
    # hand check of the point estimate: ages 52, 67, 75, 90, 90 (-7: aged 90+), 60 with
    # weights 1, 2, 1.5, 1, 2, 0.5 -> (52 + 134 + 112.5 + 90 + 180 + 30) / 8 = 598.5 / 8
    assert got["estimate"].iloc[0] == pytest.approx(598.5 / 8, rel=1e-14)
    assert sd.design.degf() == 4 - 2                # 4 PSUs in 2 strata


def test_elsa_design_variables_errors(w9):
    with pytest.raises(DatasetError, match="both psu= and strata="):
        load_elsa(w9, psu="myclust", cache=False)
    with pytest.raises(SurveyFileError, match="no design variable"):
        load_elsa(w9, psu="myclust", strata="mystrat", cache=False)


# --- the 'not partnered' marstat codes checked against the file's own value labels ---------
# Which marstat codes mean "not married or cohabiting" is unverified (elsa.toml [isolation]);
# a wrong set inverts the partner point of the isolation index. When the file labels marstat,
# the loader compares the labels with the codebook's set (now [1, 2]) and warns on a conflict.
def _write_labelled(path, labels):
    import pyreadstat

    df = pd.DataFrame(W9)
    pyreadstat.write_dta(df, str(path), version=15, variable_value_labels={"marstat": labels})
    return path


def test_partner_codes_conflicting_labels_warn(tmp_path):
    """Regression: a marstat coding with 1 = married, 2 = cohabiting (the opposite of the
    codebook's reading) used to give every married/cohabiting respondent the isolation point
    silently."""
    from socialhealth.errors import SocialHealthWarning

    path = _write_labelled(tmp_path / "wave_9_elsa_data_eul_v1.dta",
                           {1: "Married", 2: "Cohabiting", 3: "Single, never married",
                            4: "Widowed", 5: "Divorced", 6: "Separated"})
    with pytest.warns(SocialHealthWarning, match="partner point .* wrong"):
        sd = load_elsa(path, cache=False)
    chk = sd.provenance["partner_code_check"]
    assert chk["checked"] is True and chk["consistent"] is False and chk["variable"] == "marstat"
    # 1 and 2 counted but partnered; 3-6 not counted but unpartnered: six conflicts
    assert len(chk["conflicts"]) == 6 and chk["conflicts"][0].startswith("1 'Married' is counted")
    assert any("partner point" in n for n in sd.provenance["notes"])


def test_partner_codes_consistent_labels_pass(tmp_path):
    import warnings as _w

    from socialhealth.errors import SocialHealthWarning
    path = _write_labelled(tmp_path / "wave_9_elsa_data_eul_v1.dta",
                           {1: "Single, never married", 2: "Widowed", 3: "Married",
                            4: "Cohabiting", 5: "Civil partnership",
                            6: "Married, living with spouse"})
    with _w.catch_warnings(record=True) as got:
        _w.simplefilter("always")
        sd = load_elsa(path, cache=False)
    assert not [w for w in got if issubclass(w.category, SocialHealthWarning)
                and "partner" in str(w.message)]
    chk = sd.provenance["partner_code_check"]
    assert chk["checked"] is True and chk["consistent"] is True and chk["conflicts"] == []


def test_partner_codes_unlabelled_not_checked(w9):
    sd = load_elsa(w9, cache=False)
    chk = sd.provenance["partner_code_check"]
    assert chk["checked"] is False and "no value labels" in chk["reason"]


def test_partner_codes_warning_again_from_the_cache(tmp_path):
    """Regression: the marstat label warning came with the load that read the file only; the
    same load from the Parquet cache (a notebook run again) was silent."""
    from socialhealth.errors import SocialHealthWarning

    path = _write_labelled(tmp_path / "wave_9_elsa_data_eul_v1.dta",
                           {1: "Married", 2: "Cohabiting", 3: "Single, never married",
                            4: "Widowed", 5: "Divorced", 6: "Separated"})
    for expected in ("miss", "hit"):
        with pytest.warns(SocialHealthWarning, match="partner point .* wrong") as rec:
            sd = load_elsa(path)
        assert sd.provenance["cache"] == expected
        assert sum("partner point" in str(w.message) for w in rec) == 1


def test_elsa_wave2_interview_year_is_iintdty(tmp_path):
    """Waves 1 and 2 name the interview year iintdty (iintdaty from wave 3 on: public ELSA
    analysis code listing the name by wave). Reading only iintdaty gave every wave-2 respondent
    the first fieldwork year, 2004, also those interviewed in 2005."""
    rows = {("w2wgt" if k == "w9xwgt" else "scw2wgt" if k == "w9scwt" else
             "iintdty" if k == "iintdaty" else k.replace("psced", "PSced")): v
            for k, v in W9.items()}
    rows["iintdty"] = [2004] * 5 + [2005] * 3
    p = write(tmp_path / "wave_2_core_data_v4.dta", rows=rows)
    sd = datasets.load("elsa", path=p, cache=False)
    assert sd.provenance["wave"] == "2"
    # row 4 has no weight and is dropped
    assert sd.data["year"].tolist() == [2004] * 4 + [2005] * 3
