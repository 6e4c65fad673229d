"""Models of social connection and health on survey data.

Built on the design engine (:meth:`socialhealth.design.SurveyDesign.glm` and the design-based
variance of any estimator), so every model works on Taylor-linearisation and replicate-weight
designs and matches R's ``survey`` package.

* :func:`association` - nested (cumulatively adjusted) models of an exposure and an outcome:
  odds ratios, prevalence ratios, risk differences or coefficients (R ``svyglm``).
* :func:`prospective` - baseline connection and later health on a linked panel
  (``datasets.load_panel``), adjusted for the outcome at baseline or restricted to incident
  cases (R ``svyglm`` on the linked rows).
* :func:`transitions` - weighted from -> to transition table of a concept between two waves of
  a linked panel, with ``svyciprop`` intervals (R ``svytable`` / ``svyciprop``).
* :func:`attrition` - followed vs lost at baseline, inverse probability of retention weights
  and a prospective model with and without them (linearised or replicate variance).
* :func:`change` - within-person first differences: change in health on change in connection
  between two waves (R ``svyglm`` on the differenced rows).
* :func:`interaction` - exposure effects within levels of a modifier and the Wald test of the
  product term (R ``svyglm`` + ``regTermTest``).
* :func:`margins` - predictive margins and their differences/ratios (Graubard & Korn 1999;
  R ``svypredmeans``).
* :func:`coxph` - design-based Cox model (R ``svycoxph``).
* :func:`survreg` - design-based parametric survival (accelerated failure time) model:
  Weibull, exponential, log-normal, log-logistic, Gaussian, logistic (R ``svysurvreg``).
* :func:`kaplan_meier` - design-based survival curves with linearised or replicate SEs and
  quantiles (R ``svykm``).
* :func:`marginpred` - standardised predictions by calibration: survival curves by group or
  GLM predictions with the adjustment variables made uncorrelated with the model's
  (Graubard & Korn 1999; R ``marginpred``).
* :func:`logrank` - design-based log-rank and G(rho, gamma) tests (R ``svylogrank``).
* :func:`ordinal` - proportional-odds model (R ``svyolr``).
* :func:`multinomial` - baseline-category (multinomial) logit for unordered outcomes (Stata
  ``svy: mlogit``; R ``svyVGAM::svy_vglm(family = multinomial)``).
* :func:`ivreg` - instrumental-variable (two-stage least squares) regression (R ``svyivreg``;
  Stata ``svy: ivregress 2sls``).
* :func:`goodness_of_fit` - Archer-Lemeshow goodness-of-fit test of a survey logistic
  regression (R ``svyglm`` + ``regTermTest`` on the residuals by decile of risk; Stata
  ``estat gof`` after ``svy: logistic``).
* :func:`compare_risk_factors` - isolation/loneliness next to smoking, obesity, inactivity on
  the same data, with the published anchors.
* :func:`meta` - fixed/random-effects meta-analysis (R ``metafor::rma``); :func:`mi_combine` -
  Rubin's rules (R ``mitools::MIcombine``); :mod:`anchors` - published pooled estimates;
  :func:`se_from_ci`, :func:`i2_from_q` - standard errors from published CIs, I^2 from Q.

>>> import socialhealth as sh
>>> from socialhealth import models
>>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
>>> t = models.association(sd.design, exposure="lonely", outcome="poor_health",
...                        adjust=[["age", "sex"], ["education"]], measure="or")
>>> print(t.to_frame()[["model_label", "estimate", "ci_low", "ci_high"]].round(3).to_string())
   model_label  estimate  ci_low  ci_high
0   unadjusted     2.304   1.968    2.698
1   + age, sex     2.503   2.130    2.941
2  + education     2.480   2.110    2.914
"""
from __future__ import annotations

from socialhealth.models import anchors
from socialhealth.models._association import AssociationTable, association
from socialhealth.models._attrition import AttritionResult, attrition
from socialhealth.models._change import ChangeResult, change
from socialhealth.models._coxph import CoxResult, coxph
from socialhealth.models._goodness_of_fit import GoodnessOfFitResult, goodness_of_fit
from socialhealth.models._interaction import InteractionResult, interaction
from socialhealth.models._ivreg import IVResult, ivreg
from socialhealth.models._kaplan_meier import KaplanMeierResult, kaplan_meier
from socialhealth.models._logrank import LogrankResult, logrank
from socialhealth.design.marginpred import MarginPredResult, marginpred
from socialhealth.models._margins import MarginsResult, margins
from socialhealth.models._meta import MetaResult, i2_from_q, meta, se_from_ci
from socialhealth.models.mi import MIResult, mi_combine
from socialhealth.models._multinomial import MultinomialResult, multinomial
from socialhealth.models._ordinal import OrdinalResult, ordinal
from socialhealth.models._prospective import ProspectiveTable, prospective
from socialhealth.models._survreg import SurvregResult, survreg
from socialhealth.models._transitions import TransitionTable, transitions
from socialhealth.models.risk_factors import compare_risk_factors

__all__ = [
    "association", "prospective", "transitions", "attrition", "change", "interaction", "margins",
    "coxph", "survreg", "kaplan_meier", "marginpred", "logrank", "ordinal", "multinomial",
    "ivreg", "goodness_of_fit", "mi_combine", "meta", "se_from_ci", "i2_from_q", "anchors",
    "compare_risk_factors",
    "AssociationTable", "ProspectiveTable", "AttritionResult", "ChangeResult", "TransitionTable",
    "InteractionResult", "MarginsResult", "MarginPredResult", "CoxResult", "SurvregResult",
    "KaplanMeierResult",
    "OrdinalResult", "MultinomialResult", "IVResult", "MetaResult", "MIResult", "LogrankResult",
    "GoodnessOfFitResult",
]
