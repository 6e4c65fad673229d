"""The loneliness-and-health report of a survey, as HTML, Markdown or PDF.

>>> import socialhealth as sh
>>> rep = sh.report.build(sh.datasets.load("demo"))     # doctest: +SKIP
>>> rep.status                                           # doctest: +SKIP
>>> rep.to_html("report.html")                           # doctest: +SKIP

From the command line: ``socialhealth report --dataset demo --output report.html``.

* :func:`build` - compute every section from a loaded survey (``SurveyData``)
* :class:`Report` - sections (title, status ``"ok"`` / ``"skipped: <reason>"``, tables,
  figures, text, R code); ``to_html``, ``to_markdown``, ``to_pdf``, ``save``
"""
from __future__ import annotations

from socialhealth.report.build import build
from socialhealth.report.document import FORMATS, Report, ReportFigure, ReportTable, Section

__all__ = ["build", "Report", "Section", "ReportTable", "ReportFigure", "FORMATS"]
