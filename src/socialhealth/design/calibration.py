"""Calibration of survey weights: post-stratification, raking and GREG calibration.

Calibration changes the weights ``w_i`` to ``w_i g_i`` so that the weighted sample totals of
auxiliary variables ``x_i`` equal known population totals ``T_x``:

    sum_i w_i g_i x_i = T_x.

* :func:`post_stratify`: ``x`` = indicators of the cells of one (cross-classified) variable;
  ``g_i = N_c / Nhat_c`` in cell ``c`` (Holt & Smith 1979).
* :func:`rake`: several margins matched one at a time, repeatedly (iterative proportional
  fitting, Deming & Stephan 1940).
* :func:`calibrate`: any auxiliary variables, ``g_i = F(x_i' lambda)`` with ``F`` linear (GREG),
  exponential (raking) or the bounded logit of Deville & Sarndal (1992).

Every function returns a new design of the same kind.

Variance. For a Taylor design, a calibrated estimator behaves like the estimator applied to
the residuals of its influence values from the calibration model (Deville & Sarndal 1992;
Sarndal, Swensson & Wretman 1992, §6.6; Lumley 2010, §7.3-7.4). The new design therefore
carries a *residualizer* (``design._calibrations``) that the variance kernel applies to the
weighted influence values ``Z`` before the usual design variance:

* post-stratification: ``Z_i - w_i * ubar_c(i)``, where ``u = Z / w`` and ``ubar_c`` is the
  ``w``-weighted mean of ``u`` in post-stratum ``c`` (``w`` = calibrated weights);
* GREG / calibrate(): ``Z_i - w_i x_i' b`` with ``b`` the weighted least-squares coefficients of
  ``u`` on ``x`` with the *input* (pre-calibration) weights, ``w`` = calibrated weights, whatever
  the calibration function (the linear residuals are the asymptotic equivalent for all of them);
* raking: a post-stratification step for each margin in turn, with the plain (unweighted) cell
  mean of ``u`` and each margin's weights from the last raking sweep, the sweep repeated ten
  times (R's approximation of the projection on the margins' indicators).

These reproduce R ``survey`` 4.1-1 (``svyrecvar``) to rounding error (see
``tests/design/fixtures/calibration/make_calibration.R``).

For a replicate design the full-sample weights and each replicate's weights are calibrated
separately to the same population totals (R ``postStratify.svyrep.design``,
``calibrate.svyrep.design``), and the variance comes from the replicates as usual.

References
----------
Deville JC, Sarndal CE (1992) Calibration estimators in survey sampling. JASA 87:376-382.
Holt D, Smith TMF (1979) Post stratification. JRSS A 142:33-46.
Deming WE, Stephan FF (1940) On a least squares adjustment of a sampled frequency table when
the expected marginal totals are known. Ann Math Stat 11:427-444.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
"""
from __future__ import annotations

import copy
import functools
import re
import warnings
from dataclasses import dataclass
from typing import Literal, Mapping, cast

import numpy as np
import pandas as pd

from socialhealth._options import is_choice, is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import r_number, r_quoted, show, show_given, show_list
from socialhealth.design import calibration_options as opts
from socialhealth.design.calibration_stage import calibrate_within_psus
from socialhealth.design.formula import additive_terms, r_column_name, rhs_matrix
from socialhealth.design.structure import as_list, require_columns
from socialhealth.design.variables import is_categorical
from socialhealth._deprecation import REMOVAL, renamed_parameter
from socialhealth.errors import (
    ArgumentError,
    ConvergenceError,
    ConvergenceWarning,
    DesignError,
    EstimationError,
    NegativeWeightsWarning,
    SocialHealthWarning,
)

__all__ = ["post_stratify", "rake", "calibrate"]

#: ``calfun=`` of :func:`calibrate`.
Calfun = Literal["linear", "raking", "logit"]
#: ``on_nonconvergence=`` of :func:`rake` and :func:`calibrate`.
OnNonconvergence = Literal["raise", "warn"]


# ============================================================================ residualizers
def _safe_ratio(Z: np.ndarray, w: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        # rows in the sample have non-zero weight; a linear (GREG) calibration can make a
        # weight negative, and that row stays in the sample (as R)
        return np.where(w[:, None] != 0, Z / np.where(w != 0, w, 1.0)[:, None], 0.0)


@dataclass(frozen=True)
class PostStratumResidual:
    """Residuals of influence values from their post-stratum means (Holt & Smith 1979).

    ``residualize(Z) = Z - w * ubar[c]`` with ``u = Z / w`` and ``ubar[c]`` the mean of ``u`` in
    post-stratum ``c``: weighted by ``w`` (the calibrated weights at the time of
    post-stratification) when ``weighted`` is True, as R does for ``postStratify``; the plain
    mean over the cell's rows when False, as R's ``svyrecvar`` does for each raking margin.
    """

    codes: np.ndarray      # post-stratum of each row (-1: outside every cell / zero weight)
    weights: np.ndarray    # calibrated weights
    weighted: bool = True
    label: str = ""

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` (n or n x p) minus ``w`` times their post-stratum means of
        ``Z / w``."""
        Z = np.asarray(Z, dtype=float)
        one = Z.ndim == 1
        Z2 = Z[:, None] if one else Z
        w = self.weights
        ok = (self.codes >= 0) & (w != 0)
        codes = np.where(ok, self.codes, 0)
        size = int(codes.max()) + 1 if len(codes) else 0
        u = _safe_ratio(Z2, w)
        a = np.where(ok, w if self.weighted else 1.0, 0.0)
        asum = np.bincount(codes, weights=a, minlength=size)
        out = Z2.copy()
        for j in range(Z2.shape[1]):
            tot = np.bincount(codes, weights=a * u[:, j], minlength=size)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(asum > 0, tot / np.where(asum > 0, asum, 1.0), 0.0)
            out[:, j] = Z2[:, j] - np.where(ok, w * mean[codes], 0.0)
        return out[:, 0] if one else out


@dataclass(frozen=True)
class RegressionResidual:
    """Residuals of influence values from the GREG calibration model (Deville & Sarndal 1992).

    ``residualize(Z) = Z - w * X b`` with ``u = Z / w`` and ``b = (X' W0 X)^- X' W0 u``: weighted
    least squares with the input weights ``W0 = diag(w0)`` (``diag(w0 / v)`` for a
    heteroskedastic calibration model); ``w`` are the calibrated weights. With adjustments
    constant within clusters (``calibrate(aggregate=)``), ``X`` holds each row's cluster
    means ``xbar_c``.
    """

    X: np.ndarray          # n x q calibration variables (0 rows outside the sample)
    input_weights: np.ndarray
    weights: np.ndarray
    label: str = ""
    #: ``1 / v`` of a heteroskedastic calibration model (``calibrate(variance=)``), else None
    inverse_variance: np.ndarray | None = None

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` minus ``w X b``, ``b`` the WLS fit of ``Z / w`` on ``X``
        (weights ``w0``, times ``1 / v`` in a heteroskedastic model)."""
        Z = np.asarray(Z, dtype=float)
        one = Z.ndim == 1
        Z2 = Z[:, None] if one else Z
        w, w0 = self.weights, self.input_weights
        if self.inverse_variance is not None:
            w0 = w0 * self.inverse_variance
        u = _safe_ratio(Z2, w)
        Xw = self.X * w0[:, None]
        b, *_ = np.linalg.lstsq(Xw.T @ self.X, Xw.T @ u, rcond=None)
        out = Z2 - w[:, None] * (self.X @ b)
        return out[:, 0] if one else out


@dataclass(frozen=True)
class RakingResidual:
    """Residuals from raking margins: post-stratum residuals on each margin, swept ``sweeps`` times.

    Each margin carries the weights it had when it was post-stratified in the last raking
    sweep and uses the plain (unweighted) cell mean of ``Z / w``; ten sweeps. This is what R
    ``svyrecvar`` does for raked designs (survey 4.1-1), reproduced here for parity; it
    approximates the projection on the margins' indicators (the exact asymptotic raking
    residual is the weighted version, Deville, Sarndal & Sautory 1993).
    """

    margins: tuple          # tuple of PostStratumResidual
    sweeps: int = 10
    label: str = ""

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` after ``sweeps`` passes of post-stratum residuals over the
        margins."""
        for _ in range(self.sweeps):
            for m in self.margins:
                Z = m.residualize(Z)
        return Z


# ============================================================================ helpers
def _check_names(value, what: str, expected: str) -> None:
    """Refuse, with a DesignError saying what was given, column names that are not text (a
    pandas Series of the column's values was printed whole as a missing column's "name")."""
    if value is None:              # (no column: said by the caller)
        return
    items = [value] if isinstance(value, str) else None
    if items is None and isinstance(value, (list, tuple, pd.Index)):
        items = list(value)
    if items is None or not all(isinstance(v, str) for v in items):
        raise DesignError(f"{what} must be {expected}, not {show_given(value)}.")


