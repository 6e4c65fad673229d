"""Read selected columns of a survey file as distributed (.dta, .sav, .xpt, .csv, .tab, or a .zip
holding one of them), counting every missing-value code on the way.

One entry point, :func:`open_source`, returns a :class:`Source` that knows the file's column
names and sha256 and reads the columns a loader asks for into a :class:`RawTable`:

* numeric columns are float64 with NaN for every missing value (Stata ``.``/``.a``-``.z``,
  SPSS user-missing codes declared in the file, SAS special missing);
* ``RawTable.missing`` counts them per variable and per code (``".d"``, ``"7"``, ``"."`` for
  Stata system missing, ``"sysmis"`` for SPSS system missing, ``"blank"`` for empty CSV cells);
* value and variable labels come along for the codebook.

Readers: a numpy slice reader for Stata 117-119 (``_stata``; fast on wide files), pyreadstat
for everything else (``user_missing=True`` so codes can be counted before they become NaN).

Before anything is read, ``_integrity`` checks that the content is the format the extension
claims (else :class:`~socialhealth.errors.WrongFileFormatError`) and that the file is as long
as its header says (else :class:`~socialhealth.errors.TruncatedFileError`); a read that still
comes back short, or a reader error on a short file, is reported as truncation too. No data is
ever returned from a truncated file.
"""
from __future__ import annotations

import io
import os
import struct
import tempfile
import zipfile
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from socialhealth.errors import SurveyFileError, TruncatedFileError
from socialhealth.datasets import _cache, _integrity, _stata

_EXTS = (".dta", ".sav", ".zsav", ".por", ".xpt", ".csv", ".tab")


@dataclass
class RawTable:
    """Columns read from a survey file, with missing-code counts and labels.

    Attributes
    ----------
    data : the columns read; numeric missing values (Stata ``.a``-``.z``, SPSS user-missing,
        SAS special missing) are NaN (see the module docstring).
    missing : ``{column: {code: count}}`` of the missing codes found.
    value_labels, variable_labels : labels from the file (Stata/SPSS; empty for CSV).
    n_rows : rows in the file; reader : the reader and its version (for provenance).
    """

    data: pd.DataFrame
    missing: dict[str, dict[str, int]]
    value_labels: dict[str, dict]
    variable_labels: dict[str, str]
    n_rows: int
    reader: str


@dataclass
class Source:
    """An opened survey file: its columns, hash, and a column reader (from ``open_source``).

    ``sha256`` may still be computing in a background thread (large Stata files are hashed
    while their columns are read: hashlib releases the GIL); reading the attribute waits.
    """

    path: Path
    _sha: str | Future[str]     # a digest, or the background job computing it
    member: str | None
    kind: str
    columns: list[str]
    n_rows: int | None
    _impl: Callable[[list[str]], RawTable] = field(repr=False)
    #: a temporary folder the Source reads from, kept alive as long as the Source
    _tmpdir: tempfile.TemporaryDirectory | None = field(repr=False, default=None)

    def read(self, columns: list[str]) -> RawTable:
        """Read ``columns`` (all must exist; check with ``.columns`` first)."""
        return self._impl(columns)

    @property
    def sha256(self) -> str:
        """SHA-256 hex digest of the file (waits for the background hash if still running)."""
        if not isinstance(self._sha, str):
            self._sha = self._sha.result()
        return self._sha

    @property
    def sha_ready(self) -> bool:
        """True once the SHA-256 digest is available without waiting."""
        return isinstance(self._sha, str) or self._sha.done()


def _sh_version() -> str:
    from socialhealth import __version__

    return __version__


def _reader_version() -> str:
    import pyreadstat

    return f"pyreadstat {pyreadstat.__version__}"


def _fail(path: Path, what: str) -> SurveyFileError:
    return SurveyFileError(
        f"cannot read {path}: {what}. Pass the survey file as distributed "
        f"(.dta, .sav, .xpt, .csv, .tab or the agency's .zip).")


