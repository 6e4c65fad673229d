"""Plug-in bandwidths for the Gaussian-kernel smoothers (R ``KernSmooth::dpik`` / ``dpill``).

Both are deterministic closed forms computed on linearly binned data, written here from the
published formulas; the conventions that decide the last digits follow KernSmooth 2.23 (which
R ``survey::svysmooth`` calls), so the bandwidths agree with R to rounding.

Linear binning (Wand & Jones 1995, appendix D)
    On ``M`` equally spaced grid points ``g_1 < ... < g_M`` (spacing ``delta``), a value ``x``
    with ``l = (x - g_1) / delta + 1``, ``i = floor(l)`` and ``r = l - i`` gives weight ``1 - r``
    to ``g_i`` and ``r`` to ``g_{i+1}``; values outside ``[g_1, g_M)`` are dropped
    ("truncate"). The regression binning (``y`` with it) sends ``x = g_M`` to ``g_M``; the
    density binning drops it when ``l`` rounds to exactly ``M`` (as KernSmooth does).

Binned kernel functional ``psi_r`` (Wand & Jones 1995, section 3.5)
    ``psi_r(g) = n^-2 sum_j sum_k c_j c_k K_g^(r)((k - j) delta)``, ``c`` the bin counts,
    ``n = sum c``, ``K^(r)`` the ``r``-th derivative of the normal density
    (``He_r(t) phi(t) / g^(r+1)`` at ``t = u / g``, ``He`` the Hermite polynomials), summed over
    ``|k - j| <= min(floor((4 + r) g / delta), M)``.

``dpik`` (Sheather & Jones 1991; Wand & Jones 1995, section 3.6, two-stage direct plug-in)
    ``s = min(sd, IQR / 1.349)`` (``quantile`` type 7); the data are standardised
    ``(x - mean) / s`` and binned on ``M`` points over the standardised range. Then
    ``g6 = (2 sqrt(2)^9 / (7 n))^(1/9)``, ``psi6 = psi_6(g6)``,
    ``g4 = (-3 sqrt(2 / pi) / (psi6 n))^(1/7)``, ``psi4 = psi_4(g4)`` and
    ``h = s (4 pi)^(-1/10) (psi4 n)^(-1/5)``.

Binned local polynomial fit of degree ``p`` (Wand & Jones 1995, section 5.4)
    At grid point ``j``, with ``u = (k - j) delta`` and ``K_k = exp(-u^2 / (2 h^2))`` for
    ``|k - j| <= L = floor(4 h / delta)``: ``S_m = sum_k K_k u^m c_k`` (``m = 0..2p``),
    ``T_m = sum_k K_k u^m d_k`` (``d`` the binned ``y``); ``beta = S^-1 T`` (``S`` the Hankel
    matrix of the ``S_m``) and the ``r``-th derivative is ``r! beta_r``. The smoother matrix's
    diagonal is ``(S^-1)_{11}`` and that of ``S S^T`` is ``e_1' S^-1 U S^-1 e_1`` (``U`` as
    ``S`` with ``K^2``).

``dpill`` (Ruppert, Sheather & Wand 1995, JASA 90:1257-1270, direct plug-in)
    The pairs sorted by ``x`` (ties in the original order), the lowest and highest
    ``floor(trim n)`` dropped; ``[a, b]`` is the range of those left (``n`` of them), binned on
    ``M`` points. Blocked quartic fits: ``N`` consecutive blocks of ``floor(n / N)`` pairs (the
    last takes the rest), ``N = 1..Nmax``, ``Nmax = max(min(floor(n / divisor), blockmax), 1)``;
    ``N`` minimises Mallows' ``Cp(N) = (n - 5 Nmax) RSS(N) / RSS(Nmax) + 10 N - n`` (the first
    on ties). From the ``N``-block fits ``sigma^2 = RSS / (n - 5 N)``,
    ``theta24 = mean(m'' m'''')``. The pilot
    ``g = (k sigma^2 (b - a) / (|theta24| n))^(1/7)`` with ``k = 3 / (8 sqrt(pi))`` if
    ``theta24 < 0``, ``15 / (16 sqrt(pi))`` if positive, gives ``m''`` by binned local cubic fits
    and ``theta22 = sum c_j m''(g_j)^2 / n`` over the grid points ``j`` not among the
    ``floor(proptrun M)`` at either end. With
    ``C = (4 (1/2 + 2 sqrt(2) - 4 sqrt(3) / 3) / sqrt(2 pi))^(1/9)`` the pilot
    ``lambda = C (sigma^4 (b - a) / (theta22 n)^2)^(1/9)`` gives a local-linear fit ``m`` and
    ``sigma_hat^2 = (sum y^2 - 2 sum m_j d_j + sum m_j^2 c_j) /
    (n - 2 sum c_j diag(S)_j + sum c_j diag(S S^T)_j)``, and finally
    ``h = (sigma_hat^2 (b - a) / (2 sqrt(pi) theta22 n))^(1/5)``.

Where a formula is undefined on the data (a zero scale, fewer rows than the fits need, a
local fit with too few distinct grid points in its window, a negative functional) KernSmooth
returns NaN or rounding noise; these functions raise :class:`BandwidthError` saying why.
"""
from __future__ import annotations

