"""load_panel for UKHLS, ELSA and the RAND HRS file: waves linked on generated native-format
files (Stata, real variable names and codes); linked row counts and weights worked out by hand
in the comments."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning
from socialhealth.errors import DatasetError, UnknownWaveError


def _write(path, cols, labels=None):
    import pyreadstat

    df = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items()})
    pyreadstat.write_dta(df, str(path), version=15, variable_value_labels=labels or {})
    return path


# ----------------------------------------------------------------------------- UKHLS
def _ukhls(folder):
    # wave 9: person 105 has a zero cross-sectional weight (dropped by the wave loader)
    _write(folder / "i_indresp.dta", {
        "pidp": [101, 102, 103, 104, 105, 106, 107, 108, 109, 110],
        "i_psu": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], "i_strata": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3],
        "i_indscui_xw": [1.0, 2.0, 0.5, 1.5, 0.0, 1.0, 2.5, 1.0, 1.0, 3.0],
        "i_sclonely": [1, 3, 2, -7, 3, -1, -2, -8, 1, 2],
        "i_scsf1": [1, 5, 4, -7, 3, 2, -1, 3, 2, 1],
        "i_dvage": [16, 24, 35, 50, 60, 70, 80, -9, 45, 30],
        "i_sex": [1, 2, 2, 1, 2, 1, 2, 1, 2, 1]})
    # wave 11: k_indscui_lw is 0 for 102 and 111; 112 was not interviewed at wave 9
    _write(folder / "k_indresp.dta", {
        "pidp": [101, 102, 103, 104, 106, 107, 111, 112],
        "k_psu": [1, 1, 2, 2, 3, 4, 5, 5], "k_strata": [1, 1, 1, 1, 2, 2, 3, 3],
        "k_indscui_xw": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "k_indscui_lw": [1.2, 0.0, 0.7, 1.5, 1.0, 2.2, 0.0, 0.8],
        "k_sclonely": [3, 1, 2, 1, 3, 1, 2, 2],
        "k_scsf1": [2, 5, 5, 1, 4, 3, 1, 1],
        "k_dvage": [18, 26, 37, 52, 72, 82, 40, 33], "k_sex": [1, 2, 2, 1, 1, 2, 1, 2]})
    return folder


def test_ukhls_two_waves_linked_by_pidp_with_longitudinal_weight(tmp_path):
    p = datasets.load_panel("ukhls", _ukhls(tmp_path), waves=[9, 11], cache=False)
    # baseline (wave 9 rows kept): 101-104, 106-110 = 9 (105 zero weight)
    # wave 11 rows (k_indscui_lw > 0): 101, 103, 104, 106, 107, 112
    # linked: 101, 103, 104, 106, 107 = 5; not in wave 11: 102, 108, 109, 110 = 4
    assert p.provenance["panel"]["accounting"] == {
        "baseline": 9, "linked": 5, "not in wave 11": 4, "weighted but not in the baseline": 1}
    assert p.data["respondent_id"].tolist() == ["101", "103", "104", "106", "107"]
    assert p.data["weight"].tolist() == [1.2, 0.7, 1.5, 1.0, 2.2]
    assert p.provenance["panel"]["weight_variable"] == "k_indscui_lw"
    assert p.provenance["panel"]["id_variable"] == "pidp"
    # baseline design: wave-9 strata / PSUs of the linked persons
    assert p.data["strata"].tolist() == ["1", "1", "1", "2", "2"]
    assert p.data["psu"].tolist() == ["1", "2", "2", "3", "4"]
    assert p.design_spec["nest"] is True and p.design_spec["strata"] == "strata"
    # scsf1 4/5 = fair/poor -> poor_health; wave 9: 101 1, 103 4, 104 -7, 106 2, 107 -1
    assert p.data["poor_health@9"].astype(object).where(p.data["poor_health@9"].notna(),
                                                        None).tolist() == [False, True, None,
                                                                           False, None]
    assert p.data["poor_health@11"].tolist() == [False, True, False, True, False]
    st = p.status.set_index("respondent_id")["status"]
    assert st["102"] == "not in wave 11" and st["101"] == "linked" and len(st) == 9


def test_ukhls_files_as_dict_and_list_give_the_same_panel(tmp_path):
    _ukhls(tmp_path)
    a = datasets.load_panel("ukhls", {9: tmp_path / "i_indresp.dta",
                                      11: tmp_path / "k_indresp.dta"}, waves=[9, 11], cache=False)
    b = datasets.load_panel("ukhls", [tmp_path / "i_indresp.dta", tmp_path / "k_indresp.dta"],
                            waves=[9, 11], cache=False)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert len(a.data) == 5


def test_ukhls_cross_sectional_weight_at_the_last_wave(tmp_path):
    p = datasets.load_panel("ukhls", _ukhls(tmp_path), waves=[9, 11], weight="xw", cache=False)
    # every wave-11 person has k_indscui_xw 1: linked 101, 102, 103, 104, 106, 107 = 6
    assert p.provenance["panel"]["accounting"]["linked"] == 6
    assert p.provenance["panel"]["weight_variable"] == "k_indscui_xw"


def test_file_panel_errors(tmp_path):
    _ukhls(tmp_path)
    with pytest.raises(UnknownWaveError, match="wave numbers"):
        datasets.load_panel("ukhls", tmp_path, waves=[2009, 2011])
    with pytest.raises(DatasetError, match="increasing"):
        datasets.load_panel("ukhls", tmp_path, waves=[11, 9])
    with pytest.raises(DatasetError, match="0 files for wave 10"):
        datasets.load_panel("ukhls", tmp_path, waves=[9, 10])
    with pytest.raises(DatasetError, match="one file per wave"):
        datasets.load_panel("ukhls", tmp_path / "i_indresp.dta", waves=[9, 11])
    with pytest.raises(DatasetError, match="no file for wave"):
        datasets.load_panel("ukhls", {9: tmp_path / "i_indresp.dta"}, waves=[9, 11])
    with pytest.raises(DatasetError, match="2 files for 3 waves"):
        datasets.load_panel("elsa", ["a.dta", "b.dta"], waves=[7, 8, 9])


# ----------------------------------------------------------------------------- ELSA
def test_elsa_waves_linked_by_idauniq_baseline_weight_warns(tmp_path):
    _write(tmp_path / "wave_8_elsa_data_eul_v2.dta", {
        "idauniq": [1, 2, 3, 4, 5, 6], "w8xwgt": [1.0, 2.0, 0.0, 1.5, 1.0, 0.5],
        "indager": [52, 67, 75, 80, 90, 60], "indsex": [1, 2, 1, 2, 1, 2],
        "hehelf": [1, 5, 4, 2, 3, 2]})
    _write(tmp_path / "wave_9_elsa_data_eul_v1.dta", {
        "idauniq": [1, 2, 4, 6, 7], "w9xwgt": [1.1, 0.0, 1.4, 0.6, 1.0],
        "indager": [54, 69, 82, 62, 70], "indsex": [1, 2, 2, 2, 1],
        "hehelf": [2, 5, 5, 2, 1]})
    with pytest.warns(DesignFallbackWarning, match="not adjusted for attrition"):
        p = datasets.load_panel("elsa", tmp_path, waves=[8, 9], cache=False)
    # baseline: 1, 2, 4, 5, 6 (3 has w8xwgt 0) = 5; wave 9 rows: 1, 4, 6, 7 (2 zero weight)
    # linked 1, 4, 6 with their w8xwgt 1.0, 1.5, 0.5; not in wave 9: 2, 5
    assert p.provenance["panel"]["accounting"] == {"baseline": 5, "linked": 3, "not in wave 9": 2}
    assert p.data["respondent_id"].tolist() == ["1", "4", "6"]
    assert p.data["weight"].tolist() == [1.0, 1.5, 0.5]
    assert p.provenance["panel"]["weight_variable"] == "w8xwgt"
    assert "strata" not in p.data.columns          # ELSA: weights only
    # hehelf 4/5 = fair/poor: wave 8 (1, 2, 2) no, no, no; wave 9 (2, 5, 2) no, yes, no
    assert p.data["poor_health@8"].tolist() == [False, False, False]
    assert p.data["poor_health@9"].tolist() == [False, True, False]
    assert p.design.mean("poor_health@9").to_frame()["estimate"].iloc[0] == pytest.approx(
        1.5 / 3.0)


# ----------------------------------------------------------------------------- HRS
RAND = {
    "hhidpn": [1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080],
    "raestrat": [1, 1, 2, 2, 3, 3, 4, 4], "raehsamp": [1, 2, 1, 2, 1, 2, 1, 1],
    "ragender": [1, 2, 1, 2, 1, 2, 1, 2],
    "r8iwstat": [1, 1, 1, 1, 1, 4, 1, 5], "r9iwstat": [1, 5, 1, 4, 7, 1, 1, 6],
    "r10iwstat": [1, 6, 5, 1, 0, 1, 9, 6],
    "r8wtresp": [2000, 3000, 1000, 0, 2500, 1500, 1000, 0],
    "r9wtresp": [1800, 0, 900, 0, 0, 1200, 1100, 0],
    "r10wtresp": [1700, 0, 0, 1300, 0, 1250, 0, 0],
    "r8shlt": [1, 5, 4, 2, 3, 3, 2, 5], "r9shlt": [2, np.nan, 5, np.nan, np.nan, 3, 4, np.nan],
    "r10shlt": [4, np.nan, np.nan, 1, np.nan, 2, np.nan, np.nan],
}


@pytest.mark.filterwarnings("ignore::socialhealth.datasets.DesignFallbackWarning")
@pytest.mark.parametrize("waves, ids, acc", [
    # wave-8 rows (iwstat 1, weight > 0): 1010, 1020, 1030, 1050, 1070 = 5
    # wave-9 rows: 1010, 1030, 1060, 1070; wave-10 rows: 1010, 1040, 1060
    ([8, 9], ["1010", "1030", "1070"], {"baseline": 5, "linked": 3, "not in wave 9": 2}),
    ([8, 10], ["1010"], {"baseline": 5, "linked": 1, "not in wave 10": 4}),
    ([8, 9, 10], ["1010"], {"baseline": 5, "linked": 1, "not in wave 9": 2,
                            "not in wave 10": 2}),
])
def test_hrs_rand_file_linked_by_hhidpn(tmp_path, waves, ids, acc):
    f = _write(tmp_path / "randhrs1992_2022v1.dta", RAND)
    p = datasets.load_panel("hrs", f, waves=waves, cache=False)
    assert p.data["respondent_id"].tolist() == ids
    assert p.provenance["panel"]["accounting"] == acc
    w8 = dict(zip(map(str, RAND["hhidpn"]), RAND["r8wtresp"]))
    assert p.data["weight"].tolist() == [w8[i] for i in ids]        # baseline r8wtresp
    assert p.data["strata"].tolist() == [{"1010": "1", "1030": "2", "1070": "4"}[i] for i in ids]
    assert p.provenance["panel"]["id_variable"] == "HHIDPN"


def test_hrs_panel_transitions_by_hand(tmp_path):
    from socialhealth import models

    f = _write(tmp_path / "randhrs1992_2022v1.dta", RAND)
    with pytest.warns(DesignFallbackWarning):
        p = datasets.load_panel("hrs", f, waves=[8, 9], cache=False)
    # linked 1010 (shlt 1 -> 2), 1030 (4 -> 5), 1070 (2 -> 4); weights 2000, 1000, 1000
    # poor_health (fair/poor): 1010 F->F, 1030 T->T, 1070 F->T
    t = models.transitions(p, "poor_health", 8, 9).to_frame()
    got = {(r.from_state, r.to_state): r.weighted for r in t.itertuples()}
    assert got == {("False", "False"): 2000.0, ("False", "True"): 1000.0,
                   ("True", "True"): 1000.0}


def test_baseline_sample_stays_gss_only(tmp_path):
    # load_panel_baseline keeps GSS rules (panstat); the wave-file panels are load_panel only
    with pytest.raises(DatasetError, match="not a linked-panel survey"):
        datasets.load_panel_baseline("ukhls", _ukhls(tmp_path), waves=[9, 11])
