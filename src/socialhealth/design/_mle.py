r"""Design-based maximum likelihood for a model you write yourself (R ``svymle``).

Model
-----
Each row ``i`` contributes a log-likelihood ``l(y_i; eta_i1, ..., eta_iK)``, written by the
user as a vectorised function of the response and ``K`` named parameters. Each parameter is a
linear predictor ``eta_ik = x_ik' beta_k (+ offset)`` with its own formula (``mean = "y ~ x"``,
``log_sd = "~ 1"``), as R's ``formulas`` list. The estimate maximises the weighted
log-likelihood ``L(beta) = sum_i w_i l_i`` (Binder 1983; Lumley 2010, §7.3).

Derivatives
-----------
The score and the observed information are assembled from per-row derivatives with respect
to the linear predictors: ``U = sum_i w_i g_ik x_ik`` and ``H_kl = sum_i w_i h_ikl x_ik
x_il'`` with ``g_ik = dl_i / d eta_ik`` and ``h_ikl = d^2 l_i / d eta_ik d eta_il``. ``g``
comes from the user's ``gradient`` when given, otherwise from central differences with
Richardson extrapolation (four halvings of a step ``1e-4 max(|eta|, 1)``, as R's
``numDeriv``); ``h`` from the same extrapolation applied to ``g`` (step
``1e-3 max(|eta|, 1)``; the Newton iterations use one central difference of ``g``). Rows
where such a step leaves the domain of the log-likelihood are differenced with steps
relative to ``|eta|``. Working per row on the ``K`` linear predictors keeps every derivative
vectorised over the rows.

Estimation: Newton-Raphson with step halving (a Levenberg-Marquardt ridge is added where the
information is not positive definite), to a relative change of ``L`` below ``tol`` and steps
below ``1e-7`` relative; or (``method="bfgs"``) scipy's BFGS (gradient tolerance
``sqrt(tol)`` on ``L / sum(w)``), finished by those Newton steps.

Covariance
----------
Binder's (1983) sandwich, as R ``svymle``: the influence value of row ``i`` is
``z_i = w_i u_i' (-H)^{-1}`` with ``u_i`` its score in ``beta`` and ``H`` the Hessian of
``L``; the covariance is the design variance of ``sum_i z_i`` (R ``svyrecvar`` on
``scores %*% invinf``: strata, clusters, fpc, lonely PSUs, calibration). R estimates ``H``
by ``optim(hessian = TRUE)`` (finite differences of the gradient, step ``ndeps = 1e-3``)
or ``numDeriv::hessian``; here it is assembled from the per-row derivatives above, so the two
agree to the accuracy of R's finite differences. R computes the sandwich only when a
``gradient`` is given (otherwise ``vcov(fit)`` is NA); here it is always computed, with
numerical per-row derivatives when there is no ``gradient``. R's model-based covariance
``vcov(fit, stderr = "model")`` = ``(-H)^{-1} mean(w)`` is :attr:`MLEResult.vcov_model`.

Two-phase designs use the design's two-phase variance of the same influence values (R
``twophasevar``). Replicate designs (R 4.1-1 ``svymle`` stops: "design is not a
survey.design") refit the model under every replicate's weights, starting from the
full-sample estimate, and apply the design's replicate variance (R ``withReplicates`` of the
weighted MLE). Rows with a missing value are left out on every design kind (R 4.1-1 stops on
a calibrated design with missing values: its scores lose the rows its design keeps).

Inference: Wald z statistics, normal p-values and intervals (R ``summary(svymle)``).

References
----------
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.3.
"""
from __future__ import annotations

import keyword
from typing import Callable, Literal, Mapping

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import show, show_given, show_list
from socialhealth.design.coefficients import WaldCoefficients, coefficient_lines
from socialhealth.design.result_protocol import Summary
from socialhealth.errors import (ArgumentError, ConvergenceError, FormulaError,
                                 MissingColumnError, ModelError)

__all__ = ["MLEResult", "mle"]

_PLACEHOLDER = "_sh_mle_response_"


