"""Replicate-weight variance and the defaults of each replicate method.

Given the full-sample estimate ``theta`` and replicate estimates ``theta_r`` (r = 1..R), the
variance is (Wolter 2007, ch. 4-5; Lumley 2010, §2.5; R ``svrVar``)

    V = scale * sum_r rscales_r (theta_r - c)(theta_r - c)^T

with ``c`` the mean of the replicate estimates (``mse=False``, R's default) or the full-sample
estimate (``mse=True``). Default ``scale`` / ``rscales`` per method, as R ``svrepdesign``:

========== ============================ ==================================
method     scale                        rscales
========== ============================ ==================================
jk1        (R - 1) / R                  1
jkn        1                            required: (n_h - 1) / n_h per replicate
brr        1 / R                        1
fay        1 / (R (1 - rho)^2)          1
bootstrap  1 / (R - 1)                  1
sdr        4 / R                        1
other      required                     1
========== ============================ ==================================
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from socialhealth._stack import user_stacklevel
from socialhealth.errors import ReplicateWeightsError

METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "mrbbootstrap", "sdr",
           "other")

_CONTROLLER: list = []


def _controller():
    """The process's threadpoolctl controller (None without threadpoolctl), made again when
    modules were imported since (a newly imported library, e.g. scipy's own BLAS, is then
    controlled too; making one takes about 1 ms)."""
    loaded = len(sys.modules)
    if not _CONTROLLER or _CONTROLLER[1] != loaded:
        try:
            from threadpoolctl import ThreadpoolController

            ctl = ThreadpoolController()
        except Exception:  # pragma: no cover - optional (threadpoolctl not installed)
            ctl = None
        _CONTROLLER[:] = [ctl, len(sys.modules)]
    return _CONTROLLER[0]


def one_blas_thread():
    """Context in which BLAS runs on one thread (when threadpoolctl is installed).

    Replicate estimators make many mid-sized products and inner products over row blocks of
    the replicate weights; a multi-threaded BLAS wakes and synchronises its threads for each,
    which on a busy machine made them many times slower than one thread (an inner product of
    10^6 values: 20 ms instead of 1.2 ms on a loaded 2-core machine; the blocked GLM refits
    3x slower).
    """
    ctl = _controller()
    if ctl is None:  # pragma: no cover
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")


def _busy_elsewhere() -> float | None:
    """Runnable threads of other processes now (Linux: ``/proc/loadavg`` minus this process's
    own running threads, e.g. its BLAS threads still spinning); elsewhere the 1-minute load
    average minus one; None when neither is available (Windows)."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as f:
                    own += f.read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:       # the thread ended meanwhile
                continue
        return float(max(running - own, 0))
    except (OSError, ValueError, IndexError):
        pass
    try:
        return max(os.getloadavg()[0] - 1.0, 0.0)
    except (AttributeError, OSError):   # pragma: no cover - Windows
        return None


def idle_cores() -> int | None:
    """Cores not taken by runnable threads of other processes now, at least 1 (see
    ``_busy_elsewhere``); None where the load cannot be read (Windows)."""
    busy = _busy_elsewhere()
    if busy is None:  # pragma: no cover
        return None
    cores = os.cpu_count() or 1
    return int(min(cores, max(1, round(cores - busy))))


def blas_threads_on_idle_cores():
    """Context for a few large BLAS products (``W' M`` over all n rows): as many BLAS threads
    as there are idle cores now, at least one, and never more than BLAS is already allowed.

    Idle cores = cores - runnable threads of other processes (see ``_busy_elsewhere``). On an
    idle 2-core machine a replicate mean's product over 1,000,000 x 80 weights takes 9 ms on
    two threads and 19 ms on one; with another busy process, two threads made a domain mean
    2x slower than one (268 vs 129 ms). Where the load cannot be read (Windows) BLAS keeps
    its own setting.
    """
    ctl = _controller()
    want = idle_cores()
    if ctl is None or want is None:  # pragma: no cover
        return contextlib.nullcontext()
    allowed = [lc.num_threads for lc in ctl.select(user_api="blas").lib_controllers]
    if not allowed or want >= min(allowed):
        return contextlib.nullcontext()
    return ctl.limit(limits=want, user_api="blas")


