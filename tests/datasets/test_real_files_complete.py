"""Every real file in ../shared/data is fully accounted for, concept by concept (issue 13).

For each harmonised concept a loaded real file either has answers, or its codebook says why
the concept is not measured in that wave (not the engine's generic "no item" note); and no code
in the file is left unmapped. Skipped, file by file, when ../shared/data is absent.

The concept table is also checked against the data it describes (answered + missing = rows).
"""
from __future__ import annotations

import warnings

import pytest

from socialhealth import datasets
from socialhealth.datasets._concepts import concept_problems

# (registry name, file under ../shared/data, loader options)
REAL_FILES = [
    ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2016}),
    ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2018}),
    ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2020}),
    ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2006}),
    ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2008}),
    ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2010}),
    ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2010}),
    ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2012}),
    ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2014}),
    ("gss", "gss/GSS2018.dta", {"wave": 2018}),
    ("ess", "ess/ESS7GB.sav", {}),
    ("ess", "ess/ESS9GB.sav", {}),
]


def _load(shared_data_dir, name, rel, options):
    path = shared_data_dir / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in {shared_data_dir} (third-party survey file, not "
                    "redistributable: see ../shared/data/README.md)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datasets.load(name, path=path, **options)


@pytest.mark.realdata
@pytest.mark.parametrize("name, rel, options", REAL_FILES,
                         ids=[f"{n}-{o.get('wave', r.split('/')[-1])}" for n, r, o in REAL_FILES])
def test_every_concept_answered_or_explained(shared_data_dir, name, rel, options):
    sd = _load(shared_data_dir, name, rel, options)
    problems = concept_problems(sd)
    assert problems == [], "\n".join(problems)


@pytest.mark.realdata
@pytest.mark.parametrize("name, rel, options", REAL_FILES[2:3] + REAL_FILES[10:11],
                         ids=["gss_panel20-2020", "ess7"])
def test_concept_summary_counts_match_the_data(shared_data_dir, name, rel, options):
    sd = _load(shared_data_dir, name, rel, options)
    cs = sd.concept_summary().set_index("concept")
    n = len(sd.data)
    assert set(cs.index) == set(sd.codebook["concept"])
    for concept, row in cs.iterrows():
        assert row["n_answered"] + row["n_missing"] == n
        assert row["n_answered"] == int(sd.data[concept].notna().sum())
        assert (row["n_answered"] > 0) == bool(row["measured"]) or not row["measured"]
    # missing codes are the loader's own per-code counts of the source variables
    missing = sd.provenance["missing_codes"]
    for concept, row in cs.iterrows():
        for var, counts in row["missing_by_code"].items():
            assert counts == missing[var]


def test_problems_name_unexplained_and_unmapped_concepts():
    """The check itself, on a survey whose codebook is complete and on a doctored one."""
    sd = datasets.load("demo")
    assert concept_problems(sd) == []
    cb = sd.codebook.copy()
    i = cb.index[cb["concept"] == "lonely"][0]
    cb.loc[i, "measured"] = False
    cb.loc[i, "notes"] = ""
    data = sd.data.copy()
    data["lonely"] = data["lonely"].where(data["lonely"].isna())   # all missing
    prov = dict(sd.provenance, unmapped_codes={"sex": {"3": 2}})
    bad = datasets.SurveyData(sd.name, data, cb, prov, sd.design_spec)
    problems = concept_problems(bad)
    assert any(p.startswith("lonely: not measured, and the codebook does not say why")
               for p in problems)
    assert any(p.startswith("sex: codes in the file that the codebook does not map: {'3': 2}")
               for p in problems)


# ----------------------------------------------------------------------------- raw-row checks
# The health and connection items mapped for issue 13, recomputed from a direct pyreadstat
# read of the same file with the rule written out here (not the codebook engine).
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyreadstat  # noqa: E402


def _bool(values) -> list:
    return [None if pd.isna(v) else bool(v) for v in values]


@pytest.mark.realdata
def test_gss_panel20_2018_health_items_equal_the_raw_rows(shared_data_dir):
    sd = _load(shared_data_dir, "gss_panel20", "gss/gss_panel20.dta", {"wave": 2018})
    raw, _ = pyreadstat.read_dta(
        str(shared_data_dir / "gss/gss_panel20.dta"),
        usecols=["yearid", "samptype", "wtssnr_1b", "hyperten_1b", "diabetes_1b", "height_1b",
                 "weight_1b", "wordsum_1b"])
    raw = raw[(raw["samptype"] == 2018) & (raw["wtssnr_1b"] > 0)]
    assert len(raw) == len(sd.data)
    got = sd.data.set_index(sd.data["respondent_id"].astype(str))
    raw = raw.set_index(raw["yearid"].astype(int).astype(str)).loc[got.index]
    for concept, var in (("hypertension", "hyperten_1b"), ("diabetes", "diabetes_1b")):
        expect = np.where(raw[var] == 1, 1.0, np.where(raw[var] == 2, 0.0, np.nan))
        assert _bool(got[concept]) == _bool(expect), concept
    bmi = raw["weight_1b"] * 0.45359237 / (raw["height_1b"] * 0.0254) ** 2
    np.testing.assert_allclose(got["bmi"].to_numpy(dtype=float), bmi.to_numpy(), rtol=1e-12)
    assert _bool(got["obese"]) == _bool(np.where(bmi.isna(), np.nan, bmi >= 30))
    np.testing.assert_array_equal(got["cognitive_score"].to_numpy(dtype=float),
                                  raw["wordsum_1b"].to_numpy(dtype=float))
    assert int(got["hypertension"].notna().sum()) > 1300      # 1411 answers among 2348 rows read


@pytest.mark.realdata
def test_ess7_health_module_items_equal_the_raw_rows(shared_data_dir):
    sd = _load(shared_data_dir, "ess", "ess/ESS7GB.sav", {})
    items = ["hltprhb", "hltprhc", "hltprdi", "hltprref", "hltprdk", "hltprna", "dosprt", "idno"]
    raw, _ = pyreadstat.read_sav(str(shared_data_dir / "ess/ESS7GB.sav"), usecols=items)
    got = sd.data.set_index(sd.data["respondent_id"].astype(str))
    raw = raw.set_index(raw["idno"].astype(int).astype(str)).loc[got.index]
    no_answer = (raw["hltprref"] == 1) | (raw["hltprdk"] == 1) | (raw["hltprna"] == 1)
    assert int(no_answer.sum()) == 29
    for concept, var in (("hypertension", "hltprhb"), ("heart_disease", "hltprhc"),
                         ("diabetes", "hltprdi")):
        expect = np.where(no_answer, np.nan, (raw[var] == 1).astype(float))
        assert _bool(got[concept]) == _bool(expect), concept
    dos = raw["dosprt"].where(raw["dosprt"].between(0, 7))
    assert _bool(got["physically_inactive"]) == _bool(np.where(dos.isna(), np.nan, dos == 0))


@pytest.mark.realdata
def test_gss_panel10_2012_issp_health_items_equal_the_raw_rows(shared_data_dir):
    sd = _load(shared_data_dir, "gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2012})
    d = sd.data
    raw = datasets.load("gss_panel10", path=shared_data_dir / "gss/gss_panel10_long.dta.zip",
                        wave=2012, columns=["smokeday", "physact", "wordsum"]).data
    smoke = pd.to_numeric(raw["smokeday"], errors="coerce")
    assert _bool(d["smoker"]) == _bool(np.where(smoke.isna(), np.nan, smoke >= 3))
    act = pd.to_numeric(raw["physact"], errors="coerce")
    assert _bool(d["physically_inactive"]) == _bool(np.where(act.isna(), np.nan, act == 1))
    np.testing.assert_array_equal(d["cognitive_score"].to_numpy(dtype=float),
                                  pd.to_numeric(raw["wordsum"]).to_numpy(dtype=float))
