"""The report's sentences about the exposure, and the codebook notes it quotes, are words.

Regressions:

* sentences were built from the exposure's label as if it were an adjective: "of respondents
  are classed as lives alone", "respondents who are lives alone vs those who are not", "who are
  depression", "Trend in the odds of being lives alone";
* codebook notes pasted into skip reasons and the "In this survey (codebook), X comes from ..."
  sentence were code: "-> True", "True when 1", "(see those concepts' notes)", "Hhmmb = number
  of ...", "lonely comes from cesd4, lonely, lonely_ucla3: no direct item in this file; ...".

The expected words below are written by hand from the data files (``schema.toml``,
``content.toml``), not produced by the code under test.
"""
from __future__ import annotations

import html
import re
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import pytest

from mini_report import mini_report

import socialhealth as sh

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SRC = Path(sh.__file__).resolve().parent
CODEBOOKS = sorted((SRC / "datasets" / "codebooks").glob("*.toml"))
SCHEMA = tomllib.loads((SRC / "datasets" / "schema.toml").read_text("utf-8"))["columns"]

#: (exposure, outcomes, words that must be in the report, hand-written)
CASES = {
    "lonely": (None, ["of respondents are lonely. ",
                      "respondents who are lonely vs the other respondents"]),
    "lives_alone": (None, ["of respondents live alone. ",
                           "respondents who live alone vs the other respondents",
                           "Trend in the proportion of respondents who live alone,",
                           "## Prevalence of living alone"]),
    "depression": (["hypertension", "diabetes"],
                   ["of respondents have depression. ",
                    "respondents who have depression vs the other respondents"]),
    "poor_health": (["depression"], ["of respondents report fair or poor health. "]),
    "smoker": (["depression"], ["of respondents smoke. "]),
    "ucla3_isolated>=3": (None, [
        "of respondents report feeling isolated from others often (ucla3_isolated >= 3). ",
        "respondents feeling isolated from others often (ucla3_isolated >= 3) vs the other "
        "respondents"]),
    "lonely_direct==Often/always": (None, [
        "respondents feeling lonely often/always (lonely_direct == Often/always) vs the other "
        "respondents"]),
    "lonely==no": (None, ["of respondents are not lonely (lonely = no). "]),
}


@lru_cache(maxsize=None)
def _demo():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load("demo")


@lru_cache(maxsize=None)
def _demo_text(exposure: str) -> str:
    """The demo report's Markdown without R code blocks and images, HTML entities decoded."""
    outcomes, _ = CASES[exposure]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(_demo(), exposure=exposure,
                              outcomes=outcomes or ["depression", "hypertension"])
    return _words(rep.to_markdown())


def _words(md: str) -> str:
    md = re.sub(r"```r\n.*?```", "", md, flags=re.S)
    md = re.sub(r"\(data:image[^)]*\)", "()", md)
    return html.unescape(md)


def _who_are_allowed() -> set[str]:
    """What may follow "who are": the schema's own phrases that start with "are"."""
    out = set()
    for spec in SCHEMA.values():
        for key in ("who", "who_not"):
            if str(spec.get(key, "")).startswith("are "):
                out.add(spec[key][len("are "):])
    return out


def _bad_words(text: str) -> list[str]:
    allowed = _who_are_allowed()
    bad = []
    for m in re.finditer(r"\bwho (?:are|were) ([^,.;:()]+)", text):
        if not any(m.group(1).startswith(a) for a in allowed):
            bad.append(m.group(0))
    bad += [m.group(0) for m in re.finditer(r"classed as (?!exposed\b)\w+", text)]
    for pat in (r"\bTrue\b", r"\bFalse\b", r"->", r"→", r"\bnan\b", r"\bNone\b",
                r"see those concepts' notes", r"\bodds of being\b"):
        bad += [m.group(0) for m in re.finditer(pat, text)]
    return bad


@pytest.mark.parametrize("exposure", list(CASES))
def test_demo_report_sentences_about_the_exposure_are_words(exposure):
    text = _demo_text(exposure)
    assert _bad_words(text) == []
    for said in CASES[exposure][1]:
        assert said in text, said


