"""The categorical response of a survey model fitted here (ordinal, multinomial).

The response column is taken as it is (it may be a pandas Categorical or strings, which the
formula engine would expand into indicators); the right-hand side goes through the formula
engine with a numeric placeholder on the left, so that the covariates' missing values, factor
coding and row selection are those of every other model in the package.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.design.formula import ModelFrame, formula_variables, model_frame
from socialhealth.errors import FormulaError, MissingColumnError

#: wrappers accepted around the response, as in R (``factor(y) ~ x``)
RESPONSE_WRAPPERS = ("factor(", "C(", "ordered(")


@dataclass
class Response:
    """The response and the model frame of a formula on a design's data.

    Attributes
    ----------
    name : the response column (wrappers and backticks removed).
    rhs : the right-hand side of the formula, as written.
    column : the response column of the design data (every row).
    frame : the formula engine's model frame of the right-hand side (its ``rows``, ``X``,
        ``columns``, ``n_missing``) over the rows in the subset with a response.
    n_response_missing : rows in the subset whose response is missing.
    """

    name: str
    rhs: str
    column: pd.Series
    frame: ModelFrame
    n_response_missing: int


def response_frame(design, formula, placeholder: str) -> Response:
    """Split ``formula`` (``"y ~ x + C(g)"``) into the response column and the model frame of
    its right-hand side on ``design`` (rows of the subset with a response)."""
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError("the formula must look like 'y ~ x1 + C(g)', not "
                           f"{show_given(formula)}.")
    lhs, rhs = (part.strip() for part in formula.split("~", 1))
    for wrap in RESPONSE_WRAPPERS:
        if lhs.startswith(wrap) and lhs.endswith(")"):
            lhs = lhs[len(wrap):-1].strip()
    lhs = lhs.strip("`")
    data = design.data
    if lhs not in data.columns:
        raise MissingColumnError([lhs], data.columns, "the design data")
    in_subset = design.in_subset
    ycol = data[lhs]
    mask = in_subset & ycol.notna().to_numpy()
    cols = [c for c in formula_variables(f"`{lhs}` ~ {rhs}", data) if c != lhs]
    frame = model_frame(data[cols].assign(**{placeholder: 0.0}), f"{placeholder} ~ {rhs}", mask)
    return Response(name=lhs, rhs=rhs, column=ycol, frame=frame,
                    n_response_missing=int(np.sum(in_subset & ~mask)))


def event_values(data: pd.DataFrame, event: str, in_subset: np.ndarray) -> np.ndarray:
    """The event column of a survival model as floats (1 = event, 0 = censored; NaN where
    missing): booleans as 0/1, numbers as they are. Raises ModelError when a row of the subset
    has a value that is not a number (a label such as "dead")."""
    from socialhealth.errors import ModelError

    raw = data[event]
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float).to_numpy()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    not_numbers = raw.notna().to_numpy() & np.isnan(values)
    if (not_numbers & in_subset).any():
        raise ModelError(f"event column {event!r} must be 0/1 or boolean (1 = event, 0 = "
                         "censored); it has values that are not numbers. Recode it, e.g. "
                         "(status == 'dead').")
    return values
