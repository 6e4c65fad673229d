"""Table 1 of a survey paper: weighted characteristics of the sample by group, with tests.

Every cell is a design-based estimate from the design's own verbs, so each number equals the
corresponding R ``survey`` result:

* categorical and yes/no variables: weighted percentage of each level with a logit-transformed
  confidence interval, ``design.proportion(x, by=group)`` (R
  ``svyby(~I(x == level), ~group, design, svyciprop, method = "logit", vartype = "ci")``; the
  interval uses the design degrees of freedom of the group, as R's ``svyby`` of a subset);
* continuous variables: weighted mean with a Wald interval (t with the design degrees of
  freedom) or its standard error, ``design.mean(x, by=group)`` (R
  ``svyby(~x, ~group, design, svymean, na.rm = TRUE)``, ``confint(..., df = degf(design))``);
* continuous variables with ``continuous="median"``: weighted median and quartiles,
  ``design.quantile(x, (0.25, 0.5, 0.75), ci=False, by=group)`` (R ``svyquantile(~x, design,
  c(0.25, 0.5, 0.75), ci = FALSE, na.rm = TRUE)`` per group), tested with the design-based
  rank test ``design.ranktest("x ~ group")`` (R ``svyranktest(x ~ group, design)``);
* tests across groups: categorical and yes/no variables, Pearson's X^2 with the Rao-Scott
  second-order correction referred to an F distribution, ``design.chisq(x, group)`` (R
  ``svychisq(~x + group, design)``); continuous variables, the design-based t-test for two
  groups, ``design.ttest("x ~ group")`` (R ``svyttest(x ~ group, design)``), or the Wald F test
  of the group coefficients of a survey-weighted linear regression for more groups (R
  ``regTermTest(svyglm(x ~ group, design), ~group)``).

Respondents with a missing group are left out of the whole table (including the Overall
column), as gtsummary does, and counted in a footnote; they keep their place in the design
(domain estimation, zero weight). Respondents missing a variable are left out of that variable's
estimates and counted in its "Missing" row. Counts (``n``, ``N``) are unweighted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth.design.results import check_level
from socialhealth.design.structure import as_list, check_flag
from socialhealth.design.variables import categorical_levels, is_categorical
from socialhealth.errors import DesignError, MissingColumnError, SocialHealthError
from socialhealth.tables import format as fmt
from socialhealth.tables.labels import group_label, level_label, variable_label
from socialhealth.tables.notes import Markers
from socialhealth.tables.table import Row, Table

__all__ = ["describe", "NUMBER_COLUMNS"]

#: Columns of ``describe(...).to_frame()``.
NUMBER_COLUMNS = ["variable", "variable_label", "level", "level_label", "group", "group_label",
                  "statistic", "estimate", "se", "ci_low", "ci_high", "df", "p25", "p75", "n",
                  "n_nonmissing",
                  "n_missing", "test", "test_statistic", "test_df1", "test_df2", "p_value"]

_CHISQ_NOTE = ("Rao-Scott second-order corrected Pearson X\u00b2 test, F distribution "
               "(R: svychisq(~x + group, design, statistic = \"F\")).")
_TTEST_NOTE = ("Design-based t-test of the difference in weighted means "
               "(R: svyttest(x ~ group, design)).")
_WALD_NOTE = ("Design-based Wald F test of the group coefficients in a survey-weighted linear "
              "regression (R: regTermTest(svyglm(x ~ group, design), ~group)).")
_RANK_NOTE = ("Design-based Wilcoxon rank-sum test (R: svyranktest(x ~ group, design)).")
_KW_NOTE = ("Design-based Kruskal-Wallis test, F distribution (R: svyranktest(x ~ group, design), "
            "which uses the Kruskal-Wallis form for more than two groups).")
_ZERO_NOTE = ("Interval not computable: the percentage is 0 or 100, where the logit interval "
              "is undefined.")


def _kind(s: pd.Series, forced: set, name: str) -> str:
    if name in forced:
        return "categorical"
    if pd.api.types.is_bool_dtype(s):
        return "dichotomous"
    if is_categorical(s):
        return "categorical"
    if pd.api.types.is_numeric_dtype(s):
        return "continuous"
    raise DesignError(f"describe(): column {name!r} has dtype {s.dtype}, which is neither "
                      "categorical, boolean nor numeric; convert it first.")


def _default_variables(data: pd.DataFrame, by) -> list[str]:
    from socialhealth.datasets._schema import schema

    return [c for c, spec in schema().items()
            if spec.get("group") == "demographics" and c in data.columns and c != by
            and c not in ("age", "region")]


def _group_levels(s: pd.Series) -> list:
    if pd.api.types.is_bool_dtype(s):
        present = set(s.dropna().tolist())
        return [v for v in (False, True) if v in present]
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().tolist())
        return [v for v in categorical_levels(s) if v in present]
    return categorical_levels(s)


def _same(a, b) -> bool:
    try:
        return bool(a == b) or str(a) == str(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _rows_of(frame: pd.DataFrame, by, group, level) -> pd.Series:
    """The row of an estimate frame for (group, level) (group None: no by column)."""
    sel = np.ones(len(frame), dtype=bool)
    if by is not None and group is not None:
        sel &= np.array([_same(v, group) for v in frame[by]])
    if level is not None:
        sel &= np.array([_same(v, level) for v in frame["level"]])
    hit = frame[sel]
    return hit.iloc[0] if len(hit) else None


def describe(
    design,
    by: str | None = "lonely",
    variables: Sequence[str] | None = None,
    level: float = 0.95,
    labels: Mapping[str, str] | None = None,
    statistic: Literal["ci", "se"] = "ci",
    categorical: Sequence[str] = (),
    overall: bool = True,
    test: bool = True,
    digits: int = fmt.MEAN_DIGITS,
    title: str | None = None,
    continuous: Literal["mean", "median"] = "mean",
) -> Table:
    """Weighted "Table 1": characteristics of the sample overall and by group, with tests.

    For each variable and each group (and overall): categorical and yes/no variables give the
    weighted percentage of each level (yes/no variables: of "yes") with a logit confidence
    interval (``design.proportion``); continuous variables give the weighted mean with a Wald
    confidence interval (t with the design degrees of freedom) or its standard error
    (``design.mean``). Each variable also gets the unweighted number of respondents (per level
    for categorical variables), the number missing, and a design-based test of difference across
    groups: the Rao-Scott adjusted F test (``design.chisq``) for categorical and yes/no
    variables; for continuous ones the design-based t-test with two groups (``design.ttest``)
    or the Wald F test of a survey-weighted regression on the group with more
    (``design.glm(...).wald_test``). The method is named in a footnote. Formulas: see the module
    docstring and the design verbs.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    by : str or None, default "lonely"
        Grouping column (categorical or yes/no). ``None``: the Overall column only, no tests.
    variables : list of str, optional
        Rows of the table, in order. Default: the harmonised schema's demographic columns in the
        data (age group, sex, education, ...).
    level : float, default 0.95
        Confidence level of the intervals.
    labels : dict, optional
        Display names of columns, overriding the defaults (:mod:`socialhealth.tables.labels`).
    statistic : {"ci", "se"}
        Show estimates with their confidence interval (default) or standard error.
    categorical : list of str
        Numeric columns to tabulate by level instead of averaging (e.g. ``income_quintile``).
    overall : bool, default True
        Include the Overall column (all respondents with a non-missing group).
    test : bool, default True
        Include the p-value column.
    digits : int, default 1
        Decimals of means (percentages always have 1).
    title : str, optional
        Caption; default ``"Table 1. Characteristics by <group> (weighted)"``.
    continuous : {"mean", "median"}
        Summary of continuous variables: the weighted mean with its CI (or SE), or the
        weighted median with the quartiles, "median (p25, p75)" (R ``svyquantile(~x, design,
        c(0.25, 0.5, 0.75), ci = FALSE, na.rm = TRUE)``, ``qrule = "math"``; gtsummary's default
        ``"{median} ({p25}, {p75})"``), tested across groups with the design-based Wilcoxon /
        Kruskal-Wallis rank test (R ``svyranktest(x ~ group, design)``, gtsummary's
        ``"svy.wilcox.test"``).

    Returns
    -------
    Table
        ``to_frame()`` columns: ``variable, variable_label, level, level_label, group,
        group_label, statistic`` (``"proportion"`` on the 0-1 scale, ``"mean"`` or
        ``"median"``), ``estimate, se, ci_low, ci_high, df, p25, p75`` (quartiles of medians,
        NaN otherwise; a median has no SE or CI here), ``n`` (unweighted rows of the group
        with that level / with the variable observed), ``n_nonmissing, n_missing`` (of the
        variable in the group), ``test`` (method), ``test_statistic, test_df1, test_df2,
        p_value`` (repeated on the rows of the variable; NaN in the Overall rows). The Overall
        rows have ``group`` None.

    Raises
    ------
    MissingColumnError
        A variable or ``by`` is not in the design's data.
    DesignError
        Bad ``statistic``; a column that is neither categorical, boolean nor numeric; empty
        ``variables``; a variable without any observed value among the table's respondents;
        ``categorical`` or ``labels`` naming a column that is not in the table; a ``by`` column
        with fewer than 2 or more than 20 groups.

    References
    ----------
    Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60. Lumley T (2010) *Complex Surveys*,
    Wiley, ch. 2 and 6. Sjoberg DD et al. (2021) Reproducible summary tables with the gtsummary
    package. *The R Journal* 13:570-580.

    Examples
    --------
    >>> import socialhealth as sh
    >>> design = sh.datasets.load("demo").design
    >>> t1 = sh.tables.describe(design, by="lonely", variables=["age_group", "sex", "age"])
    >>> t1.header[:3]
    ['Characteristic', 'n', '% or mean (95% CI)']
    >>> t1.to_frame().query("variable == 'sex' and group_label == 'Overall'")[
    ...     "level_label"].tolist()
    ['Female', 'Male']

    In R: ``gtsummary::tbl_svysummary(design, by = lonely, include = c(age_group, sex, age),
    statistic = list(all_continuous() ~ "{mean}")) |> add_p()`` or
    ``tableone::svyCreateTableOne(vars = c("age_group", "sex", "age"), strata = "lonely",
    data = design)``; each cell is ``svyby(~I(x == level), ~lonely, design, svyciprop,
    vartype = "ci")`` / ``svyby(~age, ~lonely, design, svymean)``, and the p-values
    ``svychisq(~x + lonely, design)`` / ``svyttest(age ~ lonely, design)``.
    """
    variables, forced, level, pct_ci = _check_arguments(design, by, variables, categorical,
                                                        level, digits, statistic, labels)
    if not is_choice(continuous, ("mean", "median")):
        raise DesignError(f"continuous={show_given(continuous)} must be 'mean' or 'median'.")
    overall = check_flag(overall, "overall", "describe()")
    test = check_flag(test, "test", "describe()")
    base, groups, n_by_missing, inside = _base_design(design, by, forced)
    if by is None:
        test = False
    data = base.data
    columns = ([(None, "Overall")] if overall else []) + [
        (g, group_label(by, g, labels)) for g in groups if by is not None]
    gmask = {None: inside}
    for g in groups:
        gmask[g] = inside & np.array([_same(v, g) for v in data[by].to_numpy(dtype=object)],
                                     dtype=bool) \
            & data[by].notna().to_numpy()
    ctx = _Context(base=base, by=by, groups=groups, columns=columns, gmask=gmask, level=level,
                   labels=labels, statistic=statistic, digits=digits, test=test, forced=forced,
                   marks=Markers(), records=[], rows=[], continuous=continuous,
                   ncol=1 + 2 * len(columns) + (1 if test else 0))
    empty = [v for v in variables if not (data[v].notna().to_numpy() & inside).any()]
    if empty:
        raise DesignError(f"describe(): no respondent in the table has a value of "
                          f"{', '.join(map(repr, empty))} (every value missing); leave "
                          f"{'it' if len(empty) == 1 else 'them'} out of variables=. Variables "
                          "with data: "
                          f"{', '.join(repr(v) for v in variables if v not in empty) or 'none'}.")
    for var in variables:
        _variable_rows(ctx, var)

    stat_head = "% or mean" + (f" ({pct_ci}% CI)" if statistic == "ci" else " (SE)")
    if continuous == "median":
        stat_head = ("%" + (f" ({pct_ci}% CI)" if statistic == "ci" else " (SE)")
                     + " or median (IQR)")
    header = ["Characteristic"]
    spanners = []
    for j, (g, glabel) in enumerate(columns):
        header += ["n", stat_head]
        spanners.append((f"{glabel} (N = {fmt.count(int(gmask[g].sum()))})", 1 + 2 * j, 3 + 2 * j))
    if test:
        header.append("p-value")
    notes = _notes(design, by, labels, statistic, pct_ci, n_by_missing, continuous)
    numbers = pd.DataFrame.from_records(ctx.records, columns=NUMBER_COLUMNS)
    for col in ("level", "group"):      # keep None (not NaN) and the levels' own types
        numbers[col] = pd.Series([r[col] for r in ctx.records], dtype=object)
    if title is None:
        title = ("Table 1. Characteristics by " + variable_label(by, labels) + " (weighted)"
                 if by is not None else "Table 1. Characteristics of the sample (weighted)")
    return Table(title=title, header=header, rows=ctx.rows, numbers=numbers, spanners=spanners,
                 notes=notes, marker_notes=ctx.marks.notes, kind="describe")


# ----------------------------------------------------------------------------- steps of describe()
def _check_arguments(design, by, variables, categorical, level, digits, statistic, labels):
    """Validate the arguments; returns ``(variables, forced, level, pct_ci)``."""
    if not is_choice(statistic, ("ci", "se")):
        raise DesignError(f"statistic={show_given(statistic)} must be 'ci' (confidence interval) "
                          "or 'se'.")
    data = design.data
    if by is not None and not isinstance(by, str):
        raise DesignError(f"describe(): by= takes one column name (the groups of the table's "
                          f"columns), not {show_given(by)}; combine several columns into one "
                          "first, or leave by=None for the overall column only.")
    if by is not None and by not in data.columns:
        raise MissingColumnError([by], data.columns, "the design data")
    for arg, value in (("variables", variables), ("categorical", categorical)):
        if isinstance(value, Mapping) or (value is not None and not isinstance(value, str)
                                          and (np.ndim(value) != 1 or not all(
                                              isinstance(v, (str, int, np.integer))
                                              for v in list(value)))):
            raise DesignError(f"describe(): {arg}= takes column names (a list such as "
                              f"['age', 'sex']), not {show_given(value)}.")
    if labels is not None and not isinstance(labels, Mapping):
        raise DesignError(f"describe(): labels= takes a mapping of column name to label, e.g. "
                          f"{{'age': 'Age (years)'}}, not {show_given(labels)}.")
    if variables is None:       # the demographic columns the survey has data for
        variables = [v for v in _default_variables(data, by)
                     if (data[v].notna().to_numpy() & design.in_subset).any()]
    else:
        variables = as_list(variables)
    missing_cols = [v for v in variables if v not in data.columns]
    if missing_cols:
        raise MissingColumnError(missing_cols, data.columns, "the design data")
    if by is not None and by in variables:
        raise DesignError(f"{by!r} is the grouping variable; leave it out of variables=.")
    if not variables:
        raise DesignError("describe(): variables= is empty; name the columns to describe "
                          "(or leave it out for the demographic columns).")
    forced = set(as_list(categorical))
    # a name that matches nothing in the table is an error, never a silently ignored option
    stray = sorted(str(v) for v in forced if v not in variables)
    if stray:
        raise DesignError(f"describe(): categorical= names {', '.join(map(repr, stray))}, not "
                          "among the table's variables; choose from "
                          f"{', '.join(map(repr, variables))}.")
    if labels:
        known = list(variables) + ([by] if by is not None else [])
        stray = sorted(str(k) for k in labels if k not in known)
        if stray:
            raise DesignError(f"describe(): labels= names {', '.join(map(repr, stray))}, not a "
                              "variable of the table nor the grouping column; choose from "
                              f"{', '.join(map(repr, known))}.")
    level = check_level(level, DesignError)
    if isinstance(digits, (bool, np.bool_)) or not isinstance(digits, (int, np.integer)) \
            or digits < 0:
        raise DesignError(f"digits= must be a whole number >= 0 (decimal places), not "
                          f"{show_given(digits)}.")
    pct_ci = int(round(level * 100)) if np.isclose(level * 100, round(level * 100)) else level * 100
    return variables, forced, level, pct_ci


#: Most groups a ``by`` column may have (a numeric column with many values is not a grouping).
MAX_GROUPS = 20


def _base_design(design, by, forced: set):
    """The design without respondents missing the group, forced categoricals as categories.

    Returns ``(base, groups, n_by_missing, inside)``.
    """
    data = design.data
    # respondents with a missing group are left out of the whole table
    base = design
    n_by_missing = 0
    if by is not None:
        known = data[by].notna().to_numpy() & design.in_subset
        n_by_missing = int((design.in_subset & ~known).sum())
        if n_by_missing:
            base = design.subset(known)
        groups = _group_levels(data.loc[known, by])
        if len(groups) > MAX_GROUPS:
            raise DesignError(f"describe(): {by!r} has {len(groups)} distinct values among the "
                              f"respondents; a table by group takes at most {MAX_GROUPS} groups. "
                              "Group it first (e.g. pd.cut for a numeric column).")
        if len(groups) < 2:
            raise DesignError(f"describe(): {by!r} has {len(groups)} group(s) among the "
                              f"respondents; "
                              "a table by group needs at least 2 (or pass by=None).")
    else:
        groups = []
    inside = base.in_subset
    for v in forced:
        if not is_categorical(data[v]):
            base = base.assign(**{v: pd.Categorical(data[v])})
    return base, groups, n_by_missing, inside


@dataclass
class _Context:
    """What every variable's rows need: the design, the columns, options, outputs."""

    base: Any                # the design (SurveyDesign or ReplicateDesign)
    by: str | None
    groups: list
    columns: list            # (group or None for Overall, label)
    gmask: dict              # group (None: Overall) -> rows of the design in that column
    level: float
    labels: Mapping[str, str] | None
    statistic: str
    digits: int
    test: bool
    forced: set
    marks: Markers
    records: list            # number records (to_frame)
    rows: list               # table rows
    ncol: int
    continuous: str = "mean"  # summary of continuous variables: "mean" or "median"


