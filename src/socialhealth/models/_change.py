r"""Change with change: within-person first differences between two waves of a linked panel.

For each person followed, ``dy = y@w2 - y@w1`` and ``dx = x@w2 - x@w1``; :func:`change` fits the
linear model ``dy = a + b dx (+ adjustments)`` by survey-weighted least squares on the panel
design (baseline strata and PSUs, panel weight; persons nested in PSUs), R ``svyglm(dy ~ dx,
design)``. Differencing removes every characteristic of a person that does not change between the
waves (the first-difference estimator of a fixed-effects model with two waves; Allison 2009,
ch. 2; Wooldridge 2010, §10.6), so ``b`` is the change in health that goes with a one-unit
change in connection *within* persons. ``a`` is the mean change when connection does not change
(a period effect). Time-varying confounders are not removed; adjustments (baseline values, e.g.
age at baseline, or other changes) can be added.

Ordinal answers (self-rated health, frequency of social evenings) become numbers only through
an explicit ``scores=`` mapping, which the result records: the differences are differences in
those scores.

References
----------
Allison PD (2009) *Fixed Effects Regression Models*, Sage.
Wooldridge JM (2010) *Econometric Analysis of Cross Section and Panel Data*, 2nd ed., MIT Press.
Lumley T (2010) *Complex Surveys*, Wiley, ch. 5.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socialhealth._text import show_list
from socialhealth.design.result_protocol import Result
from socialhealth.errors import MissingColumnError, ModelError

if TYPE_CHECKING:   # glm_result loads scipy.stats: only for the annotation
    from socialhealth.design.glm_result import SurveyGLMResult

__all__ = ["ChangeResult", "change"]


@dataclass(repr=False)
class ChangeResult(Result):
    """Result of :func:`change`.

    Result protocol: ``coef()``, ``se()``, ``confint(level=)`` and ``vcov`` are the model's.

    Attributes
    ----------
    model : SurveyGLMResult
        The fitted survey-weighted linear model of ``d_outcome`` on ``d_exposure``.
    table : pandas.DataFrame
        ``term, estimate, se, ci_low, ci_high, df, statistic, p`` (``model.to_frame()``).
    exposure_columns, outcome_columns : tuple of str
        The ``<concept>@<year>`` columns differenced (first wave, second wave).
    scores : dict
        The score mappings used for categorical columns.
    n : int
        Persons with both differences.
    data : pandas.DataFrame
        ``respondent_id, d_exposure, d_outcome`` (NaN where a wave is missing).

    Examples
    --------
    See :func:`change`.
    """

    model: SurveyGLMResult
    table: pd.DataFrame
    exposure_columns: tuple
    outcome_columns: tuple
    scores: dict = field(default_factory=dict)
    n: int = 0
    data: pd.DataFrame | None = None
    formula: str = ""
    notes: list = field(default_factory=list)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the coefficients (the model's ``vcov``)."""
        return self.model.vcov

    @property
    def r_call(self) -> str:
        """The matching R call."""
        return f"svyglm({self.formula}, design)"

    def _estimates(self, level: float) -> pd.DataFrame:
        return self.model._estimates(level)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (a copy)."""
        return self.table.copy()

    def __repr__(self) -> str:
        r = self.table[self.table["term"] == "d_exposure"].iloc[0]
        return (f"Change in {_pair(self.outcome_columns)} on change in "
                f"{_pair(self.exposure_columns)} (first differences, "
                f"n = {self.n})\n  b = {r.estimate:.4g} ({r.ci_low:.4g}, {r.ci_high:.4g}), "
                f"se = {r.se:.4g}, p = {r.p:.3g}, df = {r.df:g}\n  In R: svyglm({self.formula}, "
                "design)")


def _pair(columns) -> str:
    """Two panel columns in words: ``("x@2006", "x@2010")`` -> ``"X, 2006 -> 2010"``."""
    from socialhealth.tables.labels import variable_label

    (c0, _, y0), (c1, _, y1) = (str(c).rpartition("@") for c in columns)
    if c0 and c0 == c1:
        return f"{variable_label(c0)}, {y0} -> {y1}"
    return f"{variable_label(columns[0])} -> {variable_label(columns[1])}"


def _numeric(s: pd.Series, name: str, scores: dict | None) -> pd.Series:
    if scores is not None:
        bad = sorted({str(v) for v in s.dropna().unique()} - {str(k) for k in scores})
        if bad:
            raise ModelError(f"{name}: values {show_list(bad)} have no score in scores= "
                             f"{dict(scores)}; give a number for each.")
        m = {str(k): float(v) for k, v in scores.items()}
        return s.astype(object).map(lambda v: np.nan if pd.isna(v) else m[str(v)]).astype(float)
    if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
        return s.astype("Float64").astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    levels = list(s.cat.categories) if hasattr(s, "cat") else sorted(s.dropna().unique())
    raise ModelError(f"{name} is categorical ({show_list(levels)}); a change needs numbers: give "
                     "scores=, e.g. {level: score, ...}.")


def change(panel, exposure: str, outcome: str, waves, adjust=None,
           exposure_scores: dict | None = None, outcome_scores: dict | None = None,
           level: float = 0.95):
    r"""Within-person change in an outcome on change in an exposure between two waves.

    Fits ``(y@w2 - y@w1) ~ (x@w2 - x@w1) [+ adjust]`` by survey-weighted least squares on the
    panel's design (``design.glm``, gaussian family; R ``svyglm`` on the differenced rows; see
    :mod:`socialhealth.models._change`). Persons missing either wave of either variable (or an
    adjustment) are left out of the model but keep their place in the design (R's ``svyglm``
    ``na.omit``: degrees of freedom from the PSUs and strata of the rows used).

    Parameters
    ----------
    panel : PanelData
        A linked panel (:func:`socialhealth.datasets.load_panel`) holding both waves.
    exposure, outcome : str
        Concepts (``"contact_in_person"``, ``"self_rated_health"``): the columns
        ``<concept>@<w1>`` and ``<concept>@<w2>``. Booleans count as 0/1, numbers as they are,
        categories through ``exposure_scores`` / ``outcome_scores``.
    waves : tuple of two int
        ``(w1, w2)``: interview years, earlier first.
    adjust : list of str, optional
        Further terms: column names of the panel (``"age@2006"``), or a concept taken at ``w1``.
    exposure_scores, outcome_scores : dict, optional
        ``{level: number}`` for categorical columns (every observed level needs one).
    level : float
        Confidence level.

    Returns
    -------
    ChangeResult

    Raises
    ------
    ModelError
        Waves not two increasing years, a categorical column without scores, too few persons.
    MissingColumnError
        A concept not in the panel at one of the waves.

    Examples
    --------
    A generated two-wave panel of 300 persons whose health score changes by -0.5 per unit
    gain in contact, with a person effect that differencing removes:

    >>> import numpy as np, pandas as pd
    >>> from socialhealth import models
    >>> from socialhealth.datasets import PanelData
    >>> rng = np.random.default_rng(2)
    >>> n = 300
    >>> person = rng.normal(size=n)
    >>> c1, c2 = rng.integers(0, 5, n), rng.integers(0, 5, n)
    >>> h1 = 2 + person - 0.5 * c1 + rng.normal(0, 0.3, n)
    >>> h2 = 2.2 + person - 0.5 * c2 + rng.normal(0, 0.3, n)
    >>> data = pd.DataFrame({"weight": rng.uniform(0.5, 2, n),
    ...     "strata": np.repeat(["a", "b"], n // 2), "psu": np.tile(["1", "2", "3"], n // 3),
    ...     "contact@2006": c1, "contact@2010": c2, "health@2006": h1, "health@2010": h2})
    >>> panel = PanelData("demo", data, pd.DataFrame(), {}, {"weights": "weight",
    ...     "strata": "strata", "psu": "psu", "nest": True}, waves=[2006, 2010])
    >>> r = models.change(panel, exposure="contact", outcome="health", waves=(2006, 2010))
    >>> print(r.to_frame()[["term", "estimate", "se", "df"]].round(3).to_string())
             term  estimate     se   df
    0   Intercept     0.168  0.024  3.0
    1  d_exposure    -0.485  0.011  3.0

    In R: ``linked$d_outcome <- linked$`health@2010` - linked$`health@2006```, the same for the
    exposure; ``svyglm(d_outcome ~ d_exposure, svydesign(ids = ~psu, strata = ~strata, weights
    = ~weight, nest = TRUE, data = linked))``.
    """
    from socialhealth.models._prospective import _q

    try:
        w1, w2 = (int(w) for w in waves)
    except (TypeError, ValueError):
        raise ModelError(f"waves={waves!r}: give two interview years, e.g. (2006, 2010).") from None
    if w1 >= w2:
        raise ModelError(f"waves=({w1}, {w2}): the first wave must be the earlier one.")
    from socialhealth.models._prospective import require_panel

    require_panel(panel, "change")
    data = panel.data

    def col(concept, y, what):
        name = f"{concept}@{y}"
        if name not in data.columns:
            raise MissingColumnError([name], data.columns, f"the linked panel ({what} at {y})")
        return name

    xc = (col(exposure, w1, "exposure"), col(exposure, w2, "exposure"))
    yc = (col(outcome, w1, "outcome"), col(outcome, w2, "outcome"))
    dx = (_numeric(data[xc[1]], xc[1], exposure_scores)
          - _numeric(data[xc[0]], xc[0], exposure_scores))
    dy = (_numeric(data[yc[1]], yc[1], outcome_scores)
          - _numeric(data[yc[0]], yc[0], outcome_scores))
    terms = ["d_exposure"]
    for a in ([] if adjust is None else ([adjust] if isinstance(adjust, str) else list(adjust))):
        name = a if a in data.columns else col(a, w1, "adjustment")
        terms.append(_q(name))
    formula = "d_outcome ~ " + " + ".join(terms)
    ok = np.isfinite(dx.to_numpy()) & np.isfinite(dy.to_numpy())
    n_ok = int((ok & panel.design.in_subset).sum())
    if n_ok < 3:
        raise ModelError(f"only {n_ok} persons have {xc} and {yc} at both waves.")
    des = panel.design.assign(d_exposure=dx.to_numpy(), d_outcome=dy.to_numpy())
    m = des.glm(formula, family="gaussian")
    table = m.to_frame(level=level)
    notes = []
    if exposure_scores is not None:
        notes.append(f"exposure scores: {exposure_scores}")
    if outcome_scores is not None:
        notes.append(f"outcome scores: {outcome_scores}")
    frame = pd.DataFrame({"respondent_id": data["respondent_id"].to_numpy()
                          if "respondent_id" in data.columns else np.arange(len(data)),
                          "d_exposure": dx.to_numpy(), "d_outcome": dy.to_numpy()})
    return ChangeResult(model=m, table=table, exposure_columns=xc, outcome_columns=yc,
                        scores={"exposure": exposure_scores, "outcome": outcome_scores},
                        n=int(m.nobs), data=frame, formula=formula, notes=notes)