# ----------------------------------------------------------------------------- formulas
class _Spec:
    """The parsed ``formulas``: response, parameter names, their right-hand sides."""

    def __init__(self, formulas, data: pd.DataFrame):
        from socialhealth.design.formula import formula_variables, split_offsets

        if not isinstance(formulas, Mapping) or not formulas:
            raise ArgumentError(
                "formulas must be a dict mapping each parameter of the log-likelihood to a "
                "formula, with the response on the left of one of them, e.g. "
                "{'mean': 'y ~ x', 'log_sd': '~ 1'} (R svymle's formulas list).")
        self.response_expr: str | list[str] | None = None
        self.response_key: str | None = None
        self.params: list[str] = []
        self.rhs: list[str] = []
        self.offsets: list[list[str]] = []
        for key, value in formulas.items():
            if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
                raise ArgumentError(
                    f"formulas: the name {key!r} is not a valid argument name of the "
                    "log-likelihood function; use names such as 'mean' or 'log_sd'.")
            if isinstance(value, (list, tuple)) or (isinstance(value, str) and "~" not in value):
                cols = [value] if isinstance(value, str) else list(value)
                if not cols or not all(isinstance(c, str) for c in cols):
                    raise ArgumentError(f"formulas[{key!r}]: a response is a column name or a "
                                        f"list of column names, not {value!r}.")
                self._set_response(key, [c.strip().strip("`") for c in cols])
                continue
            if not isinstance(value, str):
                raise ArgumentError(f"formulas[{key!r}] must be a formula such as '~ x1 + x2' "
                                    f"(or 'y ~ x' for the parameter that carries the response), "
                                    f"not {type(value).__name__}.")
            lhs, rhs = (part.strip() for part in value.split("~", 1))
            if lhs:
                self._set_response(key, lhs)
            rhs_clean, offs = split_offsets(f"~ {rhs or '1'}")
            rhs_clean = rhs_clean.split("~", 1)[1].strip()
            formula_variables(f"~ {rhs_clean}", data)          # unknown columns: FormulaError
            self.params.append(key)
            self.rhs.append(rhs_clean)
            self.offsets.append(offs)
        if self.response_expr is None:
            raise FormulaError(
                "formulas has no response: write it on the left of one formula "
                "({'mean': 'y ~ x', 'sd': '~ 1'}) or give it as a column name "
                "({'y': 'y', ...}; a list of columns for a response with several columns, as "
                "R's I(cbind(time, status))).")
        if not self.params:
            raise FormulaError("formulas names no parameter (only a response); add one formula "
                               "per parameter of the log-likelihood, e.g. 'mean': '~ x'.")

    def _set_response(self, key: str, expr) -> None:
        if self.response_expr is not None:
            raise FormulaError(
                f"formulas gives a response twice ({self.response_key!r} and {key!r}); R's "
                "svymle needs exactly one: keep the left-hand side on one formula only.")
        self.response_expr, self.response_key = expr, key

    def response_values(self, data: pd.DataFrame) -> np.ndarray:
        """The response on every row (n,) or (n, q), NaN where missing."""
        from socialhealth.design.formula import evaluate_offset

        expr = self.response_expr
        if isinstance(expr, list):
            missing = [c for c in expr if c not in data.columns]
            if missing:
                raise MissingColumnError(missing, data.columns, "the design data")
            cols = [_numeric(data[c], c) for c in expr]
            return cols[0] if len(cols) == 1 else np.column_stack(cols)
        expr = str(expr)
        name = expr.strip("`")
        if name in data.columns:
            return _numeric(data[name], name)
        if expr.isidentifier():
            raise MissingColumnError([expr], data.columns, "the design data")
        return evaluate_offset(expr, data)


def _numeric(col: pd.Series, name: str) -> np.ndarray:
    from pandas.api import types

    if types.is_bool_dtype(col) or (col.dtype == object
                                    and col.dropna().map(type).eq(bool).all()):
        return col.map({True: 1.0, False: 0.0}).to_numpy(dtype=float, na_value=np.nan)
    if not types.is_numeric_dtype(col):
        raise FormulaError(
            f"the response column {name!r} is not numeric ({col.dtype}); the log-likelihood "
            "gets numbers: recode it first (e.g. design.assign(y=(design.data.x == 'yes')))."
        )
    return col.to_numpy(dtype=float, na_value=np.nan)


