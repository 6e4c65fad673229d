"""Design-based variance of estimated totals by Taylor linearisation (multistage).

Every Taylor-linearised estimate in socialhealth is reduced to a matrix ``Z`` (rows = sample
rows, columns = estimates) of *weighted* influence values, so that the estimate behaves like the
total ``sum_i Z_i``. This module computes the design covariance of those totals.

Formula (Wolter 2007, ch. 6; Cochran 1977, §11.8; Lumley 2010, §3.2), stage by stage.
At stage ``s``, in stratum ``h`` with ``n_h`` sampled units out of ``N_h``
(``f_h = n_h / N_h``; ``f_h = 0`` without fpc), let ``t_hi`` be the total of ``Z`` over the rows
of unit ``i`` and ``tbar_h`` their mean over the stratum's units. Then

    V_s = sum_h  m_h (1 - f_h) n_h / (n_h - 1)  sum_i (t_hi - tbar_h)(t_hi - tbar_h)^T

where the stage multiplier ``m_h`` is 1 at stage 1 and, below it, the product of the sampling
fractions ``n/N`` of the enclosing units' strata (the classical two-stage formula
``V = (1-f_1) s_1^2 / n_1 + (n_1/N_1) sum_i V_2i``). Later stages are only added when every
earlier stage has an fpc: with first-stage sampling with replacement the first-stage
("ultimate cluster") formula already estimates the whole variance. This is what R's
``svyrecvar`` computes with ``options(survey.ultimate.cluster = FALSE)``.

Strata with a single sampled unit ("lonely PSUs") follow R's ``survey.lonely.psu`` options:

* ``"fail"``: raise :class:`~socialhealth.errors.LonelyPSUError` when a single-unit stratum
  holds rows used by the estimate (as R, which drops the other rows of a subset first);
* ``"remove"`` / ``"certainty"``: the stratum contributes nothing at that stage;
* ``"adjust"``: the unit's total is centred at the population mean of the influence values,
  0, instead of the stratum mean, with scale ``m_h (1 - f_h)`` (for means and regression
  coefficients this equals centring at the mean of all PSU totals, as their influence values
  sum to zero; for totals it does not, and R centres at 0);
* ``"average"``: lonely strata are left out and the sum over the other strata is multiplied by
  ``H / H_ok``, the number of strata with data for the estimate over those among them with at
  least two units (strata outside a domain count in neither); NaN when every stratum with
  data is lonely (at a later stage: within an enclosing unit), as R. A stratum has data for an
  estimate when one of the rows the estimate uses is in it (R counts the strata of the design
  it is given, after ``na.rm`` and ``svyby`` drop rows), whatever that row's value: for a
  domain estimate the rows of the domain, otherwise the rows with a non-zero value in some
  column of ``Z``.

A stratum whose fpc equals its sample size (``f_h = 1``, sampled with certainty) contributes 0
and is never "lonely".

PPS without replacement with Brewer's approximation (``pps="brewer"``; Brewer 2002, ch. 9;
Lumley, "Describing PPS designs to R", survey package vignette) replaces the sampling fraction of
the first stage by each PSU's inclusion probability ``pi_i``:

    V_1 = sum_h n_h/(n_h - 1) sum_{i in h} (1 - pi_i) (t_i - tbar_h)(t_i - tbar_h)^T,

see :func:`_brewer_stage`. Overton's and Hartley-Rao's approximations and the exact
Horvitz-Thompson / Yates-Grundy forms from joint inclusion probabilities (one-stage designs) are
in :mod:`socialhealth.design.pps`.
"""
from __future__ import annotations

import numpy as np

from socialhealth._text import show, show_list
from socialhealth.design.structure import Stage
from socialhealth.errors import DesignError, LonelyPSUError


