"""Render a Report as Markdown (GitHub flavour); figures embedded as PNG data URIs.

Markdown passes HTML through, so every piece of text that can come from the data (labels,
codebook notes, file names, the exposure as typed) is escaped: ``&``, ``<`` and ``>`` become
HTML entities and Markdown punctuation gets a backslash, so ``<script>`` or ``*word*`` in a
label is shown as typed and never interpreted. R code goes into a fence longer than any run
of backticks it contains.
"""
from __future__ import annotations

import base64
import re

from socialhealth.report.document import Report, ReportTable, Section
from socialhealth.report.html import SYNTHETIC_BANNER, r_code

_MD_SPECIAL = re.compile(r"([\\`*\[\]|~$])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text) -> str:
    """``text`` safe for Markdown: HTML entities for ``& < >``, a backslash before Markdown
    punctuation, line breaks as spaces.

    Examples
    --------
    >>> print(md_escape("<script>alert(1)</script> *bold* [x] a_b _c_"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\[x\\] a_b \\_c\\_
    """
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _UNDERSCORE.sub(r"\\_", s)  # intraword underscores (ucla3_score) are literal in GFM
    s = s.replace("\r", " ").replace("\n", " ")
    # what could start a list or a heading at the beginning of a line
    s = re.sub(r"^(\s*)([-+#])(?=\s|$)", r"\1\\\2", s)
    return re.sub(r"^(\s*\d+)([.)])(?=\s|$)", r"\1\\\2", s)


def _code_span(text) -> str:
    """``text`` as an inline code span whose delimiter is longer than any backtick run in it."""
    t = str(text).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _fence(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def table_markdown(t: ReportTable) -> str:
    """One report table as a Markdown pipe table with its caption."""
    f = t.display()
    lines = [f"**{md_escape(t.title)}**", "",
             "| " + " | ".join(md_escape(c) for c in f.columns) + " |",
             "|" + "|".join("---" for _ in f.columns) + "|"]
    lines += ["| " + " | ".join(md_escape(v) for v in row) + " |"
              for row in f.itertuples(index=False)]
    note = t.full_note()
    if note:
        lines += ["", f"_{md_escape(note)}_"]
    return "\n".join(lines)


def section_markdown(s: Section) -> str:
    """One report section as Markdown: heading, status, text, tables, figure links, R code."""
    out = [f"## {md_escape(s.title)}", ""]
    if not s.ok:
        out += [f"> **Skipped:** {md_escape(s.reason)}", ""]
    for p in s.text:
        out += [md_escape(p), ""]
    for fig in s.figures:
        b64 = base64.b64encode(fig.png).decode("ascii")
        out += [f"![{md_escape(fig.title)}](data:image/png;base64,{b64})", "",
                f"_{md_escape(fig.caption)}_", ""]
    for t in s.tables:
        out += [table_markdown(t), ""]
    if s.notes:
        out += [f"- {md_escape(n)}" for n in s.notes] + [""]
    if s.key == "methods" and s.r_code:
        code = r_code(s)
        fence = _fence(code)
        out += [f"{fence}r", code, fence, ""]
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    m = report.meta
    out = [f"# {md_escape(report.title)}", "",
           f"Survey: {md_escape(m.get('survey_title', report.dataset))}"
           f"; dataset: {md_escape(report.dataset)}; "
           f"exposure: {_code_span(m.get('exposure', ''))}; "
           f"created {md_escape(m.get('created', ''))} with socialhealth "
           f"{md_escape(m.get('socialhealth', ''))}.", ""]
    if report.synthetic:
        out += [f"> **{md_escape(SYNTHETIC_BANNER)}**", ""]
    out += [f"{i}. {md_escape(s.title)} — {'ok' if s.ok else 'skipped'}"
            for i, s in enumerate(report.sections, 1)] + [""]
    out += [section_markdown(s) for s in report.sections]
    return "\n".join(out)
