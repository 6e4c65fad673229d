"""Render a Report as PDF with reportlab (A4, ready to send).

* Tables are real tables: ruled, cells wrap within columns sized to fit the page, the header
  row is repeated when a table continues on the next page; numbers are right-aligned.
* Figures are vector drawings (the figure's SVG drawn through svglib), not rasters.
* Every page carries its number ("Page 3 of 9") and, for the synthetic demo, the notice that
  the data are synthetic.
* The R code is one monospace block; its lines are those of :meth:`Report.r_script` (broken
  only where R allows), never hyphenated or cut, so that it copies out of the PDF unchanged.
  No text of the report is hyphenated.
"""
from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from socialhealth.errors import ReportError
from socialhealth.report.document import Report, ReportFigure, ReportTable, Section
from socialhealth.report.html import SYNTHETIC_BANNER

#: Shown at the top of every page of the synthetic demo's PDF.
SYNTHETIC_HEADER = ("SYNTHETIC DATA: generated demo survey, not real people; numbers describe no "
                    "population.")


def _rl():
    try:
        import reportlab  # noqa: F401
    except ImportError as exc:  # pragma: no cover - reportlab is a core dependency
        raise ReportError("PDF output needs reportlab, which is not installed: pip install "
                          "reportlab (a dependency of socialhealth; reinstall it).") from exc


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5,
                          leading=12.5, spaceAfter=5, hyphenationLang="", embeddedHyphenation=0,
                          uriWasteReduce=0)
    return {
        "title": ParagraphStyle("title", parent=body, fontName="Helvetica-Bold", fontSize=16,
                                leading=20, spaceAfter=6),
        "meta": ParagraphStyle("meta", parent=body, fontSize=8, leading=10.5,
                               textColor=colors.HexColor("#444444")),
        "banner": ParagraphStyle("banner", parent=body, fontName="Helvetica-Bold", fontSize=9,
                                 leading=12, textColor=colors.HexColor("#8a1c1c"),
                                 backColor=colors.HexColor("#fdecea"), borderPadding=6,
                                 borderColor=colors.HexColor("#d9534f"), borderWidth=0.8,
                                 spaceBefore=6, spaceAfter=12),
        "h2": ParagraphStyle("h2", parent=body, fontName="Helvetica-Bold", fontSize=13,
                             leading=16, spaceBefore=12, spaceAfter=6),
        "h3": ParagraphStyle("h3", parent=body, fontName="Helvetica-Bold", fontSize=10,
                             leading=13, spaceBefore=8, spaceAfter=4),
        "body": body,
        "skipped": ParagraphStyle("skipped", parent=body, textColor=colors.HexColor("#8a5a00")),
        "note": ParagraphStyle("note", parent=body, fontSize=7.5, leading=9.5, spaceAfter=3,
                               textColor=colors.HexColor("#333333")),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9, spaceAfter=0),
        "cell_r": ParagraphStyle("cell_r", parent=body, fontSize=7.5, leading=9, spaceAfter=0,
                                 alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=body, fontName="Helvetica-Bold", fontSize=7.5,
                               leading=9, spaceAfter=0),
        "head_r": ParagraphStyle("head_r", parent=body, fontName="Helvetica-Bold", fontSize=7.5,
                                 leading=9, spaceAfter=0, alignment=TA_RIGHT),
        "code": ParagraphStyle("code", parent=body, fontName="Courier", fontSize=7, leading=8.6,
                               backColor=colors.HexColor("#f4f4f4"), borderPadding=4,
                               spaceBefore=4, spaceAfter=8),
    }


def _p(text) -> str:
    """Text for a reportlab Paragraph (its mini-markup escaped; shown as typed)."""
    return escape(str(text))


def _is_number(v: str) -> bool:
    """A number, a percentage, "<0.001", "n/a" or an interval "1.10 to 1.35"."""
    v = str(v).strip()
    if v in ("n/a", ""):
        return True
    for part in v.split(" to "):
        part = part.replace(",", "").replace("%", "").lstrip("<+")
        try:
            float(part)
        except ValueError:
            return False
    return True


