"""Weight trimming with redistribution (R ``trimWeights``).

Very large (or small) weights make estimates unstable. Trimming caps them at ``upper`` (and
raises those below ``lower``) and shares the amount removed equally among the weights that
were not trimmed, so the total weight is unchanged. The design structure (strata, PSUs,
fpc, calibration, replicate scheme) is kept: the trimmed weights are then treated as the
design's weights.
"""
from __future__ import annotations

import numbers

import numpy as np

from socialhealth._text import show_given
from socialhealth.errors import ConvergenceError, DesignError, WeightError

__all__ = ["trim_weights"]

_MAX_PASSES = 10_000


def _bound(value, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise DesignError(f"{name}= must be a number (or None for no bound), not "
                          f"{show_given(value)}.")
    value = float(value)
    if np.isnan(value):
        raise DesignError(f"{name}= is NaN; give a number or None for no bound.")
    return value


def _trim_once(w: np.ndarray, active: np.ndarray, lower: float, upper: float,
               what: str) -> np.ndarray:
    """One pass: clip the weights of the ``active`` rows to [lower, upper], share the
    difference equally among the active rows that were inside the bounds (rows with weight 0
    are not active and stay 0)."""
    outside = active & ((w > upper) | (w < lower))
    if not outside.any():
        return w
    new = w.copy()
    new[outside] = np.clip(w[outside], lower, upper)
    keep = active & ~outside
    if not keep.any():
        raise WeightError(
            f"every {what} is outside [{lower:g}, {upper:g}], so no weight is left to take the "
            "trimmed amount and the total would change; widen the bounds."
        )
    new[keep] += (w[outside] - new[outside]).sum() / keep.sum()
    return new


def _trim(w: np.ndarray, lower: float, upper: float, strict: bool, what: str) -> np.ndarray:
    # the rows in the sample: every non-zero weight (negative replicate weights included)
    active = w != 0
    new = _trim_once(w, active, lower, upper, what)
    if strict:
        for _ in range(_MAX_PASSES):
            if not (active & ((new > upper) | (new < lower))).any():
                break
            new = _trim_once(new, active, lower, upper, what)
        else:
            raise ConvergenceError(
                f"trim_weights(strict=True) did not bring every {what} inside "
                f"[{lower:g}, {upper:g}] after {_MAX_PASSES} passes; widen the bounds."
            )
    if ((w > 0) & ~(new > 0)).any():
        raise WeightError(
            f"redistributing the trimmed amount made a {what} zero or negative (the weights "
            f"raised to lower={lower:g} took more than the others hold); use strict=True or "
            "lower the bound."
        )
    return new


def trim_weights(design, lower: float | None = None, upper: float | None = None,
                 strict: bool = False):
    """Trim the analysis weights to ``[lower, upper]``, keeping their total (R ``trimWeights``).

    Rule (R ``trimWeights`` documentation): every positive weight above ``upper`` is set to
    ``upper`` and every one below ``lower`` to ``lower``; the total amount removed,
    ``T = sum_i (w_i - w_i')`` over the trimmed rows (negative when raising low weights adds
    weight), is divided equally among the ``m`` rows that were not trimmed,
    ``w_i' = w_i + T / m``, so ``sum w'`` equals ``sum w``. Sharing can push an untrimmed
    weight past a bound; with ``strict=True`` the rule is applied again to its own result until
    no weight is outside the bounds (weights exactly at a bound count as untrimmed in the next
    pass, as in R). Rows with weight 0 (outside a subset) are neither trimmed nor given a share.

    The new design keeps the design structure (strata, PSUs, fpc, calibration) and treats the
    trimmed weights as its weights, so ``mean``/``total`` standard errors come from the same
    variance formulas (as R's trimmed design). On a replicate design every replicate weight
    column is trimmed by the same rule with the same bounds (zero replicate weights, e.g. the
    deleted PSU of a jackknife replicate, stay 0). Negative replicate weights (ACS-style
    successive-difference replicates after calibration, see
    :class:`~socialhealth.design.replicate.ReplicateDesign`) are weights of rows in the
    replicate like any other non-zero weight: one below ``lower`` is raised to ``lower``, one
    inside the bounds takes its share of the redistribution, so every column keeps its total
    and, with ``strict=True``, ends inside the bounds.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    lower, upper : float, optional
        Bounds for the weights; ``None`` means no bound (R ``-Inf`` / ``Inf``). A negative
        ``lower`` is allowed, as in R (whose default is ``-Inf``): it leaves positive weights
        alone and raises negative weights below it (from a linear calibration, or ACS-style
        replicate weights) to it.
    strict : bool, default False
        Repeat the trimming until every weight is inside the bounds (R ``strict = TRUE``).

    Returns
    -------
    A new design of the same kind with trimmed weights.

    Raises
    ------
    DesignError
        A bound is not a number, or ``lower > upper``.
    WeightError
        Every weight (of a replicate column) is outside the bounds, or sharing made a weight
        non-positive.

    Notes
    -----
    R survey 4.1-1's ``trimWeights`` for replicate designs mis-recycles a vector when it
    redistributes within the replicate columns (R warns "longer object length is not a
    multiple of shorter object length"): the columns lose their totals and zero weights are
    raised to ``lower`` (some estimates are then NA: "All replicates contained NAs"). It also
    leaves the full-sample weights untrimmed (it computes the trimmed ones but then only sets
    ``design$prob`` from the untrimmed weights, a field a replicate design does not use), so
    R's trimmed estimates are the untrimmed ones.
    socialhealth applies the documented rule to the full-sample weights and to each column
    (``tests/design/test_fuzz_replicate_vs_r.py``); on Taylor designs the weights equal R's.
    R trims negative replicate weights by the same comparison
    (``pmax(lower, ...)``: below ``lower`` they are raised to it), as here.
    In R: ``trimWeights(design, lower = 10, upper = 300)`` on an ACS-style replicate design
    raises all 42 negative replicate weights of ``tests/design/test_replicate_negative_more.py``
    above 10 but changes the replicate columns' totals (mis-recycling); socialhealth keeps them.

    References
    ----------
    Potter FJ (1990) A study of procedures to identify and trim extreme sampling weights.
    Proc. Survey Research Methods Section, ASA, 225-230. Lumley T, R package ``survey``,
    ``?trimWeights``.

    Examples
    --------
    >>> import pandas as pd, socialhealth as sh
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "w": [1.0, 2.0, 3.0, 10.0]})
    >>> sh.SurveyDesign(df, weights="w").trim_weights(upper=6).weights.round(4).tolist()
    [2.3333, 3.3333, 4.3333, 6.0]

    A calibrated design whose weights are trimmed to [42, 60]:

    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> apipop = sh.datasets.load_example("apipop")
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> totals = {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018,
    ...           "api99": int(apipop["api99"].sum())}
    >>> dclus1g = dclus1.calibrate("~stype + api99", totals)
    >>> round(float(dclus1g.weights.min()), 2), round(float(dclus1g.weights.max()), 2)
    (42.64, 64.24)
    >>> trimmed = dclus1g.trim_weights(lower=42, upper=60, strict=True)
    >>> w = trimmed.weights
    >>> round(float(w.min()), 2), round(float(w.max()), 2), round(float(w.sum()), 1)
    (42.71, 60.0, 6194.0)
    >>> print(trimmed.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate     se
    0  api00   661.817  3.939

    In R: ``trimWeights(dclus1g, lower = 42, upper = 60, strict = TRUE)`` (R's ``?trimWeights``
    uses 20 and 45 on its own data).
    """
    lo = _bound(lower, "lower", -np.inf)
    up = _bound(upper, "upper", np.inf)
    if lo > up:
        raise DesignError(f"lower={lo:g} is above upper={up:g}; give lower <= upper.")
    if not isinstance(strict, (bool, np.bool_)):
        raise DesignError(f"strict= must be True or False, not {show_given(strict)}.")
    w = np.asarray(design.weights, dtype=float)
    new = design._with_weights(_trim(w, lo, up, bool(strict), "weight"))
    if getattr(design, "kind", None) == "replicate":
        W = np.asarray(new._W, dtype=float)
        new._W = np.column_stack([
            _trim(W[:, r], lo, up, bool(strict), f"weight of replicate {r + 1}")
            for r in range(W.shape[1])
        ])
        new._degf_cache = {}
    return new
