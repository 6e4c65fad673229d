"""ONS OPN and Community Life Survey loaders (variable names unverified, configurable) on small
SPSS / Stata files written here; expected values by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning
from socialhealth.datasets.ons import load_cls, load_opn
from socialhealth.errors import DatasetError, LicensedDataError, SurveyFileError, UnknownWaveError

pytestmark = pytest.mark.filterwarnings("ignore::socialhealth.datasets.DesignFallbackWarning")

OPN = {
    "CaseNo": [1, 2, 3, 4, 5, 6, 7, 8],
    "WT":     [1.0, 2.0, 0.5, 1.5, 1.0, 2.0, 1.0, 0.0],
    "LONELY": [1, 2, 3, 4, 5, -9, 1, 2],
    "LACK":   [1, 3, 2, 1, 2, 3, -8, 1],
    "LEFT":   [1, 3, 2, 1, 1, 3, 2, 1],
    "ISOL":   [2, 3, 1, 1, 1, 3, 2, 1],
    "age":    [16, 25, 40, 55, 70, 85, 30, 44],
}
NAMES = {"weight": "WT", "lonely": "lonely", "ucla_companionship": "LACK",
         "ucla_left_out": "LEFT", "ucla_isolated": "ISOL"}


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


@pytest.fixture
def opn_sav(tmp_path):
    import pyreadstat

    p = tmp_path / "opn_2023.sav"
    pyreadstat.write_sav(pd.DataFrame(OPN), str(p),
                         missing_ranges={c: [-9, -8] for c in ["LONELY", "LACK", "LEFT", "ISOL"]},
                         variable_value_labels={"LONELY": {1: "Often/always", 2: "Some of the time",
                                                           3: "Occasionally", 4: "Hardly ever",
                                                           5: "Never", -9: "No answer"}})
    return p


def test_opn_by_hand(opn_sav):
    with pytest.warns(DesignFallbackWarning, match="unverified"):
        sd = datasets.load("opn", path=opn_sav, wave=2023, variables=NAMES, cache=False)
    p = sd.provenance
    assert p["rows_read"] == 8 and p["rows_kept"] == 7 and p["variables_unverified"] is True
    assert p["variables"]["lonely"] == "LONELY" and p["weight_variable"] == "WT"
    assert p["missing_codes"]["LONELY"] == {"-9": 1} and p["missing_codes"]["LACK"] == {"-8": 1}
    d = sd.data
    assert d["year"].tolist() == [2023] * 7
    assert _vals(d["lonely_direct"]) == ["Often/always", "Some of the time", "Occasionally",
                                         "Hardly ever", "Never", None, "Often/always"]
    assert list(d["lonely_direct"].cat.categories)[-1] == "Often/always"
    assert _vals(d["lonely"]) == [True, False, False, False, False, None, True]
    assert _vals(d["lonely_direct3"]) == ["often or always", "some of the time", "some of the time",
                                          "hardly ever or never", "hardly ever or never", None,
                                          "often or always"]
    assert _vals(d["ucla3_score"]) == [4, 9, 5, 3, 4, 9, None]
    assert _vals(d["lonely_ucla3"]) == [False, True, False, False, False, True, None]
    assert _vals(d["age_group"]) == ["16-24", "25-34", "35-44", "55-64", "65-74", "75+", "25-34"]
    cb = sd.codebook.set_index("concept")
    assert "[U]" in cb.loc["lonely_direct", "notes"]
    # ONS headline: often/always among all who answered = (1.0 + 1.0) / (1 + 2 + 0.5 + 1.5 + 1 + 1)
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(2.0 / 7.0, rel=1e-14)


def test_opn_default_names_missing_and_bad_input(opn_sav, tmp_path, cache_dir, leftovers):
    with pytest.raises(SurveyFileError, match="variables=") as e:   # placeholders not in file
        load_opn(opn_sav)
    assert "['weight']" in str(e.value) and "unverified" in str(e.value)
    # the id and weight found but no loneliness item: "not measured", saying which name was used
    sd = load_opn(opn_sav, variables={"id": "caseno", "weight": "WT"}, cache=False)
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"] and "MCZ_LONELY" in cb.loc["lonely", "notes"]
    with pytest.raises(DatasetError, match="unknown key"):
        load_opn(opn_sav, variables={"loneliness": "LONELY"})
    with pytest.raises(UnknownWaveError):
        load_opn(opn_sav, wave=1990, variables=NAMES)
    bad = tmp_path / "opn_bad.sav"
    bad.write_bytes(b"$FL2 broken" * 10)
    with pytest.raises(SurveyFileError):
        load_opn(bad, variables=NAMES)
    empty = tmp_path / "opn_empty.sav"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        load_opn(empty, variables=NAMES)
    for name in ("opn", "cls"):
        with pytest.raises(LicensedDataError, match="path="):
            datasets.load(name)
    with pytest.raises(LicensedDataError, match="ukdataservice"):
        load_opn()
    with pytest.raises(LicensedDataError, match="ukdataservice"):
        load_cls()
    assert leftovers(cache_dir) == []


def test_cls_default_placeholder_names(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"Serial": [11, 12, 13, 14], "rimweight": [1.0, 3.0, 2.0, 1.0],
                       "LonOft": [1, 5, -1, 2], "age": [20, 30, 40, 50], "sex": [1, 2, 2, 1]})
    p = tmp_path / "cls_2023_24.dta"
    pyreadstat.write_dta(df, str(p), version=15)
    sd = load_cls(p, wave=2023)
    assert sd.provenance["missing_codes"]["LonOft"] == {"-1": 1}
    assert _vals(sd.data["lonely"]) == [True, False, None, False]
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["ucla3_companionship", "measured"]       # WLack not in the file
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(1.0 / 5.0, rel=1e-14)            # 1.0 / (1.0 + 3.0 + 1.0)


def test_cls_user_design_variables(tmp_path):
    import pyreadstat

    import socialhealth as sh

    df = pd.DataFrame({"Serial": [1, 2, 3, 4, 5, 6], "rimweight": [1.0, 2.0, 1.0, 3.0, 1.0, 0.0],
                       "LonOft": [1, 5, 2, 4, 3, 1], "stratum": [1, 1, 1, 2, 2, 2],
                       "cluster": [10, 11, 11, 20, 21, 21]})
    path = tmp_path / "cls.sav"
    pyreadstat.write_sav(df, str(path))
    sd = datasets.load("cls", path=path, wave=2016, psu="cluster", strata="stratum", cache=False)
    p = sd.provenance
    assert p["rows_kept"] == 5 and p["rows_dropped"]["zero or missing weight rimweight"] == 1
    assert p["design_variables"] == {"psu": "cluster", "strata": "stratum"}
    # lonely (often/always = code 1): rows 1-5 -> [1, 0, 0, 0, 0] with weights 1, 2, 1, 3, 1
    got = sd.design.mean("lonely").to_frame()
    assert got["estimate"].iloc[0] == pytest.approx(1 / 8, rel=1e-14)
    raw = df.iloc[:5].assign(lonely=lambda d: (d["LonOft"] == 1).astype(float))
    ref = sh.SurveyDesign(raw, weights="rimweight", strata="stratum", psu="cluster", nest=True,
                          lonely_psu="adjust").mean("lonely").to_frame()
    assert got["se"].iloc[0] == pytest.approx(ref["se"].iloc[0], rel=1e-14)
    with pytest.raises(DatasetError, match="both psu= and strata="):
        datasets.load("opn", path=path, strata="stratum")