def _norm_key(v):
    """Make labels comparable across dtypes (1 == 1.0 == np.int64(1); strings stay strings)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if float(v).is_integer() else float(v)
    return str(v)


def _cells(design, columns: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Cell code of each row in the sample (-1 for rows with zero weight) and the cell keys."""
    design._check_columns(columns)
    active = design.weights != 0        # (negative after a linear calibration: in the sample)
    frame = design.data[columns]
    na = frame.isna().any(axis=1).to_numpy() & active
    if na.any():
        raise DesignError(
            f"{int(na.sum())} row(s) of the sample have a missing value in "
            f"{', '.join(map(repr, columns))}; "
            "every respondent needs a calibration cell. Impute or recode the missing values "
            "(e.g. an explicit 'missing' category with its own population count) first."
        )
    # vectorised: factorise each column, normalise its distinct labels, combine the codes
    per_col = []
    for c in columns:
        raw_codes, raw_uniq = pd.factorize(frame[c], use_na_sentinel=True)
        labels = [_norm_key(u) for u in raw_uniq]
        distinct = list(dict.fromkeys(labels))
        remap = np.array([distinct.index(lab) for lab in labels], dtype=np.int64)
        per_col.append((np.where(raw_codes >= 0, remap[np.clip(raw_codes, 0, None)], -1), distinct))
    key = np.zeros(len(active), dtype=np.int64)
    for col_codes, distinct in per_col:
        key = key * max(len(distinct), 1) + np.clip(col_codes, 0, None)
    combos, inverse = np.unique(key[active], return_inverse=True)
    keys = []
    for k in combos:
        row = []
        for _col_codes, distinct in reversed(per_col):
            size = max(len(distinct), 1)
            row.append(distinct[int(k % size)])
            k //= size
        keys.append(tuple(reversed(row)))
    order = sorted(range(len(keys)), key=lambda i: tuple((str(type(x)), x) for x in keys[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.full(len(active), -1, dtype=np.int64)
    codes[active] = rank[np.asarray(inverse).ravel()]
    uniq = [keys[i] for i in order]
    return codes, uniq


def _population_counts(population, columns: list[str]) -> dict[tuple, float]:
    """{cell key tuple: N} from a DataFrame with the columns + ``Freq``, or a dict/Series."""
    if isinstance(population, pd.DataFrame):
        missing = [c for c in columns if c not in population.columns]
        if missing or "Freq" not in population.columns:
            need = [*missing, *([] if "Freq" in population.columns else ["Freq"])]
            raise DesignError(
                f"the population table lacks column(s) {', '.join(map(repr, need))}; it needs the "
                f"post-stratum column(s) {', '.join(map(repr, columns))} and the population counts "
                "in a column named 'Freq' (as R's postStratify)."
            )
        keys = [tuple(_norm_key(v) for v in row)
                for row in population[columns].itertuples(index=False, name=None)]
        counts = pd.to_numeric(population["Freq"], errors="coerce").to_numpy(dtype=float)
    elif isinstance(population, (Mapping, pd.Series)):
        items = list(population.items())
        keys = [tuple(_norm_key(x) for x in (k if isinstance(k, tuple) else (k,))) for k,
                _ in items]
        try:
            counts = np.array([float(v) for _, v in items])
        except (TypeError, ValueError):
            bad = next(v for _, v in items if not _is_float(v))
            raise DesignError(
                f"population counts must be numbers; got {show_given(bad)} for {columns}."
            ) from None
        if any(len(k) != len(columns) for k in keys):
            raise DesignError(
                f"population keys must be tuples of {len(columns)} value(s) (one per column of "
                f"{columns}); got e.g. {show(items[0][0])}."
            )
    else:
        raise DesignError(
            "population must be a DataFrame with the post-stratum columns and 'Freq', or a "
            f"dict/Series {{level: count}}; got {type(population).__name__}."
        )
    if len(set(keys)) != len(keys):
        raise DesignError("the population table lists a cell more than once; give one count per "
                          "cell.")
    bad = ~np.isfinite(counts) | (counts < 0)
    if bad.any():
        k = keys[int(np.flatnonzero(bad)[0])]
        raise DesignError(
            f"population count for cell {show(k if len(k) > 1 else k[0])} is "
            f"{show(counts[bad][0])}; population counts must be numbers >= 0 (0 only for a cell "
            "without respondents). "
            "Drop empty cells from both the population table and the sample, or collapse them "
            "with a neighbouring cell."
        )
    return dict(zip(keys, counts, strict=True))


def _match_cells(uniq: list[tuple], pop: dict[tuple, float], columns: list[str]) -> np.ndarray:
    in_sample = set(uniq)
    zero_with_rows = [k for k in uniq if pop.get(k) == 0]
    if zero_with_rows:
        k = zero_with_rows[0]
        raise DesignError(
            f"population count for cell {show(k if len(k) > 1 else k[0])} of {columns} is 0 but "
            "the sample has respondents in it, and a cell with respondents needs a positive "
            "population count (R: 'Strata in sample absent from population'). Fix the "
            "population table, or collapse the cell with a neighbouring cell in both the "
            "population table and the sample."
        )
    # an empty population cell without respondents has nothing to adjust (as R)
    pop = {k: v for k, v in pop.items() if v > 0 or k in in_sample}
    not_in_pop = [k for k in uniq if k not in pop]
    if not_in_pop:
        shown = show_list([k if len(k) > 1 else k[0] for k in not_in_pop], limit=5)
        raise DesignError(
            f"post-stratum cell(s) {shown} of {columns} occur in the sample but not in the "
            "population table; add their population counts (or recode the sample to the "
            "population's categories)."
        )
    not_in_sample = [k for k in pop if k not in in_sample]
    if not_in_sample:
        shown = show_list([k if len(k) > 1 else k[0] for k in not_in_sample], limit=5)
        raise DesignError(
            f"population cell(s) {shown} of {columns} have no respondents in the sample, so their "
            "weights cannot be adjusted; collapse them with a neighbouring cell in both the "
            "population table and the sample."
        )
    return np.array([pop[k] for k in uniq], dtype=float)


def _scale_cells(W: np.ndarray, codes: np.ndarray, N: np.ndarray, what: str) -> np.ndarray:
    """Multiply each column of W (n x k) so that its cell totals equal N (zero rows stay zero)."""
    inside = codes >= 0
    c = np.where(inside, codes, 0)
    out = W.copy()
    for j in range(W.shape[1]):
        tot = np.bincount(c, weights=np.where(inside, W[:, j], 0.0), minlength=len(N))
        if np.any(tot <= 0):
            raise EstimationError(
                f"{what}: a cell has zero (or negative) estimated size in the "
                f"{'full sample' if j == 0 else f'replicate {j}'}, "
                "so it cannot be scaled to its population count; collapse small cells."
            )
        out[:, j] = np.where(inside, W[:, j] * (N / tot)[c], W[:, j])
    return out


def _all_weights(design) -> np.ndarray:
    """[w, W_1 .. W_R] as columns (replicate designs) or just w."""
    if design.kind == "replicate":
        return np.column_stack([design._w, design._W])
    return design._w[:, None]


def _r_value(v) -> str:
    """An R literal for a label or number."""
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{r_number(float(v))}"
    return r_quoted(v)


def _r_name(name: str) -> str:
    """A name as R writes it in ``c(name = ...)``: backticked unless syntactic."""
    return name if re.fullmatch(r"[A-Za-z][A-Za-z0-9._]*", name) else f"`{name}`"


def _r_formula_text(formula) -> str:
    """The calibration formula as R reads it (``~`` added when missing)."""
    text = (formula if isinstance(formula, str) else str(formula)).strip()
    return text if text.startswith("~") else "~" + text


def _r_variance(variance, design) -> str:
    """R's ``variance =`` for ours: a column is that column of the design's R object (R's
    ``calibrate`` wants one value per row of it, or one coefficient per calibration column),
    numbers are written out."""
    if isinstance(variance, str):
        name = variance if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", variance) else f"`{variance}`"
        return f"@D@$variables${name}"
    values = np.asarray(variance, dtype=float).ravel()
    if values.size == 1:
        return _r_value(float(values[0]))
    return "c(" + ", ".join(_r_value(float(v)) for v in values) + ")"


def _r_population_frame(pop: dict, columns: list[str]) -> str:
    """R ``data.frame`` of population counts (post-stratum columns and ``Freq``)."""
    cols = [f"`{c}`" if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._]*", c) else c for c in columns]
    parts = [f"{name} = c({', '.join(_r_value(k[i]) for k in pop)})"
             for i, name in enumerate(cols)]
    parts.append(f"Freq = c({', '.join(_r_value(v) for v in pop.values())})")
    return f"data.frame({', '.join(parts)})"


def _new_design(design, W: np.ndarray, residual=None, recipe=None, r_call: str | None = None):
    """The calibrated copy. Taylor designs also remember the pre-calibration weights and how to
    redo each calibration (``recipe(design) -> design``), so that
    ``to_replicate(..., recalibrate=True)`` can calibrate every replicate."""
    new = copy.copy(design)
    new._w = W[:, 0].copy()
    if r_call is not None:          # R's call on the design, "@D@" standing for the design
        new._r_steps = tuple(getattr(design, "_r_steps", ())) + (("call", r_call),)
    if design.kind == "replicate":
        new._W = W[:, 1:].copy()
        if hasattr(new, "_degf_cache"):
            new._degf_cache = {}
    elif residual is not None:
        new._calibrations = tuple(getattr(design, "_calibrations", ())) + (residual,)
        base = getattr(design, "_calibration_base", None)
        new._calibration_base = design._w.copy() if base is None else base
        new._calibration_recipes = tuple(getattr(design, "_calibration_recipes", ())) + (recipe,)
    return new


def recalibrate_replicates(design, replicate_design):
    """Apply a Taylor design's calibrations, in order, to a replicate design built from its
    pre-calibration weights (used by ``to_replicate(..., recalibrate=True)``).

    Each replicate's weights are then post-stratified / raked / calibrated like the full-sample
    weights, so the replicate variance reflects the calibration (Lumley 2010, ch. 7).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> ps = dclus1.post_stratify("stype", {"E": 4421, "H": 755, "M": 1018})
    >>> cols = ["term", "estimate", "se"]
    >>> print(ps.to_replicate("jk1").mean("api00").to_frame()[cols].round(3).to_string())
        term  estimate      se
    0  api00   656.187  16.783
    >>> r = ps.to_replicate("jk1", recalibrate=True)     # calls recalibrate_replicates
    >>> print(r.mean("api00").to_frame()[cols].round(3).to_string())
        term  estimate      se
    0  api00   656.187  17.405

    In R: ``postStratify(as.svrepdesign(dclus1), ~stype, pop.types)`` (calibration after
    conversion).
    """
    for recipe in getattr(design, "_calibration_recipes", ()):
        replicate_design = recipe(replicate_design)
    return replicate_design


# ============================================================================ post-stratification
def post_stratify(design, strata, population, partial: bool = False):
    """Post-stratify a design to known population counts (R ``postStratify``).

    The weights in post-stratum ``c`` are multiplied by ``g_c = N_c / Nhat_c``, with ``N_c`` the
    population count and ``Nhat_c = sum_{i in c} w_i`` the estimated count, so the weighted
    counts equal the population counts (Holt & Smith 1979). For a Taylor design the variance
    uses the residuals of the influence values from their weighted post-stratum means,
    ``z_i - w_i ubar_c`` (Lumley 2010, §7.2); for a replicate design every replicate's weights
    are post-stratified as well.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    strata : str or list of str
        Post-stratification column(s); several columns are cross-classified.
    population : DataFrame or dict or Series
        The population count of every cell: a DataFrame with the ``strata`` columns and a
        ``Freq`` column (as R), or a mapping ``{level: N}`` (``{(level1, level2): N}`` for
        several columns). A cell with count 0 and no respondents is ignored (as R).
    partial : bool, default False
        Allow population cells that have no respondents (they are ignored, as R's
        ``partial = TRUE``); sample cells missing from the population always raise.

    Returns
    -------
    A new design of the same kind with the calibrated weights.

    Raises
    ------
    DesignError
        Missing values in ``strata`` among respondents, a sample cell not in the population,
        a population cell without respondents (unless its count is 0), a count of 0 for a
        cell with respondents, or negative counts.
    MissingColumnError
        A ``strata`` column is not in the data.

    References
    ----------
    Holt D, Smith TMF (1979) Post stratification. JRSS A 142:33-46.
    Lumley T (2010) *Complex Surveys*, Wiley, §7.2.

    Examples
    --------
    >>> import pandas as pd
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> pop_types = pd.DataFrame({"stype": ["E", "H", "M"], "Freq": [4421, 755, 1018]})
    >>> ps = dclus1.post_stratify("stype", pop_types)
    >>> print(ps.total("stype").to_frame()[["level", "estimate", "se"]].round(3).to_string())
      level  estimate   se
    0     E    4421.0  0.0
    1     H     755.0  0.0
    2     M    1018.0  0.0
    >>> ps.mean("api00")
    Survey mean: 1-stage cluster survey design (Taylor linearisation)
     term level  estimate      se  ci_low  ci_high  df
    api00  None   656.187 16.0235  621.82  690.554  14
    119 rows used; CIs: t with design df
    In R: svymean(~api00, design, na.rm = TRUE)
    >>> rps = dclus1.to_replicate("jk1").post_stratify("stype", {"E": 4421, "H": 755, "M": 1018})
    >>> print(rps.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate      se
    0  api00   656.187  17.405

    In R: ``pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))``;
    ``dclus1p <- postStratify(dclus1, ~stype, pop.types)``; ``svytotal(~stype, dclus1p)``;
    ``svymean(~api00, dclus1p)``;
    ``svymean(~api00, postStratify(as.svrepdesign(dclus1, type = "JK1"), ~stype, pop.types))``.
    """
    if not isinstance(partial, (bool, np.bool_)):
        raise DesignError(f"partial= must be True or False, not {show_given(partial)}.")
    _check_names(strata, "strata=", "the name of the post-stratification column or a list "
                 "of names, e.g. 'stype' or ['stype', 'sex']")
    columns = [str(c) for c in as_list(strata)]
    if not columns:
        raise DesignError("name at least one post-stratification column in strata=.")
    codes, uniq = _cells(design, columns)
    pop = _population_counts(population, columns)
    if partial:
        pop = {k: v for k, v in pop.items() if k in set(uniq)}
    N = _match_cells(uniq, pop, columns)
    W = _scale_cells(_all_weights(design), codes, N, "post-stratification")
    residual = PostStratumResidual(codes, W[:, 0].copy(), weighted=True, label="+".join(columns))
    r_call = (f"postStratify(@D@, ~{' + '.join(columns)}, {_r_population_frame(pop, columns)}"
              + (", partial = TRUE)" if partial else ")"))
    return _new_design(design, W, residual,
                       lambda d: post_stratify(d, strata, population, partial=partial), r_call)


# ============================================================================ raking
def _check_on_nonconvergence(value) -> None:
    if not is_choice(value, ("raise", "warn")):
        raise DesignError(f"on_nonconvergence={show_given(value)} must be 'raise' or 'warn'.")


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _rake_control(func):
    """Accept rake's old ``control={"maxit": ..., "epsilon": ...}`` (keyword or third argument)."""

    @functools.wraps(func)
    def wrapper(design, margins, *args, **kwargs):
        control = kwargs.pop("control", None)
        if args:
            if len(args) > 2:
                raise DesignError("rake() takes design and margins as positional arguments; "
                                  "give max_iter=, epsilon= and on_nonconvergence= by name.")
            if args[0] is not None and not isinstance(args[0], Mapping):
                raise DesignError("give rake's max_iter= and epsilon= by name, e.g. "
                                  "rake(margins, max_iter=50, epsilon=1e-10).")
            if control is not None:
                raise ArgumentError("rake() got control= twice (keyword and positional).")
            control = args[0]
            if len(args) == 2:
                kwargs.setdefault("on_nonconvergence", args[1])
        if control is not None:
            if not isinstance(control, Mapping):
                raise DesignError(f"control= must be a dict with 'maxit' and 'epsilon'; got "
                                  f"{control!r}. Use max_iter= and epsilon= instead.")
            unknown = set(control) - {"maxit", "epsilon"}
            if unknown:
                raise DesignError(f"unknown control option(s) {sorted(unknown)}; use "
                                  "max_iter= and epsilon=.")
            for key, new in (("maxit", "max_iter"), ("epsilon", "epsilon")):
                if key in control:
                    if new in kwargs:
                        raise ArgumentError(f"rake() got both {new}= and control={{'{key}': ...}};"
                                            f" give only {new}=.")
                    kwargs[new] = control[key]
            warnings.warn("rake(control={'maxit': ..., 'epsilon': ...}) is deprecated since "
                          "socialhealth 0.1.0; use rake(..., max_iter=..., epsilon=...) instead "
                          f"(the old form will be removed after {REMOVAL}).",
                          DeprecationWarning, stacklevel=user_stacklevel())
        return func(design, margins, **kwargs)

    # read by socialhealth._deprecation (mypy does not model attributes set on a function)
    wrapper.__deprecated_parameters__ = {  # type: ignore[attr-defined]
        "control": "max_iter, epsilon"}
    return wrapper


@_rake_control
def rake(design, margins, *, max_iter: int = 10, epsilon: float = 1.0,
         on_nonconvergence: OnNonconvergence = "raise"):
    """Rake a design to several population margins (R ``rake``).

    Iterative proportional fitting (Deming & Stephan 1940): post-stratify to the first margin,
    then the second, ..., and repeat the sweep. Convergence, as R: after a sweep, the largest
    change of any weighted count in the cross-classification of all margin variables since the
    previous sweep is below ``epsilon``
    (``epsilon >= 1``: an absolute count; ``epsilon < 1``: a fraction of the total weight).
    Every replicate of a replicate design goes through the same sweeps.

    The Taylor variance uses residuals of the influence values from the margins, obtained by
    sweeping a post-stratum residual step over the margins ten times (Deville, Sarndal &
    Sautory 1993; Lumley 2010, §7.3). As R's ``svyrecvar``, each step subtracts the plain cell
    mean of ``u = z / w`` times ``w`` (weights of the last raking sweep), which makes the SEs
    equal to R's; the fully weighted projection differs from it by up to about 1% in the
    api examples of the tests.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    margins : list of (columns, population) pairs
        ``columns`` a column name, or a list/tuple of names for a joint margin (their
        cross-classification, R's ``~a + b`` in ``sample.margins``); ``population`` as for
        :func:`post_stratify` (DataFrame with the columns and ``Freq``, or a mapping keyed by
        level tuples for a joint margin).
    max_iter : int, default 10
        At most this many sweeps (R's ``control = list(maxit = 10)``).
    epsilon : float, default 1
        Convergence tolerance (R's ``control = list(epsilon = 1)``). Use a small ``epsilon``
        (e.g. ``1e-10``) to rake to full convergence. (``control={"maxit": ..., "epsilon":
        ...}`` is the deprecated spelling of these two.)
    on_nonconvergence : {"raise", "warn"}, default "raise"
        What to do when the margins still change by more than ``epsilon`` after ``max_iter``
        sweeps: raise :class:`~socialhealth.errors.ConvergenceError`, or (``"warn"``, what R
        does) issue a :class:`~socialhealth.errors.ConvergenceWarning` and return the design
        after the last sweep (weights and variance exactly as R's).

    Raises
    ------
    ConvergenceError
        The margins still change by more than ``epsilon`` after ``max_iter`` sweeps (raise
        ``max_iter``; cells with zero counts in one margin but not the others can prevent
        convergence) and ``on_nonconvergence="raise"``. R only warns here.

    References
    ----------
    Deming WE, Stephan FF (1940) Ann Math Stat 11:427-444.
    Deville JC, Sarndal CE, Sautory O (1993) Generalized raking procedures in survey sampling.
    JASA 88:1013-1020. Lumley T (2010) *Complex Surveys*, §7.3.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> apipop = sh.datasets.load_example("apipop")      # the population frame
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> pop_types = {"E": 4421, "H": 755, "M": 1018}
    >>> pop_schwide = apipop["sch.wide"].value_counts()
    >>> pop_schwide.sort_index().to_dict()
    {'No': 1182, 'Yes': 5012}
    >>> rclus1 = dclus1.rake([("stype", pop_types), ("sch.wide", pop_schwide)])
    >>> print(rclus1.total("sch.wide").to_frame()[["level", "estimate", "se"]].round(1).to_string())
      level  estimate   se
    0    No    1182.0  0.0
    1   Yes    5012.0  0.0
    >>> print(rclus1.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate      se
    0  api00   656.384  16.893

    A joint margin (sex x age group) with a second margin (region):

    >>> import pandas as pd, socialhealth as sh
    >>> df = pd.DataFrame({"sex": list("ffmmffmm"), "age": list("yoyoyoyo"),
    ...                    "reg": list("nnnnssss"), "w": 1.0})
    >>> pop_sa = {("f", "o"): 30, ("f", "y"): 20, ("m", "o"): 25, ("m", "y"): 25}
    >>> r = sh.SurveyDesign(df, weights="w").rake([(("sex", "age"), pop_sa),
    ...                                            ("reg", {"n": 40, "s": 60})])
    >>> pd.Series(r.weights).groupby([df["sex"], df["age"]]).sum().round(6).tolist()
    [30.0, 20.0, 25.0, 25.0]


    In R: ``rclus1 <- rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide))``;
    ``svytotal(~sch.wide, rclus1)``; ``svymean(~api00, rclus1)``; a joint
    margin: ``rake(d, list(~sex + age, ~reg), list(pop.sa, pop.reg))``.
    """
    _check_on_nonconvergence(on_nonconvergence)
    try:
        # text ("10") and True were read as numbers, 2.5 cut to 2
        if not (is_number(max_iter) and float(max_iter).is_integer() and is_number(epsilon)):
            raise ValueError
        ctrl = {"maxit": int(max_iter), "epsilon": float(epsilon)}
    except (TypeError, ValueError, OverflowError):
        raise DesignError(f"rake() needs a whole number max_iter and a number epsilon; got "
                          f"max_iter={show_given(max_iter)}, epsilon={show_given(epsilon)}."
                          ) from None
    if ctrl["maxit"] < 1 or not ctrl["epsilon"] > 0:
        raise DesignError(f"rake() needs max_iter >= 1 and epsilon > 0; got "
                          f"max_iter={show_given(max_iter)}, epsilon={show_given(epsilon)}.")
    if not isinstance(margins, (list, tuple)) or not margins:
        raise DesignError("margins must be a non-empty list of (columns, population) pairs.")
    specs = []
    r_margins: list[tuple[list[str], dict]] = []
    for m in margins:
        if not isinstance(m, (list, tuple)) or len(m) != 2:
            raise DesignError("each margin must be a (columns, population) pair, e.g. ('stype', "
                              "pop_types).")
        columns = [str(c) for c in as_list(m[0])]
        codes, uniq = _cells(design, columns)
        N = _match_cells(uniq, _population_counts(m[1], columns), columns)
        specs.append((columns, codes, N))
        r_margins.append((columns, _population_counts(m[1], columns)))
    totals = [float(np.sum(N)) for _, _, N in specs]
    if max(totals) - min(totals) > 1e-6 * max(totals):
        from socialhealth.errors import SocialHealthWarning

        warnings.warn(
            f"the raking margins have different population totals "
            f"({', '.join(f'{t:g}' for t in totals)}); "
            "no set of weights can match them all, and the raked weights sum to the last "
            "margin's total (R's rake does the same, silently). Make the margins consistent.",
            SocialHealthWarning, stacklevel=user_stacklevel(),
        )
    W = _all_weights(design)
    eps = float(ctrl["epsilon"])
    if eps < 1:
        eps = eps * W[:, 0].sum()

    all_columns = list(dict.fromkeys(c for cols, _, _ in specs for c in cols))
    joint, joint_cells = _cells(design, all_columns)

    def tables(w):
        # the cross-classification of all margin variables (R: svytable of every raking variable)
        return np.bincount(np.where(joint >= 0, joint, 0), weights=np.where(joint >= 0, w, 0.0),
                           minlength=len(joint_cells))

    # replaced in every sweep (max_iter >= 1)
    margin_weights: list[np.ndarray] = [W[:, 0].copy() for _ in specs]
    old = tables(W[:, 0])
    converged = False
    for _ in range(int(ctrl["maxit"])):
        for k, (_columns, codes, N) in enumerate(specs):
            W = _scale_cells(W, codes, N, "raking")
            margin_weights[k] = W[:, 0].copy()
        new = tables(W[:, 0])
        delta = np.max(np.abs(new - old))
        old = new
        if delta < eps:
            converged = True
            break
    if not converged:
        msg = (f"raking did not converge in {ctrl['maxit']} sweeps (largest change of a margin "
               f"count in the last sweep {delta:.4g} > epsilon {eps:.4g}). Increase "
               "max_iter=, or check for margins that cannot be met together (cells "
               "empty in the sample).")
        if on_nonconvergence == "raise":
            raise ConvergenceError(msg + " on_nonconvergence='warn' returns the last sweep, as R.")
        warnings.warn(msg + " Returning the weights of the last sweep (as R).", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    residual = RakingResidual(
        tuple(PostStratumResidual(codes, mw, weighted=False, label="+".join(cols))
              for (cols, codes, _), mw in zip(specs, margin_weights, strict=True)),
        label=" | ".join("+".join(c) for c, _, _ in specs),
    )
    control = ("" if (ctrl["maxit"], ctrl["epsilon"]) == (10, 1.0) else
               f", control = list(maxit = {ctrl['maxit']}, epsilon = {r_number(ctrl['epsilon'])}"
               + (", verbose = FALSE)"))
    r_call = ("rake(@D@, list(" + ", ".join("~" + " + ".join(c) for c, _ in r_margins)
              + "), list(" + ", ".join(_r_population_frame(p, c) for c, p in r_margins)
              + ")" + control + ")")
    return _new_design(design, W, residual,
                       lambda d: rake(d, margins, max_iter=max_iter, epsilon=epsilon,
                                      on_nonconvergence=on_nonconvergence), r_call)


# ============================================================================ GREG calibration
_TERM = re.compile(r"^C\((.+)\)$")


def model_matrix(data: pd.DataFrame, formula) -> tuple[np.ndarray, list[str]]:
    """Calibration model matrix with R's column names (treatment contrasts, ``(Intercept)``).

    ``formula``: ``"~stype + api99"`` (terms separated by ``+``; ``-1`` or ``+0`` drops the
    intercept; ``C(x)`` forces ``x`` to be categorical) or a list of column names. Categorical
    columns give one indicator per level but the first, named ``<column><level>`` (R
    ``stypeH``); numeric columns are used as they are.

    Examples
    --------
    >>> X, names = model_matrix(pd.DataFrame({"g": ["a", "b", "b"], "x": [1.0, 2.0, 3.0]}),
    ...                         "~g + x")
    >>> names
    ['(Intercept)', 'gb', 'x']

    Formulas with interactions (``"~a*b + c"``, ``"~a:b"``, ``"~a*x"``) or ``I()`` terms are
    built by the package's one formula engine, :func:`socialhealth.design.formula.rhs_matrix`,
    with R's column names (``aa2:byes``) and R's column order (main effects, then
    interactions).

    >>> df = pd.DataFrame({"a": ["u", "v", "v", "u"], "b": ["n", "n", "y", "y"]})
    >>> model_matrix(df, "~a*b")[1]
    ['(Intercept)', 'av', 'by', 'av:by']

    In R: ``model.matrix(~g + x, data)``; ``model.matrix(~a*b, data)``.
    """
    if isinstance(formula, str) and re.search(r"[*:]|\bI\(", formula):
        return rhs_matrix(data, formula)
    if isinstance(formula, str):
        # the package's additive-formula parser (socialhealth.design.formula); spaces dropped
        intercept, terms, removed = additive_terms(formula, "calibration formula")
        terms = [t.replace(" ", "") for t in terms]
        if removed:
            raise DesignError(f"cannot remove term {removed[0].replace(' ', '')!r} from a "
                              "calibration formula.")
    else:
        _check_names(formula, "the calibration formula",
                     "text such as '~stype + api99' or a list of column names")
        intercept, terms = True, [str(t) for t in as_list(formula)]
    cols, names = [], []
    n = len(data)
    if intercept:
        cols.append(np.ones(n))
        names.append("(Intercept)")
    for t in terms:
        m = _TERM.match(t)
        var = m.group(1) if m else t
        require_columns(data, [var], "the design data (calibration formula)")
        s = data[var]
        if m or is_categorical(s) or pd.api.types.is_bool_dtype(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = list(s.cat.categories)
            else:
                levels = sorted(pd.unique(s.dropna()), key=lambda v: (str(type(v)), v))
            drop = 1 if (intercept or names) else 0
            for lv in levels[drop:]:
                cols.append(np.where(s.isna().to_numpy(), np.nan, (s == lv).to_numpy(dtype=float)))
                names.append(f"{var}{lv}")
        else:
            cols.append(s.to_numpy(dtype=float, na_value=np.nan))
            names.append(var)
    if not cols:
        raise DesignError("the calibration formula has no terms.")
    return np.column_stack(cols), names


def _calfun(name: str, L=-np.inf, U=np.inf):
    """(F(u), F'(u)) of the calibration function, g = F(x' lambda); F(0) = 1, F'(0) = 1.
    ``L``, ``U``: bounds on ``g``, numbers or one per row (checked by the caller)."""
    bounded = np.any(np.isfinite(L)) or np.any(np.isfinite(U))
    if name == "linear":
        def F(u):
            return np.clip(1 + u, L, U)

        def dF(u):
            return ((1 + u > L) & (1 + u < U)).astype(float)
        return F, dF
    if name == "raking":
        def F(u):
            return np.clip(np.exp(u), L, U) if bounded else np.exp(u)

        def dF(u):
            e = np.exp(u)
            return e * ((e > L) & (e < U)) if bounded else e
        return F, dF
    if name == "logit":
        if (not np.all(np.isfinite(L)) or not np.all(np.isfinite(U))
                or not (np.all(L < 1) and np.all(U > 1))):
            raise DesignError("calfun='logit' needs finite bounds=(L, U) with L < 1 < U, e.g. "
                              "(0.5, 2).")
        A = (U - L) / ((1 - L) * (U - 1))

        def F(u):
            e = np.exp(np.clip(A * u, -700, 700))
            return (L * (U - 1) + U * (1 - L) * e) / ((U - 1) + (1 - L) * e)

        def dF(u):
            g = F(u)
            return (g - L) * (U - g) * A / (U - L)
        return F, dF
    raise DesignError(f"calfun={show_given(name)} is not one of 'linear', 'raking', 'logit'.")


#: rescale the input weights when every population total exceeds its weighted sample total by
#: more than this factor (as R's ``grake``; see :func:`_solve_g`)
RESCALE_THRESHOLD = 20.0


@dataclass
class _Solution:
    g: np.ndarray            # calibration factors relative to the input weights
    converged: bool
    misfit: float            # max |sum w g x - T| / (1 + |T|) at the end
    iterations: int
    rescale: float           # factor applied to the input weights before Newton (1: none)


def _solve_g(X, w, T, F, dF, maxit, epsilon, q=None) -> _Solution:
    """Newton's method for the calibration equations ``sum_i w_i F(x_i' lambda) x_i = T``.

    Deville, Sarndal & Sautory (1993), §3: from ``lambda = 0`` (``g = 1``), the Newton step is
    ``lambda += J^+ (T - sum_i w_i g_i x_i)`` with ``J = sum_i w_i F'(x_i' lambda) x_i x_i'`` and
    ``J^+`` the Moore-Penrose inverse (singular values below ``256 eps`` of the largest dropped,
    so collinear calibration columns are allowed). Two safeguards, both as R's ``grake``:

    * rescaling: when every ratio ``T_k / sum_i w_i x_ik`` of a population total to its
      weighted sample total exceeds ``RESCALE_THRESHOLD`` (20), the input weights are first
      multiplied by the mean ``s`` of those ratios, so Newton starts near the solution instead
      of at ``exp`` of a huge linear step; the factors returned are ``s * g``. Bounds then act
      on ``g`` relative to the rescaled weights (the caller warns).
    * step halving: while ``g`` or ``F'`` is not finite after a step (overflow of ``exp`` in
      ``"raking"``/``"logit"``), the step is halved; each halving counts as an iteration.

    Convergence: ``max_k |T_k - sum_i w_i g_i x_ik| / (1 + |T_k|) < epsilon`` after a step; at
    most ``maxit`` iterations (steps and halvings).

    ``q``: ``1 / v`` of a heteroskedastic model, ``g_i = F(q_i x_i' lambda)`` and
    ``J = sum_i w_i q_i F'(q_i x_i' lambda) x_i x_i'``.
    """
    sample = X.T @ w
    scale = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = T / sample
    if ratios.size and np.all(np.isfinite(ratios)) and ratios.min() > RESCALE_THRESHOLD:
        scale = float(ratios.mean())
        w = w * scale
    wq = w if q is None else w * q
    denom = 1.0 + np.abs(T)
    lam = np.zeros(X.shape[1])
    u = np.zeros(X.shape[0])
    g, d = F(u), dF(u)
    it = 1
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            J = X.T @ (X * (wq * d)[:, None])
            step = np.linalg.pinv(J, rcond=256 * np.finfo(float).eps) @ (T - X.T @ (w * g))
            lam = lam + step
            u = X @ lam if q is None else q * (X @ lam)
            g, d = F(u), dF(u)
            while it < maxit and not (np.all(np.isfinite(g)) and np.all(np.isfinite(d))):
                it += 1
                step = step / 2
                lam = lam - step
                u = X @ lam if q is None else q * (X @ lam)
                g, d = F(u), dF(u)
            misfit = float(np.max(np.abs(T - X.T @ (w * g)) / denom))
            if misfit < epsilon:
                return _Solution(g * scale, True, misfit, it, scale)
            it += 1
            if it > maxit or not np.isfinite(misfit):
                return _Solution(g * scale, False, misfit, it, scale)


def _total_number(value, name: str) -> float:
    """One population total as a float, or a DesignError naming its column."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DesignError(
            f"the population total of {name} must be a number, not {show_given(value)}."
        ) from None


def _population_vector(population_totals, names: list[str]) -> np.ndarray:
    if isinstance(population_totals, (Mapping, pd.Series)):
        pt = dict(population_totals.items())
        alias = {}
        for k in pt:
            # patsy/statsmodels naming stype[T.H], a[T.a2]:b[T.yes] -> R's stypeH, aa2:byes
            alias[r_column_name(str(k))] = k
        if "(Intercept)" not in alias:
            for k in ("Intercept", "intercept"):
                if k in alias:
                    alias["(Intercept)"] = alias.pop(k)
        missing = [n for n in names if n not in alias]
        extra = [k for k in alias if k not in names]
        if missing or extra:
            raise DesignError(
                f"population totals must be given for exactly the calibration columns {names}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"not in the model {extra}" if extra else "")
                + ". Categorical terms use R's names: column name followed by the level (stypeH)."
            )
        T = np.array([_total_number(pt[alias[n]], n) for n in names])
    else:
        try:
            T = np.asarray(population_totals, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DesignError(
                "population totals must be numbers, one per calibration column "
                f"{names} (in that order, or as a dict); some are not."
            ) from None
        if T.shape != (len(names),):
            raise DesignError(
                f"population_totals has {T.size} value(s) but the calibration model has "
                f"{len(names)} columns {names}; give them in that order or as a dict."
            )
    if not np.all(np.isfinite(T)):
        raise DesignError("population totals must be finite numbers.")
    return T


def _warn_negative_weights(W: np.ndarray, active: np.ndarray, calfun: str, bounds) -> None:
    """Warn when calibration made full-sample weights of respondents negative (R says nothing;
    its ``svyglm``, ``svyciprop`` and ``svyttest`` then stop on 'negative weights')."""
    negative = (W[:, 0] < 0) & active
    n_negative = int(np.count_nonzero(negative))
    if n_negative == 0:
        return
    how = ("calfun='linear' without bounds" if calfun == "linear" and bounds is None
           else f"calfun={calfun!r} with bounds={_show_bounds(bounds)}")
    warnings.warn(
        f"{n_negative} of {int(np.count_nonzero(active))} calibrated weights are negative "
        f"(the smallest is {float(W[negative, 0].min()):.6g}), as {how} can give. Totals and "
        "means use them as R does, but a variance, proportion or distribution function "
        "estimated from them can fall outside its range, and GLMs refuse them (R: 'negative "
        "weights not allowed', also from svyciprop and svyttest, which fit GLMs). To keep every "
        "weight "
        "positive, calibrate with bounds=(L, U) and L > 0, or calfun='raking' or 'logit'.",
        NegativeWeightsWarning, stacklevel=user_stacklevel())


@renamed_parameter("maxit", "max_iter", since="0.1.0")
def calibrate(design, formula, population_totals, calfun: Calfun = "linear", bounds=None,
              max_iter: int = 50, epsilon: float = 1e-7,
              on_nonconvergence: OnNonconvergence = "raise", *, variance=None,
              bounds_const: bool = False, trim=None, aggregate=None, stage: int = 0):
    """Calibrate the weights to population totals of auxiliary variables (R ``calibrate``).

    Finds ``g_i = F(x_i' lambda)`` with ``sum_i w_i g_i x_i = T_x`` (Deville & Sarndal 1992) by
    Newton's method, for

    * ``"linear"``: ``F(u) = 1 + u`` (the GREG estimator; with ``bounds=(L, U)`` truncated to
      ``[L, U]``);
    * ``"raking"``: ``F(u) = exp(u)`` (multiplicative raking to the totals, also of continuous
      variables; optionally truncated to ``bounds``);
    * ``"logit"``: ``F(u) = (L(U-1) + U(1-L) e^{Au}) / ((U-1) + (1-L) e^{Au})``,
      ``A = (U-L)/((1-L)(U-1))``, which keeps ``g`` strictly inside ``(L, U)``.

    The Taylor variance uses the residuals of the influence values from the weighted
    least-squares regression on ``x`` (GREG residuals, Sarndal, Swensson & Wretman 1992 §6.6),
    for every calibration function; replicate designs calibrate each replicate's weights to the
    same totals.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula : str or list of str
        ``"~stype + api99"``: intercept, treatment indicators of categorical columns and numeric
        columns, named as R's model matrix (``(Intercept)``, ``stypeH``, ``stypeM``, ``api99``).
        Interactions give joint margins: ``"~a*b + c"`` has the columns of ``a``, ``b``, ``c``
        and ``a:b`` (``aa2:byes``, R's names and order), so the totals of every ``a x b`` cell
        are matched (with ``calfun="raking"`` the same as raking to the joint ``a x b`` margin
        and ``c``); ``"~a*x"`` matches the totals of ``x`` within each level of ``a``. An
        interaction without its main effects (``"~a:b"``) is coded full-rank here while R
        codes it with a redundant column, so the column names differ from R's (the error
        lists ours); write ``"~a*b"`` for R's columns.
    population_totals : dict, Series or sequence
        Population total of every model-matrix column, by name (or in column order).
    calfun : {"linear", "raking", "logit"}
    bounds : (L, U) or {"lower": L, "upper": U}, optional
        Bounds on ``g`` (required for ``"logit"``): two numbers, or one number per row of the
        data for bounds that differ between rows (R ``bounds = list(lower =, upper =)``).
    max_iter, epsilon : int, float
        Newton iterations (from ``lambda = 0``, full steps, halved while ``g`` overflows) stop
        when ``max |sum w g x - T| / (1 + |T|) < epsilon``. The defaults (50, 1e-7) are R's, and
        the Newton path is R's (including the rescaling below), so the weights equal R's to
        rounding error; a smaller ``epsilon`` adds steps (for ``"raking"`` R's answer is then
        ~1e-9 from the converged one).
    on_nonconvergence : {"raise", "warn"}, default "raise"
        ``"warn"``: return the weights of the last iteration with a
        :class:`~socialhealth.errors.ConvergenceWarning` (R ``force = TRUE``); R's default
        stops, as ``"raise"``.
    variance : str, float or array, optional
        A heteroskedastic calibration model (R ``variance=``): ``g_i = F(x_i' lambda / v_i)``,
        the distance ``sum_i w_i G(g_i) v_i`` (Deville & Sarndal 1992, ``q_i = 1 / v_i``).
        ``v`` is a column of the data, one number per row, or one coefficient per calibration
        column (``v_i = x_i' c``). ``"~x - 1"`` with ``variance=1`` gives the ratio estimator.
        The SEs use the residuals of the regression on ``x`` weighted by ``w / v`` for every
        ``calfun`` (R does so only for unbounded linear calibration; see Notes).
    bounds_const : bool, default False
        ``bounds`` are bounds on the calibrated weights ``w g`` themselves, not on ``g`` (R
        ``bounds.const = TRUE``).
    trim : (a, b), optional
        After calibrating, adjustments outside ``[a, b]`` are set to the nearer bound and the
        weight removed or added is spread over the other rows in proportion to their input
        weights (one pass, so a few may end slightly outside; the totals then hold only
        approximately). Calibrate with looser ``bounds`` that can be met and trim to the range
        you want (R ``trim=``). The SEs use the calibration model's residuals.
    aggregate : int, str or array, optional
        One adjustment per cluster: the sampling units of that stage (an int, Taylor designs;
        R ``aggregate.stage``), the levels of a column (e.g. a household id; R
        ``aggregate.index`` on replicate designs) or one cluster id per row. Each cluster ``c``
        is calibrated with weight ``W_c = sum_{i in c} w_i`` and auxiliaries
        ``sum_{i in c} w_i x_i / W_c`` (Vanderhoeft 2001), so equal weights within a cluster
        stay equal.
    stage : {0, 1}, default 0
        ``0``: ``population_totals`` are population totals. ``1``: they are the totals of each
        sampled PSU (a dict ``{PSU id: totals}`` keyed by the values of the PSU column, or a
        DataFrame with one row per PSU id), and the weights are calibrated within each PSU
        (R ``calibrate(stage = 1)``): ``g_k = 1 + x_k' lambda_i`` with
        ``sum_{k in i} w_k g_k x_k = T_i / pi_i``, ``pi_i`` the first-stage inclusion
        probability (``n_h / N_h`` from the first-stage fpc, which is therefore required), so
        every PSU's estimated total of ``x`` is its known ``T_i``. The first-stage variance term
        is unchanged; the later stages use the residuals of the within-PSU regression on ``x``
        (Sarndal, Swensson & Wretman 1992, §8.9; R's residuals, also with three or more
        stages). Linear calibration only, without ``bounds``, ``variance``, ``trim`` or
        ``aggregate`` (as R), on multistage Taylor designs; every PSU needs at least as many
        respondents as calibration columns. See ``socialhealth.design.calibration_stage``.

    Notes
    -----
    Badly scaled input weights (Deville, Sarndal & Sautory 1993; R ``grake``): when every
    population total is more than 20 times its weighted sample total (e.g. weights summing to
    100 for a population of 15000), the weights are first multiplied by the mean of the ratios
    ``T_k / sum_i w_i x_ik`` and calibrated from there, so ``exp`` in ``"raking"`` does not
    overflow; steps whose ``g`` overflows are halved. With ``bounds``, the bounds then apply to
    the adjustment of the rescaled weights (a warning says so, as R does).

    ``variance=`` with ``calfun="raking"``, ``"logit"`` or bounded ``"linear"``: R's Newton
    path (``grake``) leaves the variance out of the regression behind the SEs, so R reports two
    different SEs for the same weights (unbounded linear 3.5121, bounded linear whose bounds
    are never reached 3.4678, on R's ``apiclus1`` example with ``variance = api99``). The
    weights here equal R's; the SEs are those of the variance-weighted regression in every case
    (the linearisation of the calibration estimator), equal to R's unbounded linear ones.

    ``bounds_const=True`` on replicate designs: R survey 4.1-1 returns full-sample weights of
    about 1 there (a defect); the weights here keep every bound and meet every total.

    ``calfun="raking"`` with ``bounds``: the Newton matrix uses ``F'(u) = exp(u)`` where
    ``L < exp(u) < U`` (0 where ``g`` is clipped). R survey 4.1-1 tests ``L - 1 < u < U - 1``
    instead, so its Newton can stall and stop with "Calibration failed" where this converges
    (the solution itself is the same when both converge).

    Raises
    ------
    ConvergenceError
        No solution within ``max_iter`` iterations; the message names the cause (the bounds when
        bounds were set, otherwise unattainable totals or too few iterations).
    DesignError
        Population totals that do not match the model columns; missing values in the
        calibration variables among respondents.

    Warns
    -----
    NegativeWeightsWarning
        Some calibrated weights of respondents are negative (unbounded linear calibration can
        give them). They are kept, as R keeps them, and the warning names the way to positive
        weights (``bounds=(L, U)`` with ``L > 0``, ``calfun="raking"`` or ``"logit"``).

    References
    ----------
    Deville JC, Sarndal CE (1992) Calibration estimators in survey sampling. JASA 87:376-382.
    Sarndal CE, Swensson B, Wretman J (1992) *Model Assisted Survey Sampling*, Springer, §6.
    Deville JC, Sarndal CE, Sautory O (1993) Generalized raking procedures in survey sampling.
    JASA 88:1013-1020. Lumley T (2010) *Complex Surveys*, Wiley, §7.4. Vanderhoeft C (2001)
    Generalised calibration at Statistics Belgium. Statistics Belgium Working Paper 3.
    Sarndal CE, Swensson B, Wretman J (1992), §8.9 (calibration on second-stage totals,
    ``stage=1``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> apipop = sh.datasets.load_example("apipop")      # the population frame
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> totals = {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018,
    ...           "api99": int(apipop["api99"].sum())}
    >>> cal = dclus1.calibrate("~stype + api99", totals)
    >>> print(cal.total("api99").to_frame()[["term", "estimate", "se"]].round(1).to_string())
        term   estimate   se
    0  api99  3907872.0  0.0
    >>> cal.mean("api00")
    Survey mean: 1-stage cluster survey design (Taylor linearisation)
     term level  estimate      se  ci_low  ci_high  df
    api00  None   661.999 3.93902 653.551  670.447  14
    119 rows used; CIs: t with design df
    In R: svymean(~api00, design, na.rm = TRUE)
    >>> g = cal.weights / dclus1.weights              # the g-weights
    >>> round(float(g.min()), 3), round(float(g.max()), 3)
    (0.845, 1.273)
    >>> raked = dclus1.calibrate("~stype + api99", totals, calfun="raking")
    >>> print(raked.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate     se
    0  api00   661.986  3.929

    Weights summing to 100 raked to a population of 15000 (rescaled first, as R):

    >>> import pandas as pd, socialhealth as sh
    >>> small = sh.SurveyDesign(pd.DataFrame({"w": 10.0, "g": list("aaaaaabbbb")}), weights="w")
    >>> c = small.calibrate("~g", {"(Intercept)": 15000, "gb": 5000}, calfun="raking")
    >>> c.weights[[0, -1]].round(2)                       # R: 1666.67 1250.00
    array([1666.67, 1250.  ])

    The ratio estimator (``v_i = api99_i``): one adjustment for every school.

    >>> ratio = dclus1.calibrate("~api99 - 1", {"api99": totals["api99"]}, variance=1)
    >>> g = ratio.weights / dclus1.weights
    >>> round(float(g.min()), 6) == round(float(g.max()), 6)
    True

    Weights between 20 and 80, with the excess of a looser calibration trimmed:

    >>> b = dclus1.calibrate("~stype + api99", totals, bounds=(20, 80), bounds_const=True)
    >>> bool(b.weights.min() >= 20 - 1e-9 and b.weights.max() <= 80 + 1e-9)
    True

    Interactions: the population totals of ``~g*h`` are those of R's ``model.matrix``:

    >>> df = pd.DataFrame({"g": list("aabbaabb"), "h": list("xyxyxyxy"), "w": 2.0})
    >>> tot = {"(Intercept)": 100, "gb": 40, "hy": 50, "gb:hy": 15}
    >>> c = sh.SurveyDesign(df, weights="w").calibrate("~g*h", tot)
    >>> pd.Series(c.weights).groupby([df["g"], df["h"]]).sum().round(6).tolist()
    [25.0, 35.0, 25.0, 15.0]

    Totals known for each sampled district of a two-stage sample (``stage=1``; here each
    district's number of schools and their 1999 API, from the population frame):

    >>> apiclus2 = sh.datasets.load_example("apiclus2")
    >>> big = apiclus2.groupby("dnum").size() >= 2            # districts with 2+ schools
    >>> d2 = sh.SurveyDesign(apiclus2[apiclus2["dnum"].isin(big[big].index)],
    ...                      psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    >>> frame = apipop.groupby("dnum").agg(n=("api99", "size"), api99=("api99", "sum"))
    >>> per_psu = {k: {"(Intercept)": frame.loc[k, "n"], "api99": frame.loc[k, "api99"]}
    ...            for k in d2.data["dnum"].unique()}
    >>> c2 = d2.calibrate("~api99", per_psu, stage=1)
    >>> print(c2.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate     se
    0  api00    668.57  5.388


    In R: ``pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018,
    api99 = sum(apipop$api99))``;
    ``dclus1g <- calibrate(dclus1, ~stype + api99, pop.totals)``; ``svytotal(~api99, dclus1g)``;
    ``svymean(~api00, dclus1g)``; ``calibrate(dclus1, ~stype + api99, pop.totals,
    calfun = "raking")``; ``calibrate(d, ~x - 1, c(x = Tx), variance = 1)`` (ratio estimator);
    ``calibrate(d, f, pop, bounds = c(5, 40), bounds.const = TRUE)``;
    ``calibrate(d, f, pop, bounds = c(0.2, 3), trim = c(0.9, 1.12))``;
    ``calibrate(dclus2, f, pop, aggregate.stage = 1)``;
    ``calibrate(d, ~g*h, population = c(`(Intercept)` = 100, gb = 40, hy = 50, `gb:hy` = 15))``;
    ``calibrate(d2, ~api99, population = per_psu, stage = 1)`` with ``per_psu`` a list of
    named vectors in the order the PSUs first appear in the data
    (``unique(apiclus2$dnum)``; R does not match the list's names).
    """
    if not isinstance(calfun, str):
        raise DesignError(f"calfun={show_given(calfun)} is not one of 'linear', 'raking', "
                          "'logit'.")
    calfun = cast(Calfun, calfun.lower())   # any case; _calfun checks the name
    _calfun(calfun, 0.5, 2.0)                    # (an unknown name raises here)
    _check_calibration_controls(max_iter, epsilon)
    _check_stage(design, stage, calfun, bounds, variance, trim, aggregate)
    X, names = model_matrix(design.data, formula)
    active = design.weights != 0        # (negative after a linear calibration: in the sample)
    bad = np.isnan(X).any(axis=1) & active
    if bad.any():
        raise DesignError(
            f"{int(bad.sum())} respondent(s) have missing values in the calibration variables; "
            "calibration needs complete auxiliary data (impute or drop those rows before building "
            "the design)."
        )
    X = np.where(active[:, None], np.nan_to_num(X), 0.0)
    if stage:
        w_psu, stage_residual, psu_totals = calibrate_within_psus(
            design, X, names, population_totals, _population_vector)
        r_list = ", ".join("c(" + ", ".join(f"{_r_name(nm)} = {_r_value(float(t))}"
                                            for nm, t in zip(names, tot, strict=True)) + ")"
                           for tot in psu_totals)
        _warn_negative_weights(w_psu[:, None], active, calfun, bounds)
        return _new_design(design, w_psu[:, None], stage_residual, _no_replicate_recipe,
                           r_call=f"calibrate(@D@, {_r_formula_text(formula)}, "
                                  f"population = list({r_list}), stage = 1)")
    T = _population_vector(population_totals, names)
    _check_on_nonconvergence(on_nonconvergence)
    limits = opts.parse_bounds(bounds, len(X), bounds_const, calfun)
    q = opts.parse_variance(variance, X, names, design.data, active)
    trim_range = opts.parse_trim(trim)
    groups = opts.aggregation_codes(design, aggregate, active)
    if groups is not None and (q is not None or (limits is not None and (
            limits.per_unit or limits.const))):
        raise DesignError("aggregate= works with bounds on g given as two numbers; it cannot be "
                          "combined with variance=, bounds per row or bounds_const=True.")
    refuse = getattr(design, "_refuse_negative_replicates", None)
    if refuse is not None and calfun == "linear" and limits is None:
        # (raking, logit and bounded linear calibration solve the same equations with
        # negative replicate weights as R's grake does, and give R's numbers)
        refuse(active, "calibrate() with calfun='linear' and no bounds",
               "R calibrate() fails on them too (its unbounded linear calibration takes the "
               "square root of each replicate's weights: 'system is computationally "
               "singular'). calfun='raking' or 'logit', bounds=, post_stratify() and rake() "
               "use them as R does.")
    W = _all_weights(design)
    out = W.copy()
    rescaled, failed = [], []
    X0 = X
    for j in range(W.shape[1]):
        w = W[:, j]
        if groups is None:
            Xj, wj = X, w
        else:
            Xj, wj = opts.aggregate_problem(X, w, *groups)
            if j == 0:
                X0 = np.where(active[:, None], Xj[np.maximum(groups[0], 0)], 0.0)
        F, dF = (_calfun(calfun) if limits is None
                 else _calfun(calfun, *limits.on_g(wj, calfun)))
        sol = _solve_g(Xj, wj, T, F, dF, max_iter, epsilon, q)
        what = "the full sample" if j == 0 else f"replicate {j}"
        if sol.rescale != 1.0:
            rescaled.append((what, sol.rescale))
        if not sol.converged:
            failed.append((what, sol))
        g = sol.g
        if trim_range is not None:
            g, _ = opts.trim_adjustments(g, wj, *trim_range)
        if groups is not None:
            g = np.where(groups[0] >= 0, g[np.maximum(groups[0], 0)], 1.0)
        out[:, j] = w * g
    if rescaled and limits is not None:
        warnings.warn(
            f"the population totals are more than {RESCALE_THRESHOLD:g} times the weighted sample "
            f"totals, so the input weights were rescaled (by {rescaled[0][1]:.3g} for "
            f"{rescaled[0][0]}"
            f"{' and similar factors for the replicates' if len(rescaled) > 1 else ''}) "
            f"before calibrating; bounds={_show_bounds(bounds)} apply to the adjustment of the "
            "rescaled weights, as in R.", SocialHealthWarning, stacklevel=user_stacklevel())
    if failed:
        what, sol = failed[0]
        if limits is not None:
            cause = (f"the population totals cannot be met with g within "
                     f"bounds={_show_bounds(bounds)}"
                     + (" on the weights" if bounds_const else "")
                     + (f" (applied after rescaling the weights by {sol.rescale:.3g})"
                        if sol.rescale != 1.0 else "")
                     + "; widen the bounds (trim= can then bring the adjustments into a "
                       "tighter range), or check the population totals")
        else:
            cause = ("the Newton iterations did not reach the totals; check that the population "
                     "totals are attainable with positive adjustments (e.g. no positive total for "
                     "a column that is zero for every respondent), or raise max_iter=")
        msg = (f"calibration (calfun={calfun!r}) did not converge for {what} in {max_iter} "
               f"iterations (largest relative misfit |T - sum w g x| / (1 + |T|) = "
               f"{sol.misfit:.3g} > epsilon {epsilon:g}): {cause}.")
        if on_nonconvergence == "raise":
            raise ConvergenceError(msg + " on_nonconvergence='warn' returns the last iterate "
                                   "(R: force = TRUE).")
        warnings.warn(msg + " Returning the weights of the last iteration.", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    _warn_negative_weights(out, active, calfun, bounds)
    residual = RegressionResidual(X0, W[:, 0].copy(), out[:, 0].copy(), label=" + ".join(names),
                                  inverse_variance=q)
    # (a stage number means the units of that stage: a replicate design built from this one
    # by to_replicate(recalibrate=True) has no stages, so the recipe carries the unit ids)
    again = aggregate
    if isinstance(aggregate, (int, np.integer)) and not isinstance(aggregate, bool):
        again = np.asarray(design.stages[int(aggregate) - 1].unit).copy()
    r_args = [f'calfun = "{calfun}"']
    if bounds is not None and limits is not None and not limits.per_unit:
        r_args.append(f"bounds = c({_r_value(float(bounds[0]))}, {_r_value(float(bounds[1]))})")
    if bounds_const:
        r_args.append("bounds.const = TRUE")
    if trim_range is not None:
        r_args.append(f"trim = c({_r_value(float(trim_range[0]))}, "
                      f"{_r_value(float(trim_range[1]))})")
    if isinstance(aggregate, (int, np.integer)) and not isinstance(aggregate, bool):
        r_args.append(f"aggregate.stage = {int(aggregate)}")
    if max_iter != 50:
        r_args.append(f"maxit = {int(max_iter)}")
    if epsilon != 1e-7:
        r_args.append(f"epsilon = {_r_value(float(epsilon))}")
    if on_nonconvergence != "raise":
        r_args.append("force = TRUE")
    if variance is not None:
        r_args.append(f"variance = {_r_variance(variance, design)}")
    totals = ", ".join(_r_value(float(t)) for t in T)
    r_call = f"calibrate(@D@, {_r_formula_text(formula)}, c({totals}), {', '.join(r_args)})"
    return _new_design(design, out, residual,
                       r_call=r_call,
                       recipe=lambda d: calibrate(d, formula, population_totals, calfun=calfun,
                                           bounds=bounds, max_iter=max_iter, epsilon=epsilon,
                                           on_nonconvergence=on_nonconvergence,
                                           variance=variance, bounds_const=bounds_const,
                                           trim=trim, aggregate=again))


def _check_calibration_controls(max_iter, epsilon) -> None:
    """calibrate()'s ``max_iter`` a whole number >= 1 and ``epsilon`` a number > 0, or a
    DesignError saying so (a string or NaN would fail deep in the iterations)."""
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise DesignError(f"calibrate() needs max_iter, the most iterations, as a whole number "
                          f">= 1 (default 50), not {show_given(max_iter)}.")
    if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, (int, float, np.number)) \
            or not 0 < epsilon < np.inf:
        raise DesignError(f"calibrate() needs epsilon, the convergence tolerance, as a number "
                          f"> 0 (default 1e-07), not {show_given(epsilon)}.")


def _check_stage(design, stage, calfun, bounds, variance, trim, aggregate) -> None:
    """``stage=``: 0 or 1; stage 1 on Taylor designs with unbounded linear calibration only."""
    if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or stage not in (0, 1):
        raise ArgumentError(f"stage= must be 0 (population totals) or 1 (totals of each sampled "
                            f"PSU), not {show_given(stage)}.")
    if not stage:
        return
    if design.kind != "taylor":
        raise DesignError(
            "stage=1 (totals per PSU) works on Taylor-linearisation designs (SurveyDesign); "
            "calibrate the SurveyDesign within PSUs first and convert it with to_replicate() "
            "afterwards if you need replicate weights.")
    others = [name for name, value in (("bounds", bounds), ("variance", variance),
                                       ("trim", trim), ("aggregate", aggregate))
              if value is not None]
    if calfun != "linear" or others:
        raise DesignError(
            "stage=1 calibrates linearly within each PSU, without "
            + ("calfun=" + repr(calfun) if calfun != "linear" else "")
            + (" or " if calfun != "linear" and others else "")
            + ", ".join(f"{o}=" for o in others)
            + " (R's calibrate(stage = 1) has the linear calibration only); drop "
            + ("them" if len(others) + (calfun != "linear") > 1 else "it") + ".")


def _no_replicate_recipe(replicate_design):
    """``to_replicate(recalibrate=True)`` after ``calibrate(stage=1)``: not available."""
    raise DesignError(
        "to_replicate(recalibrate=True) cannot redo calibrate(stage=1) on the replicates (R "
        "calibrates replicate designs to population totals only); convert with "
        "recalibrate=False (the replicate weights then start from the calibrated weights).")


def _show_bounds(bounds) -> str:
    """``bounds=`` for a message: the pair, or "per row" for arrays."""
    if isinstance(bounds, dict):
        bounds = (bounds["lower"], bounds["upper"])
    if any(np.ndim(b) > 0 for b in bounds):
        return "(per row)"
    return f"({float(bounds[0]):g}, {float(bounds[1]):g})"
