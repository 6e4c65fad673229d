"""Is this file what its name says, and is it all there? Checked before any data is read.

Two questions, answered from the file's own bytes (no data is decoded):

* **Format** (:func:`sniff`): the first bytes identify Stata 117-119 (``<stata_dta>``), the old
  binary Stata formats (release byte 102-115, byte order 1/2, file type 1), SPSS system files
  (``$FL2``, ``$FL3``), SPSS portable files (``SPSS PORT FILE``), SAS transport
  (``HEADER RECORD*******LIBRARY`` / ``LIBV8``), zip (``PK``), and common impostors (PNG, PDF,
  HTML pages, gzip, R data ...). A file whose content is not the format its extension claims
  raises :class:`~socialhealth.errors.WrongFileFormatError` saying what it is instead.
* **Completeness** (:func:`check_complete`): the size the header implies, where the format
  records one, against the size on disk. A shorter file raises
  :class:`~socialhealth.errors.TruncatedFileError` naming the file, both sizes and "download it
  again".

  - Stata 117-119: the map's end-of-file offset (its 14th entry).
  - Stata 113-115: header + descriptors + expansion fields + N x record width, then every
    value-label table must fit (the format has no table count: a cut exactly between two tables
    is not detectable).
  - SPSS ``.sav``: the dictionary must be complete; uncompressed data must be N cases x case
    size x 8 bytes; zlib (``.zsav``) data must reach the trailer the zlib header points to;
    bytecode-compressed data has no size field, so a read error or a short read is diagnosed by
    decoding the command stream (:func:`sav_cases_present`).
  - SAS transport: a whole number of 80-byte records; the data must hold whole observations
    (V8 headers also give the observation count).
  - CSV / tab: the last line must have as many fields as the header.

  A header this check cannot follow (an unusual writer, or damage) gets no verdict here: the
  reader decides, and a read shorter than the declared row count is still refused.

References: Stata ``help dta`` (file formats 113-119); the PSPP manual, "System File Format";
SAS "Record Layout of a SAS Version 5 or 6 Data Set in SAS Transport (XPORT) Format" (TS-140)
and its V8 extension.
"""
from __future__ import annotations

import csv
import io
import struct

from socialhealth.errors import TruncatedFileError, WrongFileFormatError

#: What each survey format is called in messages, by the kind :func:`sniff` returns.
FORMAT_NAMES = {
    "dta": "a Stata .dta file", "dta-old": "a Stata .dta file (old binary format)",
    "sav": "an SPSS .sav file", "zsav": "an SPSS .zsav (zlib-compressed) file",
    "por": "an SPSS portable .por file", "xpt": "a SAS transport (.xpt) file",
    "zip": "a zip archive", "csv": "a text (CSV) file",
}
_EXT_KINDS = {".dta": {"dta", "dta-old"}, ".sav": {"sav", "zsav"}, ".zsav": {"sav", "zsav"},
              ".por": {"por"}, ".xpt": {"xpt"}, ".zip": {"zip"}}
_RENAME = {"dta": ".dta", "dta-old": ".dta", "sav": ".sav", "zsav": ".zsav", "por": ".por",
           "xpt": ".xpt", "zip": ".zip"}
_FOREIGN = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"), (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
    (b"RDX2\n", "an R data file (.RData)"), (b"RDX3\n", "an R data file (.RData)"),
    (b"RDA2\n", "an R data file (.RData)"), (b"RDA3\n", "an R data file (.RData)"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel/Office file"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
]


