"""Replicate weights built from a Taylor design (R ``as.svrepdesign``).

:func:`as_replicate` turns a :class:`~socialhealth.design.SurveyDesign` into a
:class:`~socialhealth.design.ReplicateDesign` whose replicate weights resample the first-stage
units (PSUs). Every method perturbs the current analysis weights ``w_i`` (so calibrated or
subset designs keep their weights) by a multiplier that depends only on the PSU of row ``i``:

========== ======================================================= =================================
method     replicate r: multiplier of the rows of PSU ``j``         variance scale / rscales
========== ======================================================= =================================
jk1        0 if ``j`` is PSU r, else ``n/(n-1)``                    scale ``(n-1)/n (1-f)``
jkn        in PSU r's stratum h: 0 for PSU r, ``n_h/(n_h-1)`` for   scale 1, rscales
           the others; other strata 1                               ``(n_h-1)/n_h (1-f_h)``
brr        ``1 + a_rh`` / ``1 - a_rh``, ``a_rh = +-1`` from a         scale ``1/R``
           Hadamard matrix (first / second PSU of stratum h)
fay        ``1 + (1-rho) a_rh`` / ``1 - (1-rho) a_rh``                scale ``1/(R (1-rho)^2)``
bootstrap  Rao-Wu rescaled bootstrap with ``m_h = n_h - 1`` draws    scale ``1/(R-1)``
subbootstrap same as R's ``subbootstrap`` (``m_h = n_h - 1``, no fpc)  scale ``1/(R-1)``
mrbbootstrap Preston's multistage rescaled bootstrap: every stage,     scale 1, rscales ``1/(R-1)``
           half of each stratum's units without replacement (below)
========== ======================================================= =================================

``mrbbootstrap`` (Preston 2009; R ``type = "mrbbootstrap"``) resamples every stage, not only
the first: in each replicate and in each stratum of each stage, ``n* = floor(n/2)`` of the
stratum's ``n`` sampled units are drawn without replacement, at stage ``s > 1`` only inside the
units drawn at the stages above. A row's replicate weight is ``w (1 + sum_s t_s)`` with
``t_s = A_s lambda_s (-1 + (n/n*) d_s)``, ``lambda_s = sqrt(F_s n* (1 - f_s) / (n - n*))``,
where ``d_s`` is 1 if the row's stage-``s`` unit was drawn, ``f_s = n/N`` the stratum's sampling
fraction, ``F_s`` the product of the row's sampling fractions at the earlier stages (1 at stage
1), and ``A_s`` the product of ``sqrt(n/n*) d`` over the earlier stages. It needs the fpc of
every stage; without a first-stage fpc only the first stage is resampled, with ``f = 0``
(a warning when there are later stages, as R).

The replicate design keeps the method it was made with (``design.method`` and the first line
of its description say ``subbootstrap`` or ``mrbbootstrap``, not ``bootstrap``), as R keeps
``as.svrepdesign``'s ``type``; a :class:`~socialhealth.design.ReplicateDesign` given
``method="subbootstrap"`` or ``"mrbbootstrap"`` takes the same scale and rscales.

Replicate order and Hadamard matrix follow R ``survey`` 4.1-1: jackknife replicates go stratum
by stratum in order of first appearance in the data, PSUs in order of first appearance; BRR
uses the columns of the Hadamard matrix as replicates and its rows 2..H+1 for the strata in
R's order (sorted by their labels as text, so stratum 10 comes before 2), the PSU that
appears first in the data taking the ``+1`` half. The Hadamard matrices are R's (see
:func:`hadamard`) for every order but 28 and its doublings (56, 112, ...), where R stores a
matrix from Sloane's library of Hadamard matrices (R's ``?hadamard``); ours (Paley II) is
equally balanced: totals and other linear statistics agree with R exactly, nonlinear ones
(means, ratios) only approximately. Pass R's matrix as
``hadamard=`` to match R there (see :func:`hadamard`).

Only the first sampling stage is resampled (later stages are captured by the PSU totals, as
in R). A Taylor design's calibrations (post-stratification, raking, GREG) are by default not
re-applied to each replicate: like R's ``as.svrepdesign`` (survey 4.1-1) the replicates perturb
the calibrated weights. ``recalibrate=True`` calibrates every replicate (the same as
``d.to_replicate("jk1").post_stratify(...)``, R's ``postStratify`` on an ``svrep.design``).

References
----------
Wolter KM (2007) *Introduction to Variance Estimation*, 2nd ed., Springer, ch. 3-5.
Rao JNK, Wu CFJ (1988) Resampling inference with complex survey data. JASA 83:231-241.
Fay RE (1989) Theory and application of replicate weighting for variance calculations.
Proc. Survey Research Methods Section, ASA, 212-217.
Judkins DR (1990) Fay's method for variance estimation. J Off Stat 6:223-239.
Lumley T (2010) *Complex Surveys*, Wiley, §2.5.
Preston J (2009) Rescaled bootstrap for stratified multistage sampling. Survey Methodology
35(2):227-234.
Kimura H (1994) Classification of Hadamard matrices of order 28. Discrete Math 133:171-180.
Spence E (1995) Classification of Hadamard matrices of order 24 and 28. Discrete Math
140:185-243.
"""
from __future__ import annotations

from typing import Literal, cast

import copy
import warnings

import numpy as np

from socialhealth._stack import user_stacklevel
from socialhealth._text import r_number, show, show_given
from socialhealth.errors import (
    DesignError,
    RDifferenceWarning,
    ReplicateWeightsError,
    SocialHealthWarning,
)

__all__ = ["as_replicate", "check_hadamard", "hadamard"]

METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "mrbbootstrap")
ReplicateMethod = Literal["jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap",
                          "mrbbootstrap"]


# ============================================================================ Hadamard matrices
def _is_prime(q: int) -> bool:
    if q < 2:
        return False
    if q % 2 == 0:
        return q == 2
    k = 3
    while k * k <= q:
        if q % k == 0:
            return False
        k += 2
    return True


