"""The Parquet cache: keyed by file sha256 + loader version + options, atomic, optional."""
from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import _cache


def _tables(cache):
    d = cache / "tables"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_cold_then_warm(gss_cum_file, cache_dir):
    a = datasets.load("gss", path=gss_cum_file, columns=["health"])
    assert a.provenance["cache"] == "miss"
    assert len(_tables(cache_dir)) == 1 and _tables(cache_dir)[0].endswith(".parquet")
    b = datasets.load("gss", path=gss_cum_file, columns=["health"])
    assert b.provenance["cache"] == "hit"
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.codebook, b.codebook)
    assert {k: v for k, v in a.provenance.items() if k != "cache"} == \
        {k: v for k, v in b.provenance.items() if k != "cache"}
    assert a.design_spec == b.design_spec
    # other options -> another entry
    datasets.load("gss", path=gss_cum_file, wave=2018)
    assert len(_tables(cache_dir)) == 2


def test_env_var_controls_location(gss_cum_file, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(other))
    datasets.load("gss", path=gss_cum_file)
    assert _cache.cache_dir() == other and len(_tables(other)) == 1


def test_cache_off(gss_cum_file, cache_dir):
    sd = datasets.load("gss", path=gss_cum_file, cache=False)
    assert sd.provenance["cache"] == "off" and _tables(cache_dir) == []


def test_sha_memo_and_change_detection(gss_cum_file, tmp_path):
    import hashlib

    datasets.load("gss", path=gss_cum_file)
    sha = hashlib.sha256(gss_cum_file.read_bytes()).hexdigest()
    assert _cache.cached_sha256(gss_cum_file) == sha
    # a different file at the same path (size and mtime change): hashed again, new entry
    data = gss_cum_file.read_bytes()
    time.sleep(0.01)
    gss_cum_file.write_bytes(data + b"\0" * 0)
    os.utime(gss_cum_file, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _cache.cached_sha256(gss_cum_file) is None
    sd = datasets.load("gss", path=gss_cum_file)
    assert sd.provenance["cache"] == "hit"          # same content -> same sha -> same entry
    assert _cache.cached_sha256(gss_cum_file) == sha


def test_changed_content_is_not_served_from_cache(gss_cum_writer, tmp_path, cache_dir):
    p = gss_cum_writer(tmp_path / "f.dta")
    a = datasets.load("gss", path=p)
    gss_cum_writer(p, drop=("hompop",))                 # new content at the same path
    b = datasets.load("gss", path=p)
    assert b.provenance["cache"] == "miss" and a.provenance["sha256"] != b.provenance["sha256"]
    assert b.data["lives_alone"].isna().all() and not a.data["lives_alone"].isna().all()


def test_damaged_cache_entry_is_rebuilt(gss_cum_file, cache_dir):
    datasets.load("gss", path=gss_cum_file)
    (entry,) = (cache_dir / "tables").iterdir()
    entry.write_bytes(b"not parquet")
    sd = datasets.load("gss", path=gss_cum_file)
    assert sd.provenance["cache"] == "miss"
    sd = datasets.load("gss", path=gss_cum_file)
    assert sd.provenance["cache"] == "hit"


def test_atomic_write_leaves_nothing_on_failure(gss_cum_file, cache_dir, monkeypatch, leftovers):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_cache.os, "replace", boom)
    with pytest.warns(Warning, match="could not write the cache"):
        sd = datasets.load("gss", path=gss_cum_file)
    assert sd.provenance["rows_kept"] == 5            # the load itself still works
    assert [f for f in leftovers(cache_dir) if f.startswith("tables")] == []


def test_atomic_write_bytes(tmp_path):
    target = tmp_path / "a" / "b.bin"
    _cache.atomic_write_bytes(target, b"123")
    assert target.read_bytes() == b"123"
    assert [p.name for p in target.parent.iterdir()] == ["b.bin"]


def test_codebook_change_invalidates(gss_cum_file, monkeypatch):
    from socialhealth.datasets import _engine

    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "miss"
    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "hit"
    monkeypatch.setattr(_engine, "codebook_hash", lambda name: "edited")
    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "miss"


def test_harmonisation_code_change_invalidates(gss_cum_file, monkeypatch):
    """A fix in the harmonisation code (not in a codebook file) must not be hidden by a table
    cached before it: twice such a fix shipped without a hand-bumped version (contact_in_person
    combine="min", GSS panel `died`), so warm caches kept serving the wrong columns."""
    from socialhealth.datasets import _engine

    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "miss"
    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "hit"
    monkeypatch.setattr(_engine, "_code_hash", lambda: "fixed-rule")
    assert datasets.load("gss", path=gss_cum_file).provenance["cache"] == "miss"

