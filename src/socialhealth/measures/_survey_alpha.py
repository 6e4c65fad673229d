"""Cronbach's alpha of an item set estimated from survey data, with its design-based standard
error (R ``svycralpha``, plus a delta-method SE that R does not report)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from socialhealth._text import show_given
from socialhealth.design.result_protocol import Result
from socialhealth.design.results import t_quantile
from socialhealth.errors import MeasureError

__all__ = ["SurveyAlphaResult", "survey_alpha"]


@dataclass(frozen=True, kw_only=True)
class SurveyAlphaResult(Result):
    """What :func:`survey_alpha` returns.

    Result protocol: ``coef()`` (alpha), ``se()``, ``confint(level=)`` (t with the design's
    degrees of freedom), ``vcov`` (1 x 1), ``to_frame()``.

    Attributes
    ----------
    alpha, alpha_se : float
        Design-based Cronbach's alpha and its delta-method standard error.
    ci : tuple of float
        ``(lower, upper)`` interval at ``level``: ``alpha -+ t_{df} se``.
    level, df : float
        Confidence level; the design's degrees of freedom.
    items : tuple of str
    n, n_dropped : int
        Rows used (every item answered, in the design's subset) and rows of the subset left
        out because an item was missing.
    r_call : str
        The R call that gives ``alpha``.
    """

    alpha: float
    alpha_se: float
    ci: tuple
    level: float
    df: float
    items: tuple
    n: int
    n_dropped: int
    r_call: str = ""
    notes: tuple = field(default=())

    @property
    def vcov(self) -> np.ndarray:
        """The 1 x 1 covariance of alpha (its squared standard error)."""
        return np.array([[self.alpha_se ** 2]])

    def to_frame(self) -> pd.DataFrame:
        """One row: ``term, estimate, se, ci_low, ci_high, df, n``."""
        return pd.DataFrame({"term": ["alpha"], "estimate": [self.alpha], "se": [self.alpha_se],
                             "ci_low": [self.ci[0]], "ci_high": [self.ci[1]], "df": [self.df],
                             "n": [self.n]})

    def __repr__(self) -> str:
        lo, hi = self.ci
        return (f"Design-based Cronbach's alpha of {len(self.items)} items: "
                f"{self.alpha:.4f} (SE {self.alpha_se:.4f}; {self.level:.0%} CI {lo:.4f} to "
                f"{hi:.4f}, t with {self.df:g} df)\n{self.n} rows used"
                + (f", {self.n_dropped} left out with a missing item" if self.n_dropped else "")
                + f"\nIn R: {self.r_call}")



def numeric_items(data: pd.DataFrame, items: list[str]) -> np.ndarray:
    """The item columns as a float matrix (rows of ``data`` x items; missing as NaN), or a
    :class:`MeasureError` naming a column that is not numeric (shared by the design-based
    scale functions: alpha, factor analysis, principal components)."""
    X = np.empty((len(data), len(items)))
    for j, c in enumerate(items):
        col = data[c]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise MeasureError(f"item {c!r} is not numeric ({col.dtype}); score the items "
                               "first (measures.score) or convert them to numbers.")
        X[:, j] = pd.to_numeric(col).to_numpy(dtype=float, na_value=np.nan)
    return X

def survey_alpha(design, items, level: float = 0.95) -> SurveyAlphaResult:
    """Cronbach's alpha with design-based variances, and its standard error.

    ``alpha = k / (k - 1) * (1 - sum_j s_j^2 / s_X^2)`` (Cronbach 1951, equation 2) with
    ``s_j^2`` the design-based variance of item ``j`` and ``s_X^2`` that of the total score
    ``X = sum_j x_j``, both estimated with the survey weights over the rows that answered every
    item (R ``svycralpha(..., na.rm = TRUE)``; the factor ``n / (n - 1)`` of ``svyvar`` is the
    same for every variance and cancels). Items must already point the same way (reverse
    negatively worded ones first).

    Standard error (not in R): alpha is a smooth function of the weighted means of ``x_j``,
    ``x_j^2`` and ``X^2``, ``alpha = c (1 - S / V)`` with ``S = sum_j (q_j - m_j^2)`` and
    ``V = T - M^2`` (``m_j``, ``q_j``: means of ``x_j`` and ``x_j^2``; ``T``: mean of ``X^2``;
    ``M = sum_j m_j``; ``c = k / (k - 1)``). Its delta-method variance is ``g' Sigma g`` with
    ``Sigma`` the design-based covariance of those ``2k + 1`` means (Taylor linearisation or
    replicates, as the design) and gradient ``dalpha/dq_j = -c / V``,
    ``dalpha/dm_j = 2c (m_j V - M S) / V^2``, ``dalpha/dT = c S / V^2``. The interval is
    ``alpha -+ t_{df} SE`` with the design's degrees of freedom.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        Its data hold the items; a subset (domain) design gives alpha in the domain.
    items : list of str
        Two or more numeric item columns.
    level : float, default 0.95

    Returns
    -------
    SurveyAlphaResult

    References
    ----------
    Cronbach LJ (1951) Coefficient alpha and the internal structure of tests. Psychometrika
    16:297-334. Lumley T (2010) *Complex Surveys*, Wiley (R ``svycralpha``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, strata="stype", weights="pw", fpc="fpc")
    >>> a = sh.measures.survey_alpha(d, ["ell", "mobility", "avg.ed", "meals"])
    >>> bool(0 < a.alpha < 1 and a.alpha_se > 0)
    True

    In R: ``svycralpha(~ell + mobility + avg.ed + meals, dstrat, na.rm = TRUE)`` (alpha);
    the SE equals ``svycontrast()`` of ``svymean()`` of the moments with the expression above.
    """
    if isinstance(items, (str, dict)) or np.ndim(items) != 1 or len(items) < 2:
        raise MeasureError(f"survey_alpha() needs a list of two or more item columns, not "
                           f"{show_given(items)}.")
    items = [str(c) for c in items]
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise MeasureError(f"level={show_given(level)} must be a number between 0 and 1.")
    data = design.data
    missing_cols = [c for c in items if c not in data.columns]
    if missing_cols:
        raise MeasureError(f"item column(s) {missing_cols} are not in the design's data; "
                           f"columns include {list(data.columns[:12])}.")
    X = numeric_items(data, items)
    in_design = np.asarray(design.weights, dtype=float) != 0
    complete = np.asarray(~np.isnan(X).any(axis=1), dtype=bool)
    used = in_design & complete
    n, n_dropped = int(used.sum()), int((in_design & ~complete).sum())
    if n < 2:
        raise MeasureError(f"only {n} row(s) answered every item; alpha needs at least two.")
    Xz = np.where(complete[:, None], X, 0.0)
    total = Xz.sum(axis=1)
    k = len(items)
    moments = {f"m{j}": Xz[:, j] for j in range(k)}
    moments |= {f"q{j}": Xz[:, j] ** 2 for j in range(k)}
    moments["T"] = total ** 2
    names = list(moments)
    d = design.assign(**{f"__alpha_{nm}": v for nm, v in moments.items()})
    if np.any(in_design & ~complete):
        d = d.subset(complete)
    est = d.mean([f"__alpha_{nm}" for nm in names])
    mu = est.to_frame()["estimate"].to_numpy(dtype=float)
    Sigma = np.asarray(est.vcov, dtype=float)
    m, q, T = mu[:k], mu[k:2 * k], float(mu[-1])
    M = float(m.sum())
    S = float(np.sum(q - m ** 2))
    V = T - M ** 2
    if not V > 0:
        raise MeasureError("the total score has no variance among the rows used, so alpha is "
                           "undefined.")
    c = k / (k - 1)
    alpha = c * (1 - S / V)
    g = np.concatenate([2 * c * (m * V - M * S) / V ** 2, np.full(k, -c / V), [c * S / V ** 2]])
    se = float(np.sqrt(max(float(g @ Sigma @ g), 0.0)))
    df = float(est.to_frame()["df"].iloc[0])
    t = t_quantile(level, df if df > 0 else np.inf)
    r_call = (f"svycralpha(~{' + '.join(items)}, design, na.rm = TRUE)  # alpha only: R gives "
              "no standard error")
    return SurveyAlphaResult(alpha=float(alpha), alpha_se=se, ci=(alpha - t * se, alpha + t * se),
                             level=float(level), df=df, items=tuple(items), n=n,
                             n_dropped=n_dropped, r_call=r_call)
