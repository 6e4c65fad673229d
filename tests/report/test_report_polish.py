"""Sentences of the report, read as a user reads them (one test per class of defect).

* a percentage below the display resolution printed with a dozen decimals
  ("+0.00000000000005% odds per year") instead of "+<0.001%";
* a condition on a score read without its article ("for whom UCLA-3 loneliness score is 6 or
  more") and a label starting with an acronym lower-cased in titles ("Prevalence of uCLA-3
  loneliness score");
* Python code in the words shown to the reader: option spellings (``lonely_psu="adjust"``),
  subscripts (``sd.provenance['single_psu_strata']``), comparisons (``hompop == 1``) and
  ``psu=vpsu`` in codebook notes and the sample table;
* a count of thousands without its separator ("none of the 1304 persons linked").

Expected strings are written by hand. Tests on the real files skip without ``../shared``.
"""
from __future__ import annotations

import glob
import re
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.report import exposure as ex
from socialhealth.report.formatting import signed_nonzero

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# ---------------------------------------------------------------- percentages near zero
@pytest.mark.parametrize("value, shown", [
    (-7e-12, "-<0.001"),      # the defect: printed "-0.000000000007"
    (4.5e-14, "+<0.001"),
    (-0.00049, "-<0.001"),    # rounds to -0.000 at 3 decimals: below the resolution
    (-0.0081, "-0.008"),      # the case signed_nonzero exists for: not "0.0"
    (0.0149, "+0.015"),
    (-0.049, "-0.049"),
    (4.86, "+4.9"),
    (-3.04, "-3.0"),
    (0.0, "0.0"),
    (float("nan"), "n/a"),
])
def test_signed_nonzero_below_the_display_resolution(value, shown):
    assert signed_nonzero(value) == shown


def _write_brfss(path, year):
    """One BRFSS year with the same 8 answers every year: a flat trend (true slope 0)."""
    import pyreadstat

    n = 8
    df = pd.DataFrame({
        "_STATE": [6.0] * n, "_STSTR": [11011.0] * 4 + [11012.0] * 4,
        "_LLCPWT": [10.0, 20.0, 30.0, 15.0, 25.0, 40.0, 12.0, 33.0],
        "_PSU": [float(year * 1_000_000 + i + 1) for i in range(n)],
        "GENHLTH": [1.0, 2.0, 4.0, 5.0, 3.0, 5.0, 1.0, 4.0],
        "_AGEG5YR": [1.0, 3, 5, 7, 9, 11, 2, 4], "_AGE80": [20.0, 32, 42, 52, 62, 72, 27, 37],
        "SEXVAR": [1.0, 2.0] * 4, "ADDEPEV3": [1.0, 2, 2, 1, 2, 2, 1, 2],
        "IYEAR": [str(year)] * n})
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name="LLCP")
    return path