def sniff(head: bytes) -> tuple[str | None, str]:
    """``(kind, description)`` of a file from its first bytes (at least 512 when available).

    ``kind`` is one of :data:`FORMAT_NAMES` (``"csv"`` for plain text), or None for anything
    else (``description`` then says what it looks like).

    Examples
    --------
    >>> sniff(b"<stata_dta><header><release>118</release>")[0]
    'dta'
    >>> sniff(b"$FL2@(#) IBM SPSS STATISTICS")[0]
    'sav'
    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n....")
    (None, 'a PNG image')
    """
    if head.startswith(b"<stata_dta>"):
        return "dta", FORMAT_NAMES["dta"]
    if (len(head) >= 4 and head[0] in (102, 103, 104, 105, 108, 110, 111, 112, 113, 114, 115)
            and head[1] in (1, 2) and head[2] == 1):
        return "dta-old", FORMAT_NAMES["dta-old"]
    if head.startswith(b"$FL2"):
        return "sav", FORMAT_NAMES["sav"]
    if head.startswith(b"$FL3"):
        return "zsav", FORMAT_NAMES["zsav"]
    if head.startswith(b"HEADER RECORD*******LIB"):
        return "xpt", FORMAT_NAMES["xpt"]
    if b"SPSS PORT FILE" in head[:1024] or b"SPSSPORT" in head[:1024]:
        return "por", FORMAT_NAMES["por"]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip", FORMAT_NAMES["zip"]
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return None, what
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head",
                        b"<?xml")) or b"<html" in text[:1024]:
        return None, "a web page (HTML/XML), often a login or error page saved instead of the file"
    if text.startswith((b"{", b"[")):
        return None, "a JSON document"
    sample = head[:4096]
    if sample and b"\x00" not in sample:
        try:
            sample.decode("utf-8")
            return "csv", FORMAT_NAMES["csv"]
        except UnicodeDecodeError as e:
            if e.start >= len(sample) - 3:       # a character cut at the end of the sample
                return "csv", FORMAT_NAMES["csv"]
            if sum(b < 9 or 13 < b < 32 for b in sample) == 0:
                return "csv", FORMAT_NAMES["csv"]   # Latin-1 text
    return None, f"binary data of an unknown format (first bytes {bytes(head[:8])!r})"


def check_format(name: str, head: bytes, ext: str) -> str | None:
    """Raise :class:`WrongFileFormatError` unless ``head`` is the format ``ext`` claims.

    Returns the sniffed kind.
    """
    kind, what = sniff(head)
    want = _EXT_KINDS.get(ext)
    if ext in (".csv", ".tab"):
        if kind in ("csv",):
            return kind
        if kind is None and what.startswith("binary"):
            return kind                         # odd encodings: let the CSV reader decide
    elif kind in (want or set()) or (ext == ".por" and kind == "csv"):  # .por is text too
        return kind
    claimed = {".csv": "a CSV file", ".tab": "a tab-delimited file"}.get(
        ext, FORMAT_NAMES.get(next(iter(sorted(want or {"?"}))), f"a {ext} file"))
    if kind in _RENAME:
        fix = (f"It is {what}: give it the {_RENAME[kind]} extension (or pass the right file).")
    elif kind == "csv":
        fix = ("It is plain text: if it is a CSV export, name it .csv; otherwise pass the survey "
               "file as distributed.")
    elif what.startswith("a web page"):
        fix = ("Download the file again from the survey's site (logged in, if it needs "
               "registration), and check that the saved file is the data file.")
    else:
        fix = ("Pass the survey file as distributed (.dta, .sav, .xpt, .csv, .tab or the agency's "
               ".zip).")
    raise WrongFileFormatError(
        f"{name} is not {claimed}: its content is {what}. {fix}")


# ----------------------------------------------------------------------------- truncation
class _Short(Exception):
    """Internal: the file ends before ``expected`` bytes (None: unknown) inside ``where``."""

    def __init__(self, expected: int | None, where: str, exact: bool = False):
        super().__init__(where)
        self.expected = expected
        self.where = where
        self.exact = exact


def truncated_error(name: str, size: int, expected: int | None, where: str,
                    kind: str, exact: bool = True) -> TruncatedFileError:
    """The :class:`TruncatedFileError` of a file ``size`` bytes long that should be longer
    (``expected`` bytes, or at least that many when not ``exact``; None: unknown)."""
    fmt = FORMAT_NAMES.get(kind, "a survey file")
    if expected is not None and expected > size:
        says = "says" if exact else "implies at least"
        gap = expected - size
        sizes = (f"it is {size:,} bytes, but its header {says} {expected:,} bytes "
                 f"({'' if exact else 'at least '}{gap:,} byte{'s' if gap != 1 else ''} missing)")
    else:
        sizes = f"it is {size:,} bytes and ends early"
    return TruncatedFileError(
        f"{name} is truncated: {sizes}; it ends inside {where}. This is {fmt} whose download or "
        f"copy was cut short; no data was read from it. Download it again (and compare its "
        f"checksum with the agency's, where one is published).")


