"""Render a Report as PDF with matplotlib alone (A4 pages: text, tables, figures).

No LaTeX or browser is needed: text is laid out line by line, tables are set in a monospaced
font (long lines continue on the next line, indented), and figures are placed from their PNGs.
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib.image as mpimg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from socialhealth.errors import ReportError
from socialhealth.report.document import Report
from socialhealth.report.html import SYNTHETIC_BANNER

PAGE = (8.27, 11.69)     # A4, inches
MARGIN = 0.6
WIDTH = PAGE[0] - 2 * MARGIN
STYLES = {  # size (pt), line height (in), wrap width (chars), font family, weight
    "title": (15, 0.30, 58, "sans-serif", "bold"),
    "h2": (12.5, 0.30, 70, "sans-serif", "bold"),
    "h3": (10, 0.22, 85, "sans-serif", "bold"),
    "text": (9, 0.165, 98, "sans-serif", "normal"),
    "banner": (9, 0.165, 88, "sans-serif", "bold"),
    "mono": (6.3, 0.105, 122, "monospace", "normal"),
    "note": (7.5, 0.135, 118, "sans-serif", "normal"),
}


MAX_CELL = 46


def plain_table(frame) -> str:
    """A text table: text columns left-aligned, numbers right-aligned, cells cut at
    ``MAX_CELL`` characters."""
    cols = []
    cap = 2 * MAX_CELL if len(frame.columns) <= 3 else MAX_CELL
    for c in frame.columns:
        vals = [str(v) if len(str(v)) <= cap else str(v)[: cap - 3] + "..."
                for v in frame[c]]
        numeric = all(_is_number(v) for v in vals if v)
        width = max([len(str(c))] + [len(v) for v in vals])
        just = str.rjust if numeric else str.ljust
        cols.append([just(str(c), width)] + [just(v, width) for v in vals])
    return "\n".join("  ".join(parts).rstrip() for parts in zip(*cols))


def _is_number(v: str) -> bool:
    try:
        float(v.replace(",", "").replace("<", ""))
        return True
    except ValueError:
        return False


class _Writer:
    def __init__(self, pdf: PdfPages):
        self.pdf = pdf
        self.fig = None
        self.y = 0.0

    def _new_page(self):
        self._flush()
        self.fig = Figure(figsize=PAGE)
        self.y = PAGE[1] - MARGIN

    def _flush(self):
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def _room(self, h: float):
        if self.fig is None or self.y - h < MARGIN:
            self._new_page()

    def lines(self, text: str, style: str = "text", gap: float = 0.06):
        size, lh, wrap, family, weight = STYLES[style]
        if style == "mono":
            rows = []
            for r in text.splitlines():
                rows.append(r[:wrap])
                rows += ["    " + r[i:i + wrap - 4] for i in range(wrap, len(r), wrap - 4)]
        else:
            rows = textwrap.wrap(text, wrap) or [""]
        for r in rows:
            self._room(lh)
            self.fig.text(MARGIN / PAGE[0], self.y / PAGE[1], r, fontsize=size, family=family,
                          weight=weight, va="top", ha="left", parse_math=False)
            self.y -= lh
        self.y -= gap

    def image(self, png: bytes, caption: str):
        img = mpimg.imread(io.BytesIO(png), format="png")
        h_px, w_px = img.shape[:2]
        w = WIDTH
        h = w * h_px / w_px
        if h > PAGE[1] - 2 * MARGIN - 0.4:
            h = PAGE[1] - 2 * MARGIN - 0.4
            w = h * w_px / h_px
        self._room(h + 0.3)
        ax = self.fig.add_axes([MARGIN / PAGE[0], (self.y - h) / PAGE[1], w / PAGE[0], h / PAGE[1]])
        ax.imshow(img, interpolation="antialiased")
        ax.set_axis_off()
        self.y -= h + 0.05
        if caption:
            self.lines(caption, "note")

    def close(self):
        self._flush()


def write_pdf(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` as a PDF; returns the path."""
    try:
        pdf = PdfPages(path)
    except OSError as e:
        raise ReportError(f"cannot write the report to {path}: {e.strerror or e}. Check that the "
                          "folder exists and is writable.") from None
    with pdf:
        w = _Writer(pdf)
        w.lines(report.title, "title")
        m = report.meta
        w.lines(f"Survey: {m.get('survey_title', report.dataset)} ({report.dataset}); exposure: "
                f"{m.get('exposure', '')}; created {m.get('created', '')} with socialhealth "
                f"{m.get('socialhealth', '')}.", "note")
        if report.synthetic:
            w.lines(SYNTHETIC_BANNER, "banner", gap=0.15)
        for s in report.sections:
            w.lines(s.title, "h2")
            if not s.ok:
                w.lines(f"Skipped: {s.reason}", "text")
            for p in s.text:
                w.lines(p)
            for f in s.figures:
                w.image(f.png, f.caption)
            for t in s.tables:
                w.lines(t.title, "h3")
                w.lines(plain_table(t.formatted()), "mono", gap=0.12)
                if t.full_note():
                    w.lines(t.full_note(), "note")
            for n in s.notes:
                w.lines(f"- {n}", "note")
            if s.key == "methods" and s.r_code:
                w.lines("R code", "h3")
                w.lines("\n".join(s.r_code), "mono")
        w.close()
        info = pdf.infodict()
        info["Title"] = report.title
        info["Creator"] = f"socialhealth {m.get('socialhealth', '')}"
    return path
