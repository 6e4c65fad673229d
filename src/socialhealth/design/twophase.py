"""Two-phase (double) sampling designs, e.g. case-cohort and two-phase case-control studies
(R ``twophase``).

A phase-1 sample (element sampling, e.g. a whole cohort, or a stratified and/or cluster sample,
see "Stratified and clustered phase 1" below) is observed on cheap variables;
a phase-2 subsample, drawn by stratified simple random sampling without replacement *within
the phase-1 sample* (strata defined by phase-1 variables, e.g. case status and institution),
is observed on the expensive ones. With ``n1_h`` phase-1 and ``n2_h`` phase-2 rows in phase-2
stratum ``h``, the phase-2 inclusion probability is ``pi2_i = n2_h / n1_h`` and the analysis
weight ``w_i = w1_i / pi2_i`` (``w1_i`` = phase-1 weight, 1 by default).

Every estimate is reduced, as in ``socialhealth.design.taylor_variance``, to weighted
influence values ``Z_i = w_i u_i`` on the phase-2 rows (the estimate behaves like
``sum_i Z_i``). Its variance is the sum of a phase-1 and a phase-2 term (the conditioning
argument of Sarndal, Swensson & Wretman 1992, section 9.3; Breslow & Chatterjee 1999;
Lumley 2010, ch. 8):

* **phase 2** (stratified SRS without replacement from the phase-1 sample):

      V2 = sum_h (1 - n2_h/n1_h) n2_h/(n2_h - 1) sum_{i in h} (Z_i - Zbar_h)(Z_i - Zbar_h)^T

  (strata sampled completely, ``n2_h = n1_h``, e.g. all cases of a case-cohort study,
  contribute 0).

* **phase 1**, estimated from the phase-2 rows, with the phase-1 design taken as sampling
  from an infinite population (R: phase 1 without ``fpc``/``probs``), so ``y_i = w1_i u_i =
  pi2_i Z_i`` are its weighted influence values:

  - ``method="full"`` (R's default since survey 3.15; the phase-1 term of Sarndal et al. 9.3,
    ``sum_{k,l in s2} (Delta1_kl / pi1_kl) y_k y_l / pi2_kl``, for independent (Poisson-type)
    phase-1 selection with probabilities ``pi1``, so ``Delta1_kl / pi1_kl = 1 - pi1_k`` for
    ``k = l`` and 0 otherwise):
    ``V1 = sum_{i in s2} (1 - pi1_i) y_i y_i^T / pi2_i = sum_{i in s2} (1 - pi1_i) pi2_i
    Z_i Z_i^T``, with ``pi1 = 0`` (an infinite population) unless ``phase1_probs=`` is given.
    It does not centre the influence values, so without ``phase1_probs`` the variance of a
    *total* is that of an infinite-population phase 1 (R documents that population totals
    are not correctly estimated then); means, ratios and regression coefficients are
    correct.
  - ``method="approx"`` (= ``"simple"``; R's calculation of survey 3.14 and earlier, exact
    for SRS at phase 1 and stratified SRS at phase 2): the with-replacement phase-1 variance
    ``n1/(n1-1) sum_{i in s1} (y_i - ybar)(y_i - ybar)^T`` with its sums over the phase-1
    sample estimated by ``1/pi2``-weighted sums over the phase-2 sample:
    ``V1 = n1/(n1-1) sum_{i in s2} (y_i - ybar)(y_i - ybar)^T / pi2_i``,
    ``ybar = sum_{s2} y_i/pi2_i / n1`` (``= sum_{s2} y_i/pi2_i / sum_{s2} 1/pi2_i``, since
    ``sum_{s2} 1/pi2_i = n1``, unless calibrated to another phase-1 size).

Both are checked against R survey 4.1-1 (``tests/fixtures/twophase``): means, totals, ratios,
domain estimates and phase contributions to 1e-8, svyglm coefficients and standard errors at
R's convergence tolerance, and ``var``, ``proportion`` (logit), ``quantile``, ``ttest``,
``chisq`` (R's ``svychisq`` fails on ``method="full"`` designs; checked with ``"approx"``) and
the design effect (``method="full"``; R reports a design effect of 0 for ``"approx"``
designs, here it is the variance over the SRS variance as for every design).

Domain estimates (``by=``, :meth:`~socialhealth.design.DesignBase.subset`) set the influence
values to 0 outside the domain, as for :class:`~socialhealth.design.SurveyDesign`. For domain
means (both methods) and domain totals with ``method="full"`` that is what R's
``svyby``/``subset`` give. For domain totals with ``method="approx"``, R's ``subset()`` of a
``twophase`` object gives another phase-1 term; the value here equals R's total of the
zero-recoded variable,
``svytotal(~I(y * (stage == 1)), design)``. R's ``svyby(..., covmat = TRUE)`` reports zero
covariances between the domains of a two-phase design; here they are the linearisation
covariances (the variances agree).

Calibration of the phase-2 weights to the phase-1 totals (:meth:`TwoPhaseDesign.calibrate`,
R ``calibrate(design, formula, phase = 2, calfun = ...)``; Breslow et al. 2009) uses the
calibration engine of :mod:`socialhealth.design.calibration` on the conditional phase-2
weights: ``1/pi2_i`` becomes ``g_i/pi2_i`` with ``sum_{s2} g_i x_i / pi2_i = T`` (default
``T = sum_{s1} x_i``, the phase-1 totals), and the analysis weights ``w1_i g_i / pi2_i``.
The phase-2 term is then computed on the GREG residuals of ``Z`` (``Z_i - (g_i/pi2_i)
x_i' b``, ``b`` the least-squares fit of ``Z_i pi2_i/g_i`` on ``x_i`` with weights ``1/pi2_i``),
the phase-1 term on ``Z`` itself, with ``pi2`` (``"full"``) or the calibrated ``pi2_i/g_i``
(``"approx"``). Checked against R survey 4.1-1 (``tests/fixtures/twophase``,
``make_twophase_calibration.R``) for linear, raking and logit calibration, both methods and
phase-1 weights, at 1e-8 (glm at R's convergence tolerance), with two documented
differences, both for ``method="full"`` only: domain estimates of a calibrated design (R's
``subset()``/``svyby`` drop the phase-2 covariances between pairs of out-of-domain rows,
although their calibration residuals are not 0; the value here equals R's
``svyratio(~I(y * d), ~I(d), design)`` and R's ``svyby`` for ``"approx"``), and a design
calibrated twice (R's phase-2 term uses the residuals of the last calibration only; here
the second calibration's residuals are taken of the first's, as R does for ``"approx"``
designs and for ``svydesign`` objects).

Stratified and clustered phase 1 (``phase1_strata=``, ``phase1_psu=``, ``phase1_fpc=``; R
``twophase(id = list(~psu, ~1), strata = list(~st, ~s2), fpc = list(~N, NULL), ...)``;
one phase-1 stage). Both methods are quadratic forms of the phase-1 design,
``Q(Z) = sum_{k,l} D_kl Z_k Z_l'``, estimated from the phase-2 rows:

* ``method="full"`` (the double sum of Sarndal et al. 9.3 over phase-2 pairs,
  ``sum_{k,l in s2} D_kl Z_k Z_l' pi2_k pi2_l / pi2_kl``, with ``D_kl = Delta1_kl / pi1_kl``
  and the exact joint phase-2 probabilities of stratified SRS, ``pi2_kl = n2_h (n2_h - 1) /
  (n1_h (n1_h - 1))`` in the same phase-2 stratum; Chen & Lumley 2020):

  - with ``phase1_fpc=`` (PSUs, or rows, drawn by stratified SRS without replacement, ``n_h``
    of ``N_h``; weights ``N_h / n_h``): ``Q`` is the stratified without-replacement variance
    of :func:`~socialhealth.design.taylor_variance.taylor_vcov` (``D_kk = 1 - f_h``,
    ``D_kl = 1 - f_h`` in the same PSU, ``-(1 - f_h)/(n_h - 1)`` in two PSUs of a stratum);
  - with ``phase1_probs=`` and no fpc (independent, Poisson-type selection of PSUs with
    probabilities ``pi1``, constant within a PSU): ``D_kl = 1 - pi1`` for two rows of the
    same PSU, 0 otherwise; phase-1 strata play no part;
  - the term is computed as ``Q(Z) + sum_h (c_h - 1) Q(Z 1_h) + sum_k (pi2_k - c_h) D_kk
    Z_k Z_k'``, ``c_h = n2_h (n1_h - 1) / (n1_h (n2_h - 1))`` (``pi2_k pi2_l / pi2_kl`` in
    stratum ``h``), i.e. one ``taylor_vcov`` per phase-2 stratum;
  - phase-1 strata of rows without fpc or probabilities leave the phase-1 term unchanged
    (R's ``twophase2`` does not centre it within strata; conservative);
  - this estimated term need not be positive semi-definite: where the variance of an
    estimate comes out negative (e.g. a total with few PSUs), its standard error is NaN with
    a :class:`~socialhealth.errors.SocialHealthWarning`, as R's is NaN (it was reported as 0
    before; ``tests/design/test_fuzz_pps_twophase_vs_r.py``).

* ``method="approx"`` (rows only, no ``phase1_psu``): the element formula above within each
  phase-1 stratum ``h`` with ``n1_h`` rows, ``(1 - f_h) n1_h/(n1_h - 1) sum_{i in s2, h}
  (y_i - ybar_h)^2 / pi2_i``, ``ybar_h = sum_{s2, h} y_i / pi2_i / n1_h``. Without
  phase-2 strata, ``pi2_i`` in this term (and in ``y_i = pi2_i Z_i``) is the share of the
  phase-1 stratum's units (rows, or PSUs with ``phase2_psu``) in phase 2, ``n2_h / n1_h``,
  as R's ``twophase()$usu`` (divided by ``g`` after calibration, and by ``g = pi2 /
  pihat2`` after :meth:`TwoPhaseDesign.estimate_weights`); the weights and the phase-2 term
  keep the overall ``n2 / n1``. Checked against R
  (``tests/design/fixtures/estweights/make_estweights_phase1.R``).

Checked against R survey 4.1-1 (``make_twophase_phase1.R``: 60 clusters in 6 strata) at 1e-8
(svyglm 1e-7), with calibration (``phase=2``) of a stratified cluster design, and against
the double sum written out by hand. Two documented differences from R:

* ``method="full"`` with phase-1 strata sampled without replacement (``phase1_fpc``) whose
  numbers of sampled PSUs (or rows) differ: R's ``twophase2`` takes the joint inclusion
  probability of two units of stratum ``h`` with the *first* stratum's sample size,
  ``D_kl = -(1 - f_h)/(n_1 - 1)`` (visible in its ``design$dcheck$phase1``), so its phase-1
  term differs (by 2.6% in the test with 6 to 10 PSUs per stratum); here it is
  ``-(1 - f_h)/(n_h - 1)``. With equal ``n_h`` both agree.
* domain means of ``"approx"`` designs with phase-1 strata: R's ``subset()``/``svyby``
  change the phase-1 term; the value here equals R's ``svyratio(~I(y * d), ~I(d), design)``.

Refused, with the reason (:class:`~socialhealth.errors.DesignError`): ``phase1_psu`` with
``method="full"`` but neither ``phase1_fpc`` nor ``phase1_probs`` (R's ``twophase2`` then
ignores the clusters altogether and gives the element-sample phase-1 term, which understates
the variance of a cluster sample); ``phase1_psu`` with ``method="approx"`` (R's approximation
takes the share of a stratum's phase-1 clusters with phase-2 rows as their phase-2
probability, i.e. treats the clusters as the phase-2 sampling units, not the row subsample
drawn here); ``phase1_fpc`` together with
phase-1 weights or probabilities; multistage phase-1 samples (R's ``twophase(id =
list(~psu + ssu, ~1), fpc = list(~N1 + N2, NULL), method = "approx")`` takes each PSU's
phase-2 probability from its first row, so its phase-1 term changes with the order of the
rows: 0.0442 and 0.0490 for the same data in ``make_twophase_lonely.R``; with whole PSUs at
phase 2, ``id = list(~psu + ssu, ~psu)``, its second-stage term centres the PSU's
phase-1-weighted SSU totals at the mean of the phase-2-weighted ones, which leaves a term
``(1 - pi2)^2`` times the squared mean, as for a lonely stratum below).

Strata with a single unit (``lonely_psu=``, R ``options(survey.lonely.psu = ...)``). A
phase-1 stratum with a single PSU (or row) wherever the phase-1 strata enter the variance
(``phase1_fpc``, or ``method="approx"``), and a phase-2 stratum with a single phase-2 row (or
cluster) out of several, raise :class:`~socialhealth.errors.LonelyPSUError` unless
``lonely_psu=`` is given; the options mean what they mean for
:class:`~socialhealth.design.SurveyDesign` (:mod:`socialhealth.design.taylor_variance`, whose
code is used), applied to the phase-1 quadratic form ``Q`` and to the phase-2 term:

* ``"adjust"``: the lonely unit is centred at 0 instead of its stratum mean, with scale
  ``1 - f_h`` (phase 1: ``D_kk = 1 - f_h`` for the rows of the lonely PSU, ``(1 - f_h) y^2 /
  pi2`` in the approx term; phase 2: ``(1 - 1/n1_h) E^2``);
* ``"remove"`` / ``"certainty"``: the stratum adds nothing to that phase's term;
* ``"average"``: as ``"remove"``, times ``H / H_ok`` per estimate (``H`` strata of that phase
  with non-zero phase-2 values of the estimate, ``H_ok`` of them not lonely).

What R survey 4.1-1 does (``make_twophase_lonely.R``: means, totals, ratios and phase terms
checked at 1e-8, svyglm at 1e-7, with phase-2 rows or whole PSUs, and after
``calibrate(phase = 2)``):

* ``method="full"`` (R's ``twophase2``) ignores the option at both phases and never stops:
  its phase-1 term is the Horvitz-Thompson double sum, in which a lonely PSU keeps its own
  term ``D_kk = 1 - f_h``, and its phase-2 term keeps ``(1 - 1/n1_h) E^2`` of a lonely
  phase-2 row, i.e. ``"adjust"`` here, which equals R whatever R's option. ``"remove"`` and
  ``"average"`` keep their meaning here (the user chose them; the double sum of Sarndal et
  al. has no term for the missing pairs of a single-unit stratum, so any value is a choice),
  checked by hand; the default still raises, so that the choice is made. The full phase-1
  term of one PSU, estimated from its phase-2 rows, can be negative (``pi2_k pi2_l /
  pi2_kl > pi2_k`` for two rows of one phase-2 stratum), so ``"remove"`` can give a larger
  variance than ``"adjust"``.
* ``method="approx"``/``"simple"``: R follows the option; ``"adjust"`` and ``"average"``
  equal R, at both phases, and ``"remove"``/``"certainty"`` at phase 2. At phase 1 R's
  ``"remove"``/``"certainty"`` are not consistent: R centres the lonely unit at itself
  *before* multiplying by ``pi2``, so the stratum still adds ``f (1 - pi2)^2 Z^2 / pi2``
  (neither 0 nor R's own ``"average"`` before its ``H / H_ok`` factor). Here the stratum adds
  0 (the documented meaning of "remove"), which is R's ``"average"`` times ``H_ok / H``.
* A lonely phase-1 row outside phase 2 adds nothing with any option (no phase-2 rows to
  estimate its stratum from; R does not see the stratum either), but the default still raises.

Clusters at phase 2 (``phase2_psu=``; R ``id = list(~psu, ~psu2)``, stratified SRS of
clusters ``j`` within the phase-1 sample, ``pi2_j = m2_h / m1_h`` out of ``m1_h`` clusters of
phase-2 stratum ``h``; needs ``phase1_psu``, the clusters nested in the phase-1 PSUs): the
phase-2 term is the formula above on the cluster totals ``T_j`` of ``Z``; the full phase-1
term keeps its form with ``c_h = m2_h (m1_h - 1) / (m1_h (m2_h - 1))`` and the same-unit term
``sum_j (pi2_j - c_h) D_j T_j T_j'`` (two rows of one cluster lie in one phase-1 PSU, so
``D_kl = D_j``); the approx term (phase-2 clusters = phase-1 PSUs only) is the approx formula
above on the PSU totals ``y_i = pi2_i T_i`` (after calibration, ``pi2/g`` of the cluster's
first row, as R). Checked against R survey 4.1-1 for both methods, with phase-1 fpc or
probabilities, with clusters nested in the phase-1 PSUs, and with calibration.

Not implemented (a :class:`~socialhealth.errors.DesignError` says so): clusters at phase 2
of a phase-1 element sample, calibration of the phase-1 weights (``calibrate(phase=1)``;
not in R survey 4.1-1 either),
``post_stratify`` and ``rake`` (R refuses them too; ``calibrate("~C(v)")`` and
``calibrate("~C(a) + C(b)", calfun="raking")`` give those weights), ``standardize`` and
``trim_weights``.

References
----------
Sarndal CE, Swensson B, Wretman J (1992) *Model Assisted Survey Sampling*, Springer, §9.3.
Breslow NE, Chatterjee N (1999) Design and analysis of two-phase studies with binary outcome
applied to Wilms tumour prognosis. Applied Statistics 48:457-468.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*, Wiley, ch. 8 and 10.
Deville JC, Sarndal CE (1992) Calibration estimators in survey sampling. JASA 87:376-382.
Breslow NE, Lumley T, Ballantyne CM, Chambless LE, Kulich M (2009) Using the whole cohort in
the analysis of case-cohort data. Am J Epidemiol 169:1398-1405; Improved Horvitz-Thompson
estimation of model parameters from two-phase stratified samples: applications in
epidemiology. Stat Biosci 1:32-49.
Chen T, Lumley T (2020) Optimal multiwave sampling for regression modeling in two-phase
designs. Statistics in Medicine 39:4912-4921 (two-phase variance of the survey package).
"""
from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import r_number, show, show_given, show_list
from socialhealth.design.base import DesignBase
from socialhealth.design.structure import (as_list, check_data_frame, design_frame,
                                           require_columns)