def check_complete(name: str, buf, kind: str) -> None:
    """Raise :class:`TruncatedFileError` if ``buf`` (the whole file, bytes-like) is shorter
    than its header implies (see the module docstring for what each format allows)."""
    size = len(buf)
    fn = {"dta": _dta117, "dta-old": _dta_old, "sav": _sav, "zsav": _sav, "xpt": _xpt}.get(kind)
    if fn is None:
        return
    try:
        fn(buf)            # mmap or bytes: slices are small copies, nothing stays exported
    except _Short as s:
        raise truncated_error(name, size, s.expected, s.where, kind, s.exact) from None
    except (struct.error, ValueError, IndexError):
        # a header this check cannot follow (an unusual writer, or damage): no verdict here;
        # the reader decides, and a short read is still refused after reading
        return


def _need(mv, end: int, where: str) -> None:
    """The file must reach byte ``end`` (a lower bound of its size) to hold ``where``."""
    if end > len(mv):
        raise _Short(end, where)


# ---------------------------------------------------------------- Stata 117-119
def _dta117(mv) -> None:
    head = bytes(mv[:4096])
    release = head[28:31]
    if not release.isdigit() or int(release) not in (117, 118, 119):
        raise ValueError(f"unknown dta release {release!r}")
    mpos = head.find(b"<map>")
    if mpos < 0:
        if len(mv) < 4096:
            raise _Short(None, "the header (before its file map)")
        raise ValueError("no <map> section in the header")
    _need(mv, mpos + 5 + 112, "the file map (header)")
    bpos = head.find(b"<byteorder>") + len(b"<byteorder>")
    end = "<" if head[bpos:bpos + 3] == b"LSF" else ">"
    offs = struct.unpack(end + "14Q", mv[mpos + 5:mpos + 5 + 112])
    if list(offs[1:]) != sorted(offs[1:]) or offs[1] != mpos:
        raise ValueError("the file map's offsets are not in order")
    total = offs[13]
    names = ["header", "map", "variable types", "variable names", "sort list", "formats",
             "value-label names", "variable labels", "characteristics", "data", "strLs",
             "value labels", "closing tag"]
    if total > len(mv):
        where = next((names[i] for i in range(12, -1, -1) if offs[i] <= len(mv)), "header")
        raise _Short(total, f"the {where} section", exact=True)
    if bytes(mv[offs[12]:offs[12] + 12]) != b"</stata_dta>":
        raise ValueError("no closing </stata_dta> tag where the file map puts it")


# ---------------------------------------------------------------- Stata 113-115
_OLD_WIDTH = {251: 1, 252: 2, 253: 4, 254: 4, 255: 8}


def _dta_old(mv) -> None:
    release = mv[0]
    if release not in (113, 114, 115):
        return          # older releases: format recognised, size not checked
    end = ">" if mv[1] == 1 else "<"
    _need(mv, 109, "the header")
    nvar, nobs = struct.unpack(end + "Hi", mv[4:10])
    fmt_w = 12 if release == 113 else 49
    pos = 109
    _need(mv, pos + nvar, "the variable types")
    types = bytes(mv[pos:pos + nvar])
    pos += nvar + 33 * nvar + 2 * (nvar + 1) + fmt_w * nvar + 33 * nvar + 81 * nvar
    _need(mv, pos, "the variable descriptors")
    while True:                                  # expansion fields
        _need(mv, pos + 5, "the expansion fields (characteristics)")
        typ, ln = struct.unpack(end + "Bi", mv[pos:pos + 5])
        pos += 5
        if typ == 0 and ln == 0:
            break
        if ln < 0:
            raise ValueError("negative expansion-field length")
        pos += ln
        _need(mv, pos, "the expansion fields (characteristics)")
    rowlen = 0
    for t in types:
        if 1 <= t <= 244:
            rowlen += t
        elif t in _OLD_WIDTH:
            rowlen += _OLD_WIDTH[t]
        else:
            raise ValueError(f"unknown variable type {t}")
    data_end = pos + nobs * rowlen
    _need(mv, data_end, f"the data ({nobs:,} rows x {rowlen} bytes)")
    pos = data_end
    while pos < len(mv):                         # value-label tables up to the end of file
        _need(mv, pos + 40, "the value labels")
        (ln,) = struct.unpack(end + "i", mv[pos:pos + 4])
        if ln < 0:
            raise ValueError("negative value-label table length")
        _need(mv, pos + 40 + ln, "the value labels")
        pos += 40 + ln


