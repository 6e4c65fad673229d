r"""Design-based nonlinear least squares for a model you write yourself (R ``svynls``).

Model
-----
``y_i = f(x_i; theta) + e_i`` with ``f`` a vectorised Python function of the data columns and
``p`` named parameters (``theta``). The estimate solves the weighted least-squares problem

    ``min_theta sum_i w_i (y_i - f_i(theta))^2``,

i.e. the estimating equations ``U(theta) = sum_i w_i (y_i - f_i) g_i = 0`` with
``g_i = df_i / dtheta`` (Lumley 2010, §7.3; Binder 1983), with the design's sampling weights
``w_i`` (divided by their mean for the iterations, as R, which changes nothing in the
estimate). Derivatives ``g_i`` come from the user's ``gradient`` or from central differences
with Richardson extrapolation (four halvings of the step ``1e-4 max(|theta_k|, 1)``).

Estimation: Levenberg-Marquardt (scipy ``least_squares``, ``method="lm"``) on the weighted
residuals ``sqrt(w_i) (y_i - f_i)``, with tolerances ``tol`` on the step, the sum of squares and
the gradient, then Gauss-Newton steps until R ``nls``'s relative-offset criterion (the
length of the residuals' projection on the gradient's column space over the length of the
rest) is below ``tol``. R's ``nls`` uses Gauss-Newton with step halving; both solve ``U = 0``.

Covariance
----------
Binder's sandwich: the influence value of row ``i`` is
``z_i = w_i (y_i - f_i) g_i' (sum_j w_j g_j g_j')^{-1}`` and the covariance is the design
variance of ``sum_i z_i`` (R ``svyrecvar``: strata, clusters, fpc, lonely PSUs, calibration;
two-phase designs through their two-phase variance). Replicate designs refit the model under
every replicate's weights, starting from the full-sample estimate, and apply the design's
replicate variance.

Difference from R 4.1-1: ``svynls`` multiplies the influence values by ``w_i^{3/2}`` (with
weights divided by their mean) instead of ``w_i``: nls's residuals are already scaled by
``sqrt(w_i)`` and svynls weights them again. With equal weights both coincide; otherwise R's
``vcov`` is not the sandwich of its own estimating equations. socialhealth gives the sandwich;
its R fixture (tests/design/fixtures/nls/make_nls.R) computes it in R by hand and records
R's numbers beside it. R's replicate-design method stops in 4.1-1 ("undefined columns
selected"), and it has no method for two-phase designs; rows with a missing value make R's
svynls combine vectors of different lengths (its variance is then wrong, with a warning).

Inference: t statistics with ``n - p`` degrees of freedom, ``n`` the rows used with a positive
weight (R ``summary(svynls)``; not the design's degrees of freedom).

References
----------
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.3.
Bates DM, Watts DG (1988) *Nonlinear Regression Analysis and Its Applications*. Wiley.
"""
from __future__ import annotations

import keyword
from typing import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from socialhealth._text import show, show_list
from socialhealth.design._mle import check_iteration_controls, one_per_row
from socialhealth.design.coefficients import WaldCoefficients, coefficient_lines
from socialhealth.design.result_protocol import Summary
from socialhealth.errors import (ArgumentError, ConvergenceError, FormulaError,
                                 MissingColumnError, ModelError)

__all__ = ["NLSResult", "nls"]


class _Columns(Mapping):
    """The data columns handed to the model function, restricted to the rows used; records
    which columns the model reads (``data["x"]`` or ``data.x``)."""

    def __init__(self, data: pd.DataFrame, rows: np.ndarray):
        self._data, self._rows = data, rows
        self.read: list[str] = []

    def __getitem__(self, key):
        if key not in self._data.columns:
            raise MissingColumnError([key], self._data.columns, "the design data")
        if key not in self.read:
            self.read.append(key)
        col = self._data[key]
        values = col.to_numpy()
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=float, na_value=np.nan)
        return values[self._rows]

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]

    def __iter__(self) -> Iterator:
        return iter(self._data.columns)

    def __len__(self) -> int:
        return len(self._data.columns)