def default_scale(method: str, n_replicates: int, fay_rho: float | None = None) -> float | None:
    """Default ``scale`` of the replicate variance for ``method`` with ``R`` replicates.

    ``jk1``: ``(R-1)/R``; ``jkn``: 1 (the ``(n_h-1)/n_h`` factors go in ``rscales``); ``brr``:
    ``1/R``; ``fay``: ``1/(R (1-rho)^2)``; ``bootstrap`` and ``subbootstrap``: ``1/(R-1)``;
    ``mrbbootstrap``: 1 (the ``1/(R-1)`` goes in ``rscales``, see :func:`default_rscales`);
    ``sdr``: ``4/R``; ``other``: ``None`` (the user must give ``scale=``). As R
    ``svrepdesign`` and, for the two bootstraps R's ``svrepdesign`` does not name,
    ``as.svrepdesign`` (Wolter 2007, ch. 4-5; Fay & Train 1995 for SDR; Preston 2009).

    Examples
    --------
    >>> default_scale("jk1", 20), default_scale("fay", 4, fay_rho=0.5)
    (0.95, 1.0)

    In R: ``svrepdesign(..., type = "JK1")`` uses ``scale = (R - 1) / R``.
    """
    R = n_replicates
    if method == "jk1":
        return (R - 1) / R
    if method == "brr":
        return 1.0 / R
    if method == "fay":
        if fay_rho is None:
            raise ReplicateWeightsError(
                "method='fay' needs fay_rho= (the Fay coefficient, e.g. 0.5), or give scale= "
                "directly."
            )
        return 1.0 / (R * (1 - fay_rho) ** 2)
    if method in ("bootstrap", "subbootstrap"):
        return 1.0 / (R - 1)
    if method == "mrbbootstrap":
        return 1.0
    if method == "sdr":
        return 4.0 / R
    if method == "jkn":
        return 1.0
    return None


def default_rscales(method: str, n_replicates: int) -> np.ndarray | None:
    """Default ``rscales`` for ``method`` with ``R`` replicates, or None where there is none.

    ``mrbbootstrap``: ``1/(R-1)`` for every replicate (R's ``as.svrepdesign(type =
    "mrbbootstrap")`` puts the bootstrap's ``1/(R-1)`` there and ``scale = 1``); every other
    method: None (1 for each replicate, except ``jkn``, which needs them given).

    Examples
    --------
    >>> default_rscales("mrbbootstrap", 5)
    array([0.25, 0.25, 0.25, 0.25, 0.25])
    >>> default_rscales("bootstrap", 5) is None
    True

    In R: ``as.svrepdesign(design, type = "mrbbootstrap", replicates = 5)$rscales``.
    """
    if method == "mrbbootstrap":
        return np.full(n_replicates, 1.0 / (n_replicates - 1))
    return None


def replicate_vcov(
    theta: np.ndarray,
    replicates: np.ndarray,
    scale: float,
    rscales: np.ndarray,
    mse: bool,
) -> np.ndarray:
    """Covariance (p x p) from replicate estimates ``replicates`` (R x p).

    ``V = scale * sum_r rscales_r (theta_r - c)(theta_r - c)^T`` with ``c`` the mean of the
    replicate estimates (``mse=False``) or the full-sample estimate ``theta`` (``mse=True``)
    (Wolter 2007, ch. 4-5; Lumley 2010, §2.5).

    Examples
    --------
    >>> import numpy as np
    >>> replicate_vcov(np.array([2.0]), np.array([[1.0], [3.0]]), 0.5, np.ones(2), mse=False)
    array([[1.]])

    In R: ``svrVar(thetas, scale, rscales, mse = FALSE, coef = theta)``.
    """
    reps = np.asarray(replicates, dtype=float)
    if reps.ndim == 1:
        reps = reps[:, None]
    rscales = np.asarray(rscales, dtype=float)
    bad = np.isnan(reps).any(axis=1)
    if bad.any() and not bad.all() and not np.isnan(np.asarray(theta, dtype=float)).any():
        # as R's svrVar: replicates whose estimate is undefined (e.g. a replicate that gives
        # zero weight to every row of a domain) are discarded, with a warning
        import warnings

        from socialhealth.errors import SocialHealthWarning

        warnings.warn(
            f"{int(bad.sum())} replicates gave NA results and were discarded (as R's svrVar); "
            "the variance uses the other replicates. A replicate-weight column that is zero for "
            "every row (of the domain) usually means the replicate weights are damaged.",
            SocialHealthWarning, stacklevel=user_stacklevel(),
        )
        reps, rscales = reps[~bad], rscales[~bad]
    centre = np.asarray(theta, dtype=float) if mse else reps.mean(axis=0)
    dev = reps - centre
    dev = dev * np.sqrt(rscales)[:, None]
    return scale * (dev.T @ dev)
