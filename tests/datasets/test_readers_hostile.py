"""Truncated files and impostors are named as such, before any data is read (issue 12).

Files are written here (pyreadstat / pandas), then cut at several points: in the header, in
the Stata map, in the middle of the data, in the value labels and a few bytes before the end.
Every cut raises TruncatedFileError naming the file, its size, the size the header implies and
"download it again"; where the format records the full size, the size named is the length of
the uncut file (measured here, not by the code under test). Files whose content is another
format (a PNG, a CSV, a zip, an SPSS file named .dta ...) raise WrongFileFormatError saying
what they are. No truncated file ever yields data.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets
from socialhealth.datasets import _readers
from socialhealth.datasets._readers import open_source
from socialhealth.errors import SurveyFileError, TruncatedFileError, WrongFileFormatError

N = 1500
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
LABELS = {"c": {0: "zero", 1: "one", 2: "two"}, "d": {1: "first label", 2: "second label"}}


def _frame():
    rng = np.random.default_rng(12)
    return pd.DataFrame({"a": rng.normal(size=N), "b": [f"s{i % 97}" for i in range(N)],
                         "c": (np.arange(N) % 3).astype(float), "d": (np.arange(N) % 2 + 1.0)})


def _read_all(path):
    src = open_source(path)
    return src.read(list(src.columns))


# ------------------------------------------------------------------ writers (name, ext, exact)
def _dta_pyreadstat(version):
    def write(p):
        pyreadstat.write_dta(_frame(), str(p), version=version, variable_value_labels=LABELS)
    return write


def _dta_pandas(version):
    def write(p):
        df = _frame()
        df.to_stata(p, version=version, write_index=False,
                    value_labels={"c": LABELS["c"], "d": LABELS["d"]})
    return write


def _sav(**kw):
    def write(p):
        pyreadstat.write_sav(_frame(), str(p), variable_value_labels=LABELS, **kw)
    return write


def _xpt(version):
    def write(p):
        pyreadstat.write_xport(_frame(), str(p), file_format_version=version)
    return write


# (writer, extension, does the header give the exact full size?)
FORMATS = {
    "dta113": (_dta_pyreadstat(8), ".dta", False),
    "dta114": (_dta_pandas(114), ".dta", False),
    "dta115": (_dta_pyreadstat(12), ".dta", False),
    "dta117": (_dta_pyreadstat(13), ".dta", True),
    "dta118": (_dta_pyreadstat(14), ".dta", True),
    "dta118_pandas": (_dta_pandas(118), ".dta", True),
    "dta119": (_dta_pyreadstat(15), ".dta", True),
    "sav": (_sav(), ".sav", True),
    "sav_bytecode": (_sav(row_compress=True), ".sav", False),
    "zsav": (_sav(compress=True), ".zsav", True),
    "xpt5": (_xpt(5), ".xpt", False),
    "xpt8": (_xpt(8), ".xpt", False),
}


def _cuts(data: bytes, fmt: str) -> dict[str, int]:
    """Where to cut (bytes kept), found from landmarks in the bytes themselves."""
    n = len(data)
    cuts = {"header": 60, "descriptors": 400, "middle of data": n // 2,
            "last 3 bytes": n - 3, "last byte": n - 1}
    if fmt.startswith("dta11") and data.startswith(b"<stata_dta>"):
        cuts["inside the map"] = data.index(b"<map>") + 40
        cuts["value labels"] = data.index(b"<value_labels>") + 30
    elif fmt.startswith("dta"):
        cuts["value labels"] = data.rindex(b"first label") + 3   # last table, in its text
    elif "sav" in fmt:
        cuts["value labels (dictionary)"] = data.index(b"second label") + 4
    return cuts


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-formats")
    out = {}
    for name, (write, ext, exact) in FORMATS.items():
        p = d / f"full_{name}{ext}"
        write(p)
        out[name] = (p, ext, exact)
    return out


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_complete_files_read_in_full(written, fmt):
    p, _ext, _ = written[fmt]
    raw = _read_all(p)
    assert raw.n_rows == N
    np.testing.assert_allclose(raw.data["a"].to_numpy(dtype=float), _frame()["a"], rtol=1e-12)


def _cut_names(fmt: str) -> list[str]:
    extra = (["inside the map", "value labels"] if fmt.startswith(("dta117", "dta118", "dta119"))
             else ["value labels"] if fmt.startswith("dta")
             else ["value labels (dictionary)"] if "sav" in fmt else [])
    return ["header", "descriptors", "middle of data", "last 3 bytes", "last byte", *extra]


CASES = [(fmt, where) for fmt in sorted(FORMATS) for where in _cut_names(fmt)]


@pytest.mark.parametrize("fmt,where", CASES)
def test_truncated_file_is_named_with_sizes(written, tmp_path, fmt, where):
    full, ext, exact = written[fmt]
    data = full.read_bytes()
    keep = _cuts(data, fmt)[where]
    p = tmp_path / f"cut{ext}"
    p.write_bytes(data[:keep])
    with pytest.raises(TruncatedFileError) as e:
        _read_all(p)
    msg = str(e.value)
    assert str(p) in msg and "truncated" in msg
    assert f"{keep:,} bytes" in msg
    assert "download it again" in msg.lower()
    if exact and "header says" in msg:
        assert f"says {len(data):,} bytes" in msg          # the uncut file's true length
    elif "at least" in msg:                                  # a lower bound between the two
        bound = int(msg.split("at least ")[1].split(" bytes")[0].replace(",", ""))
        assert keep < bound <= len(data)
    assert isinstance(e.value, SurveyFileError)


def test_exact_sizes_for_formats_that_record_them(written, tmp_path):
    """Cut mid-data, the formats with a recorded size name the uncut length exactly."""
    for fmt in ("dta117", "dta118", "dta119", "sav", "zsav"):
        full, ext, _ = written[fmt]
        data = full.read_bytes()
        p = tmp_path / f"mid_{fmt}{ext}"
        p.write_bytes(data[: len(data) // 2])
        with pytest.raises(TruncatedFileError, match=f"header says {len(data):,} bytes"):
            _read_all(p)


def test_bytecode_sav_counts_the_complete_cases(written, tmp_path):
    full, _, _ = written["sav_bytecode"]
    data = full.read_bytes()
    p = tmp_path / "cut.sav"
    p.write_bytes(data[:-3])
    with pytest.raises(TruncatedFileError, match=f"of the {N:,} its header declares"):
        _read_all(p)


def test_truncated_file_through_load_leaves_no_cache(gss_cum_writer, tmp_path, cache_dir,
                                                     leftovers):
    p = gss_cum_writer(tmp_path / "gss.dta")
    data = p.read_bytes()
    p.write_bytes(data[:-2])
    with pytest.raises(TruncatedFileError, match=f"says {len(data):,} bytes"):
        datasets.load("gss", path=p)
    assert leftovers(cache_dir) == []


def test_short_read_is_never_returned(written, monkeypatch):
    """If a reader ever returned fewer rows than the header declares, the load fails."""
    orig = _readers._pyreadstat_fn

    def fake(ext):
        fn = orig(ext)

        def short(path, **kw):
            df, meta = fn(path, **kw)
            return (df if kw.get("metadataonly") else df.iloc[:-5]), meta
        return short

    monkeypatch.setattr(_readers, "_pyreadstat_fn", fake)
    with pytest.raises(TruncatedFileError, match=f"declares {N:,} rows but only {N - 5:,}"):
        _read_all(written["sav"][0])


# ------------------------------------------------------------------ zip members
def _zip(path, member, data):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
    return path


def test_truncated_member_of_a_valid_zip(written, tmp_path):
    data = written["dta118"][0].read_bytes()
    z = _zip(tmp_path / "survey.zip", "survey.dta", data[:-100])
    with pytest.raises(TruncatedFileError) as e:
        _read_all(z)
    assert "member survey.dta" in str(e.value) and f"{len(data):,}" in str(e.value)


def test_truncated_zip_archive(written, tmp_path):
    z = _zip(tmp_path / "survey.zip", "survey.dta", written["dta118"][0].read_bytes())
    blob = z.read_bytes()
    z.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(SurveyFileError, match="download it again"):
        _read_all(z)


# ------------------------------------------------------------------ impostors
def _csv_bytes():
    return b"a,b,c\n1,2,3\n4,5,6\n"


@pytest.mark.parametrize("ext", [".dta", ".sav", ".zsav", ".xpt", ".zip", ".csv", ".tab"])
def test_png_with_a_survey_extension(tmp_path, ext):
    p = tmp_path / f"picture{ext}"
    p.write_bytes(PNG)
    with pytest.raises(WrongFileFormatError, match="its content is a PNG image") as e:
        open_source(p)
    assert str(p) in str(e.value) and "not a" in str(e.value)


@pytest.mark.parametrize("ext,what", [(".dta", "Stata"), (".sav", "SPSS"), (".xpt", "SAS"),
                                      (".zip", "zip")])
def test_csv_text_with_a_binary_extension(tmp_path, ext, what):
    p = tmp_path / f"data{ext}"
    p.write_bytes(_csv_bytes())
    with pytest.raises(WrongFileFormatError, match=f"not an? .*{what}.*plain text|not an? {what}"):
        open_source(p)


@pytest.mark.parametrize("src_fmt,ext,hint", [
    ("sav", ".dta", ".sav extension"), ("dta118", ".sav", ".dta extension"),
    ("dta113", ".xpt", ".dta extension"), ("xpt5", ".dta", ".xpt extension"),
    ("dta118", ".csv", ".dta extension"), ("zsav", ".dta", ".zsav extension"),
])
def test_survey_file_with_the_wrong_extension(written, tmp_path, src_fmt, ext, hint):
    p = tmp_path / f"renamed{ext}"
    p.write_bytes(written[src_fmt][0].read_bytes())
    with pytest.raises(WrongFileFormatError, match=hint):
        open_source(p)


def test_zip_named_dta_and_html_named_zip(written, tmp_path):
    z = _zip(tmp_path / "x.dta", "inner.dta", written["dta118"][0].read_bytes())
    with pytest.raises(WrongFileFormatError, match="zip archive: give it the .zip extension"):
        open_source(z)
    h = tmp_path / "download.zip"
    h.write_bytes(b"<!DOCTYPE html>\n<html><body>Please log in</body></html>")
    with pytest.raises(WrongFileFormatError, match="web page"):
        open_source(h)


def test_impostor_inside_a_zip(tmp_path):
    z = _zip(tmp_path / "s.zip", "s.dta", PNG)
    with pytest.raises(WrongFileFormatError, match="member s.dta.*PNG"):
        open_source(z)


def test_png_through_load(tmp_path, cache_dir, leftovers):
    p = tmp_path / "gss.dta"
    p.write_bytes(PNG)
    with pytest.raises(WrongFileFormatError, match="not a Stata .dta file"):
        datasets.load("gss", path=p)
    assert leftovers(cache_dir) == []


# ------------------------------------------------------------------ CSV
@pytest.mark.parametrize("sep,ext", [(",", ".csv"), ("\t", ".tab")])
def test_csv_with_a_short_last_line(tmp_path, sep, ext):
    rows = [sep.join(["id", "x", "y", "z"])] + [sep.join([str(i), "1", "2", "3"]) for i in range(50)]
    text = "\n".join(rows) + "\n"
    full = tmp_path / f"full{ext}"
    full.write_text(text)
    assert _read_all(full).n_rows == 50
    cut = tmp_path / f"cut{ext}"
    cut.write_text(text[: len(text) - 4])        # "49<sep>1<sep>" : 2 or 3 of 4 fields
    with pytest.raises(TruncatedFileError, match="last line has .* of the 4 fields") as e:
        _read_all(cut)
    assert str(cut) in str(e.value) and "download it again" in str(e.value).lower()
    # a complete last line without a final newline is fine
    nonl = tmp_path / f"nonl{ext}"
    nonl.write_text(text.rstrip("\n"))
    assert _read_all(nonl).n_rows == 50


def test_csv_with_quoted_commas_is_not_flagged(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('id,name,x\n1,"Smith, J",2\n2,"Doe, A",3\n')
    assert _read_all(p).n_rows == 2


def test_truncated_csv_inside_a_zip(tmp_path):
    z = _zip(tmp_path / "c.zip", "c.csv", b"a,b,c\n1,2,3\n4,5")
    with pytest.raises(TruncatedFileError, match="member c.csv"):
        _read_all(z)


# ------------------------------------------------------------------ real files
def test_real_files_truncated(shared_data_dir, tmp_path):
    """The real survey files open in full, and temp copies cut short are caught."""
    gss = shared_data_dir / "gss" / "GSS2018.dta"            # dta 113 as NORC ships it
    ext18 = shared_data_dir / "gss" / "gss_panel20_extract.dta"   # dta 118
    ess = shared_data_dir / "ess" / "ESS7GB.sav"              # bytecode-compressed SPSS
    csvf = shared_data_dir / "other" / "DAAG_socsupport.csv"
    zipf = shared_data_dir / "gss" / "gss_panel06_long.dta.zip"
    present = [f for f in (gss, ext18, ess, csvf, zipf) if f.is_file()]
    if not present:
        pytest.skip("none of the real files is present")
    for f in present:                                        # no false alarms
        src = open_source(f)
        assert src.columns
    cuts = []
    if gss in present:
        data = gss.read_bytes()
        cuts += [(gss, data, len(data) - 164 * 1024), (gss, data, 1024 * 1024),
                 (gss, data, len(data) - 10), (gss, data, 5000)]
    if ext18 in present:
        data = ext18.read_bytes()
        cuts += [(ext18, data, 200), (ext18, data, data.index(b"<map>") + 50),
                 (ext18, data, len(data) // 2), (ext18, data, data.index(b"<value_labels>") + 99),
                 (ext18, data, len(data) - 1)]
    if ess in present:
        data = ess.read_bytes()
        cuts += [(ess, data, 5000), (ess, data, len(data) // 2), (ess, data, len(data) - 3)]
    if csvf in present:
        data = csvf.read_bytes()
        cuts += [(csvf, data, len(data) - 5)]
    for src_file, data, keep in cuts:
        p = tmp_path / f"cut_{keep}{src_file.suffix}"
        p.write_bytes(data[:keep])
        with pytest.raises(TruncatedFileError) as e:
            _read_all(p)
        msg = str(e.value)
        assert str(p) in msg and f"{keep:,} bytes" in msg and "download it again" in msg.lower()
        if src_file == ext18 and keep > data.index(b"<map>") + 5 + 112:   # map readable
            assert f"says {len(data):,} bytes" in msg
    if zipf in present:
        blob = zipf.read_bytes()
        p = tmp_path / "cut.dta.zip"
        p.write_bytes(blob[:-1000])
        with pytest.raises(SurveyFileError, match="download it again"):
            _read_all(p)
    if ess in present:                                     # a real file, renamed
        p = tmp_path / "ess.dta"
        p.write_bytes(ess.read_bytes())
        with pytest.raises(WrongFileFormatError, match=".sav extension"):
            open_source(p)
    if gss in present:                                       # the 164 KB cut, via load
        p = tmp_path / "GSS2018_cut.dta"
        p.write_bytes(gss.read_bytes()[: -164 * 1024])
        with pytest.raises(TruncatedFileError):
            datasets.load("gss", path=p, cache=False)


def test_spss_portable_file_is_recognised(tmp_path):
    p = tmp_path / "f.por"
    pyreadstat.write_por(_frame()[["a", "c"]], str(p))
    assert _read_all(p).n_rows == N
    q = tmp_path / "f.dta"
    q.write_bytes(p.read_bytes())
    with pytest.raises(WrongFileFormatError, match=".por extension"):
        open_source(q)


@pytest.mark.parametrize("fmt", ["dta117", "dta118", "dta119"])
def test_stata_reader_never_falls_back_on_a_truncated_file(written, tmp_path, monkeypatch, fmt):
    """Without the up-front check, the dta 117+ reader itself refuses a short file (it used to
    hand it to pyreadstat, which reads a file cut in its value labels without complaint)."""
    from socialhealth.datasets import _integrity, _stata

    data = written[fmt][0].read_bytes()
    for keep in (100, data.index(b"<value_labels>") + 30, len(data) - 1):
        with pytest.raises(_stata.TruncatedStataFile):
            _stata.parse(data[:keep])
    monkeypatch.setattr(_integrity, "check_complete", lambda *a, **k: None)
    p = tmp_path / f"cut{fmt}.dta"
    p.write_bytes(data[:-20])
    with pytest.raises(TruncatedFileError, match=f"says {len(data):,} bytes"):
        _read_all(p)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_damaged_bytes_give_socialhealth_errors_only(written, tmp_path, fmt):
    """Random byte damage (seeded): a read either succeeds or raises a socialhealth error,
    never a raw struct/Unicode/pyreadstat exception."""
    from socialhealth.errors import SocialHealthError

    full, ext, _ = written[fmt]
    data = full.read_bytes()
    rng = np.random.default_rng(2026)
    for trial in range(12):
        d = bytearray(data)
        hi = min(len(d), 3000) if trial % 2 else len(d)     # half the damage in the header
        for pos in rng.integers(0, hi, size=3):
            d[pos] = int(rng.integers(0, 256))
        p = tmp_path / f"damaged{trial}{ext}"                # a new file each time (no rewrite
        p.write_bytes(bytes(d))                              # under a hashing thread's mmap)
        try:
            _read_all(p)
        except SocialHealthError:
            pass
