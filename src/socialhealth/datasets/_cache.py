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

Nothing in the cache is trusted: an index or table that cannot be read (bad JSON, JSON of the
wrong type, malformed entries, a truncated or foreign Parquet file, no read permission) gives a
:class:`~socialhealth.errors.CacheWarning` and is rebuilt; a cache folder that cannot be created
raises :class:`~socialhealth.errors.CacheError` naming the way out (``SOCIALHEALTH_CACHE`` or
``cache=False``), which loaders turn into a warning and load without the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path

from socialhealth._stack import user_stacklevel
from socialhealth.datasets._read_parquet import read_parquet
from socialhealth.errors import CacheError, CacheWarning

_CHUNK = 1 << 22
_SHA = re.compile(r"[0-9a-f]{64}")
WAY_OUT = ("Set the SOCIALHEALTH_CACHE environment variable to a writable folder, or load "
           "without the cache (datasets.load(..., cache=False)).")


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
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        where = "" if not e.filename or Path(e.filename) == root else f" (at {e.filename})"
        why = {FileExistsError: "a file of that name is in the way",
               NotADirectoryError: "part of the path is a file, not a folder",
               PermissionError: "no permission to create it"}.get(type(e), e.strerror or str(e))
        raise CacheError(f"cannot create the socialhealth cache folder {root}: {why}{where}. "
                         f"{WAY_OUT}") from None
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


def _json_type(x) -> str:
    return {str: "a string", list: "an array", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(x), type(x).__name__)


def _load_index() -> dict:
    """The hash index as a dict; a damaged one is rebuilt (its good entries kept) with a
    :class:`CacheWarning`. Raises :class:`CacheError` if the cache folder cannot be created."""
    ip = _index_path()
    good: dict = {}
    try:
        text = ip.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        problem = f"cannot be read ({type(e).__name__}: {e})"
    else:
        try:
            index = json.loads(text)
        except ValueError as e:
            problem = f"is not valid JSON ({e})"
        else:
            if not isinstance(index, dict):
                problem = f"holds {_json_type(index)}, not a JSON object"
            else:
                good = {k: v for k, v in index.items()
                        if isinstance(v, str) and _SHA.fullmatch(v) and k.count("|") >= 2}
                if len(good) == len(index):
                    return index
                problem = f"has {len(index) - len(good)} malformed entries"
    if _write_index(good):
        what = "it is rebuilt (files are hashed again, nothing else is lost)"
    else:
        what = (f"it cannot be replaced either, so files are hashed on every load (nothing else "
                f"is lost) until it is removed. {WAY_OUT}")
    warnings.warn(f"the socialhealth file-hash index {ip} {problem}; {what}.", CacheWarning,
                  stacklevel=user_stacklevel())
    return good


def _write_index(index: dict) -> bool:
    """Write the index atomically; False if it cannot be written (a read-only cache only costs
    a re-hash next time)."""
    try:
        atomic_write_bytes(_index_path(), json.dumps(index).encode())
        return True
    except (OSError, CacheError):
        return False


def cached_sha256(path: Path) -> str | None:
    """The memoised sha256 of ``path`` if its (path, size, mtime) are unchanged, else None.

    A damaged index is rebuilt with a :class:`~socialhealth.errors.CacheWarning`; a cache
    folder that cannot be created means no memo (None).
    """
    try:
        index = _load_index()
        return index.get(_stat_key(path))
    except (CacheError, OSError):
        return None


def remember_sha256(path: Path, sha: str) -> None:
    """Memoise the sha256 of ``path`` under its (path, size, mtime) key (best effort)."""
    try:
        index = _load_index()
        key = _stat_key(path)
    except (CacheError, OSError):
        return
    index[key] = sha
    if len(index) > 500:  # keep the index small
        index = dict(list(index.items())[-500:])
    _write_index(index)


def read_table(path: Path, build):
    """``build(data, meta)`` of the cached table at ``path``, or None (absent or damaged).

    ``data`` is the table as a DataFrame, ``meta`` its ``socialhealth`` metadata (a dict with
    ``codebook``, ``codebook_columns``, ``provenance``, ``design_spec``, and ``columns`` in
    tables written since the cache checks them). An entry that cannot be read, lacks that metadata,
    whose columns or row count disagree with it, or that ``build`` rejects (any exception) is
    removed with a :class:`~socialhealth.errors.CacheWarning`, and the caller rebuilds it from the
    survey file.
    """
    if not path.exists():
        return None
    try:
        if not path.is_file():
            raise ValueError("it is not a file")
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        raw = (schema.metadata or {}).get(b"socialhealth")
        if raw is None:
            raise ValueError("it holds no socialhealth metadata (not a socialhealth table)")
        meta = json.loads(raw)
        kinds = {"codebook": list, "codebook_columns": list, "provenance": dict,
                 "design_spec": dict}
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a JSON object")
        wrong = [k for k, t in kinds.items() if not isinstance(meta.get(k), t)]
        if wrong:
            raise ValueError(f"its metadata lacks or mistypes {wrong}")
        cb_cols = meta["codebook_columns"]
        if not all(isinstance(r, dict) and list(r) == cb_cols for r in meta["codebook"]):
            raise ValueError("its codebook rows do not match its codebook columns")
        # column by column: peak memory about the frame itself (pyarrow's to_pandas holds the
        # Arrow table and the frame at once)
        data = read_parquet(path)
        cols = meta.get("columns")
        if cols is not None and list(data.columns) != list(cols):
            raise ValueError(f"its columns {list(data.columns)[:8]}... are not the ones "
                             f"recorded ({list(cols)[:8]}...)")
        rows = meta["provenance"].get("rows_kept")
        if isinstance(rows, int) and rows != len(data):
            raise ValueError(f"it has {len(data)} rows, its provenance says {rows}")
        return build(data, meta)
    except Exception as e:  # noqa: BLE001 - whatever is wrong with it, the entry is rebuilt
        why = str(e) if isinstance(e, ValueError) and str(e).startswith("it") else \
            f"{type(e).__name__}: {e}"
        warnings.warn(f"the cached table {path} is unreadable ({why}); it is rebuilt from the "
                      f"survey file.", CacheWarning, stacklevel=user_stacklevel())
        try:
            path.unlink()
        except OSError:
            pass
        return None


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