# ---------------------------------------------------------------- SPSS .sav / .zsav
def _sav_header(mv):
    """(endian, nominal_case_size, compression, ncases, bias, data_start) of a .sav file."""
    _need(mv, 176, "the file header")
    layout_le = struct.unpack("<i", mv[64:68])[0]
    end = "<" if layout_le in (2, 3) else ">"
    case_size, compression, _weight, ncases = struct.unpack(end + "4i", mv[68:84])
    (bias,) = struct.unpack(end + "d", mv[84:92])
    pos = 176
    while True:
        _need(mv, pos + 4, "the dictionary")
        (rec,) = struct.unpack(end + "i", mv[pos:pos + 4])
        if rec == 2:
            _need(mv, pos + 32, "the variable records")
            _t, has_label, n_miss = struct.unpack(end + "3i", mv[pos + 4:pos + 16])
            pos += 32
            if has_label == 1:
                _need(mv, pos + 4, "the variable labels")
                (ln,) = struct.unpack(end + "i", mv[pos:pos + 4])
                pos += 4 + (ln + 3) // 4 * 4
            pos += abs(n_miss) * 8
        elif rec == 3:
            _need(mv, pos + 8, "the value labels")
            (count,) = struct.unpack(end + "i", mv[pos + 4:pos + 8])
            pos += 8
            for _ in range(count):
                _need(mv, pos + 9, "the value labels")
                ln = mv[pos + 8]
                pos += 8 + (ln + 1 + 7) // 8 * 8
            _need(mv, pos + 8, "the value labels")
            rec4, nvars = struct.unpack(end + "2i", mv[pos:pos + 8])
            if rec4 != 4:
                raise ValueError("a value-label record is not followed by its variable list")
            pos += 8 + 4 * nvars
        elif rec == 6:
            _need(mv, pos + 8, "the documents")
            (nlines,) = struct.unpack(end + "i", mv[pos + 4:pos + 8])
            pos += 8 + 80 * nlines
        elif rec == 7:
            _need(mv, pos + 16, "the extension records")
            _sub, size, count = struct.unpack(end + "3i", mv[pos + 4:pos + 16])
            pos += 16 + size * count
        elif rec == 999:
            pos += 8
            _need(mv, pos, "the dictionary")
            return end, case_size, compression, ncases, bias, pos
        else:
            raise ValueError(f"unknown dictionary record type {rec} at byte {pos}")
        _need(mv, pos, "the dictionary")


def _sav(mv) -> None:
    end, case_size, compression, ncases, _bias, pos = _sav_header(mv)
    if compression == 0 and ncases >= 0 and case_size > 0:
        expected = pos + ncases * case_size * 8
        if expected > len(mv):
            raise _Short(expected, f"the data ({ncases:,} cases of {case_size * 8} bytes)",
                         exact=True)
    elif compression == 2:                       # zlib: header -> trailer offset and length
        _need(mv, pos + 24, "the zlib data header")
        _zh, zt_ofs, zt_len = struct.unpack(end + "3q", mv[pos:pos + 24])
        if zt_ofs + zt_len > len(mv):
            raise _Short(zt_ofs + zt_len, "the zlib-compressed data", exact=True)


