"""The report object: sections holding tables, figures, text and the matching R code.

A :class:`Report` is plain data. :func:`socialhealth.report.build` fills it from a survey;
``to_html``, ``to_markdown``, ``to_pdf`` and ``to_docx`` write it out. Every section has a
``status``:
``"ok"`` or ``"skipped: <reason>"`` (a survey that does not measure a concept gets the section
with the reason instead of numbers).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from socialhealth.errors import ReportError
from socialhealth.report import formatting as _num

FORMATS = ("html", "md", "pdf", "docx")
#: Columns rendered as plain numbers (no fixed decimals): counts and degrees of freedom.
COUNT_COLUMNS = ("n", "events", "df")
#: Columns holding calendar years (written without a separator).
YEAR_COLUMNS = ("year",)
#: Width (characters) of the R code shown in the reports (lines are broken where R allows).
R_WIDTH = 92
#: Column headers in words (a table's own ``labels`` come first; others via
#: :func:`socialhealth.tables.labels.variable_label`).
HEADERS = {
    "group": "Group", "level": "Level", "n": "n", "events": "Events", "estimate": "Estimate",
    "se": "SE", "ci": "95% CI", "df": "df", "p": "p", "year": "Year", "country": "Country",
    "outcome": "Outcome", "outcome_label": "Outcome", "model": "Model",
    "adjusted_for": "Adjusted for", "odds_ratio": "Odds ratio", "factor_label": "Factor",
    "label": "Factor", "measure": "Measure", "published_exposure": "Published exposure",
    "source": "Source", "citation": "Reference", "log_odds_per_year": "Change in log-odds per year",
    "odds_ratio_per_year": "Odds ratio per year", "or_ci": "95% CI of the odds ratio",
    "item": "Item", "value": "Value",
}
#: Pairs of interval columns shown as one "lower to upper" column (first name kept).
CI_PAIRS = (("ci_low", "ci_high", "ci"), ("or_ci_low", "or_ci_high", "or_ci"),
            ("row_ci_low", "row_ci_high", "row_ci"))


@dataclass
class ReportTable:
    """A table of a section.

    Attributes
    ----------
    title : str
        Caption shown above the table. It names no unit: the unit is in each column's header
        (``"Estimate (%)"``), because ``frame`` keeps proportions on 0-1 where the rendered
        table shows percentages.
    frame : pandas.DataFrame
        The numbers, unrounded (rounding happens only when the table is rendered); the
        ``percent`` columns hold proportions on 0-1, as every ``to_frame()`` of socialhealth.
    note : str
        Shown under the table.
    percent : tuple of str
        Columns holding proportions, rendered as percentages with one decimal.
    digits : int
        Decimals of the other float columns when rendered (``p`` gets 3 decimals or
        "<0.001"; ``n``, ``events``, ``df``, ``year`` are shown as plain numbers).
    na_reason : str
        Why a cell shows "n/a" (a number that cannot be computed, or a missing value); added
        to the note when the table has such a cell.
    """

    title: str
    frame: pd.DataFrame
    note: str = ""
    percent: tuple = ()
    digits: int = 3
    na_reason: str = ""
    labels: dict = field(default_factory=dict)
    hide: tuple = ()
    shown: pd.DataFrame | None = None

    def formatted(self) -> pd.DataFrame:
        """The table as strings, ready to print (percent columns x 100, one decimal).

        Every cell goes through :mod:`socialhealth.report.formatting`: no ``nan``, ``inf``,
        ``-0.0`` or unrounded float reaches the reader; a value that cannot be computed is
        ``n/a`` and :meth:`full_note` says why.
        """
        out = pd.DataFrame(index=self.frame.index)
        for c in self.frame.columns:
            s = self.frame[c]
            if c in self.percent:
                vals = [_num.percent(v) for v in s]
            elif c == "p" and pd.api.types.is_numeric_dtype(s):
                vals = [_num.p_value(v) for v in s]
            elif c in COUNT_COLUMNS and pd.api.types.is_numeric_dtype(s):
                vals = [_num.count(v) for v in s]
            elif c in YEAR_COLUMNS and pd.api.types.is_numeric_dtype(s):
                vals = [_num.year(v) for v in s]
            else:
                vals = [_num.cell(v, self.digits) for v in s]
            out[str(c)] = vals
        return out.reset_index(drop=True)

    def display(self) -> pd.DataFrame:
        """The table as the reader sees it: cells of :meth:`formatted`, headers in words.

        Columns in ``hide`` are left out, an interval's two columns (``ci_low``, ``ci_high``)
        become one "95% CI" column ("6.6 to 7.6"), outcome names become their display names,
        and each header is the table's ``labels`` entry, else :data:`HEADERS`, else
        :func:`socialhealth.tables.labels.variable_label`. A table built with ``shown`` (cells
        already formatted, e.g. a regression-style layout) is returned as it is.
        """
        if self.shown is not None:
            return self.shown.copy().reset_index(drop=True)
        f = self.formatted()
        cols = [c for c in f.columns if c not in self.hide]
        out = pd.DataFrame(index=f.index)
        pairs = {lo: (hi, name) for lo, hi, name in CI_PAIRS if lo in cols and hi in cols}
        skip = {hi for hi, _ in pairs.values()}
        for c in cols:
            if c in skip:
                continue
            if c in pairs:
                hi, name = pairs[c]
                vals = [_num.NA if _num.NA in (a, b) else f"{a} to {b}"
                        for a, b in zip(f[c], f[hi], strict=True)]
                key = name
            else:
                vals = list(f[c])
                key = c
                if c == "outcome":
                    from socialhealth.report.content import outcome_label

                    vals = [outcome_label(v) for v in vals]
            out[self.header(key)] = vals
        return out.reset_index(drop=True)

    def header(self, column: str) -> str:
        """The header in words of ``column`` ("ci" -> "95% CI"; "(%)" added to percentages)."""
        if column in self.labels:
            return str(self.labels[column])
        if column in HEADERS:
            text = HEADERS[column]
        else:
            from socialhealth.tables.labels import variable_label

            text = variable_label(column)
        pct = column in self.percent or (column == "ci" and "ci_low" in self.percent)
        return f"{text} (%)" if pct else text

    @property
    def has_na(self) -> bool:
        """True when some cell is rendered as "n/a"."""
        f = self.formatted() if self.shown is None else self.display()
        return bool((f == _num.NA).to_numpy().any()) if len(f) else False

    def full_note(self) -> str:
        """The note, plus why cells show "n/a" when some do."""
        parts = [self.note.strip()] if self.note and self.note.strip() else []
        if self.has_na:
            parts.append(f"{_num.NA}: " + (self.na_reason.strip() or
                                           "cannot be computed from these data (see the notes)."))
        return " ".join(parts)


@dataclass
class ReportFigure:
    """A figure of a section, kept as bytes so that the report is self-contained.

    ``png`` is for screens (HTML, Markdown); :meth:`print_png` gives the same at 300 dpi (Word)
    and :meth:`vector` the SVG drawing (PDF); ``width_in`` / ``height_in`` its size in inches.
    The print and vector versions are drawn the first time a format asks for them (an HTML
    report never needs them, and they take most of a figure's drawing time); ``render`` is
    the drawing step that makes them (``None`` when the bytes were given).
    """

    title: str
    png: bytes
    caption: str = ""
    width_px: int = 0
    height_px: int = 0
    svg: bytes = b""
    png_print: bytes = b""
    width_in: float = 0.0
    height_in: float = 0.0
    render: Callable[[str], bytes] | None = field(default=None, repr=False, compare=False)

    def print_png(self) -> bytes:
        """The PNG at print resolution (300 dpi), drawn on first use; ``png`` if none."""
        if not self.png_print and self.render is not None:
            self.png_print = self.render("png_print")
        return self.png_print or self.png

    def vector(self) -> bytes:
        """The SVG drawing (text as outlines), drawn on first use; ``b""`` if none."""
        if not self.svg and self.render is not None:
            self.svg = self.render("svg")
        return self.svg


@dataclass
class Section:
    """One part of the report.

    Attributes
    ----------
    key : str
        Stable identifier (``"sample"``, ``"prevalence"``, ``"trend"``, ``"association"``,
        ``"risk_factors"``, ``"methods"``).
    title : str
    status : str
        ``"ok"`` or ``"skipped: <reason>"``.
    text : list of str
        Paragraphs.
    tables, figures : lists of :class:`ReportTable` / :class:`ReportFigure`.
    r_code : list of str
        R ``survey`` calls that give the section's numbers (gathered in the methods note).
    notes : list of str
        Caveats (parts left out and why, warnings raised while estimating).
    """

    key: str
    title: str
    status: str = "ok"
    text: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    r_code: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the section has numbers (status ``"ok"``)."""
        return self.status == "ok"

    @property
    def reason(self) -> str:
        """Why the section was skipped ("" when it was not)."""
        return self.status.split(":", 1)[1].strip() if self.status.startswith("skipped") else ""

    def skip(self, reason: str) -> "Section":
        """Mark the section skipped, keeping the reason (one sentence saying why)."""
        self.status = f"skipped: {reason}"
        return self

    def table(self, title: str) -> ReportTable:
        """The table called ``title`` (ReportError if there is none)."""
        for t in self.tables:
            if t.title == title:
                return t
        raise ReportError(f"section {self.key!r} has no table {title!r}; it has "
                          f"{[t.title for t in self.tables]}.")


@dataclass
class Report:
    """A report on one survey: ``sections`` in order, plus what it was made from.

    Attributes
    ----------
    title : str
    dataset : str
        Registry name of the survey (``"demo"``, ``"gss_panel20"``, ...).
    synthetic : bool
        True for the synthetic demo: every output says so prominently.
    sections : list of :class:`Section`
    meta : dict
        ``created`` (UTC time), ``socialhealth`` version, ``exposure``, ``outcomes``, ``file``,
        ``wave`` and the options of :func:`~socialhealth.report.build`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from socialhealth import datasets, report
    >>> rep = report.build(datasets.load("demo"))
    >>> rep.dataset, rep.synthetic, [s.key for s in rep.sections]
    ('demo', True, ['sample', 'prevalence', 'trend', 'association', 'risk_factors', 'methods'])
    >>> prev = rep["prevalence"].tables[0]
    >>> prev.title
    'Prevalence with 95% confidence intervals'
    >>> print(prev.frame[["group", "level", "estimate", "ci_low", "ci_high"]].head(3)
    ...       .round(4).to_string())
           group            level  estimate  ci_low  ci_high
    0        All  all respondents    0.0708  0.0661   0.0758
    1  Age group            16-24    0.0964  0.0813   0.1139
    2  Age group            25-34    0.0795  0.0674   0.0936
    >>> prev.display().iloc[0, 3:6].to_dict()        # as the report shows it: percentages
    {'Estimate (%)': '7.1', 'SE (%)': '0.2', '95% CI (%)': '6.6 to 7.6'}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     html = rep.to_html(Path(tmp) / "report.html")
    >>> "Prevalence of loneliness" in html
    True
    """

    title: str
    dataset: str
    synthetic: bool = False
    sections: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise ReportError(f"the report has no section {key!r}; sections: "
                          f"{', '.join(s.key for s in self.sections)}.")

    def __iter__(self):
        return iter(self.sections)

    @property
    def status(self) -> pd.DataFrame:
        """One row per section: ``key, title, status`` (what was filled, what was skipped)."""
        return pd.DataFrame([{"key": s.key, "title": s.title, "status": s.status}
                             for s in self.sections])

    # ------------------------------------------------------------------ output
    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML file (CSS inline, figures as embedded PNG); returns the text.

        Writes ``path`` when given.
        """
        from socialhealth.report.html import render_html

        text = render_html(self)
        if path is not None:
            _write_text(path, text)
        return text

    def to_markdown(self, path: str | Path | None = None) -> str:
        """Markdown (GitHub flavour) with figures embedded as data URIs; returns the text."""
        from socialhealth.report.markdown import render_markdown

        text = render_markdown(self)
        if path is not None:
            _write_text(path, text)
        return text

    def to_pdf(self, path: str | Path) -> Path:
        """A PDF (A4; ruled tables, vector figures, page numbers, via reportlab); returns the
        path written."""
        from socialhealth.report.pdf import write_pdf

        return write_pdf(self, Path(path))

    def to_docx(self, path: str | Path) -> Path:
        """A Word document (headings, Word tables, figures at 300 dpi, R code in a monospace
        font, via python-docx); returns the path written."""
        from socialhealth.report.word import write_docx

        return write_docx(self, Path(path))

    def r_script(self, width: int = R_WIDTH) -> str:
        """The R code of the methods section as shown in every format: long lines broken
        after a comma (or ``&``, ``+``) inside parentheses, so R reads them unchanged.
        "" when the report has no R code."""
        from socialhealth.report.rcode import wrap_code

        code = [ln for s in self.sections if s.key == "methods" for ln in s.r_code]
        return "\n".join(wrap_code(code, width))

    def save(self, path: str | Path, format: str | None = None) -> Path:  # noqa: A002
        """Write the report; ``format`` is ``"html"``, ``"md"``, ``"pdf"`` or ``"docx"``
        (default: from the file extension, else HTML)."""
        path = Path(path)
        fmt = format or {".md": "md", ".markdown": "md", ".pdf": "pdf",
                         ".docx": "docx"}.get(path.suffix.lower(), "html")
        if fmt not in FORMATS:
            raise ReportError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
        if fmt == "pdf":
            return self.to_pdf(path)
        if fmt == "docx":
            return self.to_docx(path)
        (self.to_markdown if fmt == "md" else self.to_html)(path)
        return path

    def _repr_html_(self) -> str:  # notebooks show the report inline
        from socialhealth.report.html import render_html

        return render_html(self, fragment=True)

    def __repr__(self) -> str:
        lines = [f"Report: {self.title}"]
        lines += [f"  [{s.status if not s.ok else 'ok'}] {s.title}" for s in self.sections]
        return "\n".join(lines)


def _write_text(path, text: str) -> None:
    path = Path(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write the report to {path}: {e.strerror or e}. Check that "
                          "the folder exists and is writable.") from None
