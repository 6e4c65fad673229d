"""The report's exposure: a yes/no column, or a condition on a column ("ucla3_isolated>=3").

A condition ``<column> <op> <value>`` (``op`` one of ``>= > <= < == !=``) defines a new 0/1
column that is **missing where** ``<column>`` **is missing**, exactly as R's
``update(des, x_ge3 = as.numeric(x >= 3))``. What ``<value>`` may be depends on the column:

* **yes/no column** (True/False, or numbers that are all 0/1): ``yes``/``no``, ``true``/
  ``false``, ``1``/``0`` (any case) with ``==`` or ``!=``; ``lonely==yes`` is the same
  indicator as ``lonely``, ``lonely==no`` its complement. On a 0/1 number column the number
  comparisons (``>=`` ...) work as on any number column.
* **number column** (``ucla3_isolated``, ``age``): a finite number. A word, ``nan`` or ``inf``
  is an error that states the column's observed range.
* **category column** (``sex``, ``lonely_direct``): one of the column's labels, exactly as
  written (``sex==female``); any other value, ``sex==Female`` included, is an error that lists
  the labels (and suggests the label that differs only in case). ``==`` and ``!=`` always work;
  ``<``, ``<=``, ``>``, ``>=`` only on ordered categories (in the order of the labels).

A condition that is true for every respondent who answered, or for none, is an error: the
report would otherwise print a prevalence of 0% or 100% with no interval.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from socialhealth._text import r_quoted
from socialhealth.errors import ReportError

_OPS = {">=": "ge", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", "<": "lt"}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|==|!=|>|<)\s*([^<>=!\s].*?)\s*$")
_NAMES = {  # column: (name for titles, description for sentences)
    "lonely": ("Loneliness", "lonely (the survey's headline loneliness indicator)"),
    "lonely_ucla3": ("Loneliness (UCLA-3)", "lonely on the UCLA-3 (score 6 or more)"),
    "lonely_direct3": ("Loneliness", "lonely"),
}
_TRUE_WORDS = {"yes", "true", "y", "t", "1", "1.0"}
_FALSE_WORDS = {"no", "false", "n", "f", "0", "0.0"}
#: Scores whose numbers have documented meanings (hint in the error message).
_SCORE_HINTS = {
    "ucla3_companionship": "1 = hardly ever, 2 = some of the time, 3 = often",
    "ucla3_left_out": "1 = hardly ever, 2 = some of the time, 3 = often",
    "ucla3_isolated": "1 = hardly ever, 2 = some of the time, 3 = often",
    "ucla3_score": "the sum of the three UCLA-3 items, 3 to 9",
}


@dataclass
class Exposure:
    """A binary exposure.

    Attributes
    ----------
    spec : str
        As given (``"lonely"``, ``"ucla3_isolated>=3"``).
    column : str
        The 0/1 column analysed (derived for a condition).
    source : str
        The survey column the exposure comes from.
    name : str
        Short name for titles ("Loneliness").
    label : str
        Description for sentences ("lonely (the survey's headline loneliness indicator)").
    condition : tuple or None
        ``(op, value)`` for a condition: ``value`` as typed (str) until :func:`derive`
        resolves it against the column (a float, a bool or a label).
    r_expr : str
        The R expression of the derived indicator (set by :func:`derive`).
    note : str
        How the condition was read (e.g. a label matched case-insensitively); "" if nothing
        to say.
    n_missing : int
        Respondents in the design whose exposure is missing (set by :func:`derive` and by
        :func:`check_both_sides`).
    who : str
        The words that follow "respondents" in a sentence about the exposed: "who live alone"
        (a yes/no concept's ``who`` in ``schema.toml``), "feeling isolated from others often
        (ucla3_isolated >= 3)" or "for whom sex is female (sex == female)" (a condition).
        See :attr:`share` and :func:`who_words`.
    """

    spec: str
    column: str
    source: str
    name: str
    label: str
    condition: tuple | None = None
    r_expr: str = ""
    note: str = ""
    n_missing: int = 0
    who: str = ""

    @property
    def share(self) -> str:
        """The words after "<p>% of respondents": "live alone", "report feeling isolated from
        others often (ucla3_isolated >= 3)", or, for a condition without such words, "are in
        the exposed group: those for whom sex is female (sex == female)".

        Examples
        --------
        >>> parse("lives_alone").share
        'live alone'
        """
        who = self.who or who_words(self.column)
        if who.startswith("who "):
            return who[len("who "):]
        if _GERUND.match(who):
            return f"report {who}"
        return f"are in the exposed group: those {who}"

    @property
    def r_update(self) -> str:
        """The R line that creates the derived column ("" for a plain column)."""
        if self.condition is None:
            return ""
        expr = self.r_expr
        if not expr:  # not derived yet: the condition as typed
            op, value = self.condition
            expr = f"as.numeric({self.source} {op} {_r_value(value)})"
        return f"des <- update(des, {self.column} = {expr})"


def _r_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return r_quoted(value)


def _column_name(source: str, op: str, value) -> str:
    if isinstance(value, bool):
        suffix = "yes" if value else "no"
    elif isinstance(value, (int, float)):
        suffix = f"{value:g}"
    else:
        suffix = re.sub(r"\W+", "_", str(value)).strip("_") or "x"
    return f"{source}_{_OPS[op]}{suffix}".replace("-", "m").replace(".", "p")


_GERUND = re.compile(r"^[a-z]+ing\b")      # "feeling isolated ...", "lacking companionship"


def _lower_first(text: str) -> str:
    """``text`` with a lower-case first letter, unless it starts an acronym ("UCLA-3")."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def yes_no_words(column: str) -> tuple[str, str] | None:
    """``(who, who_not)`` of a harmonised yes/no column from ``schema.toml`` ("live alone",
    "do not live alone"): the words that complete "respondents who ..."; None for a column
    without them.

    Examples
    --------
    >>> yes_no_words("lives_alone")
    ('live alone', 'do not live alone')
    >>> yes_no_words("age") is None
    True
    """
    from socialhealth.datasets._schema import schema

    spec = schema().get(column) or {}
    if spec.get("who") and spec.get("who_not"):
        return str(spec["who"]), str(spec["who_not"])
    return None


def who_words(column: str, yes: bool = True) -> str:
    """The words after "respondents" for the respondents with ``column`` yes (or no):
    "who live alone", or "for whom <label> is yes" for a column without words in
    ``schema.toml``.

    Examples
    --------
    >>> who_words("depression"), who_words("depression", yes=False)
    ('who have depression', 'who do not have depression')
    >>> who_words("my_flag")
    'for whom my flag is yes'
    """
    words = yes_no_words(column)
    if words is not None:
        return f"who {words[0] if yes else words[1]}"
    return f"for whom {subject_words(column)} is {'yes' if yes else 'no'}"


def subject_words(column: str, label: str | None = None) -> str:
    """A column's label as the subject of "for whom ... is": lower case but for an acronym,
    with the article ``schema.toml`` gives the column (``article = "the"`` for a score, index
    or count: "the UCLA-3 loneliness score"; "sex", "age" have none). ``label`` defaults to
    :func:`column_words`; a linked-panel column ``<concept>@<year>`` takes its concept's article.

    Examples
    --------
    >>> subject_words("ucla3_score", "UCLA-3 loneliness score"), subject_words("sex")
    ('the UCLA-3 loneliness score', 'sex')
    """
    from socialhealth.datasets._schema import schema

    words = _lower_first(str(label if label is not None else column_words(column)[0]))
    concept, at, wave = str(column).rpartition("@")
    key = concept if at and concept and wave.isdigit() else str(column)
    article = (schema().get(key) or {}).get("article")
    return f"{article} {words}" if article else words


def column_words(column: str) -> tuple[str, str]:
    """A plain exposure column in words (titles, sentences): its label in ``content.toml`` or
    the tables' variable label, not the column name (``lives_alone`` -> "Lives alone")."""
    from socialhealth.plot.style import axis_label

    name = axis_label(column)      # content.toml's concept label, else the variable label
    return name, _lower_first(name)


def parse(spec: str) -> Exposure:
    """Parse an exposure spec (a column name or ``<column> <op> <value>``).

    The value is checked against the column by :func:`derive`; here only the form is checked.

    Examples
    --------
    >>> parse("ucla3_isolated>=3").column
    'ucla3_isolated_ge3'
    >>> parse("lonely").condition is None
    True
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ReportError("the exposure must be a column name such as 'lonely' or a condition "
                          "such as 'ucla3_isolated>=3'.")
    spec = spec.strip()
    m = _CONDITION.match(spec)
    if m is None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", spec):
            raise ReportError(f"cannot read the exposure {spec!r}: give a column name ('lonely') "
                              "or a condition '<column><op><value>' with op one of "
                              ">=, >, <=, <, ==, != (e.g. 'ucla3_isolated>=3').")
        name, label = _NAMES.get(spec) or column_words(spec)
        return Exposure(spec, spec, spec, name, label, who=who_words(spec))
    source, op, raw = m.groups()
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    if not raw.strip():
        raise ReportError(f"cannot read the exposure {spec!r}: the value after {op} is empty.")
    num = _number(raw)
    column = _column_name(source, op, num if num is not None else raw)
    text = f"{source} {op} {raw}"
    return Exposure(spec, column, source, text, text, (op, raw))


def _number(raw: str) -> float | None:
    """``raw`` as a float, or None if it is not a number (nan/inf count as numbers here)."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _is_yes_no(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return False
    v = pd.to_numeric(s.dropna(), errors="coerce").to_numpy(dtype=float)
    return len(v) > 0 and bool(np.isin(v, (0.0, 1.0)).all())


def _range_text(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    if not len(x):
        return "no answers"
    lo, hi = float(x.min()), float(x.max())
    return f"observed {lo:g} to {hi:g} among {len(x):,} answers"


def _labels(s: pd.Series, answered: np.ndarray) -> list[str]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [str(c) for c in s.cat.categories]
    vals = pd.unique(s[answered].astype(object))
    return sorted({str(v) for v in vals})


def _shown(labels: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(v) for v in labels[:limit])
    return shown + (f", ... ({len(labels)} labels)" if len(labels) > limit else "")


def derive(exposure: Exposure, data: pd.DataFrame, in_subset=None,
           what: str = "exposure") -> tuple[Exposure, pd.Series | None]:
    """Resolve a condition against its column and build the 0/1 indicator.

    Parameters
    ----------
    exposure : Exposure
        From :func:`parse`.
    data : pandas.DataFrame
        The design's data.
    in_subset : array of bool, optional
        Rows in the design (default: all); used for counts and observed values.
    what : str
        "exposure" or "outcome" (for messages).

    Returns
    -------
    (Exposure, pandas.Series or None)
        The exposure with the resolved value, column name, R expression, note and number
        missing; the derived column (float 0/1, NaN where the source is missing), or None for
        a plain column.

    Raises
    ------
    ReportError
        A value the column cannot hold (a word for a number column, ``nan``, a label the column
        does not have): the message lists the labels or the observed range.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": pd.Categorical(["female", "male", None])})
    >>> e, x = derive(parse("sex==female"), df)
    >>> e.column, list(x)
    ('sex_eqfemale', [1.0, 0.0, nan])
    """
    if exposure.condition is None:
        return exposure, None
    src = exposure.source
    if src not in data.columns:
        raise ReportError(f"unknown {what} column {src!r} in the condition {exposure.spec!r}.")
    op, raw = exposure.condition
    raw = str(raw)
    s = data[src]
    n = len(s)
    rows = np.ones(n, dtype=bool) if in_subset is None else np.asarray(in_subset, dtype=bool)
    missing = s.isna().to_numpy()
    answered = rows & ~missing
    spec = exposure.spec
    note = ""
    # the condition's value: a bool (yes/no columns), a number or a label
    value: bool | float | str
    chosen: list[str] | None = None
    if _is_yes_no(s):
        key = raw.strip().lower()
        num = _number(raw)
        words = _TRUE_WORDS | _FALSE_WORDS
        if pd.api.types.is_bool_dtype(s.dtype) or (num is None and key in words):
            if key not in words:
                raise ReportError(f"the {what} condition {spec!r}: {src!r} is a yes/no column; "
                                  f"compare it with yes or no (also true/false, 1/0), e.g. "
                                  f"'{src}==yes'.")
            if op not in ("==", "!="):
                raise ReportError(f"the {what} condition {spec!r}: {src!r} is a yes/no column; "
                                  f"only == and != work (e.g. '{src}==yes' or '{src}==no').")
            target = key in _TRUE_WORDS
            x = s.astype("boolean") if pd.api.types.is_bool_dtype(s.dtype) else \
                pd.to_numeric(s, errors="coerce").astype(float) == 1.0
            hit = np.asarray(x.fillna(False), dtype=bool) if hasattr(x, "fillna") else x
            res = hit == target if op == "==" else hit != target
            value = target
            expr = f"as.numeric({src} {op} {_r_value(target)})"
            word = "yes" if (target == (op == "==")) else "no"
            column = f"{src}_{'yes' if word == 'yes' else 'no'}"
            text = f"{src} = {word}"
        else:
            res, value, expr = _numeric(exposure, s, raw, num, op, answered, what)
            column, text = _column_name(src, op, value), f"{src} {op} {value:g}"
    elif pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        res, value, expr = _numeric(exposure, s, raw, _number(raw), op, answered, what)
        column, text = _column_name(src, op, value), f"{src} {op} {value:g}"
    else:
        labels = _labels(s, answered)
        if raw in labels:
            value = raw
        else:
            # labels are matched exactly: a report must say what the user typed, and a label
            # that differs only in case is a suggestion, never a silent substitution
            folded = [lab for lab in labels if lab.strip().casefold() == raw.strip().casefold()]
            hint = (f" Did you mean '{src}{op}{folded[0]}'?" if len(folded) == 1 else "")
            raise ReportError(f"the {what} condition {spec!r}: {raw!r} is not a label of "
                              f"{src!r}; its labels are {_shown(labels)} (case matters).{hint}")
        ordered = isinstance(s.dtype, pd.CategoricalDtype) and bool(s.cat.ordered)
        obj = s.astype(object)
        if op in ("==", "!="):
            hit = np.asarray(obj.map(lambda v: str(v) == value if not pd.isna(v) else False),
                             dtype=bool)
            res = hit if op == "==" else ~hit
            expr = f"as.numeric({src} {op} {_r_value(value)})"
            chosen = None
        else:
            if not ordered:
                raise ReportError(f"the {what} condition {spec!r}: {src!r} has labels in no "
                                  f"order, so only == and != work; its labels: "
                                  f"{_shown(labels)}.")
            cats = [str(c) for c in s.cat.categories]
            i = cats.index(str(value))
            chosen = {">=": cats[i:], ">": cats[i + 1:], "<=": cats[:i + 1], "<": cats[:i]}[op]
            res = np.asarray(obj.map(lambda v: (not pd.isna(v)) and str(v) in chosen), dtype=bool)
            expr = (f"ifelse(is.na({src}), NA, as.numeric({src} %in% "
                    f"c({', '.join(_r_value(c) for c in chosen)})))")
        column, text = _column_name(src, op, value), f"{src} {op} {value}"
    out = np.where(missing, np.nan, np.asarray(res, dtype=float))
    n_missing = int((rows & missing).sum())
    name, label = text, text
    in_words = condition_words(src, op, value, chosen)
    if in_words:
        name = in_words[0]
        label = f"{in_words[1]} ({text})"
    elif isinstance(value, bool):          # a yes/no column without a condition label
        name = f"{column_words(src)[0]} ({'yes' if value == (op == '==') else 'no'})"
    if isinstance(value, bool) and yes_no_words(src) is not None:
        who = f"{who_words(src, yes=(value == (op == '==')))} ({text})"
    else:
        lab, what = _condition_parts(src, op, value, chosen)
        who = (f"{lab} {what} ({text})" if _GERUND.match(lab)
               else f"for whom {subject_words(src, lab)} is {what} ({text})")
    resolved = replace(exposure, column=column, name=name, label=label, condition=(op, value),
                       r_expr=expr, note=note, n_missing=n_missing, who=who)
    return resolved, pd.Series(out, index=data.index, name=column)


_OP_WORDS = {">=": "{v} or more", ">": "more than {v}", "<=": "{v} or less", "<": "less than {v}",
             "==": "{v}", "!=": "not {v}"}


def condition_words(src: str, op: str, value, chosen=None) -> tuple[str, str] | None:
    """A condition in words, for titles and sentences; None when the column has no label.

    Returns ``(title, phrase)``: ``("Feeling isolated from others (often)", "feeling isolated
    from others often")`` for ``ucla3_isolated >= 3``. Labels and score meanings are in
    ``content.toml`` (``[concept_labels]``, ``[score_levels]``).

    Examples
    --------
    >>> condition_words("ucla3_isolated", ">=", 3.0)
    ('Feeling isolated from others (often)', 'feeling isolated from others often')
    >>> condition_words("ucla3_left_out", ">=", 2.0)[0]
    'Feeling left out (some of the time or often)'
    >>> condition_words("ucla3_score", ">=", 6.0)[0]
    'UCLA-3 loneliness score (6 or more)'
    >>> condition_words("unknown_column", ">=", 1.0) is None
    True
    """
    from socialhealth.report.content import content

    label = content().get("concept_labels", {}).get(src)
    if not label:
        return None
    what = _what(src, op, value, chosen)
    if what is None:
        return None
    return f"{label} ({what})", f"{_lower_first(label)} {what}"


def _what(src: str, op: str, value, chosen=None) -> str | None:
    """The condition's value side in words ("often", "6 or more", "yes"); None when a score
    with documented meanings has none that the condition selects."""
    from socialhealth.report.content import content

    levels = {float(k): v for k, v in content().get("score_levels", {}).get(src, {}).items()}
    if chosen is not None:                              # ordered categories picked by the op
        return " or ".join(str(x) for x in chosen) if chosen else "none"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if bool(value) == (op == "==") else "no"
    if isinstance(value, (int, float, np.number)) and levels:
        v = float(value)
        test = {">=": v.__le__, ">": v.__lt__, "<=": v.__ge__, "<": v.__gt__,
                "==": v.__eq__, "!=": v.__ne__}[op]
        hit = [w for k, w in sorted(levels.items()) if test(k)]
        return " or ".join(hit) if hit else None
    shown = f"{value:g}" if isinstance(value, (int, float, np.number)) else str(value)
    return _OP_WORDS[op].format(v=shown)


def _condition_parts(src: str, op: str, value, chosen=None) -> tuple[str, str]:
    """``(label, value words)`` of a condition for a sentence, both starting in lower case:
    ``("feeling isolated from others", "often")``; a column without a label in
    ``content.toml`` by its tables' label (``age`` -> "age"), a category label as the survey
    writes it but for its first letter ("Often/always" -> "often/always")."""
    from socialhealth.report.content import content

    label = content().get("concept_labels", {}).get(src) or column_words(src)[0]
    what = _what(src, op, value, chosen)
    if chosen:
        what = " or ".join(_lower_first(str(x)) for x in chosen)
    if what is None:
        shown = f"{value:g}" if isinstance(value, (int, float, np.number)) else str(value)
        what = _OP_WORDS[op].format(v=shown)
    return _lower_first(str(label)), _lower_first(what)


def _numeric(exposure: Exposure, s: pd.Series, raw: str, num, op: str, answered: np.ndarray,
             what: str):
    src = exposure.source
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if num is None or not math.isfinite(num):
        hint = _SCORE_HINTS.get(src)
        hint = f"{hint}; " if hint else ""
        ex = x[answered & np.isfinite(x)]
        pick = np.max if src in _SCORE_HINTS else np.median   # 'often' is the top score
        example = f"{pick(ex):g}" if len(ex) else "<number>"
        raise ReportError(f"the {what} condition {exposure.spec!r}: {src!r} is a number column "
                          f"({hint}{_range_text(x[answered])}); compare it with a finite number, "
                          f"e.g. '{src}>={example}'.")
    with np.errstate(invalid="ignore"):
        res = {">=": x >= num, "<=": x <= num, ">": x > num, "<": x < num,
               "==": x == num, "!=": x != num}[op]
    return res, num, f"as.numeric({src} {op} {_r_value(num)})"


def apply(exposure: Exposure, data: pd.DataFrame) -> pd.Series | None:
    """The derived 0/1 column (float, NaN where the source is missing); None for a plain
    column. Same as ``derive(exposure, data)[1]``."""
    return derive(exposure, data)[1]


def check_both_sides(values: pd.Series, in_subset, spec: str, what: str = "exposure") -> int:
    """The number of respondents (in the design) with ``values`` missing; ReportError when
    every respondent who answered has the same value (no one, or everyone, is exposed).

    Examples
    --------
    >>> import pandas as pd
    >>> check_both_sides(pd.Series([1.0, 0.0, None]), None, "x")
    1
    """
    n = len(values)
    rows = np.ones(n, dtype=bool) if in_subset is None else np.asarray(in_subset, dtype=bool)
    v = pd.to_numeric(values.astype("Float64") if pd.api.types.is_bool_dtype(values.dtype)
                      else values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = rows & np.isfinite(v)
    n_missing = int((rows & ~np.isfinite(v)).sum())
    n_ok = int(ok.sum())
    if n_ok == 0:
        return n_missing
    n_true = int((v[ok] != 0).sum())
    if n_true == 0 or n_true == n_ok:
        side = "none" if n_true == 0 else "all"
        raise ReportError(f"the {what} {spec!r} is true for {side} of the {n_ok:,} respondents "
                          f"who answered ({n_missing:,} missing), so there is no one to compare "
                          f"with; choose another {what} or cut-off.")
    return n_missing