def _estimates(ctx: _Context, var: str, kind: str):
    """Estimates by group and overall; returns ``(est_by, est_all, error)``."""
    base, by, level = ctx.base, ctx.by, ctx.level
    try:
        if kind == "continuous" and ctx.continuous == "median":
            def quartiles(**kw):
                return base.quantile(var, quantiles=(0.25, 0.5, 0.75), ci=False,
                                     **kw).to_frame()
            est_by = quartiles(by=by) if by is not None else None
            est_all = quartiles()
        elif kind == "continuous":
            est_by = base.mean(var, by=by).to_frame(level=level) if by is not None else None
            est_all = base.mean(var).to_frame(level=level)
        else:
            est_by = base.proportion(var, by=by,
                                     level=level).to_frame() if by is not None else None
            est_all = base.proportion(var, level=level).to_frame()
        error = None
    except SocialHealthError as exc:
        est_by = est_all = None
        error = str(exc)
    return est_by, est_all, error


def _no_test() -> dict:
    return {"test": None, "test_statistic": np.nan, "test_df1": np.nan, "test_df2": np.nan,
            "p_value": np.nan}


def _test(ctx: _Context, var: str, kind: str, vlabel: str):
    """The test across groups; returns ``(tinfo, p_cell, p_mark)``."""
    base, by, marks = ctx.base, ctx.by, ctx.marks
    tinfo = _no_test()
    p_cell, p_mark = "", ""
    if ctx.test:
        try:
            if kind == "continuous" and ctx.continuous == "median":
                r = base.ranktest(f"{var} ~ {by}")
                row = r.table.iloc[0]
                two = len(ctx.groups) == 2
                tinfo.update(test="Wilcoxon" if two else "Kruskal-Wallis",
                             test_statistic=float(row["statistic"]),
                             test_df1=float(row["df"] if two else row["ndf"]),
                             test_df2=np.nan if two else float(row["ddf"]), p_value=float(row["p"]))
                note = _RANK_NOTE if two else _KW_NOTE
            elif kind == "continuous" and len(ctx.groups) == 2:
                r = base.ttest(f"{var} ~ {by}")
                tinfo.update(test="t-test", test_statistic=float(r.statistic),
                             test_df1=float(r.df), p_value=float(r.p))
                note = _TTEST_NOTE
            elif kind == "continuous":
                w = base.glm(f"{var} ~ {by}").wald_test(by)
                tinfo.update(test="Wald F", test_statistic=w.statistic, test_df1=float(w.df),
                             test_df2=float(w.ddf), p_value=w.p)
                note = _WALD_NOTE
            else:
                r = base.chisq(var, by)
                tinfo.update(test="Rao-Scott F", test_statistic=float(r.statistic),
                             test_df1=float(r.ndf), test_df2=float(r.ddf), p_value=float(r.p))
                note = _CHISQ_NOTE
            p_cell = fmt.p_value(tinfo["p_value"])
            p_mark = marks(note) if fmt.is_finite(tinfo["p_value"]) else marks(
                "Test not computable (the statistic is undefined for these data).")
        except SocialHealthError as exc:
            p_cell, p_mark = fmt.DASH, marks(f"Test not computable for {vlabel}: {exc}")
    return tinfo, p_cell, p_mark


