"""The report's exposure: a yes/no column, or a condition on a column ("ucla3_isolated>=3").

A condition ``<column> <op> <value>`` (``op`` one of ``>= > <= < == !=``; the value a number
or a category label) defines a new 0/1 column ``<column>_<op-name><value>`` that is missing
where ``<column>`` is missing, exactly as R's ``update(des, x_ge3 = as.numeric(x >= 3))``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth.errors import ReportError

_OPS = {">=": "ge", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", "<": "lt"}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|==|!=|>|<)\s*([^<>=!\s].*?)\s*$")
_NAMES = {  # column: (name for titles, description for sentences)
    "lonely": ("Loneliness", "lonely (the survey's headline loneliness indicator)"),
    "lonely_ucla3": ("Loneliness (UCLA-3)", "lonely on the UCLA-3 (score 6 or more)"),
    "lonely_direct3": ("Loneliness", "lonely"),
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
        ``(op, value)`` for a condition.
    """

    spec: str
    column: str
    source: str
    name: str
    label: str
    condition: tuple | None = None

    @property
    def r_update(self) -> str:
        """The R line that creates the derived column ("" for a plain column)."""
        if self.condition is None:
            return ""
        op, value = self.condition
        v = repr(value) if isinstance(value, str) else f"{value:g}"
        v = v.replace("'", '"')
        return f"des <- update(des, {self.column} = as.numeric({self.source} {op} {v}))"


def parse(spec: str) -> Exposure:
    """Parse an exposure spec (a column name or ``<column> <op> <value>``).

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
        name, label = _NAMES.get(spec, (spec, spec))
        return Exposure(spec, spec, spec, name, label)
    source, op, raw = m.groups()
    raw = raw.strip().strip("'\"")
    try:
        value: float | str = float(raw)
    except ValueError:
        value = raw
    suffix = f"{value:g}" if isinstance(value, float) else re.sub(r"\W+", "_", raw).strip("_")
    column = f"{source}_{_OPS[op]}{suffix}".replace("-", "m").replace(".", "p")
    text = f"{source} {op} {raw}"
    return Exposure(spec, column, source, text, text, (op, value))


def apply(exposure: Exposure, data: pd.DataFrame) -> pd.Series | None:
    """The derived 0/1 column (float, NaN where the source is missing); None for a plain
    column."""
    if exposure.condition is None:
        return None
    op, value = exposure.condition
    s = data[exposure.source]
    missing = s.isna().to_numpy()
    if isinstance(value, float):
        x = pd.to_numeric(s, errors="coerce")
        if x[~missing].isna().any():
            raise ReportError(f"the exposure condition {exposure.spec!r} compares {exposure.source!r} "
                              "with a number, but the column is not numeric; compare with one of "
                              f"its labels instead, e.g. {exposure.source}=='{s.dropna().iloc[0]}'.")
        x = x.to_numpy(dtype=float)
    else:
        if op not in ("==", "!="):
            raise ReportError(f"the exposure condition {exposure.spec!r} compares with a label; "
                              "only == and != work with labels.")
        x = s.astype(object).to_numpy()
    with np.errstate(invalid="ignore"):
        res = {">=": lambda: x >= value, "<=": lambda: x <= value, ">": lambda: x > value,
               "<": lambda: x < value, "==": lambda: x == value, "!=": lambda: x != value}[op]()
    out = np.where(missing, np.nan, np.asarray(res, dtype=float))
    return pd.Series(out, index=data.index, name=exposure.column)
