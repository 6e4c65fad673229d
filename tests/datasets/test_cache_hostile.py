"""A damaged cache never breaks a load (issue 12).

Every unreadable cache file (hash index or table: bad JSON, JSON of the wrong type, malformed
entries, truncated or foreign Parquet, wrong columns or rows, no permission) is rebuilt with a
CacheWarning, and the load returns exactly what an uncached load returns. A cache folder that
cannot be created says so and names SOCIALHEALTH_CACHE and cache=False.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialhealth import datasets
from socialhealth.datasets import _cache
from socialhealth.errors import CacheError, CacheWarning, SocialHealthError, SocialHealthWarning

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _same_as_uncached(sd, path):
    ref = datasets.load("gss", path=path, cache=False)
    pd.testing.assert_frame_equal(sd.data, ref.data)
    pd.testing.assert_frame_equal(sd.codebook, ref.codebook)


def _load_quietly(path, **kw):
    """Load with every warning recorded; return (result, [CacheWarning messages])."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sd = datasets.load("gss", path=path, **kw)
    return sd, [str(w.message) for w in rec if issubclass(w.category, CacheWarning)]


def test_cache_warning_is_a_socialhealth_warning_and_cache_error_an_error():
    assert issubclass(CacheWarning, SocialHealthWarning)
    assert issubclass(CacheError, SocialHealthError)


# ---------------------------------------------------------------------------- hash index
SHA = "0" * 64


@pytest.mark.parametrize("content,what", [
    (b'"just a string"', "holds a string"),          # the case of the issue
    (b"[1, 2, 3]", "holds an array"),
    (b"42", "holds a number"),
    (b"null", "holds null"),
    (b'{"a": ', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "cannot be read"),
    (b'{"/x|1|2": 5}', "malformed entries"),        # value not a sha256
    (b'{"nokey": "' + SHA.encode() + b'"}', "malformed entries"),   # key not path|size|mtime
])
def test_damaged_index_is_rebuilt_with_a_warning(gss_cum_file, cache_dir, content, what):
    cache_dir.mkdir(parents=True, exist_ok=True)
    index = cache_dir / "sha256-index.json"
    index.write_bytes(content)
    sd, msgs = _load_quietly(gss_cum_file)
    assert any(what in m and "rebuilt" in m for m in msgs), msgs
    _same_as_uncached(sd, gss_cum_file)
    # the index is a JSON object again and holds the file's hash (computed here with hashlib)
    rebuilt = json.loads(index.read_text())
    assert isinstance(rebuilt, dict)
    assert hashlib.sha256(gss_cum_file.read_bytes()).hexdigest() in rebuilt.values()
    # and the next loads are warm and quiet
    sd2, msgs2 = _load_quietly(gss_cum_file)
    assert msgs2 == [] and sd2.provenance["cache"] == "hit"


def test_index_keeps_its_good_entries(gss_cum_file, cache_dir):
    cache_dir.mkdir(parents=True, exist_ok=True)
    good = {"/some/file.dta|10|20": "a" * 64}
    (cache_dir / "sha256-index.json").write_text(json.dumps({**good, "/bad|1|2": 7}))
    with pytest.warns(CacheWarning, match="1 malformed entries"):
        assert _cache.cached_sha256(gss_cum_file) is None
    assert json.loads((cache_dir / "sha256-index.json").read_text()) == good


def test_unreadable_index_by_permission_is_rebuilt(gss_cum_file, cache_dir, monkeypatch):
    datasets.load("gss", path=gss_cum_file)
    index = cache_dir / "sha256-index.json"
    real = type(index).read_bytes

    def denied(self):
        if self.name == "sha256-index.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(type(index), "read_bytes", denied)
    sd, msgs = _load_quietly(gss_cum_file)
    assert any("cannot be read" in m and "PermissionError" in m for m in msgs), msgs
    _same_as_uncached(sd, gss_cum_file)


@pytest.mark.skipif(ROOT, reason="root reads files regardless of their mode")
def test_unreadable_index_chmod(gss_cum_file, cache_dir):
    datasets.load("gss", path=gss_cum_file)
    index = cache_dir / "sha256-index.json"
    index.chmod(0)
    try:
        sd, msgs = _load_quietly(gss_cum_file)
    finally:
        if index.exists():
            index.chmod(0o644)
    assert any("cannot be read" in m for m in msgs), msgs
    _same_as_uncached(sd, gss_cum_file)


def test_index_that_is_a_folder(gss_cum_file, cache_dir):
    (cache_dir / "sha256-index.json").mkdir(parents=True)
    sd, msgs = _load_quietly(gss_cum_file)
    assert any("cannot be read" in m and "cannot be replaced" in m and "SOCIALHEALTH_CACHE" in m
               for m in msgs), msgs
    _same_as_uncached(sd, gss_cum_file)


# ---------------------------------------------------------------------------- cached tables
def _entry(cache_dir):
    (entry,) = (cache_dir / "tables").iterdir()
    return entry


def _rewrite(entry, fn):
    """Rewrite a cached table through ``fn(table) -> table`` (metadata kept unless fn drops it)."""
    table = pq.read_table(entry)
    sink = io.BytesIO()
    pq.write_table(fn(table), sink)
    entry.write_bytes(sink.getvalue())


def _meta(table):
    return json.loads(table.schema.metadata[b"socialhealth"])


def _with_meta(table, meta):
    md = dict(table.schema.metadata)
    md[b"socialhealth"] = json.dumps(meta).encode()
    return table.replace_schema_metadata(md)