class DomainColumns:
    """Influence values of domain estimates, stored without the zeros.

    Domain estimate ``(d, j)`` (domain ``d``, variable ``j``) has influence value
    ``values[i, j]`` on rows with ``domain[i] == d`` and 0 elsewhere, so the (n x D*k) matrix
    of influence values is mostly zeros. Group sums need one ``bincount`` per variable over
    the combined key ``unit * D + domain`` instead of D*k dense columns. Column order is
    domain-major: column ``d * k + j``.
    """

    def __init__(self, values: np.ndarray, domain: np.ndarray, n_domains: int):
        self.values = values if values.ndim == 2 else values[:, None]
        self.domain = domain
        self.n_domains = n_domains
        self.shape = (len(domain), n_domains * self.values.shape[1])

    def group_sum(self, codes: np.ndarray, size: int) -> np.ndarray:
        """Sums of every (domain, variable) column within groups ``codes`` (0..size-1):
        (size x D*k)."""
        D, k = self.n_domains, self.values.shape[1]
        ok = self.domain >= 0
        out = np.empty((size * D, k))
        if ok.all():
            # every row in a domain: bincount over all rows, no gathers (one domain: the codes)
            key = codes if D == 1 else codes * D + self.domain
            for j in range(k):
                out[:, j] = np.bincount(key, weights=self.values[:, j], minlength=size * D)
            return out.reshape(size, D * k)
        key = codes[ok] * D + self.domain[ok]
        for j in range(k):
            out[:, j] = np.bincount(key, weights=self.values[ok, j], minlength=size * D)
        return out.reshape(size, D * k)

    def dense(self) -> np.ndarray:
        """The full (n x D*k) influence matrix, zeros outside each column's domain."""
        D, k = self.n_domains, self.values.shape[1]
        out = np.zeros((len(self.domain), D, k))
        ok = self.domain >= 0
        out[np.flatnonzero(ok), self.domain[ok], :] = self.values[ok]
        return out.reshape(len(self.domain), D * k)


def group_sum(codes: np.ndarray, values, size: int) -> np.ndarray:
    """Column sums of ``values`` (n x p) within groups ``codes`` (0..size-1): (size x p).

    Examples
    --------
    >>> import numpy as np
    >>> group_sum(np.array([0, 1, 0]), np.array([1.0, 2.0, 3.0]), 2)
    array([4., 2.])
    """
    if isinstance(values, DomainColumns):
        return values.group_sum(codes, size)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=size)
    out = np.empty((size, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=size)
    return out


def _lonely_error(stage_index: int, labels: np.ndarray) -> LonelyPSUError:
    shown = show_list(labels, limit=10)
    return LonelyPSUError(
        f"stratum {shown} has only one PSU at stage {stage_index + 1}, so its variance "
        f"cannot be estimated ({len(labels)} such strata). Choose how to handle single-PSU "
        "strata with lonely_psu=: 'adjust' (centre at the grand mean; conservative, the usual "
        "choice), 'average' (use the average variance of the other strata), 'remove' or "
        "'certainty' (the stratum adds no variance), or merge the stratum with a neighbour. "
        "In R: options(survey.lonely.psu = 'adjust')."
    )


def _check_lonely_pps(stage: Stage, s: int, lonely_psu: str) -> None:
    """Single-PSU strata in a PPS (Brewer) stage: ``"fail"`` raises as at any stage;
    ``"remove"``/``"certainty"`` let them add nothing (as documented); ``"adjust"`` centres the
    unit's total at 0 with scale ``1 - pi_i`` (:func:`_brewer_stage`, as R); ``"average"`` has no
    verified PPS form here, so it raises instead of guessing."""
    lonely = stage.n_units == 1
    if not lonely.any():
        return
    if lonely_psu == "fail":
        raise _lonely_error(s, stage.stratum_labels[lonely])
    if lonely_psu == "average":
        from socialhealth.errors import DesignError

        raise DesignError(
            f"stratum {show(stage.stratum_labels[lonely][0])} has a single PSU in a PPS (Brewer) "
            f"stage; lonely_psu={lonely_psu!r} is not implemented for PPS stages. Use "
            f"lonely_psu='adjust' (centre it at 0), 'remove' or 'certainty' (the stratum adds no "
            "variance), or merge the stratum with a neighbour."
        )


def _brewer_stage(totals: np.ndarray, stage: Stage, lonely_psu: str = "remove") -> np.ndarray:
    """First-stage PPS-without-replacement variance, Brewer's approximation.

    With ``pi_i`` the inclusion probability of PSU ``i``, ``n_h`` sampled PSUs in stratum ``h``,
    ``t_i`` the PSU totals of the (already weighted) influence values and ``tbar_h`` their mean
    in the stratum,

        V = sum_h n_h/(n_h - 1) sum_{i in h} (1 - pi_i) (t_i - tbar_h)(t_i - tbar_h)^T.

    This is the with-replacement (Hansen-Hurwitz type) estimator with the finite population
    correction ``1 - f_h`` replaced by ``1 - pi_i`` unit by unit: Brewer's approximation that
    follows from the stratified multistage recursion when a stage is PPS (Brewer 2002, ch. 9;
    the R ``survey`` vignette "Describing PPS designs to R"), and what R ``survey`` computes for
    ``svydesign(..., fpc = ~pi, pps = "brewer")`` (checked to 1e-10 in
    ``tests/design/test_pps.py``). Units taken with certainty (``pi_i = 1``) add nothing; a stratum
    with a single PSU adds nothing, except under ``lonely_psu="adjust"``: ``(1 - pi_i) t_i t_i^T``
    (centred at 0, the population mean of the influence values, with the stratum's scale
    ``m_h (1 - f_h)`` read as ``1 - pi_i``; R survey 4.1-1's value, checked in
    ``tests/design/test_fuzz_pps_twophase_vs_r.py``).

    References
    ----------
    Brewer KRW (2002) *Combined Survey Sampling Inference: Weighing Basu's Elephants*, Arnold,
    ch. 9. Berger YG (2004) A simple variance estimator for unequal probability sampling
    without replacement. J Appl Stat 31:305-315 (related estimators of this class).
    Lumley T, "Describing PPS designs to R", vignette of the R survey package.

    Examples
    --------
    In R: ``svytotal(~x, svydesign(id = ~1, fpc = ~p, pps = "brewer", data = df))``.
    """
    pi = stage.inclusion_prob
    if pi is None:   # not reached: called for stages with inclusion probabilities only
        raise DesignError("Brewer's variance needs the inclusion probabilities of the stage.")
    h = stage.unit_stratum
    n_h = stage.n_units
    stratum_mean = group_sum(h, totals, len(n_h)) / n_h[:, None]
    adjust = lonely_psu == "adjust"
    if adjust:
        stratum_mean[n_h == 1] = 0.0                     # lonely: centred at 0
    dev = totals - stratum_mean[h]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_h > 1, n_h / (n_h - 1), 1.0 if adjust else 0.0)[h]
    scale = np.clip(1.0 - pi, 0.0, None) * factor
    dev = dev * np.sqrt(scale)[:, None]
    return dev.T @ dev


