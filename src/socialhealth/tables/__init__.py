"""Publication tables: the weighted "Table 1" and regression tables of a survey paper.

* :func:`describe` - characteristics by group with design-based percentages, means, CIs,
  unweighted counts, missing counts and tests (R ``gtsummary::tbl_svysummary``,
  ``tableone::svyCreateTableOne``; Stata ``svy: tabulate``).
* :func:`regression` - estimates with CIs and p-values of one model or of nested models side by
  side, exponentiated (OR/HR/TR/RR) where the model is logistic, Cox, a log-time parametric
  survival model or log-link (R
  ``gtsummary::tbl_regression`` / ``tbl_merge``; Stata ``etable``).

Every table is a :class:`Table`: ``to_frame()`` (tidy numbers), ``to_html()``,
``to_markdown()``, ``to_latex()`` (booktabs), ``to_docx(path)`` (Word), and it displays itself
in notebooks. Rounding rules are in :mod:`socialhealth.tables.format`, labels in
:mod:`socialhealth.tables.labels`.

>>> import socialhealth as sh
>>> design = sh.datasets.load("demo").design
>>> t1 = sh.tables.describe(design, by="lonely", variables=["age_group", "sex"])
>>> t1.kind, t1.header[0]
('describe', 'Characteristic')
"""
from __future__ import annotations

from socialhealth.tables._describe import describe
from socialhealth.tables._regression import regression
from socialhealth.tables.table import Row, Table

__all__ = ["describe", "regression", "Table", "Row"]
