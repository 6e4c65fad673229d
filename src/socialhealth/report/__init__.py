"""The loneliness-and-health report of a survey, as HTML, Markdown, PDF or Word.

>>> import tempfile
>>> from pathlib import Path
>>> import socialhealth as sh
>>> rep = sh.report.build(sh.datasets.load("demo"))
>>> print(rep.status[["key", "status"]].to_string())
            key status
0        sample     ok
1    prevalence     ok
2         trend     ok
3   association     ok
4  risk_factors     ok
5       methods     ok
>>> with tempfile.TemporaryDirectory() as tmp:
...     html = rep.to_html(Path(tmp) / "report.html")   # writes the file, returns the HTML
...     print(Path(tmp, "report.html").exists(), html.startswith("<!DOCTYPE html>"))
True True

From the command line: ``socialhealth report --dataset demo --output report.html``.

* :func:`build` - compute every section from a loaded survey (``SurveyData``)
* :class:`Report` - sections (title, status ``"ok"`` / ``"skipped: <reason>"``, tables,
  figures, text, R code); ``to_html``, ``to_markdown``, ``to_pdf``, ``save``
"""
from __future__ import annotations

from socialhealth.report._build import build
from socialhealth.report.document import FORMATS, Report, ReportFigure, ReportTable, Section

__all__ = ["build", "Report", "Section", "ReportTable", "ReportFigure", "FORMATS"]
