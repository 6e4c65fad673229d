"""The table object every ``socialhealth.tables`` function returns.

A :class:`Table` holds the formatted cells (strings, already rounded by
:mod:`socialhealth.tables.format`), how they are laid out (column headers, headers spanning
several columns, indented and bold rows), footnotes, and the tidy numbers behind the cells
(:meth:`Table.to_frame`). The renderers (:mod:`socialhealth.tables.render`,
:mod:`socialhealth.tables.word`) turn it into HTML, Markdown, LaTeX (booktabs) or Word.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Row", "Table"]


@dataclass
class Row:
    """One body row: cells (first = row label), footnote markers per cell, layout.

    ``indent`` 1 for the levels under a variable's row; ``bold`` for a variable's row.
    """

    cells: list[str]
    markers: list[str] = field(default_factory=list)
    indent: int = 0
    bold: bool = False

    def __post_init__(self) -> None:
        if len(self.markers) < len(self.cells):
            self.markers = list(self.markers) + [""] * (len(self.cells) - len(self.markers))


@dataclass
class Table:
    """A publication table: formatted cells, layout, footnotes and the numbers behind them.

    Attributes
    ----------
    title : str
        Caption of the table.
    header : list of str
        One header per column; the first is the header of the row labels.
    rows : list of Row
        Body rows.
    numbers : pandas.DataFrame
        The tidy, unrounded numbers behind the cells (:meth:`to_frame`).
    spanners : list of (label, first_column, last_column_exclusive)
        Headers over several columns (e.g. one per group or model), drawn above ``header``.
    notes : list of str
        General footnotes (method, weighting, design).
    marker_notes : dict
        Footnote marker (``"a"``, ``"b"``, ...) -> its text; cells carry the marker.
    kind : str
        ``"describe"`` or ``"regression"``.

    Examples
    --------
    >>> import socialhealth as sh
    >>> t = sh.tables.describe(sh.datasets.load("demo").design, variables=["sex"])
    >>> t.to_frame().columns[:4].tolist()
    ['variable', 'variable_label', 'level', 'level_label']
    >>> print(t.to_markdown().splitlines()[0])
    **Table 1. Characteristics by Lonely (weighted)**
    """

    title: str
    header: list[str]
    rows: list[Row]
    numbers: pd.DataFrame
    spanners: list[tuple[str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    marker_notes: dict[str, str] = field(default_factory=dict)
    kind: str = ""

    # ------------------------------------------------------------------ numbers
    def to_frame(self) -> pd.DataFrame:
        """The tidy numbers behind the table (unrounded), one row per estimate.

        Column names are fixed per table kind (see :func:`socialhealth.tables.describe` and
        :func:`socialhealth.tables.regression`); proportions are on the 0-1 scale.
        """
        return self.numbers.copy()

    def to_display_frame(self) -> pd.DataFrame:
        """The formatted cells as a DataFrame of strings (markers appended, levels indented).

        Column names are the headers, prefixed by their spanner (``"Lonely: Yes | n"``) where
        one applies.
        """
        names = self.column_names(" | ")
        body = [[("  " * r.indent if j == 0 else "") + c + (f" [{m}]" if m else "")
                 for j, (c, m) in enumerate(zip(r.cells, r.markers,
                                                strict=False))] for r in self.rows]
        return pd.DataFrame(body, columns=pd.Index(names))

    def column_names(self, sep: str = " | ") -> list[str]:
        """Headers with their spanner label in front (one unique-ish name per column).

        ``sep``: the text between a spanner label and a header (a string)."""
        if not isinstance(sep, str):
            from socialhealth._text import show_given
            from socialhealth.errors import ReportError

            raise ReportError(f"column_names(): sep= is the text written between a spanning "
                              f"header and a column header, e.g. ' | ', not {show_given(sep)}.")
        names = list(self.header)
        for label, a, b in self.spanners:
            for j in range(a, b):
                names[j] = f"{label}{sep}{names[j]}" if names[j] else label
        return names

    def footnotes(self) -> list[str]:
        """All footnotes in print order: markers first (``"a. ..."``), then the general notes."""
        return [f"{m}. {text}" for m, text in self.marker_notes.items()] + list(self.notes)

    # ------------------------------------------------------------------ renderers
    def to_html(self, path=None) -> str:
        """The table as an HTML ``<table>`` (caption, spanning headers, footnotes in ``<tfoot>``).

        ``path``: also write it to that file (UTF-8). Returns the HTML.
        """
        from socialhealth.tables.render import to_html

        return _write(to_html(self), path)

    def to_markdown(self, path=None) -> str:
        """The table as a Markdown (pipe) table with its title and footnotes."""
        from socialhealth.tables.render import to_markdown

        return _write(to_markdown(self), path)

    def to_latex(self, path=None) -> str:
        """The table as a LaTeX ``table`` with ``booktabs`` rules (``\\usepackage{booktabs}``)."""
        from socialhealth.tables.render import to_latex

        return _write(to_latex(self), path)

    def to_docx(self, path):
        """Write the table to a Word document at ``path`` (python-docx); returns the path."""
        from socialhealth.tables.word import to_docx

        return to_docx(self, path)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_markdown()


def _write(text: str, path) -> str:
    if path is not None:
        from pathlib import Path

        Path(path).write_text(text, encoding="utf-8")
    return text