def sav_cases_present(buf) -> tuple[int, int, bool] | None:
    """Decode the bytecode stream of a compressed .sav file without converting values.

    Returns ``(complete cases found, cases declared in the header (-1: not declared), whether
    the stream ended cleanly)`` (clean: an end-of-file code, or the declared number of cases
    decoded with nothing cut), or None when the file is not bytecode-compressed. Used only to
    explain a read error or a short read (pure Python, one step per 8 values).
    """
    mv = buf
    end, case_size, compression, ncases, _bias, pos = _sav_header(mv)
    if compression != 1 or case_size <= 0:
        return None
    n = len(mv)
    values = 0
    while pos + 8 <= n:
        block = bytes(mv[pos:pos + 8])
        pos += 8
        for code in block:
            if code == 252:
                return values // case_size, ncases, True
            if code == 253:
                if pos + 8 > n:
                    return values // case_size, ncases, False
                pos += 8
            if code != 0:
                values += 1
        if 0 <= ncases <= values // case_size:
            return values // case_size, ncases, values % case_size == 0
    return values // case_size, ncases, (pos == n and values % case_size == 0
                                         and (ncases < 0 or values // case_size >= ncases))


# ---------------------------------------------------------------- SAS transport
def _xpt(mv) -> None:
    n = len(mv)
    if n % 80:
        raise _Short((n // 80 + 1) * 80, "an 80-byte record (a transport file is a whole "
                                         "number of them)")
    v8 = bytes(mv[20:25]) == b"LIBV8"
    nam = _find(mv, b"HEADER RECORD*******NAMSTV8" if v8 else b"HEADER RECORD*******NAMESTR")
    obs = _find(mv, b"HEADER RECORD*******OBS")
    if nam < 0 or obs < 0:
        raise _Short(None, "the header records (no observation header)")
    mem = _find(mv, b"HEADER RECORD*******MEMB")
    nlen = 140
    if mem >= 0:
        try:
            nlen = int(bytes(mv[mem + 74:mem + 78]))
        except ValueError:
            nlen = 140
    count = int(bytes(mv[nam + 54:nam + 58]))
    rowlen = 0
    for i in range(count):
        o = nam + 80 + i * nlen
        (nlng,) = struct.unpack(">h", mv[o + 4:o + 6])
        (npos,) = struct.unpack(">i", mv[o + 84:o + 88])
        rowlen = max(rowlen, npos + nlng)
    if rowlen <= 0:
        return
    start = obs + 80
    nxt = _find(mv, b"HEADER RECORD*******MEMB", start)   # a second member ends this one
    stop = nxt if nxt >= 0 else n
    if v8:
        txt = bytes(mv[obs + 48:obs + 80]).strip()
        if txt.isdigit():
            nobs = int(txt)
            expected = start + (nobs * rowlen + 79) // 80 * 80
            if expected > stop:
                raise _Short(expected + (n - stop), f"the data ({nobs:,} observations of "
                                                    f"{rowlen} bytes)", exact=True)
            return
    data = stop - start
    full, rem = divmod(data, rowlen)
    if rem and bytes(mv[stop - rem:stop]).strip(b" ") != b"":
        raise _Short(start + (full + 1) * rowlen, f"an observation (the data ends "
                                                  f"{rem} bytes into a {rowlen}-byte row)")


def _find(mv, needle: bytes, start: int = 0) -> int:
    """Offset of ``needle`` at an 80-byte record boundary at or after ``start`` (-1: none)."""
    i = mv.find(needle, start)
    while i >= 0 and i % 80:
        i = mv.find(needle, i + 1)
    return i


# ---------------------------------------------------------------- CSV
def check_csv(name: str, head: bytes, tail: bytes, size: int, sep: str) -> None:
    """Raise :class:`TruncatedFileError` if the last line of a CSV file has fewer fields than
    its header (a download cut mid-line). ``head``/``tail``: the first and last bytes of the
    file (``tail`` the whole file when it is short). Ambiguous endings (a last line longer than
    ``tail``, or one inside a quoted multi-line field) are not flagged.
    """
    def fields(line: bytes) -> int:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        return len(next(csv.reader(io.StringIO(text), delimiter=sep), []))

    first = head.split(b"\n", 1)[0]
    if not first.strip():
        return
    body = tail.rstrip(b"\r\n")
    nl = body.rfind(b"\n")
    if nl < 0:
        return                                  # header only, or a last line we cannot see whole
    last = body[nl + 1:]
    if last.count(b'"') % 2:
        return                                  # inside a quoted multi-line field: ambiguous
    n_head, n_last = fields(first), fields(last)
    if n_last < n_head:
        raise TruncatedFileError(
            f"{name} is truncated: it is {size:,} bytes and its last line has {n_last} of the "
            f"{n_head} fields its header names ({last[:60].decode('utf-8', 'replace')!r}). "
            f"The download or copy was cut short; no data was read from it. Download it again.")
