"""The fitted survey GLM: :class:`SurveyGLMResult` (see :func:`socialhealth.design.glm.glm`)."""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._options import is_choice
from socialhealth.design.coefficients import WaldCoefficients
from socialhealth.design.formula import ModelFrame, evaluate_offset, normalise_formula
from socialhealth.design.glm_families import FAMILIES, LINKS
from socialhealth.design.irls import _Fit
from socialhealth.design.result_protocol import Summary
from socialhealth.design.wald import WaldTest, _quadratic_form, _split_terms
from socialhealth._text import show_given, show_list
from socialhealth.errors import ModelError


def _offset_values(offset, n: int) -> np.ndarray:
    """A user's array ``offset=`` of :meth:`SurveyGLMResult.predict` as ``n`` floats, or a
    ModelError saying what to pass."""
    try:
        values = np.asarray(offset, dtype=float).ravel()
    except (TypeError, ValueError):
        values = None
    # True/False (one or per row) and text are not offsets, though float() reads them
    kind = np.asarray(offset).dtype.kind if values is not None else ""
    if kind in "bUS":
        values = None
    if values is not None and np.ndim(offset) == 0:
        if not np.isfinite(values[0]):
            raise ModelError(f"offset= of predict() must be a finite number (or one per row of "
                             f"the data predicted), not {show_given(offset)}.")
        return np.full(n, values[0])          # one number for every row, as before
    if values is None or values.shape != (n,):
        raise ModelError(f"offset= of predict() takes one number per row of the data predicted "
                         f"({n:,} rows), not {show_given(offset)}; an offset column of the "
                         "model is read from newdata by itself.")
    return values


def _singular_message(result, q: int) -> str:
    """Message for a Wald test whose covariance is singular."""
    degf = result.design.degf() if hasattr(result.design, "degf") else float("nan")
    return (f"the covariance of the {q} tested coefficients is singular, so the Wald test is "
            f"undefined: the design has {degf:g} degrees of freedom (PSUs minus strata; the "
            f"design-based covariance has at most that rank) and residual df {result.df_resid:g}. "
            "Test fewer coefficients at a time (merge sparse categories) or use a design with "
            "more PSUs.")


