"""Replicate weights built from a Taylor design (R ``as.svrepdesign``).

:func:`as_replicate` turns a :class:`~socialhealth.design.SurveyDesign` into a
:class:`~socialhealth.design.ReplicateDesign` whose replicate weights resample the first-stage
units (PSUs). Every method perturbs the current analysis weights ``w_i`` (so calibrated or
subset designs keep their weights) by a multiplier that depends only on the PSU of row ``i``:

========== ======================================================= ==================================
method     replicate r: multiplier of the rows of PSU ``j``         variance scale / rscales
========== ======================================================= ==================================
jk1        0 if ``j`` is PSU r, else ``n/(n-1)``                    scale ``(n-1)/n (1-f)``
jkn        in PSU r's stratum h: 0 for PSU r, ``n_h/(n_h-1)`` for   scale 1, rscales
           the others; other strata 1                               ``(n_h-1)/n_h (1-f_h)``
brr        ``1 + a_rh`` / ``1 - a_rh``, ``a_rh = +-1`` from a         scale ``1/R``
           Hadamard matrix (first / second PSU of stratum h)
fay        ``1 + (1-rho) a_rh`` / ``1 - (1-rho) a_rh``                scale ``1/(R (1-rho)^2)``
bootstrap  Rao-Wu rescaled bootstrap with ``m_h = n_h - 1`` draws    scale ``1/(R-1)``
subbootstrap same as R's ``subbootstrap`` (``m_h = n_h - 1``, no fpc)  scale ``1/(R-1)``
========== ======================================================= ==================================

Replicate order and Hadamard matrix follow R ``survey`` 4.1-1: jackknife replicates go stratum
by stratum in order of first appearance in the data, PSUs in order of first appearance; BRR
uses the rows of the Hadamard matrix as replicates and its columns 2..H+1 for the strata in
sorted order, the PSU that appears first in the data taking the ``+1`` half. The Hadamard
matrices are R's for orders built by doubling or Paley I (see :func:`hadamard`), so BRR and Fay
weights equal R's exactly there. For orders 28, 36, 56 and 72 R uses stored matrices and ours
(Paley II) are different but equally balanced: totals and other linear statistics still agree
with R exactly (full orthogonal balance), nonlinear ones (means, ratios) only approximately.

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
"""
from __future__ import annotations

import copy

import numpy as np

from socialhealth.errors import DesignError, ReplicateWeightsError

__all__ = ["as_replicate", "hadamard"]

METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap")


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