def open_source(path: str | os.PathLike) -> Source:
    """Open a survey file (or a .zip holding one) for column-selective reading.

    Parameters
    ----------
    path : str or path-like
        The file as distributed by the survey agency.

    Returns
    -------
    Source
        ``.columns`` lists the file's variables, ``.sha256`` is the hash of the file given
        (the archive for a .zip), ``.read(columns)`` returns a :class:`RawTable`.

    Examples
    --------
    A small SPSS file with ESS-style user-missing codes 7, 8, 9:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd, pyreadstat
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "tiny.sav"
    >>> df = pd.DataFrame({"fltlnl": [1, 2, 7, 8, 9, 9, 3],
    ...                    "pspwght": [1.0, 0.5, 1.2, 0.8, 1.1, 0.9, 1.0]})
    >>> pyreadstat.write_sav(df, str(path), missing_ranges={"fltlnl": [7, 8, 9]})
    >>> src = open_source(path)
    >>> src.columns
    ['fltlnl', 'pspwght']
    >>> raw = src.read(["fltlnl", "pspwght"])
    >>> raw.missing["fltlnl"], raw.n_rows
    ({'7': 1, '8': 1, '9': 2}, 7)
    >>> raw.data["fltlnl"].tolist()
    [1.0, 2.0, nan, nan, nan, nan, 3.0]
    >>> tmp.cleanup()
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise SurveyFileError(f"file not found: {p}. Check the path passed as path=.")
    if p.is_dir():
        raise SurveyFileError(f"{p} is a folder; pass the survey file itself as path=.")
    size = p.stat().st_size
    if size == 0:
        raise SurveyFileError(f"{p} is empty (0 bytes); download the file again.")
    ext = p.suffix.lower()
    if ext in _EXTS or ext == ".zip":
        _check_file(p, ext, size)
    sha = _cache.cached_sha256(p)
    if ext == ".zip":
        return _open_zip(p, sha)
    if ext == ".dta":
        return _open_dta_path(p, sha)
    if ext in (".sav", ".zsav", ".por", ".xpt"):
        return _open_pyreadstat(p, p, sha or _hash(p), None, ext)
    if ext in (".csv", ".tab"):             # .tab: the UK Data Service tab-delimited edition
        return _open_csv(p, p, sha or _hash(p), None, sep="\t" if ext == ".tab" else ",")
    hint = (" R data files: write them to Stata first, e.g. haven::write_dta(x, 'file.dta')."
            if ext in (".rda", ".rdata", ".rds") else "")
    raise SurveyFileError(
        f"{p}: unknown file type {ext!r}; expected one of .dta, .sav, .xpt, .csv, .tab or "
        f".zip.{hint}")


def _check_file(p: Path, ext: str, size: int) -> None:
    """Format and completeness checks of a file on disk (see ``_integrity``)."""
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
            kind = _integrity.check_format(str(p), head, ext)
            if ext in (".csv", ".tab"):
                f.seek(0)
                header = f.readline(1 << 20)      # the whole header line of a wide file
                f.seek(max(0, size - (1 << 20)))
                tail = f.read()
                _integrity.check_csv(str(p), header, tail, size, "\t" if ext == ".tab" else ",")
            elif kind in ("dta", "dta-old", "sav", "zsav", "xpt"):
                import mmap

                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    _integrity.check_complete(str(p), mm, kind)
                finally:
                    mm.close()
    except OSError as e:
        raise SurveyFileError(f"cannot read {p}: {e.strerror or e}. Check the file's "
                              f"permissions.") from None


def _check_bytes(name: str, data: bytes, ext: str) -> None:
    """Format and completeness checks of a zip member held in memory."""
    kind = _integrity.check_format(name, data[:4096], ext)
    if ext in (".csv", ".tab"):
        _integrity.check_csv(name, data[:1 << 20], data[-(1 << 20):], len(data),
                             "\t" if ext == ".tab" else ",")
    else:
        _integrity.check_complete(name, data, kind or "")


def _hash(p: Path) -> str:
    sha = _cache.sha256_file(p)
    _cache.remember_sha256(p, sha)
    return sha


# ------------------------------------------------------------------------------ Stata
def _open_dta_path(p: Path, sha: str | None) -> Source:
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    buf, _ = _cache.map_and_hash(p, sha or "deferred")
    if sha is None:
        def work() -> str:
            h = hashlib.sha256()
            h.update(memoryview(buf))       # update() releases the GIL for large buffers
            digest = h.hexdigest()
            _cache.remember_sha256(p, digest)
            return digest

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="socialhealth-sha256")
        job = pool.submit(work)
        pool.shutdown(wait=False)
        return _open_dta_buffer(p, buf, job, None, fallback_path=p)
    return _open_dta_buffer(p, buf, sha, None, fallback_path=p)


def _open_dta_buffer(p: Path, buf, sha: str | Future[str], member: str | None,
                     fallback_path: Path | None) -> Source:
    name = str(p) if member is None else f"{p} (member {member})"
    try:
        sf = _stata.parse(buf)
    except _stata.TruncatedStataFile as t:
        raise _integrity.truncated_error(name, t.size, t.expected, t.where, "dta") from None
    except (_stata.UnsupportedStataFile, struct.error, ValueError):   # pyreadstat decides
        if fallback_path is None:  # a zip member: spill to a temporary file for pyreadstat
            return _open_pyreadstat_bytes(p, bytes(buf), sha, member, ".dta")
        return _open_pyreadstat(p, fallback_path, sha, member, ".dta")

    def read(columns: list[str]) -> RawTable:
        data, missing = {}, {}
        try:
            for c in columns:
                vals, counts = sf.read_column(c)
                data[c] = vals
                if counts:
                    missing[c] = dict(counts)
            vl = sf.variable_value_labels(columns)
        except (_stata.UnsupportedStataFile, struct.error, ValueError, IndexError):
            if fallback_path is None:
                return _open_pyreadstat_bytes(p, bytes(buf), sha, member, ".dta").read(columns)
            return _open_pyreadstat(p, fallback_path, sha, member, ".dta").read(columns)
        varlab = {c: sf.varlabels[sf._index()[c]] for c in columns}
        df = pd.DataFrame({c: (pd.array(v, dtype="string") if v.dtype == object else v)
                           for c, v in data.items()}, index=pd.RangeIndex(sf.nobs))
        return RawTable(df, missing, vl, varlab, sf.nobs,
                        f"socialhealth {_sh_version()} _stata numpy slice reader (dta "
                        f"{sf.release})")

    return Source(p, sha, member, "dta", list(sf.names), sf.nobs, read)


# ------------------------------------------------------------------------------ zip
def _open_zip(p: Path, sha: str | None) -> Source:
    if sha is None:
        sha = _hash(p)
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise _fail(p, "not a valid zip archive (corrupt, or an incomplete download: download "
                        "it again)") from None
    with zf:
        # (CDC's BRFSS zips hold "LLCP2023.XPT " with a trailing space: strip before matching)
        members = [n for n in zf.namelist()
                   if n.strip().lower().endswith(_EXTS) and not n.startswith("__MACOSX")]
        if not members:
            raise _fail(p, f"the archive holds no survey file (found: {zf.namelist()[:10]})")
        if len(members) > 1:
            raise SurveyFileError(
                f"{p} holds several survey files ({members}); unzip it and pass the one you "
                f"want as path=.")
        member = members[0]
        try:
            data = zf.read(member)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise _fail(p, f"the archive is corrupt or incomplete ({e}); download it "
                        f"again") from None
    ext = Path(member.strip()).suffix.lower()
    if not data:
        raise SurveyFileError(f"{p}: {member} inside the archive is empty.")
    _check_bytes(f"{p} (member {member})", data, ext)
    if ext == ".dta":
        return _open_dta_buffer(p, data, sha, member, fallback_path=None)
    if ext in (".csv", ".tab"):
        return _open_csv(p, io.BytesIO(data), sha, member, sep="\t" if ext == ".tab" else ",")
    return _open_pyreadstat_bytes(p, data, sha, member, ext)


def _open_pyreadstat_bytes(p: Path, data: bytes, sha: str | Future[str], member: str | None,
                           ext: str) -> Source:
    tmpdir = tempfile.TemporaryDirectory(prefix="socialhealth-")
    tmp = Path(tmpdir.name) / ("member" + ext)
    tmp.write_bytes(data)
    src = _open_pyreadstat(p, tmp, sha, member, ext)
    src._tmpdir = tmpdir  # keeps the folder alive as long as the Source
    return src


# ------------------------------------------------------------------------------ pyreadstat
def _pyreadstat_fn(ext: str):
    import pyreadstat

    return {".dta": pyreadstat.read_dta, ".sav": pyreadstat.read_sav, ".zsav": pyreadstat.read_sav,
            ".por": pyreadstat.read_por, ".xpt": pyreadstat.read_xport}[ext]


def _open_pyreadstat(p: Path, real: Path, sha: str | Future[str], member: str | None,
                     ext: str) -> Source:
    import pyreadstat

    fn = _pyreadstat_fn(ext)
    try:
        _, meta = fn(str(real), metadataonly=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeDecodeError,
            ValueError) as e:
        raise _read_error(p, real, member, ext, e) from None
    declared = meta.number_rows if isinstance(meta.number_rows, int) and meta.number_rows >= 0 \
        else None

    def read(columns: list[str]) -> RawTable:
        # dates/times stay numbers in the file's own unit (SPSS: seconds since 1582-10-14;
        # Stata: days or ms since 1960; SAS: days or seconds since 1960), as the Stata slice
        # reader returns them: converted to datetime they became NaN below, counted as missing.
        kw: dict[str, Any] = {"usecols": list(columns), "disable_datetime_conversion": True}
        if ext not in (".por", ".xpt"):   # read_xport has no user_missing: SAS special
            kw["user_missing"] = True     # missing values arrive as NaN (counted as ".")
        try:
            df, m = fn(str(real), **kw)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, ValueError) as e:
            raise _read_error(p, real, member, ext, e) from None
        if declared is not None and len(df) < declared:   # never hand back a short read
            name = str(p) if member is None else f"{p} (member {member})"
            raise TruncatedFileError(
                f"{name} is truncated: its header declares {declared:,} rows but only "
                f"{len(df):,} could be read ({Path(real).stat().st_size:,} bytes). Download it "
                f"again.")
        out, missing = {}, {}
        ranges = getattr(m, "missing_ranges", None) or {}
        for c in columns:
            s = df[c]
            counts: Counter = Counter()
            if ext in (".dta", ".xpt") and not pd.api.types.is_numeric_dtype(s):
                is_code = s.map(lambda v: isinstance(v, str) and len(v) == 1 and v.isalpha())
                str_col = m.readstat_variable_types.get(c) == "string"
                if not str_col:
                    for code, n in s[is_code].value_counts().items():
                        counts["." + str(code).lower()] = int(n)
                    s = pd.to_numeric(s.where(~is_code), errors="coerce")
            elif ext not in (".dta", ".xpt") and pd.api.types.is_numeric_dtype(s) and c in ranges:
                v = s.to_numpy(dtype=float)
                miss = np.zeros(len(v), bool)
                for r in ranges[c]:
                    lo, hi = float(r["lo"]), float(r["hi"])
                    hit = (v >= lo) & (v <= hi)
                    for code, n in zip(*np.unique(v[hit], return_counts=True), strict=True):
                        counts[_code_str(code)] += int(n)
                    miss |= hit
                s = pd.Series(np.where(miss, np.nan, v), index=s.index)
            elif ext not in (".dta", ".xpt") and c in ranges:   # string user-missing values
                vals = s.astype(object)
                miss = np.zeros(len(vals), bool)
                for r in ranges[c]:
                    lo, hi = r["lo"], r["hi"]
                    hit = vals.map(lambda v, lo=lo, hi=hi: isinstance(v, str) and
                                   isinstance(lo, str) and lo <= v <= hi).to_numpy(dtype=bool)
                    for code, n in Counter(vals[hit]).items():
                        counts[str(code)] += int(n)
                    miss |= hit
                s = s.where(~miss)
            if not pd.api.types.is_numeric_dtype(s) \
                    and m.readstat_variable_types.get(c) != "string":
                s = pd.to_numeric(s, errors="coerce")  # e.g. integer columns read as object
            if pd.api.types.is_numeric_dtype(s):
                s = s.astype("float64")
                nsys = int(s.isna().sum()) - sum(counts.values())
                if nsys > 0:
                    counts["." if ext in (".dta", ".xpt") else "sysmis"] += nsys
            else:
                s = s.astype("string")
            out[c] = s
            if counts:
                missing[c] = dict(counts)
        vl = {c: {_key(k): v for k, v in d.items()} for c, d in m.variable_value_labels.items()
              if c in out}
        varlab = {c: (m.column_names_to_labels.get(c) or "") for c in columns}
        frame = pd.DataFrame(out)
        return RawTable(frame, missing, vl, varlab, len(frame), _reader_version())

    return Source(p, sha, member, ext.lstrip("."), list(meta.column_names), meta.number_rows, read)


def _read_error(p: Path, real, member: str | None, ext: str, e: Exception) -> SurveyFileError:
    """A reader error explained: truncation where the file shows it, else damage."""
    name = str(p) if member is None else f"{p} (member {member})"
    size = Path(real).stat().st_size
    msg = str(e)
    if ext in (".sav", ".zsav"):
        try:
            with open(real, "rb") as f:
                got = _integrity.sav_cases_present(f.read())
        except Exception:  # noqa: BLE001 - only an explanation; the reader's error stands
            got = None
        if got is not None and not got[2]:
            found, declared, _ = got
            of = f" of the {declared:,} its header declares" if declared >= 0 else ""
            return TruncatedFileError(
                f"{name} is truncated: it is {size:,} bytes and its compressed data ends after "
                f"{found:,} complete cases{of}. The download or copy was cut short; no data was "
                f"read from it. Download it again.")
    if "expected number of rows" in msg:
        return TruncatedFileError(
            f"{name} is truncated: it is {size:,} bytes and holds fewer rows than its header "
            f"declares ({msg}). Download it again.")
    return SurveyFileError(
        f"cannot read {name} ({size:,} bytes): {type(e).__name__}: {msg}. The file is damaged "
        f"or incomplete (its header looked right): download it again, or pass the survey file "
        f"as distributed.")


def _code_str(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _key(k):
    if isinstance(k, float) and k.is_integer():
        return int(k)
    if isinstance(k, str) and len(k) == 1 and k.isalpha():
        return "." + k
    return k


# ------------------------------------------------------------------------------ CSV
def _open_csv(p: Path, real, sha: str | Future[str], member: str | None, sep: str = ",") -> Source:
    try:
        head = pd.read_csv(real, nrows=0, sep=sep)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise _fail(p, f"{type(e).__name__}: {e}") from None
    cols = [str(c) for c in head.columns]

    def read(columns: list[str]) -> RawTable:
        if hasattr(real, "seek"):
            real.seek(0)
        try:
            df = pd.read_csv(real, usecols=list(columns), low_memory=False, sep=sep)
        except (pd.errors.ParserError, ValueError) as e:
            raise _fail(p, f"{type(e).__name__}: {e}") from None
        missing = {}
        for c in columns:
            n = int(df[c].isna().sum())
            if n:
                missing[c] = {"blank": n}
            conv = pd.to_numeric(df[c], errors="coerce")
            if conv.notna().sum() == df[c].notna().sum():
                df[c] = conv.astype("float64")
            else:
                df[c] = df[c].astype("string")
        return RawTable(df, missing, {}, {c: "" for c in columns}, len(df),
                        f"pandas {pd.__version__} read_csv")

    return Source(p, sha, member, "csv", cols, None, read)