# ----------------------------------------------------------------------------- derivatives
def _richardson(fun, etas: list[np.ndarray], k: int, step: float,
                levels: int = 4) -> np.ndarray:
    """Derivative of ``fun(etas)`` (rows, or rows x columns) along ``etas[k]``: central
    differences at steps ``h / 2^j``, ``j = 0..levels-1``, with Richardson extrapolation (as
    R's ``numDeriv``; ``levels=1``: one central difference). ``h = step * max(|eta|, 1)``;
    rows where that step leaves the domain of the log-likelihood (a non-finite value) are
    differenced again with ``h = step * |eta|``."""
    x = etas[k]

    def at(h):
        D = []
        for j in range(levels):
            hj = h / 2.0 ** j
            up = list(etas)
            dn = list(etas)
            up[k] = x + hj
            dn[k] = x - hj
            diff = fun(up) - fun(dn)
            D.append(diff / (2 * (hj if diff.ndim == 1 else hj[:, None])))
        for m in range(1, levels):
            D = [(4.0 ** m * D[j + 1] - D[j]) / (4.0 ** m - 1) for j in range(len(D) - 1)]
        return D[0]

    out = at(step * np.maximum(np.abs(x), 1.0))
    bad = ~np.isfinite(out if out.ndim == 1 else out.sum(axis=1))
    if bad.any():
        small = at(step * np.where(x != 0, np.abs(x), 1.0))
        out[bad] = small[bad]
    return out


def check_iteration_controls(max_iter, tol) -> None:
    """``max_iter`` a whole number >= 1 and ``tol`` in (0, 1), or an ArgumentError saying so
    (the controls of :func:`mle` and :func:`~socialhealth.design.nls`)."""
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise ArgumentError(f"max_iter={show_given(max_iter)} must be a whole number >= 1.")
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.number)) \
            or not 0 < tol < 1:
        raise ArgumentError(f"tol={show_given(tol)} must be a number between 0 and 1 (e.g. 1e-10).")


def one_per_row(out, m: int, function: str, value: str, advice: str,
                scalar_ok: bool = False) -> np.ndarray:
    """What a user's per-row function returned, as ``m`` floats (an ``(m, 1)`` or ``(1, m)``
    array flattened; a single number repeated when ``scalar_ok``), or a ModelError naming
    ``function`` (e.g. "the log-likelihood function"), the ``value`` it must give per row and
    ``advice`` on computing it elementwise."""
    try:
        v = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{function} returned {type(out).__name__}, not numbers; it must "
                         f"return one {value} per row.") from None
    if scalar_ok and v.ndim == 0:
        return np.full(m, float(v))
    if v.shape != (m,):
        if v.shape in ((m, 1), (1, m)):
            return v.ravel()
        raise ModelError(
            f"{function} returned an array of shape {show(v.shape)} for {m} rows; it must "
            f"return one {value} per row (shape ({m},)), computed elementwise with numpy "
            f"({advice}).")
    return v


class _Model:
    """The log-likelihood on the rows used, its per-row derivatives and their sums."""

    def __init__(self, loglik, gradient, y, X, offsets, params, names):
        self.loglik, self.gradient = loglik, gradient
        self.y, self.X, self.offsets, self.params, self.names = y, X, offsets, params, names
        self.edges = np.concatenate([[0], np.cumsum([x.shape[1] for x in X])]).astype(int)

    def etas(self, theta) -> list[np.ndarray]:
        return [X @ theta[a:b] + off for X, off, a, b
                in zip(self.X, self.offsets, self.edges[:-1], self.edges[1:], strict=True)]

    def rows(self, etas) -> np.ndarray:
        """Per-row log-likelihood values (checked for shape)."""
        with np.errstate(all="ignore"):
            out = self.loglik(self.y, **dict(zip(self.params, etas, strict=True)))
        return one_per_row(out, len(etas[0]), "the log-likelihood function",
                           "log-likelihood value", "np.where, not if/else")

    def row_gradient(self, etas) -> np.ndarray:
        """(m, K) derivatives of each row's log-likelihood by each linear predictor."""
        m, K = len(etas[0]), len(etas)
        if self.gradient is None:
            return np.column_stack([_richardson(self.rows, etas, k, 1e-4) for k in range(K)])
        with np.errstate(all="ignore"):
            out = self.gradient(self.y, **dict(zip(self.params, etas, strict=True)))
        if isinstance(out, Mapping):
            missing = [p for p in self.params if p not in out]
            if missing:
                raise ModelError(f"the gradient function returned no derivative for "
                                 f"{show_list(missing)}; return one array per parameter "
                                 f"({show_list(self.params)}).")
            out = np.column_stack([np.broadcast_to(np.asarray(out[p], dtype=float), (m,))
                                   for p in self.params])
        G = np.asarray(out, dtype=float)
        if G.ndim == 1 and K == 1 and G.shape == (m,):
            G = G[:, None]
        if G.shape != (m, K):
            raise ModelError(
                f"the gradient function returned shape {show(G.shape)} for {m} rows and {K} "
                f"parameter(s); it must return an array of shape ({m}, {K}) (one column per "
                f"parameter, in the order {show_list(self.params)}) or a dict of per-row "
                "derivatives by parameter name.")
        return G

    def row_hessian(self, etas, accurate: bool = True) -> np.ndarray:
        """(m, K, K) second derivatives per row (differences of the per-row gradient, with
        Richardson extrapolation, or one central difference for the Newton iterations)."""
        K = len(etas)
        Hr = np.stack([_richardson(self.row_gradient, etas, k, 1e-3 if accurate else 1e-4,
                                   4 if accurate else 1) for k in range(K)], axis=2)
        return (Hr + np.transpose(Hr, (0, 2, 1))) / 2

    def value(self, theta, w) -> float:
        v = float(w @ self.rows(self.etas(theta)))
        return v if np.isfinite(v) else -np.inf

    def scores(self, G) -> np.ndarray:
        """(m, p) per-row scores in the coefficients (unweighted)."""
        return np.column_stack([G[:, [k]] * X for k, X in enumerate(self.X)])

    def score_hessian(self, theta, w, accurate: bool = True):
        etas = self.etas(theta)
        with np.errstate(all="ignore"):
            G = self.row_gradient(etas)
            Hr = self.row_hessian(etas, accurate)
        p = self.edges[-1]
        H = np.empty((p, p))
        for k, Xk in enumerate(self.X):
            for l_, Xl in enumerate(self.X):
                H[self.edges[k]:self.edges[k + 1], self.edges[l_]:self.edges[l_ + 1]] = \
                    (Xk * (w * Hr[:, k, l_])[:, None]).T @ Xl
        return G, self.scores(G).T @ w, (H + H.T) / 2