def taylor_vcov(
    Z: np.ndarray | DomainColumns,
    stages: list[Stage],
    lonely_psu: str = "fail",
    adjust_domain_lonely: bool = False,
    one_stage: bool = False,
    rows: np.ndarray | None = None,
    stage_residuals=(),
) -> np.ndarray:
    """Design covariance matrix (p x p) of the totals of the columns of ``Z`` (n x p).

    Parameters
    ----------
    Z : weighted influence values; rows outside a subset are 0 but stay in the design.
    stages : sampling structure from :func:`socialhealth.design.structure.build_stages`.
    lonely_psu : handling of single-unit strata (see module docstring).
    adjust_domain_lonely : also treat a stratum as lonely when only one of its units has
        non-zero values (a domain with one PSU in a stratum), as R's
        ``options(survey.adjust.domain.lonely = TRUE)``.
    one_stage : use the first stage only (R ``survey.ultimate.cluster = TRUE``).
    rows : optional (n x p) booleans, the rows used by each column (for single-PSU strata:
        which strata hold rows of each estimate); default: see :func:`_unit_rows`.
    stage_residuals : residualizers with a ``stage`` attribute ``s`` (within-cluster
        calibration, ``calibrate(stage=1)``): ``Z`` is replaced by ``residualize(Z)`` from
        stage ``s + 1`` on, so the stage-``s`` term uses ``Z`` itself.

    Returns
    -------
    numpy.ndarray of shape (p, p)
        ``sum_s V_s`` with ``V_s`` the stage formula of the module docstring (Wolter 2007,
        ch. 6; Lumley 2010, §3.2).

    Examples
    --------
    Two strata of two PSUs; PSU totals 1, 3 in stratum 1 and 2, 2 in stratum 2, so
    ``V = 2/(2-1) * ((1-2)^2 + (3-2)^2) + 0 = 4``:

    >>> import numpy as np, pandas as pd
    >>> from socialhealth.design.structure import build_stages
    >>> df = pd.DataFrame({"psu": [1, 2, 3, 4], "st": [1, 1, 2, 2]})
    >>> taylor_vcov(np.array([1.0, 3.0, 2.0, 2.0]),
    ...             build_stages(df, ["psu"], ["st"], [], nest=False))
    array([[4.]])

    In R: ``svyrecvar(Z, design$cluster, design$strata, design$fpc)`` (``vcov(svytotal(...))``).
    """
    if not isinstance(Z, DomainColumns):
        Z = np.asarray(Z, dtype=float)
        if Z.ndim == 1:
            Z = Z[:, None]
    p = Z.shape[1]
    V = np.zeros((p, p))
    multiplier = np.ones(stages[0].n_strata)
    for s, st in enumerate(stages):
        for cal in stage_residuals:
            if cal.stage == s:
                Z = cal.residualize(Z.dense() if isinstance(Z, DomainColumns) else Z)
        if s > 0:
            prev = stages[s - 1]
            if prev.inclusion_prob is not None:
                # below a PPS stage the next stage is weighted by the unit's inclusion probability
                carried = multiplier[prev.unit_stratum] * prev.inclusion_prob
            else:
                prev_frac = np.where(np.isfinite(prev.pop_units), prev.n_units / prev.pop_units,
                                     0.0)
                carried = (multiplier * prev_frac)[prev.unit_stratum]      # per previous-stage unit
            multiplier = carried[st.parent_of_stratum]
            if not np.any(multiplier > 0):
                break
        if st.pps is not None:
            # Overton / Hartley-Rao / joint probabilities: one-stage designs only (as R)
            V += st.pps.vcov(Z)
            break
        totals = group_sum(st.unit, Z, st.n_psu)
        if st.inclusion_prob is not None:
            _check_lonely_pps(st, s, lonely_psu)
            V += _brewer_stage(totals * np.sqrt(multiplier[st.unit_stratum])[:, None], st,
                               lonely_psu)
        else:
            V += _stratified_stage(totals, st, s, multiplier, lonely_psu, adjust_domain_lonely,
                                   lambda st=st, Z=Z: _unit_rows(Z, st, rows))
        later_stages = st.inclusion_prob is not None or np.all(np.isfinite(st.pop_units))
        if one_stage or not later_stages:
            break
    return V


