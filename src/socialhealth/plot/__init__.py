"""Publication-ready plots of socialhealth results.

Every function takes a socialhealth result (anything with ``.to_frame()``) or its
``to_frame()`` DataFrame, draws into ``ax=`` (or a new figure), returns the matplotlib
``Axes`` and never calls ``show()``. Axes are labelled with units, a caption states how the
estimates were weighted (override with ``caption=``, or ``caption=None``), colours are
colour-blind safe (Okabe-Ito; YlGnBu for ordered levels).

* :func:`forest` - ratios with CIs (association tables, meta-analyses), log scale, line at 1
* :func:`prevalence` - estimates by group with CIs, bars or points, percent axis
* :func:`trend` - estimates over years with CI bands, optionally by group
* :func:`likert` - distribution of an ordinal item by group, stacked 100% bars
* :func:`risk_factors` - loneliness next to smoking, obesity, inactivity: survey vs published
* :func:`survival` - design-based survival curves (``models.kaplan_meier``) with CI bands
* :func:`cdf` - weighted distribution functions (``design.cdf``) with CI bands
* :func:`transitions` - a panel's transition table (``models.transitions``): heat map with CIs
* :func:`hist`, :func:`boxplot`, :func:`smooth`, :func:`density` - design-based histogram,
  boxplot, scatterplot smoother and kernel density of a numeric variable (R ``svyhist``,
  ``svyboxplot``, ``svysmooth(y ~ x)``, ``svysmooth(~x)``);
  these take the design itself and return a :class:`DesignPlot` (``.ax``, ``.figure`` and
  ``to_frame()``, the numbers drawn)
* :func:`qq` - design-based quantile-quantile plot against the normal or another variable,
  of the same design or of a second one (R ``svyqqmath``, ``svyqqplot``); also a
  :class:`DesignPlot`
* :func:`scatter` - design-based scatterplot: bubbles sized by weight, transparency by weight,
  hexagons shaded by the estimated population count or a subsample drawn with probability
  proportional to the weight (R ``svyplot``); a :class:`DesignPlot`
* :func:`coplot` - conditioning plots: one design-based scatter panel per group or interval of
  a third variable (R ``svycoplot``); a :class:`DesignPlot`
* :func:`biplot` - biplot of design-weighted principal components (``measures.survey_prcomp``)
  with each row's opacity or size from its weight (R ``biplot(svyprcomp(...))``)

>>> import tempfile
>>> from pathlib import Path
>>> import socialhealth as sh
>>> design = sh.datasets.load("demo").design
>>> ax = sh.plot.prevalence(design.proportion("lonely", by="age_group"))
>>> [t.get_text() for t in ax.get_xticklabels()]
['16-24', '25-34', '35-44', '45-54', '55-64', '65-74', '75+']
>>> with tempfile.TemporaryDirectory() as tmp:
...     ax.figure.savefig(Path(tmp) / "lonely_by_age.png", dpi=200)
...     print(Path(tmp, "lonely_by_age.png").stat().st_size > 0)
True
"""
from __future__ import annotations

from socialhealth.plot.design_plots import DesignPlot, boxplot, density, hist, smooth
from socialhealth.plot._biplot import biplot
from socialhealth.plot._cdf import cdf
from socialhealth.plot._coplot import coplot
from socialhealth.plot._design_qq import qq
from socialhealth.plot._design_scatter import scatter
from socialhealth.plot._forest import forest
from socialhealth.plot._likert import likert
from socialhealth.plot._prevalence import prevalence
from socialhealth.plot._risk_factors import risk_factors
from socialhealth.plot.style import DEFAULT_CAPTION, PALETTE
from socialhealth.plot._survival import survival
from socialhealth.plot._transitions import transitions
from socialhealth.plot._trend import trend

__all__ = ["forest", "prevalence", "trend", "likert", "risk_factors", "survival", "cdf",
           "transitions",
           "hist", "boxplot", "smooth", "density", "qq", "scatter", "coplot", "biplot",
           "DesignPlot", "DEFAULT_CAPTION", "PALETTE"]