def _jacobsthal(q: int) -> np.ndarray:
    """Jacobsthal matrix Q[i, j] = chi(j - i) over GF(q), q an odd prime."""
    squares = np.zeros(q, dtype=int)
    squares[(np.arange(1, q) ** 2) % q] = 1
    chi = np.where(squares == 1, 1, -1)
    chi[0] = 0
    idx = (np.arange(q)[None, :] - np.arange(q)[:, None]) % q
    return chi[idx]


def _paley1(q: int) -> np.ndarray:
    """Paley construction I, order q + 1 (q prime, q = 3 mod 4), in back-circulant form.

    ``H[0, :] = H[:, 0] = 1`` and ``H[1 + r, 1 + j] = +1`` when ``(r + j) mod q`` is a quadratic
    non-residue, ``-1`` otherwise (residue or 0). This is the form R's ``hadamard()`` returns.
    """
    residue = np.zeros(q, dtype=bool)
    residue[(np.arange(1, q) ** 2) % q] = True
    nonres = ~residue
    nonres[0] = False
    idx = (np.arange(q)[:, None] + np.arange(q)[None, :]) % q
    H = np.ones((q + 1, q + 1), dtype=int)
    H[1:, 1:] = np.where(nonres[idx], 1, -1)
    return H


def _paley2(q: int) -> np.ndarray:
    """Paley construction II, order 2(q + 1) (q prime, q = 1 mod 4)."""
    Q = _jacobsthal(q)
    n = q + 1
    C = np.zeros((n, n), dtype=int)
    C[0, 1:] = 1
    C[1:, 0] = 1
    C[1:, 1:] = Q
    A = np.array([[1, -1], [-1, -1]])
    B = np.array([[1, 1], [1, -1]])
    H = np.kron(C, A) + np.kron(np.eye(n, dtype=int), B)
    # normalise: first row and column all +1
    H = H * H[0, :][None, :]
    H = H * H[:, 0][:, None]
    return H


