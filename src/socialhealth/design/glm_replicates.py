"""Replicate refits of the survey GLM: every replicate's weights refitted at once.

Replicate-weight designs refit the model with each replicate's weights, starting from the
full-sample coefficients, with the same Fisher-scoring path and stopping rule as
:func:`socialhealth.design.irls._irls` (R ``svyglm`` on a replicate design); the replicate
variance formula is applied by the design (``_rep_vcov``).
"""
from __future__ import annotations

import numpy as np

from socialhealth.design.glm_families import _EPS, _Family, _Link
from socialhealth.errors import ConvergenceError, SeparationError

_CHUNK = 65536               # rows per block of X'WX
_K_MAX_ELEMENTS = 2**25      # largest stored table of row-wise products x_ij x_ik (replicates)
_REP_GROUP_ELEMENTS = 2**24  # replicates refitted together: m x group work arrays at most


def _replicate_fits(X, y, PW, fam: _Family, lk: _Link, offset, start, maxiter, tol,
                    names) -> np.ndarray:
    """Refit the model with every column of replicate weights ``PW`` (m x R) at once.

    The same Fisher-scoring path as :func:`_irls` started at ``start`` (the full-sample
    coefficients), with per-replicate step-halving and stopping rule, but batched: the linear
    predictors of all replicates are one matrix product ``X B``, and all cross-products
    ``X' diag(W_r) X`` one product ``W' K`` with ``K`` the row-wise products ``x_ij x_ik``
    (j <= k). Replicates are processed in groups that keep the m x R work arrays small.
    Returns the (R x p) replicate coefficients.
    """
    m, p = X.shape
    R = PW.shape[1]
    iu, ju = np.triu_indices(p)
    K = X[:, iu] * X[:, ju] if m * len(iu) <= _K_MAX_ELEMENTS else None
    off = None if offset is None else offset[:, None]
    ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
    canonical = (fam.name, lk.name) in (("binomial", "logit"), ("poisson", "log"))
    clamped = lk.name in ("logit", "probit", "cloglog")
    yc = y[:, None]

    def cross_all(W):
        if K is not None:
            T = W.T @ K
        else:
            T = np.zeros((W.shape[1], len(iu)))
            for i in range(0, m, _CHUNK):
                sl = slice(i, i + _CHUNK)
                T += W[sl].T @ (X[sl][:, iu] * X[sl][:, ju])
        A = np.empty((W.shape[1], p, p))
        A[:, iu, ju] = T
        A[:, ju, iu] = T
        return A

    def fitted(B, P):
        eta = X @ B
        if off is not None:
            eta += off
        mu = lk.linkinv(eta)
        ok = np.isfinite(eta).all(axis=0)
        if not clamped:
            ok &= np.array([fam.valid_mu(mu[:, j]) for j in range(mu.shape[1])])
        with np.errstate(divide="ignore", invalid="ignore"):
            if fam.name == "binomial" and ybin:
                dev = -2.0 * np.einsum("ij,ij->j", P, np.log(np.where(yc > 0.5, mu, 1.0 - mu)))
            else:
                dev = fam.dev_resids(yc, mu, P).sum(axis=0)
        ok &= np.isfinite(dev)
        return eta, mu, dev, ok

    def scoring(eta, mu, P):
        if canonical:
            W = P * np.maximum(fam.variance(mu), _EPS)
            Wr = P * (yc - mu)
        else:
            me = lk.mu_eta(eta)
            W = P * me * me / fam.variance(mu)
            Wr = W * (yc - mu) / me
        return W, Wr

    out = np.empty((R, p))
    group = max(1, min(R, _REP_GROUP_ELEMENTS // max(m, 1)))
    for g0 in range(0, R, group):
        P_all = PW[:, g0:g0 + group]
        k = P_all.shape[1]
        B = np.repeat(np.asarray(start, dtype=float)[:, None], k, axis=1)
        eta, mu, dev, ok = fitted(B, P_all)
        if not ok.all():
            raise ConvergenceError(
                f"the full-sample coefficients give invalid fitted values with replicate weights "
                f"set {g0 + int(np.flatnonzero(~ok)[0]) + 1}; replicate variance cannot be "
                f"computed."
            )
        active = np.arange(k)
        last = np.zeros(k)
        for _it in range(1, maxiter + 1):
            P = P_all[:, active]
            W, Wr = scoring(eta[:, active], mu[:, active], P)
            A = cross_all(W)
            G = (Wr.T @ X).T                                 # p x |active| (X'Wr; this
            # orientation keeps numpy on BLAS for a column-major X)
            s = 1.0 / np.sqrt(np.einsum("kii->ki", A))       # equilibration
            As = A * s[:, :, None] * s[:, None, :]
            try:
                steps = (np.linalg.solve(As, (G.T * s)[:, :, None])[:, :, 0] * s).T
            except np.linalg.LinAlgError:
                raise ConvergenceError(
                    "a replicate refit has a singular X'WX (a replicate may drop every row of "
                    "a category); replicate variance cannot be computed."
                ) from None
            Bn = B[:, active] + steps
            eta_n, mu_n, dev_n, ok = fitted(Bn, P)
            dev_old = dev[active]
            bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
            halvings = 0
            while bad.any() and halvings < 40:
                halvings += 1
                steps[:, bad] /= 2
                Bn[:, bad] = B[:, active[bad]] + steps[:, bad]
                e2, m2, d2, ok2 = fitted(Bn[:, bad], P[:, bad])
                eta_n[:, bad], mu_n[:, bad], dev_n[bad] = e2, m2, d2
                ok[bad] = ok2
                bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
            if (~ok).any():
                raise ConvergenceError(
                    f"the model reached invalid fitted values with replicate weights set "
                    f"{g0 + int(active[np.flatnonzero(~ok)[0]]) + 1}; replicate variance cannot be "
                    f"computed."
                )
            crit = np.abs(dev_n - dev_old) / (np.abs(dev_n) + 0.1)
            tiny = np.max(np.abs(steps), axis=0) <= 1e-14 * (1 + np.max(np.abs(Bn), axis=0))
            B[:, active], eta[:, active], mu[:, active], dev[active] = Bn, eta_n, mu_n, dev_n
            last[active] = np.max(np.abs(steps), axis=0)
            done = (crit < tol) | tiny
            active = active[~done]
            if active.size == 0:
                break
        if active.size:
            raise ConvergenceError(
                f"the model did not converge in {maxiter} iterations with replicate weights set "
                f"{g0 + int(active[0]) + 1}; replicate variance cannot be computed."
            )
        if fam.name == "binomial":
            edge = ((mu < 1e-10) | (mu > 1 - 1e-10)).any(axis=0)
            edge &= last > 1e-6 * (1 + np.max(np.abs(B), axis=0))     # see _check_separation
            if edge.any():
                raise SeparationError(
                    f"with replicate weights set {g0 + int(np.flatnonzero(edge)[0]) + 1}: fitted "
                    "probabilities are numerically 0 or 1 (separation within a replicate), so the "
                    "replicate coefficients diverge; merge sparse categories or drop the predictor."
                )
        out[g0:g0 + k] = B.T
    return out
