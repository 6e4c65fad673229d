"""Render a Report as Markdown (GitHub flavour); figures embedded as PNG data URIs."""
from __future__ import annotations

import base64

from socialhealth.report.document import Report, ReportTable, Section
from socialhealth.report.html import SYNTHETIC_BANNER


def _cell(v: str) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def table_markdown(t: ReportTable) -> str:
    """One report table as a Markdown pipe table with its caption."""
    f = t.formatted()
    lines = [f"**{t.title}**", "", "| " + " | ".join(_cell(c) for c in f.columns) + " |",
             "|" + "|".join("---" for _ in f.columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in f.itertuples(index=False)]
    if t.note:
        lines += ["", f"_{t.note}_"]
    return "\n".join(lines)


def section_markdown(s: Section) -> str:
    """One report section as Markdown: heading, status, text, tables, figure links, R code."""
    out = [f"## {s.title}", ""]
    if not s.ok:
        out += [f"> **Skipped:** {s.reason}", ""]
    for p in s.text:
        out += [p, ""]
    for fig in s.figures:
        b64 = base64.b64encode(fig.png).decode("ascii")
        out += [f"![{fig.title}](data:image/png;base64,{b64})", "", f"_{fig.caption}_", ""]
    for t in s.tables:
        out += [table_markdown(t), ""]
    if s.notes:
        out += [f"- {n}" for n in s.notes] + [""]
    if s.key == "methods" and s.r_code:
        out += ["```r", *s.r_code, "```", ""]
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    m = report.meta
    out = [f"# {report.title}", "",
           f"Survey: {m.get('survey_title', report.dataset)} ({report.dataset}); exposure: "
           f"`{m.get('exposure', '')}`; created {m.get('created', '')} with socialhealth "
           f"{m.get('socialhealth', '')}.", ""]
    if report.synthetic:
        out += [f"> **{SYNTHETIC_BANNER}**", ""]
    out += [f"{i}. {s.title} ({'ok' if s.ok else 'skipped'})"
            for i, s in enumerate(report.sections, 1)] + [""]
    out += [section_markdown(s) for s in report.sections]
    return "\n".join(out)
