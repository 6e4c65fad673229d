"""Factor analysis and principal components of items measured in a survey, with the survey
weights (R ``svyfactanal`` and ``svyprcomp``): the structure of a loneliness scale (UCLA-3,
UCLA-20, De Jong Gierveld's emotional and social subscales) in the population rather than in
the sample."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given, show_list
from socialhealth.design.result_protocol import Result
from socialhealth.design.structure import require_columns
from socialhealth.errors import ConvergenceError, ConvergenceWarning, MeasureError
from socialhealth.measures._survey_alpha import numeric_items

__all__ = ["SurveyFactanalResult", "SurveyPrcompResult", "survey_factanal", "survey_prcomp"]

N_OPTIONS = ("none", "sample", "degf", "effective", "min.effective")
ROTATIONS = ("varimax", "promax", "none")
LOWER = 0.005          # R factanal's control$lower: the smallest uniqueness allowed

_NO_SE = ("{what} has no standard errors; use .{attr} (or to_frame()).")


# ----------------------------------------------------------------------------- shared input
def _item_matrix(design, items, fun: str, minimum: int):
    """Validate ``items`` and return (names, X over all data rows, used rows, n dropped)."""
    if isinstance(items, str) or not hasattr(items, "__iter__"):
        raise MeasureError(f"{fun}() needs a list of {minimum} or more item columns, e.g. "
                           f"{fun}(design, ['e1', 'e2', 'e3']); got {items!r}.")
    items = [str(c) for c in items]
    if len(items) < minimum:
        raise MeasureError(f"{fun}() needs {minimum} or more item columns; got {len(items)} "
                           f"({items}). Add items to the list.")
    dup = sorted({c for c in items if items.count(c) > 1})
    if dup:
        raise MeasureError(f"item(s) {dup} are listed twice; list each item once.")
    data = design.data
    require_columns(data, items, "the design's data")
    X = numeric_items(data, items)
    in_design = np.asarray(design.weights, dtype=float) != 0
    finite = np.isfinite(X)
    if np.any(in_design[:, None] & ~np.isnan(X) & ~finite):
        raise MeasureError("an item holds an infinite value; recode it to a number or to "
                           "missing (NaN) first.")
    complete = finite.all(axis=1)
    for j, c in enumerate(items):
        if not np.any(in_design & finite[:, j]):
            raise MeasureError(f"item {c!r} is missing in every row of the design (or its "
                               "subset); drop it from the list or check the subset.")
    used = in_design & complete
    n, n_dropped = int(used.sum()), int((in_design & ~complete).sum())
    if n < 2:
        raise MeasureError(f"only {n} row(s) of the design answered every item; "
                           f"{fun}() needs more complete rows (check missing answers and "
                           "the subset).")
    return items, X, used, n_dropped


# ----------------------------------------------------------------------------- ML fit
def _objective_parts(psi: np.ndarray, R: np.ndarray, k: int):
    """Eigen decomposition of ``Psi^-1/2 R Psi^-1/2`` (eigenvalues descending)."""
    s = 1.0 / np.sqrt(psi)
    theta, E = np.linalg.eigh(R * s[:, None] * s[None, :])
    return theta[::-1], E[:, ::-1]


def _discrepancy(psi: np.ndarray, R: np.ndarray, k: int) -> float:
    """``F = sum_{j>k} (theta_j - log theta_j - 1)``: the ML discrepancy
    ``log|Sigma| + tr(R Sigma^-1) - log|R| - p`` minimised over the loadings for given
    uniquenesses (Joreskog 1967; Lawley & Maxwell 1971, ch. 2)."""
    theta, _ = _objective_parts(psi, R, k)
    e = theta[k:]
    return float(np.sum(e - np.log(e) - 1.0))


def _loadings_for(psi: np.ndarray, R: np.ndarray, k: int) -> np.ndarray:
    """The ML loadings for given uniquenesses: ``Lambda = Psi^1/2 E_k (Theta_k - I)^1/2``
    (columns in the order of the eigenvalues, largest first)."""
    theta, E = _objective_parts(psi, R, k)
    return np.sqrt(psi)[:, None] * E[:, :k] * np.sqrt(np.maximum(theta[:k] - 1.0, 0.0))


def _gradient(psi: np.ndarray, R: np.ndarray, k: int) -> np.ndarray:
    """``dF/dpsi_i = (Lambda Lambda' + Psi - R)_ii / psi_i^2``."""
    L = _loadings_for(psi, R, k)
    return (np.sum(L * L, axis=1) + psi - np.diag(R)) / psi ** 2


def _fit_ml(R: np.ndarray, k: int):
    """Uniquenesses that minimise the discrepancy in ``[0.005, 1]`` from the start
    ``(1 - k / (2p)) / diag(R^-1)`` (Lawley & Maxwell 1971, p. 31), solved to convergence
    (L-BFGS-B, then Newton steps on the free uniquenesses with a finite-difference Hessian of
    the analytic gradient)."""
    from scipy import optimize       # here: importing socialhealth loads no scipy

    p = R.shape[0]
    start = (1.0 - 0.5 * k / p) / np.diag(np.linalg.inv(R))
    start = np.clip(start, LOWER, 1.0)
    bounds = [(LOWER, 1.0)] * p
    res = optimize.minimize(_discrepancy, start, args=(R, k), jac=_gradient, method="L-BFGS-B",
                            bounds=bounds, options={"ftol": 1e-16, "gtol": 1e-13,
                                                    "maxiter": 20000, "maxcor": 20})
    psi = _polish(np.clip(res.x, LOWER, 1.0), R, k)
    g = _gradient(psi, R, k)
    free = (psi > LOWER) & (psi < 1.0)
    kkt = np.where(free, np.abs(g), np.where(psi <= LOWER, np.maximum(-g, 0), np.maximum(g, 0)))
    converged = bool(np.all(np.isfinite(psi)) and float(np.max(kkt, initial=0.0)) < 1e-6)
    if not np.all(np.isfinite(psi)):
        raise ConvergenceError("the maximum likelihood fit failed (non-finite uniquenesses); "
                               "check the items for near-duplicates or fit fewer factors.")
    return psi, converged


def _polish(psi: np.ndarray, R: np.ndarray, k: int):
    """Newton steps on the uniquenesses strictly inside the bounds (projected, with step
    halving), so that the optimum is met to rounding rather than to an optimiser's tolerance."""
    f = _discrepancy(psi, R, k)
    for _ in range(50):
        g = _gradient(psi, R, k)
        free = ~(((psi <= LOWER) & (g > 0)) | ((psi >= 1.0) & (g < 0)))
        if not free.any():
            return psi
        idx = np.flatnonzero(free)
        h = 1e-6 * np.maximum(psi[idx], 1e-3)
        H = np.empty((len(idx), len(idx)))
        for a, i in enumerate(idx):
            up, dn = psi.copy(), psi.copy()
            up[i] += h[a]
            dn[i] -= h[a]
            H[:, a] = (_gradient(up, R, k)[idx] - _gradient(dn, R, k)[idx]) / (2 * h[a])
        H = 0.5 * (H + H.T)
        try:
            step = np.linalg.solve(H, g[idx])
        except np.linalg.LinAlgError:
            return psi
        if not np.all(np.isfinite(step)):
            return psi
        t = 1.0
        while t > 1e-8:
            new = psi.copy()
            new[idx] = np.clip(psi[idx] - t * step, LOWER, 1.0)
            fn = _discrepancy(new, R, k)
            if fn <= f:
                break
            t /= 2
        else:
            return psi
        moved = float(np.max(np.abs(new - psi)))
        psi, f = new, fn
        if moved < 1e-14:
            return psi
    return psi


# ----------------------------------------------------------------------------- rotations
def _varimax(x: np.ndarray, normalize: bool = True, eps: float = 1e-5):
    """Kaiser's (1958) varimax by the singular-value iteration, from the identity, stopping
    when the sum of singular values grows by a relative ``eps`` or less (R's ``varimax``
    defaults: Kaiser normalisation, ``eps = 1e-5``). Returns (rotated loadings, T)."""
    p, k = x.shape
    sc = np.sqrt(np.sum(x * x, axis=1)) if normalize else np.ones(p)
    sc = np.where(sc > 0, sc, 1.0)      # an item without loadings stays at zero (R: NaN)
    z0 = x / sc[:, None]
    T = np.eye(k)
    d = 0.0
    for _ in range(1000):
        z = z0 @ T
        B = z0.T @ (z ** 3 - z * (np.sum(z * z, axis=0) / p))
        u, s, vt = np.linalg.svd(B)
        T = u @ vt
        d_past, d = d, float(np.sum(s))
        if d < d_past * (1 + eps):
            break
    return (z0 @ T) * sc[:, None], T


def _promax(x: np.ndarray, m: int = 4):
    """Hendrickson & White's (1964) promax: varimax, then the least-squares map of the
    varimax loadings to the target ``L |L|^(m-1)``, its columns scaled so that the factors
    keep unit variance (``m = 4`` as R's ``promax``). Returns (loadings, T)."""
    L, T1 = _varimax(x)
    Q = L * np.abs(L) ** (m - 1)
    U = np.linalg.lstsq(L, Q, rcond=None)[0]
    d = np.diag(np.linalg.inv(U.T @ U))
    U = U * np.sqrt(d)[None, :]
    return L @ U, T1 @ U


def _sort_and_sign(L: np.ndarray):
    """Order factors by decreasing sum of squared loadings, each signed so that its loadings
    add up to a non-negative number (R ``factanal``'s convention). Returns (L', A) with
    ``L' = L A``, ``A`` a signed permutation."""
    k = L.shape[1]
    order = np.argsort(-np.sum(L * L, axis=0), kind="stable")
    A = np.zeros((k, k))
    for new, old in enumerate(order):
        A[old, new] = -1.0 if np.sum(L[:, old]) < 0 else 1.0
    return L @ A, A


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, kw_only=True)
class SurveyFactanalResult(Result):
    """What :func:`survey_factanal` returns (R ``svyfactanal``'s ``factanal`` object).

    ``to_frame()`` has one row per item: its loadings on each factor (``Factor1`` ...),
    ``uniqueness`` and ``communality`` (``1 - uniqueness``). Loadings have no standard
    errors, so ``coef()``, ``se()``, ``confint()``, ``vcov`` and ``float()`` raise
    :class:`~socialhealth.errors.NotApplicableError`.

    Attributes
    ----------
    loadings : pandas.DataFrame
        Items x factors, rotated as asked; factors ordered by decreasing sum of squared
        loadings, each signed so its loadings add up to a non-negative number (R's order and
        signs).
    uniquenesses : pandas.Series
        ``psi_i``, the share of item ``i``'s variance the factors leave out.
    rotation : str
        ``"varimax"``, ``"promax"`` or ``"none"``.
    rotmat : pandas.DataFrame or None
        ``T`` with ``loadings = unrotated @ T``, ``unrotated`` being the loadings of
        ``rotation="none"`` (same order and sign rule); None for ``rotation="none"`` or one
        factor. R's ``rotmat`` is the rotation function's matrix before ``factanal`` orders
        and signs the factors, so its rows and columns can be permuted and signed otherwise.
    factor_correlation : pandas.DataFrame or None
        Correlations of the promax factors, ``(T'T)^-1``; None for orthogonal solutions.
    correlation, covariance : pandas.DataFrame
        The correlation matrix analysed and the design-based covariance (R ``svyvar``) it
        comes from.
    objective : float
        The minimised discrepancy ``F`` (R ``criteria["objective"]``).
    dof : float
        ``((p - k)^2 - p - k) / 2``.
    statistic, p : float or None
        Bartlett-corrected likelihood-ratio test of ``k`` factors against an unrestricted
        correlation matrix, ``(n_obs - 1 - (2p + 5)/6 - 2k/3) F`` on ``dof`` degrees of
        freedom; None with ``n="none"`` or ``dof = 0``.
    n_obs : float or None
        The sample size the test uses (see ``n`` in :func:`survey_factanal`).
    n_option : str
    factors : int
    items : tuple of str
    n, n_dropped : int
        Rows used (every item answered, in the design's subset) and rows of the subset left
        out because an item was missing.
    converged : bool
    r_call : str
    """

    loadings: pd.DataFrame
    uniquenesses: pd.Series
    rotation: str
    rotmat: pd.DataFrame | None
    factor_correlation: pd.DataFrame | None
    correlation: pd.DataFrame
    covariance: pd.DataFrame
    objective: float
    dof: float
    statistic: float | None
    p: float | None
    n_obs: float | None
    n_option: str
    factors: int
    items: tuple
    n: int
    n_dropped: int
    converged: bool
    r_call: str = ""
    notes: tuple = field(default=())

    _not_applicable = {m: _NO_SE.format(what="factor analysis gives loadings, which",
                                        attr="loadings and .uniquenesses")
                       for m in ("coef", "se", "confint", "vcov", "float")}
    _label_columns = ("item",)

    def to_frame(self) -> pd.DataFrame:
        """One row per item: ``item``, ``Factor1`` ... ``Factork``, ``uniqueness``,
        ``communality``."""
        out = self.loadings.reset_index(names="item")
        out["uniqueness"] = self.uniquenesses.to_numpy()
        out["communality"] = 1.0 - self.uniquenesses.to_numpy()
        return out

    def __repr__(self) -> str:
        k = self.factors
        rot = self.rotation
        if k == 1 and rot != "none":
            rot += " (no rotation with one factor)"
        lines = [f"Design-based maximum likelihood factor analysis: {k} factor"
                 f"{'s' if k > 1 else ''} of {len(self.items)} items, rotation {rot}",
                 f"{self.n} rows used"
                 + (f", {self.n_dropped} left out with a missing item" if self.n_dropped else ""),
                 "", "Loadings and uniquenesses:",
                 self.to_frame().set_index("item").round(3).to_string()]
        ss = (self.loadings ** 2).sum(axis=0)
        lines += ["", "SS loadings: " + ", ".join(f"{c} {v:.3f}" for c, v in ss.items()),
                  "Proportion of variance: "
                  + ", ".join(f"{c} {v / len(self.items):.3f}" for c, v in ss.items())]
        if self.factor_correlation is not None:
            lines += ["", "Factor correlations:", self.factor_correlation.round(3).to_string()]
        if self.statistic is not None:
            lines += ["", f"Test of {k} factor{'s' if k > 1 else ''} being sufficient: "
                      f"chi-square {self.statistic:.4f} on {self.dof:g} df, p = {self.p:.4g} "
                      f"(n = {self.n_obs:.6g}, n='{self.n_option}')"]
        else:
            why = ("no test with n='none'" if self.n_option == "none"
                   else "no test (a model with 0 degrees of freedom fits exactly)")
            lines += ["", f"{self.dof:g} degrees of freedom; the fit (objective) was "
                          f"{self.objective:.6g}; {why}"]
        low = [c for c, v in self.uniquenesses.items() if v <= LOWER * (1 + 1e-9)]
        if low:
            lines.append(f"Uniqueness at the lower bound {LOWER} (a Heywood case): "
                         + ", ".join(low))
        if not self.converged:
            lines.append("WARNING: the optimiser did not converge.")
        lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class SurveyPrcompResult(Result):
    """What :func:`survey_prcomp` returns (R ``svyprcomp``).

    ``to_frame()`` is the importance table, one row per component: ``component``, ``sdev``,
    ``variance`` (``sdev^2``), ``proportion`` and ``cumulative`` (of the components kept), as
    R ``summary(prcomp)``. There are no standard errors: ``coef()``, ``se()``,
    ``confint()``, ``vcov`` and ``float()`` raise
    :class:`~socialhealth.errors.NotApplicableError`.

    Attributes
    ----------
    sdev : pandas.Series
        Standard deviations of the components (``PC1`` ...), divisor ``n - 1``.
    rotation : pandas.DataFrame
        Items x components: the loadings (eigenvectors), each column signed so that its
        largest absolute entry is positive (R's signs are those of its SVD routine, which
        fixes none).
    center, scale : pandas.Series or None
        What was subtracted from and divided into the weighted items (with
        ``center="weighted"``: the weighted means of the items, subtracted before weighting);
        None when not asked.
    scores : pandas.DataFrame or None
        With ``scores=True``: one row per row used (the data's index), one column per
        component.
    weights : pandas.Series
        The weights used, ``w_i / mean(w)`` over the rows used (R ``$weights``).
    items : tuple of str
    n, n_dropped : int
        Rows used and rows of the design's subset left out for a missing item.
    r_call : str
    centring : {"R", "weighted"}
        How the items were centred: as R ``svyprcomp`` or at their weighted means.
    """

    sdev: pd.Series
    rotation: pd.DataFrame
    center: pd.Series | None
    scale: pd.Series | None
    scores: pd.DataFrame | None
    weights: pd.Series
    items: tuple
    n: int
    n_dropped: int
    r_call: str = ""
    notes: tuple = field(default=())
    centring: str = "R"

    _not_applicable = {m: _NO_SE.format(what="principal components analysis",
                                        attr="sdev and .rotation")
                       for m in ("coef", "se", "confint", "vcov", "float")}
    _label_columns = ("component",)

    def to_frame(self) -> pd.DataFrame:
        """One row per component: ``component, sdev, variance, proportion, cumulative``."""
        v = self.sdev.to_numpy() ** 2
        return pd.DataFrame({"component": list(self.sdev.index), "sdev": self.sdev.to_numpy(),
                             "variance": v, "proportion": v / v.sum(),
                             "cumulative": np.cumsum(v) / v.sum()})

    def _centring_words(self) -> str:
        if self.center is None:
            return "not centred"
        return ("items centred at their weighted means" if self.centring == "weighted"
                else "centred")

    def __repr__(self) -> str:
        lines = [f"Design-weighted principal components of {len(self.items)} items "
                 f"({self._centring_words()}, "
                 f"{'scaled' if self.scale is not None else 'not scaled'})",
                 f"{self.n} rows used"
                 + (f", {self.n_dropped} left out with a missing item" if self.n_dropped else ""),
                 "", "Importance of components:",
                 self.to_frame().set_index("component").round(4).to_string(),
                 "", "Rotation (loadings):", self.rotation.round(4).to_string(),
                 f"In R: {self.r_call}"]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- functions
