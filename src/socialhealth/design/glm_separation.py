"""Existence checks of the survey GLM estimate: separation and boundary fits.

Decides after an IRLS fit (:mod:`socialhealth.design.irls`) whether the maximum
(pseudo-)likelihood estimate exists, with the linear programmes of
:mod:`socialhealth.design._separation`, and raises :class:`SeparationError` or
:class:`ModelError` naming the coefficients involved.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from socialhealth.errors import ModelError, SeparationError

if TYPE_CHECKING:
    from socialhealth.design.glm_families import _Family, _Link
    from socialhealth.design.irls import _Fit


def _moving(fit: _Fit, X) -> bool:
    """Whether the last IRLS step still moved a linear predictor by more than 1e-3.

    Along a separating direction every Newton step moves the separated rows' ``eta`` by about
    1 (the log-likelihood's tail is exponential), however the covariates are scaled; a fit
    that really converged moves it by ~sqrt(tol) at most.
    """
    if not fit.converged or fit.step is None:
        return True
    return bool(np.max(np.abs(X @ fit.step)) > 1e-3)


def _check_separation(fit: _Fit, fam: _Family, lk: _Link, X, y, pw, names) -> None:
    """Raise if the maximum (pseudo-)likelihood estimate does not exist.

    Binomial with log/identity link: fitted probabilities on the boundary (ModelError).
    Binomial with logit/probit/cloglog link and poisson with log link: when the fit looks
    suspect (not converged, or fitted probabilities within 1e-4 of 0 or 1 -- fitted means
    below 1e-4 of the mean count for zero counts -- while the last step still moved a linear
    predictor, see :func:`_moving`), the data
    decide by a linear programme (:mod:`socialhealth.design._separation`): complete or
    quasi-complete separation, or zero counts that drive a coefficient to minus infinity,
    raise :class:`SeparationError` naming the coefficients involved. Rows with zero weight are
    left out of that check.
    """
    from socialhealth.design import _separation

    mu = fit.mu
    if fam.name == "binomial":
        edge = (mu < 1e-10) | (mu > 1 - 1e-10)
        if lk.name in ("log", "identity"):
            if edge.any():
                raise ModelError(
                    f"the binomial model with {lk.name} link has fitted probabilities at 0 or 1 "
                    f"for {int(edge.sum())} row(s): the estimate lies on the boundary of the "
                    f"parameter space "
                    "(R: 'algorithm stopped at boundary value'), so its standard errors are not "
                    "valid. Use the logit link (odds ratios), or a poisson model with log link for "
                    "prevalence ratios (Zou 2004, modified Poisson)."
                )
            return
        near = (mu < 1e-4) | (mu > 1 - 1e-4)
        if fit.converged and not (near.any() and _moving(fit, X)):
            return
        pos = pw > 0
        direction = _separation.binary_separation(X[pos], y[pos], names)
        if direction is not None and direction.names == ["Intercept"]:
            raise SeparationError(
                f"the outcome takes a single value (all {int(y[pos][0] > 0.5)}) among the "
                f"{int(pos.sum())} rows used, so no model can be fitted (the intercept goes to "
                f"{'+' if direction.signs[0] > 0 else '-'}infinity). Check the outcome coding and "
                "the subset."
            )
        if direction is not None:
            raise _separation_error(
                direction,
                f"perfect or quasi-complete separation: {' / '.join(direction.names)} predict(s) "
                f"the outcome perfectly for {direction.n_rows} row(s), so the maximum "
                f"(pseudo-)likelihood estimate does not exist and {direction.describe()} (R "
                "glm: 'fitted probabilities numerically 0 or 1 occurred'). Merge sparse "
                "categories, drop or recode the predictor, or use a penalised (Firth) model."
            )
        # not separated in exact arithmetic, but the fit still runs to the edge with moving
        # coefficients (a separated fit meets the deviance criterion while its coefficients
        # grow by ~1 per iteration); an extreme but converged fitted probability (a far-out
        # covariate value) is not separation, even when its last step still moved a
        # coefficient by more than rounding (R's deviance criterion stops the quadratic
        # convergence with steps of ~1e-3 in eta; a separated fit's steps are ~1)
        if edge.any() and (not fit.converged or fit.step is None
                           or np.max(np.abs(X @ fit.step)) > 0.1):
            big = [f"{n} = {b:.3g}" for n, b in zip(names, fit.beta, strict=True) if abs(b) > 10]
            raise SeparationError(
                f"nearly separated data: fitted probabilities are numerically 0 or 1 for "
                f"{int(edge.sum())} row(s) and the coefficients keep moving"
                f"{' (' + ', '.join(big) + ')' if big else ''}, so the estimates are not "
                "usable. Check for a predictor (or category) that almost perfectly predicts the "
                "outcome; merge sparse categories, drop the predictor, or use a penalised (Firth) "
                "model."
            )
    elif fam.name == "poisson" and lk.name == "log":
        zero = y <= 0
        small = mu[zero] < (1e-4 * float(np.mean(y)) if np.any(y > 0) else np.inf)
        if not zero.any() or (fit.converged and not (np.any(small) and _moving(fit, X))):
            return
        pos = pw > 0
        direction = _separation.poisson_nonexistence(X[pos], y[pos], names)
        if direction is not None and not np.any(y[pos] > 0):
            raise SeparationError(
                f"every count is 0 among the {int(pos.sum())} rows used, so the poisson model "
                "cannot be fitted (the fitted means go to 0). Check the outcome and the subset."
            )
        if direction is not None:
            raise _separation_error(
                direction,
                f"the poisson model's estimate does not exist: {' / '.join(direction.names)} "
                f"pick(s) out {direction.n_rows} row(s) whose counts are all zero, so their "
                f"fitted means go to 0 and {direction.describe()} (R glm reports a huge "
                "coefficient and standard error instead). Merge the category with zero counts "
                "into another, drop those rows or the predictor."
            )


def _separation_error(direction, message: str) -> SeparationError:
    """A SeparationError whose ``terms`` (the coefficients that diverge) and ``n_rows`` (the
    rows they predict perfectly) let a report say it in words."""
    err = SeparationError(message)
    err.terms = list(direction.names)
    err.n_rows = int(direction.n_rows)
    return err
