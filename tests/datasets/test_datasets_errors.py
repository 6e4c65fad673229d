"""Bad input gives clear socialhealth errors and leaves nothing half-written in the cache."""
from __future__ import annotations

import sys

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.errors import (DatasetError, DataNotCachedError, LicensedDataError,
                                 LoaderNotImplementedError, MissingColumnError, SocialHealthError,
                                 SurveyFileError, UnknownDatasetError, UnknownWaveError)



def test_wrong_survey_file(ess_sav_file, cache_dir, leftovers):
    with pytest.raises(SurveyFileError) as e:
        datasets.load("gss_panel20", path=ess_sav_file, wave=2020)
    msg = str(e.value)
    assert "yearid" in msg and "vstrat_2" in msg and "European Social Survey" in msg
    with pytest.raises(SurveyFileError, match="vstrat"):
        datasets.load("gss", path=ess_sav_file)
    assert leftovers(cache_dir) == []


def test_gss_file_as_ess(gss_cum_file, cache_dir, leftovers):
    with pytest.raises(SurveyFileError, match="idno") as e:
        datasets.load("ess", path=gss_cum_file)
    assert "GSS cumulative" in str(e.value)
    assert leftovers(cache_dir) == []


def test_missing_required_column(tmp_path, cache_dir, leftovers, gss_cum_writer):
    p = gss_cum_writer(tmp_path / "novpsu.dta", drop=("vpsu",))
    with pytest.raises(SurveyFileError, match=r"\['vpsu'\]"):
        datasets.load("gss", path=p)
    assert leftovers(cache_dir) == []


def test_requested_column_absent(gss_cum_file):
    with pytest.raises(MissingColumnError, match="lonely1_2"):
        datasets.load("gss", path=gss_cum_file, columns=["lonely1_2"])


def test_unknown_wave_before_reading(tmp_path):
    p = tmp_path / "never_read.dta"          # does not exist: the wave check comes first
    with pytest.raises(UnknownWaveError, match="2016, 2018, 2020"):
        datasets.load("gss_panel20", path=p, wave=2017)
    with pytest.raises(UnknownWaveError):
        datasets.load("gss_panel06", path=p, wave=2014)
    with pytest.raises(UnknownWaveError):
        datasets.load("ess", path=p, wave=0)


@pytest.mark.parametrize("content,suffix", [
    (b"this is not a stata file at all" * 10, ".dta"),
    (b"\x00\x01\x02garbage" * 50, ".sav"),
    (b"PK\x03\x04 broken zip", ".zip"),
    (b"", ".dta"),
    (b"", ".sav"),
])
def test_corrupt_or_empty(tmp_path, cache_dir, leftovers, content, suffix):
    p = tmp_path / f"bad{suffix}"
    p.write_bytes(content)
    with pytest.raises(SurveyFileError) as e:
        datasets.load("gss", path=p)
    if not content:
        assert "empty" in str(e.value)
    assert leftovers(cache_dir) == []


def test_truncated_dta(gss_cum_file, tmp_path, cache_dir, leftovers):
    data = gss_cum_file.read_bytes()
    p = tmp_path / "truncated.dta"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(SurveyFileError):
        datasets.load("gss", path=p)
    assert leftovers(cache_dir) == []


def test_unknown_extension_and_missing_file(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"1234")
    with pytest.raises(SurveyFileError, match="unknown file type"):
        datasets.load("gss", path=p)
    with pytest.raises(SurveyFileError, match="not found"):
        datasets.load("gss", path=tmp_path / "nope.dta")


def test_unknown_dataset():
    with pytest.raises(UnknownDatasetError, match="gss_panel20"):
        datasets.load("gss_panel2O")
    with pytest.raises(KeyError):                      # also a KeyError for built-in handlers
        datasets.info("nonesuch")


def test_registered_but_not_implemented(tmp_path, monkeypatch):
    """A registry entry whose loader is not written yet raises a clear error (every entry has a
    loader today, so the entry is added here for the test)."""
    from socialhealth.datasets import _registry

    reg = dict(_registry.registry())
    reg["nshap"] = {"title": "National Social Life, Health and Aging Project", "country": "US",
                    "years": "2005-", "access": "registration", "url": "https://www.icpsr.umich.edu",
                    "licence": "ICPSR terms", "citation": "NSHAP", "loneliness_items": "UCLA-3 [U]",
                    "loader": ""}
    monkeypatch.setattr(_registry, "registry", lambda: reg)
    with pytest.raises(LoaderNotImplementedError, match="not implemented yet"):
        datasets.load("nshap", path=tmp_path / "whatever.dta")
    with pytest.raises(NotImplementedError):
        datasets.load("nshap")


def test_licensed_without_path():
    with pytest.raises(LicensedDataError) as e:
        datasets.load("ess")
    msg = str(e.value)
    assert "https://ess.sikt.no/" in msg and "path=" in msg and "register" in msg.lower()


def test_open_without_path_and_empty_cache(cache_dir, leftovers):
    with pytest.raises(DataNotCachedError) as e:
        datasets.load("gss_panel20", wave=2020)
    msg = str(e.value)
    assert "path=" in msg and ("fetch" in msg or "download" in msg)
    with pytest.raises(DataNotCachedError, match=r"fetch\('gss_panel20'"):
        datasets.load("gss_panel20")
    assert leftovers(cache_dir) == []


def test_all_errors_are_socialhealth_errors():
    for cls in (SurveyFileError, UnknownWaveError, LicensedDataError, DataNotCachedError,
                LoaderNotImplementedError, UnknownDatasetError):
        assert issubclass(cls, DatasetError) and issubclass(cls, SocialHealthError)


def test_demo_missing_module_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "socialhealth.datasets.demo", None)   # import -> ImportError
    with pytest.raises(DatasetError, match="demo"):
        datasets.load("demo")


def test_demo_takes_no_path():
    with pytest.raises(DatasetError, match="takes no path"):
        datasets.load("demo", path="x.dta")


def test_unknown_loader_option_lists_accepted_ones():
    from socialhealth import datasets
    from socialhealth.errors import DatasetError
    with pytest.raises(DatasetError, match=r"unknown option\(s\) \['wvae'\].*'wave'"):
        datasets.load("ess", path="ESS9GB.sav", wvae=9)
    with pytest.raises(DatasetError, match=r"unknown option\(s\) \['sede'\].*'seed'"):
        datasets.load("demo", sede=1)