import math

import numpy as np


class BandwidthError(ValueError):
    """The plug-in bandwidth is undefined on these data (the message says why)."""


# --------------------------------------------------------------------------- binning
def _grid_positions(x: np.ndarray, lo: float, hi: float, m: int):
    delta = (hi - lo) / (m - 1)
    pos = (x - lo) / delta + 1.0        # 1-based position on the grid
    left = np.trunc(pos)
    return left.astype(np.int64), pos - left


def linear_bin(x: np.ndarray, lo: float, hi: float, m: int) -> np.ndarray:
    """Linear-binning counts of ``x`` on ``m`` points over ``[lo, hi]`` (truncated)."""
    left, rem = _grid_positions(x, lo, hi, m)
    keep = (left >= 1) & (left < m)
    counts = np.bincount(left[keep] - 1, weights=1.0 - rem[keep], minlength=m)
    counts += np.bincount(left[keep], weights=rem[keep], minlength=m + 1)[:m]
    return counts


def linear_bin_xy(x: np.ndarray, y: np.ndarray, lo: float, hi: float, m: int):
    """Linear-binning counts of ``x`` and of ``y`` (regression binning, ``x = hi`` kept)."""
    left, rem = _grid_positions(x, lo, hi, m)
    at_end = x == hi
    left[at_end] = m - 1
    rem[at_end] = 1.0
    keep = (left >= 1) & (left < m)
    i, r, yy = left[keep] - 1, rem[keep], y[keep]
    xc = np.bincount(i, weights=1.0 - r, minlength=m) + np.bincount(i + 1, weights=r,
                                                                    minlength=m + 1)[:m]
    yc = (np.bincount(i, weights=(1.0 - r) * yy, minlength=m)
          + np.bincount(i + 1, weights=r * yy, minlength=m + 1)[:m])
    return xc, yc


# --------------------------------------------------------------------------- functionals
def _hermite(t: np.ndarray, r: int) -> np.ndarray:
    """Probabilists' Hermite polynomial ``He_r(t)``."""
    prev, cur = np.ones_like(t), t.copy()
    if r == 0:
        return prev
    for k in range(2, r + 1):
        prev, cur = cur, t * cur - (k - 1) * prev
    return cur


def binned_psi(counts: np.ndarray, r: int, g: float, lo: float, hi: float) -> float:
    """The binned kernel functional ``psi_r(g)`` (module notes)."""
    m = len(counts)
    delta = (hi - lo) / (m - 1)
    half = min(int(math.floor((4 + r) * g / delta)), m)
    t = np.arange(half + 1) * delta / g
    kern = _hermite(t, r) * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi) / g ** (r + 1)
    lagged = np.correlate(counts, counts, mode="full")[m - 1:]    # sum_j c_j c_{j+l}
    lagged = np.r_[lagged, np.zeros(max(0, half + 1 - m))][:half + 1]
    n = counts.sum()
    return float((kern[0] * lagged[0] + 2 * np.dot(kern[1:], lagged[1:])) / n ** 2)


# --------------------------------------------------------------------------- local polynomials
_LOOP_OFFSETS = 4096   # kernel offsets up to which the moments are summed offset by offset


def window_sums(a: np.ndarray, kernel: np.ndarray, start: int, size: int) -> np.ndarray:
    """``out[j] = sum_i kernel[i] a[start + j + i - R]`` for ``j < size`` (``R`` = half the
    kernel's length; bins outside ``a`` count 0): the binned kernel sums at grid points
    ``start .. start + size - 1`` as one correlation.

    Examples
    --------
    >>> import numpy as np
    >>> window_sums(np.array([1.0, 2.0, 3.0]), np.array([1.0, 10.0, 100.0]), 0, 3).tolist()
    [210.0, 321.0, 32.0]
    """
    half = (len(kernel) - 1) // 2
    padded = np.zeros(size + 2 * half)
    first = start - half                  # the bin at padded[0]
    lo, hi = max(first, 0), min(first + len(padded), len(a))
    if hi > lo:
        padded[lo - first:hi - first] = a[lo:hi]
    return np.correlate(padded, kernel, mode="valid")