@dataclass
class _Variable:
    """One variable of the table with its estimates and test."""

    name: str
    label: str
    kind: str
    s: pd.Series
    observed: np.ndarray
    est_all: pd.DataFrame
    est_by: pd.DataFrame | None
    tinfo: dict


def _record(ctx: _Context, v: _Variable, col_group, lev) -> dict:
    """The number record of one cell (variable level x column)."""
    by = ctx.by
    frame = v.est_all if col_group is None else v.est_by
    median = v.kind == "continuous" and ctx.continuous == "median"
    quartiles = {}
    if median and frame is not None:   # one row per quartile: the group's rows by quartile
        for q in (0.25, 0.5, 0.75):
            hit = _rows_of(frame[frame["quantile"] == q], None if col_group is None else by,
                           col_group, None)
            quartiles[q] = np.nan if hit is None else float(hit["estimate"])
    r = _rows_of(frame, None if col_group is None else by, col_group,
                 None if v.kind == "dichotomous" else lev)
    m = ctx.gmask[col_group]
    nonmiss = int((m & v.observed).sum())
    nmiss = int((m & ~v.observed).sum())
    if v.kind == "continuous":
        n = nonmiss
    else:
        n = int((m & v.observed & np.array([_same(x, lev) for x in v.s.to_numpy(dtype=object)],
                                           dtype=bool)).sum())
    rec = {"variable": v.name, "variable_label": v.label,
           "level": None if lev is None else lev,
           "level_label": None if lev is None else level_label(lev),
           "group": col_group,
           "group_label": "Overall" if col_group is None or by is None
           else group_label(by, col_group, ctx.labels),
           "statistic": ("median" if median else "mean") if v.kind == "continuous"
           else "proportion", "p25": np.nan, "p75": np.nan,
           "n": n, "n_nonmissing": nonmiss, "n_missing": nmiss}
    if median:
        rec.update(estimate=quartiles.get(0.5, np.nan), se=np.nan, ci_low=np.nan,
                   ci_high=np.nan, df=np.nan, p25=quartiles.get(0.25, np.nan),
                   p75=quartiles.get(0.75, np.nan))
    elif r is None:         # level never observed in this group
        rec.update(estimate=0.0 if v.kind != "continuous" else np.nan, se=np.nan,
                   ci_low=np.nan, ci_high=np.nan, df=np.nan)
    else:
        rec.update(estimate=float(r["estimate"]), se=float(r["se"]),
                   ci_low=float(r["ci_low"]), ci_high=float(r["ci_high"]),
                   df=float(r["df"]))
        if v.kind != "continuous" and rec["estimate"] in (0.0, 1.0):
            # proportion() gives the degenerate logit interval (p, p) here, as R's
            # svyciprop (up to its non-converged ~1e-12 for p = 0); the table shows a
            # dash and the 0%/100% footnote instead
            rec.update(ci_low=np.nan, ci_high=np.nan)
    rec.update(v.tinfo if col_group is not None else _no_test())
    return rec