def average_boost(present: np.ndarray, lonely: np.ndarray,
                  parent: np.ndarray | None = None) -> np.ndarray:
    """The factor ``H / H_ok`` of ``lonely_psu="average"`` (module docstring).

    ``present`` (strata x columns) marks the strata with data for each estimate, ``lonely``
    (strata) the single-unit ones, ``parent`` (strata) the enclosing unit of each stratum (all
    0 at the first stage). Returns (parents x columns): the number of strata with data over
    those among them that are not lonely (0 where none is).

    Examples
    --------
    Three strata with data, one of them lonely: ``3 / 2``.

    >>> import numpy as np
    >>> average_boost(np.array([[True], [True], [True]]), np.array([False, True, False]))
    array([[1.5]])

    In R: ``options(survey.lonely.psu = "average")``.
    """
    if parent is None:
        parent = np.zeros(len(lonely), dtype=np.int64)
    n_parent = int(parent.max()) + 1
    H = group_sum(parent, present.astype(float), n_parent)
    H_ok = group_sum(parent, (present & ~lonely[:, None]).astype(float), n_parent)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(H_ok > 0, H / H_ok, 0.0)


def _unit_rows(Z, st: Stage, rows: np.ndarray | None = None) -> np.ndarray:
    """(units x columns): whether each unit of stage ``st`` holds a row used by each column.

    ``rows`` (n x columns), when given, marks the rows used by each column. Otherwise domain
    columns (:class:`DomainColumns`) use the rows of their domain and dense columns the rows
    with a non-zero value in any column (rows outside the analysis are all 0)."""
    if rows is not None:
        return group_sum(st.unit, rows.astype(float), st.n_psu) > 0
    if isinstance(Z, DomainColumns):
        D, k = Z.n_domains, Z.values.shape[1]
        ok = Z.domain >= 0
        key = st.unit[ok] * D + Z.domain[ok]
        has = np.bincount(key, minlength=st.n_psu * D).reshape(st.n_psu, D) > 0
        return np.repeat(has, k, axis=1)            # column d * k + j
    used = np.any(Z != 0, axis=1)
    has = np.bincount(st.unit, weights=used.astype(float), minlength=st.n_psu) > 0
    return np.repeat(has[:, None], Z.shape[1], axis=1)


