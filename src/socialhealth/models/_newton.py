"""Newton-Raphson with step halving for the likelihoods maximised here (ordinal and
multinomial models): the loop, its stopping rule and its report of how it ended."""
from __future__ import annotations

from typing import Callable

import numpy as np

from socialhealth._text import show_given
from socialhealth.errors import ModelError


def check_controls(max_iter, tol) -> None:
    """``max_iter`` a whole number >= 1 and ``tol`` a number >= 0, or a ModelError naming the
    argument (a string such as max_iter="10" would fail deep in the loop)."""
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise ModelError(f"max_iter, the most Newton iterations, must be a whole number >= 1 "
                         f"(e.g. 100), not {show_given(max_iter)}.")
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.number)) \
            or not 0 <= tol < 1:
        raise ModelError(f"tol, the convergence tolerance, must be a number between 0 and 1 "
                         f"(e.g. 1e-12), not {show_given(tol)}.")


def newton_ascent(loglik: Callable[[np.ndarray], float],
                  score_info: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                  theta: np.ndarray, tol: float, max_iter: int):
    """Maximise ``loglik`` from ``theta`` by Newton steps ``I^{-1} U`` (``score_info(theta)``
    gives the score ``U`` and the information ``I``), halving a step (up to 60 times) until
    the log-likelihood does not fall.

    Stops when the log-likelihood changes by at most ``tol`` (relative, at least absolute 1)
    and no parameter moves by more than ``1e-7 (1 + max |theta|)``.

    Returns ``(theta, loglik, iterations, status, path)``; ``status`` is ``"converged"``,
    ``"max_iter"``, ``"singular"`` (the information cannot be solved) or ``"halving"`` (no
    step length raised the log-likelihood); ``path`` holds ``(theta, loglik)`` per iterate.
    """
    check_controls(max_iter, tol)
    ll = loglik(theta)
    path = [(theta, ll)]
    for it in range(1, max_iter + 1):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            U, info = score_info(theta)
        try:
            step = np.linalg.solve(info, U)
        except np.linalg.LinAlgError:
            return theta, ll, it, "singular", path
        if not np.all(np.isfinite(step)):
            return theta, ll, it, "singular", path
        for _ in range(60):
            new = theta + step
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll_new = loglik(new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        else:
            return theta, ll, it, "halving", path
        done = (abs(ll_new - ll) <= tol * max(abs(ll_new), 1.0)
                and np.max(np.abs(new - theta)) <= 1e-7 * (1 + np.max(np.abs(new))))
        theta, ll = new, ll_new
        path.append((theta, ll))
        if done:
            return theta, ll, it, "converged", path
    return theta, ll, max_iter, "max_iter", path
