"""Row and column labels of tables: words, not column names.

The label of a column comes, in order, from the labels the caller passes, the display names of
the report's outcomes and comparator risk factors (``socialhealth/report/content.toml``), and
otherwise :func:`socialhealth.plot.style.pretty` (``age_group`` -> ``Age group``), the function
the plots use, so tables and figures say the same thing. Levels are the survey's own labels
with a capital first letter (``female`` -> ``Female``); ``True``/``False`` are ``Yes``/``No``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from socialhealth._text import show

__all__ = ["variable_label", "level_label", "group_label"]


def _content_names() -> dict:
    """Display names from the report's content.toml (outcomes, comparators)."""
    try:
        from socialhealth.report.content import content
    except Exception:  # the report package is optional for tables
        return {}
    c = content()
    return {**c.get("comparators", {}), **c.get("outcomes", {})}


def variable_label(name, labels: Mapping | None = None) -> str:
    """Human label of a column: ``labels`` > report display names > ``pretty(name)``; a panel
    column ``<concept>@<year>`` is the concept's label with the year in brackets.

    Examples
    --------
    >>> variable_label("age_group"), variable_label("smoker"), variable_label("x", {"x": "X!"})
    ('Age group', 'Smoking', 'X!')
    >>> variable_label("age_group@2006")
    'Age group (2006)'
    """
    if labels and name in labels:
        return str(labels[name])
    concept, at, wave = str(name).rpartition("@")
    if at and concept and wave.isdigit():
        # a linked-panel column ``<concept>@<year>``: the concept's label and the year in words
        return f"{variable_label(concept, labels)} ({wave})"
    known = _content_names()
    if name in known:
        return str(known[name])
    from socialhealth.plot.style import pretty

    return pretty(name)


def term_words(name) -> str:
    """A model's covariate as said in a sentence (model labels such as "+ age group, sex"):
    a display name in lower case (``obese`` -> "obesity"), other names with spaces for
    underscores (case kept: ``C(RIAGENDR)``), a linked-panel column ``<concept>@<year>`` with
    the year in brackets; backticks (formula quoting) removed.

    Examples
    --------
    >>> [term_words(c) for c in ("age_group", "obese", "`sex@2006`", "C(RIAGENDR)")]
    ['age group', 'obesity', 'sex (2006)', 'C(RIAGENDR)']
    """
    name = str(name).replace("`", "")
    concept, at, wave = name.rpartition("@")
    if at and concept and wave.isdigit():
        return f"{term_words(concept)} ({wave})"
    shown = _content_names().get(name)
    return str(shown).lower() if shown else name.replace("_", " ")


def level_label(value) -> str:
    """Display label of a level: ``True``/``False`` -> ``Yes``/``No``, else capitalised.

    Examples
    --------
    >>> level_label(True), level_label("hardly ever or never"), level_label("75+")
    ('Yes', 'Hardly ever or never', '75+')
    """
    if isinstance(value, (bool, np.bool_)):
        return "Yes" if value else "No"
    text = show(value, quote=False).strip()   # 62 for 62.0, 2021-03-01 for a date
    return text[:1].upper() + text[1:]


def group_label(by: str, value, labels: Mapping | None = None) -> str:
    """Label of one group of ``by``: ``Lonely: Yes``, ``Sex: Female``.

    Examples
    --------
    >>> group_label("lonely", True)
    'Lonely: Yes'
    """
    return f"{variable_label(by, labels)}: {level_label(value)}"