def _widths(frame, avail: float, font_size: float = 7.5) -> list[float]:
    """Column widths (points) summing to at most ``avail``: each column gets what its longest
    word and its typical line need, long text columns share what is left."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pad = 9.0
    need, floor = [], []
    for c in frame.columns:
        cells = [str(v) for v in frame[c]]
        full = max([stringWidth(str(c), "Helvetica-Bold", font_size)]
                   + [stringWidth(t, "Helvetica", font_size) for t in cells]) + pad
        longest = max([stringWidth(w, "Helvetica-Bold", font_size) for w in str(c).split()]
                      + [stringWidth(w, "Helvetica", font_size) for t in cells
                         for w in t.split()] + [10.0])
        need.append(full)
        # numbers and intervals ("1.10 to 1.35") are never broken across lines
        floor.append(full if all(_is_number(v) for v in cells) else min(longest + pad, full))
    if sum(need) <= avail:
        return need
    widths = list(floor)
    spare = avail - sum(widths)
    if spare <= 0:                                   # even the words do not fit: shrink all
        return [w * avail / sum(widths) for w in widths]
    want = [n - f for n, f in zip(need, floor, strict=True)]
    total = sum(want)
    return [f + spare * w / total for f, w in zip(floor, want, strict=True)]


def table_flowables(t: ReportTable, st, avail: float) -> list:
    """Caption, the table (ruled, header repeated on every page it spans) and its note."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    from reportlab.platypus import CondPageBreak

    f = t.display()
    # a caption is never the last line of a page: start a new page unless the caption, the
    # header and a few rows fit (a long table then breaks, its header repeated)
    out = [CondPageBreak(110), Paragraph(_p(t.title), st["h3"])]
    numeric = [all(_is_number(v) for v in f[c]) and len(f) > 0 for c in f.columns]
    head = [Paragraph(_p(c), st["head_r" if num else "head"])
            for c, num in zip(f.columns, numeric, strict=True)]
    body = [[Paragraph(_p(v), st["cell_r" if num else "cell"]) for v,
             num in zip(row, numeric, strict=True)]
            for row in f.itertuples(index=False)]
    table = Table([head] + body, colWidths=_widths(f, avail), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("LINEABOVE", (0, 0), (-1, 0), 1.0, colors.black),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEBELOW", (0, -1), (-1, -1), 1.0, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f4f7")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    out.append(table)
    note = t.full_note()
    if note:
        out.append(Paragraph(_p(note), st["note"]))
    return out


def figure_flowables(fig: ReportFigure, st, avail: float, max_h: float) -> list:
    """The figure as a vector drawing (SVG through svglib) scaled to the text width, and its
    caption, kept together."""
    from reportlab.platypus import KeepTogether, Paragraph, Spacer

    drawing = None
    svg = fig.vector()
    if svg:
        from svglib.svglib import svg2rlg

        drawing = svg2rlg(io.BytesIO(svg))
    if drawing is None:                               # pragma: no cover - svg always made
        raise ReportError(f"the figure {fig.title!r} has no vector (SVG) version to place "
                          "in the PDF; rebuild the report with this version of socialhealth.")
    scale = min(avail / drawing.width, max_h / drawing.height)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    drawing.scale(scale, scale)
    drawing.hAlign = "LEFT"
    parts = [drawing]
    if fig.caption:
        parts.append(Paragraph(_p(fig.caption), st["note"]))
    return [KeepTogether(parts), Spacer(1, 6)]


def code_flowable(code: str, st):
    """The R code as one monospace block (Preformatted: lines exactly as given, split
    across pages only between lines)."""
    from reportlab.platypus import Preformatted

    return Preformatted(code, st["code"])


