"""Every datasets test gets its own empty cache folder (SOCIALHEALTH_CACHE)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    cache = tmp_path / "shcache"
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(cache))
    return cache


@pytest.fixture
def cache_dir(_tmp_cache):
    return _tmp_cache


def leftovers(cache):
    """Files in the cache other than the sha index (tables, temporary files)."""
    if not cache.exists():
        return []
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if p.is_file() and p.name != "sha256-index.json")