def _r_formula(items) -> str:
    return "~" + " + ".join(items)


def survey_factanal(design, items, factors: int, n: str = "none",
                    rotation: str = "varimax") -> SurveyFactanalResult:
    """Maximum likelihood factor analysis of items with the survey's covariance matrix.

    The design-based covariance matrix ``S`` of the items (R ``svyvar``: weighted, over the
    rows that answered every item) is scaled to the correlation matrix ``P``, and ``P`` is
    fitted by ``Sigma = Lambda Lambda' + Psi`` by maximum likelihood (Lawley & Maxwell 1971):
    the uniquenesses ``psi`` minimise ``F(psi) = sum_{j>k} (theta_j - log theta_j - 1)``, with
    ``theta_1 >= ... >= theta_p`` the eigenvalues of ``Psi^-1/2 P Psi^-1/2`` (Joreskog 1967),
    under ``0.005 <= psi_i <= 1`` and from the start ``(1 - k/(2p)) / diag(P^-1)`` (Lawley &
    Maxwell 1971, p. 31);
    then ``Lambda = Psi^1/2 E_k (Theta_k - I)^1/2``. The fit is solved to convergence
    (R's ``optim`` stops earlier, so R's loadings differ by up to about ``1e-5``). Loadings
    are rotated by varimax (Kaiser 1958, with Kaiser normalisation) or promax (Hendrickson &
    White 1964, power 4), then ordered by decreasing sum of squares and signed so each
    factor's loadings add up to a non-negative number, as R ``factanal``.

    The test of ``k`` factors needs a sample size, chosen by ``n`` (R ``svyfactanal``):
    ``"sample"`` the rows used; ``"degf"`` the design's degrees of freedom plus 1;
    ``"effective"`` and ``"min.effective"`` the harmonic mean and the minimum over the items
    of ``n_i = 2 S_ii^2 / SE(S_ii)^2`` plus 1, the size at which a Normal sample's variance
    would have the design-based standard error; ``"none"`` (default) no test. The statistic
    is ``(n_obs - 1 - (2p + 5)/6 - 2k/3) F`` on ``((p - k)^2 - p - k) / 2`` degrees of
    freedom (Bartlett's correction), chi-square p-value. ``"sample"`` treats the weighted
    sample as a simple random one and is known to be anti-conservative.

    Rows with a missing item are left out (complete cases; R ``svyfactanal`` stops on a
    missing value: the result equals R's on ``subset(design, complete.cases(...))``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        Its data hold the items; a subset (domain) design analyses the domain.
    items : list of str
        Three or more numeric item columns (reverse-keyed items need no recoding: a factor
        analysis gives them negative loadings).
    factors : int
        Number of factors ``k``, at least 1, with ``(p - k)^2 >= p + k``.
    n : {"none", "sample", "degf", "effective", "min.effective"}, default "none"
        Sample size for the test (see above).
    rotation : {"varimax", "promax", "none"}, default "varimax"

    Returns
    -------
    SurveyFactanalResult

    References
    ----------
    Lawley DN, Maxwell AE (1971) *Factor Analysis as a Statistical Method*, 2nd ed.
    Butterworths. Joreskog KG (1967) Some contributions to maximum likelihood factor
    analysis. Psychometrika 32:443-482. Kaiser HF (1958) The varimax criterion for analytic
    rotation in factor analysis. Psychometrika 23:187-200. Hendrickson AE, White PO (1964)
    Promax: a quick method for rotation to oblique simple structure. Br J Stat Psychol
    17:65-70. Lumley T (2010) *Complex Surveys*, Wiley (R ``svyfactanal``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, psu="dnum", weights="pw", fpc="fpc")
    >>> items = ["api99", "api00", "meals", "ell", "mobility", "enroll"]
    >>> fa = sh.measures.survey_factanal(d, items, factors=2, n="effective")
    >>> fa.loadings.round(3).loc[["api00", "meals", "enroll"]]
            Factor1  Factor2
    api00     0.981    0.179
    meals    -0.818    0.477
    enroll    0.062   -0.140
    >>> round(fa.n_obs, 4), round(fa.statistic, 4), fa.dof, round(fa.p, 4)
    (65.6618, 0.901, 4.0, 0.9244)

    In R: ``svyfactanal(~api99 + api00 + meals + ell + mobility + enroll, dclus1, factors = 2,
    n = "effective")``.
    """
    if not is_choice(n, N_OPTIONS):
        raise MeasureError(f"n={show_given(n)} is not one of {show_list(N_OPTIONS)}; 'none' "
                           "fits without a test, 'effective' is the design-based choice.")
    if not is_choice(rotation, ROTATIONS):
        raise MeasureError(f"rotation={show_given(rotation)} is not one of "
                           f"{show_list(ROTATIONS)}.")
    if isinstance(factors, bool) or not isinstance(factors, (int, np.integer)) or factors < 1:
        raise MeasureError(f"factors={show_given(factors)} must be a whole number of factors, 1 "
                           "or more.")
    k = int(factors)
    items, X, used, n_dropped = _item_matrix(design, items, "survey_factanal", 3)
    p = len(items)
    dof = 0.5 * ((p - k) ** 2 - p - k)
    if dof < 0 or k >= p:
        most = max(j for j in range(1, p) if (p - j) ** 2 >= p + j)
        why = (f"the model would have {dof:g} degrees of freedom" if k < p
               else "a factor model has fewer factors than items")
        raise MeasureError(f"{k} factors are too many for {p} items ({why}); fit at most "
                           f"{most} factor{'s' if most > 1 else ''} or add items.")
    in_design = np.asarray(design.weights, dtype=float) != 0
    d = design.subset(used) if np.any(in_design & ~used) else design
    est = d.var(items)
    frame = est.to_frame()
    values = dict(zip(frame["term"], frame["estimate"].to_numpy(dtype=float), strict=True))
    ses = dict(zip(frame["term"], frame["se"].to_numpy(dtype=float), strict=True))
    S = np.empty((p, p))
    for a in range(p):
        for b in range(a, p):
            S[a, b] = S[b, a] = values[items[a] if a == b else f"{items[a]}:{items[b]}"]
    flat = [c for j, c in enumerate(items) if np.ptp(X[used, j]) == 0]
    if flat:
        raise MeasureError(f"item(s) {flat} do not vary among the rows used (one answer for "
                           "everyone), so they have no correlations; drop them.")
    sd = np.sqrt(np.diag(S))
    P = S / np.outer(sd, sd)
    if np.linalg.eigvalsh(P)[0] <= 1e-10:
        raise MeasureError("the items' correlation matrix is singular (an item is a linear "
                           "combination of others, e.g. a total score or a duplicate); drop "
                           "the redundant item.")
    psi, converged = _fit_ml(P, k)
    if not converged:
        warnings.warn(f"survey_factanal(): the fit of {k} factor(s) did not reach a point "
                      "where the likelihood stops improving; treat the loadings with caution, "
                      "or fit fewer factors.", ConvergenceWarning, stacklevel=user_stacklevel())
    objective = _discrepancy(psi, P, k)
    L0_raw = _loadings_for(psi, P, k)
    L0, A0 = _sort_and_sign(L0_raw)
    T = factor_cor = None
    if rotation == "none" or k < 2:
        L = L0
    else:
        Lr, T_raw = _varimax(L0_raw) if rotation == "varimax" else _promax(L0_raw)
        L, A = _sort_and_sign(Lr)
        T = A0.T @ T_raw @ A
        if rotation == "promax":
            factor_cor = np.linalg.inv(T.T @ T)
    names = [f"Factor{j + 1}" for j in range(k)]

    n_used = int(np.sum(np.asarray(d.weights, dtype=float) != 0))
    n_obs = None
    if n == "sample":
        n_obs = float(n_used)
    elif n == "degf":
        n_obs = float(d.degf()) + 1.0
    elif n in ("effective", "min.effective"):
        var_se = np.array([ses[c] for c in items])
        if not np.all(np.isfinite(var_se) & (var_se > 0)):
            raise MeasureError(f"n={n!r} needs the standard errors of the item variances, "
                               "and the design gives none (a zero or missing SE); use "
                               "n='sample' or n='degf'.")
        n_i = 2.0 * np.diag(S) ** 2 / var_se ** 2
        n_obs = float(1.0 / np.mean(1.0 / n_i) if n == "effective" else np.min(n_i)) + 1.0
    statistic = pval = None
    if n_obs is not None and dof > 0:
        statistic = float((n_obs - 1 - (2 * p + 5) / 6 - 2 * k / 3) * objective)
        from scipy.special import chdtrc   # chi-square upper tail

        pval = float(chdtrc(dof, statistic))
    des = (f"subset(design, complete.cases({', '.join(items)}))" if n_dropped else "design")
    call = f"svyfactanal({_r_formula(items)}, {des}, factors = {k}"
    call += (f", n = \"{n}\"" if n != "none" else "")
    call += (f", rotation = \"{rotation}\"" if rotation != "varimax" else "") + ")"

    def frame_of(M, cols):
        return pd.DataFrame(M, index=list(cols), columns=names) if M is not None else None

    return SurveyFactanalResult(
        loadings=pd.DataFrame(L, index=items, columns=names),
        uniquenesses=pd.Series(psi, index=items, name="uniqueness"),
        rotation=rotation, rotmat=frame_of(T, names),
        factor_correlation=frame_of(factor_cor, names),
        correlation=pd.DataFrame(P, index=items, columns=items),
        covariance=pd.DataFrame(S, index=items, columns=items),
        objective=objective, dof=float(dof), statistic=statistic, p=pval, n_obs=n_obs,
        n_option=n, factors=k, items=tuple(items), n=n_used, n_dropped=n_dropped,
        converged=converged, r_call=call)