def _cell(ctx: _Context, v: _Variable, col_group, lev):
    """One cell: records its numbers; returns ``(n text, estimate text, marker, n missing)``."""
    rec = _record(ctx, v, col_group, lev)
    ctx.records.append(rec)
    marks = ctx.marks
    if v.kind == "continuous":
        def f(x):
            return fmt.number(x, ctx.digits)
    else:
        f = fmt.percent
    est, se, lo, hi = rec["estimate"], rec["se"], rec["ci_low"], rec["ci_high"]
    mark = ""
    if rec["statistic"] == "median":
        text = fmt.interval(f(est), f(rec["p25"]), f(rec["p75"]))
    elif ctx.statistic == "ci":
        text = fmt.interval(f(est), f(lo), f(hi))
        if not (fmt.is_finite(lo) and fmt.is_finite(hi)):
            mark = marks(_ZERO_NOTE if v.kind != "continuous" and est in (0.0, 1.0)
                         else "Interval not computable (no variance: too few respondents "
                              "or PSUs in the group).")
    else:
        text = f"{f(est)} ({f(se)})"
        if not fmt.is_finite(se):
            mark = marks("Standard error not computable (too few respondents or PSUs in "
                         "the group).")
    if not fmt.is_finite(est):
        text, mark = fmt.DASH, marks("Not computable: no respondent with this variable "
                                     "observed in the group.")
    return fmt.count(rec["n"]), text, mark, rec["n_missing"]


