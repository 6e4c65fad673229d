"""socialhealth.tables: rounding rules, labels, renderers, Word output and errors.

Expected strings are written by hand from the rules in socialhealth/tables/format.py.
"""
from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError, MissingColumnError, ModelError
from socialhealth.tables import format as fmt
from socialhealth.tables.labels import level_label, variable_label


@pytest.fixture(scope="module")
def demo():
    return sh.datasets.load("demo").design


@pytest.fixture(scope="module")
def table1(demo):
    return sh.tables.describe(demo, by="lonely", variables=["age_group", "sex", "education",
                                                            "lives_alone", "age"])


@pytest.fixture(scope="module")
def nested(demo):
    m1 = demo.glm("poor_health ~ lonely", family="binomial")
    m2 = demo.glm("poor_health ~ lonely + age_group + sex", family="binomial")
    return sh.tables.regression([m1, m2], labels=["Unadjusted", "Adjusted"])


# ----------------------------------------------------------------------------- rounding rules
@pytest.mark.parametrize("value,expected", [
    (0.12345, "12.3"), (0.99999, "100.0"), (-1e-12, "0.0"), (-0.0004, "0.0"), (0.0, "0.0"),
    (float("nan"), "\u2014"), (float("inf"), "\u2014"), (None, "\u2014"), (pd.NA, "\u2014"),
])
def test_percent(value, expected):
    assert fmt.percent(value) == expected


@pytest.mark.parametrize("value,expected", [
    (0.0005, "<0.001"), (0.001, "0.001"), (0.04449, "0.044"), (0.04551, "0.046"),
    (0.9994, "0.999"), (0.9996, ">0.999"), (float("nan"), "\u2014"),
])
def test_p_value(value, expected):
    assert fmt.p_value(value) == expected


def test_ratio_number_count():
    assert fmt.ratio(2.5149) == "2.51" and fmt.ratio(-0.001) == "0.00"
    assert fmt.number(-0.04, 1) == "0.0" and fmt.number(-0.05001, 1) == "-0.1"
    assert fmt.count(19602) == "19,602"
    assert fmt.interval("1.0", "\u2014", "2.0") == "1.0 (\u2014)"


def _all_cells(t):
    return [c for r in t.rows for c in r.cells] + t.header


def test_no_nan_inf_or_negative_zero_in_any_cell(table1, nested):
    for t in (table1, nested):
        for c in _all_cells(t):
            assert not re.search(r"nan|inf|-0\.0+(?!\d)|None", c, re.I), c


# ----------------------------------------------------------------------------- labels
def test_labels_come_from_pretty_and_report_content():
    assert variable_label("age_group") == "Age group"
    assert variable_label("lonely") == "Lonely"
    assert variable_label("poor_health") == "Fair or poor self-rated health"   # content.toml
    assert variable_label("physically_inactive") == "Physical inactivity"      # comparators
    assert variable_label("age", {"age": "Age (years)"}) == "Age (years)"
    assert level_label(False) == "No" and level_label("female") == "Female"


def test_table1_layout(table1):
    assert table1.header[:3] == ["Characteristic", "n", "% or mean (95% CI)"]
    assert table1.header[-1] == "p-value"
    assert [s[0].split(" (N")[0] for s in table1.spanners] == ["Overall", "Lonely: No", "Lonely: Yes"]
    labels = [r.cells[0] for r in table1.rows]
    assert labels[:3] == ["Age group, %", "16-24", "25-34"]
    assert "Sex, %" in labels and "Female" in labels and "Lives alone, %" in labels
    assert "Age, mean" in labels
    # education has missing values: a Missing row right after its levels
    i = labels.index("High")
    assert labels[i + 1] == "Missing"


def test_table1_counts_are_unweighted_raw_counts(demo, table1):
    d = demo.data
    known = d["lonely"].notna()
    frame = table1.to_frame()
    row = frame[(frame["variable"] == "sex") & (frame["level"] == "female") & (frame["group"] == True)]  # noqa: E712
    assert int(row["n"].iloc[0]) == int(((d["sex"] == "female") & (d["lonely"] == True)).sum())  # noqa: E712
    miss = frame[(frame["variable"] == "education") & (frame["group_label"] == "Overall")]
    assert int(miss["n_missing"].iloc[0]) == int((d["education"].isna() & known).sum())
    n_overall = re.search(r"N = ([\d,]+)", table1.spanners[0][0]).group(1)
    assert int(n_overall.replace(",", "")) == int(known.sum())


def test_table1_percentages_are_weighted_shares(demo, table1):
    # hand computation: weighted share of women among respondents with lonely and sex known
    d = demo.data
    ok = d["lonely"].notna() & d["sex"].notna()
    w = d["weight"][ok]
    expected = float((w * (d["sex"][ok] == "female")).sum() / w.sum())
    frame = table1.to_frame()
    got = frame[(frame["variable"] == "sex") & (frame["level"] == "female")
                & (frame["group_label"] == "Overall")]["estimate"].iloc[0]
    assert got == pytest.approx(expected, rel=1e-12)
    cell = next(r for r in table1.rows if r.cells[0] == "Female").cells[2]
    assert cell.startswith(f"{100 * expected:.1f} (")


