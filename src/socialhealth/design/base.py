"""The interface shared by Taylor-linearisation and replicate-weight designs.

R's ``survey`` has one design object and verbs that work on every design kind. socialhealth
mirrors that: :class:`~socialhealth.design.SurveyDesign` (Taylor linearisation) and
:class:`~socialhealth.design.ReplicateDesign` (replicate weights) both derive from
:class:`DesignBase`, which implements every verb once. A subclass supplies only

* ``_ratio_vcov(num, den, theta)``: covariance of ratios of weighted totals
  ``theta_j = sum_i w_i num_ij / sum_i w_i den_ij`` (``den=None``: plain totals; rows and
  columns of undefined ratios are set to NaN here, once for both kinds), and
* ``_general_vcov(theta, influence, refit)``: covariance of any other estimator, from its
  weighted influence values (Taylor) or by re-estimating with each replicate's weights.

Means, totals, proportions, ratios, domain (``by=``) estimates and variances are all ratios of
totals, so they share one vectorised code path.
"""
from __future__ import annotations

import re
import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given
from socialhealth.design.results import Estimate
from socialhealth.design.structure import as_list, require_columns
from socialhealth.design.variables import (AnalysisMatrix, Domains, analysis_matrix, domains,
                                           subset_domains)
from socialhealth.errors import (ConvergenceError, DesignError, EstimationError,
                                 NegativeWeightsWarning, WeightError)


def _check_deff(deff) -> None:
    """``deff=`` of mean() and total(): True, False or "replace" (R's ``svymean(deff =)``);
    an EstimationError for anything else (a Series failed in ``if deff:``)."""
    if isinstance(deff, (bool, np.bool_)) or (isinstance(deff, str) and deff == "replace"):
        return
    raise EstimationError(
        f"deff= must be True, False or 'replace' (as R's svymean), not {show_given(deff)}."
    )


class _Delegate:
    """A design method that calls ``socialhealth.design.<module>.<name>(design, ...)``.

    The target module is imported on first attribute access (not when ``socialhealth.design``
    is imported), and the method then carries the target's docstring, so
    ``help(design.proportion)`` shows the full documentation. If the target cannot be imported,
    the method still exists (the import error is raised when it is called, as before) and its
    docstring points to the target.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self._method: Callable | None = None

    def _resolve(self):
        if self._method is not None:
            return self._method
        import importlib

        module, name = self.module, self.name
        try:
            target = getattr(importlib.import_module(f"socialhealth.design.{module}"), name)
        except Exception:  # the call below re-raises it; attribute access must not
            target = None

        def method(self, *args, **kwargs):
            func = getattr(importlib.import_module(f"socialhealth.design.{module}"), name)
            return func(self, *args, **kwargs)

        method.__name__ = name
        method.__qualname__ = f"DesignBase.{name}"
        method.__doc__ = (f"See :func:`socialhealth.design.{module}.{name}` "
                          "(full documentation there).")
        if target is not None:
            method.__doc__ = target.__doc__ or method.__doc__
            # help() and inspect.signature show its parameters (mypy does not model function
            # attributes)
            method.__wrapped__ = target  # type: ignore[attr-defined]
            self._method = method
        return method

    def __get__(self, obj, objtype=None):
        method = self._resolve()
        return method if obj is None else method.__get__(obj, objtype)


def _delegate(module: str, name: str) -> _Delegate:
    """A method calling ``socialhealth.design.<module>.<name>(self, ...)`` (:class:`_Delegate`)."""
    return _Delegate(module, name)



def _nan_where_undefined(V: np.ndarray, theta) -> np.ndarray:
    """Set the rows and columns of ``V`` that belong to undefined estimates (0/0) to NaN."""
    bad = ~np.isfinite(np.asarray(theta, dtype=float))
    if bad.any():
        V[bad, :] = np.nan
        V[:, bad] = np.nan
    return V

def _read_only(a: np.ndarray) -> np.ndarray:
    """``a`` marked read-only (kept on a design and shared between estimates)."""
    a.setflags(write=False)
    return a


def _few_rows_for_var(cols, dom, dmn: int, nobs: int) -> None:
    """Warn that a variance comes from fewer than 2 rows (``n / (n - 1)``): it is NaN there, as
    R's ``svyvar`` (and ``svyby(..., svyvar)`` for that domain) returns NaN."""
    import warnings

    from socialhealth.errors import SocialHealthWarning

    where = "the subset" if dom is None else "the by-group " + ", ".join(
        f"{c}={show(dom.table.iloc[dmn][c])}" for c in dom.table.columns)
    warnings.warn(f"var() of {', '.join(map(repr, cols))}: {where} has {nobs} row with observed "
                  "values, so its variance is NaN (n / (n - 1)), as R's svyvar gives; a "
                  "variance needs at least 2 rows.", SocialHealthWarning,
                  stacklevel=user_stacklevel())


def _check_logical_mask(mask) -> None:
    """Refuse a subset mask of text or categories (numbers count as R: 0 False, else True)."""
    dtype = getattr(mask, "dtype", None)
    if dtype is None:
        mask = np.asarray(mask)
        dtype = mask.dtype
    text = pd.api.types.is_string_dtype(dtype) and (
        not pd.api.types.is_object_dtype(dtype)
        or any(isinstance(v, (str, bytes)) for v in np.asarray(mask)))
    if text or isinstance(dtype, pd.CategoricalDtype):
        raise DesignError(
            f"subset mask must be True/False per row, not text or categories (dtype {dtype}); "
            "compare first, e.g. design.subset(design.data['sex'] == 'female') or "
            "design.subset(\"sex == 'female'\").")