class SurveyGLMResult(WaldCoefficients):
    """A fitted survey-weighted GLM (see :func:`glm`).

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas Series indexed by coefficient name.
    df_resid : residual degrees of freedom ``degf(design) + 1 - p`` (t tests and intervals).
    nobs : rows used; n_missing : rows of the subset left out for missing model variables.
    deviance, dispersion : as R reports them (weights rescaled; see the module docstring).
    family, link, formula, design, iterations, converged.
    trials : for a ``cbind(successes, failures)`` response, the trials of the rows used
        (``None`` otherwise).
    """

    def __init__(self, *, beta, cov, names, df_resid, family, link, formula, design,
                 frame: ModelFrame,
                 fit: _Fit, deviance, dispersion, offset, offset_name, r_call,
                 offset_exprs=(), offset_array=False, prior_weights=None, trials=None):
        self._beta = np.asarray(beta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.names = list(names)
        self.df_resid = float(df_resid)
        self.family = family
        self.link = link
        self.formula = formula
        self.design = design
        self.frame = frame
        self.nobs = int(len(frame.rows))
        self.n_missing = int(frame.n_missing)
        self.deviance = float(deviance)
        self.dispersion = float(dispersion)
        self.iterations = fit.iterations
        self.converged = fit.converged
        self._fit = fit
        self._offset = offset                          # combined offset of every design row
        self._offset_name = offset_name                # offset= given as a column name
        self._offset_exprs = list(offset_exprs)        # offset(expr) terms of the formula
        self._offset_array = offset_array              # offset= given as an array
        self.r_call = r_call
        self._pw = prior_weights                       # IRLS weights: w / mean(w) (x trials)
        self.trials = trials                           # binomial counts: trials per row used
        self._control = (100, 1e-12)                   # (maxiter, tol) of the fit, set by glm()

    # ------------------------------------------------------------------ coefficient table
    # params, bse, pvalues, cov_params(), conf_int(): WaldCoefficients (t with df_resid)
    @property
    def _coef(self) -> np.ndarray:
        return self._beta

    @property
    def _wald_df(self) -> float:
        return self.df_resid

    @property
    def offset(self) -> np.ndarray | None:
        """The model's offset for every row of the design data (None: no offset)."""
        return self._offset

    @property
    def tvalues(self) -> pd.Series:
        """Wald t statistics ``params / bse`` (R ``summary(model)$coefficients[, "t value"]``)."""
        return self.statistic

    def to_frame(self, exponentiate: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tidy coefficient table: ``term, estimate, se, ci_low, ci_high, df, statistic, p``.

        With ``exponentiate=True`` the estimate and interval are ``exp()`` of the link-scale
        values (odds ratios for logit, prevalence/rate ratios for log links); ``se``,
        ``statistic`` and ``p`` stay on the link scale (the interval is not estimate +- se).
        """
        from socialhealth.design.results import check_level
        from socialhealth.design.structure import check_flag

        exponentiate = check_flag(exponentiate, "exponentiate", "to_frame()")
        ci = self.conf_int(1 - check_level(level))
        est = self._beta.copy()
        lo, hi = ci["ci_low"].to_numpy(), ci["ci_high"].to_numpy()
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        return pd.DataFrame({
            "term": self.names, "estimate": est, "se": self.bse.to_numpy(), "ci_low": lo,
            "ci_high": hi, "df": self.df_resid, "statistic": self.tvalues.to_numpy(),
            "p": self.pvalues.to_numpy(),
        })

    # ------------------------------------------------------------------ tests
    def _resolve_terms(self, terms) -> tuple[list[str], list[int]]:
        if not isinstance(terms, (str, list, tuple, pd.Index, np.ndarray)):
            names = [t for t in self.frame.terms if t != "(Intercept)"]
            raise ModelError(f"name the term(s) to test as text or a list of text (the model's "
                             f"terms: {show_list(names)}), not {show_given(terms)}.")
        items = _split_terms(terms) if isinstance(terms, str) else list(terms)
        if not items:
            raise ModelError("name at least one term or coefficient to test.")
        cols: list[int] = []
        labels = []
        by_var: dict[str, list[str]] = {}
        for t, vs in self.frame.term_variables.items():
            if len(vs) == 1:
                by_var.setdefault(next(iter(vs)), []).append(t)
        for item in items:
            raw = str(item).strip().lstrip("~").strip()
            key = normalise_formula(raw).replace(" ", "")
            terms_ns = {t.replace(" ", ""): t for t in self.frame.terms}
            if key in terms_ns:
                t = terms_ns[key]
                cols += self.frame.terms[t]
                labels.append(t)
            elif raw in self.names:
                cols.append(self.names.index(raw))
                labels.append(raw)
            elif raw in by_var and len(by_var[raw]) == 1:
                t = by_var[raw][0]
                cols += self.frame.terms[t]
                labels.append(t)
            else:
                raise ModelError(
                    f"{raw!r} is not a term or coefficient of the model. Terms: "
                    f"{', '.join(t for t in self.frame.terms if t != 'Intercept')}; coefficients: "
                    f"{', '.join(self.names)}."
                )
        seen = []
        for c in cols:
            if c not in seen:
                seen.append(c)
        return labels, seen

    def wald_test(self, terms: str | Sequence[str]) -> WaldTest:
        """Wald F test that all coefficients of one or more terms are zero.

        ``F = b' V^{-1} b / q`` with ``b`` the ``q`` coefficients of the terms and ``V`` their
        sandwich covariance; p-value from ``F(q, df_resid)`` (Lumley 2010, §5.2.2).

        Parameters
        ----------
        terms : a term of the formula (``"C(stype)"``, ``"agecat"``, ``"x:C(g)"``), a variable
            whose only term is tested (``"stype"`` for ``C(stype)``), a coefficient name, a
            list of these, or several joined with ``+`` (``"~agecat + C(race)"``: one joint test).

        Examples
        --------
        >>> import socialhealth as sh
        >>> nhanes = sh.datasets.load_example("nhanes")
        >>> d = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
        ...                     nest=True)
        >>> m = d.glm("HI_CHOL ~ C(race) + agecat + C(RIAGENDR)", family="binomial")
        >>> m.wald_test("agecat")
        Wald test for agecat (agecat[T.(19,39]], agecat[T.(39,59]], agecat[T.(59,Inf]])
          F = 36.6875 on 3 and 9 df: p = 2.249e-05
          In R: regTermTest(model, ~agecat, method = "Wald")
        >>> t = m.wald_test("~C(race) + C(RIAGENDR)")          # one joint test of two terms
        >>> t.df, t.ddf, round(t.p, 4)
        (4, 9.0, 0.0191)

        In R: ``regTermTest(m, ~agecat)`` (method = "Wald").
        """
        labels, cols = self._resolve_terms(terms)
        b = self._beta[cols]
        V = self._cov[np.ix_(cols, cols)]
        q = len(cols)
        stat = _quadratic_form(b, V, ModelError, _singular_message(self, q)) / q
        p = float(stats.f.sf(stat, q, self.df_resid))
        return WaldTest(labels, [self.names[c] for c in cols], stat, q, self.df_resid, p)

    def lrt(self, terms: str | Sequence[str],
            approximation: Literal["saddlepoint", "satterthwaite", "exact",
                                   "integration"] = "saddlepoint",
            df: float | None = None):
        """Rao-Scott working likelihood-ratio test of one or more terms (see
        :func:`socialhealth.design.lrt.lrt`).

        In R: ``regTermTest(model, ~term, method = "LRT", lrt.approximation = ...)``.
        """
        from socialhealth.design.lrt import lrt

        return lrt(self, terms, approximation=approximation, df=df)

    def aic(self, k: float = 2.0, null_has_intercept: bool = True) -> pd.Series:
        """Design-based AIC (Lumley & Scott 2015; see :func:`socialhealth.design.lrt.aic`).

        In R: ``AIC(model)``.
        """
        from socialhealth.design.lrt import aic

        return aic(self, k=k, null_has_intercept=null_has_intercept)

    def bic(self, maximal: "SurveyGLMResult | None" = None) -> pd.Series:
        """Design-based BIC relative to a maximal model (Lumley & Scott 2015; see
        :func:`socialhealth.design.lrt.bic`); ``maximal=None`` uses this model.

        In R: ``BIC(model, maximal = big)``.
        """
        from socialhealth.design.lrt import bic

        return bic(self, self if maximal is None else maximal)

    def pseudo_rsquared(self, method: str = "Cox-Snell") -> float:
        """Cox-Snell or Nagelkerke pseudo-R^2 of a binomial or poisson model (Lumley 2017; see
        :func:`socialhealth.design.lrt.pseudo_rsquared`).

        In R: ``psrsq(model, method = "Cox-Snell")``.
        """
        from socialhealth.design.lrt import pseudo_rsquared

        return pseudo_rsquared(self, method=method)

    # ------------------------------------------------------------------ prediction
    def predict(self, newdata: pd.DataFrame | None = None,
                type: Literal["link", "response"] = "link", offset=None) -> pd.Series:
        """Linear predictor (``type="link"``) or mean (``type="response"``) for each row.

        ``newdata=None`` predicts for every row of the design's data (NaN where a covariate is
        missing), including the model's offset. For new data, ``offset(expr)`` terms of the
        formula are evaluated on ``newdata`` and a column-name ``offset=`` is read from it; an
        array offset must be passed again with ``offset=`` (added to the others).

        In R: ``predict(model, newdata, type = "link" | "response")`` (point predictions).
        """
        if not is_choice(type, ("link", "response")):
            raise ModelError(f"type={show_given(type)} must be 'link' or 'response'.")
        data = self.design.data if newdata is None else newdata
        X, ok = self.frame.rhs_matrix(data)
        eta = np.full(len(data), np.nan)
        eta[ok] = X[ok] @ self._beta
        if offset is not None:
            offset = _offset_values(offset, len(data))
        if newdata is None:
            off = self._offset if offset is None else offset
        else:
            off = offset
            if offset is None and self._offset_array:
                raise ModelError("the model has an array offset: pass offset= for the new data.")
            parts = [evaluate_offset(e, data) for e in self._offset_exprs]
            if self._offset_name is not None:
                if self._offset_name not in data.columns:
                    raise ModelError(f"newdata lacks the offset column {self._offset_name!r}.")
                parts.append(data[self._offset_name].to_numpy(dtype=float, na_value=np.nan))
            for v in parts:
                off = v if off is None else off + v
        if off is not None:
            eta = eta + off
        out = eta if type == "link" else LINKS[self.link].linkinv(eta)
        if type == "response":
            out = np.where(np.isnan(eta), np.nan, out)
        return pd.Series(out, index=data.index, name=f"predicted_{type}")

    # ------------------------------------------------------------------ display
    def summary(self) -> Summary:
        """Text summary like R's ``summary(svyglm)``: coefficients, SEs, t, p, dispersion."""
        tab = self.to_frame()
        lines = [
            f"Survey-weighted GLM: family {FAMILIES[self.family].r_name} (link = {self.link})",
            f"Formula: {self.formula}",
            f"Design: {self.design._short_label()}",
            "",
            f"{'':<28}{'Estimate':>13}{'Std. Error':>13}{'t value':>10}{'Pr(>|t|)':>11}",
        ]
        for r in tab.itertuples(index=False):
            stars = ("***" if r.p < 0.001 else "**" if r.p < 0.01 else "*" if r.p < 0.05
                     else "." if r.p < 0.1 else "")
            name = r.term if len(r.term) <= 27 else r.term[:24] + "..."
            lines.append(f"{name:<28}{r.estimate:>13.6g}{r.se:>13.6g}{r.statistic:>10.3f}"
                         f"{r.p:>11.3g} {stars}".rstrip())
        lines += [
            "---",
            "Signif. codes: 0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1",
            f"(Dispersion parameter for {FAMILIES[self.family].r_name} family taken to be "
            f"{self.dispersion:.6g})",
            f"Residual df: {self.df_resid:g} (design df + 1 - {len(self.names)} coefficients); "
            f"deviance {self.deviance:.6g}",
            f"{self.nobs} rows used"
            + (f"; {self.n_missing} rows with missing values left out (design kept)"
               if self.n_missing else ""),
            f"IRLS iterations: {self.iterations}",
            f"In R: {self.r_call}",
        ]
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())