DAMAGE = {
    "not parquet": lambda e: e.write_bytes(b"not parquet"),
    "empty file": lambda e: e.write_bytes(b""),
    "truncated to half": lambda e: e.write_bytes(e.read_bytes()[: e.stat().st_size // 2]),
    "last 8 bytes cut": lambda e: e.write_bytes(e.read_bytes()[:-8]),
    "first 100 bytes cut": lambda e: e.write_bytes(e.read_bytes()[100:]),
    "foreign parquet": lambda e: e.write_bytes(_foreign()),
    "metadata dropped": lambda e: _rewrite(e, lambda t: t.replace_schema_metadata({})),
    "metadata not JSON": lambda e: _rewrite(e, lambda t: t.replace_schema_metadata(
        {**t.schema.metadata, b"socialhealth": b"{oops"})),
    "metadata a string": lambda e: _rewrite(e, lambda t: _with_meta(t, "text")),
    "metadata lacks codebook": lambda e: _rewrite(e, lambda t: _with_meta(
        t, {k: v for k, v in _meta(t).items() if k != "codebook"})),
    "provenance a list": lambda e: _rewrite(e, lambda t: _with_meta(
        t, {**_meta(t), "provenance": [1, 2]})),
    "codebook columns wrong": lambda e: _rewrite(e, lambda t: _with_meta(
        t, {**_meta(t), "codebook_columns": ["a", "b"]})),
    "a column dropped": lambda e: _rewrite(e, lambda t: t.drop_columns([t.column_names[-1]])),
    "schema column dropped": lambda e: _rewrite(
        e, lambda t: _with_meta(t.drop_columns(["weight"]),
                                {**_meta(t), "columns": [c for c in t.column_names
                                                         if c != "weight"]})),
    "rows dropped": lambda e: _rewrite(e, lambda t: t.slice(0, 2)),
    "a folder": lambda e: (e.unlink(), e.mkdir()),
}


def _foreign():
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3]}), sink)
    return sink.getvalue()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_table_is_rebuilt_with_a_warning(gss_cum_file, cache_dir, damage):
    first = datasets.load("gss", path=gss_cum_file)
    assert first.provenance["cache"] == "miss"
    entry = _entry(cache_dir)
    DAMAGE[damage](entry)
    sd, msgs = _load_quietly(gss_cum_file)
    assert any("cached table" in m and "rebuilt" in m for m in msgs), (damage, msgs)
    assert sd.provenance["cache"] == "miss"
    _same_as_uncached(sd, gss_cum_file)
    if damage != "a folder":        # a folder in the way cannot be replaced: stays uncached
        sd2, msgs2 = _load_quietly(gss_cum_file)
        assert msgs2 == [] and sd2.provenance["cache"] == "hit"
        _same_as_uncached(sd2, gss_cum_file)


def test_unreadable_table_by_permission_is_rebuilt(gss_cum_file, cache_dir, monkeypatch):
    datasets.load("gss", path=gss_cum_file)
    real = pq.read_table

    def denied(path, *a, **k):
        if str(path).endswith(".parquet"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(pq, "read_table", denied)
    sd, msgs = _load_quietly(gss_cum_file)
    assert any("PermissionError" in m for m in msgs), msgs
    _same_as_uncached(sd, gss_cum_file)


# ---------------------------------------------------------------------------- cache folder
def _says_way_out(msg: str):
    assert "SOCIALHEALTH_CACHE" in msg and "cache=False" in msg, msg


def test_cache_folder_under_a_file(gss_cum_file, tmp_path, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(blocker / "cache"))
    with pytest.raises(CacheError) as e:
        _cache.cache_dir()
    assert "cannot create the socialhealth cache folder" in str(e.value)
    assert "is a file" in str(e.value)
    _says_way_out(str(e.value))
    # a load goes on without the cache and says so once
    sd, msgs = _load_quietly(gss_cum_file)
    assert len(msgs) == 1, msgs
    _says_way_out(msgs[0])
    _same_as_uncached(sd, gss_cum_file)
    # cache=False: quiet
    _, msgs = _load_quietly(gss_cum_file, cache=False)
    assert msgs == []


def test_cache_folder_is_a_file(gss_cum_file, tmp_path, monkeypatch):
    blocker = tmp_path / "cachefile"
    blocker.write_text("x")
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(blocker))
    with pytest.raises(CacheError, match="a file of that name is in the way"):
        _cache.cache_dir()
    sd, msgs = _load_quietly(gss_cum_file)
    assert len(msgs) == 1
    _says_way_out(msgs[0])


def test_cache_folder_without_permission(gss_cum_file, tmp_path, monkeypatch):
    target = tmp_path / "ro" / "cache"
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(target))
    real = type(target).mkdir

    def denied(self, *a, **k):
        if str(self).startswith(str(tmp_path / "ro")):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(type(target), "mkdir", denied)
    with pytest.raises(CacheError, match="no permission") as e:
        _cache.cache_dir()
    _says_way_out(str(e.value))
    sd, msgs = _load_quietly(gss_cum_file)
    assert len(msgs) == 1
    _same_as_uncached(sd, gss_cum_file)


@pytest.mark.skipif(ROOT, reason="root creates folders regardless of their mode")
def test_cache_folder_under_read_only_parent(gss_cum_file, tmp_path, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(parent / "cache"))
    try:
        with pytest.raises(CacheError, match="no permission"):
            _cache.cache_dir()
        sd, msgs = _load_quietly(gss_cum_file)
    finally:
        parent.chmod(0o700)
    assert len(msgs) == 1
    _same_as_uncached(sd, gss_cum_file)


def test_fetched_file_lookup_names_the_way_out(tmp_path, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(blocker / "cache"))
    with pytest.raises(CacheError) as e:
        datasets.load("brfss", wave=2023)
    assert "SOCIALHEALTH_CACHE" in str(e.value)