def _stratified_stage(totals, st: Stage, s: int, multiplier, lonely_psu: str,
                      adjust_domain_lonely: bool, unit_rows=None) -> np.ndarray:
    """One stage of the stratified with/without-replacement variance (module docstring).

    ``unit_rows()`` gives the units holding rows used by each column (:func:`_unit_rows`);
    without it a unit counts when its total is non-zero."""
    n_h = st.n_units
    f = np.where(np.isfinite(st.pop_units), n_h / st.pop_units, 0.0)
    census = f >= 1 - 1e-7
    h_of_unit = st.unit_stratum
    nonzero = np.any(totals != 0, axis=1)
    lonely = n_h == 1
    if adjust_domain_lonely:
        active_units = np.bincount(h_of_unit, weights=nonzero.astype(float), minlength=st.n_strata)
        lonely = lonely | ((active_units == 1) & (n_h > 1))
    lonely &= ~census & (multiplier > 0)
    stratum_mean = group_sum(h_of_unit, totals, st.n_strata) / n_h[:, None]
    dev = totals - stratum_mean[h_of_unit]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n_h > 1, (1 - f) * n_h / (n_h - 1), 0.0) * multiplier
    scale = np.where(census, 0.0, scale)
    column_boost = None
    if lonely.any():
        rows = (totals != 0) if unit_rows is None else unit_rows()
        if lonely_psu == "fail":
            # only strata holding rows of the estimate (R drops the other rows first: subset,
            # na.rm, svyby), so a subset without the single-PSU stratum is not refused
            has_rows = group_sum(h_of_unit, rows.any(axis=1).astype(float), st.n_strata) > 0
            if (lonely & has_rows).any():
                raise _lonely_error(s, st.stratum_labels[lonely & has_rows])
        lonely_unit = lonely[h_of_unit]
        if lonely_psu == "adjust":
            # centre the lonely unit at the population mean of the influence values, 0
            # (R: "centred at the population mean rather than the stratum mean")
            if adjust_domain_lonely:
                dev[lonely_unit] = np.where(nonzero[lonely_unit, None], totals[lonely_unit], 0.0)
            else:
                dev[lonely_unit] = totals[lonely_unit]
            scale = np.where(lonely & (n_h == 1), (1 - f) * multiplier, scale)
        elif lonely_psu in ("remove", "certainty", "fail"):   # "fail": strata without rows
            scale = np.where(lonely, 0.0, scale)
        elif lonely_psu == "average":
            # lonely strata are left out and the rest scaled by H / H_ok, counting (per
            # estimate and per enclosing unit) only strata with rows used by that estimate
            scale = np.where(lonely, 0.0, scale)
            parent = st.parent_of_stratum
            present = group_sum(h_of_unit, rows.astype(float), st.n_strata) > 0   # (H, p)
            boost = average_boost(present, lonely, parent)            # (parent, column)
            # data only in lonely strata (of the design or of an enclosing unit): nothing to
            # average over, the variance is undefined (R: NaN, its H / H_ok is 1 / 0)
            with_data = group_sum(parent, present.astype(float), boost.shape[0]) > 0
            boost = np.where(with_data & (boost == 0), np.nan, boost)
            column_boost = boost[parent][h_of_unit]                   # (unit, column)
        else:  # pragma: no cover - validated in the constructor
            raise ValueError(lonely_psu)
    dev = dev * np.sqrt(scale[h_of_unit])[:, None]
    if column_boost is not None:
        dev = dev * np.sqrt(column_boost)
    return dev.T @ dev
