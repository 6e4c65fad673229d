"""Registry, list(), codebook files and the demo wrapper."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import _registry
from socialhealth.datasets._codebook import RULES, load_codebook
from socialhealth.datasets._schema import concept_columns, schema

NAMES = ["gss", "gss_panel06", "gss_panel08", "gss_panel10", "gss_panel20", "brfss", "nhis", "hrs",
         "ess", "ukhls", "bhps", "elsa", "opn", "cls", "demo"]


def test_list_has_every_name():
    df = datasets.list()
    assert df["name"].tolist() == NAMES
    assert list(df.columns) == ["name", "title", "country", "years", "access", "url", "licence",
                                "citation", "loneliness_items", "loader_status", "tested_on"]
    assert set(df["access"]) <= {"open", "registration", "licensed"}
    assert (df["title"].str.len() > 0).all() and (df["citation"].str.len() > 0).all()
    status = df.set_index("name")["loader_status"]
    assert status["gss_panel20"] == "available" and status["ess"] == "available"
    for name in NAMES:      # the status follows the registry's loader field (and importability)
        if not _registry.entry(name).get("loader"):
            assert status[name] == "not implemented yet"


def test_registered_loader_that_cannot_import(monkeypatch):
    from socialhealth.errors import LoaderNotImplementedError

    reg = dict(_registry.registry())
    reg["ghost"] = {"title": "ghost", "access": "open", "loader": "nonexistent_mod:load"}
    reg["planned"] = {"title": "planned", "access": "licensed", "loader": ""}
    monkeypatch.setattr(_registry, "registry", lambda: reg)
    for name in ("ghost", "planned"):
        with pytest.raises(LoaderNotImplementedError, match="not implemented yet"):
            datasets.load(name, path="x.dta")
        with pytest.raises(NotImplementedError):
            datasets.load(name)
        assert _registry.status(name) == "not implemented yet"
    assert datasets.list().set_index("name").loc["planned", "loader_status"] == "not implemented yet"


def test_registered_checksums_are_sha256():
    checked = 0
    for name in NAMES:
        for f in _registry.entry(name).get("files", []):
            if "sha256" in f:
                assert len(f["sha256"]) == 64 and int(f["sha256"], 16) >= 0
                checked += 1
    assert checked > 0          # the loop above must not pass on an empty registry


@pytest.mark.parametrize("cb", ["gss", "gss_panel20", "gss_panel_long", "ess"])
def test_codebooks_validate_against_schema(cb):
    book = load_codebook(cb)
    for concept, spec in book["concepts"].items():
        assert concept in schema() and spec["rule"] in RULES
        if spec["rule"] == "not_measured":
            assert spec.get("notes"), f"{cb}:{concept} needs a note saying why"


def test_loaded_data_has_every_schema_column(gss_cum_file):
    sd = datasets.load("gss", path=gss_cum_file)
    assert list(sd.data.columns[:8]) == ["respondent_id", "survey", "wave", "year", "country",
                                         "weight", "strata", "psu"]
    extra = sd.provenance.get("extra_columns", [])      # codebook [extra.*] columns, after
    assert list(sd.data.columns[8:]) == [*concept_columns(), *extra]
    assert sd.codebook["concept"].tolist() == ["weight", "strata", "psu", *concept_columns(), *extra]
    not_measured = sd.codebook.loc[~sd.codebook["measured"], "concept"]
    for c in not_measured:
        if c in sd.data.columns:
            assert sd.data[c].isna().all(), c
    # bools are nullable booleans, never False for missing
    assert str(sd.data["lives_alone"].dtype) == "boolean"


def test_demo_wrapper():
    sd = datasets.load("demo")
    assert sd.design_spec["weights"] == "weight" and sd.design_spec["nest"] is True
    assert len(sd.data) > 0
    d = sd.design
    assert d.degf() > 0
    rep = datasets.load("demo", replicate=True)
    assert rep.design_spec["kind"] == "replicate"
    assert type(rep.design).__name__ == "ReplicateDesign"
