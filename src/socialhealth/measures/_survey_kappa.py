"""Cohen's kappa between two classifications of the same respondents, estimated from survey
data with its design-based standard error (R ``svykappa``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from socialhealth._text import show, show_given
from socialhealth.design.result_protocol import Result
from socialhealth.design.results import t_quantile
from socialhealth.errors import ArgumentError, MeasureError

__all__ = ["SurveyKappaResult", "survey_kappa"]


@dataclass(frozen=True, kw_only=True)
class SurveyKappaResult(Result):
    """What :func:`survey_kappa` returns.

    Result protocol: ``coef()`` (kappa), ``se()``, ``confint(level=)`` (t with the design's
    degrees of freedom), ``vcov`` (1 x 1), ``to_frame()``.

    Attributes
    ----------
    kappa, kappa_se : float
        Design-based Cohen's kappa and its delta-method standard error.
    observed, expected : float
        Estimated population share of agreement ``p_o`` and the share expected by chance from
        the two margins ``p_e``.
    ci : tuple of float
        ``(lower, upper)`` at ``level``: ``kappa -+ t_{df} se``.
    level, df : float
        Confidence level; the design's degrees of freedom.
    variables : tuple of str
    categories : tuple of str
        The categories compared (the union of both variables' answers, in order).
    n, n_dropped : int
        Rows used (both answered, in the design's subset) and rows of the subset left out
        because one of the two is missing.
    r_call : str
        The R call that gives ``kappa`` and its SE.
    """

    kappa: float
    kappa_se: float
    observed: float
    expected: float
    ci: tuple
    level: float
    df: float
    variables: tuple
    categories: tuple
    n: int
    n_dropped: int
    r_call: str = ""
    notes: tuple = field(default=())

    @property
    def vcov(self) -> np.ndarray:
        """The 1 x 1 covariance of kappa (its squared standard error)."""
        return np.array([[self.kappa_se ** 2]])

    def to_frame(self) -> pd.DataFrame:
        """One row: ``term, estimate, se, ci_low, ci_high, df, n, observed, expected``."""
        return pd.DataFrame({"term": ["kappa"], "estimate": [self.kappa], "se": [self.kappa_se],
                             "ci_low": [self.ci[0]], "ci_high": [self.ci[1]], "df": [self.df],
                             "n": [self.n], "observed": [self.observed],
                             "expected": [self.expected]})

    def __repr__(self) -> str:
        lo, hi = self.ci
        a, b = self.variables
        return (f"Design-based Cohen's kappa, {a} vs {b} ({len(self.categories)} categories): "
                f"{self.kappa:.4f} (SE {self.kappa_se:.4f}; {self.level:.0%} CI {lo:.4f} to "
                f"{hi:.4f}, t with {self.df:g} df)\nagreement {self.observed:.1%}, expected by "
                f"chance {self.expected:.1%}; {self.n} rows used"
                + (f", {self.n_dropped} left out with a missing answer" if self.n_dropped else "")
                + f"\nIn R: {self.r_call}")


def _codes(col: pd.Series) -> tuple[np.ndarray, list]:
    """Answers as (values with missing as None, categories in order): a categorical keeps its
    declared order, anything else is sorted."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = list(col.cat.categories)
    else:
        seen = pd.unique(col.dropna())
        try:
            cats = sorted(seen)
        except TypeError:
            cats = sorted(seen, key=str)
    return col.to_numpy(dtype=object, na_value=None), cats


#: default largest number of categories survey_kappa() compares (see its max_categories=)
MAX_KAPPA_CATEGORIES = 50


def survey_kappa(design, x: str, y: str, level: float = 0.95,
                 max_categories: int | None = MAX_KAPPA_CATEGORIES) -> SurveyKappaResult:
    """Cohen's kappa of two classifications with survey weights, and its standard error.

    ``kappa = (p_o - p_e) / (1 - p_e)`` (Cohen 1960) with ``p_o = sum_k p_kk`` the estimated
    population share in which ``x`` and ``y`` agree and ``p_e = sum_k a_k b_k`` the agreement
    expected by chance from the margins ``a_k = P(x = k)`` and ``b_k = P(y = k)``, all
    estimated as design-weighted means over the rows where both are answered (a domain, so
    the variance counts every PSU). Categories are matched by value: the union of both
    variables' answers (a category one of them never uses has a margin of 0 there).

    Standard error: the delta method on the design-based covariance ``Sigma`` of the means of
    the indicators ``d_k = 1[x = k, y = k]``, ``1[x = k]`` and ``1[y = k]`` (Taylor
    linearisation or replicates, as the design), with gradient ``dkappa/dd_k = 1 / (1 - p_e)``,
    ``dkappa/da_k = b_k (p_o - 1) / (1 - p_e)^2`` and ``dkappa/db_k = a_k (p_o - 1) /
    (1 - p_e)^2``. The interval is ``kappa -+ t_{df} SE`` with the design's degrees of freedom.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        Its data hold both columns; a subset (domain) design gives kappa in the domain.
    x, y : str
        The two classifications (columns of any type: labels, numbers, yes/no), e.g. a direct
        loneliness question and a UCLA-3 cut-off, or the same item at two waves.
    level : float, default 0.95
    max_categories : int or None, default 50
        Refuse (:class:`~socialhealth.errors.ArgumentError`) two variables that together take
        more than this many distinct answers: every answer is a category of its own, so a
        continuous score (an age, a scale total) would give a kappa of exact agreement on
        hundreds of values. Cut such a variable into categories first (``pd.cut``); pass a
        larger number, or ``None``, to compare that many categories anyway (R ``svykappa``
        has no such argument; on 30 and 60 categories it stops with an error).

    Returns
    -------
    SurveyKappaResult

    References
    ----------
    Cohen J (1960) A coefficient of agreement for nominal scales. Educational and
    Psychological Measurement 20:37-46. Lumley T (2010) *Complex Surveys*, Wiley
    (R ``svykappa``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, psu="dnum", weights="pw", fpc="fpc")
    >>> k = sh.measures.survey_kappa(d, "comp.imp", "sch.wide")
    >>> round(k.kappa, 4), round(k.kappa_se, 4)
    (0.4783, 0.0712)

    In R: ``svykappa(~comp.imp + sch.wide, dclus1)`` (equal at 1e-10 on Taylor, domain and
    JK1/JKn designs in the tests). R matches the two variables' levels by position and
    refuses different level sets; here they are matched by value. R's ``confint()`` of it
    uses the normal quantile; ``confint(k, df = degf(dclus1))`` gives this interval.
    """
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise MeasureError(f"level={show_given(level)} must be a number between 0 and 1.")
    data = design.data
    for c in (x, y):
        if not isinstance(c, str) or c not in data.columns:
            raise MeasureError(f"column {show_given(c)} is not in the design's data; columns "
                               f"include {list(data.columns[:12])}.")
    if x == y:
        raise MeasureError("survey_kappa() compares two different columns; got the same one "
                           f"twice ({x!r}).")
    xv, xc = _codes(data[x])
    yv, yc = _codes(data[y])
    cats = list(xc) + [c for c in yc if c not in set(xc)]
    in_design = np.asarray(design.weights, dtype=float) != 0
    answered = np.array([a is not None and b is not None for a, b in zip(xv, yv, strict=True)])
    used = in_design & answered
    n, n_dropped = int(used.sum()), int((in_design & ~answered).sum())
    if n < 2:
        raise MeasureError(f"only {n} row(s) answered both {x!r} and {y!r}; kappa needs at "
                           "least two.")
    k = len(cats)
    if max_categories is not None:
        if (isinstance(max_categories, (bool, np.bool_))
                or not isinstance(max_categories, (int, np.integer)) or max_categories < 2):
            raise ArgumentError(f"max_categories={show_given(max_categories)} must be a whole "
                                "number >= 2 or None (no limit).")
        if k > max_categories:
            raise ArgumentError(
                f"{x!r} and {y!r} take {k} distinct values together (more than "
                f"max_categories={max_categories}); survey_kappa() treats every value as a "
                "category of its own, which is meaningless for a continuous score. Cut the "
                f"variable(s) into categories first (e.g. design.assign({x}_cat=pd.cut(...))), "
                "or pass max_categories=None if you do mean to compare that many categories."
            )
    if k < 2:
        raise MeasureError(f"{x!r} and {y!r} use a single category ({show(cats[0])}) among the "
                           "rows used, so kappa is undefined.")
    xs = pd.Series(xv, dtype=object)
    ys = pd.Series(yv, dtype=object)
    ind = {}
    for j, c in enumerate(cats):
        a = (xs == c).to_numpy() & answered
        b = (ys == c).to_numpy() & answered
        ind[f"d{j}"] = (a & b).astype(float)
        ind[f"a{j}"] = a.astype(float)
        ind[f"b{j}"] = b.astype(float)
    names = [f"{p}{j}" for p in "dab" for j in range(k)]
    d = design.assign(**{f"__kappa_{nm}": ind[nm] for nm in names})
    if np.any(in_design & ~answered):
        d = d.subset(answered)
    est = d.mean([f"__kappa_{nm}" for nm in names])
    mu = est.to_frame()["estimate"].to_numpy(dtype=float)
    Sigma = np.asarray(est.vcov, dtype=float)
    dk, ak, bk = mu[:k], mu[k:2 * k], mu[2 * k:]
    po, pe = float(dk.sum()), float(ak @ bk)
    if not pe < 1:
        raise MeasureError(f"{x!r} and {y!r} each put every row used in the same single "
                           "category, so agreement expected by chance is 1 and kappa is "
                           "undefined.")
    kappa = (po - pe) / (1 - pe)
    g = np.concatenate([np.full(k, 1 / (1 - pe)), bk * (po - 1) / (1 - pe) ** 2,
                        ak * (po - 1) / (1 - pe) ** 2])
    se = float(np.sqrt(max(float(g @ Sigma @ g), 0.0)))
    df = float(est.to_frame()["df"].iloc[0])
    t = t_quantile(level, df if df > 0 else np.inf)
    return SurveyKappaResult(
        kappa=float(kappa), kappa_se=se, observed=po, expected=pe,
        ci=(kappa - t * se, kappa + t * se), level=float(level), df=df, variables=(x, y),
        categories=tuple(str(c) for c in cats), n=n, n_dropped=n_dropped,
        r_call=f"svykappa(~{x} + {y}, design)")