def test_flat_trend_sentence_has_no_dozen_decimals(tmp_path):
    """Regression: a trend whose fitted slope is a rounding error (about 5e-14 here) read
    "+0.00000000000005% odds per year"; it now reads "+<0.001%" (or "0.0%" if exactly 0)."""
    files = [_write_brfss(tmp_path / f"LLCP{y}.XPT", y) for y in (2022, 2023, 2024)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = sh.datasets.load("brfss", path=files, cache=False)
        rep = sh.report.build(sd, exposure="poor_health", outcomes=["depression"])
    text = " ".join(rep["trend"].text)
    assert re.search(r"all: ([+-]<0\.001|0\.0)% odds per year", text), text
    for pct in re.findall(r"(?<!\()([+-]?<?[\d.]+)%", text.replace("95% CI", "")):
        assert re.fullmatch(r"[+-]?(<0\.001|\d+\.\d{1,3})", pct), (pct, text)


# ---------------------------------------------------------------- conditions in words
@pytest.fixture(scope="module")
def demo():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load("demo")


@pytest.mark.parametrize("spec, who", [
    ("ucla3_score>=6", "for whom the UCLA-3 loneliness score is 6 or more (ucla3_score >= 6)"),
    ("ucla3_score<4", "for whom the UCLA-3 loneliness score is less than 4 (ucla3_score < 4)"),
    ("sex==female", "for whom sex is female (sex == female)"),
    ("age>=65", "for whom age is 65 or more (age >= 65)"),
    ("ucla3_isolated>=3", "feeling isolated from others often (ucla3_isolated >= 3)"),
])
def test_condition_words_take_the_article_of_the_schema(demo, spec, who):
    resolved, _ = ex.derive(ex.parse(spec), demo.data)
    assert resolved.who == who


def test_article_comes_from_the_schema_not_from_the_call():
    assert ex.subject_words("ucla3_score", "UCLA-3 loneliness score") == \
        "the UCLA-3 loneliness score"
    assert ex.subject_words("ucla3_score@2018", "UCLA-3 loneliness score") == \
        "the UCLA-3 loneliness score"
    assert ex.subject_words("social_isolation_index") == "the social isolation index"
    assert ex.subject_words("sex") == "sex" and ex.subject_words("bmi", "BMI") == "BMI"
    assert ex.who_words("cognitive_score") == "for whom the cognitive score is yes"
    assert ex.who_words("my_flag") == "for whom my flag is yes"


def test_a_label_starting_with_an_acronym_keeps_its_capitals(demo):
    """Regression: "Prevalence of uCLA-3 loneliness score (6 or more)"."""
    assert ex.condition_words("ucla3_score", ">=", 6.0)[1] == "UCLA-3 loneliness score 6 or more"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(demo, exposure="ucla3_score>=6", outcomes=["depression"])
    md = rep.to_markdown()
    assert "## Prevalence of UCLA-3 loneliness score (6 or more)" in md
    assert ("of respondents are in the exposed group: those for whom the UCLA-3 loneliness "
            "score is 6 or more (ucla3_score >= 6). 18,437 respondents answered; 1,165 with the "
            "exposure missing are left out.") in " ".join(rep["prevalence"].text)
    assert "uCLA" not in md


def test_no_two_bracket_groups_in_a_row_in_the_words(demo):
    """Regression: "... 6 or more (ucla3_score >= 6) (18,437 respondents answered, ...)",
    "Synthetic demo survey (generated, not real data) (demo)", "... (6 or more) (ok)" and
    "the odds ratio of UCLA-3 loneliness score (6 or more) compares with ..." (a title phrase
    inside a sentence)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(demo, exposure="ucla3_score>=6", outcomes=["depression"])
    md = rep.to_markdown()
    prose = [line for line in md.splitlines()
             if line and not line.startswith(("|", "    ", "des <-", "svy", "library("))
             and "```" not in line]
    assert not [line for line in prose if ") (" in line]
    assert "Survey: Synthetic demo survey (generated, not real data); dataset: demo;" in md
    assert "2. Prevalence of UCLA-3 loneliness score (6 or more) — ok" in md
    assert ("Read across a row to compare the exposure's odds ratio (first column) with those "
            "of the established risk factors") in md
    assert "the odds ratio of UCLA-3" not in md
    assert "| Survey | Synthetic demo survey (generated, not real data) |" in md
    assert "| Dataset (socialhealth name) | demo |" in md
    assert not [line for line in md.splitlines() if line.startswith("|") and ") (" in line]


# ---------------------------------------------------------------- no code in the words
CODEBOOKS = Path(sh.__file__).parent / "datasets" / "codebooks"
#: Python spellings a reader should not meet in a codebook note. ``columns=['x']`` and
#: ``variables={...}`` are instructions to the Python user (the CLI rewrites them as flags).
CODE = re.compile(r"lonely_psu\s*=|\bsd\.\w|\w\[['\"]|\b\w+ ?[=!]= ?\w|\bpsu=\w")


def _notes(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _notes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _notes(v, (*path, i))
    elif isinstance(obj, str) and path and path[-1] in ("notes", "description"):
        yield ".".join(map(str, path)), obj


def test_pattern_catches_the_old_notes():
    for old in ("hompop == 1.", "The loader sets lonely_psu='adjust' (in R, ...)",
                "sd.provenance['single_psu_strata'] counts them",
                "counted in provenance unmapped_codes['age_group'])", "psu=vpsu, strata=year"):
        assert CODE.search(old), old
    for fine in ("request columns=['realinc']", "pass variables={'lonely': ...}",
                 "in R, options(survey.lonely.psu = \"adjust\")", "1 counts as living alone"):
        assert not CODE.search(fine), fine


def test_codebook_notes_have_no_python_code():
    bad = []
    for f in sorted(glob.glob(str(CODEBOOKS / "*.toml"))):
        for where, text in _notes(tomllib.loads(Path(f).read_text("utf-8"))):
            bad += [(Path(f).name, where, m.group(0)) for m in CODE.finditer(text)]
    assert not bad, bad


def test_single_psu_rule_in_words_in_the_sample_table():
    """The sample table said 'lonely_psu="adjust": its PSU total ...'."""
    rng = range(12)
    df = pd.DataFrame({"st": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3],
                       "psu": [1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1],
                       "w": [1.0 + (i % 3) for i in rng],
                       "lonely": [i % 3 == 0 for i in rng], "age": [30 + 3 * i for i in rng]})
    design = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True,
                             lonely_psu="adjust")
    from socialhealth.report.sections.sample import _single_psu

    shown = _single_psu(None, design)
    assert shown.startswith('1 of 3; single-PSU rule "adjust": for each such stratum, its PSU '
                            "total is centred at the mean over all PSUs"), shown
    assert "lonely_psu" not in shown


# ---------------------------------------------------------------- real files
def _real(shared_data_dir, rel):
    path = shared_data_dir / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def _load(name, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load(name, path=path, **kw)


@pytest.mark.realdata
def test_gss_2018_design_note_and_living_alone_in_words(shared_data_dir):
    sd = _load("gss", _real(shared_data_dir, "gss/GSS2018.dta"))
    note = sd.design_spec["notes"]
    assert note.startswith("PSUs: vpsu; strata: year x vstrat (PSUs numbered within strata); "
                           "weight: "), note
    cb = sd.codebook.set_index("concept")
    assert cb.loc["lives_alone", "notes"] == ("hompop, the number of persons in the household: "
                                              "1 counts as living alone.")


@pytest.mark.realdata
def test_gss_panel10_sentences_have_no_code_and_separate_thousands(shared_data_dir):
    path = _real(shared_data_dir, "gss/gss_panel10_long.dta.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = sh.datasets.load_panel("gss_panel10", path=path, waves=[2010, 2014])
        sd = sh.datasets.load("gss_panel10", path=path, wave=2010)
        rep = sh.report.build(sd, panel=panel)
    md = rep.to_markdown()
    assert "none of the 1,304 persons linked answered it at 2010" in md
    assert "lonely_psu" not in md and "sd.provenance" not in md
    assert "12 of 133; single-PSU rule \"adjust\": for each such stratum, its PSU total" in md
    assert ("The loader uses the 'adjust' rule for them (in R, options(survey.lonely.psu = "
            "\"adjust\")): a single-PSU stratum's PSU total is centred at the mean over all "
            "PSUs; the load's provenance counts such strata among the rows loaded.") in md


@pytest.mark.realdata
def test_ess7_weights_only_methods_and_loneliness_note(shared_data_dir):
    sd = _load("ess", _real(shared_data_dir, "ess/ESS7GB.sav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sd, outcomes=["poor_health"])
    methods = " ".join(rep["methods"].text)
    assert "Taylor series linearisation with weights only: this file has no strata or PSUs" \
        in methods
    assert "over the primary sampling units, within strata" not in methods
    assert "(respondents minus one, as for a weights-only design)" in methods
    # the generic sentence no longer claims "often or always" for a CES-D past-week item
    assert ("answered often or always, or its nearest equivalent (such as 'most or all of the "
            "time' on a past-week CES-D item), where the survey asks one") \
        in " ".join(rep["prevalence"].text)
    assert ("Headline indicator: the direct (CES-D) item fltlnl ('felt lonely' in the past week) "
            "answered 'most of the time' or 'all or almost all of the time'.") \
        in " ".join(rep["prevalence"].text)
