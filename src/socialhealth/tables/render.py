"""Text renderers of a :class:`~socialhealth.tables.table.Table`: HTML, Markdown, LaTeX.

Each renderer shows the same cells, in the same order, with the same footnotes; only the markup
differs. Footnote markers are superscripts (HTML ``<sup>``, LaTeX ``\\textsuperscript``,
Markdown ``^a``).
"""
from __future__ import annotations

import html as _html

__all__ = ["to_html", "to_markdown", "to_latex"]


# ----------------------------------------------------------------------------- HTML
def to_html(table) -> str:
    """HTML ``<table class="socialhealth-table">`` with caption, headers, body and footnotes.

    Examples
    --------
    >>> import socialhealth as sh
    >>> t = sh.tables.describe(sh.datasets.load("demo").design, variables=["sex"])
    >>> to_html(t).startswith('<table class="socialhealth-table">')
    True
    """
    e = _html.escape
    ncol = len(table.header)
    out = ['<table class="socialhealth-table">', f"<caption>{e(table.title)}</caption>", "<thead>"]
    if table.spanners:
        cells, j = [], 0
        for label, a, b in sorted(table.spanners, key=lambda s: s[1]):
            if a > j:
                cells.append(f'<th colspan="{a - j}"></th>' if a - j > 1 else "<th></th>")
            cells.append(f'<th colspan="{b - a}" style="text-align:center">{e(label)}</th>')
            j = b
        if j < ncol:
            cells.append(f'<th colspan="{ncol - j}"></th>' if ncol - j > 1 else "<th></th>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("<tr>" + "".join(
        f'<th style="text-align:{"left" if j == 0 else "center"}">{e(h)}</th>'
        for j, h in enumerate(table.header)) + "</tr>")
    out.append("</thead>")
    out.append("<tbody>")
    for r in table.rows:
        tds = []
        for j, (c, m) in enumerate(zip(r.cells, r.markers, strict=False)):
            text = e(c) + (f"<sup>{e(m)}</sup>" if m else "")
            if j == 0:
                if r.bold:
                    text = f"<strong>{text}</strong>"
                pad = f"padding-left:{1.5 * r.indent:g}em;" if r.indent else ""
                tds.append(f'<td style="text-align:left;{pad}">{text}</td>')
            else:
                tds.append(f'<td style="text-align:center">{text}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody>")
    notes = table.footnotes()
    if notes:
        out.append("<tfoot>")
        for n in notes:
            out.append(f'<tr><td colspan="{ncol}" style="text-align:left;font-size:smaller">'
                       f"{e(n)}</td></tr>")
        out.append("</tfoot>")
    out.append("</table>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- Markdown
def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(table) -> str:
    """Pipe table: bold title line, headers (spanner label in front: ``"Lonely: Yes · n"``),
    indented level rows (non-breaking spaces), footnotes below.

    Examples
    --------
    >>> import socialhealth as sh
    >>> t = sh.tables.describe(sh.datasets.load("demo").design, variables=["sex"])
    >>> to_markdown(t).splitlines()[2].startswith("| Characteristic |")
    True
    """
    names = table.column_names(" \u00b7 ")
    lines = [f"**{_md(table.title)}**", ""]
    lines.append("| " + " | ".join(_md(n) for n in names) + " |")
    lines.append("|" + "|".join([":---"] + [":---:"] * (len(names) - 1)) + "|")
    for r in table.rows:
        cells = []
        for j, (c, m) in enumerate(zip(r.cells, r.markers, strict=False)):
            text = _md(c) + (f"^{m}^" if m else "")
            if j == 0:
                if r.bold and text:
                    text = f"**{text}**"
                text = "\u00a0\u00a0\u00a0\u00a0" * r.indent + text
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    notes = table.footnotes()
    if notes:
        lines.append("")
        lines.extend(_md(n) + "  " for n in notes)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- LaTeX
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
          "\u2014": "---", "\u2013": "--", "\u00b7": r"$\cdot$", "\u00d7": r"$\times$",
          "\u2265": r"$\geq$", "\u2264": r"$\leq$", "\u03b2": r"$\beta$",
          "\u00b2": r"$^{2}$"}


def latex_escape(text) -> str:
    r"""Escape LaTeX special characters (``&``, ``%``, ``_``, ...; em dash -> ``---``).

    Examples
    --------
    >>> latex_escape("<0.001 & 5%")
    '\\textless{}0.001 \\& 5\\%'
    """
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def to_latex(table) -> str:
    r"""A ``table`` float with a booktabs ``tabular`` (``\toprule``, ``\cmidrule``,
    ``\midrule``, ``\bottomrule``); footnotes in ``\footnotesize`` below.

    Needs ``\usepackage{booktabs}`` in the preamble.

    Examples
    --------
    >>> import socialhealth as sh
    >>> t = sh.tables.describe(sh.datasets.load("demo").design, variables=["sex"])
    >>> r"\toprule" in to_latex(t)
    True
    """
    x = latex_escape
    ncol = len(table.header)
    out = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{x(table.title)}}}",
           r"\begin{tabular}{l" + "c" * (ncol - 1) + "}", r"\toprule"]
    if table.spanners:
        cells, rules, j = [], [], 0
        for label, a, b in sorted(table.spanners, key=lambda s: s[1]):
            cells.extend([""] * (a - j))
            cells.append(rf"\multicolumn{{{b - a}}}{{c}}{{{x(label)}}}")
            rules.append(rf"\cmidrule(lr){{{a + 1}-{b}}}")
            j = b
        cells.extend([""] * (ncol - j))
        out.append(" & ".join(cells) + r" \\")
        out.append(" ".join(rules))
    out.append(" & ".join(x(h) for h in table.header) + r" \\")
    out.append(r"\midrule")
    for r in table.rows:
        cells = []
        for j, (c, m) in enumerate(zip(r.cells, r.markers, strict=False)):
            text = x(c) + (rf"\textsuperscript{{{x(m)}}}" if m else "")
            if j == 0:
                if r.bold and text:
                    text = rf"\textbf{{{text}}}"
                text = r"\quad " * r.indent + text
            cells.append(text)
        out.append(" & ".join(cells) + r" \\")
    out.append(r"\bottomrule")
    out.append(r"\end{tabular}")
    notes = table.footnotes()
    if notes:
        out.append(r"\par\smallskip")
        out.append(r"\begin{minipage}{\linewidth}\footnotesize")
        out.extend(x(n) + r"\par" for n in notes)
        out.append(r"\end{minipage}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"
