"""What the user-facing documentation names exists in the code today.

The documentation (README.md, CONTRIBUTING.md, data/README.md, docs/*.md, docs/*.rst,
docs/api/*.rst) names command-line flags, functions, files and counts. These tests read the
pages as text and check each such claim against the package, so a renamed flag, a removed
function, a moved file or a new R equivalent left off the R/Stata page fails here instead of
misleading a reader. (The Python examples themselves are run by tests/test_docs_build.py,
tests/report/test_readme.py and the myst-nb build of docs/from_r.md.)
"""
from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "socialhealth"
DOC_FILES = sorted(
    [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "data" / "README.md"]
    + list((REPO / "docs").glob("*.md")) + list((REPO / "docs").glob("*.rst"))
    + list((REPO / "docs" / "api").glob("*.rst")))
README = (REPO / "README.md").read_text("utf-8")
R_STATA = (REPO / "docs" / "r_stata.rst").read_text("utf-8")

# flags of other tools quoted in the docs (sphinx-build in the build commands)
OTHER_TOOLS_FLAGS = {"--keep-going"}
NUMBER_WORDS = {"five": 5, "six": 6, "seven": 7, "eight": 8}


def _cli():
    """The option strings of every socialhealth command, and the command names."""
    from socialhealth import cli

    parser = cli.build_parser()
    options = set(parser._option_string_actions)
    commands: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    for sub in commands.values():
        options |= set(sub._option_string_actions)
    return options | set(cli.DEPRECATED_FLAGS), commands


def _code_spans(text: str) -> list[str]:
    """Inline code (Markdown `x`, reST ``x``) and the lines of fenced code blocks."""
    spans = [m.group(1) for m in re.finditer(r"`{1,2}([^`\n]+?)`{1,2}", text)]
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        spans.extend(block.splitlines())
    return spans


def test_doc_files_found():
    names = {p.relative_to(REPO).as_posix() for p in DOC_FILES}
    assert {"README.md", "CONTRIBUTING.md", "data/README.md", "docs/r_stata.rst",
            "docs/getting_started.md", "docs/api/index.rst"} <= names


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_cli_flags_and_commands_named_in_docs_exist(doc):
    options, commands = _cli()
    text = doc.read_text("utf-8")
    for flag in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))):
        assert flag in options or flag in OTHER_TOOLS_FLAGS, (
            f"{doc.name} names the flag {flag}, which no socialhealth command has")
    for span in _code_spans(text):
        for command in re.findall(r"^\s*socialhealth ([a-z]+)\b", span):
            assert command in commands, f"{doc.name}: 'socialhealth {command}' is not a command"


def test_readme_format_list_is_the_cli_choices():
    _, commands = _cli()
    (choices,) = [a.choices for a in commands["report"]._actions
                  if "--format" in a.option_strings]
    m = re.search(r"`--format ([a-z|]+)`", README)
    assert m, "the README no longer lists the --format values"
    assert m.group(1).split("|") == list(choices)


def _resolve(dotted: str):
    parts = dotted.replace("sh.", "socialhealth.", 1).split(".")
    obj = importlib.import_module(parts[0])
    for name in parts[1:]:
        obj = getattr(obj, name)
    return obj


def test_readme_module_table_names_exist():
    """Every function, method or class the README's module table names exists where it says."""
    from socialhealth.design.glm import SurveyGLMResult
    from socialhealth.design.loglin import LoglinModel

    section = README.split("## What is in the package")[1]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    assert len(rows) >= 8
    # results whose methods the table names next to the verb that returns them
    results = {"pseudo_rsquared": SurveyGLMResult, "anova": LoglinModel}
    checked = 0
    for row in rows:
        module_cell, what_cell = row.split("|")[1:3]
        owners = [_resolve(re.sub(r"\(.*", "", name))
                  for name in re.findall(r"`([^`]+)`", module_cell)]
        for token in re.findall(r"`([^`]+)`", what_cell):
            name = token.removesuffix("()")
            if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
                continue        # an option value, a path, a column pattern
            if name.startswith("sh."):
                _resolve(name)
            else:
                found = [o for o in owners + [results.get(name)] if o is not None
                         and hasattr(o, name)]
                assert found, f"README module table: {name} is not in {module_cell.strip()}"
            checked += 1
    assert checked >= 45