from socialhealth.design.taylor_variance import DomainColumns, average_boost, group_sum
from socialhealth.errors import DesignError, LonelyPSUError, WeightError

if TYPE_CHECKING:
    from socialhealth.design.calibration import Calfun, OnNonconvergence

METHODS = ("full", "approx", "simple")


def _phase2_indicator(data: pd.DataFrame, subset) -> np.ndarray:
    """The phase-2 membership as a boolean array (column name, query string or array)."""
    label = repr(subset) if isinstance(subset, str) else "subset="
    if isinstance(subset, str):
        if subset in data.columns:
            values = data[subset]
        else:
            try:
                values = data.eval(subset)
            except Exception as exc:  # pandas raises several types
                raise DesignError(
                    f"subset={subset!r} is neither a column of the data nor a condition on its "
                    f"columns ({exc}). Give the logical column that marks the phase-2 rows, "
                    "e.g. subset=\"in_phase2\", or a condition such as "
                    "\"in_subcohort | (rel == 1)\"."
                ) from None
    else:
        values = subset
    if isinstance(values, pd.Series):
        if not values.index.equals(data.index):
            raise DesignError(f"the subset Series {label} is not aligned with the data (its "
                              "index differs); pass a column name or a plain boolean array.")
        values = values.to_numpy()
    values = np.asarray(values)
    if values.shape != (len(data),):
        raise DesignError(f"subset {label} has shape {values.shape}, but the data has "
                          f"{len(data)} rows: give one True/False per phase-1 row.")
    if values.dtype == bool:
        return values
    s = pd.Series(values)
    if s.isna().any():
        raise DesignError(
            f"subset {label} is missing for {int(s.isna().sum())} row(s). Every phase-1 row must "
            "be marked True (in phase 2) or False: fill the missing values before building the "
            "design."
        )
    if s.dtype == object:
        if all(isinstance(v, (bool, np.bool_)) for v in s):
            return s.to_numpy(dtype=bool)
    elif pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=bool)
    elif pd.api.types.is_numeric_dtype(s) and set(np.unique(s.to_numpy())) <= {0, 1}:
        return s.to_numpy() == 1
    raise DesignError(
        f"subset {label} must be logical (True/False, or 0/1), but it holds values such as "
        f"{show_list(pd.unique(s), limit=5)}. Build a boolean column, e.g. "
        "df['in_phase2'] = df['in_subcohort'] | (df['rel'] == 1)."
    )


def _check_phase1_options(method, psu, strata, fpc, weights, probs, psu2=None) -> None:
    """Refuse the phase-1 combinations that are not implemented (see the module docstring)."""
    for name, value in (("phase1_psu", psu), ("phase1_strata", strata), ("phase1_fpc", fpc)):
        if value is not None and not isinstance(value, str):
            raise DesignError(
                f"{name}={show_given(value)}: give one column name (a single-stage phase-1 "
                "design); multistage phase-1 samples are not implemented. R's twophase(id = "
                "list(~psu + ssu, ~1), method = 'approx') gives no usable reference: its "
                "phase-1 variance takes each PSU's phase-2 probability from its first row, so "
                "it changes with the order of the rows. Use the first-stage units as "
                "phase1_psu (with phase1_fpc= and method='full', the ultimate-cluster variance "
                "of the first stage)."
            )
    if fpc is not None and (weights is not None or probs is not None):
        raise DesignError(
            "give phase1_fpc= or phase1_weights=/phase1_probs=, not both: with an fpc the "
            "phase-1 weights are N_h / n_h (population over sample units of the phase-1 "
            "stratum), as in R's twophase(fpc = list(~N, NULL))."
        )
    if psu is None:
        return
    if method == "full" and fpc is None and probs is None:
        raise DesignError(
            f"phase1_psu={psu!r} with method='full' needs phase1_fpc= (clusters sampled without "
            "replacement) or phase1_probs= (the clusters' selection probabilities). Without "
            "either, R's twophase(method = 'full') ignores the phase-1 clusters (its phase-1 "
            "variance is that of an element sample), which understates the variance of a "
            "cluster sample, so it is not offered here."
        )
    if method != "full" and psu2 is None:
        raise DesignError(
            f"phase1_psu={psu!r} with method={method!r} is not implemented: R's approximate "
            "two-phase variance (twophase(method = 'approx')) treats the phase-1 clusters as the "
            "phase-2 sampling units (phase-2 probability = share of a stratum's clusters with "
            "phase-2 rows), which is not the element subsample drawn here. Use method='full' "
            "with phase1_fpc= or phase1_probs= (or phase2_psu= if phase 2 sampled whole "
            "phase-1 clusters)."
        )


