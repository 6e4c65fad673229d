"""Design-based estimation: survey designs and the verbs that work on every design kind.

* :class:`SurveyDesign`: Taylor linearisation (R ``svydesign``).
* :class:`ReplicateDesign`: replicate weights (R ``svrepdesign``); ``SurveyDesign.to_replicate``
  builds one from a Taylor design (R ``as.svrepdesign``).
* :class:`TwoPhaseDesign`: two-phase designs such as case-cohort studies (R ``twophase``).

Both share :class:`~socialhealth.design.base.DesignBase`: ``mean``, ``total``, ``ratio``,
``var``, ``proportion``, ``quantile``, ``ttest``, ``chisq``, ``ranktest``, ``glm``, ``anova``,
``loglin`` (R ``svyloglin``; nested models compared by :func:`anova_loglin`), ``gofchisq``,
``subset``, ``assign``, ``post_stratify``, ``rake``, ``calibrate``. :func:`contrast` (R
``svycontrast``) takes linear and nonlinear (delta-method) contrasts of any estimate or GLM.
:func:`mle` (R ``svymle``) fits a model from a log-likelihood you write (Binder sandwich);
:func:`nls` (R ``svynls``) a nonlinear mean function by weighted least squares.
:func:`HR` and :func:`ppsmat` describe PPS-without-replacement first stages for
``SurveyDesign(..., pps=)`` (R ``HR()``, ``ppsmat()``; :mod:`socialhealth.design.pps`).
"""
from socialhealth.design.base import DesignBase
from socialhealth.design._contrast import contrast
from socialhealth.design.loglin import anova_loglin
from socialhealth.design._mle import MLEResult, mle
from socialhealth.design._nls import NLSResult, nls
from socialhealth.design.pps import HR, ppsmat
from socialhealth.design.replicate import ReplicateDesign
from socialhealth.design.results import Estimate
from socialhealth.design.taylor import SurveyDesign
from socialhealth.design.twophase import TwoPhaseDesign

__all__ = ["DesignBase", "SurveyDesign", "ReplicateDesign", "TwoPhaseDesign", "Estimate",
           "contrast", "anova_loglin", "HR", "ppsmat", "mle", "MLEResult",
           "nls", "NLSResult"]