def _variable_rows(ctx: _Context, var: str) -> None:
    """Append the rows (and number records) of one variable."""
    s = ctx.base.data[var]
    kind = _kind(s, ctx.forced, var)
    vlabel = variable_label(var, ctx.labels)
    observed = s.notna().to_numpy()
    est_by, est_all, error = _estimates(ctx, var, kind)
    tinfo, p_cell, p_mark = _test(ctx, var, kind, vlabel)
    ncol, test, columns, rows = ctx.ncol, ctx.test, ctx.columns, ctx.rows
    if error is not None:
        cells = [vlabel] + [fmt.DASH] * (ncol - 1)
        rows.append(Row(cells, [""] + [ctx.marks(f"{vlabel}: {error}")] * (ncol - 1), bold=True))
        return
    v = _Variable(name=var, label=vlabel, kind=kind, s=s, observed=observed, est_all=est_all,
                  est_by=est_by, tinfo=tinfo)
    unit = ("median (IQR)" if ctx.continuous == "median" else "mean") \
        if kind == "continuous" else "%"
    head_label = f"{vlabel}, {unit}"
    nmiss_by_col = []
    if kind == "categorical":
        cells = [head_label] + [""] * (2 * len(columns)) + ([p_cell] if test else [])
        markers = [""] * (ncol - 1) + ([p_mark] if test else [])
        rows.append(Row(cells, markers, bold=True))
        for lev in list(est_all["level"]):
            cells, markers = [level_label(lev)], [""]
            for g, _ in columns:
                n_txt, text, mark, _nmiss = _cell(ctx, v, g, lev)
                cells += [n_txt, text]
                markers += ["", mark]
            if test:
                cells.append("")
                markers.append("")
            rows.append(Row(cells, markers, indent=1))
        nmiss_by_col = [int((ctx.gmask[g] & ~observed).sum()) for g, _ in columns]
    else:
        lev = None if kind == "continuous" else True
        cells, markers = [head_label], [""]
        for g, _ in columns:
            n_txt, text, mark, nmiss = _cell(ctx, v, g, lev)
            cells += [n_txt, text]
            markers += ["", mark]
            nmiss_by_col.append(nmiss)
        if test:
            cells.append(p_cell)
            markers.append(p_mark)
        rows.append(Row(cells, markers, bold=True))
    if any(nmiss_by_col):
        cells = ["Missing"]
        for nm in nmiss_by_col:
            cells += [fmt.count(nm), ""]
        if test:
            cells.append("")
        rows.append(Row(cells, indent=1))


