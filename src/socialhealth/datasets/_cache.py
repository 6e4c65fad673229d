"""The user cache: where harmonised tables, downloaded files and file hashes are kept.

Location: ``$SOCIALHEALTH_CACHE`` if set, else ``platformdirs.user_cache_dir("socialhealth")``.

* ``tables/<key>.parquet``: one harmonised table per (file sha256, loader, loader version,
  codebook hash, load options). The codebook, provenance and design spec travel inside the
  Parquet file's key-value metadata, so one atomic rename publishes everything at once.
* ``downloads/<survey>/``: files fetched by :func:`socialhealth.datasets.fetch`.
* ``sha256-index.json``: file hashes memoised by (absolute path, size, mtime in ns), so a warm
  load of a 176 MB file does not hash it again. If any of the three changes, the file is hashed
  again; a file rewritten in place with identical size *and* identical mtime would be missed,
  which needs deliberate effort (``touch -d``) and is the documented trade-off.

Every write goes to a temporary file in the same folder followed by ``os.replace`` (atomic on
POSIX and Windows), so an interrupted load never leaves a half-written file behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

_CHUNK = 1 << 22


def cache_dir() -> Path:
    """Root of the socialhealth cache (created on demand).

    Examples
    --------
    >>> from socialhealth.datasets._cache import cache_dir
    >>> cache_dir().is_dir()     # $SOCIALHEALTH_CACHE, else the platform's user cache folder
    True
    """
    env = os.environ.get("SOCIALHEALTH_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("socialhealth"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _index_path() -> Path:
    return cache_dir() / "sha256-index.json"


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def cached_sha256(path: Path) -> str | None:
    """The memoised sha256 of ``path`` if its (path, size, mtime) are unchanged, else None."""
    try:
        index = json.loads(_index_path().read_text())
    except (OSError, ValueError):
        return None
    return index.get(_stat_key(path))


def remember_sha256(path: Path, sha: str) -> None:
    """Memoise the sha256 of ``path`` under its (path, size, mtime) key."""
    ip = _index_path()
    try:
        index = json.loads(ip.read_text())
    except (OSError, ValueError):
        index = {}
    index[_stat_key(path)] = sha
    if len(index) > 500:  # keep the index small
        index = dict(list(index.items())[-500:])
    try:
        atomic_write_bytes(ip, json.dumps(index).encode())
    except OSError:  # best effort: a read-only cache only costs a re-hash next time
        pass


def sha256_file(path: Path) -> str:
    """Stream-hash a file (4 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def map_and_hash(path: Path, sha: str | None = None):
    """Memory-map a file read-only and (unless ``sha`` is given) hash it through the map.

    Returns ``(buffer, sha256)``; the buffer is an ``mmap`` (no copy of the file is made), so a
    column-selective reader touches only the pages it needs.
    """
    import mmap

    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if sha is None:
        sha = hashlib.sha256(memoryview(mm)).hexdigest()
    return mm, sha


def table_path(key: str) -> Path:
    """The Parquet file of a cached harmonised table."""
    return cache_dir() / "tables" / f"{key}.parquet"


def cache_key(*parts: object) -> str:
    """A short stable key from the parts (file sha, loader, version, options...)."""
    h = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()
    return h[:32]