def test_the_bad_word_check_catches_the_old_sentences():
    """The check above rejects the sentences the report used to write."""
    old = ("16.1% (95% CI 15.5% to 16.8%) of respondents are classed as lives alone. "
           "Odds ratios of each health outcome, respondents who are lives alone vs those who "
           "are not. Respondents who are depression. In this survey (codebook), lives_alone "
           "comes from hhmmb: yes if hhmmb is 1. Hhmmb = number of people; True when 1. "
           "1 yes -> True. Obesity (derived from bmi (see those concepts' notes)). Trend in "
           "the odds of being lives alone.")
    bad = _bad_words(old)
    for word in ("classed as lives", "who are lives alone vs those who are not",
                 "who are depression", "True", "->", "see those concepts' notes",
                 "odds of being"):
        assert any(b.startswith(word) or word.startswith(b) for b in bad), word
    # and accepts the schema's own phrases
    assert _bad_words("respondents who are lonely vs the others; those who are not obese; "
                      "respondents who are physically inactive") == []


def test_every_yes_no_concept_of_the_schema_has_words_for_respondents_who():
    bools = [c for c, spec in SCHEMA.items() if spec["kind"] == "bool"]
    assert len(bools) == 17
    for c in bools:
        who, who_not = SCHEMA[c].get("who"), SCHEMA[c].get("who_not")
        assert who and who_not and who != who_not, c
        for phrase in (who, who_not):
            assert not phrase.startswith("who ") and "_" not in phrase, (c, phrase)
    assert (SCHEMA["lives_alone"]["who"], SCHEMA["depression"]["who"],
            SCHEMA["poor_health"]["who"], SCHEMA["smoker"]["who"]) == (
        "live alone", "have depression", "report fair or poor health", "smoke")


