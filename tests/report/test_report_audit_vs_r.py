"""Audit: every number the demo report prints equals R survey 4.1-1, rounded as printed.

``fixtures/report_audit/demo_report_data.csv.gz`` holds the analysis columns of the synthetic
demo survey (``export_demo.py``); ``make_report_audit.R`` computes every printed quantity from
that file with R's survey package (svydesign / svyciprop / svymean / svyglm) and raw-data counts
into ``report_audit_r.json``. The report is built the way a user builds it (``socialhealth
report --dataset demo``), its Markdown is parsed, and each printed number must be the correct
rounding of R's number at the printed precision; each row count must equal the raw count.

Tolerance: a printed value ``s`` with ``d`` decimals passes when ``|R - s| <= 0.5 * 10**-d +
TOL``. ``TOL`` (1e-6 on the printed scale) only matters when R's number lies within 1e-6 of a
rounding boundary: R's IRLS stops at ``epsilon = 1e-8`` so its GLM numbers are not exact beyond
that. ``check`` refuses such a near-tie (none occurs in the demo report), so in effect the
check is exact. Each section test also asserts how many numbers it checked (484 in all).
"""
from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import socialhealth as sh

FIX = Path(__file__).with_name("fixtures") / "report_audit"
TOL = 1e-6
OUTCOMES = {"poor_health": "Fair or poor self-rated health", "depression": "Depression",
            "anxiety": "Anxiety", "hypertension": "Hypertension (ever diagnosed)",
            "heart_disease": "Heart disease (ever diagnosed)",
            "stroke": "Stroke (ever diagnosed)", "diabetes": "Diabetes (ever diagnosed)",
            "died": "Died during follow-up"}
FACTORS = {"Loneliness": "model3", "Smoking": "smoker", "Obesity": "obese",
           "Physical inactivity": "physically_inactive"}
CHECKED: dict[str, int] = {}   # numbers checked per section (each test resets its own)


@pytest.fixture(scope="module")
def r():
    return json.loads((FIX / "report_audit_r.json").read_text())


@pytest.fixture(scope="module")
def raw():
    with gzip.open(FIX / "demo_report_data.csv.gz", "rt") as fh:
        return pd.read_csv(fh)


@pytest.fixture(scope="module")
def report():
    return sh.report.build(sh.datasets.load("demo"))


@pytest.fixture(scope="module")
def md(report):
    return report.to_markdown()


def tables(md_text: str) -> dict[str, list[dict[str, str]]]:
    """Markdown tables by their bold caption: a list of {header: cell} rows."""
    out: dict[str, list[dict[str, str]]] = {}
    lines = md_text.splitlines()
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\*\*(.+)\*\*", line.strip())
        if not m or i + 3 >= len(lines) or not lines[i + 2].startswith("|"):
            continue
        head = [c.strip() for c in lines[i + 2].strip("|").split("|")]
        rows = []
        for row in lines[i + 4:]:
            if not row.startswith("|"):
                break
            cells = [c.strip().replace("&lt;", "<") for c in row.strip().strip("|").split("|")]
            rows.append(dict(zip(head, cells, strict=True)))
        out[m.group(1)] = rows
    return out


def check(section: str, printed: str, value: float, scale: float = 1.0) -> None:
    """``printed`` is the correct rounding of ``value * scale`` at its printed decimals."""
    CHECKED[section] = CHECKED.get(section, 0) + 1
    printed = printed.strip()
    if printed == "<0.001":
        assert value < 0.001, (section, printed, value)
        return
    if printed in ("+<0.001", "-<0.001"):   # a signed percentage below the display resolution
        v = value * scale
        assert 0 < abs(v) < 0.0005 and (v > 0) == (printed[0] == "+"), (section, printed, v)
        return
    assert re.fullmatch(r"[+-]?\d+(\.\d+)?", printed), (section, printed)
    d = len(printed.split(".")[1]) if "." in printed else 0
    v = value * scale
    half = 0.5 * 10 ** -d
    err = abs(v - float(printed))
    assert err <= half + TOL, f"{section}: printed {printed}, R {v!r}"
    assert float(printed) != 0 or v == 0, f"{section}: R's {v!r} printed as zero ({printed})"
    assert abs(err - half) >= TOL, (f"{section}: R's {v!r} is within {TOL} of a rounding tie "
                                    f"(printed {printed}); check this number by hand")


