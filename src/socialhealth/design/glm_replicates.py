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
_REP_GROUP_ELEMENTS = 2**24  # replicates refitted together: block x group work arrays at most
_BLOCK_ELEMENTS = 2**19      # rows x replicates of one block of the replicate refits (cache)


def _one_blas_thread():
    """BLAS on one thread inside the replicate refits (see
    :func:`socialhealth.design.replicate_variance.one_blas_thread`)."""
    from socialhealth.design.replicate_variance import one_blas_thread

    return one_blas_thread()


def _replicate_fits(X, y, Wrep, rows, trials, fam: _Family, lk: _Link, offset, start, maxiter,
                    tol, names) -> np.ndarray:
    """Refit the model with every column of replicate weights at once.

    ``Wrep`` is the design's (n x R) replicate-weight matrix and ``rows`` the rows the model
    uses (``X`` and ``y`` are those rows); each replicate's weights are scaled to sum to 1 over
    ``rows`` (times the binomial ``trials``), as R's ``svyglm`` refits. The same Fisher-scoring
    path as :func:`socialhealth.design.irls._irls` started at ``start`` (the full-sample
    coefficients), with per-replicate step-halving and stopping rule, but batched and blocked:
    one pass over the rows in blocks evaluates, for all active replicates at once, the linear
    predictors ``X_b B``, the deviances and -- for the next step -- every cross-product
    ``X' diag(W_r) X`` as one product ``W_b' K_b`` (``K_b`` the row-wise products
    ``x_ij x_ik``, j <= k, of the block) and ``X' W_r r``. No (n x R) array is formed: the
    replicate weights are read block by block from ``Wrep``. Replicates are processed in
    groups when ``R`` times the block length would exceed ``_REP_GROUP_ELEMENTS``.
    Returns the (R x p) replicate coefficients.
    """
    m, p = X.shape
    R = Wrep.shape[1]
    iu, ju = np.triu_indices(p)
    ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
    canonical = (fam.name, lk.name) in (("binomial", "logit"), ("poisson", "log"))
    clamped = lk.name in ("logit", "probit", "cloglog")
    rows = np.asarray(rows)

    def products(Xb, out=None):
        """Row-wise products ``x_ij x_ik`` (j <= k) of ``Xb``, one column at a time (a fancy
        column gather of a column-major matrix is many times slower)."""
        if out is None:
            out = np.empty((Xb.shape[0], len(iu)), order="F")
        for c, (i, j) in enumerate(zip(iu, ju, strict=True)):
            np.multiply(Xb[:, i], Xb[:, j], out=out[:, c])
        return out

    K = products(X) if m * len(iu) <= _K_MAX_ELEMENTS else None
    all_rows = len(rows) == Wrep.shape[0] and bool(np.all(rows == np.arange(len(rows))))
    group = max(1, min(R, _REP_GROUP_ELEMENTS // max(min(m, _CHUNK), 1)))
    block = max(256, min(_CHUNK, _BLOCK_ELEMENTS // max(min(R, group), 1)))
    blocks = [slice(i, min(i + block, m)) for i in range(0, m, block)]

    def wblock(sl, cols):
        """Replicate weights of the rows in block ``sl`` (columns ``cols``), unscaled."""
        if isinstance(cols, np.ndarray) and len(cols) and cols[-1] - cols[0] == len(cols) - 1:
            cols = slice(int(cols[0]), int(cols[-1]) + 1)      # contiguous: a view, no gather
        if hasattr(Wrep, "take"):                              # the design's column source
            return Wrep.take(sl if all_rows else rows[sl], cols)
        if all_rows:
            return Wrep[sl, cols]
        if isinstance(cols, slice):
            return Wrep[rows[sl], cols]
        return Wrep[rows[sl]][:, cols]

    # column sums over the rows used (each replicate's weights are scaled to sum to 1)
    colsum = np.zeros(R)
    for sl in blocks:
        colsum += wblock(sl, slice(None)).sum(axis=0)

    def evaluate(B, cols, scoring=True):
        """Deviance, validity, boundary flag and (optionally) X'WX, X'Wr at coefficients ``B``
        (p x k) for the replicates ``cols`` (k indices), in one pass over the row blocks."""
        k = len(cols)
        dev = np.zeros(k)
        ok = np.ones(k, dtype=bool)
        edge = np.zeros(k, dtype=bool)
        T = np.zeros((k, len(iu))) if scoring else None
        G = np.zeros((k, p)) if scoring else None
        s = colsum[cols]
        for sl in blocks:
            Xb = X[sl]
            P = wblock(sl, cols) / s
            yb = y[sl, None]
            if trials is not None:
                P = P * trials[sl, None]
            eta = Xb @ B
            if offset is not None:
                eta += offset[sl, None]
            mu = lk.linkinv(eta)
            ok &= np.isfinite(eta).all(axis=0)
            if not clamped:
                ok &= np.array([fam.valid_mu(mu[:, j]) for j in range(k)])
            with np.errstate(divide="ignore", invalid="ignore"):
                if fam.name == "binomial" and ybin:
                    dev += -2.0 * np.einsum("ij,ij->j", P,
                                            np.log(np.where(yb > 0.5, mu, 1.0 - mu)))
                else:
                    dev += fam.dev_resids(yb, mu, P).sum(axis=0)
            if fam.name == "binomial":
                edge |= ((mu < 1e-10) | (mu > 1 - 1e-10)).any(axis=0)
            if scoring:
                if canonical:
                    Wt = P * np.maximum(fam.variance(mu), _EPS)
                    Wr = P * (yb - mu)
                else:
                    me = lk.mu_eta(eta)
                    Wt = P * me * me / fam.variance(mu)
                    Wr = Wt * (yb - mu) / me
                # kbuf is allocated whenever K is not (so products() never allocates here)
                Kb = K[sl] if K is not None else products(
                    Xb, None if kbuf is None else kbuf[:Xb.shape[0]])
                T += Wt.T @ Kb
                G += Wr.T @ Xb
        ok &= np.isfinite(dev)
        return dev, ok, edge, T, G

    def eta_moves(steps):
        """The largest change ``max_i |x_i' s|`` of a linear predictor that each column ``s`` of
        ``steps`` (p x k) makes, over the rows used, block by block."""
        top = np.zeros(steps.shape[1])
        for sl in blocks:
            np.maximum(top, np.abs(X[sl] @ steps).max(axis=0), out=top)
        return top

    kbuf = None if K is not None else np.empty((block, len(iu)), order="F")
    out = np.empty((R, p))
    with _one_blas_thread():
        for g0 in range(0, R, group):
            _refit_group(g0, min(g0 + group, R), evaluate, eta_moves, start, maxiter, tol, fam,
                         p, iu, ju, out)
    return out


def _refit_group(g0, g1, evaluate, eta_moves, start, maxiter, tol, fam, p, iu, ju, out):
    """Fisher scoring of the replicates ``g0 .. g1 - 1`` (see :func:`_replicate_fits`)."""
    gcols = np.arange(g0, g1)
    k = len(gcols)
    B = np.repeat(np.asarray(start, dtype=float)[:, None], k, axis=1)
    dev, ok, edge, T, G = evaluate(B, gcols)
    if not ok.all():
        raise ConvergenceError(
            f"the full-sample coefficients give invalid fitted values with replicate weights "
            f"set {g0 + int(np.flatnonzero(~ok)[0]) + 1}; replicate variance cannot be "
            f"computed."
        )
    active = np.arange(k)
    last = np.zeros((p, k))     # each replicate's last Fisher-scoring step
    # replicates in which a coefficient's column has no weight (every row of a category has
    # replicate weight 0): the coefficient is undefined there (R's glm.fit gives NA) and R's
    # svrVar discards the replicate; their coefficients are returned as NaN, which
    # replicate_vcov discards in the same way
    undefined = np.zeros(k, dtype=bool)
    for _it in range(1, maxiter + 1):
        Ta, Ga = T[active], G[active]
        A = np.empty((len(active), p, p))
        A[:, iu, ju] = Ta
        A[:, ju, iu] = Ta
        diag = np.einsum("kii->ki", A)
        empty = ~(diag > 0).all(axis=1)
        if empty.any():
            undefined[active[empty]] = True
            active, A, Ga, diag = active[~empty], A[~empty], Ga[~empty], diag[~empty]
            if active.size == 0:
                break
        sc = 1.0 / np.sqrt(diag)       # equilibration
        As = A * sc[:, :, None] * sc[:, None, :]
        try:
            steps = (np.linalg.solve(As, (Ga * sc)[:, :, None])[:, :, 0] * sc).T
        except np.linalg.LinAlgError:
            raise ConvergenceError(
                "a replicate refit has a singular X'WX (a replicate may drop every row of "
                "a category); replicate variance cannot be computed."
            ) from None
        Bn = B[:, active] + steps
        dev_n, ok, edge_n, T_n, G_n = evaluate(Bn, gcols[active])
        dev_old = dev[active]
        bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
        halvings = 0
        while bad.any() and halvings < 40:
            halvings += 1
            steps[:, bad] /= 2
            Bn[:, bad] = B[:, active[bad]] + steps[:, bad]
            d2, ok2, e2, T2, G2 = evaluate(Bn[:, bad], gcols[active[bad]])
            dev_n[bad], ok[bad], edge_n[bad], T_n[bad], G_n[bad] = d2, ok2, e2, T2, G2
            bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
        if (~ok).any():
            raise ConvergenceError(
                f"the model reached invalid fitted values with replicate weights set "
                f"{g0 + int(active[np.flatnonzero(~ok)[0]]) + 1}; replicate variance cannot be "
                f"computed."
            )
        crit = np.abs(dev_n - dev_old) / (np.abs(dev_n) + 0.1)
        tiny = np.max(np.abs(steps), axis=0) <= 1e-14 * (1 + np.max(np.abs(Bn), axis=0))
        B[:, active], dev[active], edge[active] = Bn, dev_n, edge_n
        T[active], G[active] = T_n, G_n
        last[:, active] = steps
        done = (crit < tol) | tiny
        active = active[~done]
        if active.size == 0:
            break
    if active.size:
        if fam.name == "binomial" and edge[active].any():
            # still diverging with fitted probabilities at 0 or 1: separation (R's glm.fit
            # stops with a warning and R's SEs then come from diverged replicate coefficients)
            raise SeparationError(
                f"with replicate weights set {g0 + int(active[edge[active]][0]) + 1}: fitted "
                "probabilities are numerically 0 or 1 (separation within a replicate), so the "
                "replicate coefficients diverge; merge sparse categories or drop the predictor."
            )
        raise ConvergenceError(
            f"the model did not converge in {maxiter} iterations with replicate weights set "
            f"{g0 + int(active[0]) + 1}; replicate variance cannot be computed."
        )
    edge &= ~undefined
    if fam.name == "binomial" and edge.any():
        # converged with a fitted probability numerically 0 or 1: separation only when the
        # last step still moved a linear predictor by more than 0.1 (a separated fit's steps
        # move the separated rows' eta by ~1 per iteration; a converged fit with a far-out
        # covariate value moves it by ~1e-3 at most), as the full-sample check
        # (glm_separation._check_separation)
        cand = np.flatnonzero(edge)
        edge[cand] = eta_moves(last[:, cand]) > 0.1
        if edge.any():
            raise SeparationError(
                f"with replicate weights set {g0 + int(np.flatnonzero(edge)[0]) + 1}: fitted "
                "probabilities are numerically 0 or 1 (separation within a replicate), so the "
                "replicate coefficients diverge; merge sparse categories or drop the predictor."
            )
    out[g0:g0 + k] = B.T
    out[g0 + np.flatnonzero(undefined)] = np.nan