def _moments(xcounts: np.ndarray, ycounts: np.ndarray | None, delta: float, h: float,
             degree: int, squared: bool = False, start: int = 0, size: int | None = None):
    """Kernel moments at every grid point, in units ``v = u / h``; also the occupied-bin count.

    ``start``, ``size``: the moments at grid points ``start .. start + size - 1`` only (default
    all), still summing over every bin within the kernel's reach (bins outside them too)."""
    m = len(xcounts)
    size = m - start if size is None else size
    L = int(math.floor(4 * h / delta))
    s = np.zeros((size, 2 * degree + 1))
    t = np.zeros((size, degree + 1))
    uu = np.zeros((size, 2 * degree + 1)) if squared else None
    occupied = np.zeros(size)
    filled = (xcounts != 0).astype(float)
    reach = min(L, max(start + size - 1, m - 1 - start))   # offsets that can meet a bin
    if 2 * reach + 1 > _LOOP_OFFSETS:
        # many offsets (a window much narrower than the kernel): the same sums, each series
        # as one correlation in compiled code instead of a Python loop over the offsets
        vs = np.arange(-reach, reach + 1) * delta / h
        kerns = np.exp(-0.5 * vs * vs)
        for r in range(2 * degree + 1):
            s[:, r] = window_sums(xcounts, kerns * vs ** r, start, size)
            if ycounts is not None and r <= degree:
                t[:, r] = window_sums(ycounts, kerns * vs ** r, start, size)
            if uu is not None:
                uu[:, r] = window_sums(xcounts, kerns * kerns * vs ** r, start, size)
        occupied = np.rint(window_sums(filled, np.ones(2 * reach + 1), start, size))
        return s, t, uu, occupied, min(L, m - 1)
    # offsets reaching a bin from some grid point of the window (start = 0, size = m: -half ..
    # half with half = min(L, m - 1))
    for off in range(-min(L, start + size - 1), min(L, m - 1 - start) + 1):
        v = off * delta / h
        kern = math.exp(-0.5 * v * v)
        j0, j1 = max(0, -(start + off)), min(size, m - start - off)
        k0, k1 = start + off + j0, start + off + j1
        ck = xcounts[k0:k1]
        occupied[j0:j1] += filled[k0:k1]
        powers = v ** np.arange(2 * degree + 1)
        s[j0:j1] += np.outer(kern * ck, powers)
        if ycounts is not None:
            t[j0:j1] += np.outer(kern * ycounts[k0:k1], powers[:degree + 1])
        if uu is not None:
            uu[j0:j1] += np.outer(kern * kern * ck, powers)
    return s, t, uu, occupied, min(L, m - 1)


def _hankel(s: np.ndarray, degree: int) -> np.ndarray:
    p = degree + 1
    idx = np.arange(p)[:, None] + np.arange(p)[None, :]
    return s[:, idx]


def local_poly(xcounts: np.ndarray, ycounts: np.ndarray, lo: float, hi: float, h: float,
               degree: int = 1, drv: int = 0, need: np.ndarray | None = None,
               start: int = 0, size: int | None = None) -> np.ndarray:
    """Binned local-polynomial estimate of the ``drv``-th derivative at the grid points.

    ``need``: grid points where the fit must be defined (default all); a :class:`BandwidthError`
    if one of them has fewer than ``degree + 1`` occupied bins in its kernel window.
    ``start``, ``size``: the estimate at grid points ``start .. start + size - 1`` only (the
    bins beyond them count where the kernel reaches them; ``need`` then has ``size`` entries).
    """
    m = len(xcounts)
    delta = (hi - lo) / (m - 1)
    if math.floor(4 * h / delta) < 1:
        raise BandwidthError(f"a pilot bandwidth ({h:.3g}) is below the grid spacing")
    s, t, _, occupied, _ = _moments(xcounts, ycounts, delta, h, degree, start=start, size=size)
    _check_defined(occupied, degree, need)
    ok = occupied >= degree + 1
    beta = np.full((len(occupied), degree + 1), np.nan)
    beta[ok] = np.linalg.solve(_hankel(s[ok], degree), t[ok][:, :, None])[:, :, 0]
    return math.factorial(drv) * beta[:, drv] / h ** drv


