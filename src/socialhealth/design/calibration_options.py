"""Options of :func:`socialhealth.design.calibration.calibrate` beyond the calibration
function: bounds per unit or on the weights themselves, a heteroskedastic calibration model,
trimming of the adjustments, and adjustments constant within clusters.

They follow R ``calibrate`` (survey 4.1-1): ``bounds = list(lower =, upper =)``,
``bounds.const``, ``variance``, ``trim``, ``aggregate.stage`` / ``aggregate.index``. Each
function here turns one option into arrays for the Newton solver
(:func:`socialhealth.design.calibration._solve_g`) or applies it to the solution.

* Bounds on ``g`` per unit: ``L_i <= g_i <= U_i``. Bounds on the weights (``bounds_const``):
  ``L <= w_i g_i <= U``, i.e. ``L / w_i <= g_i <= U / w_i``.
* Heteroskedastic model (Deville & Sarndal 1992, ``q_i = 1 / v_i``): ``g_i = F(q_i x_i'
  lambda)`` minimises ``sum_i w_i G(g_i) / q_i``; with ``F`` linear and ``v_i`` proportional to
  one auxiliary ``x_i`` (no intercept) every ``g_i`` is the same, ``T_x / sum_i w_i x_i``:
  the ratio estimator.
* Trimming (R ``trim``): after calibration, adjustments outside ``[a, b]`` are set to the
  bound and the weight removed or added, ``sum_i w_i (g_i - g_i^t)``, is spread over the
  untrimmed units in proportion to their input weights (one pass, so an untrimmed unit may
  end slightly outside ``[a, b]``, as R says). The calibration totals then hold only
  approximately; the variance still uses the calibration model's residuals.
* Aggregation (Vanderhoeft 2001, section III.D): one adjustment per cluster ``c``, found by
  calibrating the clusters, each with weight ``W_c = sum_{i in c} w_i`` and auxiliaries
  ``xbar_c = sum_{i in c} w_i x_i / W_c`` (then ``sum_c W_c g_c xbar_c = sum_i w_i g_c(i) x_i``);
  with equal weights within a cluster its final weights stay equal.

References
----------
Deville JC, Sarndal CE (1992) Calibration estimators in survey sampling. JASA 87:376-382.
Vanderhoeft C (2001) Generalised calibration at Statistics Belgium. Statistics Belgium
Working Paper 3.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.errors import DesignError

__all__ = ["Bounds", "parse_bounds", "parse_variance", "parse_trim", "aggregation_codes",
           "aggregate_problem", "trim_adjustments"]


@dataclass(frozen=True)
class Bounds:
    """Bounds of the calibration: scalars or one value per row; on ``g`` or, with
    ``const``, on the calibrated weights ``w g``."""

    lower: float | np.ndarray
    upper: float | np.ndarray
    const: bool = False

    @property
    def per_unit(self) -> bool:
        """Whether the bounds differ between rows (one number per row)."""
        return np.ndim(self.lower) > 0 or np.ndim(self.upper) > 0

    def on_g(self, w: np.ndarray, calfun: str) -> tuple:
        """``(L, U)`` on ``g`` for input weights ``w`` (one column): scalars when they are
        scalars and not ``const``, else arrays. Rows with weight 0 take ``(0, 2)``, which
        changes nothing (their weight stays 0) and keeps every function finite."""
        if not self.const and not self.per_unit:
            return float(self.lower), float(self.upper)
        lo = np.broadcast_to(np.asarray(self.lower, dtype=float), w.shape).copy()
        hi = np.broadcast_to(np.asarray(self.upper, dtype=float), w.shape).copy()
        used = w != 0
        if self.const:
            if np.any(w[used] < 0):
                raise DesignError(
                    "bounds_const=True needs positive weights: some weights are negative (a "
                    "linear calibration before this one can make them so). Give bounds on "
                    "the adjustment g instead (bounds_const=False).")
            with np.errstate(divide="ignore", invalid="ignore"):
                lo = np.where(used, lo / np.where(used, w, 1.0), 0.0)
                hi = np.where(used, hi / np.where(used, w, 1.0), 2.0)
        lo[~used], hi[~used] = 0.0, 2.0
        wrong = used & ~(lo < hi)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise DesignError(
                f"the bounds leave no room for {int(wrong.sum())} row(s) (e.g. row {i}: "
                f"lower {self._show(self.lower, i)} >= upper {self._show(self.upper, i)}); "
                "every lower bound must be below its upper bound.")
        if calfun == "logit":
            bad = used & ~(np.isfinite(lo) & np.isfinite(hi) & (lo < 1) & (hi > 1))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                what = ("weight bounds (L, U) with L < w_i < U for every row"
                        if self.const else "finite bounds with L_i < 1 < U_i for every row")
                raise DesignError(
                    f"calfun='logit' needs {what}; {int(bad.sum())} row(s) do not have them "
                    f"(e.g. row {i}: g must lie in ({lo[i]:.4g}, {hi[i]:.4g})). Widen the "
                    "bounds, or use calfun='linear' or 'raking' with bounds.")
        return lo, hi

    @staticmethod
    def _show(v, i: int) -> str:
        return f"{float(np.asarray(v).ravel()[i] if np.ndim(v) else v):.4g}"


def _as_bound(v, n: int, which: str):
    if np.ndim(v) == 0:
        try:
            return float(v)
        except (TypeError, ValueError):
            raise DesignError(f"the {which} bound must be a number or one number per row, not "
                              f"{show_given(v)}.") from None
    try:
        a = np.asarray(v, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DesignError(f"the {which} bounds must be numbers.") from None
    if a.shape != (n,):
        raise DesignError(f"the {which} bounds have {a.size} values but the data have {n} rows; "
                          "give one number, or one per row of the design's data.")
    if np.isnan(a).any():
        raise DesignError(f"the {which} bounds have {int(np.isnan(a).sum())} missing value(s).")
    return a


def parse_bounds(bounds, n: int, const: bool, calfun: str) -> Bounds | None:
    """``bounds=`` of :func:`calibrate` as :class:`Bounds`: ``(L, U)`` with ``L`` and ``U``
    numbers or one number per row, or ``{"lower": L, "upper": U}`` (R ``list(lower=,
    upper=)``); ``None`` without bounds."""
    if not isinstance(const, (bool, np.bool_)):
        raise DesignError(f"bounds_const= must be True or False, not {show_given(const)}.")
    if bounds is None:
        if const:
            raise DesignError("bounds_const=True needs bounds=(L, U) on the calibrated weights.")
        return None
    if isinstance(bounds, dict):
        if set(bounds) != {"lower", "upper"}:
            raise DesignError(f"bounds= as a dict needs exactly the keys 'lower' and 'upper' (R "
                              f"list(lower=, upper=)); got {sorted(map(str, bounds))}.")
        pair = (bounds["lower"], bounds["upper"])
    elif isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise DesignError(f"bounds= must be (L, U): two numbers, or two arrays with one number "
                          f"per row; not {show_given(bounds)}.")
    else:
        pair = (bounds[0], bounds[1])
    lo, hi = _as_bound(pair[0], n, "lower"), _as_bound(pair[1], n, "upper")
    b = Bounds(lo, hi, bool(const))
    if not b.per_unit and not const:
        if not (lo < 1 < hi):
            raise DesignError(f"bounds=({lo:g}, {hi:g}) must satisfy L < 1 < U (bounds on the "
                              "adjustment g; bounds_const=True for bounds on the weights).")
        if calfun == "logit" and not (np.isfinite(lo) and np.isfinite(hi)):
            raise DesignError("calfun='logit' needs finite bounds=(L, U) with L < 1 < U, e.g. "
                              "(0.5, 2).")
    return b


def parse_variance(variance, X: np.ndarray, names: list[str], data: pd.DataFrame,
                   active: np.ndarray) -> np.ndarray | None:
    """``q = 1 / v`` of the heteroskedastic calibration model, or None for ``variance=None``.

    ``variance``: a column name of the data (``v_i`` that column), one number per row, or one
    coefficient per calibration column (``v_i = x_i' c``, R's "linear combination of the
    columns of the model matrix"; a single number with a single column is that coefficient).
    ``v`` must be positive and finite in every row in the sample.
    """
    if variance is None:
        return None
    n, q = X.shape
    if isinstance(variance, str):
        if variance not in data.columns:
            raise DesignError(f"variance={variance!r} is not a column of the design's data.")
        v = pd.to_numeric(data[variance], errors="coerce").to_numpy(dtype=float)
        source = f"column {variance!r}"
    else:
        try:
            c = np.asarray(variance, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DesignError("variance= must be a column name, one number per row, or one "
                              f"coefficient per calibration column {names}.") from None
        if c.size == q:
            v = X @ c
            source = "x' variance (" + ", ".join(f"{nm}: {v_:g}" for nm, v_ in
                                                 zip(names, c, strict=True)) + ")"
        elif c.size == n:
            v = c
            source = "the variance values"
        else:
            raise DesignError(f"variance= has {c.size} values: give one per calibration column "
                              f"({q}: {names}) or one per row ({n}), or a column name.")
    bad = active & ~(np.isfinite(v) & (v > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DesignError(
            f"the calibration variance must be positive and finite for every respondent; "
            f"{source} is not for {int(bad.sum())} row(s) (e.g. row {i}: {v[i]:.4g}).")
    return np.where(active, 1.0 / np.where(active, v, 1.0), 0.0)


def parse_trim(trim) -> tuple[float, float] | None:
    """``trim=(a, b)``: the range of the adjustments ``g`` kept after calibration."""
    if trim is None:
        return None
    try:
        a, b = (float(t) for t in trim)
    except (TypeError, ValueError):
        raise DesignError(f"trim= must be two numbers (a, b) with a < 1 < b, not "
                          f"{show_given(trim)}.") from None
    if not (a < 1 < b):
        raise DesignError(f"trim=({a:g}, {b:g}) must satisfy a < 1 < b.")
    return a, b


def aggregation_codes(design, aggregate, active: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Cluster code of every row (-1 outside the sample) for ``aggregate=``: the sampling units
    of stage ``aggregate`` (an int, Taylor designs; R ``aggregate.stage``), the levels of a
    column (R ``aggregate.index``) or cluster ids given one per row."""
    if aggregate is None:
        return None
    if isinstance(aggregate, (bool, np.bool_)):
        raise DesignError("aggregate= must be a stage number or a column name.")
    if isinstance(aggregate, (int, np.integer)):
        if design.kind == "replicate":
            raise DesignError(
                "aggregate=<stage> needs the sampling stages of a Taylor design; a replicate "
                "design has none: give the column that identifies the clusters, "
                "aggregate='hhid' (R aggregate.index).")
        stages = design.stages
        if not 1 <= int(aggregate) <= len(stages):
            raise DesignError(f"aggregate={aggregate} is not a stage of this design (stages 1 "
                              f"to {len(stages)}).")
        codes = np.asarray(stages[int(aggregate) - 1].unit, dtype=np.int64)
    elif isinstance(aggregate, (np.ndarray, pd.Series, list, tuple)):
        # cluster ids, one per row (to_replicate(recalibrate=True) passes a stage's units)
        ids = pd.Series(np.asarray(aggregate))
        if len(ids) != len(design.data):
            raise DesignError(f"aggregate= as cluster ids needs one per row of the design's "
                              f"data ({len(design.data)}); got {len(ids)}.")
        if (ids.isna().to_numpy() & active).any():
            raise DesignError("aggregate= cluster ids are missing for some respondents.")
        codes = pd.factorize(ids)[0].astype(np.int64)
    elif isinstance(aggregate, str):
        if aggregate not in design.data.columns:
            raise DesignError(f"aggregate={aggregate!r} is not a column of the design's data.")
        col = design.data[aggregate]
        missing = col.isna().to_numpy() & active
        if missing.any():
            raise DesignError(f"aggregate={aggregate!r} is missing for {int(missing.sum())} "
                              "respondent(s); every respondent needs a cluster.")
        codes = pd.factorize(col)[0].astype(np.int64)
    else:
        raise DesignError(f"aggregate= must be a stage number, a column name or one cluster id "
                          f"per row, not {aggregate!r}.")
    codes = np.where(active, codes, -1)
    return codes, int(codes.max()) + 1 if codes.size else 0


def aggregate_problem(X: np.ndarray, w: np.ndarray, codes: np.ndarray,
                      n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The clusters' calibration problem: weights ``W_c = sum_{i in c} w_i`` and auxiliaries
    ``xbar_c = sum_{i in c} w_i x_i / W_c`` (0 for a cluster without weight)."""
    inside = codes >= 0
    c = codes[inside]
    Wc = np.bincount(c, weights=w[inside], minlength=n_groups)
    A = np.zeros((n_groups, X.shape[1]))
    np.add.at(A, c, X[inside] * w[inside, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        Xc = np.where((Wc != 0)[:, None], A / np.where(Wc != 0, Wc, 1.0)[:, None], 0.0)
    return Xc, Wc


def trim_adjustments(g: np.ndarray, w: np.ndarray, lo: float, hi: float
                     ) -> tuple[np.ndarray, int]:
    """Adjustments ``g`` clipped to ``[lo, hi]``, the weight they lose or gain spread over the
    unclipped rows in proportion to ``w`` (one pass, as R ``calibrate(trim=)``); and the number
    of rows clipped."""
    used = w != 0
    t = np.where(used, np.clip(g, lo, hi), g)
    clipped = used & (t != g)
    if not clipped.any():
        return g, 0
    excess = float(np.sum(w[clipped] * (g[clipped] - t[clipped])))
    rest = used & ~clipped
    base = float(np.sum(w[rest]))
    if base == 0:
        raise DesignError(
            f"trimming clips every adjustment to the trim range, so the removed weight "
            f"({excess:.4g}) has no row to go to; widen trim=.")
    t = t.copy()
    t[rest] += excess / base
    return t, int(clipped.sum())