def test_zero_percent_cell_gets_dash_and_footnote(demo):
    d2 = demo.assign(grp=pd.Categorical(np.where(demo.data["sex"] == "male", "a", "b"),
                                        categories=["a", "b", "c"]))
    t = sh.tables.describe(d2, by="lonely", variables=["grp"])
    row = next(r for r in t.rows if r.cells[0] == "C")
    assert row.cells[2] == "0.0 (\u2014)"
    mark = row.markers[2]
    assert mark and "0 or 100" in t.marker_notes[mark]


def test_test_methods_named_in_footnotes(table1):
    notes = " ".join(table1.marker_notes.values())
    assert "Rao-Scott" in notes and "svychisq" in notes and "svyttest" in notes


def test_regression_layout(nested):
    assert nested.header == ["Characteristic", "OR (95% CI)", "p-value", "OR (95% CI)", "p-value"]
    assert [s[0] for s in nested.spanners] == ["Unadjusted", "Adjusted"]
    labels = [r.cells[0] for r in nested.rows]
    assert labels[:4] == ["Lonely", "Age group", "16-24", "25-34"]
    ref = nested.rows[2]
    assert ref.cells[1] == "" and ref.cells[3] == "\u2014"      # not in model 1; reference in 2
    assert nested.marker_notes[ref.markers[3]] == "Reference level."
    assert labels[-1] == "Respondents (n)"
    assert "OR = odds ratio" in nested.notes[0]


def test_regression_headers_per_model_kind(demo):
    pois = demo.glm("poor_health ~ lonely", family="poisson")
    assert sh.tables.regression(pois).header[1] == "RR (95% CI)"
    lin = demo.glm("bmi ~ lonely")
    assert sh.tables.regression(lin).header[1] == "Beta (95% CI)"
    logit = demo.glm("poor_health ~ lonely", family="binomial")
    t = sh.tables.regression(logit, exponentiate=False)
    assert t.header[1] == "Beta (95% CI)"
    assert t.to_frame()["estimate"].iloc[0] == pytest.approx(float(logit.params["lonely"]), rel=1e-12)


def test_regression_of_association_and_ordinal(demo):
    a = sh.models.association(demo, exposure="lonely", outcome="poor_health",
                              adjust=[["age", "sex"]], measure="or")
    t = sh.tables.regression(a)
    assert len(t.spanners) == 2
    got = t.to_frame()["estimate"].to_numpy()
    np.testing.assert_allclose(got, a.to_frame()["estimate"].to_numpy(), rtol=1e-12)
    o = sh.models.ordinal(demo, "self_rated_health ~ lonely + age")
    to = sh.tables.regression(o)
    assert to.header[1] == "OR (95% CI)" and len(to.to_frame()) == 2      # thresholds left out


# ----------------------------------------------------------------------------- renderers
def test_renderers_show_the_same_cells(table1):
    html, md, tex = table1.to_html(), table1.to_markdown(), table1.to_latex()
    cell = next(r for r in table1.rows if r.cells[0] == "Female").cells[2]
    for text in (html, md, tex):
        assert cell in text
    assert html.startswith('<table class="socialhealth-table">') and "<sup>a</sup>" in html
    assert table1._repr_html_() == html
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex and "\\cmidrule" in tex
    assert "\\textless{}0.001" in tex
    assert tex.isascii(), [ch for ch in tex if not ch.isascii()]       # pdflatex-safe
    assert md.splitlines()[2].startswith("| Characteristic |")
    assert "% or mean (95% CI)" in md


def test_to_docx_writes_a_word_file(table1, tmp_path):
    out = table1.to_docx(tmp_path / "t1.docx")
    assert out.exists()
    with zipfile.ZipFile(out) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    assert "Age group, %" in xml and "Lonely: Yes" in xml


def test_to_frame_columns_are_predictable(table1, nested):
    from socialhealth.tables._describe import NUMBER_COLUMNS as D
    from socialhealth.tables._regression import NUMBER_COLUMNS as R

    assert list(table1.to_frame().columns) == D
    assert list(nested.to_frame().columns) == R


# ----------------------------------------------------------------------------- errors
def test_errors(demo):
    with pytest.raises(MissingColumnError):
        sh.tables.describe(demo, variables=["no_such_column"])
    with pytest.raises(DesignError):
        sh.tables.describe(demo, variables=["sex"], statistic="sd")
    with pytest.raises(DesignError):
        sh.tables.describe(demo, by="lonely", variables=["lonely"])
    with pytest.raises(ModelError):
        sh.tables.regression(demo.mean("age"))
    m = demo.glm("poor_health ~ lonely", family="binomial")
    with pytest.raises(ModelError):
        sh.tables.regression([m, m], labels=["only one"])