def _check_defined(occupied: np.ndarray, degree: int, need: np.ndarray | None) -> None:
    bad = occupied < degree + 1
    if need is not None:
        bad &= need
    if bad.any():
        what = "line" if degree == 1 else "cubic"
        raise BandwidthError(f"the data have a gap wider than the pilot kernel's reach, so a "
                             f"local {what} cannot be fitted at every point")


def smoother_diagonals(xcounts: np.ndarray, lo: float, hi: float, h: float):
    """Diagonals of the binned local-linear smoother matrix ``S`` and of ``S S^T``."""
    m = len(xcounts)
    delta = (hi - lo) / (m - 1)
    if math.floor(4 * h / delta) < 1:
        raise BandwidthError(f"a pilot bandwidth ({h:.3g}) is below the grid spacing")
    s, _, uu, occupied, _ = _moments(xcounts, None, delta, h, 1, squared=True)
    _check_defined(occupied, 1, None)
    inv = np.linalg.inv(_hankel(s, 1))
    first = inv[:, 0, :]
    sst = np.einsum("ki,kij,kj->k", first, _hankel(uu, 1), first)
    return inv[:, 0, 0], sst


# --------------------------------------------------------------------------- dpik
def _r_mean(x: np.ndarray) -> float:
    """Mean as R computes it (extended-precision sum, one refinement pass)."""
    xl = x.astype(np.longdouble)
    s = xl.sum() / len(x)
    s = s + (xl - s).sum() / len(x)
    return float(s)


