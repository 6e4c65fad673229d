"""Render a Report as a Word document (``.docx``) with python-docx.

The same content as the HTML: the title, the synthetic-data notice (also in the page header of
every page for the demo), one Heading 1 per section, Heading 2 per table, paragraphs, real Word
tables (header row repeated on every page, ruled in the journal style of
:mod:`socialhealth.tables.word`), figures as PNG at 300 dpi with their captions, and the R code
in a monospace font (lines of :meth:`Report.r_script`). Page numbers are in the footer.
"""
from __future__ import annotations

import io
from pathlib import Path

from socialhealth.errors import ReportError
from socialhealth.report.document import Report, ReportTable, Section
from socialhealth.report.html import SYNTHETIC_BANNER

MONO = "Courier New"


def _docx():
    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover - python-docx is a core dependency
        raise ReportError("Word output needs python-docx, which is not installed: pip install "
                          "python-docx (a dependency of socialhealth; reinstall it).") from exc
    return docx


def _field(paragraph, instr: str) -> None:
    """A Word field (``PAGE``, ``NUMPAGES``) in ``paragraph``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instr), ("separate", None), (None, "1"),
                       ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == instr:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {instr} "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._r.append(el)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _numeric(values) -> bool:
    from socialhealth.report.pdf import _is_number

    return len(values) > 0 and all(_is_number(v) for v in values)


def add_table(doc, t: ReportTable) -> None:
    """Caption (Heading 2), the Word table and its note."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    from socialhealth.tables.word import _rule

    doc.add_heading(t.title, level=2)
    f = t.display()
    numeric = [_numeric(list(f[c])) for c in f.columns]
    table = doc.add_table(rows=1 + len(f), cols=len(f.columns))
    table.alignment = WD_TABLE_ALIGNMENT.LEFT

    def put(cell, text, bold=False, right=False):
        par = cell.paragraphs[0]
        run = par.add_run(str(text))
        run.bold = bold
        run.font.size = Pt(8)
        par.alignment = WD_ALIGN_PARAGRAPH.RIGHT if right else WD_ALIGN_PARAGRAPH.LEFT

    for j, c in enumerate(f.columns):
        put(table.cell(0, j), c, bold=True, right=numeric[j])
        _rule(table.cell(0, j), "top", "bottom")
    _repeat_header(table.rows[0])
    for i, row in enumerate(f.itertuples(index=False), start=1):
        for j, v in enumerate(row):
            put(table.cell(i, j), v, right=numeric[j])
    if len(f):
        for j in range(len(f.columns)):
            _rule(table.cell(len(f), j), "bottom")
    note = t.full_note()
    if note:
        p = doc.add_paragraph()
        p.add_run(note).font.size = Pt(8)


def add_code(doc, code: str) -> None:
    """The R code, one paragraph per line, in a monospace font with no spacing between lines."""
    from docx.shared import Pt

    for line in code.split("\n"):
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        p.paragraph_format.space_before = Pt(0)
        run = p.add_run(line)
        run.font.name = MONO
        run.font.size = Pt(7.5)
        from docx.oxml.ns import qn

        rpr = run._r.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is not None:
            fonts.set(qn("w:eastAsia"), MONO)


def add_section(doc, s: Section, r_code: str) -> None:
    """Heading, status, text, figures, tables, notes and (methods) the R code."""
    from docx.shared import Inches, Pt

    doc.add_heading(s.title, level=1)
    if not s.ok:
        p = doc.add_paragraph()
        p.add_run("Skipped: ").bold = True
        p.add_run(s.reason)
    for text in s.text:
        doc.add_paragraph(text)
    for fig in s.figures:
        png = fig.print_png()
        width = min(6.3, fig.width_in or 6.3)
        doc.add_picture(io.BytesIO(png), width=Inches(width))
        if fig.caption:
            cap = doc.add_paragraph()
            cap.add_run(fig.caption).italic = True
    for t in s.tables:
        add_table(doc, t)
    for n in s.notes:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(n).font.size = Pt(8.5)
    if s.key == "methods" and r_code:
        doc.add_heading("R code", level=2)
        add_code(doc, r_code)


def write_docx(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` as a Word document; returns the path."""
    docx = _docx()
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    path = Path(path)
    doc = docx.Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(sec, side, Cm(2.0))
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(10)
    doc.core_properties.title = report.title
    doc.core_properties.author = "socialhealth"
    if report.synthetic:
        hp = sec.header.paragraphs[0]
        run = hp.add_run("SYNTHETIC DATA: generated demo survey, not real people; numbers "
                         "describe no population.")
        run.bold = True
        run.font.size = Pt(8)
        run.font.color.rgb = RGBColor(0xB0, 0x2A, 0x2A)
    fp = sec.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    fp.add_run("Page ")
    _field(fp, "PAGE")
    fp.add_run(" of ")
    _field(fp, "NUMPAGES")

    doc.add_heading(report.title, level=0)
    m = report.meta
    meta = doc.add_paragraph()
    meta.add_run(f"Survey: {m.get('survey_title', report.dataset)}; dataset: {report.dataset}; "
                 f"exposure: "
                 f"{m.get('exposure', '')}; created {m.get('created', '')} with socialhealth "
                 f"{m.get('socialhealth', '')}.").font.size = Pt(8.5)
    if report.synthetic:
        p = doc.add_paragraph()
        run = p.add_run(SYNTHETIC_BANNER)
        run.bold = True
        run.font.color.rgb = RGBColor(0x8A, 0x1C, 0x1C)
    r_code = report.r_script()
    for s in report.sections:
        add_section(doc, s, r_code)
    try:
        doc.save(str(path))
    except OSError as e:
        raise ReportError(f"cannot write the report to {path}: {e.strerror or e}. Check that the "
                          "folder exists and is writable.") from None
    return path