def _phase2_units(data, psu2, psu1, phase1, codes, in2, method, strata) -> np.ndarray | None:
    """Integer codes of the phase-2 clusters (R ``id = list(~psu, ~psu2)``), validated."""
    if psu2 is None:
        return None
    if not isinstance(psu2, str):
        raise DesignError(f"phase2_psu={psu2!r}: give one column name.")
    if psu1 is None:
        raise DesignError(
            f"phase2_psu={psu2!r} needs phase1_psu= (phase-2 clusters nested in phase-1 "
            "clusters, e.g. the same column). Clusters at phase 2 of a phase-1 element sample "
            "are not implemented (R's twophase(method = 'full') ignores them in its phase-1 "
            "term)."
        )
    from socialhealth.design.structure import combine_codes

    raw, _ = pd.factorize(data[psu2], sort=True)
    if (raw < 0).any():
        raise DesignError(f"phase2_psu column {psu2!r} has {int((raw < 0).sum())} missing "
                          "value(s); every phase-1 row needs its phase-2 cluster.")
    # phase-2 clusters within phase-1 PSUs (codes unique across PSUs)
    unit = combine_codes(phase1.unit, raw)
    first = np.zeros(int(unit.max()) + 1, dtype=np.int64)
    first[unit[::-1]] = np.arange(len(unit))[::-1]
    for name, values in (("the phase-2 membership (subset)", in2),
                         (f"the phase-2 stratum {strata!r}", codes)):
        if (values != values[first[unit]]).any():
            raise DesignError(
                f"{name} varies within a phase-2 cluster of {psu2!r}: phase 2 samples whole "
                "clusters, so every row of a cluster must be in or out of phase 2 together and "
                "in one phase-2 stratum."
            )
    if method != "full":
        same = (len(first) == phase1.n_units
                and (np.bincount(unit, minlength=len(first)) > 0).all())
        if not same:
            raise DesignError(
                f"phase2_psu={psu2!r} with method={method!r}: the approximate phase-1 variance "
                "(R's twophase(method = 'approx')) needs the phase-2 clusters to be the "
                "phase-1 PSUs (phase2_psu = phase1_psu); use method='full' for clusters "
                "within them."
            )
    return unit


class _Phase1:
    """The phase-1 design (one stage: strata, PSUs, fpc) and its variance quadratic form.

    Every phase-1 variance estimator used here is a quadratic form ``Q(Z) = sum_{k,l}
    D_kl Z_k Z_l'`` over the phase-1 rows, applied to phase-2-weighted influence values:

    * with ``fpc``: stratified sampling of PSUs (or elements) without replacement,
      ``Q = taylor_vcov`` of :mod:`socialhealth.design.taylor_variance` (``D_kk = 1 - f_h``);
    * without: independent (Poisson) selection of PSUs (or elements) with probabilities
      ``pi1`` (0: an infinite population), ``Q = sum_units (1 - pi1) T T'`` with ``T`` the
      unit totals (``D_kk = 1 - pi1``); phase-1 strata play no role in it.
    """

    def __init__(self, data, psu, strata, fpc, nest, pi1, probs_col, centred,
                 lonely_psu="fail"):
        from socialhealth.design.structure import build_stages, weights_from_fpc

        self.psu, self.strata, self.fpc = psu, strata, fpc
        self.stages = None
        self.weights = None
        self.lonely_psu = lonely_psu
        n = len(data)
        if psu is None and strata is None and fpc is None:
            self.unit = None                            # element sampling, no strata
            self.unit_pi1 = pi1
            self.n_units = n
            self.simple = True
            self.row_stratum = np.zeros(n, dtype=np.int64)
            self.n_h = np.array([float(n)])
            self.f_h = np.zeros(1)
            self.lonely = np.zeros(1, dtype=bool)
            return
        self.simple = False
        stages = build_stages(data, [psu] if psu else [], [strata] if strata else [],
                              [fpc] if fpc else [], nest)
        st = stages[0]
        self.unit = st.unit
        self.n_units = st.n_psu
        self.row_stratum = st.stratum
        self.n_h = st.n_units
        self.f_h = np.where(np.isfinite(st.pop_units), st.n_units / st.pop_units, 0.0)
        census = self.f_h >= 1 - 1e-7
        lonely = (st.n_units == 1) & ~census
        if not (fpc is not None or centred):
            lonely[:] = False             # the strata play no part in the phase-1 term
        self.lonely = lonely
        if lonely.any() and lonely_psu == "fail":
            unit = "PSU" if psu else "row"
            raise LonelyPSUError(
                f"phase-1 stratum {show(st.stratum_labels[lonely][0])} of {strata!r} has a single "
                f"{unit} ({int(lonely.sum())} such strata), so its phase-1 variance cannot be "
                "estimated. Choose how to handle it with lonely_psu=: 'adjust' (centre the "
                f"{unit} at 0; for method='full' the value of R's twophase), "
                "'average' (the average variance of the other strata), 'remove' or "
                "'certainty' (the stratum adds no phase-1 variance), or merge the stratum with "
                "a neighbouring one. In R: options(survey.lonely.psu = 'adjust')."
            )
        if fpc is not None:
            self.stages = stages
            self.weights = weights_from_fpc(stages)
        # phase-1 selection probability of every unit (Poisson form, without fpc)
        unit_pi1 = np.zeros(self.n_units)
        unit_pi1[self.unit] = pi1
        if psu is not None and probs_col is not None:
            if not np.allclose(unit_pi1[self.unit], pi1, rtol=1e-12, atol=0):
                raise DesignError(
                    f"phase-1 probabilities {probs_col!r} vary within a PSU of {psu!r}; give the "
                    "PSUs' selection probabilities (constant within each PSU)."
                )
        self.unit_pi1 = unit_pi1

    def quadratic(self, Z: np.ndarray) -> np.ndarray:
        """``Q(Z)`` (p x p) for the phase-1 weighted influence values ``Z`` (n x p)."""
        if self.stages is not None:
            from socialhealth.design.taylor_variance import taylor_vcov

            # "average" is "remove" here, scaled by H / H_ok in TwoPhaseDesign (per estimate)
            mode = "adjust" if self.lonely_psu == "adjust" else "remove"
            return taylor_vcov(Z, self.stages, mode if self.lonely.any() else "fail")
        if self.unit is None:
            T = Z
            scale = 1.0 - self.unit_pi1
        else:
            T = group_sum(self.unit, Z, self.n_units)
            scale = 1.0 - self.unit_pi1
        T = T * np.sqrt(scale)[:, None]
        return T.T @ T

    def diagonal(self) -> np.ndarray:
        """``D_kk`` of every phase-1 row (n,)."""
        if self.stages is not None:
            d = np.where(self.lonely & (self.lonely_psu != "adjust"), 0.0, 1.0 - self.f_h)
            return d[self.row_stratum]
        return 1.0 - (self.unit_pi1 if self.unit is None else self.unit_pi1[self.unit])


def _boosted(V: np.ndarray, present: np.ndarray, lonely: np.ndarray) -> np.ndarray:
    """``lonely_psu="average"``: ``V`` (lonely strata left out) times ``H / H_ok`` of each
    estimate (``sqrt`` of the factors of both columns for a covariance), as
    :func:`~socialhealth.design.taylor_variance.average_boost`."""
    b = np.sqrt(average_boost(present, lonely)[0])
    return V * np.outer(b, b)


def _r_formula(formula) -> str:
    """R spelling of a calibration formula (``C(x)`` -> ``factor(x)``), for describe()."""
    if not isinstance(formula, str):
        formula = "~" + " + ".join(str(t) for t in formula)
    text = re.sub(r"\bC\(([^()]+)\)", r"factor(\1)", formula.strip())
    return text if text.startswith("~") else "~" + text


