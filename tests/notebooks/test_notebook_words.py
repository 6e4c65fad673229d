"""What the executed notebooks show reads as words: no Python/pandas internals, no None/NaN/
True/False, no linked-panel column names (``poor_health@2010``) in what the library writes,
nothing on stderr (warnings), no truncated text ("...") in the tables that carry reasons.

No exceptions.
"""
from __future__ import annotations

import re

import pytest
from message_watch import NUMPY_REPR

FORBIDDEN = [
    (re.compile(r"\bNone\b"), "None"), (re.compile(r"\bNaN\b|\bnan\b"), "NaN"),
    (re.compile(r"\bTrue\b|\bFalse\b"), "True/False"), (re.compile(r"<[a-z_.]+ at 0x"), "object repr"),
    (re.compile(r"\w@(19|20)\d\d"), "panel column name"), (re.compile(r"\[T\."), "formula term"),
    (re.compile(r"dtype:"), "pandas Series"), (re.compile(r"\.\.\.\s*$", re.M), "truncated"),
    (re.compile(r"\b0\.0%"), "0.0% of an empty group"), (NUMPY_REPR, "numpy scalar repr"),
]
# text allowed for the reasons in the module docstring (removed from a line before the check)
KNOWN: list = []


def _texts(nb):
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                yield i, o["name"], o["text"]
            elif kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                if "text/plain" in data and "image/png" not in data:
                    yield i, kind, data["text/plain"]
                if "text/html" in data and "<table" in data["text/html"]:
                    yield i, "html", re.sub(r"<[^>]+>", " ", data["text/html"])


@pytest.mark.slow
def test_outputs_are_words(notebook_name, executed):
    nb = executed(notebook_name).nb
    problems = []
    for i, kind, text in _texts(nb):
        if kind == "stderr":
            problems.append(f"cell {i} writes to stderr: {text[:300]}")
            continue
        for line in text.splitlines():
            for k in KNOWN:
                line = k.sub("", line)
            for pattern, what in FORBIDDEN:
                if pattern.search(line):
                    problems.append(f"cell {i} ({kind}) shows {what}: {line.strip()[:200]}")
    assert not problems, "\n".join(problems)