def _legendre(a: int, p: int) -> int:
    """Legendre symbol (a/p) for an odd prime p: 0, 1 or -1."""
    a %= p
    if a == 0:
        return 0
    return 1 if pow(a, (p - 1) // 2, p) == 1 else -1


def _twin_prime(p: int) -> np.ndarray:
    """Twin-prime construction, order p(p+2) + 1 (p and p+2 odd primes).

    Stanton & Sprott (1958): the set of ``g`` in Z_{p(p+2)} with ``chi_p(g) chi_{p+2}(g) = 1``
    together with the multiples of ``p+2`` is a cyclic Hadamard difference set; its +-1
    sequence ``s`` (here negated and reflected, ``s(g) = -d(-g)``, which is the Plackett-Burman
    (1946) generator for 36 runs) fills the back-circulant core ``H[1+i, j] = s(i + j)``,
    bordered by a first row of +1 and a last column of -1 below its first entry. For p = 5
    this is R's ``hadamard()`` matrix of order 36.
    """
    v = p * (p + 2)
    s = np.empty(v, dtype=int)
    for g in range(v):
        if g % (p + 2) == 0:
            s[g] = -1
        elif g % p == 0:
            s[g] = 1
        else:
            s[g] = _legendre(g, p) * _legendre(g, p + 2)
    idx = (np.arange(v)[:, None] + np.arange(v)[None, :]) % v
    H = np.ones((v + 1, v + 1), dtype=int)
    H[1:, :v] = s[idx]
    H[1:, v] = -1
    return H


_STORED = (4, 16, 28, 36)       # R's stored base orders
_R_PRIME_LIMIT = 7919           # R's table of Paley primes (p = 3 mod 4) stops here


def _double(H: np.ndarray, order: int) -> np.ndarray:
    while H.shape[0] < order:
        H = np.block([[H, H], [H, -H]])
    return H


def _stored(order: int) -> np.ndarray:
    """R's stored base matrices, by construction: Sylvester 4 and 16, the twin-prime matrix for
    36; for 28 Paley II (q = 13), which is *not* R's stored matrix (see :func:`hadamard`)."""
    if order in (4, 16):
        return _double(np.array([[1, 1], [1, -1]]), order)
    if order == 36:
        return _twin_prime(5)
    return _paley2(13)


def _paley_choice(n: int, nmax: int) -> np.ndarray | None:
    """A Paley-based matrix of order > n as R's ``hadamard()`` looks for one, or None.

    When the next multiple of 4 above n (``c``) is divisible by 8 and ``c / 2^k = 4 x odd``
    is ``p + 1`` (p prime = 3 mod 4), Paley I of order p + 1 doubled up to c. Otherwise Paley
    I for the smallest prime ``p >= n``, p = 3 mod 4, if ``p + 1 <= c + 4``; else the search
    moves to ``c + 3``; None when ``p > nmax``.
    """
    c = n + 4 - n % 4
    if n % 8 >= 4:
        m = c
        while m % 8 == 0:
            m //= 2
        if _is_prime(m - 1) and (m - 1) % 4 == 3 and m - 1 <= _R_PRIME_LIMIT:
            return _double(_paley1(m - 1), c)
    if n > _R_PRIME_LIMIT:
        return None
    p = n
    while not (_is_prime(p) and p % 4 == 3):
        p += 1
    if p > _R_PRIME_LIMIT:
        return None
    if p + 1 > c + 4 and c + 4 < nmax:
        return _paley_choice(c + 3, 2 * (c + 3))
    if p > nmax:
        return None
    return _paley1(p)


def _construct(n_strata: int) -> np.ndarray:
    """The Hadamard matrix R's ``hadamard(n_strata)`` chooses (see :func:`hadamard`)."""
    return _construct_with_base(n_strata)[0]


def _construct_with_base(n_strata: int) -> tuple[np.ndarray, int | None]:
    """:func:`_construct` and the stored base order it doubles (None: a Paley matrix)."""
    n = int(n_strata)
    m = n - n % 4
    for order in _STORED:
        if m < order <= m + 4:
            return _stored(order), order
    sizes = [b * 2 ** max(0, int(np.ceil(np.log2((n + 1) / b)))) for b in _STORED]
    best = int(np.argmin(sizes))
    if sizes[best] - n > 4:
        H = _paley_choice(n, sizes[best])
        if H is not None:
            return H, None
    return _double(_stored(_STORED[best]), sizes[best]), _STORED[best]


def differs_from_r(n_strata: int) -> bool:
    """Whether :func:`hadamard` for ``n_strata`` strata is built on the order-28 base, where
    R's default matrix differs from ours (24-27, 48-55, 108-111, 220-223, ... strata).

    Examples
    --------
    >>> differs_from_r(26), differs_from_r(23), differs_from_r(50), differs_from_r(80)
    (True, False, True, False)
    """
    return _construct_with_base(max(int(n_strata), 0))[1] == 28


def hadamard(n_strata: int) -> np.ndarray:
    """A Hadamard matrix (entries +-1, ``H H' = nI``) for BRR, in R's orders and (but for 28
    and 56) equal to R's ``hadamard()``.

    The choice of matrix follows R's ``hadamard(n)``: a stored base (Sylvester 4 and 16,
    order 28, order 36) when it is the next multiple of 4 above ``n``; otherwise the smallest
    doubling ``[[H, H], [H, -H]]`` of a base of order above ``n``, unless that overshoots by
    more than 4 and a Paley I matrix (order q + 1, q prime = 3 mod 4, possibly doubled) fits
    first (see ``_paley_choice``). Rows 2..H+1 then give a fully balanced set of half-samples
    (Wolter 2007, §3.3). Order 36 is the twin-prime difference-set matrix (Stanton & Sprott
    1958; the Plackett-Burman 36-run design), equal to R's. R's order-28 matrix is stored
    data taken from Sloane's library of Hadamard matrices (R's ``?hadamard``), and it is not
    equivalent (under row/column permutations and negations) to any order-28 matrix with a
    published construction tried here -- the Plackett-Burman (1946) 28-run design (equivalent
    to Paley I over GF(27)), Paley II (q = 13) or Williamson's -- since its 4-row profile (the
    counts of ``|sum_j h_aj h_bj h_cj h_dj|`` over row quadruples: 18098 x 4, 2337 x 12,
    40 x 20) differs from theirs (PB 18018/2457/0; Paley II 18200/2184/91; Williamson
    18032/2436/7). Its automorphism group is trivial up to the sign of the whole matrix (order 2
    modulo ``-I``; computed once with bliss, outside the test suite): it is one of the 487
    classes of order 28 (Kimura 1994; Spence 1995) that have no symmetry, so no algebraic
    construction yields it, only a copy of the table, and no copy under a licence other than
    R's (GPL) was found. So for order 28 and its doublings (24-27 and 48-55 strata) ours is
    Paley II (q = 13): as balanced (totals and other linear statistics agree with R exactly)
    but not equal (means' SEs differ, by up to 5% on the test data), and ``to_replicate``
    says so with an :class:`~socialhealth.errors.RDifferenceWarning`. To match
    R's default there, pass R's matrix with its (unused) first row negated, since a passed
    matrix is read as R reads ``hadamard.matrix=`` (top-left value = -1): in R
    ``h <- hadamard(27); h[1, ] <- 1 - h[1, ]``, then ``to_replicate("brr", hadamard=h)``.
    Checked equal to R's for 2..1199 strata otherwise.

    Examples
    --------
    >>> H = hadamard(15); H.shape
    (16, 16)
    >>> bool(((H @ H.T) == 16 * np.eye(16)).all())
    True
    >>> hadamard(35).shape, hadamard(72).shape
    ((36, 36), (80, 80))

    In R: ``hadamard(15)`` (as +-1 instead of 1/0).
    """
    return _construct(max(int(n_strata), 0))


# ============================================================================ PSU structure
def _first_stage(design):
    """Stratum and PSU of each row, in R's order (first appearance), for rows in the design."""
    st = design._stages[0]
    unit = st.unit
    stratum = st.unit_stratum[unit]
    return unit, stratum, st


def _appearance_order(codes: np.ndarray) -> np.ndarray:
    _, first = np.unique(codes, return_index=True)
    return np.unique(codes)[np.argsort(first)]


def _fpc_factor(st, h) -> float:
    N = st.pop_units[h]
    return 1.0 - (st.n_units[h] / N if np.isfinite(N) else 0.0)


# ============================================================================ methods
def _is_certainty(st, h) -> bool:
    """Every PSU of stratum ``h`` was taken with certainty (fpc: ``N_h = n_h``)."""
    return _fpc_factor(st, h) <= 1e-12


def _lonely_jkn_error(st, h, lonely_psu: str) -> ReplicateWeightsError:
    return ReplicateWeightsError(
        f"stratum {show(st.stratum_labels[h])} has a single PSU, so the jackknife cannot delete it "
        f"(lonely_psu={lonely_psu!r}; R's as.svrepdesign stops the same way under "
        "options(survey.lonely.psu = 'fail')). Build the design with lonely_psu='remove', "
        "'certainty', 'average' or 'adjust' (see to_replicate), give the stratum's fpc if the "
        "PSU was taken with certainty, or merge the stratum with a neighbour."
    )


def _jackknife(design, per_stratum: bool):
    unit, stratum, st = _first_stage(design)
    w = design._w
    cols, rscales = [], []
    strata_order = _appearance_order(stratum)
    if not per_stratum and len(strata_order) > 1:
        raise ReplicateWeightsError(
            f"method='jk1' is for unstratified designs but this design has {len(strata_order)} "
            "strata; use method='jkn' (one replicate per PSU, stratum-specific scales)."
        )
    if not per_stratum:
        psus = _appearance_order(unit)
        if len(psus) < 2:
            raise ReplicateWeightsError(
                "the design has a single PSU, so the jackknife cannot delete it; a replicate "
                "variance needs at least two PSUs."
            )
    lonely_psu = getattr(design, "lonely_psu", "fail")
    n_strata = len(strata_order)
    for h in strata_order:
        in_h = stratum == h
        psus = _appearance_order(unit[in_h])
        n_h = len(psus)
        if per_stratum and _is_certainty(st, h):
            continue                      # certainty PSUs add no variance: no replicate (as R)
        if n_h < 2:
            if not per_stratum or lonely_psu == "fail":
                raise _lonely_jkn_error(st, h, lonely_psu)
            if lonely_psu != "adjust":
                continue                  # remove / certainty / average: no replicate
            if n_strata < 2:
                raise ReplicateWeightsError(
                    "lonely_psu='adjust' needs at least two strata to reweight when the single "
                    "PSU is deleted; this design has one stratum with one PSU."
                )
            # delete the lonely PSU, reweight every other PSU by H/(H-1) (H strata)
            m = np.full(len(w), n_strata / (n_strata - 1))
            m[unit == psus[0]] = 0.0
            cols.append(w * m)
            rscales.append((n_strata - 1) / n_strata)
            continue
        f_factor = _fpc_factor(st, h)
        for j in psus:
            m = np.ones(len(w))
            m[in_h] = n_h / (n_h - 1)
            m[unit == j] = 0.0
            cols.append(w * m)
            rscales.append((n_h - 1) / n_h * f_factor)
    if not cols:
        raise ReplicateWeightsError(
            "no stratum contributes a jackknife replicate (every stratum has a single PSU or "
            "was sampled with certainty), so there is no replicate variance to estimate."
        )
    W = np.column_stack(cols)
    if per_stratum:
        scale = 1.0
        if lonely_psu == "average":
            # as R: the sum over replicates is scaled by (number of PSUs) / (number of replicates)
            scale = st.n_psu / W.shape[1]
        return W, scale, np.array(rscales)
    return W, rscales[0], np.ones(W.shape[1])


def _two_psu_strata(design, method):
    unit, stratum, st = _first_stage(design)
    strata = sorted(np.unique(stratum), key=lambda h: _r_text_key(st.stratum_labels[h]))
    pairs = []
    bad = []
    for h in strata:
        psus = _appearance_order(unit[stratum == h])
        if len(psus) != 2:
            bad.append((st.stratum_labels[h], len(psus)))
        pairs.append(psus)
    if bad:
        shown = ", ".join(f"{show(lab)} ({k} PSUs)" for lab, k in bad[:5])
        raise ReplicateWeightsError(
            f"method={method!r} needs exactly 2 PSUs in every stratum; stratum {shown} "
            + ("does" if len(bad) == 1 else f"and {len(bad) - 1} more do") + " not. "
            "Merge PSUs within a stratum (e.g. psu2 = min(psu, 2) to join a third PSU to the "
            "second) or pair single-PSU strata with a neighbour, then rebuild the design; or use "
            "method='jkn', which honours lonely_psu=. lonely_psu= does not apply to BRR: R's "
            "as.svrepdesign(type = 'BRR') also stops ('Some strata have fewer than 2 PSUs') "
            "whatever options(survey.lonely.psu) says, certainty strata included."
        )
    return unit, pairs


def _r_text_key(label):
    """Sort key of a stratum label as R's BRR orders strata: by the label's text (numbers as R
    prints them, so 10 sorts before 2), letters case-insensitively with lower case first (R's
    usual UTF-8 collation; R under a plain C locale would put upper case first)."""
    if isinstance(label, (bool, np.bool_)):
        text = "TRUE" if label else "FALSE"
    elif isinstance(label, (int, np.integer)):
        text = str(int(label))
    elif isinstance(label, (float, np.floating)):
        text = str(int(label)) if float(label).is_integer() else repr(float(label))
    else:
        text = str(label)
    return (text.lower(), text.swapcase())


def check_hadamard(matrix, n_strata: int) -> np.ndarray:
    """Validate a user-supplied Hadamard matrix for BRR and return the +-1 half-sample signs.

    The rules are those of R's ``brrweights(hadamard.matrix = )``: a square matrix with exactly
    two distinct values (+-1, or 1/0 as R's ``hadamard()`` returns, or any other pair) and at
    least ``n_strata + 1`` rows. As R does, the value of the top-left entry is read as -1 and
    the other value as +1 (so R's own 1/0 matrices come out negated), and the result must have
    orthogonal columns, ``H'H = nI``. Row 1 is not used; rows 2..n_strata+1 give the strata's
    half-samples (+1: the stratum's first PSU in the data is in the half-sample), columns the
    replicates.

    Examples
    --------
    >>> check_hadamard([[1, 1], [1, -1]], 1).tolist()
    [[-1, -1], [-1, 1]]

    In R: ``brrweights(strata, psu, hadamard.matrix = H)``.
    """
    try:
        H = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise ReplicateWeightsError("hadamard= must be a square numeric matrix of +-1 "
                                    "entries.") from None
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ReplicateWeightsError(
            f"hadamard= must be a square matrix; got shape {H.shape}. A Hadamard matrix of order n "
            "is n x n with entries +-1 and H'H = nI."
        )
    n = H.shape[0]
    if n < n_strata + 1:
        raise ReplicateWeightsError(
            f"hadamard= has order {n} but the design has {n_strata} strata; BRR needs a Hadamard "
            f"matrix of order at least {n_strata + 1} (row 1 is not used), e.g. "
            f"hadamard({n_strata})."
        )
    values = np.unique(H)
    if len(values) != 2 or not np.isfinite(values).all():
        raise ReplicateWeightsError(
            f"hadamard= must hold exactly two distinct values (+1/-1, or 1/0); it has "
            f"{len(values)} "
            f"({', '.join(f'{v:g}' for v in values[:4])}{', ...' if len(values) > 4 else ''})."
        )
    A = np.where(H == H[0, 0], -1, 1)
    if not np.array_equal(A.T @ A, n * np.eye(n)):
        raise ReplicateWeightsError(
            "hadamard= is not a Hadamard matrix: its columns are not orthogonal (H'H != nI)."
        )
    return A


def _brr(design, rho: float, method: str, matrix=None):
    unit, pairs = _two_psu_strata(design, method)
    H = hadamard(len(pairs)) if matrix is None else check_hadamard(matrix, len(pairs))
    if matrix is None and differs_from_r(len(pairs)):
        warnings.warn(
            f"BRR with {len(pairs)} strata uses a Hadamard matrix of order {H.shape[0]} built "
            "on Paley's order-28 matrix; R survey's default there is a different (equally "
            "balanced) matrix from Sloane's library. Estimates and the SEs of totals equal R's; "
            "the SEs of means, ratios and models differ from R's by a few percent (both are "
            "valid BRR). To reproduce R's numbers, pass R's matrix as hadamard= (see "
            "socialhealth.design.replicate_weights.hadamard).",
            RDifferenceWarning, stacklevel=user_stacklevel())
    R = H.shape[1]
    w = design._w
    W = np.empty((len(w), R))
    for r in range(R):
        m = np.ones(len(w))
        for k, (first, second) in enumerate(pairs):
            a = H[k + 1, r]
            m[unit == first] = 1 + (1 - rho) * a
            m[unit == second] = 1 - (1 - rho) * a
        W[:, r] = w * m
    return W


def _bootstrap(design, replicates: int, seed, fpc: bool):
    unit, stratum, st = _first_stage(design)
    rng = np.random.default_rng(seed)
    w = design._w
    strata = _appearance_order(stratum)
    psu_lists = [_appearance_order(unit[stratum == h]) for h in strata]
    lonely_psu = getattr(design, "lonely_psu", "fail")
    constant = set()                     # strata whose multiplier is 1 in every replicate
    for h, psus in zip(strata, psu_lists, strict=True):
        if fpc and _is_certainty(st, h):
            constant.add(h)              # certainty PSUs: lambda = 0, multiplier 1
            continue
        if len(psus) >= 2:
            continue
        label = st.stratum_labels[h]
        if not fpc:
            raise ReplicateWeightsError(
                f"stratum {show(label)} has a single PSU; the subbootstrap draws n_h - 1 = 0 PSUs "
                "there (R's as.svrepdesign(type = 'subbootstrap') stops with an error too, "
                "whatever options(survey.lonely.psu)). Use method='bootstrap' with "
                "lonely_psu='remove', method='jkn', or merge the stratum with a neighbour."
            )
        if lonely_psu == "fail":
            raise ReplicateWeightsError(
                f"stratum {show(label)} has a single PSU (lonely_psu='fail'). With "
                "lonely_psu='remove' or 'certainty' the bootstrap leaves such strata out of the "
                "variance (multiplier "
                "1 in every replicate, as R's bootstrap does for every survey.lonely.psu option); "
                "give the stratum's fpc if its PSU was taken with certainty; or merge it with a "
                "neighbour."
            )
        if lonely_psu in ("adjust", "average"):
            raise ReplicateWeightsError(
                f"stratum {show(label)} has a single PSU and lonely_psu={lonely_psu!r} has no "
                "bootstrap counterpart: R's bootstrap silently treats single-PSU strata as "
                "'remove' whatever options(survey.lonely.psu) says. Use method='jkn' (which "
                f"implements {lonely_psu!r} as R does) or lonely_psu='remove' to get R's bootstrap "
                "behaviour."
            )
        constant.add(h)                  # remove / certainty: no contribution
    mult = np.ones((st.n_psu, replicates))
    for h, psus in zip(strata, psu_lists, strict=True):
        if h in constant:
            continue
        n_h = len(psus)
        m_h = n_h - 1
        f_h = (1 - _fpc_factor(st, h)) if fpc else 0.0
        lam = np.sqrt(m_h * (1 - f_h) / (n_h - 1))
        for r in range(replicates):
            counts = np.bincount(rng.integers(0, n_h, size=m_h), minlength=n_h)
            mult[psus, r] = 1 - lam + lam * (n_h / m_h) * counts
    W = w[:, None] * mult[unit]
    return W


# ---------------------------------------------------------------- multistage rescaled bootstrap
def _mrb_stages(design) -> list:
    """The stages the multistage rescaled bootstrap resamples (R ``mrbweights``' rule)."""
    stages = list(design._stages)
    if not np.all(np.isfinite(stages[0].pop_units)):
        if len(stages) > 1:
            warnings.warn(
                "the first stage has no fpc (sampled with replacement), so only the first stage "
                "is resampled, as R's as.svrepdesign(type = 'mrbbootstrap') does (\"only first "
                "stage used\"). Give the fpc of every stage to resample the later stages.",
                SocialHealthWarning, stacklevel=user_stacklevel())
        return stages[:1]
    for s, st in enumerate(stages[1:], start=2):
        if not np.all(np.isfinite(st.pop_units)):
            raise ReplicateWeightsError(
                f"method='mrbbootstrap' needs the fpc of every stage, and stage {s} has none "
                "(R cannot build such a design either). Give fpc=[...] with one column per "
                "stage, or declare the first-stage units only (psu= one column) to resample "
                "the first stage alone."
            )
    return stages


def _mrb_check_lonely(design, stages) -> None:
    """Strata with a single unit (not taken with certainty) at any stage, by ``lonely_psu``."""
    lonely_psu = getattr(design, "lonely_psu", "fail")
    if lonely_psu in ("remove", "certainty"):
        return
    for s, st in enumerate(stages, start=1):
        f = np.where(np.isfinite(st.pop_units), st.n_units / st.pop_units, 0.0)
        single = (st.n_units == 1) & (f < 1 - 1e-12)
        if not single.any():
            continue
        label = st.stratum_labels[np.flatnonzero(single)[0]]
        where = (f"stratum {show(label)} has a single PSU" if s == 1 else
                 f"a stratum at stage {s} has a single unit ({int(single.sum())} such "
                 f"{'stratum' if single.sum() == 1 else 'strata'})")
        raise ReplicateWeightsError(
            f"{where} (lonely_psu={lonely_psu!r}); the multistage rescaled bootstrap cannot "
            "draw half of one unit, and the Taylor variance stops there too. With "
            "lonely_psu='remove' or 'certainty' such strata (and the stages below them) are "
            "left out of the variance, as R's as.svrepdesign(type = 'mrbbootstrap') does "
            "whatever options(survey.lonely.psu) says; give the fpc if the unit was taken with "
            "certainty; or merge the stratum with a neighbour."
        )


def _mrb_multipliers(stages, selected) -> np.ndarray:
    """Replicate multipliers of the multistage rescaled bootstrap given the half-samples.

    Parameters
    ----------
    stages : list of Stage
        The design's stages (``design._stages``, or the first only when it has no fpc).
    selected : list of (G_s, R) bool arrays
        For stage ``s``, whether unit ``u`` is among the ``floor(n/2)`` units drawn in its
        stratum in replicate ``r`` (only read for units whose ancestors were all drawn).

    Returns
    -------
    (n_rows, R) array ``1 + sum_s t_s`` (Preston 2009): for a row in unit ``u`` of stratum
    ``h`` at stage ``s`` (``n`` units sampled of ``N``, ``n* = floor(n/2)``, ``f = n/N``,
    ``F`` the product of the sampling fractions of the row's units at the earlier stages, 1 at
    stage 1), ``t_s = A_s lambda_s (-1 + (n/n*) d_u)`` with ``lambda_s = sqrt(F n* (1-f) /
    (n - n*))``, ``d_u`` 1 if ``u`` was drawn, and ``A_s`` the product of ``sqrt(n/n*) d`` over
    the row's units at the earlier stages (later stages are resampled only inside the drawn
    units). A stratum with one unit (``n* = 0``) gives ``t_s = 0`` and nothing below it, as R;
    a certainty unit (``n = N = 1``) passes its ``A`` on unchanged.
    """
    n_rows = len(stages[0].unit)
    R = selected[0].shape[1]
    total = np.zeros((n_rows, R))
    a_prev = np.ones((1, R))          # A of the units of the previous stage (one root unit)
    f_prev = np.ones(1)               # cumulative sampling fraction down to those units
    for st, sel in zip(stages, selected, strict=True):
        h = st.unit_stratum
        parent = st.parent_of_stratum[h]
        n = st.n_units[h]
        nstar = np.floor(n / 2)
        pop = st.pop_units[h]
        f = np.where(np.isfinite(pop), n / pop, 0.0)
        cum = f_prev[parent]
        half = nstar > 0
        safe = np.where(half, nstar, 1.0)
        rest = np.maximum(n - safe, 1)           # n - n* (1 where n* = 0: no term)
        lam = np.where(half, np.sqrt(cum * safe * np.clip(1 - f, 0, None) / rest), 0.0)
        a_par = a_prev[parent]
        d = np.asarray(sel, dtype=bool) & half[:, None]
        term = a_par * lam[:, None] * (-1.0 + (n / safe)[:, None] * d)
        total += term[st.unit]
        certain = ~half & (f >= 1 - 1e-12)
        a_prev = np.where(half[:, None], a_par * np.sqrt(n / safe)[:, None] * d,
                          np.where(certain[:, None], a_par, 0.0))
        f_prev = cum * f
    return 1.0 + total


def _mrb_draw(stages, replicates: int, rng) -> list:
    """Half-samples without replacement: ``floor(n/2)`` units of every stratum and stage."""
    out = []
    for st in stages:
        h = st.unit_stratum
        G = len(h)
        nstar = np.floor(st.n_units / 2)[h]
        order = np.argsort(h[:, None] + rng.random((G, replicates)), axis=0, kind="stable")
        pos = np.empty_like(order)
        np.put_along_axis(pos, order, np.arange(G)[:, None], axis=0)
        start = (np.cumsum(st.n_units) - st.n_units)[h]
        out.append((pos - start[:, None]) < nstar[:, None])
    return out


def _mrbbootstrap(design, replicates: int, seed) -> np.ndarray:
    stages = _mrb_stages(design)
    _mrb_check_lonely(design, stages)
    rng = np.random.default_rng(seed)
    w = np.asarray(design._w, dtype=float)
    W = np.empty((len(w), replicates))
    block = 256                       # replicates drawn at a time (memory)
    for r0 in range(0, replicates, block):
        r1 = min(r0 + block, replicates)
        W[:, r0:r1] = w[:, None] * _mrb_multipliers(stages, _mrb_draw(stages, r1 - r0, rng))
    return W


def _replicate_count(value) -> int:
    """The ``replicates=`` option of the bootstraps: a whole number of at least 2."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))) and not (
            isinstance(value, (float, np.floating)) and float(value).is_integer()):
        raise DesignError(
            f"replicates must be a whole number of replicates (at least 2, e.g. 500), "
            f"not {show_given(value)}."
        )
    if int(value) < 2:
        raise DesignError(f"replicates must be at least 2; got {int(value)}.")
    return int(value)


# ============================================================================ public
def as_replicate(design, method: ReplicateMethod = "jkn", **options):
    """Replicate-weight design from a Taylor design (R ``as.svrepdesign``).

    Parameters
    ----------
    design : SurveyDesign
        A Taylor-linearisation design (strata, PSUs, optional fpc).
    method : {"jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "mrbbootstrap"}
        See the table in the module docstring.
    **options
        ``fay_rho`` (``"fay"``, default 0.5; 0 gives BRR), ``hadamard`` (``"brr"``/``"fay"``: a
        user-supplied Hadamard matrix, order above the number of strata, read and validated as
        R does, see :func:`check_hadamard`; R ``hadamard.matrix=``), ``replicates`` (bootstrap,
        default 50), ``seed`` (bootstrap; an int or ``numpy.random.Generator``), ``mse`` (centre the
        replicates at the full-sample estimate; default False as R), ``recalibrate`` (for a
        calibrated design: build the replicates from the pre-calibration weights and redo every
        post-stratification/raking/calibration on each replicate; default False as R).

    Formulas
    --------
    jk1: ``v = (1-f)(n-1)/n sum_r (theta_r - theta_bar)^2`` with PSU ``r`` deleted and the others
    reweighted by ``n/(n-1)``. jkn: ``v = sum_h (1-f_h)(n_h-1)/n_h sum_{r in h} (theta_r -
    theta_bar)^2``. BRR: ``v = 1/R sum_r (theta_r - theta_bar)^2`` over the half-samples of a
    Hadamard matrix of order ``R > H`` (McCarthy 1969); Fay: multipliers ``2-rho`` / ``rho`` and
    ``v = 1/(R(1-rho)^2) sum_r (...)^2``. Bootstrap: Rao & Wu (1988) rescaled bootstrap with
    ``m_h = n_h - 1`` PSUs drawn with replacement in each stratum, multiplier
    ``1 - lambda + lambda (n_h/m_h) c_hj`` with ``lambda = sqrt(m_h (1-f_h)/(n_h-1))`` (``c_hj``:
    times PSU ``j`` was drawn) and ``v = 1/(R-1) sum_r (theta_r - theta_bar)^2``.
    mrbbootstrap: Preston's (2009) multistage rescaled bootstrap (module docstring): replicate
    weight ``w (1 + sum_s t_s)``, ``t_s = A_s lambda_s (-1 + (n/n*) d_s)``, ``lambda_s =
    sqrt(F_s n* (1 - f_s)/(n - n*))``, ``n* = floor(n/2)`` units drawn without replacement per
    stratum and stage (later stages inside the drawn units), and ``v = 1/(R-1) sum_r (theta_r -
    theta_bar)^2``; for a total its expectation over the draws is the multistage Taylor variance
    with fpc (R ``svytotal`` on the ``svydesign``).

    Notes
    -----
    R's ``type = "bootstrap"`` draws ``n_h`` PSUs (multiplier ``c_hj``) and corrects with the
    scale ``nbar/((nbar-1)(R-1))``, ``nbar`` the harmonic mean of the ``n_h``; that scale is
    exact only when all ``n_h`` are equal, and R ignores the fpc. Here ``"bootstrap"`` is the
    Rao-Wu scheme above (unbiased for linear statistics in every stratum, fpc included) and
    ``"subbootstrap"`` is R's ``type = "subbootstrap"`` (the same with ``f_h = 0``). Random
    replicates can never equal R's bit for bit: to reproduce an R bootstrap analysis, export R's
    replicate weights and use :class:`~socialhealth.design.ReplicateDesign`.

    Single-PSU ("lonely") strata and certainty PSUs follow the design's ``lonely_psu`` as R's
    ``as.svrepdesign`` does under ``options(survey.lonely.psu = ...)`` (checked against R survey
    4.1-1). A stratum whose fpc says every PSU was taken (``N_h = n_h``, certainty) gets no
    jackknife replicate and bootstrap multiplier 1, whatever the option. For ``"jkn"``, a
    single-PSU stratum (not certainty) raises under ``"fail"``; gets no replicate under
    ``"remove"`` and ``"certainty"``; gets no replicate under ``"average"``, where the scale
    becomes ``G/R`` (``G`` PSUs in the design, ``R`` replicates); and under ``"adjust"`` gets a
    replicate that deletes the PSU and multiplies every other row by ``H/(H-1)`` (``H``
    strata), with rscale ``(H-1)/H`` and no fpc factor. R's ``svytotal`` (not ``svymean``)
    leaves rows of certainty strata out of the replicate totals, so with ``"adjust"`` and
    certainty strata together R's SE of a total differs from the one these (R's) replicate
    weights give. ``"brr"``/``"fay"`` need exactly two PSUs per stratum under every option (R
    stops too). ``"subbootstrap"`` raises on a single-PSU stratum (R stops with a numerical
    error). ``"bootstrap"`` gives single-PSU strata multiplier 1 under ``"remove"`` and
    ``"certainty"`` (R's bootstrap does so under every option) and raises under ``"fail"``,
    ``"adjust"`` and ``"average"``, which R's bootstrap silently ignores.

    ``"mrbbootstrap"`` needs the fpc of every stage: a design whose first stage has no fpc
    resamples the first stage only, with a ``SocialHealthWarning`` when it has later stages (R
    warns "only first stage used"); a first-stage fpc without a later stage's raises. A stratum
    with a single unit at any stage (not taken with certainty) raises under ``lonely_psu`` =
    ``"fail"``, ``"adjust"`` or ``"average"`` (the Taylor variance stops there too); under
    ``"remove"`` or ``"certainty"`` it gets no term at that stage nor below it, as R's
    ``mrbweights`` does under every option. One difference from R: a single unit taken with
    certainty (``n = N = 1``) has no term at its own stage but its lower stages are still
    resampled (Preston's rule, ``lambda = 0`` there); R leaves them out, so it has less
    variance than its own Taylor variance. Given the same half-samples our multipliers equal
    R's ``mrbweights`` to 1e-12 (apiclus2 with fpc1 + fpc2, stratified two-stage, one-stage and
    three-stage designs); the draws themselves cannot equal R's.

    Calibrated Taylor designs: by default the replicates perturb the calibrated weights without
    re-calibrating each replicate, exactly as R's ``as.svrepdesign`` (survey 4.1-1) does, so the
    replicate variance ignores the calibration. ``recalibrate=True`` instead builds the
    replicates from the pre-calibration weights and repeats each calibration on every
    replicate, the same as converting first and calibrating the replicate design (R:
    ``postStratify(as.svrepdesign(dclus1), ~stype, pop.types)``).

    Returns
    -------
    ReplicateDesign

    References
    ----------
    Wolter KM (2007) *Introduction to Variance Estimation*, 2nd ed., ch. 3-5.
    Rao JNK, Wu CFJ (1988) JASA 83:231-241. Judkins DR (1990) J Off Stat 6:223-239.
    Lumley T (2010) *Complex Surveys*, §2.5.
    Preston J (2009) Survey Methodology 35(2):227-234.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> r = as_replicate(dclus1, "jk1")           # the same as dclus1.to_replicate("jk1")
    >>> r.n_replicates, round(r.scale, 6)
    (15, 0.914839)
    >>> print(r.mean("api00").to_frame()[["term", "estimate", "se"]].round(3).to_string())
        term  estimate      se
    0  api00   656.706  16.967
    >>> nhanes = sh.datasets.load_example("nhanes")
    >>> dnhanes = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
    ...                           nest=True)
    >>> jkn = dnhanes.to_replicate("jkn")          # one replicate per PSU
    >>> jkn.n_replicates
    31
    >>> print(jkn.mean("HI_CHOL").to_frame()[["term", "estimate", "se"]].round(4).to_string())
          term  estimate      se
    0  HI_CHOL    0.1082  0.0123
    >>> nhanes2 = nhanes.assign(PSU2=nhanes.SDMVPSU.clip(upper=2))   # Fay/BRR: 2 PSUs per stratum
    >>> dnhanes2 = sh.SurveyDesign(nhanes2, weights="WTMEC2YR", strata="SDMVSTRA", psu="PSU2",
    ...                            nest=True)
    >>> fay = dnhanes2.to_replicate("fay", fay_rho=0.3)
    >>> fay.n_replicates
    16
    >>> print(fay.mean("HI_CHOL").to_frame()[["term", "estimate", "se"]].round(4).to_string())
          term  estimate      se
    0  HI_CHOL    0.1082  0.0124
    >>> boot = dnhanes.to_replicate("bootstrap", replicates=100, seed=2026)
    >>> print(boot.mean("HI_CHOL").to_frame()[["term", "estimate", "se"]].round(4).to_string())
          term  estimate      se
    0  HI_CHOL    0.1082  0.0139

    In R: ``as.svrepdesign(dclus1, type = "JK1")``; ``as.svrepdesign(dnhanes, type = "JKn")``;
    ``as.svrepdesign(dnhanes2, type = "Fay", fay.rho = 0.3)``;
    ``as.svrepdesign(dnhanes, type = "bootstrap", replicates = 100)`` (R's scheme differs: Notes).

    >>> apiclus2 = sh.datasets.load_example("apiclus2")
    >>> dclus2 = sh.SurveyDesign(apiclus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    >>> mrb = dclus2.to_replicate("mrbbootstrap", replicates=500, seed=1)
    >>> mrb.n_replicates, mrb.scale
    (500, 1.0)

    In R: ``as.svrepdesign(dclus2, type = "mrbbootstrap", replicates = 500)``.
    """
    from socialhealth.design.replicate import ReplicateDesign

    if getattr(design, "kind", None) != "taylor":
        raise DesignError("as_replicate() needs a Taylor design (SurveyDesign); this is already a "
                          "replicate design." if getattr(design, "kind", None) == "replicate"
                          else "as_replicate() needs a SurveyDesign.")
    given, method = method, cast(ReplicateMethod, str(method).lower())   # any case; checked below
    allowed = {"fay_rho", "replicates", "seed", "mse", "recalibrate", "hadamard"}
    unknown = set(options) - allowed
    if unknown:
        raise DesignError(f"unknown option(s) {sorted(unknown)} for as_replicate; use "
                          f"{sorted(allowed)}.")
    if design._spec.get("pps"):
        raise DesignError("replicate weights for PPS designs (pps=...) are not implemented (R's "
                          "as.svrepdesign fails on pps='overton', HR() and ppsmat() designs too); "
                          "use the Taylor design's variance.")
    from socialhealth.design.structure import check_flag

    mse = check_flag(options.get("mse", False), "mse", "to_replicate()")
    if options.get("recalibrate") and getattr(design, "_calibration_recipes", ()):
        # rebuild from the pre-calibration weights, then calibrate every replicate
        from socialhealth.design.calibration import recalibrate_replicates

        base = copy.copy(design)
        base._w = np.asarray(design._calibration_base, dtype=float).copy()
        base._calibrations = ()
        base._calibration_recipes = ()
        base._calibration_base = None
        rest = {k: v for k, v in options.items() if k != "recalibrate"}
        rep = recalibrate_replicates(design, as_replicate(base, method, **rest))
        outside = (design._w == 0) & (base._w != 0)    # (below 0 after GREG: inside)
        return rep.subset(~outside) if outside.any() else rep
    fay_rho = None
    if options.get("hadamard") is not None and method not in ("brr", "fay"):
        raise DesignError("hadamard= goes with method='brr' or 'fay'.")
    if method in ("jk1", "jkn"):
        W, scale, rscales = _jackknife(design, per_stratum=(method == "jkn"))
        rep_method: str = method
    elif method in ("brr", "fay"):
        rho = 0.0 if method == "brr" else float(options.get("fay_rho", 0.5))
        if method == "brr" and options.get("fay_rho"):
            raise DesignError("fay_rho= goes with method='fay'.")
        if not 0 <= rho < 1:
            raise DesignError(f"fay_rho must be in [0, 1); got {show_given(rho)}.")
        W = _brr(design, rho, method, options.get("hadamard"))
        R = W.shape[1]
        scale = 1.0 / (R * (1 - rho) ** 2)
        rscales = np.ones(R)
        rep_method = method
        fay_rho = rho if method == "fay" else None
    elif method in ("bootstrap", "subbootstrap"):
        R = _replicate_count(options.get("replicates", 50))
        W = _bootstrap(design, R, options.get("seed"), fpc=(method == "bootstrap"))
        scale, rscales = 1.0 / (R - 1), np.ones(R)
        rep_method = method
    elif method == "mrbbootstrap":
        R = _replicate_count(options.get("replicates", 50))
        W = _mrbbootstrap(design, R, options.get("seed"))
        scale, rscales = 1.0, np.full(R, 1.0 / (R - 1))
        rep_method = method
    else:
        raise DesignError(f"method={show_given(given)} is not one of {', '.join(METHODS)}.")
    rep = ReplicateDesign(design.data, weights=None, replicate_weights=W, method=rep_method,
                          scale=scale, rscales=rscales, mse=mse, combined_weights=True,
                          fay_rho=fay_rho)
    rep._w = np.asarray(design._w, dtype=float).copy()
    rep._weights_name = design._spec.get("weights")
    rep.source_design = design
    r_type = {"jk1": "JK1", "jkn": "JKn", "brr": "BRR", "fay": "Fay"}.get(method, method)
    r_opts = [f'type = "{r_type}"']
    if fay_rho is not None:
        r_opts.append(f"fay.rho = {r_number(fay_rho)}")
    if method in ("bootstrap", "subbootstrap", "mrbbootstrap"):
        r_opts.append(f"replicates = {W.shape[1]}")
    if options.get("hadamard") is not None:
        r_opts.append("hadamard.matrix = H")
    if mse:
        r_opts.append("mse = TRUE")
    rep._r_replicate_options = ", ".join(r_opts)
    return rep
