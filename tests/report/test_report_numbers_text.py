"""No nan, inf, -0.0 or unrounded float reaches the reader, in any format (issue 12).

Reports are built on the demo, with conditions that leave groups at 0% or 100% (undefined
intervals), and on a small survey with an empty group and hostile labels (HTML, Markdown and
dollar signs); each is rendered as HTML, Markdown, PDF (the text extracted from the written
file with pypdf) and Word (python-docx) and the text is scanned.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.datasets import SurveyData

BAD = [
    (re.compile(r"(?<![A-Za-z])nan(?![A-Za-z])", re.I), "nan"),
    (re.compile(r"(?<![A-Za-z])-?inf(inity)?(?![A-Za-z])", re.I), "inf"),
    (re.compile(r"(?<![\w.])[-\u2212]0(\.0+)?(?![\d.])"), "-0.0"),
    (re.compile(r"(?<![\w.])\d+\.\d{5,}"), "unrounded float"),
]
HOSTILE = "<script>alert('x')</script> *bold* $x^2$ | pipe"


def _scan(text: str, where: str) -> list[str]:
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    found = []
    for pat, what in BAD:
        for m in pat.finditer(text):
            found.append(f"{where}: {what}: ...{text[max(0, m.start() - 60):m.end() + 30]!r}")
    return found


def _pdf_text(rep, path) -> str:
    """The text of the written PDF, page by page, as a reader's copy-and-paste gets it."""
    from pypdf import PdfReader

    rep.to_pdf(path)
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _docx_text(rep, path) -> str:
    """Every paragraph, table cell and page header of the written Word document."""
    import docx

    rep.to_docx(path)
    doc = docx.Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    parts += [p.text for s in doc.sections for p in s.header.paragraphs]
    return "\n".join(parts)


def _all_formats(rep, tmp_path, name):
    """{format: text} of one report; the text the reader sees (HTML without the CSS)."""
    html = rep.to_html()
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return {"html": html, "md": rep.to_markdown(),
            "pdf": _pdf_text(rep, tmp_path / f"{name}.pdf"),
            "docx": _docx_text(rep, tmp_path / f"{name}.docx")}


def hostile_survey() -> SurveyData:
    """240 respondents, 12 strata x 2 PSUs, one year; a sex label that is HTML; an age group
    nobody in the sample belongs to; one group where everyone is exposed."""
    rng = np.random.default_rng(7)
    n = 240
    age = rng.choice(["16-24", "25-34", "35-44"], n)
    iso = rng.choice([1.0, 2.0, 3.0, np.nan], n, p=[0.5, 0.3, 0.15, 0.05])
    iso[age == "35-44"] = 3.0                         # everyone exposed in one group: CI n/a
    df = pd.DataFrame({
        "respondent_id": [str(i) for i in range(n)], "year": 2020, "country": "GB",
        "weight": rng.uniform(0.5, 2.0, n),
        "strata": np.repeat(np.arange(12), 20), "psu": np.repeat(np.arange(24), 10),
        "age_group": pd.Categorical(age, categories=["16-24", "25-34", "35-44", "45-54"],
                                    ordered=True),                     # 45-54: empty group
        "sex": rng.choice(["female", HOSTILE], n),
        "ucla3_isolated": iso,
        "poor_health": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "depression": pd.array(np.zeros(n, dtype=bool), dtype="boolean"),   # no events
    })
    cb = pd.DataFrame([
        ("age_group", "agecat", "cut", "", "", True),
        ("sex", "gender", "1 female 2 " + HOSTILE, "", "label " + HOSTILE, True),
        ("ucla3_isolated", "q7", "1-3", "", "", True),
        ("poor_health", "srh", "fair/poor", "", "", True),
        ("depression", "phq", "", "", "", True),
        ("lonely", "", "not measured", "", "no <b>loneliness</b> question", False)],
        columns=["concept", "source_variables", "rule", "labels", "notes", "measured"])
    prov = {"file": "tiny <i>file</i>.csv", "wave": "2020", "warnings": []}
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    return SurveyData("tiny", df, cb, prov, spec)


@pytest.fixture(scope="module")
def demo():
    return sh.datasets.load("demo")