def _not_yet_paragraph() -> str:
    text = R_STATA.split("Not in socialhealth (yet)")[1].split("\nStata ``svy``")[0]
    return text.split("counterpart today:")[1]


def test_r_functions_listed_as_missing_are_missing():
    """A function on the "Not in socialhealth (yet)" list is not named anywhere in the package
    (a new estimator's docstring names its R equivalent: CONTRIBUTING.md)."""
    source = "\n".join(p.read_text("utf-8") for p in SRC.rglob("*.py"))
    paragraph = _not_yet_paragraph()
    assert paragraph.strip()          # the parse found the list (it shrinks as functions land;
    # what is left are parts of functions socialhealth has, named in plain words)
    names = re.findall(r"``([^`]+)``", paragraph)
    for name in names:
        # svysmooth(method="quantreg") -> quantreg; calibrate(stage=) -> stage=
        inner = re.search(r'\((?:\w+=)?"?([\w.]+=?)"?\)', name)
        key = inner.group(1) if inner else name
        if key in {"svyprcomp"}:      # "biplot of svyprcomp": svyprcomp itself exists
            continue
        assert not re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", source), (
            f"docs/r_stata.rst says {name} has no socialhealth counterpart, but the package "
            f"names {key!r}: add its row to the table and take it off the list")


def test_every_r_survey_function_the_package_names_is_on_the_r_stata_page():
    """An R ``svy*`` function named in the package (its docstrings' "In R:") has a row on
    docs/r_stata.rst, or is on its "Not in socialhealth (yet)" list."""
    source = "\n".join(p.read_text("utf-8") for p in SRC.rglob("*.py"))
    named = set(re.findall(r"(?<![\w.])(svy[a-z][A-Za-z]*)\b(?!\.)", source))
    # not R survey functions: a class name and words that start with 'svy'
    named -= {"svyrep"}
    assert {"svymean", "svyglm", "svykappa", "svyprcomp", "svyloglin"} <= named
    missing = sorted(n for n in named if not re.search(rf"\b{n}\b", R_STATA))
    assert not missing, (f"R functions named in the package but not on docs/r_stata.rst: "
                         f"{', '.join(missing)}")


def test_report_section_count():
    from socialhealth.report._build import SECTIONS

    m = re.search(r"The report has (\w+) sections", README)
    assert m, "README no longer counts the report's sections"
    # the sections of SECTIONS plus the methods note
    assert NUMBER_WORDS[m.group(1)] == len(SECTIONS) + 1


def test_from_r_counts():
    page = (REPO / "docs" / "from_r.md").read_text("utf-8")
    rows = re.findall(r"^\| (\d+) \| `", page, flags=re.M)
    assert [int(r) for r in rows] == list(range(1, len(rows) + 1))
    n = len(rows)
    assert f"the {n} most common calls" in page
    assert f"the {n} most common R calls" in README
    assert f"the {n} most common calls" in (REPO / "docs" / "index.rst").read_text("utf-8")


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_repository_paths_named_in_docs_exist(doc):
    text = doc.read_text("utf-8")
    pattern = (r"(?:src|tests|docs|notebooks|data|benchmarks|socialhealth|datasets|codebooks"
               r"|\.ci)/[\w./-]+")
    for span in re.findall(r"`{1,2}([^`\n]+?)`{1,2}", text):
        span = span.strip()
        if not re.fullmatch(pattern, span):
            continue
        candidates = [REPO / span, REPO / "src" / span, SRC / span, SRC / "datasets" / span]
        assert any(c.exists() for c in candidates), f"{doc.name} names {span}, which does not exist"
