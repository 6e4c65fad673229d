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