def _weighted_sums(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``w @ X`` without BLAS: on a busy machine a BLAS matrix-vector call wakes its thread pool
    and can take tens of milliseconds at 1,000,000 rows; einsum's own loop takes ~1 ms."""
    X = np.asarray(X)
    if X.ndim == 1:
        return np.einsum("i,i->", w, X)
    return np.einsum("i,ij->j", w, X)


def _check_finite(values: np.ndarray, terms, used: np.ndarray, what: str) -> None:
    """Refuse infinite values among the rows used (R returns Inf/NaN estimates for them)."""
    if not np.isinf(values).any():      # one pass, no copy of the rows used (the usual case)
        return
    bad = np.isinf(values[used])
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise EstimationError(
            f"column {terms[j]!r} has {int(bad[:, j].sum())} infinite value(s) among the rows "
            f"used, so the {what} is not a finite number (R's svymean/svytotal return Inf or NaN "
            "here). Recode them (e.g. set them to NaN) or leave those rows out with "
            "design.subset(...)."
        )


def _with_columns(data: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``data.assign(**columns)`` with the new columns joined in one ``pd.concat``: pandas'
    ``assign`` inserts them one at a time, which fragments the frame (a PerformanceWarning per
    call past ~100 columns, e.g. survey_kappa's indicators of many categories). Same semantics:
    callables see the columns given before them, Series align on the index, scalars broadcast,
    existing columns are replaced in place and new ones appended in the order given."""
    out: pd.DataFrame = data
    pending: dict = {}

    def flush(frame, cols):
        if not cols:
            return frame
        block = pd.DataFrame(cols, index=frame.index)   # a Series aligns on the index
        replaced = [c for c in cols if c in frame.columns]
        if replaced:
            frame = frame.copy()
            for c in replaced:
                frame[c] = block[c]
        added = [c for c in cols if c not in frame.columns]
        if not added:
            return frame
        return pd.concat([frame, block[added]], axis=1)

    for name, value in columns.items():
        if callable(value):
            out, pending = flush(out, pending), {}
            value = value(out)
        pending[name] = value
    out = flush(out, pending)
    return data.copy() if out is data else out


def _r_condition(text: str) -> str | None:
    """A pandas query condition as R code, when it reads the same in R (names, numbers,
    strings, comparisons, ``&``/``|``/``~``/``and``/``or``/``not``, parentheses); else None."""
    tokens = re.findall(r"""\s+|`[^`]*`|"[^"]*"|'[^']*'|[A-Za-z_][A-Za-z0-9_.]*|"""
                        r"""[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|==|!=|<=|>=|[<>&|~()!-]""",
                        text)
    if "".join(tokens) != text:
        return None
    words = {"and": "&", "or": "|", "not": "!", "True": "TRUE", "False": "FALSE"}
    out = []
    for t in tokens:
        if t == "~":
            t = "!"
        elif t in words:
            t = words[t]
        elif t in ("in", "is", "None", "TRUE", "FALSE", "NA", "NULL"):
            return None
        out.append(t)
    return "".join(out).strip()


_R_ROWS_MAX_CHARS = 1000   # longer row lists of a subset print as the column in_subset

#: R's reserved words (``?Reserved``): not usable as a variable name.
_R_RESERVED = frozenset({"if", "else", "repeat", "while", "function", "for", "next", "break",
                         "in", "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_",
                         "NA_real_", "NA_character_", "NA_complex_", "..."})
_R_NAME = re.compile(r"(?:[^\W\d_]|\.(?![0-9]))[\w.]*")


def check_r_data_name(data_name) -> str:
    """``data_name`` of ``r_code()`` when it is a syntactic R name (letters, digits, ``.`` and
    ``_``, starting with a letter or with a dot not followed by a digit, not a reserved word
    such as ``NULL``); a DesignError otherwise (``data_name=42`` printed ``data = 42``).

    Examples
    --------
    >>> check_r_data_name("my.data")
    'my.data'
    >>> check_r_data_name("2019 wave")
    Traceback (most recent call last):
    ...
    socialhealth.errors.DesignError: r_code(): data_name= must be the name of the data frame in \
R, a syntactic R name such as 'df' or 'survey_2019' (letters, digits, '.' and '_', starting with \
a letter), not '2019 wave'.
    """
    if (isinstance(data_name, str) and _R_NAME.fullmatch(data_name)
            and data_name not in _R_RESERVED and not re.fullmatch(r"\.\.[0-9]+", data_name)):
        return data_name
    raise DesignError(f"r_code(): data_name= must be the name of the data frame in R, a "
                      f"syntactic R name such as 'df' or 'survey_2019' (letters, digits, '.' "
                      f"and '_', starting with a letter), not {show_given(data_name)}.")


class DesignBase:
    """Shared verbs of every survey design (see the module docstring).

    Not instantiated directly: build a :class:`~socialhealth.design.SurveyDesign` (Taylor
    linearisation) or a :class:`~socialhealth.design.ReplicateDesign` (replicate weights).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> cols = ["term", "estimate", "se", "ci_low", "ci_high"]
    >>> print(d.mean("api00").to_frame()[cols].round(2).to_string())
        term  estimate     se  ci_low  ci_high
    0  api00    656.71  15.97  622.45   690.97
    >>> r = d.to_replicate("jk1")              # the same verbs on a replicate design
    >>> print(r.mean("api00").to_frame()[cols].round(2).to_string())
        term  estimate     se  ci_low  ci_high
    0  api00    656.71  16.97  620.32    693.1

    In R: ``dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)``;
    ``svymean(~api00, dclus1)``; ``svymean(~api00, as.svrepdesign(dclus1, type = "JK1"))``.
    """

    data: pd.DataFrame
    _w: np.ndarray
    kind: str = "design"
    #: per-design cache of weight-dependent facts (see ``_cached``), created on first use
    _cache: dict

    # ------------------------------------------------------------------ subclass hooks
    def _ratio_vcov(self, num: np.ndarray, den: np.ndarray | None, theta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _domain_vcov(self, theta, vals, dcodes, n_domains, totals_den,
                     all_rows: bool = False) -> np.ndarray:
        """Covariance of domain means (``totals_den`` = domain weight totals) or totals (None).

        ``all_rows`` is True when every row is used and there is one domain (``dcodes`` all
        0), so that a subclass can skip the per-row domain bookkeeping."""
        raise NotImplementedError

    def _general_vcov(
        self,
        theta: np.ndarray,
        influence: Callable[[], np.ndarray] | None,
        refit: Callable[[np.ndarray], np.ndarray] | None,
    ) -> np.ndarray:
        """Covariance of ``theta``: Taylor designs use ``influence()``, replicate designs
        ``refit(w)`` under each replicate's weights (the other may be None)."""
        raise NotImplementedError

    def _with_weights(self, w: np.ndarray, data: pd.DataFrame | None = None) -> "DesignBase":
        raise NotImplementedError

    def degf(self) -> float:
        """Design degrees of freedom used for t-based intervals and tests (R ``degf``).

        Taylor designs: number of PSUs minus number of strata; replicate designs: rank of the
        replicate weights minus one (see the subclasses).
        """
        raise NotImplementedError

    def describe(self) -> str:
        """A short text description of the design (its first line labels every result)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ basic properties
    @property
    def weights(self) -> np.ndarray:
        """Analysis weights (0 for rows outside a subset)."""
        return self._w

    @property
    def n(self) -> int:
        """Rows in the design (all rows, including those outside a subset)."""
        return len(self.data)

    # ------------------------------------------------------------------ per-design cache
    # Work that depends only on the design and its weights (subset mask, strata/PSU counts,
    # label) is computed once per design. Entries are keyed by the weight array itself: copies
    # made with copy.copy (calibration, replicate conversion) share the dict but replace _w,
    # so an entry made for other weights is never reused.
    def _cached(self, key, compute):
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = self.__dict__["_cache"] = {}
        entry = cache.get(key)
        if entry is None or entry[0] is not self._w:
            entry = (self._w, compute())
            cache[key] = entry
        return entry[1]

    @property
    def in_subset(self) -> np.ndarray:
        """Boolean array: rows inside the current subset (non-zero weight; a weight made
        negative by a linear calibration keeps its row in the sample, as R)."""
        # a copy (microseconds), so that a caller changing it cannot change the cached mask
        return self._subset_mask().copy()

    def _subset_mask(self) -> np.ndarray:
        """:attr:`in_subset` without the copy (kept on the design, read-only)."""
        return self._cached("in_subset", lambda: _read_only(self._w != 0))

    def _one_domain_codes(self) -> np.ndarray:
        """Domain code 0 for every row (one domain holding all rows; kept, read-only)."""
        return self._cached("one_domain_codes",
                            lambda: _read_only(np.zeros(len(self._w), dtype=np.intp)))

    def __len__(self) -> int:
        return self._cached("len", lambda: int(np.count_nonzero(self.in_subset)))

    def _short_label(self) -> str:
        return self._cached("label", lambda: self.describe().splitlines()[0])


    def __repr__(self) -> str:
        return self.describe()

    # ------------------------------------------------------------------ new designs
    def subset(self, mask) -> "DesignBase":
        """Restrict estimation to a subpopulation (domain), keeping the full design.

        Rows outside ``mask`` get zero weight but stay in the design, so standard errors
        account for the random domain size and the full PSU structure (Lumley 2010, §2.3;
        Korn & Graubard 1999, §5.4). Never drop rows of a survey before building its design.
        Where R averages over the rows of its design object (``svyglm``'s weights rescaled to
        mean 1, hence its deviance, AIC, BIC), the rows follow R's ``subset()``: dropped for a
        plain design, kept for calibrated, PPS and two-phase ``method="full"`` (or calibrated)
        designs (:mod:`socialhealth.design.glm`).

        Parameters
        ----------
        mask : boolean Series aligned with ``design.data`` (or array of the same length), a
            string evaluated with ``DataFrame.eval``, or a callable taking ``design.data`` and
            returning such a mask. Missing values count as False (as R's ``subset``).

        Returns
        -------
        A new design of the same kind whose weights are 0 outside ``mask``.

        References
        ----------
        Lumley T (2010) *Complex Surveys*, Wiley, §2.3. Korn EL, Graubard BI (1999) *Analysis of
        Health Surveys*, Wiley.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> elementary = d.subset(d.data.stype == "E")
        >>> len(elementary), elementary.n, elementary.degf()
        (85, 119, 14.0)
        >>> elementary.mean("api00")
        Survey mean: 1-stage cluster survey design (Taylor linearisation)
         term level  estimate      se  ci_low  ci_high  df
        api00  None   657.235 15.5575 623.868  690.603  14
        85 rows used; CIs: t with design df
        In R: svymean(~api00, design, na.rm = TRUE)
        >>> d.subset("api00 >= 700").n_psu            # a query string also works
        10

        In R: ``subset(dclus1, stype == "E")``; ``svymean(~api00, subset(dclus1, stype == "E"))``.
        """
        if callable(mask):
            mask = mask(self.data)
        mask_text = mask
        if isinstance(mask, str):
            try:
                mask = self.data.eval(mask)
            # pandas raises several types (UndefinedVariableError, SyntaxError, ...)
            except Exception as exc:
                import difflib

                close = difflib.get_close_matches(str(exc).split("'")[1] if "'" in str(exc) else "",
                                                  [str(c) for c in self.data.columns], n=3)
                hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                raise DesignError(
                    f"cannot evaluate the subset condition {mask!r}: {exc}.{hint} Write it with "
                    "column names of design.data, e.g. \"age >= 65\", or pass a boolean mask."
                ) from None
        if isinstance(mask, pd.DataFrame):
            raise DesignError("subset mask must be one boolean column (a Series or array), not a "
                              "DataFrame.")
        if mask is None or isinstance(mask, (dict, set)) or np.ndim(mask) != 1:
            raise DesignError(
                f"subset() takes one True/False per row of design.data, a condition such as "
                f"\"age >= 65\", or a function of the data returning such a mask, not "
                f"{show_given(mask)}; e.g. design.subset(design.data['sex'] == 'female').")
        _check_logical_mask(mask)
        if isinstance(mask, pd.Series):
            if not mask.index.equals(self.data.index):
                if len(mask) != len(self.data) or not mask.index.isin(self.data.index).all():
                    raise DesignError(
                        f"subset mask is a Series of {len(mask):,} values whose row labels are "
                        f"not those of design.data ({len(self.data):,} rows); build the mask "
                        "from design.data, e.g. design.subset(design.data['age'] >= 65).")
                mask = mask.reindex(self.data.index)
            m = mask.fillna(False).to_numpy(dtype=bool)
        else:
            m = np.asarray(mask)
            if m.dtype != bool:
                m = pd.Series(m).fillna(False).to_numpy(dtype=bool)
        if m.shape != (len(self.data),):
            raise DesignError(
                f"subset mask has {m.shape[0] if m.ndim else 1} values but the design has "
                f"{len(self.data)} rows; build the mask from design.data."
            )
        if not (m & self.in_subset).any():
            raise EstimationError("the subset is empty: no row of the design satisfies the "
                                  "condition.")
        new = self._with_weights(np.where(m, self._w, 0.0))
        new.__dict__["_r_rows_kept"] = self._r_rows() if self._r_keeps_rows() else None
        cond = _r_condition(mask_text) if isinstance(mask_text, str) else None
        new._r_steps = self._r_steps + (("subset", cond, new._subset_mask()),)
        return new

    #: what R does to the design after building it, in order (subset, calibration): tuples
    #: ("subset", condition in R or None, rows kept) or ("call", R call with @D@ for the design)
    _r_steps: tuple = ()

    def _r_wrap(self, code: str, data_name: str = "df") -> str:
        """``code`` (R's call building the full-sample design) wrapped in the R calls of what
        was done to the design since (:attr:`_r_steps`): ``subset(...)`` with the condition
        given as a string when it reads the same in R, otherwise the row numbers of the subset
        (``seq_len(nrow(df)) %in% c(...)``); ``postStratify``, ``rake``, ``calibrate``.

        Row numbers longer than 1000 characters (a mask scattered over many rows) are written
        as the logical column ``in_subset`` instead, which the user adds to ``df`` (the mask
        itself): a design over a million rows would otherwise print hundreds of kilobytes."""
        check_r_data_name(data_name)
        pre, _, call = code.rpartition("; ")
        for step in self._r_steps:
            if step[0] == "call":
                call = step[1].replace("@D@", call)
                continue
            cond = step[1]
            if cond is None:
                rows = np.flatnonzero(step[2]) + 1
                runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
                parts = [f"{r[0]}" if len(r) == 1 else f"{r[0]}:{r[-1]}" for r in runs if len(r)]
                listed = ", ".join(parts)
                cond = (f"seq_len(nrow({data_name})) %in% c({listed})"
                        if len(listed) <= _R_ROWS_MAX_CHARS else "in_subset")
            call = f"subset({call}, {cond})"
        return f"{pre}; {call}" if pre else call

    def _r_keeps_rows(self) -> bool:
        """True when R's ``subset()`` of the corresponding R design keeps the rows outside the
        domain (with ``prob = Inf``, weight 0) instead of dropping them: calibrated and PPS
        ``svydesign`` objects and some ``twophase`` objects (subclasses say which). It matters
        where R averages over the rows of its design object, e.g. ``svyglm``'s rescaled weights
        ``w / mean(w)``. Here a plain design: R drops the rows."""
        return False

    def _r_rows(self) -> np.ndarray:
        """Rows that R's design object holds for this design: the rows of the subset, or, for a
        subset of a design whose R ``subset()`` keeps rows (:meth:`_r_keeps_rows`), the rows of
        the design it was taken from (zero weight outside the domain)."""
        kept = self.__dict__.get("_r_rows_kept")
        return self.in_subset if kept is None else kept.copy()

    def _restrict_to_rows(self, rows: np.ndarray) -> "DesignBase":
        """This design with zero weight outside ``rows`` (the rows a model actually used, e.g.
        after dropping missing values); the design itself when ``rows`` are all the rows of the
        current subset. The PSU structure is kept, as R's ``svyglm`` does after ``na.omit``."""
        keep = np.zeros(len(self._w), dtype=bool)
        keep[rows] = True
        if keep.sum() == self.in_subset.sum():
            return self
        new = self._with_weights(np.where(keep, self._w, 0.0))
        # R's design[-nas, ] keeps or drops those rows as its subset() does
        new.__dict__["_r_rows_kept"] = self._r_rows() if self._r_keeps_rows() else None
        return new

    def _model_degf(self, rows: np.ndarray) -> float:
        """Design degrees of freedom R's ``svyglm`` starts from for a model fitted on ``rows``.

        ``df.residual = _model_degf(rows) + 1 - p``. Taylor designs: ``degf`` of the design
        restricted to the rows used (R drops the rows with a missing value before ``degf``, so
        PSUs and strata whose rows are all missing no longer count); replicate designs override
        this with ``degf`` of the whole design (R's ``svyglm.svyrep.design`` takes ``degf``
        before dropping those rows).
        """
        return self._restrict_to_rows(rows).degf()

    def _vcov_on_rows(self, theta, rows: np.ndarray, influence_rows: np.ndarray,
                      refit_rows: Callable[[np.ndarray], np.ndarray | None], what: str):
        """Design covariance of a model fitted on ``rows``; returns ``(vcov, design_used)``.

        ``influence_rows``: the weighted influence values of the rows used (len(rows) x p);
        ``refit_rows(w)``: the estimate refitted with replicate weights ``w`` of those rows, or
        None when it does not converge (raised as ConvergenceError naming ``what`` and the
        replicate). ``design_used`` is the design restricted to ``rows`` (for its degf).
        """
        design_used = self._restrict_to_rows(rows)
        n_all = len(self.data)

        def influence():
            full = np.zeros((n_all, influence_rows.shape[1]))
            full[rows] = influence_rows
            return full

        n_calls = [0]

        def refit(w_r):
            n_calls[0] += 1
            est = refit_rows(np.asarray(w_r, dtype=float)[rows])
            if est is None:
                raise ConvergenceError(f"the {what} did not converge with replicate weights set "
                                       f"{n_calls[0]}.")
            return est

        return design_used._general_vcov(theta, influence=influence, refit=refit), design_used

    def assign(self, **columns) -> "DesignBase":
        """A new design whose data has added or replaced columns (R ``update(design, ...)``).

        Values may be arrays/Series aligned with ``design.data`` or callables taking the data
        frame, as in ``pandas.DataFrame.assign``. Weights, strata, PSUs, replicate weights and
        any subset are unchanged.

        Returns
        -------
        A new design of the same kind.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> d2 = d.assign(growth=lambda df: df.api00 - df.api99, high=lambda df: df.api00 >= 700)
        >>> d2.mean(["growth", "high"])
        Survey mean: Stratified element survey design (Taylor linearisation)
          term level  estimate        se   ci_low  ci_high  df
        growth  None   31.0751   1.99899  27.1329  35.0173 197
          high  None  0.268163 0.0336573 0.201788 0.334538 197
        200 rows used; CIs: t with design df
        In R: svymean(~growth + high, design, na.rm = TRUE)

        In R: ``update(dstrat, growth = api00 - api99, high = api00 >= 700)``.
        """
        try:
            data = _with_columns(self.data, columns)
        except (ValueError, TypeError) as exc:
            raise DesignError(
                f"cannot add the column(s) {', '.join(map(repr, columns))}: {exc}. Give one value "
                f"per row of design.data ({len(self.data)} rows), a scalar, or a callable taking "
                "the data frame."
            ) from None
        return self._with_weights(self._w, data)

    # ------------------------------------------------------------------ core kernel
    def _ratio_estimate(self, num: np.ndarray, den: np.ndarray | None, domains: bool = False):
        # domains=True: the columns are separate domain estimates (R's svyby analyses each
        # domain as its own subset), which a design may treat differently (Taylor designs:
        # which single-PSU strata hold rows of each estimate, _domain_ratio_vcov)
        w = self._w
        top = _weighted_sums(w, num)
        if den is None:
            theta = top
        else:
            bottom = _weighted_sums(w, den)
            with np.errstate(divide="ignore", invalid="ignore"):
                theta = top / bottom
        vcov_of = getattr(self, "_domain_ratio_vcov", None) if domains else None
        vcov = _nan_where_undefined((vcov_of or self._ratio_vcov)(num, den, theta), theta)
        return theta, vcov

    def _prepare(self, variables, by, what: str) -> tuple[AnalysisMatrix, Domains | None,
                                                          np.ndarray]:
        X = analysis_matrix(self.data, variables)
        dom = self._domains(by) if by is not None and len(as_list(by)) else None
        used = X.complete & self._subset_mask()
        if dom is not None:
            used &= dom.codes >= 0
        if not used.any():
            if dom is not None and not (dom.codes >= 0).any():
                raise EstimationError(
                    f"no rows left to compute the {what}: the by= variable(s) "
                    f"{', '.join(map(repr, as_list(by)))} are missing in every row of the subset."
                )
            raise EstimationError(
                f"no rows left to compute the {what}: every row in the subset has a missing "
                f"value in {', '.join(map(repr, as_list(variables)))}."
            )
        if not X.all_finite:
            _check_finite(X.values, X.terms, used, what)
        return X, dom, used

    def _domains(self, by) -> Domains:
        """Domains of ``by`` observed among the rows of the subset: R's ``svyby`` finds its
        levels after dropping the rows of weight 0, so a domain wholly outside a subset is not
        listed (it would be an empty domain: NaN mean, a ratio refused)."""
        inside = self._subset_mask()
        if inside.all():
            return domains(self.data, by)
        codes, n_domains, table = subset_domains(self.data, np.asarray(inside), by)
        return Domains(codes=codes, table=table, n_domains=n_domains)

    def _table(self, X: AnalysisMatrix, dom: Domains | None, theta, vcov,
               deff=None) -> pd.DataFrame:
        k = len(X.terms)
        D = 1 if dom is None else dom.n_domains
        columns = {
            "term": X.terms * D,
            "level": X.levels * D if X.any_categorical else [None] * (D * k),
            "estimate": np.asarray(theta, dtype=float),
            "se": np.sqrt(np.clip(np.diag(vcov), 0, None)),
        }
        if deff is not None:
            columns["deff"] = deff
        frame = pd.DataFrame(columns)
        if dom is not None:
            by_rows = dom.table.loc[np.repeat(np.arange(D), k)].reset_index(drop=True)
            frame = pd.concat([by_rows, frame], axis=1)
        return frame

    def _domain_ratio(self, X: AnalysisMatrix, dom: Domains | None, used: np.ndarray, ratio: bool):
        """Domain means (``ratio=True``) or totals of every analysis column.

        Returns theta (D*k, domain-major), vcov, and the pieces the design effect needs.
        Each row belongs to at most one domain, so everything is a ``bincount`` over the
        domain code; the subclass computes the covariance from the same sparse layout.
        """
        w = self._w
        all_used = bool(used.all())
        # rows used are complete and finite (_prepare), so only the other rows need zeros;
        # when every row is used the values are taken as they are (no copy)
        vals = X.values if all_used else np.where(used[:, None], X.values, 0.0)
        if dom is None:
            dcodes, D = (self._one_domain_codes() if all_used else np.where(used, 0, -1)), 1
        else:
            # (every row used: the domain codes as they are, all >= 0; no new n-vector)
            dcodes, D = (dom.codes if all_used else np.where(used, dom.codes, -1)), dom.n_domains
        k = vals.shape[1]
        # weights of the rows used (0 elsewhere): sums over all rows, no gathers of the rows used
        wu = w if all_used else np.where(used, w, 0.0)
        if D == 1 and all_used:
            # numerator and denominator summed the same way (one einsum loop each, no temporary
            # products), so that the mean of a constant c is c exactly when c is a power of 2;
            # the denominator, the sum of all weights, is kept on the design
            N = np.array([self._cached("weight_sum",
                                       lambda: float(np.einsum("i,i->", w, np.ones_like(w))))])
            # (each column contiguous: einsum's loop for a strided column sums in another order,
            # and the mean of a column of ones would then miss 1 by a rounding error)
            S = np.array([[np.einsum("i,i->", w, np.ascontiguousarray(vals[:, j]))
                           for j in range(k)]])
        elif D == 1:
            # as above, both summed pairwise
            N = np.array([wu.sum()])
            S = np.array([[(wu * vals[:, j]).sum() for j in range(k)]])
        else:
            idx_all = dcodes if all_used else np.where(used, dcodes, 0)
            N = np.bincount(idx_all, weights=wu, minlength=D)
            S = np.empty((D, k))
            for j in range(k):
                S[:, j] = np.bincount(idx_all, weights=wu * vals[:, j], minlength=D)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = S / N[:, None]
        theta = (means if ratio else S).ravel()
        vcov = _nan_where_undefined(self._domain_vcov(theta, vals, dcodes, D, N if ratio else None,
                                                      all_rows=all_used and dom is None),
                                    theta)
        return theta, vcov, (vals, dcodes, None, N, means)

    def _srs_variance(self, pieces, kind: str, deff) -> np.ndarray:
        """Variance under simple random sampling of the same size (denominator of deff).

        ``S^2 = n/(n-1) sum w (y - ybar)^2 / sum w`` within the domain; mean:
        ``S^2 (N - n) / (N n)`` (``"replace"``: ``S^2 / n``); total: ``N^2`` times that, with
        ``N = sum w`` and ``n`` the rows used (R ``svymean(deff = TRUE)``).
        """
        _check_deff(deff)
        vals, dcodes, idx, psum, means = pieces
        w = self._w
        ok = dcodes >= 0
        if idx is None:
            idx = dcodes[ok]
        D, k = means.shape
        nobs = np.bincount(idx, minlength=D).astype(float)
        s2 = np.empty((D, k))
        for j in range(k):
            dev = vals[ok, j] - means[idx, j]
            s2[:, j] = np.bincount(idx, weights=w[ok] * dev**2, minlength=D)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = s2 / psum[:, None] * (nobs / (nobs - 1))[:, None]
            # one row: the SRS variance is undefined (R: NA), whatever rounding left in dev
            s2[nobs <= 1, :] = np.nan
            if deff == "replace":
                factor = 1.0 / nobs
            else:
                factor = (psum - nobs) / (psum * nobs)
            if kind == "total":
                factor = factor * psum**2
        return (s2 * factor[:, None]).ravel()

    def _finish(self, table, vcov, statistic, used, X_complete, r_call, method="") -> Estimate:
        return Estimate(
            table=table,
            vcov=vcov,
            df=self.degf(),
            statistic=statistic,
            n_rows=int(np.count_nonzero(used)),
            n_missing=(0 if X_complete.all()
                       else int(np.count_nonzero(self._subset_mask() & ~X_complete))),
            method=method,
            design_label=self._short_label(),
            r_call=r_call,
        )

    # ------------------------------------------------------------------ verbs
    def mean(self, variables, by=None, deff: bool | str = False) -> Estimate:
        """Weighted mean (or proportions of each level of a categorical variable).

        ``mean = sum_i w_i y_i / sum_i w_i``, a ratio of two estimated totals. Its
        linearisation (influence) values are ``z_i = w_i (y_i - mean) / sum_i w_i``, whose
        design variance (:mod:`socialhealth.design.taylor_variance`) is the variance of the
        mean; replicate designs re-estimate the ratio with each replicate's weights.
        Rows with a missing value are left out (R ``na.rm = TRUE``): they get zero weight but
        keep their place in the design (domain estimation), and the result counts them.

        Parameters
        ----------
        variables : str or list of str
            Columns to average. A categorical/string column gives one proportion per level.
        by : str or list of str, optional
            Domain (subpopulation) variables: one estimate per observed combination, with the
            first variable varying fastest (R ``svyby``).
        deff : bool or "replace"
            Also compute the design effect: variance over the variance under simple random
            sampling without replacement of the same size (``"replace"``: with replacement),
            as R's ``deff = TRUE`` / ``deff = "replace"``.

        Returns
        -------
        Estimate
            ``to_frame()`` columns: [by...], term, level, estimate, se, ci_low, ci_high, df [,
            deff].

        References
        ----------
        Lumley T (2010) *Complex Surveys*, Wiley, §2.2-2.4. Woodruff RS (1971) JASA 66:411-414.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> d.mean("api00")
        Survey mean: Stratified element survey design (Taylor linearisation)
         term level  estimate      se  ci_low  ci_high  df
        api00  None   655.678 6.69374 642.478  668.879 197
        200 rows used; CIs: t with design df
        In R: svymean(~api00, design, na.rm = TRUE)
        >>> print(d.mean("awards").to_frame()[["level", "estimate", "se"]].round(4).to_string())
          level  estimate      se
        0    No    0.3815  0.0367
        1   Yes    0.6185  0.0367
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> est = dclus1.mean("api99", by="stype", deff=True)
        >>> print(est.to_frame()[["stype", "estimate", "se", "deff"]].round(3).to_string())
          stype  estimate      se   deff
        0     E   622.494  18.657  3.267
        1     H   621.077  19.537  0.711
        2     M   636.429  38.403  3.469

        In R: ``svymean(~api00, dstrat)``; ``svymean(~awards, dstrat)``;
        ``svyby(~api99, ~stype, dclus1, svymean, deff = TRUE)`` (add ``na.rm = TRUE`` when a
        variable has missing values).
        """
        _check_deff(deff)
        X, dom, used = self._prepare(variables, by, "mean")
        theta, vcov, pieces = self._domain_ratio(X, dom, used, ratio=True)
        d = self._srs_variance(pieces, "mean", deff) if deff else None
        table = self._table(X, dom, theta, vcov, None if d is None else np.diag(vcov) / d)
        call = self._r_call("svymean", variables, by, deff)
        return self._finish(table, vcov, "mean", used, X.complete, call)

    def total(self, variables, by=None, deff: bool | str = False) -> Estimate:
        """Estimated population total ``sum_i w_i y_i`` (counts per level for categorical).

        The influence values are ``z_i = w_i y_i`` (Horvitz-Thompson estimator); see
        :meth:`mean` for missing values, domains and design effects (``deff`` uses ``N^2``
        times the SRS variance of the mean).

        Parameters
        ----------
        variables : str or list of str
            Columns to total. A categorical/string column gives one estimated count per level.
        by : str or list of str, optional
            Domain variables (R ``svyby``), as in :meth:`mean`.
        deff : bool or "replace"
            Also compute the design effect, as in :meth:`mean`.

        Returns
        -------
        Estimate
            ``to_frame()`` columns: [by...], term, level, estimate, se, ci_low, ci_high, df [,
            deff].

        References
        ----------
        Horvitz DG, Thompson DJ (1952) JASA 47:663-685. Lumley T (2010) *Complex Surveys*, ch. 2.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> print(d.total("enroll").to_frame()[["term", "estimate", "se"]].round(0).to_string())
             term   estimate        se
        0  enroll  4261225.0  138438.0
        >>> print(d.total("stype").to_frame()[["level", "estimate", "se"]].round(1).to_string())
          level  estimate   se
        0     E    4421.0  0.0
        1     H     755.0  0.0
        2     M    1018.0  0.0

        In R: ``svytotal(~enroll, dstrat)``; ``svytotal(~stype, dstrat)``
        (``na.rm = TRUE`` when a variable has missing values).
        """
        _check_deff(deff)
        X, dom, used = self._prepare(variables, by, "total")
        theta, vcov, pieces = self._domain_ratio(X, dom, used, ratio=False)
        d = self._srs_variance(pieces, "total", deff) if deff else None
        table = self._table(X, dom, theta, vcov, None if d is None else np.diag(vcov) / d)
        call = self._r_call("svytotal", variables, by, deff)
        return self._finish(table, vcov, "total", used, X.complete, call)

    def ratio(self, numerator, denominator, by=None) -> Estimate:
        """Ratio of two totals ``R = sum w y / sum w x``.

        Influence values ``z_i = w_i (y_i - R x_i) / sum w x`` (Binder 1983; Lumley 2010 §2.4).
        Rows missing either variable are left out.

        Parameters
        ----------
        numerator, denominator : str or list of str
            Numeric columns; every (numerator, denominator) pair gives one ratio, named
            ``"y/x"``.
        by : str or list of str, optional
            Domain variables (R ``svyby(..., svyratio)``).

        Returns
        -------
        Estimate

        References
        ----------
        Binder DA (1983) On the variances of asymptotically normal estimators from complex
        surveys. Int Stat Rev 51:279-292. Lumley T (2010) *Complex Surveys*, §2.4.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> d.ratio("api.stu", "enroll")
        Survey ratio: 1-stage cluster survey design (Taylor linearisation)
                  term level  estimate         se   ci_low  ci_high  df
        api.stu/enroll  None  0.830677 0.00965743 0.809964  0.85139  14
        119 rows used; CIs: t with design df
        In R: svyratio(~api.stu, ~enroll, design, na.rm = TRUE)
        >>> print(d.ratio("api.stu", "enroll", by="stype").to_frame()[["stype", "estimate", "se"]]
        ...       .round(4).to_string())
          stype  estimate      se
        0     E    0.8322  0.0055
        1     H    0.8401  0.0248
        2     M    0.8184  0.0078

        In R: ``svyratio(~api.stu, ~enroll, dclus1)``;
        ``svyby(~api.stu, ~stype, dclus1, svyratio, denominator = ~enroll)``.
        """
        nums, dens = as_list(numerator), as_list(denominator)
        Y = analysis_matrix(self.data, nums)
        Xd = analysis_matrix(self.data, dens)
        if Y.any_categorical or Xd.any_categorical:
            raise EstimationError("ratio() needs numeric numerator and denominator columns.")
        complete = Y.complete & Xd.complete
        dom = self._domains(by) if by is not None and len(as_list(by)) else None
        used = complete & self.in_subset
        if dom is not None:
            used &= dom.codes >= 0
        _check_finite(Y.values, Y.terms, used, "ratio")
        _check_finite(Xd.values, Xd.terms, used, "ratio")
        pairs = [(i, j) for j in range(len(dens)) for i in range(len(nums))]
        ymat = np.where(used[:, None], np.nan_to_num(Y.values), 0.0)
        xmat = np.where(used[:, None], np.nan_to_num(Xd.values), 0.0)
        num = np.column_stack([ymat[:, i] for i, j in pairs])
        den = np.column_stack([xmat[:, j] for i, j in pairs])
        terms = [f"{nums[i]}/{dens[j]}" for i, j in pairs]
        if dom is not None:
            D = dom.n_domains
            ind = (dom.codes[:, None] == np.arange(D)[None, :]).astype(float)
            num = (ind[:, :, None] * num[:, None, :]).reshape(len(num), -1)
            den = (ind[:, :, None] * den[:, None, :]).reshape(len(den), -1)
        zero = (self._w @ den) == 0
        if zero.any():
            k = int(np.flatnonzero(zero)[0])
            where = ""
            if dom is not None:
                where = f" in domain {dom.table.iloc[k // len(terms)].to_dict()}"
            raise EstimationError(
                f"the denominator of {terms[k % len(terms)]!r} totals 0{where}, so the ratio is "
                "undefined (R's svyratio returns Inf/NaN here). Check the denominator column or "
                "leave that domain out with design.subset(...)."
            )
        theta, vcov = self._ratio_estimate(num, den, domains=dom is not None)
        fake = AnalysisMatrix(np.empty((0, len(terms))), terms, [None] * len(terms), complete)
        table = self._table(fake, dom, theta, vcov)
        call = f"svyratio(~{' + '.join(nums)}, ~{' + '.join(dens)}, design, na.rm = TRUE)"
        if by is not None:
            call = (f"svyby(~{' + '.join(nums)}, ~{' + '.join(map(str, as_list(by)))}, design, "
                    f"svyratio, denominator = ~{' + '.join(dens)}, na.rm = TRUE)")
        return self._finish(table, vcov, "ratio", used, complete, call)

    def var(self, variables, by=None) -> Estimate:
        """Estimated population variance (and covariances) of numeric variables.

        ``S^2 = n/(n-1) sum_i w_i (y_i - ybar)^2 / sum_i w_i`` with ``n`` the number of rows
        used (R's ``svyvar(na.rm = TRUE)`` counts the rows with a missing value in ``n`` too,
        so with missing values this equals R's ``svyvar`` on ``subset(design, !is.na(y))``,
        not R's ``na.rm = TRUE`` value); its standard error treats ``(y_i - ybar)^2`` as the
        analysis variable of a mean, which is exact to first order because the derivative
        with respect to ``ybar`` vanishes. For several variables, rows ``a:b`` give covariances.

        Parameters
        ----------
        variables : str or list of str
            Numeric columns.
        by : str or list of str, optional
            Domain variables (R ``svyby(..., svyvar)``).

        Returns
        -------
        Estimate

        References
        ----------
        Lumley T (2010) *Complex Surveys*, Wiley (R ``svyvar``).

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> print(d.var(["api00", "api99"]).to_frame()[["term", "estimate", "se"]]
        ...       .round(1).to_string())
                  term  estimate      se
        0        api00    8253.9  1062.4
        1  api00:api99    8198.1  1058.2
        2        api99    8874.0  1111.2

        In R: ``svyvar(~api00 + api99, dclus1)``.
        """
        cols = as_list(variables)
        X, dom, used = self._prepare(cols, by, "variance")
        if X.any_categorical:
            raise EstimationError("var() needs numeric columns.")
        w = self._w
        D = 1 if dom is None else dom.n_domains
        codes = np.zeros(len(w), dtype=np.int64) if dom is None else dom.codes
        names = []
        k = len(cols)
        for a in range(k):
            for b in range(a, k):
                names.append(cols[a] if a == b else f"{cols[a]}:{cols[b]}")
        blocks_num, blocks_den, parts = [], [], []
        for dmn in range(D):
            ind = used & (codes == dmn)
            wi = np.where(ind, w, 0.0)
            nobs = ind.sum()
            if nobs < 2:
                _few_rows_for_var(cols, dom, dmn, int(nobs))
            means = (wi @ np.nan_to_num(X.values)) / wi.sum()
            centred = np.where(ind[:, None], np.nan_to_num(X.values) - means, 0.0)
            parts.append((ind, centred, nobs))
            for a in range(k):
                for b in range(a, k):
                    with np.errstate(divide="ignore", invalid="ignore"):   # warned above
                        blocks_num.append(centred[:, a] * centred[:, b] * nobs / (nobs - 1))
                    blocks_den.append(ind.astype(float))
        num = np.column_stack(blocks_num)
        den = np.column_stack(blocks_den)
        theta, vcov = self._ratio_estimate(num, den, domains=dom is not None)
        replicate_var = getattr(self, "_var_replicate_vcov", None)
        if replicate_var is not None:
            # replicate designs recompute the whole variance (its mean too) per replicate,
            # as R svyvar.svyrep.design (the linearisation above is only first-order equal)
            vcov = replicate_var(theta, parts)
        fake = AnalysisMatrix(np.empty((0, len(names))), names, [None] * len(names), X.complete)
        table = self._table(fake, dom, theta, vcov)
        return self._finish(table, vcov, "variance", used, X.complete,
                            self._r_call("svyvar", cols, by, False))

    # verbs implemented in their own modules (one job per module)
    proportion = _delegate("proportion", "proportion")
    quantile = _delegate("quantile", "quantile")
    cdf = _delegate("cdf", "cdf")
    ttest = _delegate("hypothesis", "ttest")
    chisq = _delegate("hypothesis", "chisq")
    ranktest = _delegate("hypothesis", "ranktest")
    glm = _delegate("glm", "glm")
    anova = _delegate("lrt", "anova")
    post_stratify = _delegate("calibration", "post_stratify")
    rake = _delegate("calibration", "rake")
    calibrate = _delegate("calibration", "calibrate")
    standardize = _delegate("standardize", "standardize")
    table = _delegate("table", "table")
    loglin = _delegate("loglin", "loglin")
    gofchisq = _delegate("loglin", "gofchisq")
    trim_weights = _delegate("trim", "trim_weights")

    # ------------------------------------------------------------------ helpers
    def _r_call(self, fun: str, variables, by, deff) -> str:
        formula = "~" + " + ".join(map(str, as_list(variables)))
        extra = ", na.rm = TRUE"
        if deff:
            extra += ", deff = TRUE" if deff is True else f", deff = '{deff}'"
        if by is not None and len(as_list(by)):
            by_f = "~" + " + ".join(map(str, as_list(by)))
            return f"svyby({formula}, {by_f}, design, {fun}{extra})"
        return f"{fun}({formula}, design{extra})"

    def _check_columns(self, columns: Sequence[str]) -> None:
        require_columns(self.data, columns, "the design data")

    # ================================================================== public extension API
    # The engine's extension points for estimators written outside socialhealth.design
    # (models, measures, user code): R's svyrecvar, withReplicates and subset. Thin wrappers
    # around the private hooks above; code outside this package uses only these (see
    # tests/test_extension_api.py and "Adding an estimator in one file" in CONTRIBUTING.md).

    @property
    def label(self) -> str:
        """One-line description of the design (the first line of :meth:`describe`).

        Results of every estimator print it under their title.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc").label
        '1-stage cluster survey design (Taylor linearisation)'
        """
        return self._short_label()

    def with_weights(self, weights) -> "DesignBase":
        """The same design with other analysis weights (strata, PSUs, calibration kept).

        Rows with weight 0 are outside the analysis but stay in the design (domain
        estimation, as R's ``subset``); on a replicate design their replicate weights are set
        to 0 too. Use it for estimators that reweight the sample (inverse probability
        weights, attrition weights) before calling a verb such as :meth:`glm`.

        Parameters
        ----------
        weights : array of float, one per row of ``design.data``
            New analysis weights (finite, at least one positive; 0 leaves a row out; a
            negative weight, as calibration can give, is kept as R keeps it, with a
            :class:`~socialhealth.errors.NegativeWeightsWarning`).

        Returns
        -------
        A new design of the same kind.

        Raises
        ------
        WeightError
            A missing or infinite weight, or no positive weight.

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> d2 = d.with_weights(np.where(d.data.stype == "E", d.weights, 0.0))
        >>> e = d.subset(d.data.stype == "E")
        >>> float(d2.mean("api00").estimate.iloc[0]) == float(e.mean("api00").estimate.iloc[0])
        True

        In R: ``d2 <- d; d2$prob <- 1 / w`` (no verb; ``subset`` for 0/1 reweighting).
        """
        w = self._row_weights(weights)
        bad = ~np.isfinite(w)
        if bad.any():
            raise WeightError(
                f"with_weights: {int(bad.sum())} weight(s) are missing or infinite (first row "
                f"{int(np.flatnonzero(bad)[0])}); give finite weights (0 leaves a row out).")
        if not (w > 0).any():
            raise WeightError(
                "with_weights: no weight is positive (all zero or negative), so no row is left "
                "to analyse; give analysis weights > 0 (0 leaves a row out).")
        negative = w < 0
        if negative.any():
            warnings.warn(
                f"with_weights: {int(negative.sum())} weight(s) are negative (the smallest is "
                f"{float(w.min()):.6g}). They are kept, as R keeps them, but a variance, "
                "proportion or distribution function estimated from them can fall outside its "
                "range, and GLMs refuse them; give weights >= 0 (0 leaves a row out) unless "
                "they come from a linear calibration.", NegativeWeightsWarning,
                stacklevel=user_stacklevel())
        return self._with_weights(w)

    def _row_weights(self, weights) -> np.ndarray:
        """``weights`` as floats, one per row of ``design.data`` (DesignError otherwise)."""
        if isinstance(weights, str):
            raise DesignError(
                f"weights={weights!r}: with_weights()/reweight() take the weight values (one per "
                f"row), not a column name; pass design.data[{weights!r}].")
        try:
            w = np.asarray(weights, dtype=float)
        except (TypeError, ValueError) as exc:
            raise WeightError(f"weights must be numbers, one per row of design.data ({exc}).") \
                from None
        if w.shape != (len(self.data),):
            raise DesignError(f"weights have shape {w.shape} but the design has "
                              f"{len(self.data)} rows; give one weight per row of design.data.")
        return w

    def model_weight_mean(self) -> float:
        """The mean weight that R's model fits divide the weights by (``w / mean(w)``).

        R's ``svyglm`` and ``svyolr`` fit with the weights rescaled to mean 1 over the rows of
        the design object they get. Those are the rows of the subset, except on a subset of a
        calibrated (post-stratified, raked, calibrated, standardised), PPS or two-phase
        (``method="full"``, or calibrated) design: R's ``subset()`` keeps the rows outside the
        domain there, with weight 0, so the mean is over all the rows of the design the subset
        was taken from. The rescaling changes neither estimates nor standard errors, but it sets
        the scale of deviances, log-likelihoods, likelihood-ratio statistics, AIC and BIC.

        Returns
        -------
        float

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> round(d.subset(d.data.stype == "E").model_weight_mean(), 4)   # 85 domain rows
        50.4667
        >>> pop = pd.DataFrame({"stype": ["E", "H", "M"], "Freq": [4421, 755, 1018]})
        >>> ps = d.post_stratify("stype", pop)
        >>> round(ps.subset(ps.data.stype == "E").model_weight_mean(), 4)  # all 119 rows
        37.1513

        In R: ``mean(weights(subset(design, ...)))`` (the zero weights of the rows R's
        ``subset()`` keeps included).
        """
        return float(self._w[self._r_rows()].mean())

    def restrict_to_rows(self, rows) -> "DesignBase":
        """The design with zero weight outside ``rows`` (the rows an estimator used).

        Keeps the full design (strata, PSUs), as R's ``svyglm`` does after dropping rows with a
        missing value; returns the design itself when ``rows`` are all the rows of the current
        subset. Its :meth:`degf` gives the degrees of freedom of that estimator.

        Parameters
        ----------
        rows : array of int
            Positions (0-based) of the rows used, within ``design.data``.

        Returns
        -------
        A design of the same kind.

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> rows = np.flatnonzero(d.data.stype == "H")
        >>> d.restrict_to_rows(rows).degf()
        7.0

        In R: ``subset(dclus1, stype == "H")`` (``degf`` of it: 7).
        """
        positions = np.asarray(rows) if rows is not None else np.asarray([], dtype=float)
        if positions.dtype == bool and positions.shape == (len(self.data),):
            positions = np.flatnonzero(positions)
        n = len(self.data)
        if positions.ndim != 1 or not np.issubdtype(positions.dtype, np.integer) \
                or (positions.size and not (0 <= positions.min() and positions.max() < n)):
            raise DesignError(
                f"restrict_to_rows() takes the positions (0 to {len(self.data) - 1:,}) of the rows "
                f"used, e.g. np.flatnonzero(design.data['age'] >= 65), or one True/False per row, "
                f"not {show_given(rows)}.")
        return self._restrict_to_rows(positions)

    def variance_from_influence(self, influence, rows=None) -> np.ndarray:
        """Design covariance of an estimator from its influence values (R ``svyrecvar``).

        For an estimator ``theta`` (p values) with weighted influence (linearisation) values
        ``z_i`` (the change in ``theta`` from row ``i``, including its weight: for a mean
        ``z_i = w_i (y_i - mean) / sum_j w_j``), the Taylor variance is the design covariance
        of the estimated total ``sum_i z_i``: within each stratum ``h`` with ``n_h`` PSUs of
        totals ``z_hk``, ``(1 - f_h) n_h / (n_h - 1) sum_k (z_hk - zbar_h)(z_hk - zbar_h)'``,
        summed over strata and stages (Wolter 2007, ch. 6), with the design's lonely-PSU rule
        and, on calibrated designs, the residuals of ``z`` from the calibration model.

        Only Taylor designs have this: a replicate design's variance comes from re-estimating
        under each replicate's weights (:meth:`with_replicates`), as in R, where
        ``svyrecvar`` needs the strata and PSUs a replicate design does not carry.

        Parameters
        ----------
        influence : array (n x p) or (n,)
            Weighted influence values, one row per row of ``design.data`` (0 outside the
            rows used) or, with ``rows``, one row per row used.
        rows : array of int, optional
            Positions of the rows ``influence`` belongs to (the others count as 0).

        Returns
        -------
        numpy.ndarray (p x p)

        Raises
        ------
        DesignError
            On a replicate design.

        Examples
        --------
        The mean of ``api00`` through its influence values equals ``design.mean``:

        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> y, w = d.data.api00.to_numpy(float), d.weights
        >>> m = w @ y / w.sum()
        >>> V = d.variance_from_influence(w * (y - m) / w.sum())
        >>> round(float(np.sqrt(V[0, 0])), 4), round(float(d.mean("api00").se.iloc[0]), 4)
        (15.9735, 15.9735)

        In R: ``svyrecvar(z, dclus1$cluster, dclus1$strata, dclus1$fpc,
        postStrata = dclus1$postStrata)`` (what ``vcov(svymean(...))`` computes).
        """
        if self.kind == "replicate":
            raise DesignError(
                "a replicate-weight design has no linearisation variance (R svyrecvar needs "
                "strata and PSUs): re-estimate under each replicate's weights with "
                "design.with_replicates(fn), or use design.estimator_vcov(theta, influence, "
                "refit), which picks the right one for either kind.")
        Z = np.asarray(influence, dtype=float)
        if Z.ndim == 1:
            Z = Z[:, None]
        if rows is not None:
            full = np.zeros((len(self.data), Z.shape[1]))
            full[np.asarray(rows)] = Z
            Z = full
        if Z.shape[0] != len(self.data):
            raise DesignError(f"influence has {Z.shape[0]} rows but the design has "
                              f"{len(self.data)}; give one row per row of design.data (or pass "
                              "rows=).")
        return self._general_vcov(np.zeros(Z.shape[1]), influence=lambda: Z, refit=None)

    def with_replicates(self, estimator: Callable[[np.ndarray], np.ndarray]):
        """Estimate and covariance by re-estimating under each replicate's weights.

        ``theta = estimator(w)`` with the full-sample weights and ``theta_r = estimator(w_r)``
        with replicate ``r``'s weights; the covariance is
        ``scale * sum_r rscales_r (theta_r - c)(theta_r - c)'`` with ``c`` the mean of the
        ``theta_r`` (or ``theta`` when the design has ``mse=True``) (Wolter 2007, ch. 3-5).
        Any estimator that is a function of the weights works (quantiles, ratios of model
        predictions, ...).

        Parameters
        ----------
        estimator : callable
            Takes an array of weights (one per row of ``design.data``, 0 outside the subset)
            and returns a number or a 1-d array.

        Returns
        -------
        (theta, vcov) : numpy arrays of shape (p,) and (p x p)

        Raises
        ------
        DesignError
            On a Taylor design (build replicates with :meth:`SurveyDesign.to_replicate`, or
            use :meth:`variance_from_influence`).

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> r = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc").to_replicate("jk1")
        >>> y = r.data.api00.to_numpy(float)
        >>> theta, V = r.with_replicates(lambda w: w @ y / w.sum())
        >>> round(float(theta[0]), 2), round(float(np.sqrt(V[0, 0])), 2)
        (656.71, 16.97)

        In R: ``withReplicates(rclus1, function(w, data) sum(w * data$api00) / sum(w))``.
        """
        if self.kind != "replicate":
            raise DesignError(
                "with_replicates needs a replicate-weight design; build one with "
                "design.to_replicate(...) (R as.svrepdesign), or use "
                "design.variance_from_influence(...) on this Taylor design.")
        if not callable(estimator):
            raise DesignError(
                f"with_replicates() takes a function of the weights, e.g. lambda w: "
                f"(w * y).sum() / w.sum(), not {show_given(estimator)}.")
        theta = np.atleast_1d(np.asarray(estimator(self.weights), dtype=float))
        V = self._general_vcov(theta, influence=None, refit=estimator)
        return theta, V

    def estimator_vcov(self, theta, influence: Callable[[], np.ndarray],
                       refit: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Design covariance of an estimator on either design kind.

        Taylor designs call ``influence()`` and take :meth:`variance_from_influence` of it;
        replicate designs call ``refit(w_r)`` for every replicate and combine the estimates
        as :meth:`with_replicates` does. Give both so the estimator works on both kinds; the
        one not needed is never called.

        Parameters
        ----------
        theta : array (p,)
            Full-sample estimate (the centre of the replicates when ``mse=True``).
        influence : callable () -> array (n x p)
            Weighted influence values, one row per row of ``design.data``.
        refit : callable (weights) -> array (p,)
            The estimate recomputed with the given (replicate) weights.

        Returns
        -------
        numpy.ndarray (p x p)

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> y = d.data.api00.to_numpy(float)
        >>> def mean_se(design):
        ...     w = design.weights
        ...     m = w @ y / w.sum()
        ...     V = design.estimator_vcov(np.array([m]),
        ...                               influence=lambda: (w * (y - m) / w.sum())[:, None],
        ...                               refit=lambda wr: np.array([wr @ y / wr.sum()]))
        ...     return round(float(np.sqrt(V[0, 0])), 2)
        >>> mean_se(d), mean_se(d.to_replicate("jk1"))
        (15.97, 16.97)

        In R: ``vcov(svymean(~api00, dclus1))``; the same on ``as.svrepdesign(dclus1)``.
        """
        return self._general_vcov(np.atleast_1d(np.asarray(theta, dtype=float)),
                                  influence=influence, refit=refit)

    def totals_vcov(self, values, theta=None) -> np.ndarray:
        """Design covariance of the estimated totals ``sum_i w_i values_ij`` (R ``svytotal``).

        Taylor designs: the covariance of the totals of ``w_i values_ij``; replicate designs:
        re-estimated with each replicate's weights. ``values`` holds the analysis variables
        (0 for rows not used), not multiplied by the weights.

        Parameters
        ----------
        values : array (n x p)
            One row per row of ``design.data``.
        theta : array (p,), optional
            The centre of the replicates when the design has ``mse=True`` (default: the
            totals themselves).

        Returns
        -------
        numpy.ndarray (p x p)

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> V = d.totals_vcov(d.data[["enroll"]].to_numpy(float))
        >>> round(float(np.sqrt(V[0, 0])))
        138438

        In R: ``vcov(svytotal(~enroll, dstrat))``.
        """
        X = np.asarray(values, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if theta is None:
            theta = self._w @ X
        return self._ratio_vcov(X, None, np.atleast_1d(np.asarray(theta, dtype=float)))

    def model_vcov(self, theta, rows, influence_rows,
                   refit_rows: Callable[[np.ndarray], np.ndarray | None], what: str = "model"):
        """Design covariance of a model fitted on ``rows``; returns ``(vcov, design_used)``.

        :meth:`estimator_vcov` for an estimator that used only some rows (e.g. after
        dropping missing values): the influence values of the other rows are 0, replicate
        refits see only the replicate weights of the rows used, and ``design_used``
        (:meth:`restrict_to_rows`) gives the model's degrees of freedom (R ``svyglm``).

        Parameters
        ----------
        theta : array (p,)
            Full-sample estimate.
        rows : array of int
            Positions of the rows used, within ``design.data``.
        influence_rows : array (len(rows) x p)
            Weighted influence values of the rows used.
        refit_rows : callable (weights of the rows used) -> array (p,) or None
            The estimate refitted with one replicate's weights; None when it does not
            converge (raised as :class:`~socialhealth.errors.ConvergenceError` naming
            ``what`` and the replicate).
        what : str
            Name of the estimator in that error message.

        Returns
        -------
        (vcov, design_used)

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> rows = np.flatnonzero(d.data.stype == "E")
        >>> y, w = d.data.api00.to_numpy(float)[rows], d.weights[rows]
        >>> m = w @ y / w.sum()
        >>> V, used = d.model_vcov([m], rows, (w * (y - m) / w.sum())[:, None],
        ...                        lambda wr: np.array([wr @ y / wr.sum()]), "mean")
        >>> round(float(np.sqrt(V[0, 0])), 4), used.degf()
        (15.5575, 14.0)

        In R: ``vcov(svymean(~api00, subset(dclus1, stype == "E")))``.
        """
        refuse = getattr(self, "_refuse_negative_replicates", None)
        if refuse is not None:      # replicate designs: refits with negative weights undefined
            refuse(np.asarray(rows), what,
                   "its replicate refits are not defined with negative weights (R svycoxph "
                   "stops: coxph 'Invalid weights, must be >0').")
        return self._vcov_on_rows(np.atleast_1d(np.asarray(theta, dtype=float)),
                                  np.asarray(rows), np.asarray(influence_rows, dtype=float),
                                  refit_rows, what)
