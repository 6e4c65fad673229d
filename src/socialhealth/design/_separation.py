r"""Detection of separation and monotone likelihood from the data (linear programming).

A (pseudo-)likelihood fit whose maximum does not exist has a *recession direction* ``d != 0``:
moving the coefficients along ``d`` never lowers the likelihood and raises it strictly for some
rows, so Newton/IRLS steps run off to infinity. Whether such a direction exists is a property
of the data alone (covariates, outcome, risk sets), not of the iteration, and is decided by a
linear programme (Albert & Anderson 1984; Konis 2007; Kosmidis & Schumacher's
``detectseparation``). Weights do not matter as long as they are positive (rows with zero
weight are left out before calling these functions).

* Binary (and proportion) outcomes, links logit / probit / cloglog: ``d`` with
  ``x_i'd >= 0`` where ``y_i = 1``, ``x_i'd <= 0`` where ``y_i = 0``, ``x_i'd = 0`` where
  ``0 < y_i < 1``, strict for at least one row (complete or quasi-complete separation).
* Poisson, log link (Haberman 1974; Santos Silva & Tenreyro 2010): ``x_i'd = 0`` where
  ``y_i > 0`` and ``x_i'd <= 0`` where ``y_i = 0``, strict for at least one zero count.
* Cox partial likelihood (Bryson & Johnson 1981): ``x_i'd >= x_j'd`` for every event ``i`` and
  every ``j`` in its risk set (same baseline stratum, ``T_j >= T_i``), strict for at least one
  pair: within every risk set the row with the event is ranked extreme along ``d``.
* Cumulative-link ordinal models: ``(d_beta, d_zeta)`` with ``d_zeta`` non-decreasing and,
  for a row in level ``k``, ``d_zeta_k - x_i'd_beta >= 0`` (upper cut point, ``k < K``) and
  ``d_zeta_{k-1} - x_i'd_beta <= 0`` (lower cut point, ``k > 1``), strict somewhere.
* Baseline-category (multinomial) logit (Albert & Anderson 1984, §3): one direction ``d_k``
  per non-reference level (``d_ref = 0``) with ``x_i'(d_{y_i} - d_j) >= 0`` for every row
  ``i`` and every other level ``j``, strict somewhere: along it every row's own level gains on
  all the others.

Each problem is solved as ``max c'z`` over the cone of such directions intersected with the
box ``|z_j| <= 1`` (``c`` a positive combination of the constraints, so the optimum is 0
exactly when no direction exists), with the columns scaled to maximum absolute value 1.
The solver's answer is then *checked* on the data with explicit tolerances (every constraint
holds to 1e-9 of the row's size, one holds strictly by more than 1e-7), so a solver tolerance
can neither create nor hide a separation.

References
----------
Albert A, Anderson JA (1984) On the existence of maximum likelihood estimates in logistic
regression models. *Biometrika* 71:1-10.
Konis K (2007) *Linear programming algorithms for detecting separated data in binary logistic
regression models*. DPhil thesis, University of Oxford.
Haberman SJ (1974) *The Analysis of Frequency Data*. University of Chicago Press.
Santos Silva JMC, Tenreyro S (2010) On the existence of the maximum likelihood estimates in
Poisson regression. *Economics Letters* 107:310-312.
Bryson MC, Johnson ME (1981) The incidence of monotone likelihood in the Cox model.
*Technometrics* 23:381-383.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse

_FEAS = 1e-9      # a constraint counts as holding if violated by at most this (relative)
_STRICT = 1e-7    # ... and as strict if it holds with at least this margin (relative)
_COEF = 1e-6      # a direction component (scaled, max 1) smaller than this is zero


@dataclass
class Direction:
    """A recession direction found in the data: the coefficients that run off to infinity."""

    names: list[str]                  # coefficients moving along the direction
    signs: list[int]                  # +1 (to +infinity) or -1 (to -infinity), per name
    n_rows: int                       # rows (or events) predicted perfectly along it
    direction: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def describe(self) -> str:
        """``"the coefficient of x goes to +infinity"`` (several joined with "together with")."""
        parts = [f"{n} to {'+' if s > 0 else '-'}infinity" for n,
                 s in zip(self.names, self.signs, strict=True)]
        head = "the coefficient of " + parts[0].replace(" to ", " goes to ", 1)
        return head + "".join(f", together with {p}" for p in parts[1:])


def _scale(X: np.ndarray) -> np.ndarray:
    s = np.max(np.abs(X), axis=0) if X.shape[0] else np.ones(X.shape[1])
    return np.where(s > 0, s, 1.0)


def _solve(c, A_ub, A_eq, bounds):
    """max c'z s.t. A_ub z <= 0, A_eq z = 0, bounds; the solution or None."""
    from scipy import optimize

    kw: dict[str, np.ndarray] = {}
    if A_ub is not None and A_ub.shape[0]:
        kw.update(A_ub=A_ub, b_ub=np.zeros(A_ub.shape[0]))
    if A_eq is not None and A_eq.shape[0]:
        kw.update(A_eq=A_eq, b_eq=np.zeros(A_eq.shape[0]))
    try:
        res = optimize.linprog(-np.asarray(c, dtype=float), bounds=bounds, method="highs", **kw)
    except (ValueError, MemoryError):          # pragma: no cover - solver refused the problem
        return None
    if res.status != 0 or res.x is None:
        return None
    return np.asarray(res.x, dtype=float)


