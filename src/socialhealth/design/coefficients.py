"""The coefficient table shared by every fitted model (GLM, Cox, ordinal).

A fitted model has coefficients ``b`` (names ``names``), their design-based covariance ``V``
and a reference distribution for Wald inference: t with the model's residual degrees of
freedom (R ``svyglm``) or the normal (R ``svycoxph``, ``svyolr``). From those:

* standard errors ``se = sqrt(diag(V))``;
* Wald statistics ``b / se`` and two-sided p-values ``2 P(T > |b / se|)``;
* intervals ``b +- q(1 - alpha/2) se``.

References: Lumley T (2010) *Complex Surveys*, Wiley, ch. 5 and 7; Binder DA (1983)
Int Stat Rev 51:279-292.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.design.result_protocol import Result, Summary


class WaldCoefficients(Result):
    """Mixin: ``params``, ``bse``, ``statistic``, ``pvalues``, ``cov_params()``, ``conf_int()``,
    ``coef()`` / ``se()`` (R ``coef`` / ``SE``) and ``float(fit)`` for one coefficient.

    A subclass provides ``names``, ``_cov`` and the coefficient vector ``_coef``, and sets
    ``_wald_df`` (``inf`` for normal-reference inference, the residual df for t).

    Examples
    --------
    >>> import numpy as np
    >>> class Fit(WaldCoefficients):
    ...     names = ["a"]; _coef = np.array([2.0]); _cov = np.array([[1.0]])
    >>> round(float(Fit().pvalues["a"]), 4)              # 2 * (1 - Phi(2))
    0.0455
    >>> Fit().coef().to_dict(), Fit().se().to_dict(), float(Fit())
    ({'a': 2.0}, {'a': 1.0}, 2.0)

    The result protocol (:mod:`socialhealth.design.result_protocol`): ``coef()``, ``se()``,
    ``vcov`` and ``confint(level=)``; statsmodels' ``params``, ``bse``, ``cov_params()`` and
    ``conf_int(alpha=)`` are the same numbers.

    In R: ``coef(fit)``, ``SE(fit)``, ``vcov(fit)``, ``confint(fit)``.
    """

    names: list
    _cov: np.ndarray
    if TYPE_CHECKING:
        # provided by the subclass, as an attribute or (SurveyGLMResult, ...) a property
        @property
        def _coef(self) -> np.ndarray: ...

        @property
        def _wald_df(self) -> float: ...
    else:
        _wald_df = np.inf

    @property
    def params(self) -> pd.Series:
        """Coefficients, indexed by name (R ``coef(fit)``)."""
        return pd.Series(np.asarray(self._coef, dtype=float), index=self.names, name="estimate")

    @property
    def bse(self) -> pd.Series:
        """Design-based standard errors ``sqrt(diag(cov))`` (R ``SE(fit)``)."""
        return pd.Series(np.sqrt(np.clip(np.diag(self._cov), 0, None)), index=self.names, name="se")

    @property
    def statistic(self) -> pd.Series:
        """Wald statistics ``params / bse`` (t or z)."""
        return (self.params / self.bse).rename("statistic")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the Wald statistics: t with the model's degrees of freedom
        (R ``summary(svyglm)``) or the normal (R ``summary(svycoxph)``, ``svyolr``)."""
        from scipy import special

        z = np.abs(self.statistic.to_numpy())
        df = self._wald_df
        upper = special.ndtr(-z) if not np.isfinite(df) else special.stdtr(df, -z)
        return pd.Series(2 * upper, index=self.names, name="p")

    def coef(self) -> pd.Series:
        """Coefficients indexed by term, on the model's own scale (R ``coef(fit)``); the values
        of :attr:`params` (a :class:`~socialhealth.design.results.ResultSeries`: ``float()``
        works on one element)."""
        from socialhealth.design.results import ResultSeries

        return ResultSeries(self.params)

    def se(self) -> pd.Series:
        """Design-based standard errors indexed by term (R ``SE(fit)``); the values of
        :attr:`bse`."""
        from socialhealth.design.results import ResultSeries

        return ResultSeries(self.bse)

    def __float__(self) -> float:
        """The coefficient of a one-coefficient model (``float(fit)``); an error otherwise."""
        from socialhealth.design.results import one_value

        return one_value(self.params, "coefficient")

    def cov_params(self) -> pd.DataFrame:
        """Design-based covariance matrix of the coefficients (R ``vcov(fit)``)."""
        return pd.DataFrame(self._cov, index=self.names, columns=self.names)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals ``b +- q(1 - alpha/2) se``, q from t(df) or the normal.

        Columns ``ci_low``, ``ci_high`` indexed by coefficient (R ``confint(fit)``; for
        ``svyglm`` R's ``confint(fit, method = "Wald", ddf = fit$df.residual)``).
        """
        from scipy import special

        if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.number)) \
                or not 0 < float(alpha) < 1:
            from socialhealth.errors import EstimationError

            raise EstimationError(
                f"alpha must be a number strictly between 0 and 1 (e.g. 0.05 for 95% intervals), "
                f"not {show_given(alpha)}."
            )
        df = self._wald_df
        p = 1 - alpha / 2
        q = special.ndtri(p) if not np.isfinite(df) else special.stdtrit(df, p)
        b, se = np.asarray(self._coef, dtype=float), self.bse.to_numpy()
        return pd.DataFrame({"ci_low": b - q * se, "ci_high": b + q * se}, index=self.names)

    # ------------------------------------------------------------------ result protocol
    @property
    def vcov(self) -> pd.DataFrame:
        """Design-based covariance matrix of the coefficients, labelled (R ``vcov(fit)``); the
        same as :meth:`cov_params`."""
        return self.cov_params()

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals at ``level`` (``conf_int(alpha=1 - level)``; R ``confint(fit, level=)``).
        """
        from socialhealth.design.results import check_level

        return self.conf_int(1 - check_level(level))

    def _estimates(self, level: float) -> pd.DataFrame:
        ci = self.confint(level)
        return pd.DataFrame({"estimate": self.params.to_numpy(), "se": self.bse.to_numpy(),
                             "ci_low": ci["ci_low"].to_numpy(),
                             "ci_high": ci["ci_high"].to_numpy()},
                            index=self.names)

    def _summary_text(self, text: str) -> Summary:
        """``text`` as a :class:`Summary` with the coefficient table attached for HTML."""
        try:
            frame = self.to_frame()
        except Exception:  # noqa: BLE001 - the text alone is still a summary
            frame = None
        return Summary(text, frame=frame)


def coefficient_lines(names, estimate, se, statistic, p, *, width: int = 26,
                      statistic_name: str = "t") -> list[str]:
    """A summary's coefficient block as R prints it: a header (``Estimate``, ``Std. Error``,
    ``t value``, ``Pr(>|t|)``; ``z`` for a normal reference) and one line per coefficient,
    names cut to ``width - 1`` characters.

    Examples
    --------
    >>> print("\\n".join(coefficient_lines(["x"], [1.5], [0.5], [3.0], [0.0027], width=6)))
          Estimate  Std. Error   t value   Pr(>|t|)
      x        1.5         0.5     3.000     0.0027
    """
    s = statistic_name
    lines = [f"  {'':<{width}}{'Estimate':>12}{'Std. Error':>12}{s + ' value':>10}"
             f"{'Pr(>|' + s + '|)':>11}"]
    for name, b, e, z, pv in zip(names, estimate, se, statistic, p, strict=True):
        lines.append(f"  {str(name)[:width - 1]:<{width}}{b:>12.6g}{e:>12.6g}{z:>10.3f}"
                     f"{pv:>11.4g}")
    return lines
