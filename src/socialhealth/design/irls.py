"""The fitter of the survey GLM: iteratively reweighted least squares (Fisher scoring).

Linear algebra of the cross-products ``X'WX`` (blocked products, Cholesky solves, aliased
columns) and the IRLS path of :func:`socialhealth.design.glm.glm` (R's ``glm.fit`` path;
formulas in :mod:`socialhealth.design.glm`). Separation checks are in
:mod:`socialhealth.design.glm_separation`, the batched replicate refits in
:mod:`socialhealth.design.glm_replicates`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import linalg

from socialhealth._text import show_given
from socialhealth.design.glm_families import _EPS, _Family, _Link
from socialhealth.design.glm_separation import _check_separation
from socialhealth.errors import ConvergenceError, ModelError


# ----------------------------------------------------------------------------- linear algebra
def _cross(X: np.ndarray, W: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """X' diag(W) X, in row blocks that stay in cache.

    Each block of rows is copied into a contiguous buffer (numpy's products on a row slice of
    a column-major ``X`` do not go through BLAS) and multiplied as the general product
    ``X_b' (W_b X_b)``: for a dozen columns OpenBLAS's general product on blocks of a few
    thousand rows is about twice as fast as its symmetric rank-k update of ``sqrt(W) X``. The
    sum is made exactly symmetric at the end."""
    n, p = X.shape
    A = np.zeros((p, p))
    size = min(chunk, n)
    block = np.empty((size, p), order="F")
    weighted = np.empty((size, p), order="F")
    for i in range(0, n, chunk):
        k = min(i + chunk, n) - i
        Xb = block[:k]
        Xb[...] = X[i:i + k]
        A += Xb.T @ np.multiply(Xb, W[i:i + k, None], out=weighted[:k])
    return (A + A.T) / 2


def _aliased(A: np.ndarray, names: Sequence[str]) -> list[str]:
    """Columns that are (numerically) linear combinations of earlier columns.

    Sequential check on the correlation-scaled cross-product: a column is aliased when its
    residual sum of squares after regression on the kept earlier columns is below 1e-9 of its
    own (R's QR rank detection keeps the earlier column in the same way).
    """
    d = np.diag(A).copy()
    out = []
    keep: list[int] = []
    scale = np.sqrt(np.where(d > 0, d, 1.0))
    S = A / scale[:, None] / scale[None, :]
    for j in range(len(d)):
        if not d[j] > 0:
            out.append(names[j])
            continue
        if keep:
            Skk = S[np.ix_(keep, keep)]
            skj = S[keep, j]
            try:
                resid = S[j, j] - skj @ np.linalg.solve(Skk, skj)
            except np.linalg.LinAlgError:
                resid = 0.0
        else:
            resid = S[j, j]
        if resid < 1e-9:
            out.append(names[j])
        else:
            keep.append(j)
    return out


class _Solver:
    """Cholesky factor of an equilibrated cross-product, for repeated solves and the inverse."""

    def __init__(self, A: np.ndarray, names: Sequence[str]):
        d = np.diag(A)
        if not np.all(d > 0) or not np.all(np.isfinite(A)):
            self._fail(A, names)
        self.s = 1.0 / np.sqrt(d)
        try:
            self.c = linalg.cho_factor(A * self.s[:, None] * self.s[None, :], lower=False,
                                       check_finite=False)
        except linalg.LinAlgError:
            self._fail(A, names)
        rc = np.min(np.abs(np.diag(self.c[0]))) ** 2
        if rc < 1e-13:
            self._fail(A, names)

    @staticmethod
    def _fail(A, names):
        bad = _aliased(A, names)
        if bad:
            raise ModelError(
                f"the model matrix is rank deficient: column(s) {', '.join(map(repr, bad))} are "
                "linear combinations of earlier columns (aliased) among the rows used. Remove "
                "the redundant term(s), or check for a categorical level with no rows in the "
                "data/subset used (drop unused categories) or a variable that is constant there."
            )
        raise ModelError(
            "the model matrix is numerically singular (near-collinear columns); rescale or "
            "remove nearly redundant predictors."
        )

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self.s * linalg.cho_solve(self.c, self.s * b, check_finite=False)

    def inverse(self) -> np.ndarray:
        p = len(self.s)
        inv = linalg.cho_solve(self.c, np.eye(p), check_finite=False)
        inv = inv * self.s[:, None] * self.s[None, :]
        return (inv + inv.T) / 2


# ----------------------------------------------------------------------------- IRLS
_FUSED_MIN_ROWS = 131072   # rows above which a canonical-link fit fuses fitted values and scoring


@dataclass
class _Fit:
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    iterations: int
    converged: bool
    W: np.ndarray | None = None          # working weights of the last IRLS step
    solver: "_Solver | None" = None      # factor of X'WX of the last IRLS step
    last_step: float = 0.0               # largest coefficient change of the last step
    step: np.ndarray | None = None       # the last step itself (None: a least-squares start)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors without BLAS: a BLAS ``dot`` wakes the BLAS thread pool,
    which costs milliseconds per call on a busy machine (it dominated small fits)."""
    return float(np.einsum("i,i->", a, b))


def _dev_sum(fam: _Family, y, mu, w, ybin: bool) -> float:
    """Sum of the unit deviances (fast paths for 0/1 binomial and poisson outcomes)."""
    if fam.name == "binomial" and ybin:
        return float(-2.0 * _dot(w, np.log(np.where(y > 0.5, mu, 1.0 - mu))))
    if fam.name == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return float(2.0 * _dot(w, ylogy - (y - mu)))
    return float(np.sum(fam.dev_resids(y, mu, w)))


class _Pass:
    """One pass over the rows at coefficients ``beta``.

    Computes the linear predictor, fitted means, deviance and -- in the same pass -- the
    working weights ``W``, the cross-product ``X'WX`` and ``X'W r`` for the next scoring step
    (vectorised; the cross-product in row blocks that stay in cache).
    """

    def __init__(self, X, y, pw, fam, lk, off):
        self.X, self.y, self.pw, self.fam, self.lk, self.off = X, y, pw, fam, lk, off
        self.ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
        self.canonical = (fam.name, lk.name) in (("binomial", "logit"), ("poisson", "log"))
        # the scoring pieces at the fitted values of the last fitted() (canonical links)
        self._pending: tuple | None = None

    def fitted(self, beta):
        """``(eta, mu, deviance)`` at ``beta``, or None when the fitted values are invalid.

        With a canonical link on many rows, the next scoring step's pieces are computed in the
        same pass over ``X`` (row blocks that stay in cache: ``X`` is read from memory once
        per iteration instead of three times) and kept for :meth:`scoring` at these fitted
        values; they are the same numbers :meth:`scoring` computes (cross-product block by
        block as :func:`_cross`, ``X'W r`` summed block by block)."""
        X, lk, fam, off = self.X, self.lk, self.fam, self.off
        self._pending = None
        fused = self.canonical and X.shape[0] > _FUSED_MIN_ROWS
        if fused:
            eta, mu, W, A, g = self._fitted_scoring(beta)
        else:
            eta = X @ beta
            if off is not None:
                eta += off
            mu = lk.linkinv(eta)
        # the logit and probit inverses clamp mu inside (0, 1): only eta needs checking
        clamped = lk.name in ("logit", "probit", "cloglog")
        if not (lk.valid_eta(eta) and (clamped or fam.valid_mu(mu))):
            return None
        dev = _dev_sum(fam, self.y, mu, self.pw, self.ybin)
        if not np.isfinite(dev):
            return None
        if fused:
            self._pending = (eta, W, A, g)
        return eta, mu, dev

    def _fitted_scoring(self, beta, chunk: int = 8192):
        """``eta``, ``mu`` at ``beta`` and the scoring step's ``W``, ``X'WX``, ``X'W r`` (canonical
        link), block by block as in :func:`_cross`: each block of rows of ``X`` is copied once
        into a contiguous buffer that stays in cache, and every product of the block is taken
        from it."""
        X, y, pw, fam, lk, off = self.X, self.y, self.pw, self.fam, self.lk, self.off
        n, p = X.shape
        if off is not None:   # a number or a list, as the separate pass's broadcasting takes
            off = np.broadcast_to(np.asarray(off, dtype=float), (n,))
        eta, mu, W = np.empty(n), np.empty(n), np.empty(n)
        A, g = np.zeros((p, p)), np.zeros(p)
        size = min(chunk, n)
        block = np.empty((size, p), order="F")
        weighted = np.empty((size, p), order="F")
        with np.errstate(invalid="ignore", over="ignore"):
            for i in range(0, n, chunk):
                k = min(i + chunk, n) - i
                sl = slice(i, i + k)
                Xb = block[:k]
                Xb[...] = X[sl]
                e = np.matmul(Xb, beta, out=eta[sl])
                if off is not None:
                    e += off[sl]
                m = mu[sl] = lk.linkinv(e)
                Wb = np.multiply(pw[sl], np.maximum(fam.variance(m), _EPS), out=W[sl])
                A += Xb.T @ np.multiply(Xb, Wb[:, None], out=weighted[:k])
                g += Xb.T @ (pw[sl] * (y[sl] - m))
        return eta, mu, W, (A + A.T) / 2, g

    def scoring(self, eta, mu, first=False):
        """Working weights ``W``, ``X'WX`` and ``X'W r`` (``X'W z`` on the first step)."""
        X, y, pw, fam, lk, off = self.X, self.y, self.pw, self.fam, self.lk, self.off
        pending = self._pending
        if pending is not None and not first and pending[0] is eta:
            return pending[1:]
        if self.canonical:
            me = np.maximum(fam.variance(mu), _EPS)   # dmu/deta = V(mu) for canonical links
            W = pw * me
            Wr = pw * (y - mu)
        else:
            me = lk.mu_eta(eta)
            W = pw * me * me / fam.variance(mu)
            Wr = W * (y - mu) / me
        if first:
            Wr = Wr + W * (eta if off is None else eta - off)
        return W, _cross(X, W), X.T @ Wr


def _intercept_start(X, y, pw, lk: _Link) -> np.ndarray | None:
    """Coefficients of the intercept-only fit (0 for the other columns), or None without an
    intercept column."""
    ones = [j for j in range(X.shape[1]) if np.all(X[:, j] == 1.0)]
    if not ones:
        return None
    ybar = float(_dot(pw, y) / pw.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        b0 = float(lk.link(np.array([min(max(ybar, 1e-8), 1 - 1e-8) if lk.name != "identity"
                                     else ybar]))[0])
    if not np.isfinite(b0):
        return None
    beta = np.zeros(X.shape[1])
    beta[ones[0]] = b0
    return beta


def _irls(X, y, pw, fam: _Family, lk: _Link, offset, start, maxiter, tol, names) -> _Fit:
    """Fisher scoring (IRLS): ``beta_new = beta + (X'WX)^{-1} X'W r``, ``r`` working residuals.

    The first step from the family's starting means is the weighted least-squares fit of the
    working response; later steps use the update form, whose fixed point is the exact root of
    the score equations even when ``X'WX`` is ill-conditioned (for the identity-link gaussian
    model this is least squares with iterative refinement). Invalid fitted values or an
    increase in deviance halve the step. Stops when ``|D - D_old| / (|D| + 0.1) < tol``.
    """
    p = X.shape[1]
    beta: np.ndarray | None          # None before the first step from mustart
    step: np.ndarray | None          # None after that first step (it is the new beta)
    if start is not None:
        try:
            start = np.asarray(start, dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"start= takes {X.shape[1]} numbers, one starting value per "
                             f"coefficient ({', '.join(names)}), not "
                             f"{show_given(start)}.") from None
    if start is not None and np.size(start) != X.shape[1]:
        # R: "length of 'start' should equal 2 and correspond to initial coefs for ..."
        raise ModelError(f"start= must have {X.shape[1]} values (one per coefficient: "
                         f"{', '.join(names)}).")
    if fam.name == "gaussian" and lk.name == "identity":
        off = 0.0 if offset is None else offset
        solver = _Solver(_cross(X, pw), names)
        beta = solver.solve(X.T @ (pw * (y - off)))
        for it in range(3):  # noqa: B007 - `it` counts the iterations after the loop
            eta = X @ beta + off
            step = solver.solve(X.T @ (pw * (y - eta)))
            beta = beta + step
            if np.max(np.abs(step)) <= 1e-15 * (1 + np.max(np.abs(beta))):
                break
        eta = X @ beta + off
        mu = eta
        return _Fit(beta, eta, mu, float(np.sum(fam.dev_resids(y, mu, pw))), it + 1, True, pw,
                    solver)

    ps = _Pass(X, y, pw, fam, lk, offset)
    first = start is None
    if not first:
        beta = np.asarray(start, dtype=float).copy()
        if beta.shape != (p,):
            raise ModelError(f"start= must have {p} values (one per coefficient: "
                             f"{', '.join(names)}).")
        state = ps.fitted(beta)
        if state is None:
            raise ModelError("start= gives invalid fitted values (e.g. probabilities outside (0, "
                             "1)); choose other starting values.")
        eta, mu, dev = state
    else:
        mu = fam.mustart(y, pw)
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = lk.link(mu)
        beta = None
        if not lk.valid_eta(eta):
            # e.g. a log link with zero outcomes: start from the intercept-only fit instead
            beta = _intercept_start(X, y, pw, lk)
            st = None if beta is None else ps.fitted(beta)
            if st is None:
                raise ConvergenceError(
                    f"no valid starting values for the {fam.name} model with {lk.name} link; "
                    "give start= (one value per coefficient)."
                )
            eta, mu, _ = st
            first = False
        dev = _dev_sum(fam, y, mu, pw, ps.ybin)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        W, A, g = ps.scoring(eta, mu, first=first)
        first = False
        try:
            solver = _Solver(A, names)
        except ModelError:
            if it == 1 or beta is None:
                raise                        # rank-deficient model matrix
            # X'WX broke down later: working weights degenerate near the boundary
            _check_separation(_Fit(beta, eta, mu, dev, it, False), fam, lk, X, y, pw, names)
            raise ConvergenceError(
                f"the IRLS fit broke down at iteration {it}: the working weights became "
                "degenerate (fitted values at the edge of the valid range). Check the link "
                "function and extreme predictor values, or give start= values."
            ) from None
        step = solver.solve(g)
        if beta is None:
            beta_new, step = step, None
        else:
            beta_new = beta + step
        new = ps.fitted(beta_new)
        halvings = 0
        if new is None and beta is None:
            # the first least-squares step left the valid region (typical for log-binomial
            # models): restart from the intercept-only fit, g(weighted mean of y)
            b0 = _intercept_start(X, y, pw, lk)
            st = None if b0 is None else ps.fitted(b0)
            if st is not None:
                beta = b0
                eta, mu, dev = st
                continue
        while new is None or (beta is not None and new[2] > dev + 1e-7 * (abs(dev) + 0.1)):
            if beta is None or step is None or halvings >= 40:   # step is None iff beta is
                if new is None:
                    raise ConvergenceError(
                        f"the {fam.name} model with {lk.name} link reached invalid fitted values "
                        f"(iteration {it}) and step-halving did not recover. Give starting values "
                        "with start= (e.g. for a log-binomial model: the log of the overall "
                        "prevalence for the intercept and 0 for the other coefficients)."
                    )
                break
            halvings += 1
            step = step / 2
            beta_new = beta + step
            new = ps.fitted(beta_new)
        eta, mu, dev_new = new
        crit = abs(dev_new - dev) / (abs(dev_new) + 0.1)
        tiny_step = (step is not None
                     and np.max(np.abs(step)) <= 1e-14 * (1 + np.max(np.abs(beta_new))))
        beta, dev = beta_new, dev_new
        last_step = np.inf if step is None else float(np.max(np.abs(step)))
        if crit < tol or tiny_step:
            converged = True
            break
    if beta is None:   # not reached: glm() checks max_iter >= 1
        raise ModelError(f"max_iter must be a positive integer, not {show_given(maxiter)}.")
    # the bread and score weights of the last scoring step (R's glm convention)
    return _Fit(beta, eta, mu, dev, it, converged, W, solver, last_step, step)