def survey_prcomp(design, items, center: bool | Literal["weighted"] = True,
                  scale: bool = False, scores: bool = False,
                  tol: float | None = None) -> SurveyPrcompResult:
    """Principal components of items with the sampling weights (R ``svyprcomp``).

    As R: each row used is multiplied by ``sqrt(w_i / wbar)`` (``wbar`` the mean weight of
    the ``n`` rows used), giving ``Y``; with ``center`` the columns of ``Y`` are centred at
    their means, ``c_j = sum_i sqrt(w_i / wbar) x_ij / n`` (not the weighted mean of
    ``x_j``), and with ``scale`` divided by their root mean square ``s_j`` (divisor
    ``n - 1``). With ``Z = (Y - c) / s = U D V'`` (singular value decomposition):
    ``sdev = D / sqrt(n - 1)``, ``rotation = V``, and the scores are
    ``Z V / sqrt(w_i / wbar)``. So ``sdev^2`` are the eigenvalues of ``Z'Z / (n - 1)``;
    because R centres the weighted rows at their plain mean, with unequal weights this is
    not the eigen decomposition of the weighted covariance matrix (``design.var``), though
    close to it when the weights vary little.

    ``center="weighted"`` (not in R's ``svyprcomp``) centres each item at its weighted mean
    ``m_j = sum_i w_i x_ij / sum_i w_i`` before the rows are weighted:
    ``Z = sqrt(w_i / wbar) (x_ij - m_j) / s_j``. Then ``Z'Z / (n - 1)`` is the design-based
    covariance matrix of R ``svyvar`` (correlation matrix with ``scale=True``), so ``sdev^2``
    are its eigenvalues and the variance shares are those of the population the weights
    describe; the scores are ``(x - m) / s`` times the rotation.

    Rows with a missing item are left out (R: ``na.omit``), and the weights are rescaled to
    mean 1 over the rows used. Component signs are arbitrary (R's come from its SVD routine);
    here each component's largest absolute loading is positive.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        Only its sampling weights matter (the analysis has no standard errors); a subset
        design uses the rows in the subset.
    items : list of str
        Two or more numeric item columns.
    center : bool or "weighted", default True
        R ``center``: True centres the weighted rows at their plain mean, as R does;
        ``"weighted"`` centres the items at their weighted means (the eigen decomposition of
        R ``svyvar``; see above); False does not centre.
    scale : bool, default False
        R ``scale.``.
    scores : bool, default False
        Return the component scores of each row used (needed for a biplot,
        :func:`socialhealth.plot.biplot`).
    tol : float, optional
        Keep components with ``sdev > tol * sdev[0]`` (R ``tol``); by default all.

    Returns
    -------
    SurveyPrcompResult

    References
    ----------
    Lumley T (2010) *Complex Surveys*, Wiley (R ``svyprcomp``). Jolliffe IT (2002)
    *Principal Component Analysis*, 2nd ed., Springer.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, strata="stype", weights="pw", fpc="fpc")
    >>> pc = sh.measures.survey_prcomp(d, ["api00", "meals", "ell", "mobility"], scale=True)
    >>> pc.sdev.round(4).tolist()
    [1.386, 1.0381, 0.8036, 0.5963]
    >>> pc.to_frame().round(3).loc[:1, ["component", "proportion", "cumulative"]]
      component  proportion  cumulative
    0       PC1       0.480        0.48
    1       PC2       0.269        0.75

    The variance shares of the design-based correlation matrix:

    >>> pw = sh.measures.survey_prcomp(d, ["api00", "meals", "ell", "mobility"], scale=True,
    ...                                center="weighted")
    >>> pw.sdev.round(4).tolist()
    [1.5026, 0.9724, 0.7006, 0.553]

    In R: ``svyprcomp(~api00 + meals + ell + mobility, dstrat, scale. = TRUE)``;
    ``center="weighted"``:
    ``sqrt(eigen(cov2cor(as.matrix(svyvar(~api00 + meals + ell + mobility, dstrat))))$values)``.
    """
    weighted = isinstance(center, str) and center == "weighted"
    if not weighted and not isinstance(center, (bool, np.bool_)):
        raise MeasureError(f"center={show_given(center)} must be True, False or \"weighted\".")
    for name, value in (("scale", scale), ("scores", scores)):
        if not isinstance(value, (bool, np.bool_)):
            raise MeasureError(f"{name}={show_given(value)} must be True or False.")
    if tol is not None and not (isinstance(tol, (int, float)) and not isinstance(tol, bool)
                                and 0 <= tol < 1):
        raise MeasureError(f"tol={show_given(tol)} must be None or a number in [0, 1): the "
                           "smallest sdev kept, as a share of the first.")
    items, X, used, n_dropped = _item_matrix(design, items, "survey_prcomp", 2)
    rows = np.flatnonzero(used)
    n = len(rows)
    w = np.asarray(design.weights, dtype=float)[rows]
    if np.any(w < 0):
        raise MeasureError("survey_prcomp() needs non-negative weights (a linear calibration "
                           "made some negative); calibrate with bounds first.")
    wt = w / w.mean()
    r = np.sqrt(wt)
    if weighted:
        c = wt @ X[rows] / n                     # weighted means of the items
        Y = (X[rows] - c) * r[:, None]
        Z = Y
    else:
        Y = X[rows] * r[:, None]
        c = Y.mean(axis=0) if center else np.zeros(len(items))
        Z = Y - c
    s = np.ones(len(items))
    if scale:
        s = np.sqrt(np.sum(Z * Z, axis=0) / (n - 1))
        size = np.max(np.abs(Y), axis=0)
        flat = [it for j, it in enumerate(items) if not s[j] > 1e-12 * max(size[j], 1e-300)]
        if flat:
            raise MeasureError(f"item(s) {flat} are constant after weighting (and centring), so "
                               "scale=True cannot rescale them; drop them or use scale=False.")
        Z = Z / s
    _, dvals, vt = np.linalg.svd(Z, full_matrices=False)
    V = vt.T
    big = np.argmax(np.abs(V), axis=0)
    V = V * np.where(V[big, np.arange(V.shape[1])] < 0, -1.0, 1.0)[None, :]
    keep = len(dvals) if tol is None else int(np.sum(dvals > dvals[0] * tol))
    V, dvals = V[:, :keep], dvals[:keep]
    names = [f"PC{j + 1}" for j in range(keep)]
    index = design.data.index[rows]
    score_frame = None
    if scores:
        score_frame = pd.DataFrame((Z @ V) / r[:, None], index=index, columns=names)
    if weighted:
        des = "design" if not n_dropped else (
            f"subset(design, complete.cases({', '.join(items)}))")
        cov = f"as.matrix(svyvar({_r_formula(items)}, {des}))"
        call = f"sqrt(eigen({'cov2cor(' + cov + ')' if scale else cov})$values)"
    else:
        call = f"svyprcomp({_r_formula(items)}, design"
        call += ("" if center else ", center = FALSE") + (", scale. = TRUE" if scale else "")
        call += (", scores = TRUE" if scores else "")
        call += (f", tol = {tol}" if tol is not None else "") + ")"
    return SurveyPrcompResult(
        sdev=pd.Series(dvals / np.sqrt(n - 1), index=names, name="sdev"),
        rotation=pd.DataFrame(V, index=items, columns=names),
        center=pd.Series(c, index=items, name="center") if center else None,
        scale=pd.Series(s, index=items, name="scale") if scale else None,
        scores=score_frame, weights=pd.Series(wt, index=index, name="weight"),
        items=tuple(items), n=n, n_dropped=n_dropped, r_call=call,
        centring="weighted" if weighted else "R")
