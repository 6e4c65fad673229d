"""Word (``.docx``) output of a :class:`~socialhealth.tables.table.Table` via python-docx.

The table is drawn in the journal style: horizontal rules above and below the header and at
the bottom, none between body rows; spanning headers are merged cells; footnotes follow the
table as small paragraphs.
"""
from __future__ import annotations

from pathlib import Path

from socialhealth.errors import SocialHealthError

__all__ = ["to_docx"]


def _python_docx():
    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover - python-docx is a core dependency
        raise SocialHealthError(
            "Word output needs python-docx, which is not installed: pip install python-docx "
            "(it is a dependency of socialhealth; reinstall with pip install socialhealth)."
        ) from exc
    return docx


def _rule(cell, *sides: str) -> None:
    """Single black border on the given sides (top/bottom) of a cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for side in sides:
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), "8")
        el.set(qn("w:color"), "000000")
        borders.append(el)


def to_docx(table, path):
    """Write ``table`` to a new Word document at ``path``; returns ``path`` as a Path.

    Examples
    --------
    >>> import socialhealth as sh, tempfile, os
    >>> t = sh.tables.describe(sh.datasets.load("demo").design, variables=["sex"])
    >>> out = to_docx(t, os.path.join(tempfile.mkdtemp(), "table1.docx"))
    >>> out.suffix
    '.docx'
    """
    docx = _python_docx()
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    path = Path(path)
    doc = docx.Document()
    title = doc.add_paragraph()
    title.add_run(table.title).bold = True
    ncol = len(table.header)
    n_head = 2 if table.spanners else 1
    t = doc.add_table(rows=n_head + len(table.rows), cols=ncol)

    def put(cell, text, marker="", bold=False, indent=0, left=False):
        par = cell.paragraphs[0]
        run = par.add_run(("    " * indent) + text)
        run.bold = bold
        run.font.size = Pt(9)
        if marker:
            sup = par.add_run(marker)
            sup.font.superscript = True
            sup.font.size = Pt(9)
        par.alignment = WD_ALIGN_PARAGRAPH.LEFT if left else WD_ALIGN_PARAGRAPH.CENTER

    if table.spanners:
        for label, a, b in table.spanners:
            cell = t.cell(0, a).merge(t.cell(0, b - 1)) if b - 1 > a else t.cell(0, a)
            put(cell, label, bold=True)
        for j in range(ncol):
            _rule(t.cell(0, j), "top")
    for j, h in enumerate(table.header):
        put(t.cell(n_head - 1, j), h, bold=True, left=j == 0)
        if not table.spanners:
            _rule(t.cell(0, j), "top")
        _rule(t.cell(n_head - 1, j), "bottom")
    for i, r in enumerate(table.rows):
        for j, (c, m) in enumerate(zip(r.cells, r.markers, strict=False)):
            put(t.cell(n_head + i, j), c, m, bold=r.bold and j == 0,
                indent=r.indent if j == 0 else 0, left=j == 0)
    if table.rows:
        for j in range(ncol):
            _rule(t.cell(n_head + len(table.rows) - 1, j), "bottom")
    for note in table.footnotes():
        p = doc.add_paragraph()
        p.add_run(note).font.size = Pt(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