class _Model:
    """The model function on the rows used, its values and derivatives."""

    def __init__(self, fun, gradient, data: pd.DataFrame, rows, params):
        self.fun, self.gradient, self.params = fun, gradient, list(params)
        self.cols = _Columns(data, rows)
        self.m = len(rows)

    def kw(self, theta) -> dict:
        return dict(zip(self.params, (float(t) for t in theta), strict=True))

    def values(self, theta) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self.fun(self.cols, **self.kw(theta))
        return one_per_row(out, self.m, "the model function", "fitted value",
                           "np.exp, np.where, not math.exp or if/else", scalar_ok=True)

    def jacobian(self, theta) -> np.ndarray:
        """(m, p) derivatives of the fitted values by each parameter."""
        p = len(self.params)
        if self.gradient is not None:
            with np.errstate(all="ignore"):
                out = self.gradient(self.cols, **self.kw(theta))
            if isinstance(out, Mapping):
                missing = [k for k in self.params if k not in out]
                if missing:
                    raise ModelError(f"the gradient function returned no derivative for "
                                     f"{show_list(missing)}; return one array per parameter "
                                     f"({show_list(self.params)}).")
                out = np.column_stack([np.broadcast_to(np.asarray(out[k], dtype=float),
                                                       (self.m,)) for k in self.params])
            G = np.asarray(out, dtype=float)
            if G.ndim == 1 and p == 1 and G.shape == (self.m,):
                G = G[:, None]
            if G.shape != (self.m, p):
                raise ModelError(
                    f"the gradient function returned shape {show(G.shape)} for {self.m} rows "
                    f"and {p} parameter(s); it must return an array of shape ({self.m}, {p}) "
                    f"(one column per parameter, in the order {show_list(self.params)}) or a "
                    "dict of per-row derivatives by parameter name.")
            return G
        theta = np.asarray(theta, dtype=float)
        cols = []
        for k in range(p):
            h = 1e-4 * max(abs(theta[k]), 1.0)
            D = []
            for j in range(4):
                hj = h / 2.0 ** j
                up, dn = theta.copy(), theta.copy()
                up[k] += hj
                dn[k] -= hj
                D.append((self.values(up) - self.values(dn)) / (2 * hj))
            for lev in range(1, 4):
                D = [(4.0 ** lev * D[j + 1] - D[j]) / (4.0 ** lev - 1) for j in range(len(D) - 1)]
            cols.append(D[0])
        return np.column_stack(cols)


def _fit(model: _Model, y, w, theta0, tol: float, max_iter: int):
    """Weighted least squares by Levenberg-Marquardt; returns ``(theta, evaluations,
    status)``, status ``"converged"``, ``"max_iter"`` or ``"nonfinite"``."""
    from scipy import optimize

    sw = np.sqrt(w)

    def resid(t):
        r = sw * (y - model.values(t))
        return np.where(np.isfinite(r), r, 1e150)

    def jac(t):
        return -sw[:, None] * model.jacobian(t)

    with np.errstate(all="ignore"):
        res = optimize.least_squares(resid, np.asarray(theta0, dtype=float), jac=jac,
                                     method="lm", xtol=tol, ftol=tol, gtol=tol,
                                     max_nfev=max_iter, x_scale="jac")
    theta = np.asarray(res.x, dtype=float)
    if not np.all(np.isfinite(model.values(theta))):
        return theta, int(res.nfev), "nonfinite"
    if res.status <= 0:
        return theta, int(res.nfev), "max_iter"
    # Gauss-Newton steps (with step halving) to R's relative-offset criterion: LM's stopping
    # rules on the sum of squares leave the estimate short of U = 0 in flat directions
    r = resid(theta)
    cost = float(r @ r)
    for _ in range(20):
        J = jac(theta)
        step, *_ = np.linalg.lstsq(J, r, rcond=None)       # J = -sqrt(w) G: theta - step
        proj = J @ step
        offset = np.sqrt(float(proj @ proj) / max(float((r - proj) @ (r - proj)), 1e-300))
        if offset < tol or not np.all(np.isfinite(step)):
            break
        for _ in range(10):
            new = theta - step
            r_new = resid(new)
            if float(r_new @ r_new) <= cost * (1 + 1e-13):     # (rounding of the sum)
                break
            step = step / 2
        else:
            break
        theta, r, cost = new, r_new, float(r_new @ r_new)
    return theta, int(res.nfev), "converged"