def ci(text: str, sep: str) -> tuple[str, str]:
    lo, hi = text.split(sep)
    return lo.strip(), hi.strip()


def test_export_is_the_current_demo(raw):
    """The CSV R read is the demo survey the report uses (regenerate both when it changes)."""
    from importlib import util

    spec = util.spec_from_file_location("export_demo", FIX / "export_demo.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import io

    buf = io.StringIO()
    mod.export_frame().to_csv(buf, index=False, float_format="%.17g")
    now = pd.read_csv(io.StringIO(buf.getvalue()))
    pd.testing.assert_frame_equal(now, raw, check_exact=False, rtol=1e-15)


def test_sample_section(md, r, raw):
    CHECKED["sample"] = 0
    rows = {x["Item"]: x["Value"] for x in tables(md)["Sample and design"]}
    s = r["sample"]
    n = lambda v: f"{int(v):,}"  # noqa: E731
    assert rows["Respondents"] == n(s["n"]) == n(len(raw))
    assert rows["Respondents answering the exposure"] == n(s["n_answered"]) \
        == n(raw["lonely"].notna().sum())
    assert rows["Respondents with the exposure missing (left out of its estimates)"] \
        == n(s["n_missing"]) == n(raw["lonely"].isna().sum())
    assert rows["Strata"] == str(s["n_strata"]) == str(raw["strata"].nunique())
    assert rows["Primary sampling units (PSUs)"] == str(s["n_psu"]) == str(raw["psu"].nunique())
    assert rows["Design degrees of freedom"] == str(s["degf"])
    m = re.fullmatch(r"weight \(sum ([\d,]+)\)", rows["Weight"])
    check("sample", m.group(1).replace(",", ""), s["weight_sum"])
    assert rows["Year(s) of interview"] == \
        f"{s['year_min']}-{s['year_max']} ({s['n_years']} years)"
    assert rows["Country"] == ", ".join(s["countries"])
    CHECKED["sample"] += 8   # the eight counts and labels above
    assert CHECKED["sample"] == 9, CHECKED


def test_prevalence_section(md, r):
    CHECKED["prevalence"] = 0
    rows = tables(md)["Prevalence with 95% confidence intervals"]
    groups = {"All": None, "Age group": "by_age_group", "Sex": "by_sex", "Country": "by_country"}
    seen = set()
    for row in rows:
        key = groups[row["Group"]]
        ref = r["overall"] if key is None else r[key][row["Level"]]
        seen.add((row["Group"], row["Level"]))
        assert row["n"] == f"{ref['n']:,}"          # a count reads "19,281" as in the text
        assert row["df"] == str(ref["df"])
        check("prevalence", row["Estimate (%)"], ref["estimate"], 100)
        check("prevalence", row["SE (%)"], ref["se"], 100)
        lo, hi = ci(row["95% CI (%)"], " to ")
        check("prevalence", lo, ref["ci_low"], 100)
        check("prevalence", hi, ref["ci_high"], 100)
        CHECKED["prevalence"] += 2
    # every real group, no invented one
    want = {("All", "all respondents")} | {(g, lev) for g, k in groups.items() if k
                                          for lev in r[k]}
    assert seen == want
    text = re.search(r"^([\d.]+)% \(95% CI ([\d.]+)% to ([\d.]+)%\) of respondents are "
                     r"lonely\. ([\d,]+) respondents answered; ([\d,]+) with the exposure "
                     r"missing", md, re.M)
    assert text, "prevalence sentence not found"
    for got, key in zip(text.groups()[:3], ("estimate", "ci_low", "ci_high"), strict=True):
        check("prevalence", got, r["overall"][key], 100)
    assert text.group(4) == f"{r['sample']['n_answered']:,}"
    assert text.group(5) == f"{r['sample']['n_missing']:,}"
    CHECKED["prevalence"] += 2
    assert CHECKED["prevalence"] == 77, CHECKED


def test_trend_section(md, r):
    CHECKED["trend"] = 0
    t = tables(md)
    rows = t["Prevalence by year"]
    assert {(x["Year"], x["Country"]) for x in rows} == \
        {tuple(k.split()) for k in r["by_year_country"]}
    for row in rows:
        ref = r["by_year_country"][f"{row['Year']} {row['Country']}"]
        assert row["df"] == str(ref["df"])
        check("trend", row["Estimate (%)"], ref["estimate"], 100)
        check("trend", row["SE (%)"], ref["se"], 100)
        lo, hi = ci(row["95% CI (%)"], " to ")
        check("trend", lo, ref["ci_low"], 100)
        check("trend", hi, ref["ci_high"], 100)
        CHECKED["trend"] += 1
    slopes = t["Logistic trend: change in log-odds per year"]
    assert sorted(x["Country"] for x in slopes) == sorted(r["trend"])
    for row in slopes:
        ref = r["trend"][row["Country"]]
        check("trend", row["Change in log-odds per year"], ref["coef"])
        check("trend", row["SE"], ref["se"])
        lo, hi = ci(row["95% CI"], " to ")
        check("trend", lo, ref["ci_low"])
        check("trend", hi, ref["ci_high"])
        check("trend", row["Odds ratio per year"], ref["or"])
        lo, hi = ci(row["95% CI of the odds ratio"], " to ")
        check("trend", lo, ref["or_low"])
        check("trend", hi, ref["or_high"])
        check("trend", row["p"], ref["p"])
        assert row["df"] == str(ref["df"])
        CHECKED["trend"] += 1
        # the sentence: percentage change in the odds per year with its CI
        m = re.search(rf"{row['Country']}: ([+-]?<?[\d.]+)% odds per year \(95% CI "
                      rf"([+-]?<?[\d.]+)% to ([+-]?<?[\d.]+)%\)", md)
        assert m, row["Country"]
        for got, key in zip(m.groups(), ("or", "or_low", "or_high"), strict=True):
            check("trend", got, 100 * (ref[key] - 1))
    assert CHECKED["trend"] == 114, CHECKED


def test_association_section(md, r, raw):
    CHECKED["association"] = 0
    rows = tables(md)["Odds ratios (95% CI) by outcome and model"]
    label_to_key = {v: k for k, v in OUTCOMES.items()}
    assert [x["Outcome"] for x in rows] == list(OUTCOMES.values())
    adjust = ["lonely", "age_group", "sex", "smoker", "obese", "physically_inactive"]
    for row in rows:
        o = label_to_key[row["Outcome"]]
        ref = r["association"][o]
        keep = raw[[o, *adjust]].notna().all(axis=1)
        assert row["n"] == f"{ref['n']:,}" == f"{int(keep.sum()):,}"
        assert row["Events"] == f"{ref['events']:,}" == f"{int((raw.loc[keep, o] == 1).sum()):,}"
        CHECKED["association"] += 2
        for k in (1, 2, 3):
            m = re.fullmatch(r"([\d.]+) \(([\d.]+)-([\d.]+)\)", row[f"Model {k} OR (95% CI)"])
            assert m, row
            mr = ref[f"model{k}"]
            check("association", m.group(1), mr["or"])
            check("association", m.group(2), mr["or_low"])
            check("association", m.group(3), mr["or_high"])
            check("association", row[f"Model {k} p"], mr["p"])
    assert CHECKED["association"] == 112, CHECKED


def test_risk_factor_section(md, r):
    CHECKED["risk_factors"] = 0
    t = tables(md)
    wide = t["Odds ratios of each factor, by outcome (mutually adjusted)"]
    label_to_key = {v: k for k, v in OUTCOMES.items()}
    assert [x["Outcome"] for x in wide] == list(OUTCOMES.values())
    for row in wide:
        ref = r["association"][label_to_key[row["Outcome"]]]
        for col, key in FACTORS.items():
            check("risk_factors", row[col], ref[key]["or"])
    long = t["The same with 95% CIs"]
    assert len(long) == len(OUTCOMES) * len(FACTORS)
    for row in long:
        assert row["Model"] == "Model 3"
        ref = r["association"][label_to_key[row["Outcome"]]][FACTORS[row["Factor"]]]
        check("risk_factors", row["Odds ratio"], ref["or"])
        lo, hi = ci(row["95% CI"], " to ")
        check("risk_factors", lo, ref["or_low"])
        check("risk_factors", hi, ref["or_high"])
        check("risk_factors", row["p"], ref["p"])
    assert CHECKED["risk_factors"] == 160, CHECKED


def test_published_anchors(md):
    """The published pooled estimates, as the abstracts give them (physical activity's RR
    0.67, 0.63-0.72 inverted to the adverse direction: 1/0.67, 1/0.72, 1/0.63)."""
    CHECKED["anchors"] = 0
    rows = {x["Factor"]: x for x in
            tables(md)["Published pooled estimates for all-cause mortality (for scale)"]}
    published = {"Loneliness": (1.22, 1.10, 1.35, "HR", "Rico-Uribe et al. 2018"),
                  "Smoking": (1.83, 1.65, 2.03, "RM", "Gellert et al. 2012"),
                  "Obesity": (1.18, 1.12, 1.25, "HR", "Flegal et al. 2013"),
                  "Physical inactivity": (1 / 0.67, 1 / 0.72, 1 / 0.63, "RR",
                                          "Nocon et al. 2008")}
    assert set(rows) == set(published)
    for f, (est, lo, hi, measure, source) in published.items():
        row = rows[f]
        check("anchors", row["Estimate"], est)
        got_lo, got_hi = ci(row["95% CI"], " to ")
        check("anchors", got_lo, lo)
        check("anchors", got_hi, hi)
        assert row["Measure"] == measure and row["Source"] == source
    assert CHECKED["anchors"] == 12, CHECKED


def test_html_prints_the_same_cells(report, md):
    """The HTML tables hold exactly the Markdown tables' cells (one formatting layer)."""
    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self._in = [], False

        def handle_starttag(self, tag, attrs):
            if tag in ("td", "th"):
                self._in, self._buf = True, ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self._in:
                self.cells.append(" ".join(self._buf.split()))
                self._in = False

        def handle_data(self, data):
            if self._in:
                self._buf += data

    p = Cells()
    p.feed(report.to_html())
    md_cells = [c for rows in tables(md).values() for row in rows for c in row.values()]
    html_cells = p.cells
    missing = [c for c in md_cells if c not in html_cells]
    assert not missing, missing[:10]


def test_no_bad_tokens(md, report):
    """No nan / None / inf / 0.0% / -0 anywhere in the printed text (tables and sentences)."""
    for text in (re.sub(r"\(data:image[^)]*\)", "", md), report.to_html()):
        body = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)
        for bad in (r"\bnan\b", r"\bNaN\b", r"\bNone\b", r"\binf\b", r"\bInf\b",
                    r"(?<![\d.])[+-]?0\.0+%", r"(?<![\w.])-0(\.0+)?(?![\d.])", r"<NA>"):
            hit = re.search(bad, body)
            assert hit is None, (bad, body[max(0, hit.start() - 80): hit.end() + 40])


def test_trend_sentence_keeps_the_sign_of_a_bound_near_zero(md):
    """Regression: GB's lower 95% bound of the odds change per year is -0.008% (R: exp(
    -8.09e-05) - 1); the sentence printed "0.0%", hiding that the interval includes zero."""
    assert "GB: +4.9% odds per year (95% CI -0.008% to +10.0%)" in md