def _construct(n: int) -> np.ndarray | None:
    """Hadamard matrix of order n, or None. Preference as R: doubling ``[[H, H], [H, -H]]`` of a
    constructible half (Sylvester for powers of two), then Paley I, then Paley II."""
    if n == 1:
        return np.ones((1, 1), dtype=int)
    if n == 2:
        return np.array([[1, 1], [1, -1]])
    if n % 4:
        return None
    half = _construct(n // 2) if (n == 4 or n % 8 == 0) else None
    if half is not None:
        return np.block([[half, half], [half, -half]])
    if _is_prime(n - 1) and (n - 1) % 4 == 3:
        return _paley1(n - 1)
    if _is_prime(n // 2 - 1) and (n // 2 - 1) % 4 == 1:
        return _paley2(n // 2 - 1)
    return None


def hadamard(n_strata: int) -> np.ndarray:
    """A normalised Hadamard matrix (entries +-1, first row and column +1) for BRR.

    Its order is the smallest constructible multiple of 4 larger than ``n_strata`` (at least
    4, as R's ``hadamard``), so that columns 2..H+1 give a fully balanced set of half-samples
    (Wolter 2007, §3.3). Constructions: doubling ``[[H, H], [H, -H]]`` (Sylvester for powers of
    two), Paley I (order q + 1, q prime = 3 mod 4) and Paley II (order 2(q+1), q prime = 1 mod 4).
    The matrix is R's ``hadamard()`` (as +-1) for every order R builds by doubling or Paley I
    (4, 8, 12, 16, 20, 24, 32, 40, 44, 48, 60, 64, 68, 80, 84, 88, 96, ...); R's stored matrices
    (orders 28, 36, and 56, 72 doubled from them) differ from the Paley II ones here, and for
    72-75 strata this gives order 76 where R uses 80.

    Examples
    --------
    >>> H = hadamard(15); H.shape
    (16, 16)
    >>> bool(((H @ H.T) == 16 * np.eye(16)).all())
    True

    In R: ``hadamard(15)`` (as +-1 instead of 1/0).
    """
    n = max(4, 4 * (int(n_strata) // 4 + 1))
    while True:
        H = _construct(n)
        if H is not None:
            return H
        n += 4


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
        f"stratum {st.stratum_labels[h]!r} has a single PSU, so the jackknife cannot delete it "
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
    strata = np.unique(stratum)                     # sorted, as R's BRR
    pairs = []
    bad = []
    for h in strata:
        psus = _appearance_order(unit[stratum == h])
        if len(psus) != 2:
            bad.append((st.stratum_labels[h], len(psus)))
        pairs.append(psus)
    if bad:
        shown = ", ".join(f"{lab!r} ({k} PSUs)" for lab, k in bad[:5])
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


def _brr(design, rho: float, method: str):
    unit, pairs = _two_psu_strata(design, method)
    H = hadamard(len(pairs))
    R = H.shape[0]
    w = design._w
    W = np.empty((len(w), R))
    for r in range(R):
        m = np.ones(len(w))
        for k, (first, second) in enumerate(pairs):
            a = H[r, k + 1]
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
    for h, psus in zip(strata, psu_lists):
        if fpc and _is_certainty(st, h):
            constant.add(h)              # certainty PSUs: lambda = 0, multiplier 1
            continue
        if len(psus) >= 2:
            continue
        label = st.stratum_labels[h]
        if not fpc:
            raise ReplicateWeightsError(
                f"stratum {label!r} has a single PSU; the subbootstrap draws n_h - 1 = 0 PSUs "
                "there (R's as.svrepdesign(type = 'subbootstrap') stops with an error too, "
                "whatever options(survey.lonely.psu)). Use method='bootstrap' with "
                "lonely_psu='remove', method='jkn', or merge the stratum with a neighbour."
            )
        if lonely_psu == "fail":
            raise ReplicateWeightsError(
                f"stratum {label!r} has a single PSU (lonely_psu='fail'). With lonely_psu='remove' "
                "or 'certainty' the bootstrap leaves such strata out of the variance (multiplier "
                "1 in every replicate, as R's bootstrap does for every survey.lonely.psu option); "
                "give the stratum's fpc if its PSU was taken with certainty; or merge it with a "
                "neighbour."
            )
        if lonely_psu in ("adjust", "average"):
            raise ReplicateWeightsError(
                f"stratum {label!r} has a single PSU and lonely_psu={lonely_psu!r} has no "
                "bootstrap counterpart: R's bootstrap silently treats single-PSU strata as "
                "'remove' whatever options(survey.lonely.psu) says. Use method='jkn' (which "
                f"implements {lonely_psu!r} as R does) or lonely_psu='remove' to get R's bootstrap "
                "behaviour."
            )
        constant.add(h)                  # remove / certainty: no contribution
    mult = np.ones((st.n_psu, replicates))
    for h, psus in zip(strata, psu_lists):
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


# ============================================================================ public
def as_replicate(design, method: str = "jkn", **options):
    """Replicate-weight design from a Taylor design (R ``as.svrepdesign``).

    Parameters
    ----------
    design : SurveyDesign
        A Taylor-linearisation design (strata, PSUs, optional fpc).
    method : {"jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap"}
        See the table in the module docstring.
    **options
        ``fay_rho`` (``"fay"``, default 0.5; 0 gives BRR), ``replicates`` (bootstrap, default
        50), ``seed`` (bootstrap; an int or ``numpy.random.Generator``), ``mse`` (centre the
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

    Examples
    --------
    >>> r = d.to_replicate("jk1")                                   # doctest: +SKIP
    >>> r.mean("api00")                                             # doctest: +SKIP

    In R: ``as.svrepdesign(dclus1, type = "JK1")``; ``as.svrepdesign(dnhanes2, type = "Fay",
    fay.rho = 0.3)``.
    """
    from socialhealth.design.replicate import ReplicateDesign

    if getattr(design, "kind", None) != "taylor":
        raise DesignError("as_replicate() needs a Taylor design (SurveyDesign); this is already a "
                          "replicate design." if getattr(design, "kind", None) == "replicate"
                          else "as_replicate() needs a SurveyDesign.")
    method = str(method).lower()
    allowed = {"fay_rho", "replicates", "seed", "mse", "recalibrate"}
    unknown = set(options) - allowed
    if unknown:
        raise DesignError(f"unknown option(s) {sorted(unknown)} for as_replicate; use {sorted(allowed)}.")
    if design._spec.get("pps"):
        raise DesignError("replicate weights for PPS (Brewer) designs are not implemented; use the "
                          "Taylor design's variance.")
    mse = bool(options.get("mse", False))
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
        outside = (design._w <= 0) & (base._w > 0)
        return rep.subset(~outside) if outside.any() else rep
    fay_rho = None
    if method in ("jk1", "jkn"):
        W, scale, rscales = _jackknife(design, per_stratum=(method == "jkn"))
        rep_method = method
    elif method in ("brr", "fay"):
        rho = 0.0 if method == "brr" else float(options.get("fay_rho", 0.5))
        if method == "brr" and options.get("fay_rho"):
            raise DesignError("fay_rho= goes with method='fay'.")
        if not 0 <= rho < 1:
            raise DesignError(f"fay_rho must be in [0, 1); got {rho}.")
        W = _brr(design, rho, method)
        R = W.shape[1]
        scale = 1.0 / (R * (1 - rho) ** 2)
        rscales = np.ones(R)
        rep_method = method
        fay_rho = rho if method == "fay" else None
    elif method in ("bootstrap", "subbootstrap"):
        R = int(options.get("replicates", 50))
        if R < 2:
            raise DesignError("replicates must be at least 2.")
        W = _bootstrap(design, R, options.get("seed"), fpc=(method == "bootstrap"))
        scale, rscales = 1.0 / (R - 1), np.ones(R)
        rep_method = "bootstrap"
    else:
        raise DesignError(f"method={method!r} is not one of {', '.join(METHODS)}.")
    rep = ReplicateDesign(design.data, weights=None, replicate_weights=W, method=rep_method,
                          scale=scale, rscales=rscales, mse=mse, combined_weights=True,
                          fay_rho=fay_rho)
    rep._w = np.asarray(design._w, dtype=float).copy()
    rep._weights_name = design._spec.get("weights") or "design weights"
    rep.source_design = design
    return rep