def _bread(G, w) -> np.ndarray | None:
    """``(sum_i w_i g_i g_i')^{-1}``, None when singular."""
    A = (G * w[:, None]).T @ G
    if not np.all(np.isfinite(A)):
        return None
    d = np.sqrt(np.clip(np.diag(A), 0, None))
    if np.any(d == 0):
        return None
    C = A / np.outer(d, d)
    if np.linalg.cond(C) > 1e12:
        return None
    return np.linalg.inv(C) / np.outer(d, d)


class NLSResult(WaldCoefficients):
    """A design-based nonlinear least-squares fit (see :func:`nls`; R ``svynls``).

    Attributes
    ----------
    params, bse, statistic, pvalues : Series over the parameters (R ``coef(fit)``,
        ``SE(fit)``, ``summary(fit)``).
    vcov : Binder's sandwich covariance (R ``vcov(fit)`` computes it with the weights counted
        ``w^{3/2}`` instead of ``w``; see :mod:`socialhealth.design._nls`).
    vcov_model : the model-based covariance ``sigma^2 (sum_i w_i g_i g_i')^{-1}`` with
        ``sigma^2 = rss / (n - p)`` (R ``fit$naive.cov``, nls's ``vcov``; not design-based:
        for comparison with R only).
    df_resid : ``n - p``, the degrees of freedom of the t statistics (R ``summary(fit)$df``).
    rss : the weighted residual sum of squares ``sum_i w_i (y_i - f_i)^2`` (R's printed
        "weighted residual sum-of-squares").
    fitted, residuals : arrays over the rows used; rows : their positions in the design data.
    response, nobs, n_missing, evaluations, r_call.

    Examples
    --------
    >>> import numpy as np
    >>> import socialhealth as sh
    >>> d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw",
    ...                     strata="stype", fpc="fpc")
    >>> fit = sh.design.nls(d, "api00", lambda d, a, b: a + b * np.log(d["api99"]),
    ...                     start={"a": 0, "b": 100})
    >>> fit.to_frame()[["term", "estimate", "se"]].round(2)
      term  estimate      se
    0    a  -3226.84  120.39
    1    b    604.05   18.72

    In R: ``svynls(api00 ~ a + b * log(api99), dstrat, start = c(a = 0, b = 100))`` (same
    estimates; R's standard errors weight the rows by ``w^{3/2}``, see the module notes).
    """

    def __init__(self, *, theta, cov, cov_model, names, df_resid, rss, fitted, residuals, rows,
                 response, nobs, n_missing, evaluations, design, r_call):
        self._theta = np.asarray(theta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self._cov_model = np.asarray(cov_model, dtype=float)
        self.names = list(names)
        self.df_resid = int(df_resid)
        self.rss = float(rss)
        self.fitted = np.asarray(fitted, dtype=float)
        self.residuals = np.asarray(residuals, dtype=float)
        self.rows = np.asarray(rows)
        self.response = response
        self.nobs = int(nobs)
        self.n_missing = int(n_missing)
        self.evaluations = int(evaluations)
        self.design = design
        self.r_call = r_call

    @property
    def _coef(self) -> np.ndarray:
        return self._theta

    @property
    def _wald_df(self) -> float:
        return float(self.df_resid) if self.df_resid > 0 else np.inf

    @property
    def vcov_model(self) -> pd.DataFrame:
        """Model-based covariance ``sigma^2 (sum_i w_i g_i g_i')^{-1}`` (R ``fit$naive.cov``;
        not design-based: for comparison with R only)."""
        return pd.DataFrame(self._cov_model, index=self.names, columns=self.names)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``term, estimate, se, ci_low, ci_high, statistic, p`` (t with
        ``df_resid`` degrees of freedom, intervals at ``level``), one row per parameter."""
        ci = self.confint(level)
        return pd.DataFrame({
            "term": self.names, "estimate": self._coef, "se": self.bse.to_numpy(),
            "ci_low": ci["ci_low"].to_numpy(), "ci_high": ci["ci_high"].to_numpy(),
            "statistic": self.statistic.to_numpy(), "p": self.pvalues.to_numpy()})

    def summary(self) -> Summary:
        """Printable table (estimate, standard error, t, p), as R ``summary(svynls)``, with
        the R call."""
        tab = self.to_frame()
        lines = [f"Survey-weighted nonlinear least squares: {self.response} ~ model("
                 + ", ".join(self.names) + ")",
                 f"Design: {self.design.label}",
                 f"{self.nobs} rows" + (f"; {self.n_missing} left out (missing values)"
                                        if self.n_missing else "")
                 + f"; weighted residual sum of squares {self.rss:.6g}; Binder sandwich "
                   f"standard errors, t statistics on {self.df_resid} degrees of freedom"]
        lines += coefficient_lines(tab["term"], tab["estimate"], tab["se"], tab["statistic"],
                                   tab["p"], width=20)
        lines.append(f"In R: {self.r_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


def nls(
    design,
    response: str,
    model: Callable[..., np.ndarray],
    start: Mapping[str, float],
    gradient: Callable[..., np.ndarray] | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> NLSResult:
    r"""Design-based nonlinear least squares for a model you write (R ``svynls``).

    For curves that are not GLMs: saturation (``a x / (b + x)``), exponential approach to a
    plateau (loneliness by years since bereavement), logistic growth. The estimate minimises
    the weighted sum of squares ``sum_i w_i (y_i - f(x_i; theta))^2``; the covariance is
    Binder's (1983) sandwich through the design (Taylor designs) or refits under every
    replicate's weights (replicate designs). See :mod:`socialhealth.design._nls` for the
    formulas.

    Parameters
    ----------
    design : SurveyDesign, ReplicateDesign or TwoPhaseDesign
        A subset design gives a domain estimate.
    response : str
        The response column.
    model : callable ``model(data, **parameters)``
        The mean function: gets the data (``data["x"]`` or ``data.x``: numpy arrays of the
        rows used) and one number per parameter (named as in ``start``), and returns one fitted
        value per row, computed elementwise with numpy. The columns it reads decide which rows
        have missing values.
    start : dict
        Starting value of each parameter (``{"a": 1, "b": 0.1}``; R ``start = c(a = 1, b =
        0.1)``); the keys name the parameters, in the order of the results.
    gradient : callable ``gradient(data, **parameters)``, optional
        Derivatives of the fitted values by each parameter: an array (rows x parameters, in
        the order of ``start``) or a dict by parameter name. Without it, central differences
        with Richardson extrapolation.
    max_iter : int
        Largest number of evaluations of the model by the least-squares solver.
    tol : float
        Convergence tolerance: Levenberg-Marquardt's relative tolerances on the step, the sum
        of squares and the gradient, then Gauss-Newton steps to R ``nls``'s relative-offset
        criterion ``< tol`` (R's default there is ``1e-5``).

    Returns
    -------
    NLSResult
        ``params``, ``bse``, ``vcov`` (sandwich), ``to_frame()``, ``summary()``,
        ``confint(level=)``; t statistics on ``n - p`` degrees of freedom (R
        ``summary(svynls)``).

    Raises
    ------
    MissingColumnError : the response or a column the model reads is not in the data.
    ModelError : the model is not finite at ``start``, returns the wrong shape, or its
        gradient is singular (a parameter not identified by the data).
    ConvergenceError : no convergence within ``max_iter`` evaluations at ``tol``.
    ArgumentError : ``start`` not a dict of numbers; bad ``max_iter`` or ``tol``.

    Notes
    -----
    R 4.1-1 ``svynls`` weights each row's estimating function by ``w^{3/2}`` (weights divided
    by their mean) in its linearisation covariance, which is Binder's sandwich only with equal
    weights; socialhealth gives the sandwich (R numbers for comparison: the fixture
    ``tests/design/fixtures/nls/make_nls.R``). R's replicate-design method stops in 4.1-1
    and it has no two-phase method; its handling of missing values mixes vectors of different
    lengths. Here replicate designs are refitted per replicate, two-phase designs use their
    two-phase variance, and rows with a missing response or model column are left out.

    References
    ----------
    Binder DA (1983) *Int Stat Rev* 51:279-292; Lumley T (2010) *Complex Surveys*, Wiley, §7.3.

    Examples
    --------
    An exponential approach to a plateau, ``a (1 - exp(-b (x - c)))``:

    >>> import numpy as np
    >>> import socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": rng.uniform(0, 20, 400), "w": rng.uniform(1, 3, 400)})
    >>> df["y"] = 6 * (1 - np.exp(-0.25 * (df.x - 1))) + rng.normal(0, 0.5, 400)
    >>> d = sh.SurveyDesign(df, weights="w")
    >>> fit = sh.design.nls(d, "y", lambda d, a, b, c: a * (1 - np.exp(-b * (d["x"] - c))),
    ...                     start={"a": 5, "b": 0.1, "c": 0})
    >>> fit.coef().round(2)
    a    6.10
    b    0.24
    c    0.98
    Name: estimate, dtype: float64

    In R: ``svynls(y ~ a * (1 - exp(-b * (x - c))), svydesign(~1, weights = ~w, data = df),
    start = c(a = 5, b = 0.1, c = 0))``.
    """
    if not isinstance(response, str):
        raise ArgumentError("response must be the name of the response column, e.g. 'y'.")
    if not callable(model):
        raise ArgumentError("model must be a function model(data, **parameters) returning one "
                            "fitted value per row.")
    if gradient is not None and not callable(gradient):
        raise ArgumentError("gradient must be a function gradient(data, **parameters) or None.")
    if not isinstance(start, Mapping) or not start:
        raise ArgumentError("start must be a dict of starting values by parameter name, e.g. "
                            "{'a': 1, 'b': 0.1} (R start = c(a = 1, b = 0.1)).")
    params = list(start)
    for k in params:
        if not isinstance(k, str) or not k.isidentifier() or keyword.iskeyword(k) \
                or k == "data":
            raise ArgumentError(f"start: the name {k!r} cannot be a parameter of the model "
                                "function; use names such as 'a' or 'rate'.")
    try:
        theta0 = np.array([float(start[k]) for k in params])
    except (TypeError, ValueError):
        raise ArgumentError("start must give one number per parameter, e.g. "
                            "{'a': 1, 'b': 0.1}.") from None
    if not np.all(np.isfinite(theta0)):
        raise ArgumentError("start must give finite numbers.")
    check_iteration_controls(max_iter, tol)

    data = design.data
    if response not in data.columns:
        raise MissingColumnError([response], data.columns, "the design data")
    ycol = data[response]
    if not pd.api.types.is_numeric_dtype(ycol):
        raise FormulaError(f"the response column {response!r} is not numeric ({ycol.dtype}); "
                           "recode it first.")
    y_all = ycol.to_numpy(dtype=float, na_value=np.nan)
    used = np.asarray(design.in_subset, dtype=bool) & np.isfinite(y_all)
    # which columns does the model read? evaluate it once at the start values
    probe = _Model(model, gradient, data, np.flatnonzero(used), params)
    try:
        probe.values(theta0)
    except (MissingColumnError, ModelError):
        raise
    except Exception as exc:                                  # noqa: BLE001
        raise ModelError(f"the model function failed at the start values "
                         f"({type(exc).__name__}: {exc}); it gets data['column'] arrays and "
                         f"the parameters {show_list(params)} as numbers.") from None
    for col in probe.cols.read:
        used &= data[col].notna().to_numpy()
    n_missing = int(np.sum(design.in_subset) - np.sum(used))
    rows = np.flatnonzero(used)
    if len(rows) <= len(params):
        raise FormulaError(f"{len(rows)} rows left to fit {len(params)} parameters (rows with a "
                           f"missing value in {response!r} or a column the model reads are left "
                           "out).")
    fm = _Model(model, gradient, data, rows, params)
    y = y_all[rows]
    f0 = fm.values(theta0)
    if not np.all(np.isfinite(f0)):
        bad = np.flatnonzero(~np.isfinite(f0))
        raise ModelError(
            f"the model is not finite at the start values for {len(bad)} of {len(rows)} rows "
            f"(first: row {int(rows[bad[0]])} of the data); give start= values where the model "
            "is finite on every row.")
    w = design.weights[rows]
    wn = w / float(np.mean(w))
    G0 = fm.jacobian(theta0)
    if _bread(G0, wn) is None:
        raise ModelError(
            "singular gradient at the start values: the model's derivatives by the parameters "
            f"({show_list(params)}) are zero, not finite or linearly dependent there (R nls: "
            "'singular gradient matrix at initial parameter estimates'). Give other start= "
            "values (e.g. a non-zero rate) or drop a parameter the data cannot identify.")
    theta, nev, status = _fit(fm, y, wn, theta0, float(tol), int(max_iter))
    if status != "converged":
        why = (f"did not converge in max_iter={max_iter} model evaluations (tol={tol:g})"
               if status == "max_iter" else "stopped where the model is not finite")
        raise ConvergenceError(
            f"the nonlinear least-squares fit {why}. Give better start= values, raise "
            "max_iter= or tol=, give an analytic gradient=, or reparametrise the model.")
    fitted = fm.values(theta)
    G = fm.jacobian(theta)
    Ainv = _bread(G, w)
    if Ainv is None:
        raise ModelError(
            "singular gradient at the estimate: a parameter is not identified by the data "
            "(R nls: 'singular gradient'). Simplify the model or try other start= values.")
    r = y - fitted
    Z = (w * r)[:, None] * G @ Ainv

    def refit(wr):
        m = float(np.mean(wr)) if len(wr) else 0.0
        if not m > 0:
            return None
        th, _, st = _fit(fm, y, wr / m, theta, float(tol), int(max_iter))
        return th if st == "converged" else None

    cov, _ = design.model_vcov(theta, rows, Z, refit, "nonlinear least-squares model")
    nobs = int(np.sum(w > 0))
    rss = float(w @ r**2)
    df_resid = nobs - len(params)
    cov_model = Ainv * rss / df_resid if df_resid > 0 else np.full_like(Ainv, np.nan)
    sv = ", ".join(f"{k} = {float(v):.6g}" for k, v in zip(params, theta0, strict=True))
    r_call = (f"svynls({response} ~ MODEL, design, start = c({sv}))  # MODEL: your model "
              f"written in R, an expression in {', '.join(params)} and the data's columns; ")
    r_call += ("R 4.1-1's svynls stops on replicate designs" if
               getattr(design, "replicate_weights", None) is not None else
               "R 4.1-1's standard errors differ unless the weights are equal (it weights "
               "each row by w^1.5; see help(socialhealth.design.nls))")
    return NLSResult(theta=theta, cov=cov, cov_model=cov_model, names=params,
                     df_resid=df_resid, rss=rss, fitted=fitted, residuals=r, rows=rows,
                     response=response, nobs=nobs, n_missing=n_missing, evaluations=nev,
                     design=design, r_call=r_call)
