"""The four formats of one report say the same thing, and the words agree with the numbers.

* Cross-format: the demo report written as Markdown, HTML, PDF and Word carries the same
  numbers. Each file is read back as a reader gets it (Markdown source, HTML text without
  tags, the PDF's text through pypdf, the Word text through python-docx), the R code block,
  the running page header/footer and the Markdown contents list are set aside, and the
  multiset of number tokens must be identical in all four; every cell of every table must be
  found in each.
* Regressions of the output audit (the reports were read on screen/paper):
  - with ``ci_method="beta"`` the methods text described the logit interval ("the logit
    interval is a Wald interval ...") and the figure captions said "95% logit CIs";
  - when none of Model 3's risk factors is measured, the table has no Model 3 but a note said
    "Model 3 leaves out smoking, obesity, physical inactivity";
  - an outcome whose fully adjusted model could not be estimated vanished from the
    risk-factor tables without a word (GSS 2018, fair or poor health; skipped without the
    file).
"""
from __future__ import annotations

import html as _html
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mini_report import mini_report as _mini

import socialhealth as sh
from socialhealth.datasets import SurveyData
from socialhealth.report.pdf import SYNTHETIC_HEADER

pypdf = pytest.importorskip("pypdf")
docx = pytest.importorskip("docx")

FIX = Path(__file__).with_name("fixtures")
YES_NO = ["lonely", "depression", "poor_health", "smoker", "obese", "physically_inactive"]
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


@pytest.fixture(scope="module")
def demo():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.report.build(sh.datasets.load("demo"),
                               outcomes=["poor_health", "depression", "diabetes"])


def _drop_code(text: str, rep) -> str:
    """The text without the R code block (its lines are those of ``rep.r_script()``)."""
    code = {ln.strip() for ln in rep.r_script().split("\n") if ln.strip()}
    return "\n".join(ln for ln in text.split("\n") if ln.strip() not in code)


def _md_text(rep) -> str:
    md = rep.to_markdown()
    md = re.sub(r"```r\n.*?```", "", md, flags=re.S)
    md = re.sub(r"!\[[^\]]*\]\(data:[^)]*\)", "", md)
    md = re.sub(r"^\d+\. .* — (?:ok|skipped)$", "", md, flags=re.M)     # contents list
    return _html.unescape(md.replace("\\", ""))


def _html_text(rep) -> str:
    h = rep.to_html()
    h = re.sub(r"<(style|title|pre|nav)\b.*?</\1>", "", h, flags=re.S)
    h = re.sub(r"<ol class=\"toc\".*?</ol>", "", h, flags=re.S)
    h = re.sub(r"<[^>]+>", " ", h)
    return _html.unescape(h)


def _pdf_text(rep, tmp) -> str:
    path = tmp / "r.pdf"
    rep.to_pdf(path)
    lines = []
    for page in pypdf.PdfReader(str(path)).pages:
        for ln in page.extract_text().split("\n"):
            s = ln.strip()
            if s == SYNTHETIC_HEADER or re.fullmatch(r"Page \d+ of \d+", s) \
                    or s.startswith("socialhealth report: "):
                continue
            lines.append(ln)
    return _drop_code("\n".join(lines), rep)