def _sparse_direction(c, A_ub, A_eq, p: int, penalty: np.ndarray, target: float):
    """The direction of smallest weighted L1 norm (first ``p`` variables) with ``c'z >= target``.

    Same cone as the first programme (``A_ub z <= 0``, ``A_eq z = 0``); variables after the
    first ``p`` are auxiliary and free. An L1 objective picks a direction with few non-zero
    coefficients, so the covariates named are those that have to diverge, not every
    covariate that may be added to a separating direction. Returns None on failure.
    """
    from scipy import optimize

    c = np.asarray(c, dtype=float)
    k = len(c)
    na = k - p

    def split(M):
        if M is None or M.shape[0] == 0:
            return None
        M = sparse.csr_matrix(M)
        return sparse.hstack([M[:, :p], -M[:, :p], M[:, p:]]).tocsr()

    ub = split(A_ub)
    crow = sparse.csr_matrix(-np.r_[c[:p], -c[:p], c[p:]][None, :])
    ub = crow if ub is None else sparse.vstack([ub, crow]).tocsr()
    kw = {"A_ub": ub, "b_ub": np.r_[np.zeros(ub.shape[0] - 1), -target]}
    eq = split(A_eq)
    if eq is not None:
        kw.update(A_eq=eq, b_eq=np.zeros(eq.shape[0]))
    obj = np.r_[penalty, penalty, np.zeros(na)]
    bounds = [(0.0, None)] * (2 * p) + [(None, None)] * na
    try:
        res = optimize.linprog(obj, bounds=bounds, method="highs", **kw)
    except (ValueError, MemoryError):          # pragma: no cover
        return None
    if res.status != 0 or res.x is None:
        return None
    x = np.asarray(res.x, dtype=float)
    return np.r_[x[:p] - x[p:2 * p], x[2 * p:]]


def _unique_rows(M: np.ndarray) -> np.ndarray:
    if M.shape[0] <= 1:
        return M
    return np.unique(M, axis=0)


def _named(d: np.ndarray, names: Sequence[str],
           skip: Sequence[str] = ("Intercept",)) -> tuple[list[str], list[int]]:
    big: list[int] = np.flatnonzero(np.abs(d) > _COEF * max(np.max(np.abs(d)), 1e-300)).tolist()
    pick = [j for j in big if names[j] not in skip] or list(big)
    return [names[j] for j in pick], [int(np.sign(d[j])) for j in pick]


