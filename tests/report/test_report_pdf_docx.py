"""The PDF and Word reports are documents one could send (issue 16).

The PDF is read back with pypdf, as a reader's copy-and-paste would get it: the synthetic-data
notice and the page number are on every page, the R code copies out identical to the report's
R code, tables have headers in words and no cell cut with "...", figures are vector drawings
(no raster image in the file). The Word file is read back with python-docx and compared with
the HTML of the same report: the same section headings, the same tables (headers and cells),
the figures, the R code in a monospace font.
"""
from __future__ import annotations

import html as _html
import re
import shutil
import subprocess

import pytest

import socialhealth as sh
from socialhealth.report.pdf import SYNTHETIC_HEADER
from socialhealth.report.rcode import wrap_line

pypdf = pytest.importorskip("pypdf")
docx = pytest.importorskip("docx")

RAW_NAMES = ["ci_low", "ci_high", "odds_ratio", "outcome_label", "adjusted_for", "_per_year",
             "factor_label", "published_exposure", "rico-uribe_2018", "gellert_2012"]


@pytest.fixture(scope="module")
def rep():
    return sh.report.build(sh.datasets.load("demo"), outcomes=["poor_health", "depression"])


@pytest.fixture(scope="module")
def pdf_pages(rep, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    rep.to_pdf(path)
    reader = pypdf.PdfReader(str(path))
    return reader, [p.extract_text() for p in reader.pages]


@pytest.fixture(scope="module")
def word(rep, tmp_path_factory):
    path = tmp_path_factory.mktemp("docx") / "report.docx"
    rep.to_docx(path)
    return docx.Document(str(path))


def _decorations(text: str) -> bool:
    """A running header/footer line (drawn on every page, not part of the body)."""
    return (text == SYNTHETIC_HEADER or re.fullmatch(r"Page \d+ of \d+", text) is not None
            or text.startswith("socialhealth report: "))


def _body_lines(pages: list[str]) -> list[str]:
    # a page's text ends with a line break: the page break, not an empty line of the body
    return [ln for p in pages for ln in p.rstrip("\n").split("\n")
            if not _decorations(ln.strip())]


def test_every_page_has_the_notice_and_its_number(pdf_pages):
    reader, pages = pdf_pages
    n = len(pages)
    assert n >= 4
    for i, text in enumerate(pages, start=1):
        lines = [ln.strip() for ln in text.split("\n")]
        assert SYNTHETIC_HEADER in lines, f"page {i} has no synthetic-data notice"
        assert f"Page {i} of {n}" in lines, f"page {i} has no page number"


def test_real_survey_pdf_has_no_synthetic_notice_but_page_numbers(tmp_path):
    rep = sh.report.build(sh.datasets.load("demo"), outcomes=["poor_health"])
    rep.synthetic = False                      # as for a real survey
    path = rep.to_pdf(tmp_path / "r.pdf")
    pages = [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]
    assert all("SYNTHETIC DATA: generated demo survey" not in p for p in pages)
    assert all(f"Page {i} of {len(pages)}" in p for i, p in enumerate(pages, 1))


def test_r_code_copies_out_of_the_pdf_unchanged(rep, pdf_pages):
    _, pages = pdf_pages
    body = _body_lines(pages)
    code = rep.r_script().split("\n")
    assert len(code) > 20 and code[0].startswith("# In Python")
    start = body.index(code[0])
    assert body[start - 1].strip() == "R code"
    assert body[start:start + len(code)] == code
    # the code is the methods section's R code, broken only between arguments
    joined = re.sub(r"\s+", " ", " ".join(code))
    for line in rep["methods"].r_code:
        assert re.sub(r"\s+", " ", line) in joined.replace("( ", "("), line


def test_no_hyphenation_or_split_names_in_the_pdf(rep, pdf_pages):
    _, pages = pdf_pages
    text = "\n".join(_body_lines(pages))
    # schema names in the R code are whole on their line
    for name in ("physically_inactive", "poor_health", "svyciprop", "quasibinomial()",
                 "socialhealth_demo.csv"):
        assert name in text, name
    assert not re.search(r"[A-Za-z]-\n[a-z]", text), "a word is hyphenated at a line end"


def test_pdf_tables_use_words_and_cut_nothing(rep, pdf_pages):
    _, pages = pdf_pages
    body = _body_lines(pages)
    code_start = body.index(rep.r_script().split("\n")[0])
    prose = "\n".join(body[:code_start])
    for raw in RAW_NAMES:
        assert raw not in prose, raw
    assert "..." not in prose and "\u2026" not in prose
    for header in ("95% CI", "Odds ratio", "Outcome", "Model 1 OR (95% CI)", "Estimate (%)"):
        assert header in prose.replace("\n", " "), header
    assert "Rico-Uribe et al. 2018" in prose
    # every short cell of every table is in the PDF as a whole (not cut, not split)
    flat = " ".join(prose.split())
    for s in rep:
        for t in s.tables:
            for v in t.display().to_numpy().ravel():
                v = str(v)
                if len(v) <= 20 and " " not in v:
                    assert v in flat, (t.title, v)


def test_pdf_figures_are_vector(rep, pdf_pages):
    reader, _ = pdf_pages
    assert sum(len(p.images) for p in reader.pages) == 0       # no raster anywhere
    n_fig = sum(len(s.figures) for s in rep)
    assert n_fig >= 3
    forms = 0
    for p in reader.pages:
        xobj = p["/Resources"].get("/XObject") or {}
        forms += sum(1 for k in xobj if xobj[k].get_object().get("/Subtype") == "/Form")
        content = p.get_contents().get_data()
        forms += content.count(b" re f") > 0      # drawn paths (bars, lines) on the page
    assert forms >= 1


def _html_parts(rep):
    text = rep.to_html()
    h2 = [_html.unescape(x) for x in re.findall(r"<h2>(.*?)</h2>", text)]
    h3 = [_html.unescape(x) for x in re.findall(r"<h3>(.*?)</h3>", text)]
    tables = []
    for body in re.findall(r"<table.*?</table>", text, flags=re.S):
        rows = re.findall(r"<tr.*?</tr>", body, flags=re.S)
        tables.append([[_html.unescape(re.sub(r"<.*?>", "", c)).strip()
                        for c in re.findall(r"<t[hd].*?</t[hd]>", r, flags=re.S)] for r in rows])
    return h2, h3, tables


def test_docx_has_the_headings_and_tables_of_the_html(rep, word):
    h2, h3, tables = _html_parts(rep)
    heads1 = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    heads2 = [p.text for p in word.paragraphs if p.style.name == "Heading 2"]
    assert heads1 == h2 == [s.title for s in rep]
    assert heads2 == h3
    assert len(word.tables) == len(tables) == sum(len(s.tables) for s in rep)
    for wt, ht in zip(word.tables, tables):
        cells = [[c.text for c in row.cells] for row in wt.rows]
        assert cells == ht
        assert not any("_" in c for c in cells[0]), cells[0]        # headers in words
        assert wt.rows[0]._tr.trPr.xml.count("tblHeader") == 1       # repeated on each page


def test_docx_figures_code_notice(rep, word):
    pics = word.inline_shapes
    assert len(pics) == sum(len(s.figures) for s in rep)
    code = rep.r_script().split("\n")
    mono = [p for p in word.paragraphs if p.runs and p.runs[0].font.name == "Courier New"]
    assert [p.text for p in mono] == code
    header = " ".join(p.text for p in word.sections[0].header.paragraphs)
    assert "SYNTHETIC DATA" in header
    footer = word.sections[0].footer._element.xml
    assert "PAGE" in footer and "NUMPAGES" in footer
    # figures at print resolution: 300 dpi PNGs
    fig = rep["prevalence"].figures[0]
    from PIL import Image
    import io

    im = Image.open(io.BytesIO(fig.print_png()))
    assert im.size[0] == round(fig.width_in * 300)


def test_save_and_cli_write_docx(tmp_path, capsys):
    from socialhealth.cli import main

    rc = main(["report", "--dataset", "demo", "--outcomes", "poor_health",
               "--output", str(tmp_path / "r.docx")])
    assert rc == 0
    doc = docx.Document(str(tmp_path / "r.docx"))
    assert doc.paragraphs[0].text.startswith("Loneliness")


def test_wrap_line_breaks_only_between_arguments():
    line = ('des_x <- subset(des, !is.na(poor_health) & !is.na(lonely) & !is.na(age_group) & '
            '!is.na(sex) & !is.na(smoker) & !is.na(obese))')
    out = wrap_line(line, 60)
    assert len(out) > 1 and all(len(x) <= 60 for x in out)
    assert " ".join(x.strip() for x in out) == line
    # a comma inside a string is never a break point
    s = 'f("a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w", x, y)'
    assert wrap_line(s, 20) == ['f("a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, '
                                't, u, v, w",', "    x, y)"]
    # a comment stays a comment on every line
    assert all(x.startswith("#") for x in wrap_line("#   sd = load(a, b, c, d, e, f)", 16))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")
def test_wrapped_r_code_parses_in_r(rep, tmp_path):
    script = tmp_path / "report.R"
    script.write_text(rep.r_script() + "\n", encoding="utf-8")
    res = subprocess.run(["Rscript", "-e", f"invisible(parse(file = '{script}')); cat('ok')"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.endswith("ok"), res.stderr


def _real(shared_data_dir, rel, name, **kw):
    import warnings

    p = shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"{p} not present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load(name, path=p, **kw)


@pytest.mark.realdata
def test_real_survey_pdfs_name_the_round_and_use_words(shared_data_dir, tmp_path):
    ess = sh.report.build(_real(shared_data_dir, "ess/ESS7GB.sav", "ess"),
                          outcomes=["poor_health"])
    assert ess.title.endswith("European Social Survey round 7, GB")
    gss = sh.report.build(_real(shared_data_dir, "gss/gss_panel20.dta", "gss_panel20",
                                wave=2020), exposure="ucla3_isolated>=3",
                          outcomes=["poor_health"])
    assert "General Social Survey 2016-2020 panel, 2020 wave" in gss.title
    assert gss["prevalence"].title == "Prevalence of feeling isolated from others (often)"
    assert gss["association"].title.startswith("Feeling isolated from others (often) and health")
    for rep, name in ((ess, "ess"), (gss, "gss")):
        path = rep.to_pdf(tmp_path / f"{name}.pdf")
        pages = [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]
        assert all(f"Page {i} of {len(pages)}" in p for i, p in enumerate(pages, 1))
        assert not any("SYNTHETIC" in p for p in pages)
        body = _body_lines(pages)
        code = rep.r_script().split("\n")
        start = body.index(code[0])
        assert body[start:start + len(code)] == code
        prose = "\n".join(body[:start])
        assert "..." not in prose
        for raw in RAW_NAMES:
            assert raw not in prose, (name, raw)


def test_a_long_table_repeats_its_header_on_every_page(tmp_path):
    import pandas as pd

    from socialhealth.report.document import Report, ReportTable, Section

    frame = pd.DataFrame({"group": [f"Group {i}" for i in range(150)],
                          "odds_ratio": [1.0 + i / 100 for i in range(150)],
                          "ci_low": [0.5] * 150, "ci_high": [2.0 + i / 100 for i in range(150)]})
    sec = Section("association", "Long")
    sec.tables.append(ReportTable("A long table", frame, digits=2))
    rep = Report(title="Long table", dataset="x", sections=[sec])
    path = rep.to_pdf(tmp_path / "long.pdf")
    pages = [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]
    assert len(pages) >= 3
    for i, text in enumerate(pages, 1):
        lines = [ln.strip() for ln in text.split("\n")]
        rows = [j for j, ln in enumerate(lines) if re.fullmatch(r"Group \d+", ln)]
        assert rows, f"page {i} has no rows"
        head = lines.index("Odds ratio")
        assert lines[head - 1] == "Group" and lines[head + 1] == "95% CI"
        assert head < rows[0], f"page {i}: no header above its rows"
    last = [ln.strip() for ln in pages[-1].split("\n")]
    assert last[last.index("Group 149") + 1:last.index("Group 149") + 3] == ["2.49", "0.50 to 3.49"]
    assert "Long" in pages[0]                     # the table starts on page 1, not after a gap


def test_print_and_vector_figures_are_drawn_only_for_the_formats_that_use_them(tmp_path):
    """HTML uses the screen PNG only; the 300-dpi PNG (Word) and the SVG (PDF) are drawn the
    first time a format asks, and are the same figure."""
    from PIL import Image
    import io

    r = sh.report.build(sh.datasets.load("demo"), outcomes=["poor_health"])
    figs = [f for s in r.sections for f in s.figures]
    assert figs
    r.save(tmp_path / "r.html")
    assert all(f.svg == b"" and f.png_print == b"" for f in figs)    # not drawn for HTML
    r.save(tmp_path / "r.pdf")
    assert all(f.vector().startswith(b"<?xml") and f.png_print == b"" for f in figs)
    r.save(tmp_path / "r.docx")
    for f in figs:
        screen, paper = Image.open(io.BytesIO(f.png)), Image.open(io.BytesIO(f.print_png()))
        assert paper.size == (round(f.width_in * 300), round(f.height_in * 300))
        assert screen.size == (f.width_px, f.height_px)
