"""What a survey supports: which concepts it measures, and why the others are missing.

The report never guesses: a concept is usable when its column is in the data with at least
one non-missing value inside the design, and the codebook (when it has a row for it) does not
say "not measured". Otherwise the reason comes from the codebook note, so that a skipped
section says *why* (e.g. "asked in the 2018 interview only").
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd

from socialhealth.errors import EstimationError, ReportError
from socialhealth.report.exposure import column_words
from socialhealth.report.rcode import with_des

#: Harmonised loneliness columns, suggested when the requested exposure is not measured.
LONELINESS_ITEMS = ("lonely", "lonely_direct", "lonely_direct3", "lonely_ucla3", "ucla3_score",
                    "ucla3_companionship", "ucla3_left_out", "ucla3_isolated")


#: The codebook note of a derived concept whose inputs the file lacks (datasets._codebook).
_NOT_DERIVED = re.compile(r"^derived from (?P<inputs>[^;]+); not computed because "
                          r"(?P<lacking>.+?) (?:is|are) not measured in this file")


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass
class Context:
    """Everything the sections share while a report is built."""

    sd: Any
    design: Any
    exposure: Any                      # socialhealth.report.exposure.Exposure
    outcomes: list
    ci_method: Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit"] = "logit"
    progress: Callable[[str], None] | None = None
    r_data: str = "df"
    shared: dict = field(default_factory=dict)
    #: Outcomes given as conditions (their derived columns are in the design).
    derived: list = field(default_factory=list)

    # ------------------------------------------------------------------ concepts
    @property
    def data(self) -> pd.DataFrame:
        """The design's data frame (all rows; subsets keep rows with zero weight)."""
        return self.design.data

    def _codebook_row(self, concept: str):
        cb = getattr(self.sd, "codebook", None)
        if cb is None or not len(cb) or "concept" not in cb.columns:
            return None
        rows = cb[cb["concept"].astype(str) == concept]
        return None if rows.empty else rows.iloc[0]

    def measured(self, column: str) -> bool:
        """True when ``column`` has at least one non-missing value among the design's rows."""
        return not self.why_not(column)

    def words(self, column: str) -> str:
        """``column`` in words for a sentence: a derived condition by its name, a concept by
        its label in ``content.toml`` or the tables' variable label (``heart_disease`` ->
        "Heart disease (ever diagnosed)"), never the column name."""
        for e in (self.exposure, *self.derived):
            if e is not None and e.condition is not None and column == e.column:
                return str(e.name)
        return column_words(column)[0]

    def why_not(self, column: str, depth: int = 0) -> str:
        """"" when ``column`` is usable, else one sentence (in words, not column names) saying
        why it is not; a derived concept whose inputs the file lacks gives their reasons
        (``depth`` counts that recursion)."""
        row = self._codebook_row(column)
        said = self.words(column)
        if row is not None and "measured" in row.index and not bool(row["measured"]):
            note = str(row.get("notes", "") or "").strip()
            derived = _NOT_DERIVED.match(note)
            if derived and depth < 3:
                # a derived concept whose inputs the file lacks: their own reasons, in words
                lacking = [c.strip() for c in derived["lacking"].split(",")]
                inputs = [c.strip() for c in derived["inputs"].split(",")]
                reasons = "; ".join(
                    f"{self.words(c)} is not measured either"
                    + (f": {r}" if (r := self._reason(c, depth + 1)) else "")
                    for c in lacking)
                return (f"{said} is not measured in this survey — it is derived from "
                        f"{_and([self.words(c) for c in inputs])}; {reasons}")
            # a dash, not brackets: the codebook's reason often has brackets of its own
            return f"{said} is not measured in this survey — {self._reason(column, depth)}"
        if column not in self.data.columns:
            return f"{said} is not in the data of this survey"
        values = self.data[column][self.design.in_subset]
        if not values.notna().any():
            return f"{said} is missing for every respondent in this survey"
        return ""

    def _reason(self, column: str, depth: int = 0) -> str:
        """The codebook's reason why ``column`` is not measured, as a sentence fragment (the
        derived-concept form of :meth:`why_not` without its subject); "" when it is measured."""
        row = self._codebook_row(column)
        if row is None or "measured" not in row.index or bool(row["measured"]):
            return ""
        note = str(row.get("notes", "") or "").strip()
        if _NOT_DERIVED.match(note) and depth < 3:
            said = self.why_not(column, depth)
            return said.split(" is not measured in this survey — ", 1)[-1]
        why = (note or str(row.get("rule", "") or "").strip()
               or "the survey has no item for this concept").rstrip(".")
        if len(why) > 1 and why[0].isupper() and why[1].islower():
            why = why[0].lower() + why[1:]    # "Cross-sectional survey" -> "cross-..."
        return why

    def exposure_reason(self) -> str:
        """Why the exposure cannot be used, with a hint at loneliness items the survey does
        measure ("" when it can be used)."""
        why = self.why_not(self.exposure.column if self.exposure.condition is None
                           else self.exposure.source)
        if not why:
            return ""
        alternatives = [c for c in LONELINESS_ITEMS if c != self.exposure.source
                        and not self.why_not(c)]
        if alternatives:
            example = next((c for c in alternatives if c.startswith("ucla3_") and
                            c != "ucla3_score"), None)
            hint = (f" The survey does measure {', '.join(alternatives)}"
                    + (f": try exposure '{example}>=3' (often)" if example else "")
                    + ".")
        else:
            hint = ""
        return f"{why}.{hint}"

    def known(self) -> list[str]:
        """Column and concept names the survey knows (measured or not)."""
        names = [str(c) for c in self.data.columns]
        cb = getattr(self.sd, "codebook", None)
        if cb is not None and len(cb) and "concept" in cb.columns:
            names += [str(c) for c in cb["concept"]]
        return list(dict.fromkeys(names))

    def require_known(self, name: str, what: str) -> None:
        """ReportError (one line, with a suggestion) when ``name`` is neither a column nor a
        concept of the survey's codebook."""
        known = self.known()
        if name in known:
            return
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ReportError(f"unknown {what} {name!r}: it is neither a column nor a codebook "
                          f"concept of the {self.name} data.{hint}")

    @property
    def name(self) -> str:
        """Registry name of the survey (``"demo"``, ``"gss_panel20"``, ...)."""
        return str(getattr(self.sd, "name", "survey"))

    def levels(self, column: str, among: str | None = None) -> list:
        """Distinct non-missing values of ``column`` (rows in the design, optionally only rows
        where ``among`` is non-missing), in category order."""
        d = self.data
        mask = self.design.in_subset & d[column].notna().to_numpy()
        if among is not None:
            mask &= d[among].notna().to_numpy()
        s = d[column][mask]
        if isinstance(s.dtype, pd.CategoricalDtype):
            present = set(s)
            return [c for c in s.cat.categories if c in present]
        return sorted(pd.unique(s), key=lambda v: (str(type(v)), v))

    def domain_proportion(self, column: str, by):
        """``(estimate, R call)`` of the proportion of ``column`` by ``by`` (svyby + svyciprop).

        A group whose respondents all lack ``column`` has no estimate; the engine refuses such
        a group, so the estimate is then made on the domain of respondents who answered
        (``subset(des, !is.na(column))``), which leaves every other group's estimate and
        standard error unchanged (domain estimation keeps the full design).
        """
        d = self.design
        try:
            est = d.proportion(column, method=self.ci_method, by=by)
            return est, with_des(est.r_call)
        except EstimationError:
            answered = self.data[column].notna().to_numpy()
            est = d.subset(answered).proportion(column, method=self.ci_method, by=by)
            return est, with_des(est.r_call).replace(", des,", f", subset(des, !is.na({column})),")

    def step(self, message: str) -> None:
        """Report the start of a main step to the progress callback."""
        if self.progress is not None:
            self.progress(message)

    def substep(self, message: str) -> None:
        """Report progress inside a step (only to callbacks with a ``substep`` method)."""
        fn = getattr(self.progress, "substep", None)
        if fn is not None:
            fn(message)


