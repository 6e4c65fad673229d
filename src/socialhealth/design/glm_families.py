"""Families and links of the survey GLM (:func:`socialhealth.design.glm.glm`).

The link functions (``LINKS``: g, its inverse and dmu/deta) and the quasi-likelihood
families (``FAMILIES``: variance function, unit deviance, starting values, outcome checks) as
R's ``binomial``/``quasibinomial``, ``poisson``/``quasipoisson``, ``gaussian`` and ``Gamma``
(McCullagh & Nelder 1989, ch. 2). Formulas: see :mod:`socialhealth.design.glm`.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special, stats

from socialhealth._text import show, show_given
from socialhealth.errors import ModelError

_EPS = np.finfo(float).eps


# ----------------------------------------------------------------------------- links
class _Link:
    """A link function g with inverse and derivative dmu/deta."""

    def __init__(self, name, link, linkinv, mu_eta, valid_eta=None):
        self.name = name
        self.link = link
        self.linkinv = linkinv
        self.mu_eta = mu_eta
        # a finite sum means every value is finite (one reduction instead of a boolean pass)
        self.valid_eta = valid_eta or (lambda eta: bool(np.isfinite(np.sum(eta))))


def _logit_inv(eta):
    # R's plogis with eta clamped so that mu stays in [eps, 1 - eps]
    thresh = 30.0
    return special.expit(np.clip(eta, -thresh, thresh))


def _logit_mu_eta(eta):
    e = np.exp(-np.abs(eta))
    return np.maximum(e / (1 + e) ** 2, _EPS)


def _probit_inv(eta):
    thresh = -stats.norm.ppf(_EPS)
    return special.ndtr(np.clip(eta, -thresh, thresh))


LINKS = {
    "identity": _Link("identity", lambda mu: mu, lambda eta: eta, lambda eta: np.ones_like(eta)),
    "log": _Link("log", np.log, lambda eta: np.maximum(np.exp(eta), _EPS),
                 lambda eta: np.maximum(np.exp(eta), _EPS)),
    "logit": _Link("logit", special.logit, _logit_inv, _logit_mu_eta),
    "probit": _Link("probit", special.ndtri, _probit_inv,
                    lambda eta: np.maximum(stats.norm.pdf(eta), _EPS)),
    "cloglog": _Link("cloglog", lambda mu: np.log(-np.log1p(-mu)),
                     lambda eta: np.clip(-np.expm1(-np.exp(eta)), _EPS, 1 - _EPS),
                     lambda eta: np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)),
    "inverse": _Link("inverse", lambda mu: 1 / mu, lambda eta: 1 / eta, lambda eta: -1 / eta**2,
                     lambda eta: bool(np.all(np.isfinite(eta)) and np.all(eta != 0))),
    "sqrt": _Link("sqrt", np.sqrt, lambda eta: eta**2, lambda eta: 2 * eta,
                  lambda eta: bool(np.all(np.isfinite(eta)) and np.all(eta > 0))),
}


# ----------------------------------------------------------------------------- families
def _ylogy(y, mu):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)


class _Family:
    """Variance function, unit deviance and starting values of a (quasi-)likelihood family."""

    def __init__(self, name, r_name, variance, dev_resids, mustart, valid_mu, check_y,
                 default_link, links):
        self.name = name
        self.r_name = r_name
        self.variance = variance
        self.dev_resids = dev_resids
        self.mustart = mustart
        self.valid_mu = valid_mu
        self.check_y = check_y
        self.default_link = default_link
        self.links = links


def _binomial_dev(y, mu, w):
    return 2 * w * (_ylogy(y, mu) + _ylogy(1 - y, 1 - mu))


def _poisson_dev(y, mu, w):
    return 2 * w * (_ylogy(y, mu) - (y - mu))


def _gamma_dev(y, mu, w):
    # R Gamma()$dev.resids: -2 w (log(y/mu) - (y - mu)/mu), with y log y = 0 at y = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.where(y > 0, np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return -2 * w * (ly - (y - mu) / mu)


def _check_gamma_y(y):
    bad = ~(y > 0)
    if bad.any():
        raise ModelError(
            f"family='Gamma' needs a positive outcome; {int(bad.sum())} value(s) are zero or "
            f"negative (e.g. {show(y[bad][0])}). Drop those rows with design.subset(...) or model "
            "a transformed outcome."
        )


def _check_binomial_y(y):
    bad = (y < 0) | (y > 1)
    if bad.any():
        raise ModelError(
            f"family='binomial' needs a 0/1 (or proportion) outcome; {int(bad.sum())} value(s) lie "
            f"outside [0, 1] (e.g. {show(y[bad][0])}). Build an indicator, "
            "e.g. 'I(score >= 4) ~ ...'."
        )


def _check_poisson_y(y):
    bad = y < 0
    if bad.any():
        raise ModelError(f"family='poisson' needs a non-negative outcome; {int(bad.sum())} "
                         f"value(s) are negative.")


FAMILIES = {
    "gaussian": _Family(
        "gaussian", "gaussian", lambda mu: np.ones_like(mu), lambda y, mu, w: w * (y - mu) ** 2,
        lambda y, w: y.copy(), lambda mu: bool(np.all(np.isfinite(mu))), lambda y: None,
        "identity", ("identity", "log", "inverse"),
    ),
    "binomial": _Family(
        "binomial", "quasibinomial", lambda mu: mu * (1 - mu), _binomial_dev,
        lambda y, w: (w * y + 0.5) / (w + 1), lambda mu: bool(np.all((mu > 0) & (mu < 1))),
        _check_binomial_y, "logit", ("logit", "log", "identity", "probit", "cloglog"),
    ),
    "poisson": _Family(
        "poisson", "quasipoisson", lambda mu: mu.copy(), _poisson_dev,
        lambda y, w: y + 0.1, lambda mu: bool(np.all(np.isfinite(mu) & (mu > 0))),
        _check_poisson_y, "log", ("log", "identity", "sqrt"),
    ),
    "gamma": _Family(
        "gamma", "Gamma", lambda mu: mu * mu, _gamma_dev,
        lambda y, w: y.copy(), lambda mu: bool(np.all(np.isfinite(mu) & (mu > 0))),
        _check_gamma_y, "inverse", ("inverse", "log", "identity"),
    ),
}
#: The ``family=`` values of :func:`glm` (case-insensitive; also "logistic", "normal", "linear").
Family = Literal["gaussian", "binomial", "poisson", "Gamma", "gamma", "quasibinomial",
                 "quasipoisson"]
#: The ``link=`` values (which ones a family allows: see :func:`glm`).
Link = Literal["identity", "logit", "log", "inverse", "probit", "cloglog", "sqrt"]
_FAMILY_ALIASES = {"quasibinomial": "binomial", "logistic": "binomial", "quasipoisson": "poisson",
                   "normal": "gaussian", "linear": "gaussian"}


def _resolve_family(family: str, link: str | None) -> tuple[_Family, _Link]:
    key = str(family).lower()
    key = _FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise ModelError(
            f"family={show_given(family)} is not supported; use 'gaussian', 'binomial' "
            "(quasibinomial), 'poisson' (quasipoisson) or 'Gamma'."
        )
    fam = FAMILIES[key]
    lk = fam.default_link if link is None else str(link).lower()
    if lk not in fam.links:
        raise ModelError(
            f"link={show_given(link)} is not available for family={fam.name!r}; choose one of "
            f"{', '.join(fam.links)}."
        )
    return fam, LINKS[lk]