CASES = {
    "demo": lambda d: sh.report.build(d),
    # 0% in every age group but 16-24: undefined logit intervals in the prevalence table
    "demo_age_condition": lambda d: sh.report.build(d, exposure="age_group==16-24",
                                                    outcomes="depression,poor_health"),
    "demo_mean_ci": lambda d: sh.report.build(d, exposure="ucla3_score>=8", ci_method="mean"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_demo_reports_have_no_raw_numbers(demo, case, tmp_path):
    rep = CASES[case](demo)
    found = []
    for fmt, text in _all_formats(rep, tmp_path, case).items():
        found += _scan(text, f"{case}/{fmt}")
    assert not found, "\n".join(found[:20])


def test_hostile_survey_in_every_format(tmp_path):
    sd = hostile_survey()
    rep = sh.report.build(sd, exposure="ucla3_isolated>=3",
                          outcomes="poor_health,depression")
    prev = rep["prevalence"].tables[0]
    assert prev.has_na                                        # the 100% group has no interval
    assert "n/a: the interval is undefined for a group in which none (0%) or all (100%)" in \
        prev.full_note()
    texts = _all_formats(rep, tmp_path, "hostile")
    found = []
    for fmt, text in texts.items():
        found += _scan(text, f"hostile/{fmt}")
    assert not found, "\n".join(found[:20])
    # data labels are escaped in HTML and Markdown, and drawn as typed in the PDF
    # (outside the Markdown code fence of the R code, where text is shown literally)
    md_prose = re.sub(r"```r\n.*?\n```", "", texts["md"], flags=re.S)
    for fmt, text in (("html", texts["html"]), ("md", md_prose)):
        assert "<script>" not in text and "<b>loneliness" not in text, fmt
        assert "<i>file" not in text and "&lt;i&gt;file" in text, fmt
        assert "&lt;script&gt;" in text, fmt
    assert r"\*bold\*" in texts["md"] and r"\$x^2\$" in texts["md"]
    for fmt in ("pdf", "docx"):    # drawn as typed, never cut with "..."
        assert "<script>alert('x')</script> *bold* $x^2$ | pipe" in texts[fmt], fmt
    assert (tmp_path / "hostile.pdf").stat().st_size > 1000


def test_formatting_rules_by_hand():
    from socialhealth.report import formatting as f

    assert f.percent(-1e-17) == "0.0" and f.number(-0.004, 2) == "0.00"
    assert f.signed(-0.04) == "0.0" and f.signed(0.06) == "+0.1"
    assert f.percent(float("nan")) == f.NA and f.number(float("-inf")) == f.NA
    assert f.count(np.float64(1823.0)) == "1,823" and f.p_value(0.0004) == "<0.001"
    assert f.year(np.float64(2018.0)) == "2018" and f.count(-0.04) == "0.0"
    assert f.cell(np.float64(0.123456789), 3) == "0.123" and f.cell(pd.NA) == f.NA
    t = sh.report.ReportTable("t", pd.DataFrame({"x": [0.5, np.nan], "n": [3.0, np.nan],
                                                 "p": [np.nan, 0.5], "who": ["a", None]}),
                              percent=("x",), na_reason="because.")
    assert t.formatted().values.tolist() == [["50.0", "3", f.NA, "a"],
                                             [f.NA, f.NA, "0.500", f.NA]]
    assert t.full_note() == "n/a: because."


def test_the_scan_finds_what_it_looks_for():
    bad = ["0.0% (95% CI nan% to nan%)", "OR inf", "-0.0%", "change -0.0 per year",
           "estimate 0.1234567", "NaN"]
    for text in bad:
        assert _scan(text, "x"), text
    good = ["12.3% (95% CI 10.1% to 14.6%)", "financial", "Infant", "1972-2024", "ages 16-24",
            "-0.1%", "sha256 d1fe719c56df...", "2026-12-06 14:21 UTC", "n/a"]
    for text in good:
        assert not _scan(text, "x"), text


@pytest.mark.parametrize("name, rel, kwargs, exposure", [
    ("ess", "ess/ESS7GB.sav", {}, "lonely"),
    ("ess", "ess/ESS9GB.sav", {}, "lonely"),                  # no loneliness item: skipped
    ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2020}, "ucla3_isolated>=3"),
])
def test_real_file_reports_have_no_raw_numbers(name, rel, kwargs, exposure, tmp_path,
                                               shared_data_dir):
    path = shared_data_dir / rel
    if not path.exists():
        pytest.skip(f"{rel} not present")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load(name, path=path, **kwargs), exposure=exposure)
    found = []
    for fmt, text in _all_formats(rep, tmp_path, name).items():
        found += _scan(text, f"{rel}/{fmt}")
    assert not found, "\n".join(found[:20])


def test_table_counts_have_separators_and_years_do_not():
    """The tables read counts as the sentences do ("19,281"), years as written ("2018")."""
    t = sh.report.ReportTable("t", pd.DataFrame({"year": [2018, 2020], "n": [19281, 812.0],
                                                 "events": [1164, 3], "df": [16794, 12.5]}))
    assert t.formatted().values.tolist() == [["2018", "19,281", "1,164", "16,794"],
                                             ["2020", "812", "3", "12.5"]]
