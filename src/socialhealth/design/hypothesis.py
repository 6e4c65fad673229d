"""Design-based hypothesis tests: two-group t-test (R ``svyttest``) and tests of association in
a two-way table (R ``svychisq``).

t-test
    The difference of two domain means ``d = ybar_2 - ybar_1`` (second level minus first, the
    coefficient of the group indicator in the gaussian survey regression ``y ~ group``), its
    linearisation or replicate standard error (identical to the regression's sandwich SE),
    ``t = d / se`` on the regression's residual df (Taylor: ``degf`` of the rows used - 1;
    replicate: ``degf(design) - 1``). One sample / paired: ``t = (mean - mu) / se`` on
    ``degf(design) - 1`` (R ``svyttest(y ~ 0)``).

Rao-Scott tests (``statistic="F"`` and ``"Chisq"``)
    ``p_ij`` are the estimated cell proportions with design covariance ``V`` (of the cell means)
    and ``n`` the rows of the design (as R, rows with a missing value count; only the printed
    ``X^2`` depends on ``n``). Pearson's ``X^2 = n sum_ij (p_ij - p_i. p_.j)^2 / (p_i. p_.j)``. The
    generalised design effects ``delta_1..delta_k`` (``k = (r-1)(c-1)``) are the eigenvalues of
    ``Delta = (C' D C / n)^{-1} (C' D V D C)``, the design covariance of the log-linear
    interaction contrasts ``C' log p`` relative to the multinomial one, where ``D = diag(1/p)``
    and ``C`` the interaction columns of the two-way log-linear model after removing (by
    ordinary least squares) their projection on the main effects (Rao & Scott 1984, §4). For an
    empty cell (``p_ij = 0``, where ``log p`` has no derivative) ``D`` has 0, as R survey 4.1-1
    does (checked against R on tables with empty cells in ``tests/design/test_pps_stats.py``);
    without empty cells this equals ``(C~' V0 C~)^{-1} (C~' V C~)`` with
    ``V0 = (diag(p) - p p') / n`` and ``C~`` residualised by least squares weighted by ``p``.
    ``"F"`` (second-order, the default): ``F = X^2 / tr(Delta)`` referred to
    ``F(nu, nu * df)`` with ``nu = tr(Delta)^2 / tr(Delta^2)`` and ``df = degf(design)`` (Rao &
    Scott 1984; Thomas & Rao 1987). ``"Chisq"`` (first-order): the p-value refers
    ``X^2 / mean(delta)`` to chi-squared with ``k`` df; the statistic shown is ``X^2`` itself,
    as R prints it.

Wald tests (``statistic="Wald"`` and ``"adjWald"``)
    Koch, Freeman & Freeman (1975): ``Y_ij = N_ij - N_i. N_.j / N`` for ``i < r, j < c`` from the
    estimated cell totals, with delta-method covariance ``H V_N H'``; ``W = Y' (H V_N H')^{-1} Y``.
    ``"Wald"``: ``F = W / k`` on ``(k, df)``; ``"adjWald"`` (Fellegi 1980):
    ``F = W (df - k + 1) / (df k)`` on ``(k, df - k + 1)``.

References
----------
Rao JNK, Scott AJ (1984) On chi-squared tests for multiway contingency tables with cell
proportions estimated from survey data. *Annals of Statistics* 12:46-60.
Thomas DR, Rao JNK (1987) Small-sample comparisons of level and power for simple
goodness-of-fit statistics under cluster sampling. *JASA* 82:630-636.
Koch GG, Freeman DH, Freeman JL (1975) Strategies in the multivariate analysis of data from
complex surveys. *International Statistical Review* 43:59-78.
Lumley T (2010) *Complex Surveys*, Wiley, §6.1-6.2.
"""
from __future__ import annotations

from typing import Literal

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given, show_list
from socialhealth.design.result_protocol import TEST_REASONS, Result
from socialhealth.design.structure import require_columns
from socialhealth.design.variables import categorical_levels
from socialhealth.errors import EstimationError, FormulaError

CHISQ_STATISTICS = ("F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint")


