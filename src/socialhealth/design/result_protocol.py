"""One protocol for every result object socialhealth returns.

Every public result class (estimates, fitted models, tests, tables of the ``models`` and
``measures`` packages) derives from :class:`Result` and so offers the same members:

``to_frame()``
    The tidy table (one row per estimate; columns as the package uses them: identifiers such as
    ``term``/``level``, then ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``p``, ...).
``coef()`` / ``se()``
    Estimates and standard errors as labelled Series (``float()`` works on one element).
``confint(level=0.95)``
    ``ci_low`` / ``ci_high`` by label. At the level the result was computed at these are the
    table's own interval columns; at another level the result's own method is recomputed
    (Wald ``estimate +- q se`` with ``q`` from the t with the result's df, or the normal).
``vcov``
    The covariance matrix of the estimates (an array or a labelled DataFrame).
``summary()``
    A :class:`Summary`: a ``str`` (prints as text) with ``_repr_html_`` for notebooks.
``_repr_html_()``
    The summary as HTML.
``float(result)``
    The estimate of a result that holds exactly one.
``r_call``
    The matching R call, where there is one.

Fitted models (GLM, Cox, ordinal, multiple imputation) also keep statsmodels' names:
``params`` (= ``coef()``), ``bse`` (= ``se()``), ``cov_params()`` (= ``vcov``) and
``conf_int(alpha=0.05)`` (= ``confint(level=1 - alpha)``).

Where a member does not apply to a kind of result (the covariance of a Kaplan-Meier curve, the
interval of a test, ``float()`` of a table with several rows) it raises
:class:`~socialhealth.errors.NotApplicableError` (an ``EstimationError``) saying why and what to
use instead, never ``AttributeError``.

Examples
--------
>>> import socialhealth as sh
>>> apistrat = sh.datasets.load_example("apistrat")
>>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
>>> est = d.mean("api00")
>>> isinstance(est, Result), isinstance(est, ResultProtocol)
(True, True)
>>> round(float(est), 2), est.confint(level=0.9).round(2).to_dict("records")
(655.68, [{'ci_low': 644.62, 'ci_high': 666.74}])
"""
from __future__ import annotations

import html
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

#: members every result offers (directly or by raising NotApplicableError)
PROTOCOL_MEMBERS = ("to_frame", "coef", "se", "confint", "vcov", "summary", "_repr_html_",
                    "__float__")


class Summary(str):
    """The text summary of a result: a ``str`` (``print()`` shows it) with ``_repr_html_`` for
    notebooks (a ``<pre>`` block, followed by the tidy table when one is attached).

    Examples
    --------
    >>> s = Summary("Mean of age: 35", frame=pd.DataFrame({"estimate": [35.0]}))
    >>> print(s)
    Mean of age: 35
    >>> s._repr_html_().startswith("<pre>Mean of age: 35</pre>")
    True
    """

    frame: pd.DataFrame | None

    def __new__(cls, text: str, frame: pd.DataFrame | None = None):
        obj = super().__new__(cls, text)
        obj.frame = frame
        return obj

    def _repr_html_(self) -> str:
        out = "<pre>" + html.escape(str(self), quote=False) + "</pre>"
        if self.frame is not None:
            out += self.frame.to_html(index=False, float_format="{:.6g}".format)
        return out