def is_binary(values: pd.Series) -> bool:
    """True when every non-missing value is 0/1 or True/False."""
    s = values.dropna()
    if s.empty:
        return True
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    try:
        v = pd.to_numeric(s, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.isin(v, (0.0, 1.0)).all())


def ensure_binary(ctx: Context, column: str, what: str) -> None:
    """ReportError unless ``column`` is a 0/1 (True/False) variable; the message suggests a
    condition that fits the column (a label for categories, the observed range for numbers)."""
    if column in ctx.data.columns and not is_binary(ctx.data[column]):
        s = ctx.data[column]
        vals = s.dropna()
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            labels = ([str(c) for c in s.cat.categories] if isinstance(s.dtype, pd.CategoricalDtype)
                      else sorted({str(v) for v in pd.unique(vals)}))
            shown = ", ".join(repr(v) for v in labels[:12]) + (", ..." if len(labels) > 12 else "")
            example = (f"'{column}=={labels[-1]}'" if labels else f"'{column}==<label>'")
            raise ReportError(f"the {what} {column!r} is not binary (labels: {shown}); odds "
                              f"ratios need a yes/no variable. Give a condition instead, e.g. "
                              f"{example}.")
        x = pd.to_numeric(vals, errors="coerce").to_numpy(dtype=float)
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        cut = hi if column.startswith("ucla3_") and column != "ucla3_score" else \
            float(np.nanmedian(x))        # UCLA-3 items: the top score is "often"
        raise ReportError(f"the {what} {column!r} is not binary (numbers from {lo:g} to {hi:g}); "
                          f"odds ratios need a yes/no variable. Give a condition instead, e.g. "
                          f"'{column}>={cut:g}'.")