def _sign_cone(G_ge: np.ndarray, G_eq: np.ndarray, names: Sequence[str],
               skip=("Intercept",)) -> Direction | None:
    """A direction ``d`` with ``G_ge d >= 0`` (strict somewhere) and ``G_eq d = 0``, or None.

    Columns are scaled to maximum absolute value 1 first (on both blocks together).
    """
    p = G_ge.shape[1]
    if p == 0 or G_ge.shape[0] == 0:
        return None
    s = _scale(np.vstack([G_ge, G_eq]) if G_eq.shape[0] else G_ge)
    A = G_ge / s
    E = G_eq / s
    Au = _unique_rows(A)
    Eu = _unique_rows(E) if E.shape[0] else E
    c = Au.sum(axis=0)
    z = _solve(c, -Au, Eu, [(-1.0, 1.0)] * p)
    size = np.maximum(np.sum(np.abs(A), axis=1), 1e-300)
    esize = np.maximum(np.sum(np.abs(E), axis=1), 1e-300) if E.shape[0] else None

    def check(z):
        """The number of strictly separated rows, or 0 if ``z`` is not a separating direction."""
        if z is None or not np.max(np.abs(z)) > 0:
            return 0
        z = z / np.max(np.abs(z))
        v = A @ z
        if np.any(v < -_FEAS * size):
            return 0
        if esize is not None and np.any(np.abs(E @ z) > _FEAS * esize):
            return 0
        return int(np.sum(v > _STRICT * size))

    if not check(z):
        return None
    z = z / np.max(np.abs(z))
    penalty = np.array([1e-3 if n in skip else 1.0 for n in names])
    zs = _sparse_direction(c, -Au, Eu, p, penalty, float(c @ z))
    if check(zs):
        z = zs / np.max(np.abs(zs))
    nm, sg = _named(z, names, skip)
    return Direction(nm, sg, check(z), z / s)


# ----------------------------------------------------------------------------- GLM
def binary_separation(X: np.ndarray, y: np.ndarray, names: Sequence[str]) -> Direction | None:
    """Complete or quasi-complete separation of a binary/proportion outcome ``y`` in [0, 1].

    ``X`` holds the rows used with positive weight (intercept column included if the model
    has one). Returns the separating direction, or None when the maximum likelihood estimate
    exists (links logit, probit, cloglog).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    one, zero = y >= 1, y <= 0
    G_ge = np.vstack([X[one], -X[zero]])
    G_eq = X[~one & ~zero]
    return _sign_cone(G_ge, G_eq, names)


def poisson_nonexistence(X: np.ndarray, y: np.ndarray, names: Sequence[str]) -> Direction | None:
    """A log-linear Poisson fit whose estimate does not exist (zero counts driving ``mu -> 0``).

    ``x_i'd = 0`` for rows with ``y_i > 0``, ``x_i'd <= 0`` for zero counts, strict for one.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    zero = y <= 0
    if not zero.any():
        return None
    return _sign_cone(-X[zero], X[~zero], names)