def section_flowables(s: Section, st, avail: float, max_h: float, r_code: str) -> list:
    """Heading, status, text, figures, tables, notes and (methods) the R code of a section."""
    from reportlab.platypus import Paragraph

    from reportlab.platypus import CondPageBreak

    out = [CondPageBreak(90), Paragraph(_p(s.title), st["h2"])]
    if not s.ok:
        out.append(Paragraph("<b>Skipped:</b> " + _p(s.reason), st["skipped"]))
    out += [Paragraph(_p(p), st["body"]) for p in s.text]
    for f in s.figures:
        out += figure_flowables(f, st, avail, max_h)
    for t in s.tables:
        out += table_flowables(t, st, avail)
    out += [Paragraph("&bull; " + _p(n), st["note"]) for n in s.notes]
    if s.key == "methods" and r_code:
        out.append(CondPageBreak(120))
        out.append(Paragraph("R code", st["h3"]))
        out.append(code_flowable(r_code, st))
    return out


def write_pdf(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` as an A4 PDF; returns the path."""
    _rl()
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    path = Path(path)
    st = _styles()
    m = report.meta
    margin = 18 * mm
    avail = A4[0] - 2 * margin
    max_h = A4[1] - 2 * margin - 60
    r_code = report.r_script()

    footer_left = f"socialhealth report: {m.get('survey_title', report.dataset)}"
    if len(footer_left) > 100:                 # never cut: the dataset name is short
        footer_left = f"socialhealth report: {report.dataset}"

    def decorate(canvas, doc, total=None):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(margin, 10 * mm, footer_left)
        page = canvas.getPageNumber()
        label = f"Page {page} of {total}" if total else f"Page {page}"
        canvas.drawRightString(A4[0] - margin, 10 * mm, label)
        if report.synthetic:
            canvas.setFont("Helvetica-Bold", 8)
            canvas.setFillColor(colors.HexColor("#b02a2a"))
            canvas.drawString(margin, A4[1] - 11 * mm, SYNTHETIC_HEADER)
            canvas.setStrokeColor(colors.HexColor("#b02a2a"))
            canvas.setLineWidth(0.5)
            canvas.line(margin, A4[1] - 12.5 * mm, A4[0] - margin, A4[1] - 12.5 * mm)
        canvas.restoreState()

    def build(target, total=None):
        doc = SimpleDocTemplate(target, pagesize=A4, leftMargin=margin, rightMargin=margin,
                   topMargin=margin, bottomMargin=margin, title=report.title,
                   author="socialhealth", creator=f"socialhealth {m.get('socialhealth', '')}",
                   subject=str(m.get("survey_title", report.dataset)))
        pages = []

        def on_page(canvas, d):
            pages.append(canvas.getPageNumber())
            decorate(canvas, d, total)

        doc.build(_story(report, st, avail, max_h, r_code), onFirstPage=on_page,
                  onLaterPages=on_page)
        return len(pages)

    try:
        n_pages = build(io.BytesIO())          # first pass: count the pages for "Page i of n"
        build(str(path), n_pages)
    except OSError as e:
        raise ReportError(f"cannot write the report to {path}: {e.strerror or e}. Check that the "
                          "folder exists and is writable.") from None
    return path


def _story(report: Report, st, avail: float, max_h: float, r_code: str) -> list:
    """The flowables of the whole report (made afresh for each pass: a build consumes them)."""
    from reportlab.platypus import Paragraph

    m = report.meta
    story = [Paragraph(_p(report.title), st["title"]),
             Paragraph(_p(f"Survey: {m.get('survey_title', report.dataset)}; "
                          f"dataset: {report.dataset}; "
                          f"exposure: {m.get('exposure', '')}; created {m.get('created', '')} "
                          f"with socialhealth {m.get('socialhealth', '')}."), st["meta"])]
    if report.synthetic:
        story.append(Paragraph(_p(SYNTHETIC_BANNER), st["banner"]))
    for s in report.sections:
        story += section_flowables(s, st, avail, max_h, r_code)
    return story