class TwoPhaseDesign(DesignBase):
    """A two-phase design: element sample at phase 1, stratified SRS subsample at phase 2
    (R ``twophase``), e.g. a case-cohort or two-phase case-control study.

    The variance of every estimate is the phase-1 plus the phase-2 variance (formulas in the
    module docstring :mod:`socialhealth.design.twophase`). The design answers the verbs of
    :class:`~socialhealth.design.SurveyDesign` with the same result types, using the phase-2
    rows: ``mean``, ``total``, ``ratio``, ``var``, ``proportion``, ``quantile``, ``ttest``,
    ``chisq``, ``glm``, ``by=`` domains, ``subset``, ``assign``, :meth:`phase_variances`, and
    :meth:`calibrate` (phase-2 weights to the phase-1 totals, R ``calibrate(d, ~x,
    phase = 2, calfun = "raking")``, both methods) and :meth:`estimate_weights` (phase-2
    weights from a logistic model, R ``estWeights``). ``post_stratify`` and ``rake`` raise
    :class:`~socialhealth.errors.DesignError` naming the ``calibrate`` call that gives those
    weights (R refuses them too); ``standardize`` and ``trim_weights`` raise as well.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per phase-1 unit (the whole cohort). Phase-2 variables may be missing (NaN)
        outside phase 2.
    subset : str or boolean array
        Phase-2 membership: a logical (or 0/1) column name, a condition on the columns
        (``"in_subcohort | (rel == 1)"``), or an array with one True/False per row
        (R ``subset = ~in_phase2``).
    strata : str, optional
        Phase-2 stratum column, known for every phase-1 row (R ``strata = list(NULL, ~strat)``).
        Omitted: phase 2 is one simple random sample from the phase-1 sample.
    phase1_weights : str, optional
        Phase-1 sampling weights, only with ``method="approx"`` (R ``weights = list(~w1,
        NULL)``). Default: 1 (a cohort, or SRS from an infinite population).
    phase1_probs : str, optional
        Phase-1 selection probabilities instead of weights (R ``probs = list(~p1, NULL)``);
        ``method="full"`` also uses them in its phase-1 variance (``1 - pi1``).
    method : {"full", "approx", "simple"}, default "full"
        Phase-1 variance estimator, as R's ``method=``: ``"full"`` (R's default) or
        ``"approx"``; ``"simple"`` is the same as ``"approx"`` (as in R).
    phase1_psu : str, optional, keyword only
        Phase-1 cluster (PSU) column (R ``id = list(~psu, ~1)``); ``method="full"`` with
        ``phase1_fpc`` or ``phase1_probs`` (constant within PSUs) only. Phase 2 still samples
        rows within the phase-1 sample.
    phase1_strata : str, optional, keyword only
        Phase-1 stratum column (R ``strata = list(~st, ~s2)``).
    phase1_fpc : str, optional, keyword only
        Phase-1 population size of each stratum: PSUs (with ``phase1_psu``) or rows (R ``fpc =
        list(~N, NULL)``), as ``SurveyDesign(fpc=)`` (sizes or sampling fractions). The
        phase-1 weights are then ``N_h / n_h``; not together with ``phase1_weights`` or
        ``phase1_probs``.
    nest : bool, keyword only, default False
        PSU codes are unique only within phase-1 strata (R ``nest = TRUE``).
    lonely_psu : {"fail", "remove", "adjust", "average", "certainty"}, keyword only, default "fail"
        Strata with a single unit, at phase 1 (a single PSU or row, where the phase-1 strata
        enter the variance) and at phase 2 (a single phase-2 row or cluster out of several),
        as ``SurveyDesign(lonely_psu=)`` (R ``options(survey.lonely.psu=)``). ``"adjust"``
        gives R's value for ``method="full"``, which ignores the option; for
        ``method="approx"`` R's phase-1 ``"remove"`` differs (module docstring: "Strata with a
        single unit").
    phase2_psu : str, optional, keyword only
        Phase 2 samples whole clusters (stratified SRS of clusters within the phase-1
        sample; R ``id = list(~psu, ~psu2)``): the phase-1 PSUs themselves
        (``phase2_psu=phase1_psu``) or clusters nested in them (``method="full"`` only). The
        subset and the phase-2 strata must be constant within a cluster; ``pi2 = m2_h /
        m1_h`` with ``m`` counting clusters, and the degrees of freedom are phase-2 clusters
        minus phase-2 strata (as R).

    Raises
    ------
    DesignError
        The subset is missing, not logical or empty; a stratum value is missing; a stratum
        has phase-1 rows but no phase-2 rows; an unknown method; a phase-1 combination that
        is not implemented (module docstring: PSUs without fpc or probabilities, PSUs with
        ``method="approx"``, ...).
    LonelyPSUError
        Without ``lonely_psu=``: a phase-2 stratum holds a single phase-2 row out of several
        phase-1 rows (its phase-2 variance cannot be estimated), or a phase-1 stratum a
        single PSU (with ``phase1_fpc`` or ``method="approx"``). The message names the
        ``lonely_psu=`` options; or merge the stratum with a neighbouring one.
    NestingError
        A phase-1 PSU code appears in two phase-1 strata without ``nest=True``.
    WeightError
        Phase-1 weights or probabilities missing or not positive.

    Notes
    -----
    The design keeps a shallow copy of ``data`` (no values copied): with pandas copy-on-write
    (pandas >= 3) later in-place edits of your frame do not reach the design, as in R; see
    :class:`~socialhealth.SurveyDesign` for pandas 2.

    References
    ----------
    Sarndal, Swensson & Wretman (1992) *Model Assisted Survey Sampling*, §9.3; Breslow &
    Chatterjee (1999) Applied Statistics 48:457-468; Lumley (2010) *Complex Surveys*, ch. 8.

    Examples
    --------
    A case-cohort study: a random subcohort plus every case, phase-2 strata = case status:

    >>> import numpy as np, pandas as pd
    >>> import socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> cohort = pd.DataFrame({"rel": rng.binomial(1, 0.15, 400),
    ...                        "sub": rng.binomial(1, 0.2, 400) == 1,
    ...                        "age": rng.gamma(2.0, 20.0, 400).round(1)})
    >>> cohort["in_phase2"] = cohort["sub"] | (cohort["rel"] == 1)
    >>> d = sh.TwoPhaseDesign(cohort, subset="in_phase2", strata="rel")
    >>> d
    Two-phase design (phase 1: 400 rows, element sampling; phase 2: 131 rows in 2 strata)
      method: full; degrees of freedom: 129
      In R: twophase(id = list(~1, ~1), strata = list(NULL, ~rel), subset = ~in_phase2, data = df)
    >>> est = d.mean("age")
    >>> print(est.to_frame()[["term", "estimate", "se"]].round(3).to_string())
      term  estimate    se
    0  age    41.982  2.97
    >>> print(d.glm("rel ~ age", family="binomial").to_frame()[["term", "estimate", "se"]]
    ...       .round(4).to_string())
            term  estimate      se
    0  Intercept   -1.9216  0.2688
    1        age   -0.0023  0.0053

    In R: ``d <- twophase(id = list(~1, ~1), strata = list(NULL, ~rel),
    subset = ~in_phase2, data = cohort)``; ``svymean(~age, d)``;
    ``svyglm(rel ~ age, design = d, family = quasibinomial())``.

    A stratified cluster sample at phase 1 (3 of 20 villages in each of 2 districts), a
    stratified subsample of its people at phase 2:

    >>> people = pd.DataFrame({"district": np.repeat([1, 2], 60),
    ...                        "village": np.repeat(np.arange(6), 20),
    ...                        "N_villages": 20,
    ...                        "sick": rng.binomial(1, 0.2, 120)})
    >>> people["bmi"] = rng.normal(27, 4, 120).round(1)
    >>> people["in2"] = (people["sick"] == 1) | (rng.random(120) < 0.3)
    >>> dc = sh.TwoPhaseDesign(people, subset="in2", strata="sick", phase1_psu="village",
    ...                        phase1_strata="district", phase1_fpc="N_villages")
    >>> print(dc.describe())  # doctest: +NORMALIZE_WHITESPACE
    Two-phase design (phase 1: 120 rows, 6 PSUs (village) in 2 strata (district),
    fpc N_villages; phase 2: 48 rows in 2 strata)
      method: full; degrees of freedom: 46
      In R: twophase(id = list(~village, ~1), strata = list(~district, ~sick),
      fpc = list(~N_villages, NULL), subset = ~in2, data = df)
    >>> print(dc.mean("bmi").to_frame()[["term", "estimate", "se"]].round(3).to_string())
      term  estimate     se
    0  bmi    27.894  0.719

    A third district where a single village was sampled: its phase-1 variance cannot be
    estimated, so ``lonely_psu=`` says how to treat it (``"adjust"``: R's value for
    ``method="full"``):

    >>> more = people[people.village == 5].assign(district=3, village=6)
    >>> dl = sh.TwoPhaseDesign(pd.concat([people, more]), subset="in2", strata="sick",
    ...                        phase1_psu="village", phase1_strata="district",
    ...                        phase1_fpc="N_villages", lonely_psu="adjust")
    >>> print(dl.mean("bmi").to_frame()[["term", "estimate", "se"]].round(3).to_string())
      term  estimate     se
    0  bmi    27.262  0.673

    In R: ``options(survey.lonely.psu = "adjust")``; ``svymean(~bmi, twophase(id =
    list(~village, ~1), strata = list(~district, ~sick), fpc = list(~N_villages, NULL),
    subset = ~in2, data = df))``.
    """

    kind = "twophase"

    def __init__(
        self,
        data: pd.DataFrame,
        subset,
        strata: str | None = None,
        phase1_weights: str | None = None,
        phase1_probs: str | None = None,
        method: str = "full",
        *,
        phase1_psu: str | None = None,
        phase1_strata: str | None = None,
        phase1_fpc: str | None = None,
        nest: bool = False,
        phase2_psu: str | None = None,
        lonely_psu: str = "fail",
    ) -> None:
        from socialhealth.design.structure import check_flag, check_lonely_psu

        nest = check_flag(nest, "nest", "TwoPhaseDesign")

        check_data_frame(data, "TwoPhaseDesign")
        data = design_frame(data)     # its own frame, as R (see design_frame)
        if not isinstance(method, str) or method not in METHODS:
            raise DesignError(f"method={show_given(method)} is not one of "
                              f"{', '.join(map(repr, METHODS))} (as R's twophase(method=)); the "
                              "default is 'full'.")
        check_lonely_psu(lonely_psu)
        if len(data) == 0:
            raise DesignError("the data frame has no rows; a two-phase design needs the phase-1 "
                              "sample.")
        if isinstance(strata, (list, tuple)):
            if len(strata) == 2 and strata[0] is None:       # R-style list(NULL, ~strat)
                strata = strata[1]
            elif len(strata) == 1:
                strata = strata[0]
            else:
                raise DesignError(
                    f"strata={strata!r}: give the one phase-2 stratum column (or (None, column) "
                    "as R's strata = list(NULL, ~strat)); phase-1 strata go in phase1_strata=."
                )
        if phase1_weights is not None and phase1_probs is not None:
            raise DesignError("give phase1_weights= or phase1_probs=, not both.")
        if phase1_weights is not None and method == "full":
            raise DesignError(
                "phase1_weights= works only with method='approx' (as R's twophase(weights=)): "
                "method='full' needs the phase-1 selection probabilities, phase1_probs=."
            )
        _check_phase1_options(method, phase1_psu, phase1_strata, phase1_fpc,
                              phase1_weights, phase1_probs, phase2_psu)
        cols = [c for c in (strata, phase1_weights, phase1_probs, phase1_psu, phase1_strata,
                            phase1_fpc, phase2_psu) if c is not None]
        if isinstance(subset, str) and subset in data.columns:
            cols.append(subset)
        require_columns(data, cols, "the data passed to TwoPhaseDesign")
        in2 = _phase2_indicator(data, subset)
        if not in2.any():
            raise DesignError("no row is in phase 2 (the subset is False everywhere); mark the "
                              "phase-2 rows with True.")

        # phase-1 weights
        w1 = np.ones(len(data))
        wcol = phase1_weights or phase1_probs
        if wcol is not None:
            v = pd.to_numeric(data[wcol], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(v) | (v <= 0)
            if bad.any():
                raise WeightError(
                    f"phase-1 {'weights' if phase1_weights else 'probabilities'} {wcol!r} are "
                    f"missing, infinite or not positive in {int(bad.sum())} row(s); every "
                    "phase-1 row needs a positive value."
                )
            if phase1_probs is not None:
                if (v > 1).any():
                    raise WeightError(f"phase-1 probabilities {wcol!r} exceed 1 in "
                                      f"{int((v > 1).sum())} row(s).")
                v = 1.0 / v
            w1 = v

        # phase-1 sampling structure (strata, PSUs, fpc); an fpc gives the weights N_h / n_h
        pi1 = 1.0 / w1 if phase1_probs is not None else np.zeros(len(data))
        phase1 = _Phase1(data, phase1_psu, phase1_strata, phase1_fpc, nest, pi1, phase1_probs,
                         centred=method != "full", lonely_psu=lonely_psu)
        if phase1.weights is not None:                 # N_h / n_h from the fpc
            w1 = phase1.weights

        # phase-2 strata, estimated inclusion probabilities n2_h / n1_h
        if strata is None:
            codes = np.zeros(len(data), dtype=np.int64)
            labels = np.array(["(one stratum)"], dtype=object)
        else:
            col = data[strata]
            missing = col.isna().to_numpy()
            if missing.any():
                where = "phase-2" if (missing & in2).any() else "phase-1"
                raise DesignError(
                    f"the phase-2 stratum column {strata!r} is missing for {int(missing.sum())} "
                    f"row(s) (some of them {where} rows). Phase-2 strata are sampling strata "
                    "defined on phase-1 variables, so they must be known for every phase-1 row: "
                    "fill them in (or make the missing value a stratum of its own) before "
                    "building the design."
                )
            codes, uniq = pd.factorize(col, sort=True)
            labels = np.asarray(uniq, dtype=object)
        H = len(labels)
        unit2 = _phase2_units(data, phase2_psu, phase1_psu, phase1, codes, in2, method, strata)
        if unit2 is None:
            n1h = np.bincount(codes, minlength=H).astype(float)
            n2h = np.bincount(codes[in2], minlength=H).astype(float)
            what = "rows"
        else:
            codes_of_unit = np.zeros(int(unit2.max()) + 1, dtype=np.int64)
            codes_of_unit[unit2] = codes
            in2_of_unit = np.zeros(len(codes_of_unit), dtype=bool)
            in2_of_unit[unit2] = in2
            n1h = np.bincount(codes_of_unit, minlength=H).astype(float)
            n2h = np.bincount(codes_of_unit[in2_of_unit], minlength=H).astype(float)
            what = f"clusters ({phase2_psu})"
        empty = (n2h == 0) & (n1h > 0)
        if empty.any():
            raise DesignError(
                f"phase-2 stratum {show(labels[empty][0])} has {int(n1h[empty][0])} phase-1 {what} "
                f"but none in phase 2 ({int(empty.sum())} such strata), so its phase-1 rows "
                "cannot be represented. Merge it with a neighbouring stratum or check the "
                "subset column."
            )
        lonely = (n2h == 1) & (n1h > 1)
        if lonely.any() and lonely_psu == "fail":
            raise LonelyPSUError(
                f"phase-2 stratum {show(labels[lonely][0])} has a single phase-2 "
                f"{'row' if unit2 is None else 'cluster'} out of "
                f"{int(n1h[lonely][0])} phase-1 {what} ({int(lonely.sum())} such strata), so "
                "its phase-2 variance cannot be estimated. Choose how to handle it with "
                "lonely_psu=: 'adjust' (centre it at 0; R's value for "
                "method='full'), 'average' (the average variance of the other phase-2 strata), "
                "'remove' or 'certainty' (the stratum adds no phase-2 variance), or merge it "
                "with a neighbouring stratum. In R: options(survey.lonely.psu = 'adjust')."
            )
        pi2 = np.where(in2, n2h[codes] / n1h[codes], np.nan)

        self.data = data
        self.method = "approx" if method == "simple" else method
        self._method_given = method
        self._in2 = in2
        self._codes = codes
        self._labels = labels
        self._n1h, self._n2h = n1h, n2h
        self._pi2 = pi2
        self._w1 = w1
        # phase-1 inclusion probabilities for the "full" phase-1 term (0: infinite population)
        self._pi1 = pi1
        self._w = np.where(in2, w1 / np.where(in2, pi2, 1.0), 0.0)
        self._phase1 = phase1
        self._unit2 = unit2                  # phase-2 cluster of every row (None: rows)
        self.lonely_psu = lonely_psu
        self._lonely2 = lonely               # phase-2 strata with a single phase-2 unit
        self._spec = dict(subset=subset if isinstance(subset, str) else None, strata=strata,
                          phase1_weights=phase1_weights, phase1_probs=phase1_probs,
                          phase1_psu=phase1_psu, phase1_strata=phase1_strata,
                          phase1_fpc=phase1_fpc, nest=nest, phase2_psu=phase2_psu,
                          lonely_psu=lonely_psu)
        self._last_phases: tuple | None = None
        # phase-2 calibration (calibrate()): residualizers of socialhealth.design.calibration,
        # applied to the phase-2 term; the phase-2 probabilities the approx phase-1 term uses
        # (w1 / w: pi2 before calibration, pi2 / g after); the R calls, for describe()
        self._calibrations: tuple = ()
        self._estimated_weights = False      # estimate_weights() was applied
        self._pi2_phase1 = pi2
        self._calibration_calls: tuple = ()
        # the approx phase-1 term's phase-2 probabilities over pi2 (1, except as R's
        # twophase()$usu with phase-1 strata but no phase-2 strata: the share of each
        # phase-1 stratum's units, rows or PSUs, in phase 2)
        self._usu_ratio = np.ones(len(data))
        if self.method == "approx" and strata is None and phase1_strata is not None:
            unit = np.arange(len(data)) if phase1.unit is None else phase1.unit
            g = phase1.row_stratum
            seen = np.zeros(int(unit.max()) + 1, dtype=bool)
            seen[unit[in2]] = True
            first = np.unique(unit, return_index=True)[1]
            n2g = np.bincount(g[first], weights=seen[unit[first]].astype(float),
                              minlength=len(phase1.n_h))
            usu = n2g / phase1.n_h
            self._usu_ratio = np.where(in2, usu[g] / np.where(in2, pi2, 1.0), 1.0)
            self._pi2_phase1 = np.where(in2, usu[g], np.nan)

    # ------------------------------------------------------------------ variance
    def phase_variances(self, Z) -> tuple[np.ndarray, np.ndarray]:
        """Phase-1 and phase-2 covariance of the totals of the columns of ``Z``.

        Parameters
        ----------
        Z : numpy.ndarray (n x p)
            Weighted influence values (analysis weight times influence), one row per row of
            ``design.data``; only the phase-2 rows are used.

        Returns
        -------
        (V1, V2) : tuple of (p x p) arrays
            Their sum is the variance (R: ``attr(vcov(est), "phases")``, ``$phase1`` and
            ``$phase2``); formulas in the module docstring. On a calibrated design
            (:meth:`calibrate`) ``V2`` is that of the calibration residuals of ``Z``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import socialhealth as sh
        >>> df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [1, 1, 0, 0, 1, 1]})
        >>> d = sh.TwoPhaseDesign(df, subset="p2", strata="s")
        >>> V1, V2 = d.phase_variances(np.array([1.0, 3.0, 0, 0, 2.0, 2.0]))
        >>> float(V1[0, 0]), float(V2[0, 0])   # sum pi2 Z^2; (1 - 2/4) * 2/1 * (1 + 1)
        (13.0, 2.0)

        In R: ``attr(vcov(svytotal(~x, twophase(...))), "phases")``.
        """
        if isinstance(Z, DomainColumns):
            Z = Z.dense()
        Z = np.asarray(Z, dtype=float)
        if Z.ndim == 1:
            Z = Z[:, None]
        if Z.shape[0] != len(self.data):
            raise DesignError(f"Z has {Z.shape[0]} rows; the design has {len(self.data)}.")
        rows = self._in2
        Zs = Z[rows]
        pi2 = self._pi2[rows]
        h = self._codes[rows]
        H = len(self._labels)
        # phase 2: stratified SRS without replacement from the phase-1 sample; on a calibrated
        # design, of the residuals of Z from the calibration model
        E = Z
        for cal in self._calibrations:
            E = cal.residualize(E)
        Es = E[rows]
        n1h, n2h = self._n1h, self._n2h
        if self._unit2 is not None:
            # phase 2 samples clusters: their totals, in their phase-2 strata
            u, first = np.unique(self._unit2[rows], return_index=True)
            h = h[first]
            Es = group_sum(np.searchsorted(u, self._unit2[rows]), Es, len(u))
        means = group_sum(h, Es, H) / np.where(n2h > 0, n2h, 1.0)[:, None]
        lonely2 = self._lonely2
        if self.lonely_psu == "adjust":
            means[lonely2] = 0.0                          # lonely strata centred at 0
        dev = Es - means[h]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(n2h > 1, (1.0 - n2h / np.where(n1h > 0, n1h, 1.0))
                             * n2h / (n2h - 1), 0.0)
            if self.lonely_psu == "adjust":
                scale = np.where(lonely2, 1.0 - 1.0 / np.where(n1h > 0, n1h, 1.0), scale)
        scale = np.where(n2h >= n1h, 0.0, scale)          # strata taken completely
        dev = dev * np.sqrt(scale[h])[:, None]
        V2 = dev.T @ dev
        if self.lonely_psu == "average" and lonely2.any():
            V2 = _boosted(V2, group_sum(h, (Es != 0).astype(float), H) > 0, lonely2)
        # phase 1, estimated from the phase-2 rows
        ph1 = self._phase1
        if self.method == "full" and ph1.simple:
            V1 = (Zs * ((1.0 - self._pi1[rows]) * pi2)[:, None]).T @ Zs
        elif self.method == "full":
            V1 = self._full_phase1(Z, ph1)
            if self.lonely_psu == "average" and ph1.lonely.any():
                present = group_sum(ph1.row_stratum[rows], (Zs != 0).astype(float),
                                    len(ph1.n_h)) > 0
                V1 = _boosted(V1, present, ph1.lonely)
        else:
            pi2 = self._pi2_phase1[rows]                   # pi2 / g on a calibrated design
            g = ph1.row_stratum[rows]
            if self._unit2 is not None:
                # phase-1 PSUs = phase-2 clusters: their totals and phase-2 probabilities
                u, first = np.unique(self._unit2[rows], return_index=True)
                Zs = group_sum(np.searchsorted(u, self._unit2[rows]), Zs, len(u))
                pi2, g = pi2[first], g[first]
            y = Zs * pi2[:, None]                          # phase-1 weighted influence values
            w2 = 1.0 / pi2
            # per phase-1 stratum (one without phase1_strata): the phase-1 mean of y over its
            # n1_h units (rows or PSUs), sum_{s1,h} y / n1_h, estimated by
            # sum_{s2,h} y / pi2 / n1_h (as R; sum 1/pi2 = n1 except after calibration to
            # totals other than the phase-1 size)
            n1 = ph1.n_h
            ybar = group_sum(g, y * w2[:, None], len(n1)) / n1[:, None]
            lonely1 = ph1.lonely
            adjust = self.lonely_psu == "adjust"
            if adjust:
                ybar[lonely1] = 0.0                        # lonely strata centred at 0
            c = (y - ybar[g]) * np.sqrt(w2)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(n1 > 1, (1.0 - ph1.f_h) * n1 / (n1 - 1.0), 0.0)
            scale = np.where(lonely1, (1.0 - ph1.f_h) if adjust else 0.0, scale)
            c = c * np.sqrt(scale[g])[:, None]
            V1 = c.T @ c
            if self.lonely_psu == "average" and lonely1.any():
                V1 = _boosted(V1, group_sum(g, (Zs != 0).astype(float), len(n1)) > 0, lonely1)
        return V1, V2


    def _full_phase1(self, Z: np.ndarray, ph1: "_Phase1") -> np.ndarray:
        """Phase-1 term of ``method="full"`` for a stratified and/or clustered phase 1.

        ``sum_{k,l in s2} D_kl Z_k Z_l' pi2_k pi2_l / pi2_kl`` with ``D`` the phase-1
        quadratic form (:class:`_Phase1`) and ``pi2_kl`` the joint phase-2 inclusion
        probabilities of stratified SRS (``pi2_k pi2_l`` in different phase-2 strata,
        ``n2_h (n2_h - 1) / (n1_h (n1_h - 1))`` in the same one, ``pi2_k`` for ``k = l``),
        computed as ``Q(Z) + sum_h (c_h - 1) Q(Z 1_h) + sum_k (pi2_k - c_h) D_kk Z_k Z_k'``,
        ``c_h = n2_h (n1_h - 1) / (n1_h (n2_h - 1))`` (1 for strata taken completely).
        """
        rows = self._in2
        Z = np.where(rows[:, None], Z, 0.0)
        n1h, n2h = self._n1h, self._n2h
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where((n2h > 1) & (n2h < n1h), n2h * (n1h - 1.0) / (n1h * (n2h - 1.0)), 1.0)
        V1 = ph1.quadratic(Z)
        for h in np.flatnonzero(c != 1.0):
            Zh = np.where((self._codes == h)[:, None], Z, 0.0)
            V1 = V1 + (c[h] - 1.0) * ph1.quadratic(Zh)
        diag = np.where(rows, (np.where(rows, self._pi2, 1.0) - c[self._codes])
                        * ph1.diagonal(), 0.0)
        if self._unit2 is None:
            return V1 + (Z * diag[:, None]).T @ Z
        # phase-2 clusters (within phase-1 PSUs, so D_kl = D_kk for two rows of one cluster):
        # the same-unit term sum_j (pi2_j - c_h) D_j T_j T_j' on the cluster totals
        n_u = int(self._unit2.max()) + 1
        T = group_sum(self._unit2, Z, n_u)
        scale = np.zeros(n_u)
        scale[self._unit2] = diag
        return V1 + (T * scale[:, None]).T @ T

    def _variance_of(self, Z) -> np.ndarray:
        V1, V2 = self.phase_variances(Z)
        self._last_phases = (V1, V2)
        return V1 + V2

    def _estimate_variance_of(self, Z) -> np.ndarray:
        # the phase-1 term of a clustered phase 1 (method="full") need not be positive
        # semi-definite: a negative variance of an estimate is NaN (R: SE NaN), not an SE of 0
        from socialhealth.design.pps import nan_negative_variances

        V1, V2 = self.phase_variances(Z)
        self._last_phases = (V1, V2)
        return nan_negative_variances(V1 + V2, np.abs(np.diag(V1)) + np.abs(np.diag(V2)))

    def _ratio_vcov(self, num, den, theta):
        w = self._w
        if den is None:
            Z = w[:, None] * num
        else:
            D = w @ den
            bad = ~(np.abs(D) > 0) | ~np.isfinite(theta)
            with np.errstate(divide="ignore", invalid="ignore"):
                Z = w[:, None] * (num - np.where(bad, 0.0, theta) * den) / np.where(bad, 1.0, D)
            Z[:, bad] = 0.0
        return self._estimate_variance_of(Z)

    def _domain_vcov(self, theta, vals, dcodes, n_domains, totals_den, all_rows=False):
        w = self._w
        ok = dcodes >= 0
        k = vals.shape[1]
        if totals_den is None:
            z = w[:, None] * vals
        else:
            th = np.nan_to_num(np.asarray(theta, dtype=float).reshape(n_domains, k))
            den = np.where(totals_den > 0, totals_den, 1.0)
            idx = np.where(ok, dcodes, 0)
            z = w[:, None] * (vals - th[idx]) / den[idx][:, None]
        z[~ok] = 0.0
        return self._estimate_variance_of(DomainColumns(z, dcodes, n_domains))

    def _general_vcov(self, theta, influence: Callable[[], np.ndarray] | None,
                      refit=None) -> np.ndarray:
        if influence is None:   # not reached: every caller on a Taylor design gives influence
            raise DesignError("a two-phase design needs the influence values of the estimate.")
        return self._estimate_variance_of(influence())

    def _r_keeps_rows(self) -> bool:
        # R's subset() of a twophase object keeps the phase-2 rows outside the domain (weight
        # 0) for method = "full" and for calibrated designs, and drops them for uncalibrated
        # method = "approx" designs (checked with svyglm's rescaled weights, tests/design/
        # fixtures/glm_domains)
        return self.method == "full" or bool(self._calibrations)

    def _with_weights(self, w, data=None):
        new = copy.copy(self)
        new._w = np.asarray(w, dtype=float)
        new._last_phases = None
        if data is not None:
            new.data = data
        return new

    # ------------------------------------------------------------------ information
    @property
    def phase2(self) -> np.ndarray:
        """Boolean array: rows in the phase-2 sample."""
        return self._in2.copy()

    @property
    def phase2_probs(self) -> np.ndarray:
        """Phase-2 inclusion probabilities ``n2_h / n1_h`` (NaN outside phase 2)."""
        return self._pi2.copy()

    @property
    def n_strata(self) -> int:
        """Phase-2 strata with at least one row in the current subset."""
        return int(np.unique(self._codes[self.in_subset]).size)

    @property
    def n_psu(self) -> int:
        """Phase-2 sampling units in the current subset: rows, or clusters (``phase2_psu``)."""
        if self._unit2 is not None:
            return int(np.unique(self._unit2[self.in_subset]).size)
        return int(self.in_subset.sum())

    def degf(self) -> float:
        """Degrees of freedom: phase-2 rows minus phase-2 strata, in the subset (R ``degf``).

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [1, 1, 1, 0, 1, 1]})
        >>> sh.TwoPhaseDesign(df, subset="p2", strata="s").degf()
        3.0

        In R: ``degf(twophase(id = list(~1, ~1), strata = list(NULL, ~s), subset = ~p2,
        data = df))``.
        """
        return float(self.n_psu - self.n_strata)

    def _r_call(self, fun: str, variables, by, deff) -> str:
        """R's call, with a note where R's ``svyby`` gives other domain standard errors than
        the ones here (module docstring): calibrated or estimated weights with
        ``method="full"``, and domain totals with ``method="approx"``."""
        call = super()._r_call(fun, variables, by, deff)
        if by is None or not len(as_list(by)):
            return call
        y, d = as_list(variables)[0], " + ".join(map(str, as_list(by)))
        if self.method == "full" and self._calibrations and fun == "svymean":
            return (call + f"  # R's svyby differs here; these domain estimates are R's "
                    f"svyratio(~I({y} * ({d} == level)), ~I({d} == level), design)")
        if fun == "svytotal" and (self.method == "approx" or self._calibrations):
            return (call + f"  # R's svyby differs here; these domain totals are R's "
                    f"svytotal(~I({y} * ({d} == level)), design)")
        return call

    def r_code(self, data_name: str = "df") -> str:
        """The R ``twophase`` call that builds the same design."""
        s = self._spec
        parts = [f"id = list(~{s['phase1_psu'] or 1}, ~{s['phase2_psu'] or 1})"]
        if s["strata"] or s["phase1_strata"]:
            st1 = f"~{s['phase1_strata']}" if s["phase1_strata"] else "NULL"
            st2 = f"~{s['strata']}" if s["strata"] else "NULL"
            parts.append(f"strata = list({st1}, {st2})")
        if s["phase1_fpc"]:
            parts.append(f"fpc = list(~{s['phase1_fpc']}, NULL)")
        if s["phase1_probs"]:
            parts.append(f"probs = list(~{s['phase1_probs']}, NULL)")
        if s["phase1_weights"]:
            parts.append(f"weights = list(~{s['phase1_weights']}, NULL)")
        sub = s["subset"]
        if sub is None:
            parts.append("subset = ~in_phase2")
        elif sub in self.data.columns:
            parts.append(f"subset = ~{sub}")
        else:
            parts.append(f"subset = ~I({sub})")
        parts.append(f"data = {data_name}")
        if s["nest"] and s["phase1_psu"]:
            parts.append("nest = TRUE")
        if self._method_given != "full":
            parts.append(f'method = "{self._method_given}"')
        code = f"twophase({', '.join(parts)})"
        if self.lonely_psu != "fail":
            code = f'options(survey.lonely.psu = "{self.lonely_psu}"); ' + code
        return self._r_wrap(code, data_name)

    def describe(self) -> str:
        """Text description: phase sizes, strata, method, degrees of freedom, R call.

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [1, 1, 1, 0, 1, 1]})
        >>> print(sh.TwoPhaseDesign(df, subset="p2", strata="s").describe())
        Two-phase design (phase 1: 6 rows, element sampling; phase 2: 5 rows in 2 strata)
          method: full; degrees of freedom: 3
          In R: twophase(id = list(~1, ~1), strata = list(NULL, ~s), subset = ~p2, data = df)

        In R: ``print(design)``.
        """
        n2 = int(self._in2.sum())
        sub = "" if len(self) == n2 else f" ({len(self)} in subset)"
        ph1 = self._phase1
        if ph1.psu:
            first = f"{ph1.n_units} PSUs ({ph1.psu})"
        else:
            first = "element sampling"
        if ph1.strata:
            first += f" in {len(ph1.n_h)} strata ({ph1.strata})"
        if ph1.fpc:
            first += f", fpc {ph1.fpc}"
        second = f"{n2} rows"
        if self._unit2 is not None:
            n_cl = int(np.unique(self._unit2[self._in2]).size)
            second = f"{n_cl} clusters ({self._spec['phase2_psu']}), {n2} rows"
        lines = [
            f"Two-phase design (phase 1: {self.n} rows, {first}; phase 2: {second}"
            f"{sub} in {len(self._labels)} strata)",
            f"  method: {self._method_given}; degrees of freedom: {self.degf():g}"
            + ("" if self.lonely_psu == "fail" else f"; lonely_psu: {self.lonely_psu}"),
            f"  In R: {self.r_code()}",
        ]
        for call in self._calibration_calls:
            lines.append(f"  calibrated: d <- {call}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ calibration
    def calibrate(self, formula, population_totals=None, calfun: Calfun = "linear",
                  bounds=None, max_iter: int = 50, epsilon: float = 1e-7,
                  on_nonconvergence: OnNonconvergence = "raise", *,
                  phase: int = 2) -> "TwoPhaseDesign":
        """Calibrate the phase-2 weights to the phase-1 totals (R ``calibrate(d, ~x, phase = 2)``).

        The phase-2 sample is calibrated to the phase-1 sample: the phase-2 weights
        ``1/pi2_i`` (conditional on phase 1) become ``g_i / pi2_i`` with
        ``sum_{i in s2} g_i x_i / pi2_i = T``, where ``T`` defaults to the phase-1 totals
        ``sum_{i in s1} x_i`` of the calibration variables (Deville & Sarndal 1992; the
        case-cohort analysis of Breslow et al. 2009, who calibrate to the influence functions
        of the phase-1 model fitted with imputed phase-2 variables). The analysis weights are
        ``w1_i g_i / pi2_i``. The calibration itself is that of
        :func:`socialhealth.design.calibration.calibrate` (same Newton iterations, bounds and
        calibration functions); the formula variables must be phase-1 variables.

        Variance (as R survey 4.1-1): the estimate is reduced to weighted influence values
        ``Z_i = w_i u_i`` with the calibrated weights ``w``;

        * the **phase-2** term (stratified SRS without replacement within phase 1) is that of
          the residuals ``e_i = Z_i - (g_i/pi2_i) x_i' b``, with ``b`` the weighted
          least-squares coefficients of ``Z_i pi2_i / g_i`` on ``x_i`` with weights ``1/pi2_i``
          (the GREG residuals of the phase-2 design, for every calibration function;
          Sarndal, Swensson & Wretman 1992, §9.7; Lumley 2010, §8.4);
        * the **phase-1** term is that of the module docstring, applied to ``Z`` itself (not
          to the residuals: calibration to phase-1 totals removes phase-2 variability
          only). For ``method="full"`` it keeps ``pi2`` (``sum (1 - pi1) pi2 Z Z'``); for
          ``method="approx"`` the phase-2 probabilities become ``pi2 / g`` (the calibrated
          design's), both as R.

        Parameters
        ----------
        formula : str or list of str
            Calibration model on phase-1 variables, as for
            :func:`~socialhealth.design.calibration.calibrate`: ``"~age"``, ``"~C(stage)"``
            (categorical: one indicator per level but the first, R ``~factor(stage)``),
            ``"~age + C(stage)"``, interactions ``"~C(stage)*age"``.
        population_totals : dict, Series or sequence, optional
            Totals of the model-matrix columns that the phase-2 weights ``g/pi2`` are
            calibrated to. Default: their phase-1 sums, ``sum_{i in s1} x_i`` (unweighted, as
            R, also when the design has phase-1 weights).
        calfun : {"linear", "raking", "logit"}, default "linear"
            Calibration function (``"logit"`` needs ``bounds``).
        bounds : (L, U), optional
            Bounds on ``g``.
        max_iter, epsilon, on_nonconvergence
            As for :func:`~socialhealth.design.calibration.calibrate` (R's defaults 50, 1e-7).
        phase : {2}, keyword only, default 2
            Only phase 2: calibration of the phase-1 weights is not implemented (nor is it in
            R survey 4.1-1, where ``phase = 1`` stops with an error).

        Returns
        -------
        TwoPhaseDesign
            The calibrated design; every verb (``mean``, ``total``, ``ratio``, ``by=``,
            ``glm`` ...) uses the calibrated weights and the variance above. Calibrating again
            (e.g. to another formula) starts from the calibrated weights.

        Raises
        ------
        DesignError
            ``phase=1``; a subset design (calibrate the whole design, then subset); missing
            values of the calibration variables in phase 1 (phase-1 totals undefined; give
            ``population_totals=``) or in phase 2; population totals that do not match the
            model columns.
        ConvergenceError
            No solution within ``max_iter`` iterations (e.g. bounds too tight, or a level of a
            categorical variable with phase-1 rows but no phase-2 rows).

        References
        ----------
        Deville JC, Sarndal CE (1992) Calibration estimators in survey sampling. JASA
        87:376-382. Breslow NE, Lumley T, Ballantyne CM, Chambless LE, Kulich M (2009) Using
        the whole cohort in the analysis of case-cohort data. Am J Epidemiol 169:1398-1405;
        Improved Horvitz-Thompson estimation of model parameters from two-phase stratified
        samples: applications in epidemiology. Stat Biosci 1:32-49. Lumley T (2010)
        *Complex Surveys*, Wiley, ch. 8 and 10.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import socialhealth as sh
        >>> rng = np.random.default_rng(1)
        >>> cohort = pd.DataFrame({"rel": rng.binomial(1, 0.15, 400),
        ...                        "sub": rng.binomial(1, 0.2, 400) == 1,
        ...                        "stage": rng.integers(1, 4, 400),
        ...                        "age": rng.gamma(2.0, 20.0, 400).round(1)})
        >>> cohort["in_phase2"] = cohort["sub"] | (cohort["rel"] == 1)
        >>> d = sh.TwoPhaseDesign(cohort, subset="in_phase2", strata="rel")
        >>> cal = d.calibrate("~age + C(stage)", calfun="raking")
        >>> round(float(cal.weights.sum()), 1), round(float(cal.weights @ cohort.age), 1)
        (400.0, 16127.3)
        >>> float(cohort.age.sum())                      # the phase-1 total of age
        16127.3
        >>> print(cal.total("age").to_frame()[["term", "estimate", "se"]].round(2).to_string())
          term  estimate      se
        0  age   16127.3  928.69

        The total of a calibration variable keeps its phase-1 variance only:

        >>> V1, V2 = cal.phase_variances(np.where(cal.phase2, cal.weights * cohort.age, 0.0))
        >>> round(float(np.sqrt(V1[0, 0])), 2), bool(abs(V2[0, 0]) < 1e-12)
        (928.69, True)
        >>> m = cal.glm("rel ~ age", family="binomial")
        >>> print(m.to_frame()[["term", "estimate", "se"]].round(4).to_string())
                term  estimate      se
        0  Intercept   -1.8693  0.2707
        1        age   -0.0032  0.0051

        In R: ``d <- twophase(id = list(~1, ~1), strata = list(NULL, ~rel),
        subset = ~in_phase2, data = cohort)``;
        ``cal <- calibrate(d, ~age + factor(stage), phase = 2, calfun = "raking")``;
        ``svytotal(~age, cal)``; ``svyglm(rel ~ age, design = cal, family = quasibinomial())``.
        """
        from socialhealth.design import calibration

        if not is_choice(phase, (1, 2)):
            raise DesignError(f"phase={show_given(phase)} must be 2 (calibration of the phase-2 "
                              "weights to the phase-1 totals); phase=1 is not implemented.")
        if phase == 1:
            raise DesignError(
                "calibrate(phase=1): calibration of the phase-1 weights is not implemented for "
                "two-phase designs (R survey 4.1-1 does not implement it either). Calibrate the "
                "phase-2 weights to the phase-1 totals with phase=2 (the default)."
            )
        if self._estimated_weights:
            raise DesignError(
                "calibrate() after estimate_weights() is not implemented: R survey 4.1-1 then "
                "drops the estimation of the weights from the variance, and the two steps "
                "together need one joint linearisation. Put the calibration variables in the "
                "formula of estimate_weights(), or calibrate instead of estimating the weights."
            )
        if (self._in2 & (self._w == 0)).any():
            raise DesignError(
                "calibrate() on a subset of a two-phase design is not implemented: the phase-2 "
                "sample is calibrated to the whole phase-1 sample. Calibrate the whole design "
                "first, then take the subset (or use by= for domain estimates)."
            )
        totals_given = population_totals is not None
        if population_totals is None:
            X1, names = calibration.model_matrix(self.data, formula)
            miss = np.isnan(X1).any(axis=1)
            if miss.any():
                raise DesignError(
                    f"the calibration variables of {formula!r} are missing in {int(miss.sum())} "
                    "phase-1 row(s), so their phase-1 totals (the default population_totals) "
                    "are undefined. Calibrate to phase-1 variables known for the whole cohort "
                    "(impute them first, as Breslow et al. 2009), or give population_totals=."
                )
            population_totals = X1.sum(axis=0)          # in the model-matrix column order
        # the engine calibrates the phase-2 weights conditional on phase 1, 1/pi2 (R: the
        # phase-2 design of the twophase object), and keeps their GREG residualizer
        cond = copy.copy(self)
        cond._w = np.where(self._in2, self._w / self._w1, 0.0)
        new = calibration.calibrate(cond, formula, population_totals, calfun=calfun,
                                    bounds=bounds, max_iter=max_iter, epsilon=epsilon,
                                    on_nonconvergence=on_nonconvergence)
        new._w = np.where(self._in2, self._w1 * new._w, 0.0)
        new._pi2_phase1 = np.where(self._in2, self._usu_ratio * self._w1
                                   / np.where(self._in2, new._w, 1.0), np.nan)
        base = getattr(self, "_calibration_base", None)
        new._calibration_base = self._w.copy() if base is None else base
        new._calibration_recipes = ()      # no replicate conversion of two-phase designs
        new._last_phases = None
        bnd = "" if bounds is None else f", bounds = c({bounds[0]}, {bounds[1]})"
        new._calibration_calls = self._calibration_calls + (
            f"calibrate(d, {_r_formula(formula)}, phase = 2, "
            f"calfun = \"{str(calfun).lower()}\"{bnd})",)
        # R's calibrate() on a twophase object takes phase= second: arguments by name
        pop = ""
        if totals_given:
            T = calibration._population_vector(
                population_totals, calibration.model_matrix(self.data, formula)[1])
            pop = ", population = c(" + ", ".join(f"{r_number(float(t))}" for t in T) + ")"
        new._r_steps = self._r_steps + ((
            "call", f"calibrate(@D@, phase = 2, formula = {_r_formula(formula)}{pop}, "
                    f"calfun = \"{str(calfun).lower()}\"{bnd})"),)
        return new

    def estimate_weights(self, formula=None, *, predictors=None) -> "TwoPhaseDesign":
        """Phase-2 weights estimated by logistic regression (R ``estWeights``).

        Fits ``logit P(in phase 2) = z' alpha`` over the phase-1 rows (unweighted, leaving
        out the phase-2 strata taken completely, whose rows keep ``pihat2 = 1``) and gives the
        phase-2 rows the weights ``w1 / pihat2`` (Robins, Rotnitzky & Zhao 1994; ``w1`` the
        phase-1 weights, 1 for a cohort). Useful for missing data (phase 2 = the complete
        cases) and to gain efficiency from phase-1 variables (Breslow et al. 2009). The
        phase-1 design (strata, clusters, fpc, weights, probabilities) does not change
        ``pihat2``.

        Variance: the phase-1 term of the design (module docstring) applied to the weighted
        influence values ``Z = w u`` (``method="full"``: with the design's ``pi2 = n2_h /
        n1_h``; ``"approx"``: with ``pihat2`` in its place, as after calibration); the phase-2 term
        applied to their residuals (the estimation of ``alpha`` acts like calibration)

            e_i = Z_i - z_i' b / pihat2_i,
            b = (sum_{s2} z_i z_i' / pi2_i)^-1 sum_{s2} z_i pihat2_i Z_i / pi2_i,

        with ``pi2_i = n2_h / n1_h`` the design's phase-2 probabilities and ``z`` = 0 and an
        indicator of their own on rows of complete strata (details in
        ``socialhealth.design.twophase_estweights``).

        Parameters
        ----------
        formula : str, optional
            Phase-1 predictors of phase-2 membership, ``"~age + C(stage)"`` (as for
            :meth:`calibrate`; R ``estWeights(formula =)``). To estimate stratified
            probabilities include the phase-2 strata in the formula (as R).
        predictors : array or DataFrame, keyword only, optional
            The predictors as columns (one row per phase-1 row; an intercept is added)
            instead of a formula. For R's ``working.model =`` give the score contributions
            (estimating functions) of the working model fitted to the phase-1 data, e.g.
            ``(y - mu_hat)[:, None] * X`` for a logistic working model (Kulich & Lin 2004).

        Returns
        -------
        TwoPhaseDesign
            With the estimated weights; every verb (``mean``, ``total``, ``glm``, ``by=``,
            ...) uses them and the variance above. :meth:`calibrate` afterwards
            raises (R's variance then leaves the estimation of the weights out).

        Raises
        ------
        DesignError
            Neither or both of ``formula`` and ``predictors``; predictors missing in phase 1;
            a design this is not implemented for: an already calibrated or subset design
            (estimate the weights first); phase-2 clusters (``phase2_psu``) with
            ``method="approx"`` and probabilities that vary within a cluster (R then takes
            each cluster's first row: use cluster-level predictors or ``method="full"``).
            Multistage phase-1 samples are refused when the design is built (R's phase-1
            term then depends on the order of the rows).
        ConvergenceError
            The logistic regression does not converge (separation).

        Notes
        -----
        Checked against R survey 4.1-1 at 1e-8 (agreement about 1e-13 with R's glm fits
        converged; R's default glm tolerance leaves its weights up to 2e-8 from the converged
        ones) for a cohort phase 1, phase-1 clusters with fpc or probabilities, phase-1
        strata with and without fpc, rows with fpc, weights or probabilities, with and
        without phase-2 strata, with a stratum taken completely, with phase-2 clusters, and
        both methods. With phase-2 clusters the model is fitted to the rows, as R does, so
        row-level predictors give the rows of a sampled cluster different weights; its
        probability of selection is a property of the cluster, so cluster-level predictors
        (e.g. cluster means) are the natural choice.

        R survey 4.1-1 registers ``estWeights`` for data frames and ``method="approx"``
        designs only: for a ``twophase()`` design with the default ``method = "full"``,
        ``estWeights(d, ...)`` stops ("no applicable method"); its unexported
        ``survey:::estWeights.twophase2(d, formula = ...)`` (which ``estWeights(data.frame)``
        uses) gives these numbers. When ``z`` are the phase-2 stratum indicators the weights
        are the design weights ``n1_h / n2_h``. Domain estimates (``by=``, ``subset``) equal
        R's ``svyratio`` of the zero-recoded variables; R's ``svyby`` of such a design
        differs, as for :meth:`calibrate` (module docstring).

        References
        ----------
        Robins JM, Rotnitzky A, Zhao LP (1994) Estimation of regression coefficients when
        some regressors are not always observed. JASA 89:846-866. Breslow NE, Lumley T,
        Ballantyne CM, Chambless LE, Kulich M (2009) Using the whole cohort in the analysis of
        case-cohort data. Am J Epidemiol 169:1398-1405. Kulich M, Lin DY (2004) Improving the
        efficiency of relative-risk estimation in case-cohort studies. JASA 99:832-844.
        Lumley T, Shaw PA, Dai JY (2011) Connections between survey calibration estimators
        and semiparametric models for incomplete data. Int Stat Rev 79:200-220.

        Examples
        --------
        Missing outcome data: the complete cases are phase 2, reweighted by their estimated
        probability of being complete given temperature and wind:

        >>> import numpy as np, pandas as pd
        >>> import socialhealth as sh
        >>> rng = np.random.default_rng(7)
        >>> df = pd.DataFrame({"temp": rng.normal(78, 9, 300).round(),
        ...                    "wind": rng.gamma(4, 2.5, 300).round(1)})
        >>> df["y"] = 20 + 0.9 * df["temp"] - 1.5 * df["wind"] + rng.normal(0, 8, 300)
        >>> df["complete"] = rng.random(300) < 1 / (1 + np.exp(-(df["temp"] - 70) / 10))
        >>> d = sh.TwoPhaseDesign(df, subset="complete").estimate_weights("~temp + wind")
        >>> round(float(d.weights.sum()), 1)             # estimates the 300 phase-1 rows
        311.3
        >>> print(d.mean("y").to_frame()[["term", "estimate", "se"]].round(3).to_string())
          term  estimate     se
        0    y    73.887  1.048
        >>> print(d.glm("y ~ temp + wind").to_frame()[["term", "estimate", "se"]]
        ...       .round(3).to_string())
                term  estimate     se
        0  Intercept    25.442  9.956
        1       temp     0.819  0.120
        2       wind    -1.459  0.122

        The same days as a cluster sample at phase 1 (30 of 120 weather stations, 10 days
        each): the estimated probabilities do not change, the weights take the phase-1
        weight 120 / 30 and the variance the clustering:

        >>> df["station"], df["n_stations"] = np.arange(300) // 10, 120
        >>> dc = sh.TwoPhaseDesign(df, subset="complete", phase1_psu="station",
        ...                        phase1_fpc="n_stations").estimate_weights("~temp + wind")
        >>> bool(np.allclose(dc.weights, 4 * d.weights))
        True
        >>> print(dc.mean("y").to_frame()[["term", "estimate", "se"]].round(3).to_string())
          term  estimate     se
        0    y    73.887  0.944

        In R: ``d <- estWeights(df, formula = ~temp + wind, subset = ~complete)``;
        ``svymean(~y, d)``; ``svyglm(y ~ temp + wind, design = d)``; with phase-2 strata
        ``estWeights(df, formula = ~st + x, subset = ~in2, strata = ~st)``; a working model
        ``estWeights(df, working.model = m, subset = ~in2, strata = ~st)``; a clustered
        phase 1 ``survey:::estWeights.twophase2(twophase(id = list(~psu, ~1), strata =
        list(~st1, ~st), fpc = list(~N, NULL), subset = ~in2, data = df), formula = ~x)``
        (``sh.TwoPhaseDesign(df, subset="in2", strata="st", phase1_psu="psu",
        phase1_strata="st1", phase1_fpc="N").estimate_weights("~x")``).
        """
        from socialhealth.design.calibration import RegressionResidual
        from socialhealth.design import twophase_estweights as est

        why = None
        if self._estimated_weights:
            why = ("a design whose weights were already estimated: call it once on the design "
                   "as defined, with every predictor in one formula")
        elif self._calibrations:
            why = "an already calibrated design: estimate the weights first, then calibrate"
        elif (self._in2 & (self._w == 0)).any():
            why = "a subset: estimate the weights on the whole design, then take the subset"
        if why is not None:
            raise DesignError(f"estimate_weights() is not implemented for {why}.")
        X, names = est.predictor_matrix(self, formula, predictors)
        complete = (self._n2h >= self._n1h)[self._codes]      # strata taken completely
        fit = ~complete
        alpha = est.logistic_fit(X[fit], self._in2[fit].astype(float))
        with np.errstate(over="ignore"):
            p = np.where(complete, 1.0, 1.0 / (1.0 + np.exp(-(X @ alpha))))
        if self._unit2 is not None and self.method != "full":
            unit = self._unit2[self._in2]
            first = np.zeros(int(unit.max()) + 1)
            first[unit[::-1]] = p[self._in2][::-1]
            if not np.allclose(p[self._in2], first[unit], rtol=1e-12, atol=0):
                raise DesignError(
                    "the estimated phase-2 probabilities vary within a phase-2 cluster "
                    f"({self._spec['phase2_psu']!r}), and method='approx' needs one "
                    "probability per cluster (R's twophase(method = 'approx') takes each "
                    "cluster's first row, so its result depends on the order of the rows). "
                    "Use predictors that are constant within clusters (e.g. cluster means) "
                    "or method='full'.")
        new = copy.copy(self)
        w2 = np.where(self._in2, 1.0 / p, 0.0)                # estimated phase-2 weights
        new._w = self._w1 * w2
        Xr = np.where(complete[:, None], 0.0, X)
        if complete.any():
            Xr = np.column_stack([Xr, complete.astype(float)])
        Xr = np.where(self._in2[:, None], Xr, 0.0)
        # residuals Z - w2 z'b, b the least-squares fit of Z / w2 on z with the phase-2
        # design weights 1 / pi2 (module twophase_estweights)
        design2 = np.where(self._in2, 1.0 / np.where(self._in2, self._pi2, 1.0), 0.0)
        new._calibrations = (RegressionResidual(Xr, design2, w2,
                                                label="estimated weights: " + " + ".join(names)),)
        new._pi2_phase1 = np.where(self._in2, p * self._usu_ratio, np.nan)
        new._estimated_weights = True
        # (as calibrate() leaves them: the weights before estimation, no replicate recipes)
        vars(new).update(_calibration_base=self._w.copy(), _calibration_recipes=())
        new._last_phases = None
        r_formula = (_r_formula(formula) if formula is not None
                     else est.predictors_r_formula(self.data, predictors))
        new._calibration_calls = self._calibration_calls + (
            f"estWeights(d, formula = {r_formula})",)
        # R's calibrate(calfun = "rrz") calls estWeights on the design
        new._r_steps = self._r_steps + ((
            "call", f"calibrate(@D@, phase = 2, formula = {r_formula}, calfun = \"rrz\")"),)
        return new

    # ------------------------------------------------------------------ not implemented
    def _not_implemented(self, what: str, instead: str):
        raise DesignError(f"{what} is not implemented for two-phase designs. {instead}")

    def post_stratify(self, *args, **kwargs):
        """Not implemented for two-phase designs: raises :class:`~socialhealth.errors.DesignError`.

        R's ``postStratify`` refuses two-phase designs as well. Linear calibration to the
        indicators of the post-strata gives the post-stratified phase-2 weights:
        ``design.calibrate("~C(stage)")`` (to the phase-1 counts).

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [1, 1, 1, 0, 1, 1],
        ...                    "g": ["a", "b", "a", "b", "a", "b"]})
        >>> d = sh.TwoPhaseDesign(df, subset="p2", strata="s")
        >>> ps = d.calibrate("~C(g)")                   # instead of d.post_stratify(...)
        >>> pd.Series(ps.weights).groupby(df["g"]).sum().round(6).tolist()  # phase-1 counts
        [3.0, 3.0]

        In R: ``postStratify(design, ...)`` stops ("not yet implemented for two-phase
        designs. Use calibrate()"); ``calibrate(d, ~factor(g), phase = 2)``.
        """
        self._not_implemented(
            "post_stratify()",
            "R's postStratify() refuses them too. Calibrate the phase-2 weights instead: "
            "design.calibrate(\"~C(stratum_column)\") post-stratifies them to the phase-1 "
            "counts (population_totals= for other counts).")

    def rake(self, *args, **kwargs):
        """Not implemented for two-phase designs: raises :class:`~socialhealth.errors.DesignError`.

        R's ``rake`` does not work on two-phase designs either. Raking calibration to the
        indicators of the margins gives the (fully converged) raked phase-2 weights:
        ``design.calibrate("~C(a) + C(b)", calfun="raking")``.

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> df = pd.DataFrame({"s": [1, 1, 1, 1, 2, 2], "p2": [1, 1, 1, 0, 1, 1],
        ...                    "g": ["a", "b", "a", "b", "a", "b"]})
        >>> d = sh.TwoPhaseDesign(df, subset="p2", strata="s")
        >>> df["h"] = ["x", "x", "y", "y", "y", "x"]
        >>> d = sh.TwoPhaseDesign(df, subset="p2", strata="s")
        >>> r = d.calibrate("~C(g) + C(h)", calfun="raking")   # instead of d.rake(...)
        >>> [pd.Series(r.weights).groupby(df[v]).sum().round(6).tolist() for v in ("g", "h")]
        [[3.0, 3.0], [3.0, 3.0]]

        In R: ``calibrate(d, ~factor(a) + factor(b), phase = 2, calfun = "raking")``
        (R's ``rake`` on a twophase object fails).
        """
        self._not_implemented(
            "rake()",
            "R's rake() does not work on them either. Rake the phase-2 weights to the phase-1 "
            "margins with design.calibrate(\"~C(a) + C(b)\", calfun=\"raking\") (the converged "
            "raking weights; population_totals= for other margins).")

    def standardize(self, *args, **kwargs):
        """Not implemented for two-phase designs: raises :class:`~socialhealth.errors.DesignError`.

        Direct standardisation post-stratifies the weights, which is calibration.

        Examples
        --------
        In R: ``svystandardize(design, ...)`` (not offered here for two-phase designs).
        """
        self._not_implemented(
            "standardize() (it post-stratifies the weights)",
            "Estimate by stratum with by= and weight the stratum estimates by the standard "
            "population's proportions with sh.contrast() (or Estimate.contrast()).")

    def trim_weights(self, *args, **kwargs):
        """Not implemented for two-phase designs: raises :class:`~socialhealth.errors.DesignError`.

        The phase-1 and phase-2 variance terms depend on the phase-2 sampling probabilities
        behind the weights, which trimmed weights no longer reflect.

        Examples
        --------
        In R: ``trimWeights(design, ...)`` (not offered here for two-phase designs).
        """
        self._not_implemented(
            "trim_weights()",
            "The phase-1 and phase-2 variances depend on the phase-2 sampling probabilities, "
            "which trimmed weights no longer reflect; use the two-phase (or calibrated) weights.")