def _note_strings(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _note_strings(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _note_strings(v, f"{path}[{i}]")
    elif isinstance(obj, str) and "notes" in path.rsplit(".", 1)[-1]:
        yield path, obj


def test_no_codebook_note_is_code():
    assert len(CODEBOOKS) >= 12
    seen = 0
    for f in CODEBOOKS:
        for where, note in _note_strings(tomllib.loads(f.read_text("utf-8"))):
            seen += 1
            for code in ("-> True", "-> False", "True when", "True if", "→ True", "→ False"):
                assert code not in note, (f.name, where, code)
            assert re.search(r"\b(True|False)\b", note) is None, (f.name, where, note)
            assert "->" not in note, (f.name, where, note)
    assert seen > 300


def _mini_with_codebook(rows, drop=(), exposure="lonely"):
    return mini_report(drop=drop, exposure=exposure, codebook_rows=rows)


def test_measured_how_is_a_sentence_for_a_fallback_rule():
    """Regression (GSS 2018): "In this survey (codebook), lonely comes from cesd4, lonely,
    lonely_ucla3: no direct item in this file; otherwise lonely_ucla3 (1164 rows)."."""
    rep = _mini_with_codebook([
        ("lonely", "cesd4, lonely, lonely_ucla3",
         "no direct item in this file; otherwise lonely_ucla3 (1164 rows)", "",
         "Headline indicator: otherwise (2018) lonely_ucla3.", True)])
    text = " ".join(rep["prevalence"].text)
    assert ("In this survey, loneliness is taken from the UCLA-3 items (a score of 6 or more) "
            "for the 1,164 respondents who answered them: this file has none of the direct "
            "items (cesd4 and lonely).") in text
    assert "Codebook note: Headline indicator: otherwise (2018) lonely_ucla3." in text
    assert "comes from cesd4" not in text and "(codebook)" not in text


def test_measured_how_names_the_variable_and_says_the_rule_in_words():
    rep = _mini_with_codebook([
        ("lonely", "hlpdown", "first answered of hlpdown: 1→True, 2→True, 3→True, 7→False; "
         "8 or 9 → missing", "", "hlpdown is asked on ballots B and C.", True)])
    text = " ".join(rep["prevalence"].text)
    assert ("In this survey, loneliness is coded from the variable hlpdown: the first answered "
            "of hlpdown (codes 1, 2 or 3 counted as yes, 7 as no); 8 or 9 counted as missing. "
            "Codebook note: hlpdown is asked on ballots B and C.") in text
    assert _bad_words(text) == []


def test_a_derived_concept_that_is_not_measured_gives_its_inputs_reasons():
    """Regression (ESS round 9): "Obesity is not measured in this survey (derived from bmi; not
    computed because bmi is not measured in this file (see those concepts' notes))"."""
    rows = [("obese", "", "not measured", "", "derived from bmi; not computed because bmi is "
             "not measured in this file (see those concepts' notes)", False),
            ("bmi", "height, weight", "not measured", "", "Its source variables height and "
             "weight are not in this file.", False)]
    rep = _mini_with_codebook(rows, drop=("obese",))
    notes = " ".join(rep["association"].notes + rep["risk_factors"].notes)
    assert ("Obesity is not measured in this survey \u2014 it is derived from BMI; BMI is not "
            "measured either: its source variables height and weight are not in this "
            "file.") in notes
    assert "))" not in notes
    assert "see those concepts" not in notes


@pytest.mark.realdata
def test_ess_report_for_living_alone_in_words(shared_data_dir):
    path = shared_data_dir / "ess" / "ESS9GB.sav"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("ess", path=path), exposure="lives_alone")
    text = _words(rep.to_markdown())
    assert _bad_words(text) == []
    assert "of respondents live alone. " in text
    assert ("In this survey, living alone is coded from the variable hhmmb: yes if hhmmb is 1; "
            "no if any other valid code. Codebook note: hhmmb is the number of people living "
            "regularly as members of the household (including the respondent); a household of "
            "1 counts as living alone.") in text


def test_an_exposure_that_is_a_comparator_is_not_its_own_covariate():
    """``--exposure smoker``: Model 3 used to say "+ smoking, obesity, physical inactivity"
    (its R call listed smoker twice) and the section was titled "Smoking next to smoking,
    obesity and inactivity"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(_demo(), exposure="smoker", outcomes=["depression"])
    md = rep.to_markdown()
    text = _words(md)
    assert "## Smoking next to obesity and inactivity" in text
    assert "next to smoking" not in text
    assert "Model 3: + obesity, physical inactivity." in text
    assert "Model 3 does not add smoking: it is the exposure." in text
    calls = re.findall(r"svyglm\(depression ~ [^,]*", md)
    assert len(calls) == 3 and calls[-1] == ("svyglm(depression ~ smoker + factor(age_group) + "
                                             "factor(sex) + obese + physically_inactive")
    assert all(c.count("smoker") == 1 for c in calls), calls
    # the default exposure keeps the full title and Model 3
    default = _words(sh.report.build(_demo(), outcomes=["depression"]).to_markdown())
    assert "next to smoking, obesity and inactivity" in default
    assert "Model 3: + smoking, obesity, physical inactivity." in default


@pytest.mark.realdata
@pytest.mark.parametrize("name, rel", [("ess", "ess/ESS7GB.sav"), ("gss", "gss/GSS2018.dta"),
                                       ("gss_panel20", "gss/gss_panel20.dta")])
def test_reasons_for_what_a_survey_lacks_have_no_doubled_brackets(shared_data_dir, name, rel):
    """Regression: a codebook reason with brackets of its own was put in brackets: "Anxiety is
    not measured in this survey (no anxiety item in the ESS core or in the round 7 health
    module (its CES-D-8 block measures depressive symptoms only))"."""
    path = shared_data_dir / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load(name, path=path))
    text = _words(rep.to_markdown())
    # only the Markdown links of figures may close two brackets
    assert "))" not in re.sub(r"!\[[^\]]*\]\(\)", "", text)
    assert "is not measured in this survey \u2014 " in text
