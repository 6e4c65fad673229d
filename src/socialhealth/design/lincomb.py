"""Tail probabilities of linear combinations of chi-squared variables (R ``pchisqsum``, ``pFsum``).

A design-based likelihood-ratio (or Rao-Scott) statistic is asymptotically distributed as
``Q = sum_j a_j X_j`` with independent ``X_j ~ chi^2_{df_j}`` and ``a_j`` the eigenvalues of a
design-effect matrix (Rao & Scott 1984). With ``ddf`` finite denominator degrees of freedom
the statistic is compared with ``Q / (chi^2_ddf / ddf)`` instead (an F-like reference).

Methods
-------
``"satterthwaite"``
    Match the first two moments with a scaled chi-squared: with ``a`` repeated ``df_j`` times
    (``k`` values), ``scale = sum a^2 / sum a`` and ``nu = (sum a)^2 / sum a^2``;
    ``P(Q > x) = P(chi^2_nu > x / scale)`` and with ``ddf``:
    ``P(F(nu, ddf) > x / (nu * scale))``.
``"saddlepoint"``
    Lugannani-Rice saddlepoint approximation (Kuonen 1999). With the cumulant generating
    function ``K(z) = -1/2 sum_j h_j log(1 - 2 z l_j)``, solve ``K'(z) = t``; then
    ``w = sign(z) sqrt(2 (z t - K(z)))``, ``v = z sqrt(K''(z))`` and
    ``P(Q > t) ~ 1 - Phi(w + log(v / w) / w)``. Without ``ddf``: ``l = a``, ``h = df``, ``t = x``.
    With ``ddf``: ``P(Q - (x/ddf) chi^2_ddf > 0)``, i.e. ``l = (a, -x/ddf)``,
    ``h = (df, ddf)``, ``t = 0``. When the saddlepoint is within 1e-4 of 0 (``x`` at the
    centre of the distribution, where the formula is 0/0) the Satterthwaite value is used, as R.
``"exact"`` (alias ``"integration"``, R's name)
    The exact probability from Ruben's (1962) representation of ``Q`` (all ``a_j > 0``) as a
    mixture of scaled chi-squares: with ``beta = min a``, ``gamma_j = 1 - beta / a_j``,
    ``m = sum df_j``, ``c_0 = prod_j (beta / a_j)^(df_j / 2)``,
    ``g_k = sum_j (df_j / 2) gamma_j^k`` and ``c_k = (1/k) sum_{r<k} g_{k-r} c_r`` (weights
    summing to 1), ``P(Q > x) = sum_k c_k P(chi^2_{m+2k} > x / beta)``; with ``ddf``,
    ``sum_k c_k P(F(m+2k, ddf) > x / (beta (m+2k)))``. Summed until the neglected weight is
    below 1e-13 (an error bound). R computes the same probability by Davies' (1980) numerical
    inversion (``"integration"``, package CompQuadForm, accuracy 1e-7 by default).

References
----------
Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60.
Ruben H (1962) Probability content of regions under spherical normal distributions, IV: the
distribution of homogeneous and non-homogeneous quadratic functions of normal variables.
*Annals of Mathematical Statistics* 33:542-570.
Davies RB (1980) The distribution of a linear combination of chi-squared random variables.
*Applied Statistics* 29:323-333.
Kuonen D (1999) Saddlepoint approximations for distributions of quadratic forms in normal
variables. *Biometrika* 86:929-935.
Lumley T, Scott AJ (2013) Partial likelihood ratio tests for the Cox model under complex
sampling. *Statistics in Medicine* 32:110-123.
Lumley T, Scott AJ (2014) Tests for regression models fitted to survey data. *Australian &
New Zealand Journal of Statistics* 56:1-14.
"""
from __future__ import annotations

import numpy as np

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth.errors import EstimationError

LINCOM_METHODS = ("saddlepoint", "satterthwaite", "exact", "integration")


def _check(a, df):
    a = np.atleast_1d(np.asarray(a, dtype=float))
    df = np.broadcast_to(np.asarray(df, dtype=float), a.shape).copy()
    if not (np.all(np.isfinite(a)) and np.all(df > 0)):
        raise EstimationError("the chi-squared weights must be finite and their df positive.")
    return a, df


def _satterthwaite(a, df):
    s1 = float(np.sum(df * a))
    s2 = float(np.sum(df * a * a))
    return s2 / s1, s1 * s1 / s2            # scale, nu


def _saddle_upper(t: float, lam: np.ndarray, h: np.ndarray) -> float:
    """Saddlepoint approximation of ``P(sum_j lam_j chi^2_{h_j} > t)``; NaN near the centre."""
    from scipy import optimize, stats

    d = float(np.max(np.abs(lam)))
    lam = lam / d
    t = t / d

    def k(z):
        return -0.5 * float(np.sum(h * np.log1p(-2 * z * lam)))

    def k1(z):
        return float(np.sum(h * lam / (1 - 2 * z * lam)))

    def k2(z):
        return 2.0 * float(np.sum(h * lam**2 / (1 - 2 * z * lam) ** 2))

    pos, neg = lam[lam > 0], lam[lam < 0]
    hi = float(np.min(1 / (2 * pos))) if pos.size else np.inf
    lo = float(np.max(1 / (2 * neg))) if neg.size else -np.inf
    # bracket the root of K'(z) = t (K' increases from its limit at lo to +inf at hi)
    up = hi * (1 - 1e-12) if np.isfinite(hi) else 1.0
    dn = lo * (1 - 1e-12) if np.isfinite(lo) else -1.0
    while not np.isfinite(hi) and k1(up) < t:
        up *= 2
    while not np.isfinite(lo) and k1(dn) > t:
        dn *= 2
    if not (k1(dn) <= t <= k1(up)):
        return np.nan
    z = optimize.brentq(lambda s: k1(s) - t, dn, up, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                        maxiter=500)
    if abs(z) < 1e-4:
        return np.nan
    w = np.sign(z) * np.sqrt(max(2 * (z * t - k(z)), 0.0))
    v = z * np.sqrt(k2(z))
    return float(stats.norm.sf(w + np.log(v / w) / w))