# ----------------------------------------------------------------------------- optimisers
def _newton(model: _Model, theta, w, tol, max_iter):
    """Newton-Raphson with step halving and a ridge where ``-H`` is not positive definite.
    Returns ``(theta, iterations, status)``."""
    ll = model.value(theta, w)
    for it in range(1, max_iter + 1):
        _, U, H = model.score_hessian(theta, w, accurate=False)
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(H))):
            return theta, it, "nonfinite"
        info = -H
        scale = max(float(np.max(np.abs(np.diag(info)))), 1e-300)
        lam = 0.0
        for _ in range(30):
            try:
                c = np.linalg.cholesky(info + lam * np.eye(len(U)))
                step = np.linalg.solve(c.T, np.linalg.solve(c, U))
                break
            except np.linalg.LinAlgError:
                lam = scale * 1e-8 if lam == 0 else lam * 10
        else:
            return theta, it, "singular"
        for _ in range(60):
            new = theta + step
            ll_new = model.value(new, w)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        else:
            return theta, it, "halving"
        done = (lam == 0 and abs(ll_new - ll) <= tol * max(abs(ll_new), 1.0)
                and np.max(np.abs(new - theta)) <= 1e-7 * (1 + np.max(np.abs(new))))
        theta, ll = new, ll_new
        if done:
            return theta, it, "converged"
    return theta, max_iter, "max_iter"


def _bfgs(model: _Model, theta, w, tol, max_iter):
    from scipy import optimize

    sw = float(np.sum(w))

    def fun(t):
        v = model.value(t, w)
        return -v / sw if np.isfinite(v) else np.inf

    def jac(t):
        G = model.row_gradient(model.etas(t))
        return -(model.scores(G).T @ w) / sw

    with np.errstate(all="ignore"):
        res = optimize.minimize(fun, theta, jac=jac, method="BFGS",
                                options={"gtol": np.sqrt(tol), "maxiter": max_iter})
    x = np.asarray(res.x, dtype=float)
    if not np.isfinite(fun(x)):
        return theta, int(res.nit), "nonfinite"
    # BFGS's estimate is as accurate as its gradient tolerance: finish with Newton steps
    x, it, status = _newton(model, x, w, tol, max_iter)
    return x, int(res.nit) + it, status


_FITTERS = {"newton": _newton, "bfgs": _bfgs}