# ----------------------------------------------------------------------------- Cox
def cox_monotone(X: np.ndarray, time: np.ndarray, event: np.ndarray, strata: np.ndarray,
                 names: Sequence[str]) -> Direction | None:
    """A direction along which the Cox partial likelihood is monotone (estimate infinite).

    For every event and every row of its risk set (same stratum, time >= the event's time),
    ``x_event'd >= x_j'd``; strict for at least one pair. Solved with one auxiliary variable
    per distinct event time (the maximum of ``x'd`` over that risk set; risk sets are nested).
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    ev = np.asarray(event, dtype=float) > 0
    if p == 0 or not ev.any():
        return None
    s = _scale(X)
    A = X / s
    t = np.asarray(time, dtype=float)
    st = np.asarray(strata)
    # event-time groups (stratum, time) in order of stratum then time
    ev_keys = np.unique(np.rec.fromarrays([st[ev], t[ev]]))
    g_st = np.asarray(ev_keys["f0"])
    g_t = np.asarray(ev_keys["f1"], dtype=float)
    G = len(g_t)
    # for each row: the latest event time <= its time in its stratum (its smallest risk set)
    home = np.full(n, -1)
    for code in np.unique(g_st):
        idx = np.flatnonzero(g_st == code)
        rows = np.flatnonzero(st == code)
        pos = np.searchsorted(g_t[idx], t[rows], side="right") - 1
        ok = pos >= 0
        home[rows[ok]] = idx[pos[ok]]
    at_risk = home >= 0
    # a row's event group (its own time)
    ev_rows = np.flatnonzero(ev)
    ev_group = home[ev_rows]                   # an event's own time is an event time
    # constraints, variables z = (d (p), u (G)):
    #   x_j'd - u_home(j) <= 0          rows at risk somewhere
    #   u_{g+1} - u_g <= 0               next later event time in the same stratum
    #   u_g(i) - x_i'd <= 0              events
    rj = np.flatnonzero(at_risk)
    blocks = [sparse.hstack([sparse.csr_matrix(A[rj]),
                             sparse.csr_matrix((-np.ones(len(rj)), (np.arange(len(rj)), home[rj])),
                                               shape=(len(rj), G))])]
    nxt = np.flatnonzero(g_st[1:] == g_st[:-1])          # g and g+1 in the same stratum
    if len(nxt):
        k = len(nxt)
        chain = sparse.csr_matrix((np.r_[np.ones(k), -np.ones(k)],
                                   (np.r_[np.arange(k), np.arange(k)], np.r_[nxt + 1, nxt])),
                                  shape=(k, G))
        blocks.append(sparse.hstack([sparse.csr_matrix((k, p)), chain]))
    m = len(ev_rows)
    blocks.append(sparse.hstack([sparse.csr_matrix(-A[ev_rows]),
                                 sparse.csr_matrix((np.ones(m), (np.arange(m), ev_group)),
                                                   shape=(m, G))]))
    A_ub = sparse.vstack(blocks).tocsr()
    # objective: the (unweighted, Breslow) score at 0, sum over events of x_i - mean of the
    # risk set; >= 0 on the cone and 0 only if every risk set is flat along d
    order = np.lexsort((-t, st))
    cs = np.cumsum(A[order], axis=0)
    cnt = np.arange(1, n + 1)
    so, to = st[order], t[order]
    # last position of each (stratum, time) tie block, and the start of each stratum
    last = np.r_[(so[1:] != so[:-1]) | (to[1:] != to[:-1]), True]
    blk_end = np.flatnonzero(last)
    blk_of = np.cumsum(np.r_[True, last[:-1]]) - 1
    end = blk_end[blk_of]                             # position of the tie block's end
    new_st = np.r_[True, so[1:] != so[:-1]]
    st_start = np.maximum.accumulate(np.where(new_st, np.arange(n), 0))
    base = np.where(st_start[:, None] > 0, cs[np.maximum(st_start - 1, 0)], 0.0)
    base_cnt = np.where(st_start > 0, st_start, 0)
    risk_sum = cs[end] - base
    risk_cnt = cnt[end] - base_cnt
    evo = ev[order]
    U0 = (A[order][evo] - risk_sum[evo] / risk_cnt[evo][:, None]).sum(axis=0)
    c = np.r_[U0, np.zeros(G)]
    bounds = [(-1.0, 1.0)] * p + [(None, None)] * G
    z = _solve(c, A_ub, None, bounds)
    size = np.sum(np.abs(A), axis=1)
    tol = np.max(size)
    starts = np.r_[np.flatnonzero(new_st), n]

    def check(z):
        """Events with an x'd above the smallest of their risk set, or 0 if ``z`` is not a
        monotone direction (some event below the largest x'd of its risk set)."""
        if z is None or not np.max(np.abs(z[:p])) > 0:
            return 0
        d = z[:p] / np.max(np.abs(z[:p]))
        eo = (A @ d)[order]
        run = np.empty(n)
        lo = np.empty(n)
        # running max / min within each stratum
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            run[a:b] = np.maximum.accumulate(eo[a:b])
            lo[a:b] = np.minimum.accumulate(eo[a:b])
        # rows sorted by time descending: the running value at the end of an event's tie
        # block is over its whole risk set
        if np.any(eo[evo] < run[end][evo] - _FEAS * tol):
            return 0
        return int(np.sum(evo & (eo - lo[end] > _STRICT * tol)))

    if not check(z):
        return None
    zs = _sparse_direction(c, A_ub, None, p, np.ones(p), float(c @ z) / np.max(np.abs(z[:p])))
    if check(zs):
        z = zs
    d = z[:p] / np.max(np.abs(z[:p]))
    nm, sg = _named(d, names, skip=())
    return Direction(nm, sg, check(z), d / s)


# ----------------------------------------------------------------------------- ordinal
def ordinal_separation(X: np.ndarray, y: np.ndarray, n_levels: int,
                       names: Sequence[str]) -> Direction | None:
    """Separation in a cumulative-link model with outcome codes ``y`` in ``0..K-1``.

    Directions ``(d_beta, d_zeta)``: ``d_zeta`` non-decreasing, ``d_zeta_y - x'd_beta >= 0``
    for ``y < K-1`` and ``d_zeta_{y-1} - x'd_beta <= 0`` for ``y > 0``, strict somewhere.
    ``names`` name the covariates only (thresholds are reported as such).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    n, p = X.shape
    q = n_levels - 1
    if q < 1:
        return None
    s = _scale(X) if p else np.ones(0)
    A = X / s if p else X
    rows = []
    up = y < q
    M = np.zeros((int(up.sum()), p + q))
    M[:, :p] = -A[up]
    M[np.arange(len(M)), p + y[up]] = 1.0
    rows.append(M)
    lo = y > 0
    M = np.zeros((int(lo.sum()), p + q))
    M[:, :p] = A[lo]
    M[np.arange(len(M)), p + y[lo] - 1] = -1.0
    rows.append(M)
    G_data = np.vstack(rows)
    order = np.zeros((max(q - 1, 0), p + q))
    for k in range(1, q):
        order[k - 1, p + k] = 1.0
        order[k - 1, p + k - 1] = -1.0
    Gu = _unique_rows(G_data)
    A_ub = -np.vstack([Gu, order]) if len(order) else -Gu
    c = Gu.sum(axis=0)
    z = _solve(c, A_ub, None, [(-1.0, 1.0)] * (p + q))
    size = np.maximum(np.sum(np.abs(G_data), axis=1), 1e-300)

    def check(z):
        if z is None or not np.max(np.abs(z)) > 0:
            return 0
        z = z / np.max(np.abs(z))
        v = G_data @ z
        if np.any(v < -_FEAS * size) or (len(order) and np.any(order @ z < -_FEAS)):
            return 0
        return int(np.sum(v > _STRICT * size))

    if not check(z):
        return None
    z = z / np.max(np.abs(z))
    if p:
        # the thresholds (last q variables) are auxiliary: not penalised
        zs = _sparse_direction(c, A_ub, None, p, np.ones(p), float(c @ z))
        if zs is not None and check(zs) and np.max(np.abs(zs[:p])) > 0:
            z = zs / np.max(np.abs(zs))
    db = z[:p]
    if p and np.max(np.abs(db)) > _COEF:
        nm, sg = _named(db, names, skip=())
    else:
        nm, sg = ["(thresholds)"], [1]
    return Direction(nm, sg, check(z), np.r_[db / s if p else db, z[p:]])


# ----------------------------------------------------------------------------- multinomial
def multinomial_separation(X: np.ndarray, y: np.ndarray, n_levels: int,
                           names: Sequence[str],
                           skip: Sequence[str] = ()) -> Direction | None:
    """Separation in a baseline-category logit model with outcome codes ``y`` in ``0..K-1``,
    code 0 the reference level.

    The coefficients are ``K-1`` blocks of ``p`` (one per non-reference level, in code order;
    ``names`` name all ``(K-1) p`` of them in that order). A direction ``D`` (``d_0 = 0``) with
    ``x_i'(d_{y_i} - d_j) >= 0`` for every row and every level ``j != y_i``, strict somewhere,
    raises the likelihood without bound (complete or quasi-complete separation; Albert &
    Anderson 1984). ``skip``: names (the intercepts) named only if nothing else moves.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    n, p = X.shape
    K1 = n_levels - 1
    if K1 < 1 or p == 0 or n == 0:
        return None
    blocks = []
    for j in range(n_levels):
        other = y != j
        if not other.any():
            continue
        yo = y[other]
        M = np.zeros((int(other.sum()), K1 * p))
        for k in range(1, n_levels):
            at = yo == k
            if at.any():
                M[at, (k - 1) * p:k * p] += X[other][at]
        if j > 0:
            M[:, (j - 1) * p:j * p] -= X[other]
        blocks.append(M)
    G_ge = np.vstack(blocks)
    return _sign_cone(G_ge, np.zeros((0, K1 * p)), names, skip=tuple(skip))


# ----------------------------------------------------------------------------- iteration path
def diverging(path: Sequence[tuple[float, float]], k: int = 4) -> bool:
    """True when the last ``k`` iterates ran away: ``|beta|`` growing at every step while the
    log-likelihood did not fall (``path`` holds ``(max |beta_j| on the covariates' scale,
    log-likelihood)`` per iteration).

    This classifies a numerically singular information matrix met along the way: on a
    diverging path it is the flattening of a likelihood that keeps rising towards a finite
    limit (separation, possibly only numerically), not collinear covariates.
    """
    if len(path) < k:
        return False
    norms = np.array([a for a, _ in path[-k:]])
    ll = np.array([b for _, b in path[-k:]])
    rising = np.all(np.diff(ll) >= -1e-10 * np.maximum(np.abs(ll[1:]), 1.0))
    return bool(np.all(np.diff(norms) > 0) and rising and norms[-1] > 5)