@dataclass
class TestResult(Result):
    """Result of a design-based test: a one-row tidy table plus a description.

    ``to_frame()`` returns the table; ``statistic``, ``p`` and the other columns are also
    available as attributes (``result.p``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> res = d.chisq("sch.wide", "stype")
    >>> print(res.to_frame().round(4).to_string())
       statistic   ndf      ddf       p method  pearson
    0     2.7038  1.74  24.3593  0.0933      F   6.7874
    >>> round(float(res.p), 4), res.method
    (0.0933, "Pearson's X^2: Rao & Scott second-order adjustment (F)")
    """

    _not_applicable = TEST_REASONS

    table: pd.DataFrame
    method: str
    r_call: str = ""
    design_label: str = ""
    extra: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The one-row result table (statistic, degrees of freedom, p-value, ...) as a copy."""
        return self.table.copy()

    def __getattr__(self, name):
        table = self.__dict__.get("table")
        if table is not None and name in table.columns:
            return table[name].iloc[0]
        return super().__getattr__(name)

    def __repr__(self) -> str:
        lines = [self.method + (f": {self.design_label}" if self.design_label else "")]
        with pd.option_context("display.width", 120, "display.max_columns", 20,
                               "display.float_format", "{:.6g}".format):
            lines.append(self.table.to_string(index=False))
        if self.r_call:
            lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- helpers
def _codes(s: pd.Series, used: np.ndarray) -> tuple[np.ndarray, list]:
    """Integer level codes (-1 for missing) and the levels present among ``used`` rows."""
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s) \
            or pd.api.types.is_bool_dtype(s):
        levels_all = categorical_levels(s) if not pd.api.types.is_bool_dtype(s) else [False, True]
    else:
        levels_all = sorted(pd.unique(s.dropna()).tolist())
    mapping = {v: i for i, v in enumerate(levels_all)}
    codes = s.map(mapping).to_numpy(dtype=float, na_value=np.nan)
    codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    present = sorted(set(codes[used & (codes >= 0)].tolist()))
    remap = np.full(len(levels_all) + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    new = np.where(codes >= 0, remap[np.clip(codes, 0, None)], -1)
    return new, [levels_all[i] for i in present]


_PAIRED = re.compile(r"^I\(\s*([^()\s-]+)\s*-\s*([^()\s-]+)\s*\)$")


def _parse_formula(formula: str) -> tuple[str, str | None, str | None]:
    """``(outcome, group, paired)`` from ``"y ~ g"``, ``"y ~ 0"`` / ``"y ~ 1"`` (one sample) or
    ``"I(x - y) ~ 0"`` (paired: outcome x, paired y)."""
    lhs, rhs = (x.strip() for x in formula.split("~", 1))
    if not lhs or not rhs or any(ch in rhs for ch in "+*:"):
        raise FormulaError(
            f"ttest formula {formula!r} must be 'outcome ~ group' with a single grouping "
            "variable, 'outcome ~ 0' (one sample) or 'I(x - y) ~ 0' (paired)."
        )
    paired = None
    if lhs.startswith("I("):
        m = _PAIRED.match(lhs)
        if m is None:
            raise FormulaError(
                f"ttest formula {formula!r}: the only I() form supported is 'I(x - y)' (paired "
                "difference of two columns); create other derived columns with design.assign()."
            )
        lhs, paired = m.group(1), m.group(2)
    if rhs in ("0", "1"):
        return lhs, None, paired
    if paired is not None:
        raise FormulaError(
            f"ttest formula {formula!r}: a paired difference is tested against 0 ('I(x - y) ~ 0')."
        )
    return lhs, rhs, None


def _numeric(design, name: str) -> np.ndarray:
    ys = design.data[name]
    if not pd.api.types.is_numeric_dtype(ys) or pd.api.types.is_bool_dtype(ys):
        raise EstimationError(f"the outcome {name!r} must be numeric (dtype is {ys.dtype}).")
    return ys.to_numpy(dtype=float, na_value=np.nan)


# ----------------------------------------------------------------------------- t-test
def ttest(design, formula_or_variable: str, by: str | None = None, level: float = 0.95,
          mu: float = 0.0, paired: str | None = None) -> TestResult:
    """Design-based t-test: two domain means, one mean against ``mu``, or paired differences.

    Two groups (``"y ~ group"`` or ``by=``): ``d = mean(y | group = level 2) - mean(y | group =
    level 1)`` (levels in sorted/category order, so ``api00 ~ sch_wide`` gives Yes - No), ``se``
    from the design (linearisation or replicates; equal to the sandwich SE of the group
    coefficient in ``svyglm(y ~ group)``), ``t = d / se`` on the residual df of that regression,
    ``df = degf_used - 1``. As R's ``svyglm``: for a Taylor design ``degf_used`` is ``degf`` of
    the design restricted to the rows used (PSUs and strata whose rows all miss ``y`` or the
    group no longer count); for a replicate design it is ``degf`` of the whole design.

    One sample (``"y ~ 0"``, or no ``by``): ``m = mean(y)``, ``t = (m - mu) / se(m)`` on
    ``df = degf(design) - 1`` (R's ``svyttest(y ~ 0)`` uses ``degf - 1`` of the design,
    including rows with ``y`` missing). Paired (``paired="y2"`` or ``"I(y - y2) ~ 0"``): the
    one-sample test of ``y - y2``. Two-sided ``p = 2 P(T_df > |t|)``, interval
    ``estimate +- qt(1 - alpha/2, df) se`` (for one sample it is the interval of the mean).
    Rows missing a variable are left out with zero weight (domain estimation, R
    ``na.rm = TRUE``).

    Negative replicate weights (e.g. ACS successive-difference replicates): as in R, the
    two-group test refits the regression per replicate, and R's ``glm.fit`` keeps only rows with
    a positive weight, so a negative replicate weight on the rows used counts as 0 (with an
    :class:`~socialhealth.errors.RDifferenceWarning`, as ``design.glm()``); the one-sample and
    paired tests are R's ``svymean`` and use the replicate weights as given (no warning).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula_or_variable : str
        ``"y ~ group"``, ``"y ~ 0"``, ``"I(y - y2) ~ 0"``, or the outcome column.
    by : str, optional
        Grouping column with exactly two levels among the rows used (two-group test).
    level : float, default 0.95
        Confidence level of the interval.
    mu : float, default 0
        Null value of the mean (one-sample and paired tests); R: ``svyttest(I(y - mu) ~ 0)``.
    paired : str, optional
        Second column of a paired test: tests ``mean(y - paired) = mu``.

    Returns
    -------
    TestResult
        ``to_frame()`` columns: term, estimate, se, statistic, df, p, ci_low, ci_high.

    References
    ----------
    Lumley T (2010) *Complex Surveys*, Wiley, §5.2 (svyttest as a regression on the group).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> d.ttest("api00 ~ sch.wide")
    Design-based t-test (difference in domain means): 1-stage cluster survey design
    (Taylor linearisation)
                                 term  estimate      se  statistic  df        p   ci_low  ci_high
    api00: sch.wide=Yes - sch.wide=No    33.697 19.7359    1.70739  13 0.111504 -8.93987  76.3339
    In R: svyttest(api00 ~ sch.wide, design)
    >>> res = d.ttest("api00", by="sch.wide", level=0.9)
    >>> print(res.to_frame()[["estimate", "se", "df", "ci_low", "ci_high"]].round(3).to_string())
       estimate      se    df  ci_low  ci_high
    0    33.697  19.736  13.0  -1.254   68.648
    >>> round(float(res.p), 4)
    0.1115

    >>> one = d.ttest("api00", mu=600)         # one-sample: svyttest(I(api00 - 600) ~ 0)
    >>> round(float(one.df))
    13

    In R: ``svyttest(api00 ~ sch.wide, dclus1)``; ``svyttest(I(api00 - 600) ~ 0, dclus1)``;
    ``confint(svyttest(api00 ~ sch.wide, dclus1), level = 0.9)``.
    """
    from socialhealth.design.results import check_level

    level = check_level(level)
    if isinstance(mu, (bool, np.bool_)) or not isinstance(mu, (int, float, np.number)) \
            or not np.isfinite(float(mu)):
        raise EstimationError(f"mu= must be a finite number (the null value of the mean), not "
                              f"{show_given(mu)}.")
    if not isinstance(formula_or_variable, str):
        raise FormulaError("ttest needs a column name or a formula string such as 'api00 ~ "
                           "sch_wide'.")
    if "~" in formula_or_variable:
        if by is not None:
            raise FormulaError("give either a formula 'y ~ group' or a variable with by=, not "
                               "both.")
        yname, gname, paired_f = _parse_formula(formula_or_variable)
        if paired_f is not None:
            if paired is not None:
                raise FormulaError("give the paired column either in the formula I(x - y) or as "
                                   "paired=, not both.")
            paired = paired_f
    else:
        if by is not None and not isinstance(by, str):
            raise FormulaError("ttest compares two groups of one variable; by= must be one column "
                               "name.")
        yname, gname = formula_or_variable.strip(), by
    if gname is not None and (paired is not None or mu != 0):
        raise FormulaError("mu= and paired= belong to one-sample tests; a two-group test compares "
                           "the two means with each other (drop by= or the group).")
    if gname is None:
        return _ttest_one(design, yname, paired, float(mu), level)
    require_columns(design.data, [yname, gname], "the design data")
    y = _numeric(design, yname)
    base = design.in_subset & ~np.isnan(y)
    g, levels = _codes(design.data[gname], base)
    used = base & (g >= 0)
    if len(levels) != 2:
        shown = show_list(levels, limit=10)
        raise EstimationError(
            f"ttest needs a grouping variable with exactly 2 levels among the rows used; "
            f"{gname!r} has {len(levels)}{': ' + shown if levels else ''}. Recode it or use "
            "design.glm() for more groups."
        )
    ind = np.column_stack([(g == 0) & used, (g == 1) & used]).astype(float)
    num = ind * np.nan_to_num(y)[:, None]
    vdesign = design
    negative = getattr(design, "_negative_replicates", None)
    if negative is not None and negative(used):
        # R's svyttest(y ~ g) is svyglm(y ~ g): its replicate refits (glm.fit) count a negative
        # replicate weight as 0; same numbers here, with an RDifferenceWarning
        vdesign = design._irls_refit_design("ttest (two groups, as R's svyglm)")
    theta, V = vdesign._ratio_estimate(num, ind)
    diff = float(theta[1] - theta[0])
    se = float(np.sqrt(V[0, 0] + V[1, 1] - 2 * V[0, 1]))
    df = design._model_degf(np.flatnonzero(used)) - 1
    if _constant(y, used):
        # both means are the same constant: the difference is exactly 0 with no variance, so t
        # is 0/0. R's svyttest(y ~ g) returns rounding noise here (e.g. t = -0.76 from a
        # difference of -2e-16); socialhealth gives the exact 0 and an explicit NaN t and p.
        diff, se = 0.0, 0.0
        _warn_constant(yname)
    table = _t_table(f"{yname}: {gname}={levels[1]} - {gname}={levels[0]}", diff, se, diff, df,
                     level)
    return TestResult(
        table=table,
        method="Design-based t-test (difference in domain means)",
        r_call=f"svyttest({yname} ~ {gname}, design)",
        design_label=design._short_label(),
        extra={"levels": levels, "means": np.asarray(theta, dtype=float)},
    )


def _constant(y: np.ndarray, used: np.ndarray) -> bool:
    """True when ``y`` takes a single value among the rows used."""
    vals = y[used]
    return len(vals) > 0 and bool(np.all(vals == vals[0]))


def _warn_constant(name: str) -> None:
    import warnings

    from socialhealth.errors import SocialHealthWarning

    warnings.warn(
        f"{name!r} is constant among the rows used, so its standard error is 0 and the t "
        "statistic is undefined when the estimate equals the null value (t and p are NaN, as "
        "in R's svyttest).", SocialHealthWarning, stacklevel=user_stacklevel(),
    )


def _t_table(term, estimate, se, centred, df, level) -> pd.DataFrame:
    # scipy.stats' t.sf and t.ppf are these special functions (identical values), without
    # loading scipy.stats (~45 MB) for a t-test (issue 14)
    from scipy import special

    with np.errstate(invalid="ignore", divide="ignore"):
        # se NaN (undefined variance, e.g. lonely_psu="average" with only lonely strata): t NaN
        tstat = centred / se if not se == 0 else (np.sign(centred) * np.inf if centred != 0
                                                  else np.nan)
    with np.errstate(invalid="ignore"):
        p = float(2 * special.stdtr(df, -abs(tstat))) if df > 0 and not np.isnan(tstat) else np.nan
        q = float(special.stdtrit(df, 1 - (1 - level) / 2)) if df > 0 else np.nan
    return pd.DataFrame({
        "term": [term], "estimate": [estimate], "se": [se], "statistic": [tstat],
        "df": [float(df)], "p": [p], "ci_low": [estimate - q * se], "ci_high": [estimate + q * se],
    })


def _ttest_one(design, yname: str, paired: str | None, mu: float, level: float) -> TestResult:
    cols = [yname] + ([paired] if paired is not None else [])
    require_columns(design.data, cols, "the design data")
    y = _numeric(design, yname)
    if paired is not None:
        y = y - _numeric(design, paired)
    used = design.in_subset & ~np.isnan(y)
    if not used.any():
        raise EstimationError(f"no rows with {' and '.join(map(repr, cols))} observed in the "
                              f"design.")
    ind = used.astype(float)[:, None]
    theta, V = design._ratio_estimate(ind * np.nan_to_num(y)[:, None], ind)
    m, se = float(theta[0]), float(np.sqrt(V[0, 0]))
    df = design.degf() - 1
    if _constant(y, used):
        # a constant outcome has no sampling variance: R's svyttest(I(y - mu) ~ 0) gives
        # se 0, t = NaN and p = NA when y == mu (t = +-Inf, p = 0 otherwise); rounding must not
        # turn 0/0 into a "significant" t, so the exact values are used.
        m, se = float(y[used][0]), 0.0
        _warn_constant(yname if paired is None else f"{yname} - {paired}")
    what = f"I({yname} - {paired})" if paired is not None else yname
    lhs = what if mu == 0 else f"I({what} - {mu:g})"
    table = _t_table(f"mean({what})", m, se, m - mu, df, level)
    table.insert(2, "mu", mu)
    return TestResult(
        table=table,
        method="Design-based " + ("paired" if paired is not None else "one-sample") + " t-test",
        r_call=f"svyttest({lhs} ~ 0, design, na.rm = TRUE)",
        design_label=design._short_label(),
        extra={"mu": mu},
    )


# ----------------------------------------------------------------------------- chi-square
def _cell_design(design, row: str, col: str, max_levels=None):
    require_columns(design.data, [row, col], "the design data")
    inside = design.in_subset
    r0, _ = _codes(design.data[row], inside)
    c0, _ = _codes(design.data[col], inside)
    used = inside & (r0 >= 0) & (c0 >= 0)
    if not used.any():
        raise EstimationError(f"no rows with both {row!r} and {col!r} observed.")
    r, rlev = _codes(design.data[row], used)
    c, clev = _codes(design.data[col], used)
    from socialhealth.design.table import check_factor_levels

    for name, lev in ((row, rlev), (col, clev)):
        check_factor_levels(name, design.data[name], len(lev), max_levels, "chisq()")
        if len(lev) < 2:
            raise EstimationError(
                f"{name!r} has {len(lev)} level among the rows used; a test of association needs "
                "at least 2 levels in each variable."
            )
    R, C = len(rlev), len(clev)
    cells = [(i, j) for j in range(C) for i in range(R)]          # row variable fastest
    key = np.where(used, r + R * c, -1)                            # the cell of each row
    return key, used, rlev, clev, cells


def _solve(A, B, row, col):
    try:
        # as R's solve(): singular also when the reciprocal condition number is below the
        # machine epsilon (numpy only refuses exactly singular matrices)
        if not 1.0 / np.linalg.cond(A, 1) >= np.finfo(float).eps:
            raise np.linalg.LinAlgError
        return np.linalg.solve(A, B)
    except np.linalg.LinAlgError:
        # R's svychisq stops with "system is computationally singular" here
        raise EstimationError(
            f"the test of {row!r} by {col!r} is not defined: the covariance matrix of the table's "
            "cells is singular (e.g. the same variable twice, a variable with one row per level "
            "such as a continuous column, or levels that determine each other). Check the two "
            "variables; collapse sparse levels. (R's svychisq fails with 'system is "
            "computationally singular' here.)"
        ) from None


def chisq(design, row: str, col: str,
          statistic: Literal["F", "Chisq", "Wald", "adjWald", "lincom",
                             "saddlepoint"] = "F",
          max_levels: int | None = 100) -> TestResult:
    """Test of independence in a two-way table with the Rao-Scott or Wald corrections.

    ``statistic="F"`` (default, as R): Rao-Scott second-order corrected Pearson statistic
    ``F = X^2 / tr(Delta)`` on ``(nu, nu * degf)`` degrees of freedom,
    ``nu = tr(Delta)^2 / tr(Delta^2)``; ``"Chisq"``: first-order correction (p-value of
    ``X^2 / mean(delta)`` on chi-squared ``(r-1)(c-1)``; ``statistic`` reports ``X^2``);
    ``"Wald"`` / ``"adjWald"``: Wald test of ``N_ij - N_i. N_.j / N`` from the estimated cell
    totals; ``"saddlepoint"`` / ``"lincom"``: ``X^2`` against its asymptotic distribution
    ``sum_j delta_j chi^2_1`` (``delta_j`` the eigenvalues of the design-effect matrix), over
    ``chi^2_ddf / ddf`` with ``ddf = nu * degf`` (``nu`` of ``"F"``) for a Taylor design and
    without (``ddf = inf``) for a replicate design, as R; the tail probability by a
    saddlepoint approximation or exactly (``"lincom"``: Ruben's series,
    :func:`socialhealth.design.lincomb.pchisqsum`, where R integrates with Davies' method).
    With a non-integer ``ddf`` R's saddlepoint counts ``floor(ddf)`` chi-squares of 1 df in
    the denominator; socialhealth uses ``ddf`` itself, so Taylor p-values of tables with more
    than one df differ slightly (e.g. 0.2847 against R's 0.2976 at ``ddf = 15.55``).
    Formulas in :mod:`socialhealth.design.hypothesis`. Rows missing either variable are
    left out with zero weight.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    row, col : str
        The two categorical (or discrete numeric) columns.
    statistic : {"F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint"}
    max_levels : int or None, default 100
        Refuse (:class:`~socialhealth.errors.ArgumentError`) a numeric column with more
        distinct values than this among the rows used: cut it into categories first.
        ``None``: no limit (R ``svychisq`` takes any number of levels).

    Returns
    -------
    TestResult
        ``to_frame()`` columns: statistic, ndf, ddf (NaN for "Chisq", "lincom" and
        "saddlepoint", whose statistic is ``X^2``), p, method, plus ``pearson`` (the unadjusted
        Pearson X^2 for all but "Wald"/"adjWald").

    References
    ----------
    Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60. Thomas DR, Rao JNK (1987) *JASA*
    82:630-636. Koch GG, Freeman DH, Freeman JL (1975) *International Statistical Review*
    43:59-78. Lumley T (2010) *Complex Surveys*, Wiley, §6.2.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> d.chisq("sch.wide", "stype")
    Pearson's X^2: Rao & Scott second-order adjustment (F): 1-stage cluster survey design
    (Taylor linearisation)
     statistic     ndf     ddf         p method  pearson
       2.70383 1.73995 24.3593 0.0932634      F  6.78744
    In R: svychisq(~sch.wide + stype, design, statistic = 'F')
    >>> for stat in ("Chisq", "Wald", "adjWald"):
    ...     res = d.chisq("sch.wide", "stype", statistic=stat)
    ...     print(stat, round(float(res.statistic), 4), round(float(res.p), 4))
    Chisq 6.7874 0.0669
    Wald 3.0311 0.0806
    adjWald 2.8146 0.0965

    In R: ``svychisq(~sch.wide + stype, dclus1, statistic = "F")`` (also ``"Chisq"``,
    ``"Wald"``, ``"adjWald"``).
    """
    from scipy import stats

    if not is_choice(statistic, CHISQ_STATISTICS):
        raise EstimationError(
            f"statistic={show_given(statistic)} is not supported; use one of "
            f"{', '.join(CHISQ_STATISTICS)}."
        )
    from socialhealth.design.loglin import cell_estimate

    key, used, rlev, clev, cells = _cell_design(design, row, col, max_levels)
    R, C = len(rlev), len(clev)
    k = (R - 1) * (C - 1)
    nu = design.degf()
    r_call = f"svychisq(~{row} + {col}, design, statistic = '{statistic}')"
    rows_idx = np.array([i for i, _ in cells])
    cols_idx = np.array([j for _, j in cells])

    if statistic in ("Wald", "adjWald"):
        N_cells, V = cell_estimate(design, key, len(cells), False)
        N = N_cells.sum()
        rt = np.array([N_cells[rows_idx == i].sum() for i in range(R)])
        ct = np.array([N_cells[cols_idx == j].sum() for j in range(C)])
        idx = [(i, j) for j in range(C - 1) for i in range(R - 1)]
        Y = np.array([N_cells[cells.index((i, j))] - rt[i] * ct[j] / N for i, j in idx])
        H = np.zeros((k, len(cells)))
        for a, (i, j) in enumerate(idx):
            H[a] = ((rows_idx == i) & (cols_idx == j)).astype(float)
            H[a] -= (ct[j] * (rows_idx == i) + rt[i] * (cols_idx == j)) / N
            H[a] += rt[i] * ct[j] / N**2
        VY = H @ V @ H.T
        W = float(Y @ _solve(VY, Y, row, col))
        if statistic == "Wald":
            F, ndf, ddf = W / k, float(k), float(nu)
        else:
            ddf = float(nu - k + 1)
            F, ndf = W * ddf / (nu * k), float(k)
        p = float(stats.f.sf(F, ndf, ddf)) if ddf > 0 else np.nan
        table = pd.DataFrame({"statistic": [F], "ndf": [ndf], "ddf": [ddf], "p": [p],
                              "method": [statistic], "wald": [W]})
        return TestResult(table, "Design-based Wald test of association"
                          + (" (adjusted)" if statistic == "adjWald" else ""),
                          r_call, design._short_label(), {"rows": rlev, "cols": clev})

    p_cells, V = cell_estimate(design, key, len(cells), True)
    # as R, the Pearson statistic is scaled to the rows of the design, counting rows with a
    # missing value too (the F statistic and both p-values do not depend on this scale)
    n = int(design.in_subset.sum())
    P = np.zeros((R, C))
    P[rows_idx, cols_idx] = p_cells
    E = np.outer(P.sum(axis=1), P.sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        X2 = float(n * np.nansum((P - E) ** 2 / E))
    # interaction columns of the log-linear model, residualised on the main effects (ordinary
    # least squares), and the derivative of log p: diag(1 / p), 0 for an empty cell
    X1 = np.column_stack([np.ones(len(cells))]
                         + [(rows_idx == i).astype(float) for i in range(1, R)]
                         + [(cols_idx == j).astype(float) for j in range(1, C)])
    X2m = np.column_stack([((rows_idx == i) & (cols_idx == j)).astype(float)
                           for j in range(1, C) for i in range(1, R)])
    Cm = X2m - X1 @ np.linalg.lstsq(X1, X2m, rcond=None)[0]
    with np.errstate(divide="ignore"):
        inv_p = np.where(p_cells > 0, 1.0 / p_cells, 0.0)
    A = inv_p[:, None] * Cm
    Delta = _solve(Cm.T @ A / n, A.T @ V @ A, row, col)
    tr1 = float(np.trace(Delta))
    tr2 = float(np.trace(Delta @ Delta))
    if not tr1 > 0:
        raise EstimationError(
            f"the design variance of the table of {row!r} by {col!r} is 0 or undefined (NaN), "
            "so the Rao-Scott correction X^2 / mean design effect is undefined (R gives NaN for "
            "statistic='F'; for 'Chisq' a p-value of 0 or NaN). Variance 0: every stratum or "
            "PSU sampled with certainty (fpc equal to the sample size), so there is no sampling "
            "error to test: compare the estimated proportions (design.table(...)). NaN: "
            "lonely_psu='average' with data only in single-PSU strata; choose another "
            "lonely_psu."
        )
    if statistic == "F":
        F = X2 / tr1
        ndf = tr1**2 / tr2
        ddf = ndf * nu
        p = float(stats.f.sf(F, ndf, ddf))
        table = pd.DataFrame({"statistic": [F], "ndf": [ndf], "ddf": [ddf], "p": [p],
                              "method": ["F"], "pearson": [X2]})
        method = "Pearson's X^2: Rao & Scott second-order adjustment (F)"
    elif statistic in ("lincom", "saddlepoint"):
        from socialhealth.design.lincomb import pchisqsum

        deltas = np.linalg.eigvals(Delta).real       # Delta = A^-1 B: real, not symmetric
        # a design effect 0 (up to rounding) adds 0 x chi2_1: left out
        deltas = deltas[deltas > 1e-12 * deltas.max()]
        ddf = tr1**2 / tr2 * nu if getattr(design, "kind", "") != "replicate" else np.inf
        try:
            p = pchisqsum(X2, np.ones(len(deltas)), deltas,
                          method="exact" if statistic == "lincom" else "saddlepoint", ddf=ddf)
        except EstimationError as exc:
            raise EstimationError(
                f"statistic='lincom' cannot compute the exact tail for the table of {row!r} by "
                f"{col!r} ({exc}); the table is nearly singular (design effects "
                f"{deltas.min():.3g} to {deltas.max():.3g}): use statistic='saddlepoint' or "
                "merge sparse levels.") from None
        table = pd.DataFrame({"statistic": [X2], "ndf": [np.nan], "ddf": [np.nan], "p": [p],
                              "method": [statistic], "pearson": [X2]})
        method = ("Pearson's X^2: " + ("saddlepoint approximation" if statistic == "saddlepoint"
                                       else "exact linear combination of chi-squares"))
    else:
        p = float(stats.chi2.sf(X2 / (tr1 / k), k))
        table = pd.DataFrame({"statistic": [X2], "ndf": [float(k)], "ddf": [np.nan], "p": [p],
                              "method": ["Chisq"], "pearson": [X2]})
        method = "Pearson's X^2: Rao & Scott first-order adjustment (chi-squared)"
    return TestResult(table, method, r_call, design._short_label(),
                      {"rows": rlev, "cols": clev,
                       "design_effects": np.sort(np.linalg.eigvals(Delta).real)[::-1],
                       "cell_proportions": P})


# ----------------------------------------------------------------------------- rank tests
RANK_TESTS = ("wilcoxon", "vanderWaerden", "median", "KruskalWallis")


def _rank_scores(y: np.ndarray, w: np.ndarray, test: str) -> np.ndarray:
    """Scores of the estimated population ranks (Lumley & Scott 2013), rows with ``w > 0``.

    Rows are sorted by ``y`` (ties in data order); row ``k`` in that order gets
    ``C_k - w_k / 2`` with ``C_k`` the cumulative weight, and tied rows share the unweighted
    mean of those values (R survey 4.1-1's convention). ``N = sum w``; Wilcoxon and
    Kruskal-Wallis score ``r / N``, van der Waerden ``Phi^{-1}(r / N)``, Mood's median test
    ``I(r > N / 2)``.
    """
    from scipy import stats

    order = np.argsort(y, kind="stable")
    ys, ws = y[order], w[order]
    mid = np.cumsum(ws) - ws / 2
    mid = pd.Series(mid).groupby(ys, sort=False).transform("mean").to_numpy()
    r = np.empty_like(mid)
    r[order] = mid
    N = w.sum()
    if test in ("wilcoxon", "KruskalWallis"):
        return r / N
    if test == "vanderWaerden":
        return stats.norm.ppf(r / N)
    return (r > N / 2).astype(float)


def ranktest(design, formula_or_variable: str, by: str | None = None,
             test: Literal["wilcoxon", "vanderWaerden", "median",
                           "KruskalWallis"] = "wilcoxon") -> TestResult:
    """Design-based two-sample and k-sample rank tests (Lumley & Scott 2013).

    Ranks are estimated population ranks: with rows sorted by ``y`` and ``C_k`` the
    cumulative weight, row ``k`` gets ``r_k = C_k - w_k / 2`` (tied rows share the mean of
    their values), ``N = sum w``. Scores: Wilcoxon / Kruskal-Wallis ``r / N``, van der Waerden
    ``Phi^{-1}(r / N)``, median ``I(r > N / 2)``. The scores are then treated as data: the
    variance of a difference of mean scores is that of the estimated total of its influence
    values ``z_i = I_j(i) (s_i - m_j) / N_j - I_1(i) (s_i - m_1) / N_1`` (replicate designs
    re-weight these fixed values; the ranks are not recomputed per replicate, as in R).
    Negative replicate weights are used as given (R's two-group ``svyranktest`` does the
    same: no refit, so none of ``glm.fit``'s zeroing of negative weights).

    Two groups: ``d`` = mean score of the second level minus that of the first (levels in
    sorted/category order), design-based ``se`` (linearisation or replicates),
    ``t = d / se`` on ``df = degf_used - 1``, ``p = 2 P(T_df > |t|)``, where ``degf_used``
    is ``degf`` of the design restricted to the rows used, for both design kinds (R's
    ``svyranktest`` drops the rows with a missing value before ``degf``; for a replicate design
    that is the rank of those rows' replicate weights, smaller than the design's when whole
    PSUs miss ``y``; :func:`ttest` differs here, as R's ``svyglm``). ``k > 2`` groups:
    ``b`` = the ``k - 1`` differences of each level's mean score from the first level's,
    ``V`` their design covariance, ``X^2 = b' V^{-1} b``, and
    ``p = P(F(k - 1, degf_used - k + 1) > X^2 / (k - 1))``. The table's ``statistic`` is
    ``X^2`` (R's ``parameter`` element, "Chisq"), ``ndf = k - 1`` and ``ddf`` the
    denominator df. Rows missing ``y`` or the group are left out (zero weight) before the
    ranks are computed.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula_or_variable : str
        ``"y ~ group"`` or the outcome column (with ``by=``).
    by : str, optional
        Grouping column (when ``formula_or_variable`` is a column name).
    test : {"wilcoxon", "vanderWaerden", "median", "KruskalWallis"}
        ``"KruskalWallis"`` is the Wilcoxon score (R: a synonym for more than two groups).

    Returns
    -------
    TestResult
        Two groups: ``to_frame()`` columns term, estimate (difference in mean rank score),
        se, statistic (t), df, p. More groups: term, statistic (``X^2``), ndf, ddf, p.

    Raises
    ------
    EstimationError
        Unknown test, fewer than two groups, or more than two groups with a replicate design
        (R's ``svyranktest`` fails there too: its k-sample test uses linearisation only).

    References
    ----------
    Lumley T, Scott AJ (2013) Two-sample rank tests under complex sampling. *Biometrika*
    100:831-842.

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> df = pd.DataFrame({"psu": np.repeat([1, 2, 3, 4], 3), "w": 2.0,
    ...                    "y": [3., 5, 4, 6, 7, 5, 4, 4, 6, 8, 7, 9],
    ...                    "g": ["a", "b", "b"] * 4})
    >>> d = sh.SurveyDesign(df, weights="w", psu="psu")
    >>> res = d.ranktest("y ~ g")                     # R: t = 1.5329, df = 2
    >>> round(float(res.statistic), 4), float(res.df)
    (1.5329, 2.0)

    In R: ``svyranktest(y ~ g, design, test = "wilcoxon")``.
    """
    from scipy import stats

    if not is_choice(test, RANK_TESTS):
        raise EstimationError(f"test={show_given(test)} is not one of {', '.join(RANK_TESTS)}.")
    if not isinstance(formula_or_variable, str):
        raise FormulaError("ranktest needs a formula string 'y ~ group' or a column name with by=.")
    if "~" in formula_or_variable:
        if by is not None:
            raise FormulaError("give either a formula 'y ~ group' or a variable with by=, not "
                               "both.")
        yname, gname, paired = _parse_formula(formula_or_variable)
        if gname is None or paired is not None:
            raise FormulaError(f"ranktest formula {formula_or_variable!r} must be 'y ~ group'.")
    else:
        if not isinstance(by, str):
            raise FormulaError("ranktest compares groups: give 'y ~ group' or by= one column name.")
        yname, gname = formula_or_variable.strip(), by
    require_columns(design.data, [yname, gname], "the design data")
    y = _numeric(design, yname)
    base = design.in_subset & ~np.isnan(y)
    g, levels = _codes(design.data[gname], base)
    used = base & (g >= 0)
    k = len(levels)
    if k < 2:
        raise EstimationError(
            f"ranktest needs at least 2 groups among the rows used; {gname!r} has {k}.")
    if k > 2 and getattr(design, "kind", "") == "replicate":
        raise EstimationError(
            f"ranktest with {k} groups needs a Taylor (linearisation) design: R's svyranktest "
            "has no k-sample test for replicate-weight designs. Compare two groups at a time "
            "or use the SurveyDesign the replicates were built from.")
    w = np.where(used, design._w, 0.0)
    score = np.zeros(len(w))
    score[used] = _rank_scores(y[used], w[used], test)
    ind = (g[:, None] == np.arange(k)[None, :]) & used[:, None]
    ind = ind.astype(float)
    wd = w @ ind
    theta = (w * score) @ ind / wd
    # influence values (per unit weight) of each group's mean score; the differences from the
    # first group are the regression coefficients of the score on the group indicators. Their
    # variance is that of the estimated total of these fixed values (linearisation; replicate
    # designs re-weight the same values, as R does: the ranks are not re-estimated)
    infl = ind * (score[:, None] - theta[None, :]) / wd[None, :]
    Z = infl[:, 1:] - infl[:, [0]]
    Vb = design._ratio_vcov(Z, None, np.zeros(k - 1))
    # R's svyranktest: degf(design[-na.rows, ]), also for replicate designs (not svyglm's rule)
    degf_used = design._restrict_to_rows(np.flatnonzero(used)).degf()
    name = {"wilcoxon": "Wilcoxon", "KruskalWallis": "Kruskal-Wallis",
            "vanderWaerden": "van der Waerden", "median": "median"}[test]
    call = f'svyranktest({yname} ~ {gname}, design, test = "{test}")'
    if k == 2:
        diff = float(theta[1] - theta[0])
        se = float(np.sqrt(Vb[0, 0]))
        df = degf_used - 1
        table = _t_table(f"{yname}: {gname}={levels[1]} - {gname}={levels[0]}",
                         diff, se, diff, df,
                         0.95)[["term", "estimate", "se", "statistic", "df", "p"]]
    else:
        C = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
        b = C @ theta
        from socialhealth.design.wald import _quadratic_form

        X2 = _quadratic_form(
            b, Vb, EstimationError,
            f"the covariance of the {k - 1} group differences in mean rank score is singular (the "
            f"rows used have {degf_used:g} design degrees of freedom, PSUs minus strata, or a "
            "group has a single PSU); cannot compute the k-sample rank test. Merge sparse groups "
            "or use a design with more PSUs.")
        ndf, ddf = float(k - 1), float(degf_used - (k - 1))
        p = float(stats.f.sf(X2 / ndf, ndf, ddf)) if ddf > 0 else np.nan
        table = pd.DataFrame({"term": [f"{yname} ~ {gname}"], "statistic": [X2], "ndf": [ndf],
                              "ddf": [ddf], "p": [p]})
    return TestResult(
        table=table,
        method=f"Design-based {name} rank test ({k} groups)",
        r_call=call,
        design_label=design._short_label(),
        extra={"levels": levels, "mean_scores": np.asarray(theta, dtype=float)},
    )