def dpik(x: np.ndarray, gridsize: int = 401) -> float:
    """Sheather-Jones direct plug-in bandwidth for a normal-kernel density estimate.

    ``KernSmooth::dpik(x, gridsize = gridsize)`` (``scalest = "minim"``, ``level = 2``,
    truncated linear binning); formulas in the module notes.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(size=200)
    >>> 0.2 < dpik(x) < 0.5
    True
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2:
        raise BandwidthError("fewer than two values")
    q1, q3 = np.quantile(x, [0.25, 0.75])
    sd = float(np.std(x, ddof=1))
    scale = float(min((q3 - q1) / 1.349, sd))
    if not scale > 0:
        raise BandwidthError("the spread of the values (the smaller of the standard deviation "
                             "and the interquartile range / 1.349) is zero")
    centre = _r_mean(x)
    sx = (x - centre) / scale
    sa, sb = (float(np.min(x)) - centre) / scale, (float(np.max(x)) - centre) / scale
    counts = linear_bin(sx, sa, sb, gridsize)
    g6 = (2 * math.sqrt(2) ** 9 / (7 * n)) ** (1 / 9)
    psi6 = binned_psi(counts, 6, g6, sa, sb)
    if not psi6 < 0:
        raise BandwidthError("the estimated sixth-derivative functional is not negative")
    g4 = (-3 * math.sqrt(2 / math.pi) / (psi6 * n)) ** (1 / 7)
    psi4 = binned_psi(counts, 4, g4, sa, sb)
    if not psi4 > 0:
        raise BandwidthError("the estimated fourth-derivative functional is not positive")
    return float(scale / (4 * math.pi) ** 0.1 * (1 / (psi4 * n)) ** 0.2)


# --------------------------------------------------------------------------- dpill
def _block_fits(x: np.ndarray, y: np.ndarray, blocks: int):
    """Quartic least-squares fits on ``blocks`` consecutive blocks of the sorted pairs.

    Returns ``(rss, m2, m4)``: the residual sum of squares and the fitted second and fourth
    derivatives at every ``x`` (NaN in a block with fewer than 5 distinct ``x``).
    """
    n = len(x)
    size = n // blocks
    rss = 0.0
    m2, m4 = np.empty(n), np.empty(n)
    for j in range(blocks):
        lo, hi = j * size, (n if j == blocks - 1 else (j + 1) * size)
        xb, yb = x[lo:hi], y[lo:hi]
        if len(np.unique(xb)) < 5:
            m2[lo:hi] = m4[lo:hi] = np.nan
            rss = math.nan
            continue
        centre, half = (xb[0] + xb[-1]) / 2, (xb[-1] - xb[0]) / 2
        t = (xb - centre) / half
        coef, *_ = np.linalg.lstsq(np.vander(t, 5, increasing=True), yb, rcond=None)
        poly = np.polynomial.Polynomial(coef)
        rss += float(np.sum((yb - poly(t)) ** 2))
        m2[lo:hi] = poly.deriv(2)(t) / half ** 2
        m4[lo:hi] = poly.deriv(4)(t) / half ** 4
    return rss, m2, m4


def _block_rss(x: np.ndarray, y: np.ndarray, blocks: int) -> float:
    """Residual sum of squares of the blocked quartic fits (defined with ties too)."""
    n = len(x)
    size = n // blocks
    rss = 0.0
    for j in range(blocks):
        lo, hi = j * size, (n if j == blocks - 1 else (j + 1) * size)
        xb, yb = x[lo:hi], y[lo:hi]
        half = (xb[-1] - xb[0]) / 2
        t = (xb - (xb[0] + xb[-1]) / 2) / (half if half > 0 else 1.0)
        design = np.vander(t, 5, increasing=True)
        coef, *_ = np.linalg.lstsq(design, yb, rcond=None)
        rss += float(np.sum((yb - design @ coef) ** 2))
    return rss


def dpill(x: np.ndarray, y: np.ndarray, gridsize: int = 401, *, blockmax: int = 5,
          divisor: int = 20, trim: float = 0.01, proptrun: float = 0.05) -> float:
    """Ruppert-Sheather-Wand direct plug-in bandwidth for local-linear regression.

    ``KernSmooth::dpill(x, y, gridsize = gridsize)`` with its defaults (``blockmax = 5``,
    ``divisor = 20``, ``trim = 0.01``, ``proptrun = 0.05``, truncated binning over the range of
    the trimmed ``x``); formulas in the module notes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> x = rng.uniform(0, 1, 300)
    >>> h = dpill(x, np.sin(6 * x) + rng.normal(0, 0.2, 300))
    >>> 0.01 < h < 0.2
    True
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    drop = int(math.floor(trim * len(x)))
    x, y = x[drop:len(x) - drop], y[drop:len(y) - drop]
    n = len(x)
    if n < 6:
        raise BandwidthError(f"{n} pair(s) left after trimming; the blocked quartic fits "
                             "need at least 6")
    a, b = float(x[0]), float(x[-1])
    if not b > a:
        raise BandwidthError("the values of x left after trimming the lowest and highest 1% "
                             "are all equal")
    m = gridsize
    xcounts, ycounts = linear_bin_xy(x, y, a, b, m)

    nmax = max(min(n // divisor, blockmax), 1)
    rss = [_block_rss(x, y, k) for k in range(1, nmax + 1)]
    if not rss[-1] > 0:
        raise BandwidthError("the blocked quartic fits leave no residual variation")
    cp = [(n - 5 * nmax) * r / rss[-1] + 10 * k - n for k, r in enumerate(rss, start=1)]
    blocks = int(np.argmin(cp)) + 1
    rss_n, m2, m4 = _block_fits(x, y, blocks)
    if not np.isfinite(rss_n):
        raise BandwidthError("a block of the quartic fits has fewer than 5 distinct values "
                             "of x (too many ties)")
    sigma2 = rss_n / (n - 5 * blocks)
    theta24 = float(np.mean(m2 * m4))
    if theta24 == 0 or not sigma2 > 0:
        raise BandwidthError("the blocked quartic fits give no curvature to estimate")
    ratio = sigma2 * (b - a) / (abs(theta24) * n)
    k = 3 / (8 * math.sqrt(math.pi)) if theta24 < 0 else 15 / (16 * math.sqrt(math.pi))
    pilot_g = (k * ratio) ** (1 / 7)

    low, high = int(math.floor(proptrun * m)), m - int(math.floor(proptrun * m))
    need = np.zeros(m, bool)
    need[low:high] = True
    curv = local_poly(xcounts, ycounts, a, b, pilot_g, degree=3, drv=2, need=need)
    theta22 = float(np.sum(curv[low:high] ** 2 * xcounts[low:high]) / n)
    if not theta22 > 0:
        raise BandwidthError("the estimated curvature of the regression is zero")
    c3k = 0.5 + 2 * math.sqrt(2) - 4 / 3 * math.sqrt(3)
    c3k = (4 * c3k / math.sqrt(2 * math.pi)) ** (1 / 9)
    pilot_l = c3k * (sigma2 ** 2 * (b - a) / (theta22 * n) ** 2) ** (1 / 9)
    fit = local_poly(xcounts, ycounts, a, b, pilot_l, degree=1, drv=0)
    sdiag, sstdiag = smoother_diagonals(xcounts, a, b, pilot_l)
    num = float(np.sum(y ** 2) - 2 * np.sum(fit * ycounts) + np.sum(fit ** 2 * xcounts))
    den = float(n - 2 * np.sum(sdiag * xcounts) + np.sum(sstdiag * xcounts))
    s2 = num / den
    if not s2 > 0:
        raise BandwidthError("the estimated residual variance is not positive")
    return float((s2 * (b - a) / (2 * math.sqrt(math.pi) * theta22 * n)) ** 0.2)