class SummaryFrame(pd.DataFrame):
    """A DataFrame that is also callable: ``res.summary`` (the one-row table, as before) and
    ``res.summary()`` (the protocol's :class:`Summary` text) both work.

    Examples
    --------
    >>> f = SummaryFrame({"estimate": [1.0]})
    >>> f.attrs["text"] = "pooled estimate 1"
    >>> print(f())
    pooled estimate 1
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def __call__(self) -> Summary:
        return Summary(self.attrs.get("text", self.to_string(index=False)),
                       frame=pd.DataFrame(self))


class ScalarValue(float):
    """A float that is also callable: ``res.se`` (the number, as before) and ``res.se()`` (the
    protocol's labelled Series of ``owner``) both work. Pickles as a plain float (the owner
    re-wraps it when it is unpickled).

    Examples
    --------
    >>> class R(Result):
    ...     def _estimates(self, level):
    ...         return pd.DataFrame({"estimate": [1.0], "se": [0.25], "ci_low": [0.5],
    ...                              "ci_high": [1.5]}, index=["pooled"])
    >>> r = R(); v = ScalarValue(0.25, r, "se")
    >>> v * 2, v().to_dict()
    (0.5, {'pooled': 0.25})
    """

    _owner: Any
    _member: str

    def __new__(cls, value: float, owner=None, member: str = "se"):
        obj = super().__new__(cls, value)
        obj._owner, obj._member = owner, member
        return obj

    def __call__(self):
        return getattr(Result, self._member)(self._owner)

    def __reduce__(self):
        return (float, (float(self),))


@runtime_checkable
class ResultProtocol(Protocol):
    """What every socialhealth result offers (see the module docstring)."""

    def to_frame(self) -> pd.DataFrame:
        """The tidy table."""

    def coef(self) -> pd.Series:
        """Estimates by label."""

    def se(self) -> pd.Series:
        """Standard errors by label."""

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """``ci_low`` / ``ci_high`` by label at ``level``."""

    def summary(self) -> str:
        """Text summary with ``_repr_html_``."""

    def _repr_html_(self) -> str: ...

    def __float__(self) -> float: ...


def not_applicable(result, member: str, why: str):
    """Raise NotApplicableError: ``member`` does not apply to this result, because ``why``."""
    from socialhealth.errors import NotApplicableError

    raise NotApplicableError(f"{type(result).__name__}.{member} does not apply: {why}")


class Result:
    """Base of every public result class: default protocol members built on a tidy frame.

    A subclass implements ``to_frame()`` and, to get ``coef()``, ``se()``, ``confint()`` and
    ``float()`` for free, ``_estimates(level)``: a frame indexed by label with columns
    ``estimate``, ``se``, ``ci_low``, ``ci_high`` at ``level``. The default builds it from
    ``to_frame()`` (columns ``estimate``, ``se``, ``ci_low``, ``ci_high``, optional ``df``,
    labels from ``_label_columns``): at ``_ci_level`` it returns the table's own interval, at
    another level the Wald interval ``estimate +- q se`` (``q``: t with the ``df`` column, or
    the normal). ``_not_applicable`` maps a member name (``"coef"``, ``"se"``, ``"confint"``,
    ``"vcov"``, ``"float"``) to the reason it does not apply; those members then raise
    :class:`~socialhealth.errors.NotApplicableError`.

    Every subclass is listed in :data:`Result.registry` (tests check each one).
    """

    registry: list = []
    _not_applicable: dict = {}
    _label_columns: tuple = ("term",)
    _what = "estimate"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Result.registry.append(cls)

    # ------------------------------------------------------------------ hooks
    def _ci_level(self) -> float:
        for name in ("ci_level", "level"):
            value = self.__dict__.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
                return float(value)
        return 0.95

    def _labels_of(self, frame: pd.DataFrame) -> list[str]:
        cols = [c for c in self._label_columns if c in frame.columns]
        if not cols:
            return [str(i) for i in range(len(frame))]
        labels = []
        for row in frame[cols].itertuples(index=False):
            parts = [str(v) for v in row if v is not None and not (isinstance(v, float)
                                                                   and np.isnan(v))]
            labels.append(", ".join(parts))
        return labels

    def _estimates(self, level: float) -> pd.DataFrame:
        from socialhealth.design.results import t_quantile

        frame = self.to_frame()
        out = pd.DataFrame({"estimate": frame["estimate"].to_numpy(dtype=float),
                            "se": frame["se"].to_numpy(dtype=float)},
                           index=self._labels_of(frame))
        if np.isclose(level, self._ci_level()) and {"ci_low", "ci_high"} <= set(frame.columns):
            out["ci_low"] = frame["ci_low"].to_numpy(dtype=float)
            out["ci_high"] = frame["ci_high"].to_numpy(dtype=float)
        else:
            dfs = (frame["df"].to_numpy(dtype=float) if "df" in frame.columns
                   else np.full(len(frame), np.inf))
            q = np.array([t_quantile(level, d) for d in dfs])
            out["ci_low"] = out["estimate"] - q * out["se"]
            out["ci_high"] = out["estimate"] + q * out["se"]
        return out

    def _check(self, member: str) -> None:
        why = self._not_applicable.get(member)
        if why:
            not_applicable(self, member if member == "vcov" else member + "()", why)

    # ------------------------------------------------------------------ protocol
    def coef(self) -> pd.Series:
        """Estimates as a labelled Series (R ``coef(x)``)."""
        from socialhealth.design.results import ResultSeries

        self._check("coef")
        est = self._estimates(self._ci_level())["estimate"]
        return ResultSeries(est.to_numpy(), index=list(est.index), name="estimate")

    def se(self) -> pd.Series:
        """Standard errors as a labelled Series (R ``SE(x)``)."""
        from socialhealth.design.results import ResultSeries

        self._check("se")
        se = self._estimates(self._ci_level())["se"]
        return ResultSeries(se.to_numpy(), index=list(se.index), name="se")

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """``ci_low`` / ``ci_high`` by label at ``level`` (R ``confint(x, level = )``)."""
        from socialhealth.design.results import check_level

        self._check("confint")
        return self._estimates(check_level(level))[["ci_low", "ci_high"]]

    def __float__(self) -> float:
        """The estimate of a result that holds exactly one (``float(result)``)."""
        from socialhealth.design.results import one_value

        self._check("float")
        return one_value(self.coef(), self._what)

    def summary(self) -> Summary:
        """Text summary (prints as text; ``_repr_html_`` for notebooks)."""
        try:
            frame = self.to_frame()
        except Exception:  # noqa: BLE001 - the text alone is still a summary
            frame = None
        if frame is not None and len(frame) > 200:
            frame = None
        return Summary(repr(self), frame=frame)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __getattr__(self, name):
        # only reached when normal lookup fails: protocol members a class does not have
        if name == "vcov":
            why = self._not_applicable.get("vcov") or (
                "this result has no covariance matrix of its estimates.")
            not_applicable(self, "vcov", why)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def analysis_scale(labels, estimate, se, ci_low, ci_high, logged, df, level: float,
                   table_level: float) -> pd.DataFrame:
    """Estimates, standard errors and intervals on the scale where ``estimate +- q se`` holds.

    Tables show ratios (odds, prevalence, rate, hazard ratios) as ``exp()`` of the link-scale
    value while their ``se`` is of the log; rows with ``logged`` true are logged back (estimate
    and the table's interval). At ``table_level`` the interval is the table's own; at another
    level ``estimate +- q se`` with ``q`` the t quantile with ``df`` (normal for ``inf``).

    Examples
    --------
    >>> f = analysis_scale(["or"], [np.e], [0.5], [np.exp(0.02)], [np.exp(1.98)], [True],
    ...                    np.inf, 0.95, 0.95)
    >>> f.round(2).to_dict("records")
    [{'estimate': 1.0, 'se': 0.5, 'ci_low': 0.02, 'ci_high': 1.98}]
    """
    from socialhealth.design.results import t_quantile

    est = np.asarray(estimate, dtype=float)
    logged = np.broadcast_to(np.asarray(logged, dtype=bool), est.shape)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(logged, np.log(est), est)
        if np.isclose(level, table_level):
            lo = np.asarray(ci_low, dtype=float)
            hi = np.asarray(ci_high, dtype=float)
            lo, hi = np.where(logged, np.log(lo), lo), np.where(logged, np.log(hi), hi)
        else:
            dfs = np.broadcast_to(np.asarray(df, dtype=float), est.shape)
            q = np.array([t_quantile(level, d if d > 0 else np.inf) for d in dfs])
            lo, hi = est - q * se, est + q * se
    return pd.DataFrame({"estimate": est, "se": se, "ci_low": lo, "ci_high": hi},
                        index=[str(v) for v in labels])


#: reasons shared by the test results
TEST_REASONS = {
    "coef": "a test result has a statistic and a p-value, not estimates; use .statistic and "
            ".p (or to_frame()).",
    "se": "a test result has a statistic and a p-value, not estimates with standard errors; "
          "use .statistic and .p (or to_frame()).",
    "confint": "a test result has no confidence interval; use .p (or to_frame()).",
    "vcov": "a test result has no covariance matrix of estimates.",
    "float": "a test result has several numbers (statistic, df, p); use float(result.p) or "
             "float(result.statistic).",
}