def _ruben_upper(x: float, a: np.ndarray, h: np.ndarray, ddf: float) -> float:
    """``P(sum_j a_j chi^2_{h_j} > x)`` (``a > 0``), or of that sum over ``chi^2_ddf / ddf``,
    by Ruben's mixture series (module docstring), summed until the neglected mixture weight is
    below 1e-13."""
    from scipy import stats

    beta = float(np.min(a))
    gam = 1.0 - beta / a                                  # in [0, 1)
    # the neglected weight falls no faster than max(gam)^k: give up at once when even ten
    # times the term limit could not reach 1e-13 (a nearly singular design-effect matrix)
    if gam.max() > 0 and np.log(1e-13) / np.log(gam.max()) > 10 * _RUBEN_MAX_TERMS:
        raise EstimationError(
            "the exact tail probability needs too many series terms (design effects differ by "
            f"a factor of {float(np.max(a) / beta):.3g}); use approximation='saddlepoint'."
        )
    hh = h / 2.0
    m = float(np.sum(h))
    c = [float(np.exp(np.sum(hh * np.log(beta / a))))]
    g = []
    mass = c[0]
    k = 0
    gk = np.ones_like(gam)
    while 1.0 - mass > 1e-13 and k < _RUBEN_MAX_TERMS:
        k += 1
        gk = gk * gam
        g.append(float(np.sum(hh * gk)))                  # g_k
        ck = float(np.dot(g[::-1], c)) / k                # (1/k) sum_{r<k} g_{k-r} c_r
        c.append(ck)
        mass += ck
    if 1.0 - mass > 1e-9:
        raise EstimationError(
            "the exact tail probability needs too many series terms (design effects differ by "
            f"a factor of {float(np.max(a) / beta):.3g}); use approximation='saddlepoint'."
        )
    coefs = np.array(c)
    dfs = m + 2.0 * np.arange(len(coefs))
    if np.isfinite(ddf):
        tails = stats.f.sf(x / (beta * dfs), dfs, ddf)
    else:
        tails = stats.chi2.sf(x / beta, dfs)
    return float(min(max(np.dot(coefs, tails), 0.0), 1.0))


_RUBEN_MAX_TERMS = 20000


def pchisqsum(x: float, df, a, method: str = "saddlepoint", ddf: float = np.inf) -> float:
    """Upper tail ``P(sum_j a_j chi^2_{df_j} > x)``, or with finite ``ddf`` of that sum divided
    by an independent ``chi^2_ddf / ddf``.

    Parameters
    ----------
    x : float
        The observed statistic (e.g. a working likelihood-ratio statistic).
    df : array_like
        Degrees of freedom of each chi-squared term (1 for each eigenvalue of a design-effect
        matrix).
    a : array_like
        The weights (eigenvalues), all positive in the survey applications.
    method : {"saddlepoint", "satterthwaite", "exact", "integration"}
        See the module docstring (``"exact"`` = ``"integration"``: Ruben's exact series).
    ddf : float, default inf
        Denominator degrees of freedom (R ``pFsum(..., ddf=)``); ``inf`` gives ``pchisqsum``.

    Returns
    -------
    float
        The upper-tail probability.

    Examples
    --------
    >>> from socialhealth.design.lincomb import pchisqsum
    >>> round(pchisqsum(3.0, [1, 1], [1.0, 1.0], method="satterthwaite"), 6)  # chi^2_2; R 0.2231302
    0.22313
    >>> # F(2, 16); R 0.2528896
    >>> round(pchisqsum(3.0, [1, 1], [1.0, 1.0], method="satterthwaite", ddf=16), 6)
    0.25289

    In R: ``pchisqsum(x, df, a, lower.tail = FALSE, method = "saddlepoint")``;
    ``pFsum(x, df, a, ddf = ddf, lower.tail = FALSE)``.
    """
    from scipy import stats

    if not is_choice(method, LINCOM_METHODS):
        raise EstimationError(f"method={show_given(method)} must be one of "
                              f"{', '.join(LINCOM_METHODS)}.")
    a, df = _check(a, df)
    x = float(x)
    scale, nu = _satterthwaite(a, df)
    finite = np.isfinite(ddf)
    if finite and not ddf > 0:
        raise EstimationError(f"ddf={show_given(ddf)} must be positive (or inf).")
    if finite:
        sat = float(stats.f.sf(x / (nu * scale), nu, ddf))
    else:
        sat = float(stats.chi2.sf(x / scale, nu))
    if method == "satterthwaite" or x <= 0:
        return sat
    if method in ("exact", "integration"):
        if not np.all(a > 0):
            raise EstimationError("the exact method needs positive weights (design effects).")
        return _ruben_upper(x, a, df, ddf)
    if finite:
        p = _saddle_upper(0.0, np.append(a, -x / ddf), np.append(df, float(ddf)))
    else:
        p = _saddle_upper(x, a, df)
    return sat if np.isnan(p) else p
