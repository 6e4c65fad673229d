"""Result objects returned by the design verbs.

Every estimate (mean, total, proportion, ratio, domain estimates, ...) is an
:class:`Estimate`: a tidy table of point estimates and standard errors plus the full covariance
matrix, the design degrees of freedom and a note of the rows left out. ``to_frame()`` gives the
table with confidence intervals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from socialhealth._text import r_number, show, show_given, show_list
from socialhealth._deprecation import warn_renamed
from socialhealth.design.result_protocol import Result

ID_COLUMNS = ("term", "level")


def check_level(level, error=None) -> float:
    """A confidence level as a float strictly between 0 and 1, or a clear error.

    ``"95%"``, ``"0.95"`` (any string), ``95``, ``0``, ``1``, ``1.5``, ``None`` and NaN raise
    ``error`` (default :class:`~socialhealth.errors.EstimationError`) saying what to pass
    instead. (R's ``confint(est, level = 1.5)`` returns NaN with a warning and
    ``level = "95%"`` errors; socialhealth refuses every level outside (0, 1).)

    Examples
    --------
    >>> check_level(0.9)
    0.9
    """
    from socialhealth.errors import EstimationError

    error = EstimationError if error is None else error
    if isinstance(level, (bool, np.bool_, str, bytes)):
        raise error(f"level must be a number between 0 and 1 (e.g. 0.95), not {show_given(level)}.")
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise error(
            f"level must be a number between 0 and 1 (e.g. 0.95), not {show_given(level)}."
        ) from None
    if not 0 < value < 1:
        hint = f" (for {value:g}% pass level={value / 100:g})" if 1 < value < 100 else ""
        raise error(f"level must be strictly between 0 and 1 (e.g. 0.95), not "
                    f"{show_given(level)}{hint}.")
    return value


def one_value(values: pd.Series, what: str) -> float:
    """The single value of ``values`` as a float, or an EstimationError naming the labels.

    Used by ``float(result)`` on result objects.

    Examples
    --------
    >>> one_value(pd.Series([2.5], index=["age"]), "estimate")
    2.5

    In R: ``as.numeric(coef(est))`` for a single estimate.
    """
    if len(values) != 1:
        from socialhealth.errors import EstimationError

        labels = show_list(values.index, limit=6)
        raise EstimationError(
            f"float() needs a result with a single {what}; this one has {len(values)} "
            f"({labels}). Pick one, e.g. float(result.coef()[{show(values.index[0])}])."
        )
    return float(values.iloc[0])


class ResultSeries(pd.Series):
    """A labelled Series of estimates or standard errors, as returned by ``Estimate.estimate``
    and ``Estimate.se``.

    It is a pandas Series in every respect (arithmetic on it gives plain Series), and also:
    ``float(s)`` works when it holds one value (a clear error otherwise), and calling it returns
    a copy, so ``est.se`` and ``est.se()`` (R ``SE(est)``) are the same numbers. ``coef()`` and
    ``se()`` of the fitted models return one too.

    Examples
    --------
    >>> s = ResultSeries([0.25], index=["lonely"], name="se")
    >>> float(s), s().tolist()
    (0.25, [0.25])

    In R: ``SE(est)``; ``coef(est)``.
    """

    @property
    def _constructor(self):
        return pd.Series

    def __float__(self) -> float:
        return one_value(self, str(self.name or "value"))

    def __call__(self) -> "ResultSeries":
        return ResultSeries(self.to_numpy(copy=True), index=self.index.copy(), name=self.name)


def check_df(df, error=None) -> float | None:
    """A user's ``df=`` (degrees of freedom of the t quantiles): ``None`` (the design's), a
    number > 0, or infinity (normal quantiles); anything else raises ``error`` (default
    :class:`~socialhealth.errors.EstimationError`), where ``qt(0.975, df)`` would be NaN.

    Examples
    --------
    >>> check_df(12), check_df(None), check_df(float("inf"))
    (12.0, None, inf)
    """
    from socialhealth.errors import EstimationError

    if df is None:
        return None
    error = EstimationError if error is None else error
    if isinstance(df, (bool, np.bool_, str, bytes)):
        raise error(f"df must be a number > 0 (or float('inf') for normal quantiles), not "
                    f"{show_given(df)}.")
    try:
        value = float(df)
    except (TypeError, ValueError):
        raise error(f"df must be a number > 0 (or float('inf') for normal quantiles), not "
                    f"{show_given(df)}.") from None
    if not value > 0:
        raise error(f"df must be > 0 (or float('inf') for normal quantiles), not {show_given(df)}; "
                    "leave df=None for the design's degrees of freedom.")
    return value


def t_quantile(level: float, df: float) -> float:
    """Two-sided critical value ``q = F^-1(1 - (1 - level)/2)``: t with ``df`` degrees of freedom.

    The normal quantile when ``df`` is None or infinite.

    Examples
    --------
    >>> round(t_quantile(0.95, float("inf")), 4), round(t_quantile(0.95, 10), 4)
    (1.96, 2.2281)

    In R: ``qt(0.975, df)`` / ``qnorm(0.975)``.
    """
    from scipy import special

    q = 1 - (1 - level) / 2
    if df is None or not np.isfinite(df):
        return float(special.ndtri(q))
    return float(special.stdtrit(df, q))


def r_contrast_source(call: str) -> str:
    """The R call of a result as the first argument of ``svycontrast`` (``svyby`` calls get
    ``covmat = TRUE``, which ``svycontrast`` needs for the covariances of the domains)."""
    call = call or "est"
    if call.startswith("svyby(") and "covmat" not in call and call.endswith(")"):
        call = call[:-1] + ", covmat = TRUE)"
    return call


def r_contrast_call(call: str, rows, names=None) -> str:
    """R ``svycontrast`` of the result printed as ``call`` with coefficient vectors ``rows``
    (one per contrast, in the order of R's ``coef()``); ``svyby`` calls get ``covmat = TRUE``,
    which ``svycontrast`` needs to see the covariances of the domains."""
    call = r_contrast_source(call)
    vecs = ["c(" + ", ".join(f"{r_number(float(v))}" for v in r) + ")" for r in rows]
    if len(vecs) == 1 and names is None:
        return f"svycontrast({call}, {vecs[0]})"
    names = names or [f"contrast{i + 1}" for i in range(len(vecs))]
    body = ", ".join(f"`{n}` = {v}" for n, v in zip(names, vecs, strict=True))
    return f"svycontrast({call}, list({body}))"


@dataclass
class Estimate(Result):
    """A set of survey estimates with their covariance.

    Follows the result protocol (:mod:`socialhealth.design.result_protocol`): ``to_frame()``,
    ``coef()``, ``se()``, ``confint(level=)``, ``vcov``, ``summary()``, ``float()``, ``r_call``.

    Attributes
    ----------
    table : DataFrame with identifier columns (by-variables, ``term``, ``level``), ``estimate``,
        ``se`` and optionally ``deff``; one row per estimate.
    vcov : ndarray (k x k) covariance of the estimates, in the order of ``table``.
    df : design degrees of freedom used for t-based intervals (R ``degf(design)``); a scalar,
        or a per-row array for domain estimates whose df R computes per domain.
    statistic : what was estimated ("mean", "total", "proportion", ...).
    n_rows : rows that contributed (non-missing, inside the subset).
    n_missing : rows of the subset left out because an analysis variable was missing.
    ci_override : optional per-row (ci_low, ci_high) arrays for methods whose interval is not
        ``estimate +- t * se`` (e.g. logit or Korn-Graubard intervals for proportions).
    level : the confidence level ``ci_override`` was computed at (and the default level of
        the intervals of results that have their own method). Until 0.2 ``ci_level``.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> est = d.mean("api00", by="stype")
    >>> print(est.to_frame().drop(columns="level").round(3).to_string())
      stype   term  estimate      se   ci_low  ci_high     df
    0     E  api00    657.69   8.607  640.716  674.664  197.0
    1     H  api00    653.28  13.545  626.569  679.991  197.0
    2     M  api00    648.72  12.676  623.722  673.718  197.0
    >>> est.estimate.round(2).to_dict()
    {'stype=E, api00': 657.69, 'stype=H, api00': 653.28, 'stype=M, api00': 648.72}
    >>> both = d.mean(["api00", "api99"])
    >>> print(both.vcov_frame.round(2).to_string())
           api00  api99
    api00  44.81  41.90
    api99  41.90  42.99
    >>> print(est.confint(level=0.9, df=float("inf")).round(2).to_string())   # normal quantiles
                    ci_low  ci_high
    stype=E, api00  643.53   671.85
    stype=H, api00  631.00   675.56
    stype=M, api00  627.87   669.57

    In R: ``coef(est)``, ``SE(est)``, ``vcov(est)``, ``confint(est, df = degf(design))``.
    """

    table: pd.DataFrame
    vcov: np.ndarray
    df: float | np.ndarray
    statistic: str
    n_rows: int = 0
    n_missing: int = 0
    method: str = ""
    design_label: str = ""
    r_call: str = ""
    ci_override: tuple[np.ndarray, np.ndarray] | None = None
    level: float = 0.95
    extra: dict = field(default_factory=dict)

    @property
    def ci_level(self) -> float:
        """Deprecated spelling of :attr:`level` (the confidence level of the intervals)."""
        warn_renamed(type(self).__name__, "ci_level", "level", "0.1.0", attribute=True)
        return self.level

    # ------------------------------------------------------------------ accessors
    @property
    def estimate(self) -> ResultSeries:
        """Point estimates as a Series labelled by by-values, term and level (R ``coef(est)``).

        ``float(est.estimate)`` works for a single estimate (see :class:`ResultSeries`).
        """
        return ResultSeries(self.table["estimate"].to_numpy(), index=self._labels(),
                            name="estimate")

    @property
    def se(self) -> ResultSeries:
        """Standard errors ``sqrt(diag(vcov))`` as a labelled Series (R ``SE(est)``).

        Also callable, ``est.se()``, like R's ``SE(est)``.
        """
        return ResultSeries(self.table["se"].to_numpy(), index=self._labels(), name="se")

    def coef(self) -> ResultSeries:
        """Point estimates as a Series labelled by by-values, term and level (R ``coef(est)``).

        Examples
        --------
        >>> import pandas as pd, socialhealth as sh
        >>> d = sh.SurveyDesign(pd.DataFrame({"age": [20.0, 40.0], "w": [1.0, 3.0]}), weights="w")
        >>> d.mean("age").coef().round(6).to_dict(), float(d.mean("age"))
        ({'age': 35.0}, 35.0)

        In R: ``coef(svymean(~age, design))``; ``SE(...)`` is :attr:`se` (``est.se()``).
        """
        return self.estimate()

    def __float__(self) -> float:
        """The estimate when the result holds exactly one (``float(d.mean("age"))``)."""
        return one_value(self.estimate, "estimate")

    def cv(self) -> ResultSeries:
        """Coefficients of variation ``se / estimate`` as a labelled Series (R ``cv(est)``,
        Stata ``estat cv``): negative for a negative estimate and infinite for an estimate of
        0, as R's. Statistical offices flag or suppress estimates above a CV threshold (e.g.
        0.3).

        Examples
        --------
        >>> import pandas as pd, socialhealth as sh
        >>> d = sh.SurveyDesign(pd.DataFrame({"y": [1.0, 2.0, 6.0], "w": 1.0}), weights="w")
        >>> est = d.mean("y")
        >>> round(float(est.cv().iloc[0]), 6) == round(float(est.se().iloc[0]) / 3.0, 6)
        True

        In R: ``cv(svymean(~y, design))``.
        """
        e = self.table["estimate"].to_numpy(dtype=float)
        s = self.table["se"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = s / e
        return ResultSeries(out, index=self._labels(), name="cv")

    @property
    def vcov_frame(self) -> pd.DataFrame:
        """The covariance matrix as a DataFrame with the estimate labels (R ``vcov(est)``)."""
        labels = self._labels()
        return pd.DataFrame(self.vcov, index=labels, columns=labels)

    def _id_columns(self) -> list[str]:
        return [c for c in self.table.columns if c not in ("estimate", "se", "deff")]

    def _labels(self) -> list[str]:
        cols = self._id_columns()
        labels = []
        for row in self.table[cols].itertuples(index=False):
            parts: list[str] = []
            for c, v in zip(cols, row, strict=True):
                if c == "level":
                    if v is not None and not (isinstance(v, float) and np.isnan(v)):
                        parts[-1] = f"{parts[-1]}[{v}]" if parts else str(v)
                elif c == "term":
                    parts.append(str(v))
                else:
                    parts.insert(len(parts), f"{c}={v}")
            labels.append(", ".join(parts))
        return labels

    # ------------------------------------------------------------------ output
    def confint(self, level: float = 0.95, df: float | None = None) -> pd.DataFrame:
        """Wald confidence intervals ``estimate +- q * se``.

        ``q`` is the t quantile with the design degrees of freedom (R:
        ``confint(est, df = degf(design))``); ``df=float('inf')`` gives the normal interval
        (R's default ``confint(est)``). Methods with their own interval (logit, beta, ...)
        return it when ``level`` equals the level they were computed at.
        """
        lo, hi = self._wald_interval(level, df)
        return pd.DataFrame({"ci_low": lo, "ci_high": hi}, index=self._labels())

    def _wald_interval(self, level: float, df: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The arrays of :meth:`confint` (without the row labels)."""
        level = check_level(level)
        df = check_df(df)
        if self.ci_override is not None and df is None and np.isclose(level, self.level):
            lo, hi = self.ci_override
            return np.asarray(lo), np.asarray(hi)
        dfs = np.broadcast_to(np.asarray(self.df if df is None else df, dtype=float),
                              (len(self.table),))
        q = np.array([t_quantile(level, d) for d in dfs])
        est = self.table["estimate"].to_numpy(dtype=float)
        se = self.table["se"].to_numpy(dtype=float)
        return est - q * se, est + q * se

    def to_frame(self, level: float = 0.95, df: float | None = None) -> pd.DataFrame:
        """Tidy table: identifiers, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``
        [, ``deff``]."""
        if type(self).confint is Estimate.confint:
            lo, hi = self._wald_interval(level, df)          # (no row labels needed)
        else:                                                # a subclass's own intervals
            ci = self.confint(level, df)
            lo, hi = ci["ci_low"].to_numpy(), ci["ci_high"].to_numpy()
        columns: dict = {c: self.table[c].to_numpy() if c in ("estimate", "se")
                         else self.table[c] for c in self.table.columns if c != "deff"}
        columns["ci_low"] = lo
        columns["ci_high"] = hi
        columns["df"] = np.broadcast_to(np.asarray(self.df if df is None else df, dtype=float),
                                        (len(self.table),)).copy()
        if "deff" in self.table:
            columns["deff"] = self.table["deff"].to_numpy()
        return pd.DataFrame(columns, index=self.table.index).reset_index(drop=True)

    def contrast(self, coefficients, name: str = "contrast") -> "Estimate":
        """Linear combination ``c' theta`` with variance ``c' V c`` (R ``svycontrast``).

        Parameters
        ----------
        coefficients : sequence of numbers aligned with the rows of the table, or a dict
            mapping row labels (as in ``estimate.index``) or values of the single by-variable
            to coefficients (missing rows get 0). An expression over the estimates' names
            (``"female / male"``, a ratio of two domain means) or a dict of expressions is a
            nonlinear contrast: it is passed to :func:`socialhealth.design.contrast` (delta
            method), named ``name``.
        name : str, default "contrast"
            The contrast's term in ``to_frame()``.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> est = d.mean("api00", by="stype")
        >>> diff = est.contrast({"E": 1, "H": -1}, name="E - H")
        >>> print(diff.to_frame()[["term", "estimate", "se", "ci_low", "ci_high"]]
        ...       .round(3).to_string())
            term  estimate      se  ci_low  ci_high
        0  E - H      4.41  16.048 -27.238   36.058
        >>> avg = est.contrast([1 / 3, 1 / 3, 1 / 3], name="unweighted average")
        >>> round(float(avg.estimate.iloc[0]), 3), round(float(avg.se.iloc[0]), 3)
        (653.23, 6.817)

        >>> ratio = est.contrast("E / H", name="E / H")
        >>> print(ratio.to_frame()[["term", "estimate", "se"]].round(4).to_string())
            term  estimate      se
        0  E / H    1.0068  0.0247

        In R:
        ``svycontrast(svyby(~api00, ~stype, d, svymean, covmat = TRUE), c(E = 1, H = -1, M = 0))``;
        ``svycontrast(..., quote(E/H))``.
        """
        from socialhealth.errors import EstimationError

        if not isinstance(name, str) or not name:
            raise EstimationError(f"contrast: name= is the label of the new estimate, a "
                                  f"non-empty text such as 'E - H', not {show_given(name)}.")
        if isinstance(coefficients, str) or (isinstance(coefficients, dict) and any(
                isinstance(v, str) for v in coefficients.values())):
            from socialhealth.design._contrast import contrast as nonlinear

            return nonlinear(self, {name: coefficients} if isinstance(coefficients, str)
                             else coefficients)
        k = len(self.table)
        if isinstance(coefficients, dict):
            labels = self._labels()
            by_cols = [c for c in self._id_columns() if c not in ID_COLUMNS]
            c = np.zeros(k)
            for key, value in coefficients.items():
                hits = [i for i, lab in enumerate(labels) if lab == key]
                if not hits and len(by_cols) == 1:
                    hits = [i for i, v in enumerate(self.table[by_cols[0]]) if str(v) == str(key)]
                if not hits:
                    raise EstimationError(f"contrast: no estimate labelled {show_given(key)}; "
                                          f"labels are {show_list(labels)}.")
                c[hits] = value
        else:
            try:
                c = np.asarray(coefficients, dtype=float)
            except (TypeError, ValueError):
                by_cols = [col for col in self._id_columns() if col not in ID_COLUMNS]
                example = (" such as " + show(" - ".join(
                    str(v) for v in self.table[by_cols[0]].iloc[:2])) if len(by_cols) == 1
                    and k > 1 else " over the estimates' names (see socialhealth.design.contrast)")
                raise EstimationError(
                    f"contrast needs {k} numbers (one per estimate: {show_list(self._labels())}),"
                    f" a dict of them by label, or an expression{example}; got "
                    f"{show_given(coefficients)}.") from None
            if c.shape != (k,):
                raise EstimationError(f"contrast needs {k} coefficients, one per estimate; got "
                                      f"{c.shape}.")
        est = float(c @ self.table["estimate"].to_numpy(dtype=float))
        var = float(c @ self.vcov @ c)
        table = pd.DataFrame({"term": [name], "level": [None], "estimate": [est],
                              "se": [np.sqrt(max(var, 0.0))]})
        df = float(np.min(np.atleast_1d(self.df)))
        return Estimate(table, np.array([[var]]), df, "contrast", self.n_rows, self.n_missing,
                        design_label=self.design_label, r_call=r_contrast_call(self.r_call, [c]))

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        head = f"{self.statistic}"
        if self.method:
            head += f" ({self.method})"
        lines = [f"Survey {head}: {self.design_label}".rstrip(": ")]
        frame = self.to_frame()
        with pd.option_context("display.width", 120, "display.max_columns", 20,
                               "display.float_format", "{:.6g}".format):
            lines.append(frame.to_string(index=False))
        note = f"{self.n_rows} rows used"
        if self.n_missing:
            note += f"; {self.n_missing} rows with missing values left out (na.rm = TRUE)"
        lines.append(note + "; CIs: t with design df")
        if self.r_call:
            lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)

    def _estimates(self, level: float) -> pd.DataFrame:
        ci = self.confint(level)
        return pd.DataFrame({"estimate": self.table["estimate"].to_numpy(dtype=float),
                             "se": self.table["se"].to_numpy(dtype=float),
                             "ci_low": ci["ci_low"].to_numpy(),
                             "ci_high": ci["ci_high"].to_numpy()},
                            index=self._labels())