def _notes(design, by, labels, statistic: str, pct_ci, n_by_missing: int,
           continuous: str = "mean") -> list[str]:
    """The table's general footnotes."""
    notes = [
        "Percentages and means are weighted by the survey weights; "
        + ("confidence intervals" if statistic == "ci" else "standard errors")
        + f" are design-based. Design: {design.describe().splitlines()[0]}.",
        "n and N: unweighted numbers of respondents; Missing: respondents without an answer, "
        "left out of that variable's percentages and means.",
    ]
    if statistic == "ci":
        notes.append(f"%: {pct_ci}% CI on the logit scale (R: svyciprop(method = \"logit\")), "
                     "with the design degrees of freedom of the group"
                     + ("; mean: Wald interval, t with the design degrees of freedom."
                        if continuous == "mean" else "."))
    if continuous == "median":
        notes.append("Median (IQR): weighted median and quartiles (p25, p75), the smallest value "
                     "whose weighted cumulative share reaches 25%, 50%, 75% (R: svyquantile(~x, "
                     "design, c(0.25, 0.5, 0.75), qrule = \"math\")).")
    if n_by_missing:
        notes.append(f"{fmt.count(n_by_missing)} respondents with {variable_label(by, labels)} "
                     "missing are left out of the table.")
    return notes