def _docx_text(rep, tmp) -> str:
    path = tmp / "r.docx"
    rep.to_docx(path)
    d = docx.Document(str(path))
    body = d.element.body
    paras = []
    for p in body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p"):
        paras.append("".join(t.text or "" for t in p.iter(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t")))
    return _drop_code("\n".join(paras), rep)


def _numbers(text: str) -> Counter:
    return Counter(NUMBER.findall(text))


def test_the_four_formats_carry_the_same_numbers(demo, tmp_path):
    texts = {"md": _md_text(demo), "html": _html_text(demo),
             "pdf": _pdf_text(demo, tmp_path), "docx": _docx_text(demo, tmp_path)}
    counts = {k: _numbers(t) for k, t in texts.items()}
    assert sum(counts["md"].values()) > 300          # the scan sees the tables' numbers
    for k in ("html", "pdf", "docx"):
        assert counts[k] == counts["md"], (k, counts["md"] - counts[k], counts[k] - counts["md"])
    # every cell of every table, as the table shows it, is in every format
    flat = {k: re.sub(r"\s+", " ", t) for k, t in texts.items()}
    for s in demo:
        for t in s.tables:
            for cell in t.display().to_numpy().ravel():
                if NUMBER.search(str(cell)):
                    for k, txt in flat.items():
                        assert str(cell) in txt, (k, s.key, t.title, cell)


def test_the_scan_sees_a_changed_number(demo, tmp_path):
    """The comparison above fails when one format prints one number differently."""
    md = _md_text(demo)
    changed = md.replace("7.1", "7.2", 1)
    assert changed != md and _numbers(changed) != _numbers(md)


def _prose(rep) -> str:
    """Every word a reader sees outside the R code: text, captions, notes, table notes."""
    parts = []
    for s in rep:
        parts += [s.status, *s.text, *s.notes]
        parts += [f.caption for f in s.figures]
        parts += [t.full_note() for t in s.tables]
    return "\n".join(parts)


@pytest.mark.parametrize("method", ["beta", "likelihood", "mean", "xlogit", "asin"])
def test_interval_words_follow_the_ci_method(method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("demo"), outcomes=["depression"],
                              ci_method=method)
    prose = _prose(rep)
    wrong = re.compile(r"(?<!x)logit (?:CI|interval)")       # "95% logit CIs", "the logit ..."
    assert not wrong.search(prose), [ln for ln in prose.split("\n") if wrong.search(ln)]
    methods = " ".join(rep["methods"].text)
    assert f'method "{method}" of svyciprop (the {method} interval is' in methods
    for key in ("prevalence", "trend"):
        assert any(f'svyciprop method "{method}"' in f.caption for f in rep[key].figures)


def test_logit_words_stay_for_the_default():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("demo"), outcomes=["depression"])
    assert "the logit interval is a Wald interval for the log-odds" in \
        " ".join(rep["methods"].text)
    assert rep["prevalence"].figures[0].caption == \
        'Bars: weighted prevalence; whiskers: 95% CIs (svyciprop method "logit").'




def test_a_model_not_fitted_is_not_said_to_leave_factors_out():
    rep = _mini(drop=("smoker", "obese", "physically_inactive"))
    a = rep["association"]
    models = set(a.tables[0].display().columns)
    assert not any(c.startswith("Model 3") for c in models), models     # no Model 3 column
    assert not any("Model 3 leaves out" in n for n in a.notes), a.notes
    assert ("Model 3 (+ smoking, obesity, physical inactivity) is not fitted: smoking, "
            "obesity, physical inactivity are not measured in this survey.") in a.notes


def test_an_outcome_missing_from_the_risk_factor_table_is_explained(shared_data_dir):
    path = shared_data_dir / "gss" / "GSS2018.dta"
    if not path.is_file():
        pytest.skip("GSS2018.dta not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("gss", path=path),
                              outcomes=["poor_health", "depression"])
    assoc = rep["association"].tables[0].display()
    row = assoc[assoc["Outcome"] == "Fair or poor self-rated health"].iloc[0]
    assert row["Model 3 OR (95% CI)"] == "n/a"          # not estimable (separation)
    rf = rep["risk_factors"]
    shown = set(rf.tables[0].display()["Outcome"])
    assert "Fair or poor self-rated health" not in shown and "Depression" in shown
    assert any(n.startswith("Fair or poor self-rated health is not shown: its fully adjusted "
                            "model") for n in rf.notes), rf.notes


def test_replicate_design_note_has_no_python_syntax():
    """Regression: the replicate demo's "Design note" cell printed the loader's options as a
    Python dict ("({'method': 'bootstrap', 'scale': 0.01694915254237288, 'rscales': (1.0,
    1.0, ... 60 times), 'mse': False})") in every format."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("demo", replicate=True), outcomes=["depression"])
    rows = dict(rep["sample"].tables[0].display().to_numpy().tolist())
    assert rows["Design note"] == "synthetic design with 60 replicate weights repw_1..repw_60"
    # 60 bootstrap replicates: R's scale 1/(R-1) = 1/59, printed to 4 significant digits
    assert rows["Variance method"] == ("replicate weights (bootstrap, 60 replicates, scale "
                                       f"{1 / 59:.4g}; variance around the mean of the "
                                       "replicates)")
    text = rep.to_markdown().split("```r")[0]
    for bad in ("{'", "'mse'", "False", "(1.0, 1.0"):
        assert bad not in text, bad


def test_design_df_has_a_thousands_separator_like_the_counts():
    """Regression: BRFSS's sample table read "Respondents 16,880" but "Design degrees of
    freedom 16794"."""
    df = pd.read_csv(FIX / "mini_survey.csv", dtype={c: "boolean" for c in YES_NO})
    df = pd.concat([df, df.assign(respondent_id=df["respondent_id"] + "b")], ignore_index=True)
    df["psu"] = df["respondent_id"]                   # every respondent its own PSU
    n_strata = df["strata"].nunique()
    cb = pd.DataFrame(columns=["concept", "source_variables", "rule", "labels", "notes",
                               "measured"])
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(SurveyData("mini", df, cb, {}, spec), outcomes=["depression"])
    rows = dict(rep["sample"].tables[0].display().to_numpy().tolist())
    degf = len(df) - n_strata                         # PSUs minus strata, by hand
    assert degf > 1000
    assert rows["Design degrees of freedom"] == f"{degf:,}"
    assert rows["Respondents"] == f"{len(df):,}"