# ----------------------------------------------------------------------------- result
class MLEResult(WaldCoefficients):
    """A design-based maximum likelihood fit (see :func:`mle`; R ``svymle``).

    Attributes
    ----------
    params, bse, statistic, pvalues : Series over the coefficients, named
        ``"parameter:term"`` (R ``coef(fit)``, named ``parameter.term`` there).
    vcov : Binder's sandwich covariance (R ``vcov(fit)``).
    vcov_model : model-based covariance ``(-H)^{-1}`` times the mean weight (R
        ``vcov(fit, stderr = "model")``).
    parameters : the parameter names, in the order of ``formulas``; terms : parameter ->
        its terms; loglik : the weighted log-likelihood ``sum_i w_i l_i`` at the estimate
        (R ``fit$value``); nobs, n_missing, iterations, method, r_call.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> import socialhealth as sh
    >>> d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw",
    ...                     strata="stype", fpc="fpc")
    >>> fit = sh.design.mle(d, lambda y, mean, sd: stats.norm.logpdf(y, mean, sd),
    ...                     {"mean": "api00 ~ api99 + ell", "sd": "~ 1"},
    ...                     start={"mean": [80, 1, 0], "sd": 20})
    >>> fit.to_frame()[["parameter", "term", "estimate", "se"]].round(4)
      parameter       term  estimate       se
    0      mean  Intercept   51.6564  21.8253
    1      mean      api99    0.9702   0.0313
    2      mean        ell   -0.0883   0.1556
    3        sd  Intercept   26.2200   1.2599

    In R: ``summary(svymle(loglike = dnorm, gradient = gr, design = dstrat, formulas =
    list(mean = api00 ~ api99 + ell, sd = ~1), start = list(c(80, 1, 0), 20), log = TRUE))``
    (``?svymle``).
    """

    def __init__(self, *, theta, cov, cov_model, parameters, terms, loglik, nobs, n_missing,
                 iterations, method, design, formulas, r_call):
        self._theta = np.asarray(theta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.parameters = list(parameters)
        self.terms = {p: list(t) for p, t in terms.items()}
        self.names = [f"{p}:{t}" for p in self.parameters for t in self.terms[p]]
        self._cov_model = np.asarray(cov_model, dtype=float)
        self.loglik = float(loglik)
        self.nobs = int(nobs)
        self.n_missing = int(n_missing)
        self.iterations = int(iterations)
        self.method = method
        self.design = design
        self.formulas = dict(formulas)
        self.r_call = r_call

    @property
    def _coef(self) -> np.ndarray:
        return self._theta

    @property
    def vcov_model(self) -> pd.DataFrame:
        """Model-based covariance ``(-H)^{-1} mean(w)`` (R ``vcov(fit, stderr = "model")``;
        not design-based: for comparison with R only)."""
        return pd.DataFrame(self._cov_model, index=self.names, columns=self.names)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``parameter, term, estimate, se, ci_low, ci_high, statistic, p`` (Wald z,
        normal intervals at ``level``), one row per coefficient."""
        ci = self.confint(level)
        return pd.DataFrame({
            "parameter": [p for p in self.parameters for _ in self.terms[p]],
            "term": [t for p in self.parameters for t in self.terms[p]],
            "estimate": self._coef, "se": self.bse.to_numpy(),
            "ci_low": ci["ci_low"].to_numpy(), "ci_high": ci["ci_high"].to_numpy(),
            "statistic": self.statistic.to_numpy(), "p": self.pvalues.to_numpy()})

    def summary(self) -> Summary:
        """Printable table (estimate, standard error, z, p by parameter), as R
        ``summary(svymle)``, with the R call."""
        tab = self.to_frame()
        lines = ["Survey-sampled maximum likelihood: "
                 + ", ".join(f"{k} = {v}" for k, v in self.formulas.items()),
                 f"Design: {self.design.label}",
                 f"{self.nobs} rows" + (f"; {self.n_missing} left out (missing values)"
                                        if self.n_missing else "")
                 + f"; weighted log-likelihood {self.loglik:.6g}; Binder sandwich standard "
                   "errors, z statistics and normal p-values"]
        lines += coefficient_lines(tab["parameter"].astype(str) + ":" + tab["term"].astype(str),
                                   tab["estimate"], tab["se"], tab["statistic"], tab["p"],
                                   width=30, statistic_name="z")
        lines.append(f"In R: {self.r_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _start_vector(start, model: _Model, terms: dict) -> np.ndarray:
    p = int(model.edges[-1])
    sizes = {k: len(t) for k, t in terms.items()}
    want = "; ".join(f"{k}: {n} value(s) ({', '.join(terms[k])})" for k, n in sizes.items())

    def floats(v) -> np.ndarray:
        try:
            return np.atleast_1d(np.asarray(v, dtype=float)).ravel()
        except (TypeError, ValueError):
            raise ArgumentError(f"start must be numbers: a dict by parameter ({want}), a list "
                                "of arrays, one per parameter, or one flat array.") from None

    if start is None:
        return np.zeros(p)
    if isinstance(start, Mapping):
        unknown = [k for k in start if k not in sizes]
        if unknown:
            raise ArgumentError(f"start names {show_list(unknown)}, which are not parameters "
                                f"of formulas ({show_list(list(sizes))}).")
        parts = []
        for k, n in sizes.items():
            v = np.zeros(n) if k not in start else floats(start[k])
            if len(v) != n:
                raise ArgumentError(f"start[{k!r}] has {len(v)} value(s); the parameter "
                                    f"{k!r} has {n} ({', '.join(terms[k])}).")
            parts.append(v)
        out = np.concatenate(parts)
    elif (isinstance(start, (list, tuple)) and len(start) == len(sizes)
          and any(np.ndim(s) > 0 for s in start)):
        out = np.concatenate([floats(s) for s in start])
    else:
        out = floats(start)
    if len(out) != p or not np.all(np.isfinite(out)):
        raise ArgumentError(f"start has {len(out)} value(s) (finite numbers needed); the model "
                            f"has {p}: {want}.")
    return out


def _r_formula(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"I(cbind({', '.join(value)}))"
    return str(value).replace("C(", "factor(").replace("np.log(", "log(").strip()


def mle(
    design,
    loglik: Callable[..., np.ndarray],
    formulas: Mapping[str, str | list[str]],
    start=None,
    gradient: Callable[..., np.ndarray] | None = None,
    method: Literal["newton", "bfgs"] = "newton",
    max_iter: int = 100,
    tol: float = 1e-10,
) -> MLEResult:
    r"""Design-based maximum likelihood for a log-likelihood you write (R ``svymle``).

    For models that are not GLMs: a Tobit (censored) regression, a zero-inflated count model
    of social contacts, a normal model with regressions on both the mean and the log standard
    deviation. Each parameter of the per-row log-likelihood is a linear predictor with its own
    formula; the estimate maximises ``sum_i w_i l_i``, and the covariance is Binder's (1983)
    sandwich through the design (Taylor designs) or refits under every replicate's weights
    (replicate designs). See :mod:`socialhealth.design._mle` for the formulas.

    Parameters
    ----------
    design : SurveyDesign, ReplicateDesign or TwoPhaseDesign
        A subset design gives a domain estimate.
    loglik : callable ``loglik(y, **parameters)``
        Per-row log-likelihood: gets the response (an array of the rows used, two-dimensional
        for a response of several columns) and one array per parameter (named as in
        ``formulas``), and returns one value per row, computed elementwise with numpy.
    formulas : dict
        Parameter name -> formula, in the order of the coefficients; exactly one has the
        response on the left (``{"mean": "y ~ x1 + C(g)", "log_sd": "~ x1"}``), or the
        response is its own entry, a column or a list of columns (``{"y": ["time",
        "status"], "mean": "~ x", "log_sd": "~ 1"}``; R ``I(cbind(time, status))``).
        ``offset(expr)`` terms are added to a parameter's linear predictor.
    start : dict, list of arrays or array, optional
        Starting coefficients by parameter (``{"mean": [0, 0], "sd": 1}``), default 0. Choose
        values where every row's log-likelihood is finite.
    gradient : callable ``gradient(y, **parameters)``, optional
        Per-row derivatives of ``loglik`` with respect to each parameter: an array (rows x
        parameters, in the order of ``formulas``) or a dict by parameter name. Without it,
        the derivatives are numerical (central differences with Richardson extrapolation).
    method : ``"newton"`` (default) or ``"bfgs"``
        Newton-Raphson with step halving, or scipy's BFGS (for starts far from the
        estimate), finished by Newton steps.
    max_iter, tol : iteration limit and relative change of the log-likelihood at convergence.

    Returns
    -------
    MLEResult
        ``params`` named ``"parameter:term"``, ``bse``, ``vcov`` (sandwich), ``vcov_model``,
        ``to_frame()``, ``summary()``, ``confint(level=)``.

    Raises
    ------
    FormulaError, MissingColumnError : a formula's column is not in the data, no response or
        two responses.
    ModelError : ``loglik`` returns the wrong shape or is not finite at ``start``; collinear
        columns in a parameter's formula; a singular information matrix at the estimate.
    ConvergenceError : no convergence within ``max_iter`` iterations.
    ArgumentError : ``start`` of the wrong length, unknown ``method``.

    Notes
    -----
    Rows with a missing response, covariate or offset are left out (R ``svymle`` stops on
    them unless ``na.action = "na.omit"``). R ``svymle`` gives the sandwich only with a
    ``gradient`` (otherwise ``vcov(fit)`` is NA and only ``vcov(fit, stderr = "model")``
    exists); socialhealth always gives it. R does not fit replicate designs; here they are
    refitted per replicate.

    References
    ----------
    Binder DA (1983) *Int Stat Rev* 51:279-292; Lumley T (2010) *Complex Surveys*, Wiley, §7.3.

    Examples
    --------
    A normal model with a regression for the mean and one for the log standard deviation:

    >>> import numpy as np
    >>> from scipy import stats
    >>> import socialhealth as sh
    >>> d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw",
    ...                     strata="stype", fpc="fpc")
    >>> def normal(y, mean, log_sd):
    ...     return stats.norm.logpdf(y, mean, np.exp(log_sd))
    >>> fit = sh.design.mle(d, normal, {"mean": "api00 ~ ell", "log_sd": "~ C(stype)"},
    ...                     start={"mean": [700, 0], "log_sd": [4, 0, 0]})
    >>> fit.coef().round(3)
    mean:Intercept          727.284
    mean:ell                 -3.148
    log_sd:Intercept          4.269
    log_sd:C(stype)[T.H]      0.235
    log_sd:C(stype)[T.M]      0.075
    Name: estimate, dtype: float64

    In R: ``svymle(loglike = function(y, mean, log_sd) dnorm(y, mean, exp(log_sd), log =
    TRUE), gradient = gr, design = dstrat, formulas = list(mean = api00 ~ ell, log_sd =
    ~stype), start = list(c(700, 0), c(4, 0, 0)))`` with ``gr`` the per-row derivatives (R
    gives design-based standard errors only with a gradient).
    """
    from socialhealth.design.extension import aliased_columns
    from socialhealth.design.formula import evaluate_offset, formula_variables, model_frame

    if not callable(loglik):
        raise ArgumentError("loglik must be a function loglik(y, **parameters) returning one "
                            "log-likelihood value per row.")
    if gradient is not None and not callable(gradient):
        raise ArgumentError("gradient must be a function gradient(y, **parameters) or None.")
    if not is_choice(method, _FITTERS):
        raise ArgumentError(f"method={show_given(method)} is not one of "
                            f"{show_list(list(_FITTERS))}.")
    check_iteration_controls(max_iter, tol)
    data = design.data
    spec = _Spec(formulas, data)
    y_all = spec.response_values(data)
    used = np.asarray(design.in_subset, dtype=bool).copy()
    used &= np.all(np.isfinite(y_all.reshape(len(data), -1)), axis=1)
    off_all = []
    for rhs, offs in zip(spec.rhs, spec.offsets, strict=True):
        formula_vars = formula_variables(f"~ {rhs}", data)
        if formula_vars:
            used &= data[formula_vars].notna().all(axis=1).to_numpy()
        o = np.zeros(len(data))
        for expr in offs:
            o = o + evaluate_offset(expr, data)
        used &= np.isfinite(o)
        off_all.append(o)
    n_missing = int(np.sum(design.in_subset) - np.sum(used))
    rows = np.flatnonzero(used)
    if len(rows) == 0:
        raise FormulaError("no rows left to fit: every row in the design's subset has a missing "
                           "value in the response or a covariate of formulas.")
    Xs, terms = [], {}
    for name, rhs in zip(spec.params, spec.rhs, strict=True):
        cols = formula_variables(f"~ {rhs}", data)
        frame = model_frame(data[cols].assign(**{_PLACEHOLDER: 0.0}),
                            f"{_PLACEHOLDER} ~ {rhs}", used)
        if not np.array_equal(frame.rows, rows):     # (cannot happen: rows are complete)
            raise FormulaError(f"the formula of {name!r} left out rows the others use.")
        X = np.ascontiguousarray(frame.X, dtype=float)
        if X.shape[1] == 0:
            raise FormulaError(f"the formula of {name!r} ({rhs!r}) has no intercept and no "
                               "covariate; write '~ 1' for a constant parameter.")
        bad = aliased_columns((X * design.weights[rows][:, None]).T @ X, list(frame.columns))
        if bad:
            raise ModelError(f"the formula of {name!r} cannot estimate {show_list(bad)}: "
                             "constant or a linear combination of other columns among the rows "
                             "used. Drop or combine them.")
        Xs.append(X)
        terms[name] = list(frame.columns)
    y = y_all[rows]
    model = _Model(loglik, gradient, y, Xs, [o[rows] for o in off_all], spec.params,
                   [f"{p}:{t}" for p in spec.params for t in terms[p]])
    theta0 = _start_vector(start, model, terms)
    ll0 = model.rows(model.etas(theta0))
    if not np.all(np.isfinite(ll0)):
        bad_i = np.flatnonzero(~np.isfinite(ll0))
        at = ", ".join(f"{p}={show(float(e[bad_i[0]]))}"
                       for p, e in zip(spec.params, model.etas(theta0), strict=True))
        raise ModelError(
            f"the log-likelihood is not finite at the start values for {len(bad_i)} of "
            f"{len(rows)} rows (first: row {int(rows[bad_i[0]])} of the data, where {at}); give "
            "start= values where every row's log-likelihood is finite (e.g. a positive sd, or "
            "model log_sd instead of sd).")
    w_all = design.weights
    w = w_all[rows]
    wmean = float(np.mean(w))
    fitter = _FITTERS[method]
    theta, iters, status = fitter(model, theta0, w / wmean, float(tol), int(max_iter))
    if status != "converged":
        why = {"max_iter": f"did not converge in max_iter={max_iter} iterations (tol={tol:g})",
               "halving": "stopped: no step along the Newton direction raised the "
                          "log-likelihood",
               "singular": "stopped: the information matrix could not be made positive definite",
               "nonfinite": "stopped: the derivatives are not finite"}[status]
        raise ConvergenceError(
            f"the maximum likelihood fit {why}. Give better start= values, raise max_iter= or "
            f"tol=, try method={'bfgs' if method == 'newton' else 'newton'!r}, give an analytic "
            "gradient=, or reparametrise (e.g. log_sd instead of sd).")
    with np.errstate(all="ignore"):
        G, U, H = model.score_hessian(theta, w)
    try:
        invinf = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        invinf = np.full_like(H, np.nan)
    if not np.all(np.isfinite(invinf)) or np.any(np.diag(invinf) <= 0):
        raise ModelError(
            "the information matrix at the estimate is singular or not positive definite: "
            "a parameter is not identified by the data (or the fit stopped at a saddle "
            "point). Simplify the formulas or try other start= values.")
    Z = (model.scores(G) * w[:, None]) @ invinf

    def refit(wr):
        m = float(np.mean(wr)) if len(wr) else 0.0
        th, _, st = fitter(model, theta, wr / m if m > 0 else wr, float(tol), int(max_iter))
        return th if st == "converged" else None

    cov, design_used = design.model_vcov(theta, rows, Z, refit, "maximum likelihood model")
    cov_model = invinf * design_used.model_weight_mean()
    # a response given as its own entry is R's unlabelled first formula: list(~y, mean = ~x)
    own = [k for k, v in formulas.items()
           if isinstance(v, (list, tuple)) or (isinstance(v, str) and "~" not in v)]
    fl = ", ".join([f"~{_r_formula(formulas[k])}" for k in own]
                   + [f"{k} = {_r_formula(v)}" for k, v in formulas.items() if k not in own])
    st = ", ".join(f"c({', '.join(f'{v:.6g}' for v in theta0[a:b])})"
                   for a, b in zip(model.edges[:-1], model.edges[1:], strict=True))
    r_call = (f"svymle(loglike = loglik, gradient = gradient, design = design, "
              f"formulas = list({fl}), start = list({st}), na.action = \"na.omit\")  # "
              f"loglik and gradient: your log-likelihood and its derivatives written in R "
              f"(R gives design-based standard errors only with a gradient)")
    if getattr(design, "replicate_weights", None) is not None:
        r_call += "; R's svymle does not fit replicate designs"
    return MLEResult(theta=theta, cov=cov, cov_model=cov_model, parameters=spec.params,
                     terms=terms, loglik=model.value(theta, w), nobs=len(rows),
                     n_missing=n_missing, iterations=iters, method=method, design=design,
                     formulas=formulas, r_call=r_call)
