"""fetch(): pooch downloads from a local HTTP server (no internet), checksums verified."""
from __future__ import annotations

import hashlib
import http.server
import threading
import warnings

import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning, _registry
from socialhealth.errors import ChecksumError, DatasetError


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake_registry(monkeypatch, server, ess_sav_file):
    root, base, hits = server
    data = ess_sav_file.read_bytes()
    (root / "ESS7XX.sav").write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    reg = {
        "fakeopen": {"title": "fake open survey", "access": "open", "loader": "ess:load_ess",
                     "url": base, "files": [{"year": 7, "name": "ESS7XX.sav",
                                             "url": f"{base}/ESS7XX.sav", "sha256": good}]},
        "fakebad": {"title": "wrong checksum", "access": "open", "loader": "ess:load_ess",
                    "url": base, "files": [{"year": 7, "name": "ESS7XX.sav",
                                            "url": f"{base}/ESS7XX.sav", "sha256": "0" * 64}]},
        "fakenosha": {"title": "no checksum", "access": "open", "loader": "ess:load_ess",
                      "url": base, "files": [{"year": 7, "name": "ESS7XX.sav",
                                              "url": f"{base}/ESS7XX.sav"}]},
        "fakelicensed": {"title": "licensed", "access": "licensed", "loader": "",
                         "url": "https://example.org/register", "files": []},
    }
    monkeypatch.setattr(_registry, "registry", lambda: reg)
    return hits, good


def test_download_verify_and_reuse(fake_registry, cache_dir):
    hits, good = fake_registry
    path = datasets.fetch("fakeopen", wave=7)
    assert path.is_file() and path.parent == cache_dir / "downloads" / "fakeopen"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == good
    assert hits == ["/ESS7XX.sav"]
    again = datasets.fetch("fakeopen", wave=7)        # already cached and verified
    assert again == path and hits == ["/ESS7XX.sav"]
    # load() without a path uses the fetched file
    with pytest.warns(DesignFallbackWarning):
        sd = datasets.load("fakeopen", wave=7)
    assert sd.provenance["file"] == str(path) and sd.provenance["sha256"] == good


def test_checksum_mismatch(fake_registry, cache_dir):
    with pytest.raises(ChecksumError, match="does not match"):
        datasets.fetch("fakebad", wave=7)
    d = cache_dir / "downloads" / "fakebad"
    assert not d.exists() or list(d.iterdir()) == []       # the bad file is not kept


def test_no_registered_checksum(fake_registry, cache_dir):
    hits, _ = fake_registry
    with pytest.raises(ChecksumError, match="allow_unverified"):
        datasets.fetch("fakenosha")
    assert hits == []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        p = datasets.fetch("fakenosha", allow_unverified=True)
    assert p.is_file() and any("without a registered checksum" in str(x.message) for x in w)


def test_fetch_refuses_licensed_and_unknown_year(fake_registry):
    with pytest.raises(DatasetError, match="not an open download"):
        datasets.fetch("fakelicensed")
    with pytest.raises(DatasetError, match="7"):
        datasets.fetch("fakeopen", wave=99)


def test_load_open_survey_not_fetched(fake_registry):
    from socialhealth.errors import DataNotCachedError

    with pytest.raises(DataNotCachedError, match=r"fetch\('fakeopen', wave=7\)"):
        datasets.load("fakeopen", wave=7)
