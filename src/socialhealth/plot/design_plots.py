"""Design-based pictures of a numeric variable: histogram, boxplot, smoother and density.

These plots take a survey design (not a result table): each draws what the design estimates
about the population, and returns a :class:`DesignPlot` holding the axes *and* the numbers
drawn (``to_frame()``), so the picture can be checked against R.

Histogram (R ``svyhist``)
    Breaks are computed from the observed values as R ``hist`` does (``"Sturges"``:
    ``ceiling(log2(n) + 1)`` classes, placed on "pretty" values by R's ``pretty`` algorithm
    with ``min.n = 1``; an integer ``k``: ``pretty`` with ``k`` classes; or the breaks given).
    The height of bin ``(b_{j-1}, b_j]`` (the first bin closed on the left) is the design-based
    share ``p_j = sum_i w_i I(x_i in bin j) / sum_i w_i`` over the rows with a value, divided by
    the bin width (a density); ``probability=False`` draws the estimated count
    ``p_j * sum_i w_i``, the sum running over all rows of the design (as R, missing values
    are thus spread over the bins in proportion).

Boxplot (R ``svyboxplot``)
    Per group the design-based quantiles ``Q(0), Q(.25), Q(.5), Q(.75), Q(1)`` of
    :meth:`~socialhealth.SurveyDesign.quantile` (``qrule="math"``, the inverse of the
    weighted empirical CDF, R's default). The box spans ``Q(.25)``-``Q(.75)`` with a line at the
    median; with ``IQR = Q(.75) - Q(.25)`` the whiskers end at ``max(Q(0), Q(.25) - 1.5 IQR)``
    and ``min(Q(1), Q(.75) + 1.5 IQR)``. Outliers are ``Q(1)`` and ``Q(0)`` when they lie beyond
    the whiskers (``all_outliers=True``: every distinct observed value beyond them).

Smoother (R ``svysmooth(method = "locpoly")``)
    The weighted local-linear regression of Wand & Jones (1995, section 5.2) with a Gaussian
    kernel, computed as R's KernSmooth ``locpoly`` does on binned data: ``x`` is binned onto
    ``ngrid`` equally spaced points ``g_1..g_M`` spanning its range, or ``xlim`` (each value
    to the grid point at or below it; values beyond ``xlim`` to the grid extended past its
    ends, see :func:`smooth`), ``c_k = sum w_i`` and ``d_k = sum w_i y_i`` over bin ``k``; at each
    ``g_j``, with ``u = g_k - g_j`` and ``K_k = exp(-u^2 / (2 h^2))`` for ``|k - j| <= L =
    floor(4 h / delta)`` (``delta`` the grid spacing; kernel truncated at 4 bandwidths),
    ``S_r = sum_k K_k u^r c_k``, ``T_r = sum_k K_k u^r d_k`` and the curve is
    ``(S_2 T_0 - S_1 T_1) / (S_0 S_2 - S_1^2)`` (NaN where the window holds too little data).
    Without a bandwidth, the plug-in bandwidth of Ruppert, Sheather & Wand (1995) for
    local-linear regression (R ``KernSmooth::dpill``), computed unweighted on the rows used
    (:mod:`socialhealth.plot._bandwidth`).

Quantile smoother (R ``svysmooth(method = "quantreg")``)
    The weighted quantile regression of ``y`` on R's cubic B-spline basis ``splines::bs(x,
    df)``, drawn as its fitted values at the observations: formulas in
    :mod:`socialhealth.plot._quantile_smooth` and :func:`smooth`.

Density (R ``svysmooth(~x, design)``)
    The weights binned as for the smoother, ``c_k = sum w_i`` over bin ``k``, scaled to
    ``f_k = c_k M / ((g_M - g_1) sum_i w_i)``; the curve is the same local-linear smooth of the
    ``f_k`` with every grid point counting once (``S_r`` and ``T_r`` above with ``c_k = 1`` and
    ``d_k = f_k``), a weighted kernel density estimate. Without a bandwidth, the
    Sheather-Jones direct plug-in bandwidth (Wand & Jones 1995, section 3.6; R
    ``KernSmooth::dpik``), computed unweighted.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from socialhealth._options import is_choice, is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given
from socialhealth.design.structure import check_flag
from socialhealth.errors import PlotError, RowsDroppedWarning
from socialhealth.plot._quantile_smooth import check_quantile_df, quantile_curve
from socialhealth.plot import style
from socialhealth.plot._bandwidth import (_LOOP_OFFSETS, BandwidthError, dpik, dpill, local_poly,
                                          window_sums)

#: Caption of the design-based plots.
DESIGN_CAPTION = "Design-based estimates (survey weights)"


class DesignPlot:
    """A design-based plot: the matplotlib axes and the numbers drawn.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
        The axes drawn into.
    figure : matplotlib.figure.Figure
        ``ax.figure``.
    n_missing : int or None
        Rows of the design (of its subset) left out because a plotted variable is missing
        (``qq``, ``scatter`` and ``coplot``; ``None`` for the plots that do not count them).
    axes, panels, arrow_scale, bandwidth
        Only on some plots: ``coplot``'s panels (list of axes) and its table of panels,
        ``biplot``'s scale of the items' axes against the rows' (given as keywords), the
        kernel bandwidth of ``smooth`` (and of ``density`` without groups; with groups a dict
        by group).

    Notes
    -----
    Other attributes are those of the axes (``plot.get_xlabel()`` is ``plot.ax.get_xlabel()``),
    so code written for the other plot functions, which return the axes, works unchanged.
    """

    def __init__(self, ax: Axes, table: pd.DataFrame, kind: str, n_missing: int | None = None,
                 **extra):
        self.ax = ax
        self._table = table
        self._kind = kind
        self.n_missing = n_missing
        for name, value in extra.items():
            setattr(self, name, value)

    @property
    def figure(self):
        """The matplotlib figure of the plot."""
        return self.ax.figure

    def to_frame(self) -> pd.DataFrame:
        """The numbers drawn, one row per bin / box / grid point / point / hexagon (a copy)."""
        return self._table.copy()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.ax, name)

    def __repr__(self) -> str:
        return f"<socialhealth {self._kind}: {len(self._table)} rows; .ax, .figure, .to_frame()>"


# --------------------------------------------------------------------------- data helpers
def _numeric_column(design, name: str, what: str) -> np.ndarray:
    data = getattr(design, "data", None)
    if data is None or not hasattr(design, "weights"):
        raise PlotError(f"{what} takes a survey design (sh.SurveyDesign or a replicate design), "
                        f"not {type(design).__name__}.")
    if not isinstance(name, str) or name not in data.columns:
        raise PlotError(f"{what}: {show_given(name)} is not a column of the design data; columns: "
                        f"{', '.join(map(str, data.columns))}.")
    col = data[name]
    if pd.api.types.is_bool_dtype(col):
        col = col.astype(float)
    if not pd.api.types.is_numeric_dtype(col):
        raise PlotError(f"{what}: {name!r} is not numeric (dtype {col.dtype}); plot a numeric "
                        "variable or convert it first.")
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _groups(design, by: str | None, what: str):
    """[(label, boolean mask of rows in the group)], in category / sorted order."""
    if by is None:
        return [(None, np.ones(len(design.data), bool))]
    if not isinstance(by, str):
        raise PlotError(f"{what}: by= takes one column name, not {show_given(by)}.")
    if by not in design.data.columns:
        raise PlotError(f"{what}: by column {by!r} is not in the design data; give one of its "
                        f"columns: {', '.join(map(str, design.data.columns))}.")
    g = design.data[by]
    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = [c for c in g.cat.categories if (g == c).any()]
    else:
        levels = sorted(g.dropna().unique(), key=lambda v: (str(type(v)), v))
    inside = design.in_subset       # (a weight below 0 from a linear calibration counts)
    masks = [(lv, (g == lv).fillna(False).to_numpy(dtype=bool)) for lv in levels]
    masks = [(lv, m) for lv, m in masks if (m & inside).any()]
    if not masks:
        raise PlotError(f"{what}: by column {by!r} has no non-missing values in the design.")
    n_missing = int((g.isna().to_numpy(dtype=bool) & np.asarray(inside, dtype=bool)).sum())
    if n_missing:
        # R's svyby-style plots drop them silently; say so
        warnings.warn(f"{what}: {n_missing:,} row(s) of the design with {by!r} missing are in "
                      "no group and are left out of the plot (as R does). Give them a level "
                      "of their own (e.g. 'missing') to show them.", RowsDroppedWarning,
                      stacklevel=user_stacklevel())
    return masks


def r_pretty(lo: float, hi: float, n: int, min_n: int = 1) -> np.ndarray:
    """Equally spaced "round" breaks covering ``[lo, hi]``: R ``pretty(c(lo, hi), n, min.n)``.

    The step is 1, 2, 5 or 10 times a power of ten, chosen with R's default biases
    (``high.u.bias = 1.5``, ``u5.bias = 0.5 + 1.5 * high.u.bias``), then widened to at least
    ``min_n`` intervals (R's documented algorithm, ``?pretty``).

    Examples
    --------
    >>> r_pretty(355.0, 899.0, 9).tolist()[:3]
    [350.0, 400.0, 450.0]
    """
    h, h5 = 1.5, 0.5 + 1.5 * 1.5
    eps = np.finfo(float).eps
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * eps
        small = bool(dx < cell * u * 3)
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= 0.75
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx / n if n > 1 else dx
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    rounding = 1e-10
    ns = math.floor(lo / unit + rounding)
    nu = math.ceil(hi / unit - rounding)
    while ns * unit > lo + rounding * unit:
        ns -= 1
    while nu * unit < hi - rounding * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        k = min_n
    out = np.linspace(ns * unit, nu * unit, k + 1)
    out[np.abs(out) < 1e-14 * (nu - ns) * unit / k] = 0.0
    return out


def _breaks(x: np.ndarray, breaks) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    if isinstance(breaks, str):
        if breaks.lower() != "sturges":
            raise PlotError(f"hist(): breaks={breaks!r} is not supported; use 'Sturges', a number "
                            "of classes or a sequence of break points.")
        return r_pretty(lo, hi, math.ceil(math.log2(len(x)) + 1))
    if isinstance(breaks, (int, np.integer)) and not isinstance(breaks, bool):
        if breaks < 1:
            raise PlotError(f"hist(): breaks must be at least 1 class, not {show_given(breaks)}.")
        return r_pretty(lo, hi, int(breaks))
    try:
        b = np.asarray(breaks, dtype=float)
    except (TypeError, ValueError):
        raise PlotError(f"hist(): breaks must be 'Sturges', an integer or a sequence of numbers, "
                        f"not {show_given(breaks)}.") from None
    if b.ndim != 1 or len(b) < 2 or not np.all(np.isfinite(b)) or np.any(np.diff(b) <= 0):
        raise PlotError("hist(): break points must be at least two finite, strictly increasing "
                        "numbers.")
    if b[0] > lo or b[-1] < hi:
        raise PlotError(f"hist(): the breaks [{b[0]:g}, {b[-1]:g}] do not span the values "
                        f"[{lo:g}, {hi:g}]; widen them.")
    return b


def _bin_index(x: np.ndarray, b: np.ndarray, right: bool) -> np.ndarray:
    """0-based bin of each value (R ``cut(x, b, right, include.lowest = TRUE)``), -1 outside."""
    if right:
        j = np.searchsorted(b, x, side="left") - 1
        j[x == b[0]] = 0
    else:
        j = np.searchsorted(b, x, side="right") - 1
        j[x == b[-1]] = len(b) - 2
    j[(x < b[0]) | (x > b[-1]) | np.isnan(x)] = -1
    return j


# --------------------------------------------------------------------------- histogram
@style.plain_text
def hist(
    design,
    variable: str,
    *,
    breaks="Sturges",
    by: str | None = None,
    probability: bool = True,
    right: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-based histogram: bar heights are the estimated population density of each bin.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        Numeric column.
    breaks : "Sturges", int or sequence of float
        Bin boundaries: R ``hist``'s default (``"Sturges"``), about ``k`` "pretty" classes, or
        the break points themselves (they must span the values).
    by : str, optional
        One outline per group (same breaks), each the density within its domain.
    probability : bool
        Density (each bin's estimated share divided by its width, area 1); ``False``: the
        estimated population count of each bin.
    right : bool
        Bins closed on the right, ``(a, b]`` (the first one also holds its left end), as R.
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``; ``to_frame()`` has columns ``[by], bin_low, bin_high, mid,
        proportion, density, count``.

    Raises
    ------
    PlotError
        Not a design, a non-numeric or absent column, no values, breaks not spanning the data.

    Notes
    -----
    Formulas in :mod:`socialhealth.plot.design_plots`. Breaks are computed from the
    non-missing values of the rows in the design (of a subset: its rows, as R ``svyhist``
    on ``subset(design, ...)``), for all groups together. R has no
    ``by``; each group's outline equals ``svyhist`` on ``subset(design, group)`` with the
    same breaks.

    In R: ``svyhist(~variable, design)`` (``probability = FALSE`` for counts).

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.hist(d, "api00")
    >>> p.to_frame()[["bin_low", "bin_high", "proportion"]].head(3).round(4)
       bin_low  bin_high  proportion
    0    350.0     400.0      0.0024
    1    400.0     450.0      0.0000
    2    450.0     500.0      0.0280
    """
    what = "hist()"
    probability = check_flag(probability, "probability", what)
    right = check_flag(right, "right", what)
    x_all = _numeric_column(design, variable, what)
    w_all = np.asarray(design.weights, dtype=float)
    finite = np.isfinite(x_all) & design.in_subset
    if not finite.any():
        raise PlotError(f"{what}: {variable!r} has no non-missing values.")
    b = _breaks(x_all[finite], breaks)
    widths = np.diff(b)
    rows = []
    for label, mask in _groups(design, by, what):
        use = mask & finite
        j = _bin_index(x_all[use], b, right)
        w = w_all[use]
        if w.sum() <= 0:
            raise PlotError(f"{what}: no weighted values of {variable!r}"
                            + (f" in {by} = {show(label)}." if by else "."))
        share = np.bincount(j, weights=w, minlength=len(widths)) / w.sum()
        total = float(np.sum(w_all[mask]))
        frame = pd.DataFrame({"bin_low": b[:-1], "bin_high": b[1:], "mid": (b[:-1] + b[1:]) / 2,
                              "proportion": share, "density": share / widths,
                              "count": share * total})
        if by:
            frame.insert(0, by, label)
        rows.append(frame)
    table = pd.concat(rows, ignore_index=True)

    ax = style.new_axes(ax, (6.4, 4.2))
    height = "density" if probability else "count"
    if by is None:
        ax.bar(b[:-1], table[height], width=widths, align="edge", color=style.PALETTE[0],
               edgecolor="white", linewidth=0.8, zorder=2)
    else:
        for k, frame in enumerate(rows):
            h = frame[height].to_numpy()
            gs = style.group_style(k)
            ax.stairs(h, b, color=gs["colour"], linewidth=1.8, linestyle=gs["linestyle"],
                      label=style.level_text(frame[by].iloc[0]), zorder=3)
        style.group_legend(ax, by)
    ax.set_ylim(bottom=0)
    style.tidy_axes(ax, grid="y")
    default_y = "Density (weighted)" if probability else "Estimated population count"
    style.set_labels(ax, xlabel=xlabel or style.axis_label(variable), ylabel=ylabel or default_y,
                     title=title)
    style.add_caption(ax, caption)
    return DesignPlot(ax, table, "histogram")


# --------------------------------------------------------------------------- boxplot
@style.plain_text
def boxplot(
    design,
    variable: str,
    *,
    by: str | None = None,
    all_outliers: bool = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-based boxplot: boxes and whiskers from estimated population quantiles.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        Numeric column.
    by : str, optional
        One box per group (domain estimates, categorical / sorted order).
    all_outliers : bool
        Mark every distinct observed value beyond the whiskers, not only the estimated
        minimum and maximum.
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``; ``to_frame()`` has one row per box: ``[by], n, min, q1, median,
        q3, max, whisker_low, whisker_high, outliers`` (``n`` the estimated population size
        of the group, ``outliers`` a tuple).

    Raises
    ------
    PlotError
        Not a design, a non-numeric or absent column.

    Notes
    -----
    Quantiles are ``design.quantile(variable, [0, .25, .5, .75, 1], qrule="math", by=by)``;
    the whisker and outlier rule is in :mod:`socialhealth.plot.design_plots`. R survey 4.1-1's
    ``svyboxplot(y ~ g, design)`` draws the last group's box for every group (its
    ``svyby(..., svyquantile, keep.var = FALSE)`` call returns the quantiles of all groups in
    every row); the boxes here are those it intends, checked against ``svyby(~y, ~g, design,
    svyquantile, quantiles = c(0, .25, .5, .75, 1))``. Without ``by`` the numbers equal
    ``svyboxplot(y ~ 1, design)``. ``min`` and ``max`` are the rule's ``Q(0)`` and ``Q(1)``:
    under R's ``"math"`` rule ``Q(0)`` need not be the smallest observed value (values
    ``1, 4, 6`` with weights ``1, 2, 2`` give ``Q(0) = 4``, in R too), so an observed value
    below it is drawn only with ``all_outliers=True``. With ``all_outliers=True`` every observed
    value beyond the drawn whiskers is marked, as R does with groups; R without groups compares
    with the fences ``Q(.25) - 1.5 IQR`` and ``Q(.75) + 1.5 IQR`` instead, and so leaves out
    values between a fence and ``Q(0)`` or ``Q(1)`` (where the whisker ends).

    In R: ``svyboxplot(variable ~ by, design)`` (``all.outliers = TRUE`` for
    ``all_outliers=True``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.boxplot(d, "enroll", by="stype")
    >>> p.to_frame()[["stype", "q1", "median", "q3", "whisker_high"]]
      stype      q1  median      q3  whisker_high
    0     E   317.0   455.0   589.0         997.0
    1     H  1054.0  1411.0  1953.0        3301.5
    2     M   566.0   832.0  1193.0        2133.5
    """
    what = "boxplot()"
    all_outliers = check_flag(all_outliers, "all_outliers", what)
    x_all = _numeric_column(design, variable, what)
    groups = _groups(design, by, what)
    if not np.isfinite(x_all[design.in_subset]).any():
        raise PlotError(f"{what}: {variable!r} has no non-missing values.")
    probs = [0.0, 0.25, 0.5, 0.75, 1.0]
    q = design.quantile(variable, probs, ci=False, qrule="math", by=by).to_frame()
    w_all = np.asarray(design.weights, dtype=float)
    rows, boxes = [], []
    for label, mask in groups:
        sub = q if by is None else q[q[by] == label]
        if len(sub) != len(probs):
            raise PlotError(f"{what}: no quantiles of {variable!r} in {by} = {show(label)}.")
        qmin, q1, med, q3, qmax = sub["estimate"].to_numpy(dtype=float)
        iqr = q3 - q1
        lo, hi = max(qmin, q1 - 1.5 * iqr), min(qmax, q3 + 1.5 * iqr)
        if all_outliers:
            v = x_all[mask & design.in_subset & np.isfinite(x_all)]
            out = tuple(dict.fromkeys(np.r_[np.sort(v[v < lo]), np.sort(v[v > hi])].tolist()))
        else:
            out = tuple(([qmax] if qmax != hi else []) + ([qmin] if qmin != lo else []))
        n = float(w_all[mask].sum())
        row = {"n": n, "min": qmin, "q1": q1, "median": med, "q3": q3, "max": qmax,
               "whisker_low": lo, "whisker_high": hi, "outliers": out}
        rows.append(({by: label} if by else {}) | row)
        boxes.append({"med": med, "q1": q1, "q3": q3, "whislo": lo, "whishi": hi,
                      "fliers": np.asarray(out, dtype=float),
                      "label": "" if label is None else style.level_text(label)})
    table = pd.DataFrame(rows)

    ax = style.new_axes(ax, (max(3.6, 1.2 + 0.9 * len(boxes)), 4.2))
    ax.bxp(boxes, patch_artist=True, widths=0.6,
           boxprops={"facecolor": style.PALETTE[5], "edgecolor": style.GREY},
           medianprops={"color": "black", "linewidth": 1.6},
           whiskerprops={"color": style.GREY}, capprops={"color": style.GREY},
           flierprops={"marker": "o", "markersize": 4, "markerfacecolor": "none",
                       "markeredgecolor": style.GREY})
    if by is None:
        ax.set_xticks([])
    style.tidy_axes(ax, grid="y")
    default_x = style.axis_label(by) if by else ""
    style.set_labels(ax, xlabel=xlabel if xlabel is not None else default_x,
                     ylabel=ylabel or style.axis_label(variable), title=title)
    style.add_caption(ax, caption)
    return DesignPlot(ax, table, "boxplot")


# --------------------------------------------------------------------------- smoother
def local_linear_binned(x: np.ndarray, y: np.ndarray, w: np.ndarray, bandwidth: float,
                        ngrid: int = 401, xlim: tuple[float, float] | None = None,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted local-linear smooth of ``y`` on ``x`` on a grid (binned; see the module notes).

    ``xlim``: the ends of the grid (default the range of ``x``); values of ``x`` beyond them
    count where the kernel reaches (:func:`_extended_bins`). Returns ``(grid, curve)``; the
    curve is NaN where the kernel window holds fewer than two distinct weighted grid points.

    Examples
    --------
    >>> import numpy as np
    >>> g, m = local_linear_binned(np.arange(10.0), 2 * np.arange(10.0) + 1, np.ones(10), 2.0, 10)
    >>> np.round(m[[0, 5, 9]], 10).tolist()
    [1.0, 11.0, 19.0]
    """
    lo, hi = (float(np.min(x)), float(np.max(x))) if xlim is None else xlim
    if not hi > lo:
        raise PlotError("smooth(): x has a single value; nothing to smooth over.")
    grid = np.linspace(lo, hi, ngrid)
    delta = (hi - lo) / (ngrid - 1)
    L = int(math.floor(4 * bandwidth / delta))
    if L < 1:
        raise PlotError(f"smooth(): bandwidth {bandwidth:g} is below the grid spacing "
                        f"{delta:g}; increase the bandwidth or ngrid.")
    idx, keep, start, size = _extended_bins(x, grid, L)
    c = np.bincount(idx[keep], weights=w[keep], minlength=size)
    d = np.bincount(idx[keep], weights=(w * y)[keep], minlength=size)
    s = np.zeros((3, ngrid))
    t = np.zeros((2, ngrid))
    reach = min(L, max(start + ngrid - 1, size - 1 - start))   # offsets that can meet a bin
    if 2 * reach + 1 > _LOOP_OFFSETS:
        # many offsets (xlim much narrower than the kernel): the same sums as the loop below,
        # each as one correlation in compiled code
        us = np.arange(-reach, reach + 1) * delta
        kerns = np.exp(-0.5 * (us / bandwidth) ** 2)
        for r in range(3):
            s[r] = window_sums(c, kerns * us ** r, start, ngrid)
        for r in range(2):
            t[r] = window_sums(d, kerns * us ** r, start, ngrid)
        return grid, _local_linear_curve(s, t)
    # offsets from a grid point to the bins within the kernel's reach (start = 0 and size =
    # ngrid without values beyond xlim: -min(L, ngrid - 1) .. min(L, ngrid - 1))
    for off in range(-min(L, start + ngrid - 1), min(L, size - 1 - start) + 1):
        u = off * delta
        kern = math.exp(-0.5 * (u / bandwidth) ** 2)
        # grid point j uses bin k = start + j + off
        j0, j1 = max(0, -(start + off)), min(ngrid, size - start - off)
        k0, k1 = start + off + j0, start + off + j1
        ck, dk = c[k0:k1], d[k0:k1]
        s[0, j0:j1] += kern * ck
        s[1, j0:j1] += kern * u * ck
        s[2, j0:j1] += kern * u * u * ck
        t[0, j0:j1] += kern * dk
        t[1, j0:j1] += kern * u * dk
    return grid, _local_linear_curve(s, t)


def _local_linear_curve(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The local-linear fit at each grid point from its kernel moments ``s`` (powers 0-2 of
    the offset, weighted counts) and ``t`` (powers 0-1, weighted sums of y); NaN where the
    window has too little spread in x."""
    den = s[0] * s[2] - s[1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = (s[2] * t[0] - s[1] * t[1]) / den
    tiny = den <= 1e-12 * np.maximum(s[0] * s[2], np.finfo(float).tiny)
    curve[tiny] = np.nan
    return curve


def _extended_bins(x: np.ndarray, grid: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray,
                                                                      int, int]:
    """Bins of ``x`` on ``grid`` extended, in steps of its spacing, towards values beyond its
    ends, as far as they go but at most ``L`` steps (the kernel's reach; further values
    cannot reach a grid point).

    Returns ``(idx, keep, start, size)``: the bin of each value (the extended grid point at or
    below it; R ``findInterval``), which values fall in a bin, the position of ``grid[0]`` in
    the ``size`` extended points. Without values beyond the ends: ``start = 0``, ``size =
    len(grid)``, the bins of R's ``svysmooth`` (the largest value, on or above the last grid
    point, in the last bin).

    Examples
    --------
    >>> import numpy as np
    >>> idx, keep, start, size = _extended_bins(np.array([-2.5, 0.2, 3.0, 4.6, 9.0]),
    ...                                         np.linspace(0.0, 3.0, 4), 2)
    >>> idx[keep].tolist(), keep.tolist(), start, size      # points -2, -1, 0, ..., 5
    ([2, 5, 6], [False, True, True, True, False], 2, 8)
    """
    m = len(grid)
    lo, hi = float(grid[0]), float(grid[-1])
    delta = (hi - lo) / (m - 1)
    xmin, xmax = float(np.min(x)), float(np.max(x))
    n_lo = min(L, math.ceil((lo - xmin) / delta)) if xmin < lo else 0
    n_hi = min(L, math.ceil((xmax - hi) / delta)) if xmax > hi else 0
    points = np.concatenate([lo - delta * np.arange(n_lo, 0, -1), grid,
                             hi + delta * np.arange(1, n_hi + 1)])
    idx = np.searchsorted(points, x, side="right") - 1
    keep = idx >= 0
    if n_hi == L and n_hi > 0:       # values past the last extended bin reach no grid point
        keep &= x < hi + delta * (n_hi + 1)
    return idx, keep, n_lo, len(points)


def _bandwidth_value(bandwidth, what: str) -> float | None:
    if bandwidth is None:
        return None
    message = (f"{what}: bandwidth must be a positive number (the kernel's standard deviation, "
               f"in units of the variable), not {show_given(bandwidth)}.")
    if not is_number(bandwidth):        # "10" was read as 10; True as 1
        raise PlotError(message)
    try:
        bw = float(bandwidth)
    except (TypeError, ValueError):
        raise PlotError(message) from None
    if not (np.isfinite(bw) and bw > 0):
        raise PlotError(message)
    return bw


def _xlim_value(xlim, what: str, x: str) -> tuple[float, float] | None:
    """``xlim=`` as two floats ``(low, high)``, or a PlotError saying what it must be."""
    if xlim is None:
        return None
    form = (f"{what}: xlim must be two numbers (low, high), the range of {x!r} over which "
            "the curve is computed, e.g. xlim=(0, 100)")
    if isinstance(xlim, (str, bytes, dict, set, frozenset)) or not hasattr(xlim, "__len__"):
        raise PlotError(f"{form}; got {show_given(xlim)}.")
    values = list(np.asarray(xlim, dtype=object).ravel()) if isinstance(xlim, np.ndarray) \
        else list(xlim)
    if len(values) != 2:
        raise PlotError(f"{form}; got {len(values)} value{'s' if len(values) != 1 else ''}.")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                 np.floating)):
            raise PlotError(f"{form}; got {show_given(v)} among them.")
        if not np.isfinite(float(v)):
            raise PlotError(f"{what}: xlim must be two finite numbers (low, high); got "
                            f"{show_given(v)} among them.")
        out.append(float(v))
    low, high = out
    if not low < high:
        raise PlotError(f"{what}: xlim must give the lower end first and the upper end "
                        f"second, with low below high; got ({show_given(values[0])}, "
                        f"{show_given(values[1])}).")
    return low, high


def _check_ngrid(ngrid, what: str) -> None:
    if not isinstance(ngrid, (int, np.integer)) or isinstance(ngrid, bool) or ngrid < 2:
        raise PlotError(f"{what}: ngrid must be a whole number of at least 2, not "
                        f"{show_given(ngrid)}.")


def _plug_in(rule, args: tuple, ngrid: int, what: str, x: str, where: str = "") -> float:
    """The plug-in bandwidth, or a PlotError saying why it is undefined and what to do."""
    r_name = rule.__name__
    try:
        return rule(*args, gridsize=ngrid)
    except BandwidthError as err:
        raise PlotError(f"{what}: the plug-in bandwidth (R KernSmooth::{r_name}) cannot be "
                        f"computed{where}: {err}. Give bandwidth= (the kernel's standard "
                        f"deviation, in units of {x!r}).") from None


@style.plain_text
def smooth(
    design,
    y: str,
    x: str,
    *,
    bandwidth: float | None = None,
    ngrid: int = 401,
    xlim: tuple[float, float] | None = None,
    method: str = "locpoly",
    quantile: float = 0.5,
    df: int = 4,
    points: bool = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-weighted scatterplot smoother: local-linear regression of ``y`` on ``x``, or (with
    ``method="quantreg"``) a quantile regression spline.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y, x : str
        Numeric columns: the outcome and the variable on the horizontal axis.
    bandwidth : float, optional
        ``method="locpoly"`` only: standard deviation of the Gaussian kernel, in units of
        ``x`` (R ``bandwidth``). Default: the direct plug-in bandwidth of Ruppert, Sheather &
        Wand (1995), R's default ``KernSmooth::dpill(x, y, gridsize = ngrid)``, from the rows
        used, unweighted (as R).
    ngrid : int
        ``method="locpoly"``: grid points over the range of ``x`` (R ``ngrid``, default 401).
    xlim : (float, float), optional
        ``method="locpoly"``: the range ``(low, high)`` of ``x`` over which the curve is
        computed and drawn, its ``ngrid`` points spanning it (R ``xlim``; default the range
        of ``x`` in the rows used). Wider than the data, the curve goes on as far as the
        kernel reaches data (NaN beyond); narrower, the rows outside still count near the
        ends (Notes). The plug-in bandwidth does not depend on it (as R).
    method : {"locpoly", "quantreg"}
        ``"locpoly"`` (R's default): the weighted local-linear regression (mean of ``y``).
        ``"quantreg"``: the weighted quantile regression of ``y`` on a cubic B-spline of
        ``x`` (Notes).
    quantile : float
        ``method="quantreg"``: the quantile drawn, strictly between 0 and 1 (default 0.5, the
        median; R's ``svysmooth`` has no default and needs ``quantile =``).
    df : int
        ``method="quantreg"``: degrees of freedom of the cubic spline, at least 3 (R ``df``,
        default 4): ``df - 3`` interior knots.
    points : bool
        Also draw the observations, marker area proportional to the weight.
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``, ``.bandwidth`` (given or plug-in; None for ``"quantreg"``);
        ``to_frame()`` has columns ``x, y``: the curve at the grid points (``"locpoly"``), or
        the fitted quantile at each observation used, sorted by ``x`` (``"quantreg"``, as R;
        tied ``x`` values repeat).

    Raises
    ------
    PlotError
        Not a design, non-numeric or absent columns, an unknown method; ``"locpoly"``: a
        non-positive bandwidth, a bandwidth below the grid spacing, ``xlim`` not two finite
        numbers with the lower first, or a plug-in bandwidth that cannot be computed from
        the data (then give ``bandwidth=``); ``quantile`` not strictly between 0 and 1, ``df``
        not a whole number of at least 3, ``ngrid`` not a whole number of at least 2 (each
        checked whatever the method); ``"quantreg"``: a bandwidth or ``xlim`` given, negative
        weights, or too few distinct values of ``x`` for the spline (fewer than
        ``df + 1``, or a knot at the smallest or largest value: where R stops with "Singular
        design matrix").

    Warns
    -----
    SocialHealthWarning
        ``"quantreg"``: the fitted quantiles are not unique (R warns "Solution may be
        nonunique").

    Notes
    -----
    Rows with a missing ``x`` or ``y`` and rows outside a subset are left out. The binned
    formula (module notes) is the computation of R ``KernSmooth::locpoly(binned = TRUE)``,
    which ``svysmooth`` calls; the tests match R to 1e-10. Where the kernel window holds data
    at fewer than two grid points the local-linear fit is undefined and the curve is NaN (a
    gap in the line); R returns rounding noise there (NaN, +-Inf or arbitrary numbers).
    Negative weights (from a linear calibration) are used as they are; where they dominate
    a window the fit is undefined there too (NaN).

    With ``xlim`` covering the data the grid spans ``xlim`` and the curve is R's
    ``svysmooth(y ~ x, design, xlim = c(low, high))`` (tests: 1e-10). With rows beyond
    ``xlim`` the grid is extended past its ends, in steps of its spacing, as far as those
    rows go (at most the kernel's reach of 4 bandwidths), the rows binned there and the
    curve kept at the ``ngrid`` points of ``xlim``: it is the curve over the whole range cut
    to ``xlim`` (equal, in the tests, to R's over the smallest such range that covers the
    data, cut). R bins those rows wrongly: rows below ``low`` add a bin before the first,
    which shifts every bin by one grid point (its curve then has ``ngrid + 1`` points), and
    rows above ``high`` are piled on the last grid point.

    The plug-in bandwidth (formulas in :mod:`socialhealth.plot._bandwidth`) sorts the pairs
    by ``x``, drops the lowest and highest 1%, fits quartics in up to 5 blocks (number chosen
    by Mallows' Cp) for pilot estimates of the error variance and curvature, refines them with
    binned local cubic and local-linear fits, and returns
    ``(sigma^2 (b - a) / (2 sqrt(pi) theta22 n))^(1/5)`` (Ruppert, Sheather & Wand 1995,
    J Am Stat Assoc 90:1257-1270; Wand & Jones 1995, Kernel Smoothing, section 5.8). Like R it
    ignores the weights and uses all rows with both values (of a subset: its rows, as R on a
    subset of an uncalibrated design; R keeps a calibrated design's other rows, at zero
    weight, in the range of ``x`` and in the bandwidth); it matches
    ``KernSmooth::dpill`` to about 1e-12 relative where R's own arithmetic is that accurate
    (R fits the quartics on raw powers of ``x`` and loses digits when ``x`` is far from zero
    relative to its spread: 1e-5 relative with ``x`` near 1e5 and spread 1000, where this
    agrees with R on the centred ``x`` to 1e-12). It is undefined, and a
    ``PlotError`` asks for ``bandwidth=``, with fewer than 6 pairs after trimming, a block
    of the quartic fits with fewer than 5 distinct ``x`` (heavily tied ``x``), or data gaps
    wider than the pilot kernels reach (where R returns NaN and stops, or noise).

    ``method="quantreg"`` (R's ``svyrqss``: ``quantreg::rq(y ~ splines::bs(x, df = df), tau =
    quantile, weights = w)``, w the sampling weights) minimises over ``beta``

    ``sum_i w_i rho_tau(y_i - b(x_i)' beta)``,   ``rho_tau(u) = u (tau - I(u < 0))``

    (Koenker & Bassett 1978), with ``b(x) = (1, B_2(x), ..., B_{df+1}(x))`` the cubic
    B-splines of R ``splines::bs(x, df)``: boundary knots at the smallest and largest ``x``,
    ``df - 3`` interior knots at its unweighted quantiles (R ``quantile`` type 7) at
    probabilities ``1/(df - 2), ..., (df - 3)/(df - 2)``, the first B-spline dropped. The
    linear program (Koenker 2005, section 6.2) is solved by HiGHS's interior-point method with
    crossover to a vertex (``scipy.optimize.linprog``) and the vertex it returns recomputed
    from the ``df + 1`` equations of the observations fitted exactly; the curve drawn is
    ``b(x_i)' beta`` at each
    observation, sorted by ``x``. The tests match R to 1e-8 (observed 1e-14) on apistrat and
    apiclus1, subsets, missing values and heavily tied ``x``. Where the optimum is not unique
    (ties, equal weights: the weighted analogue of the median of an even number of values)
    the minimised loss is R's but the curve may be another optimal one than R's (R's
    Barrodale-Roberts simplex stops at another vertex); a warning says so, where R warns
    too. Rows outside a subset are left out, as R for most designs; for a subset of a
    calibrated or PPS design R keeps them with weight 0, so they move its knots and its curve
    has a point at each of them.

    In R: ``svysmooth(y ~ x, design)`` (``method = "locpoly"``, the default;
    ``bandwidth = bandwidth``, ``ngrid = ngrid`` and ``xlim = c(low, high)`` when given);
    ``svysmooth(y ~ x, design, method = "quantreg", quantile = 0.5, df = 4)``.

    References
    ----------
    Koenker R, Bassett G (1978) Regression quantiles. *Econometrica* 46:33-50.
    Koenker R (2005) *Quantile Regression*. Cambridge University Press.

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.smooth(d, "api00", "ell", bandwidth=10)
    >>> p.to_frame().iloc[[0, 400]].round(2)
            x       y
    0     0.0  725.65
    400  68.0  507.59
    >>> round(sh.plot.smooth(d, "api00", "ell").bandwidth, 4)     # plug-in (R dpill)
    5.9302
    >>> w = sh.plot.smooth(d, "api00", "ell", bandwidth=10, xlim=(-10, 90)).to_frame()
    >>> w.iloc[[0, 200, 400]].round(2)           # R: svysmooth(..., xlim = c(-10, 90))
            x       y
    0   -10.0  746.42
    200  40.0  602.59
    400  90.0  338.45
    >>> q = sh.plot.smooth(d, "api00", "ell", method="quantreg", quantile=0.9)
    >>> q.to_frame().iloc[[0, 100, 199]].round(2)
            x       y
    0     0.0  839.22
    100  23.0  759.62
    199  68.0  716.40
    """
    what = "smooth()"
    if not is_choice(method, ("locpoly", "quantreg")):
        raise PlotError(f"{what}: method must be \"locpoly\" (local-linear, R's default) or "
                        f"\"quantreg\" (quantile regression spline), not {show_given(method)}.")
    points = check_flag(points, "points", what)
    # every option is checked whatever the method (a wrong value is refused even where the
    # method drawn does not use it)
    check_quantile_df(quantile, df, what)
    _check_ngrid(ngrid, what)
    yv = _numeric_column(design, y, what)
    xv = _numeric_column(design, x, what)
    if method == "quantreg":
        if xlim is not None:
            raise PlotError(f"{what}: xlim= goes with method=\"locpoly\"; the quantile "
                            "regression spline is drawn at the observations (R's "
                            "svysmooth(method = \"quantreg\") does not take xlim either). "
                            "Leave xlim out, or set the axis range afterwards with "
                            "plot.ax.set_xlim(low, high).")
        grid, curve, use = quantile_curve(design, xv, yv, x=x, y=y, bandwidth=bandwidth,
                                          quantile=quantile, df=df, what=what)
        # the axis says which quantile is drawn ("BMI (quantile 0.9)")
        default_y = f"{style.axis_label(y)} (quantile {show(float(quantile))})"
        return _draw_smooth(design, xv, yv, use, grid, curve, x=x, y=y, xlabel=xlabel,
                            ylabel=ylabel or default_y, title=title, caption=caption, ax=ax,
                            points=points, bandwidth=None)
    bw = _bandwidth_value(bandwidth, what)
    _check_ngrid(ngrid, what)
    limits = _xlim_value(xlim, what, x)
    w_all = np.asarray(design.weights, dtype=float)
    use = np.isfinite(xv) & np.isfinite(yv) & design.in_subset
    if use.sum() < 2:
        raise PlotError(f"{what}: fewer than two rows with both {y!r} and {x!r}.")
    if not np.ptp(xv[use]) > 0:
        raise PlotError(f"{what}: {x!r} has a single value in the rows used; nothing to smooth "
                        "over.")
    if bw is None:
        bw = _plug_in(dpill, (xv[use], yv[use]), int(ngrid), what, x)
    grid, curve = local_linear_binned(xv[use], yv[use], w_all[use], bw, int(ngrid), limits)
    if not np.isfinite(curve).any():
        # (an empty plot would look like a finished figure with nothing in it)
        where = ("" if limits is None else
                 f" over xlim=({show(limits[0])}, {show(limits[1])})")
        raise PlotError(
            f"{what}: the curve is undefined everywhere{where}: no grid point has rows of "
            f"{x!r} within the kernel's reach (4 bandwidths, {show(bw)}), which need at least "
            f"two distinct x values. The rows used span {show(float(np.min(xv[use])))} to "
            f"{show(float(np.max(xv[use])))}; choose an xlim that overlaps them or a larger "
            "bandwidth=.")
    return _draw_smooth(design, xv, yv, use, grid, curve, x=x, y=y, xlabel=xlabel,
                        ylabel=ylabel, title=title, caption=caption, ax=ax, points=points,
                        bandwidth=bw, xlim=limits)


def _draw_smooth(design, xv, yv, use, grid, curve, *, x, y, xlabel, ylabel, title, caption, ax,
                 points, bandwidth, xlim=None) -> DesignPlot:
    """Draw a smoother's curve (and the weighted points) and return the DesignPlot."""
    table = pd.DataFrame({"x": grid, "y": curve})
    ax = style.new_axes(ax, (6.4, 4.2))
    if points:
        w = np.asarray(design.weights, dtype=float)[use]
        ax.scatter(xv[use], yv[use], s=4 + 36 * np.abs(w) / np.abs(w).max(), color=style.LIGHT_GREY,
                   edgecolors="none", zorder=1)
    ax.plot(grid, curve, color=style.PALETTE[1], linewidth=2.0, zorder=3)
    if xlim is not None:
        ax.set_xlim(*xlim)
    style.tidy_axes(ax, grid="y")
    style.set_labels(ax, xlabel=xlabel or style.axis_label(x), ylabel=ylabel or style.axis_label(y),
                     title=title)
    style.add_caption(ax, caption)
    return DesignPlot(ax, table, "smoother", bandwidth=bandwidth)


# --------------------------------------------------------------------------- density
@style.plain_text
def density(
    design,
    x: str,
    *,
    bandwidth: float | None = None,
    ngrid: int = 401,
    xlim: tuple[float, float] | None = None,
    by: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-weighted kernel density estimate of a numeric variable.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    x : str
        Numeric column.
    bandwidth : float, optional
        Standard deviation of the Gaussian kernel, in units of ``x`` (R ``bandwidth``).
        Default: the Sheather-Jones direct plug-in bandwidth, R's default
        ``KernSmooth::dpik(x, gridsize = ngrid)``, from the values used, unweighted (as R).
    ngrid : int
        Grid points over the range of ``x`` (R ``ngrid``, default 401).
    xlim : (float, float), optional
        The range ``(low, high)`` of ``x`` over which the density is computed and drawn, its
        ``ngrid`` points spanning it (R ``xlim``; default the range of ``x`` in the rows
        used, per group with ``by``). Wider than the data, the curve falls to 0 beyond it;
        narrower, it is the density of all the rows, shown over ``xlim`` (Notes). With
        ``by``, every group's curve on the same grid. The plug-in bandwidth does not depend
        on it (as R).
    by : str, optional
        One curve per group, each the density within its domain on its own grid (or
        ``xlim``'s) and (without ``bandwidth``) with its own plug-in bandwidth.
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``, ``.bandwidth`` (given or plug-in; with ``by`` a dict by group);
        ``to_frame()`` has columns ``[by], x, density``: the curve at the grid points.

    Raises
    ------
    PlotError
        Not a design, a non-numeric or absent column, fewer than two distinct values, a
        non-positive bandwidth or one below the grid spacing, ``xlim`` not two finite numbers
        with the lower first, or a plug-in bandwidth that cannot be computed from the data
        (then give ``bandwidth=``).

    Notes
    -----
    Formula in :mod:`socialhealth.plot.design_plots` (the weights are binned onto the grid, to
    the grid point at or below each value, and smoothed as R ``svysmooth`` does through
    ``KernSmooth::locpoly``); the area under the curve is close to, not exactly, 1 (R scales
    the bins by ``M`` rather than ``M - 1`` and the local-linear smooth is not a density at
    the ends). Rows with a missing ``x`` and rows outside a subset are left out. Negative
    weights (from a linear calibration) are binned as they are, so where they dominate the
    curve dips below zero; calibrate with bounds or raking to avoid them. The plug-in
    bandwidth (Sheather & Jones 1991, J R Stat Soc B 53:683-690; Wand & Jones 1995, Kernel
    Smoothing, section 3.6; formulas in :mod:`socialhealth.plot._bandwidth`) standardises the
    values by the smaller of their standard deviation and interquartile range / 1.349 and
    estimates the density functionals ``psi6`` and ``psi4`` on linearly binned data; it
    ignores the weights, as R, and matches ``KernSmooth::dpik`` to about 1e-13 relative. Of a
    subset, the grid and the bandwidth come from its rows, as R on a subset of an uncalibrated
    design (R keeps a calibrated design's other rows, at zero weight, in both).
    R has no ``by``; each group's curve equals ``svysmooth(~x, subset(design, group))``.

    With ``xlim`` covering the data the grid spans ``xlim``, the bins are scaled by ``M /
    ((high - low) sum_i w_i)`` and the curve is R's ``svysmooth(~x, design, xlim = c(low,
    high))`` (tests: 1e-10). With rows beyond ``xlim`` their weights stay in ``sum_i w_i``
    (so the curve remains the density of ``x`` over the whole population, not rescaled to
    the window) and the grid is extended past the ends of ``xlim``, in steps of its
    spacing, as far as those rows go (at most the kernel's reach of 4 bandwidths), the rows
    binned there and the curve kept at the ``ngrid`` points of ``xlim``: it is the curve
    over the whole range cut to ``xlim`` (equal, in the tests, to R's over the smallest such
    range that covers the data, cut, apart from R's factor ``M / (high - low)``). R bins
    those rows wrongly: rows below ``low`` shift every bin by one grid point and drop the
    last, and rows above ``high`` are piled on the last grid point.

    In R: ``svysmooth(~x, design)`` (``bandwidth = bandwidth``, ``ngrid = ngrid`` and
    ``xlim = c(low, high)`` when given).

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.density(d, "api00")
    >>> round(p.bandwidth, 4)
    28.0692
    >>> p.to_frame().iloc[[0, 200]].round(6)
             x   density
    0    366.0  0.000178
    200  633.0  0.004462
    >>> q = sh.plot.density(d, "api00", xlim=(300, 1000))  # R: xlim = c(300, 1000)
    >>> q.to_frame().iloc[[100, 200]].round(6)
             x   density
    100  475.0  0.000561
    200  650.0  0.004427
    """
    what = "density()"
    xv = _numeric_column(design, x, what)
    bw = _bandwidth_value(bandwidth, what)
    _check_ngrid(ngrid, what)
    limits = _xlim_value(xlim, what, x)
    m = int(ngrid)
    w_all = np.asarray(design.weights, dtype=float)
    finite = np.isfinite(xv) & design.in_subset
    if not finite.any():
        raise PlotError(f"{what}: {x!r} has no non-missing values.")
    frames, bandwidths = [], {}
    for label, mask in _groups(design, by, what):
        use = mask & finite
        where = f" in {by} = {show(label)}" if by else ""
        xs, w = xv[use], w_all[use]
        lo, hi = (float(np.min(xs)), float(np.max(xs))) if len(xs) else (0.0, 0.0)
        if not hi > lo:
            leave_out = (" Leave that group out (plot a subset of the design without it)."
                         if by else "")
            raise PlotError(f"{what}: {x!r} has fewer than two distinct values{where}; there "
                            f"is no spread to estimate a density over.{leave_out}")
        if not w.sum() > 0:
            raise PlotError(f"{what}: the weights of the rows with {x!r}{where} do not sum to a "
                            "positive number.")
        h = bw if bw is not None else _plug_in(dpik, (xs,), m, what, x, where)
        if limits is not None:
            lo, hi = limits
        grid = np.linspace(lo, hi, m)
        delta = (hi - lo) / (m - 1)
        L = math.floor(4 * h / delta)
        if L < 1:
            raise PlotError(f"{what}: bandwidth {h:g}{where} is below the grid spacing "
                            f"{delta:g}; give a larger bandwidth= or ngrid=.")
        # the bins (beyond xlim too, where rows lie there: _extended_bins), each grid point
        # counting once, as R's locpoly(rep(1, M), ...)
        idx, keep, start, size = _extended_bins(xs, grid, L)
        heights = (np.bincount(idx[keep], weights=w[keep], minlength=size)
                   * m / ((hi - lo) * w.sum()))
        curve = local_poly(np.ones(size), heights, lo - start * delta,
                           hi + (size - start - m) * delta, h, start=start, size=m)
        frame = pd.DataFrame({"x": grid, "density": curve})
        if by:
            frame.insert(0, by, label)
        frames.append(frame)
        bandwidths[label] = h
    table = pd.concat(frames, ignore_index=True)

    ax = style.new_axes(ax, (6.4, 4.2))
    if by is None:
        ax.plot(table["x"], table["density"], color=style.PALETTE[1], linewidth=2.0, zorder=3)
    else:
        for k, frame in enumerate(frames):
            gs = style.group_style(k)
            ax.plot(frame["x"], frame["density"], color=gs["colour"], linewidth=1.8,
                    linestyle=gs["linestyle"], label=style.level_text(frame[by].iloc[0]),
                    zorder=3)
        style.group_legend(ax, by)
    if limits is not None:
        ax.set_xlim(*limits)
    style.tidy_axes(ax, grid="y")
    style.set_labels(ax, xlabel=xlabel or style.axis_label(x),
                     ylabel=ylabel or "Density (weighted)", title=title)
    style.add_caption(ax, caption)
    return DesignPlot(ax, table, "density", bandwidth=bandwidths[None] if by is None
                      else bandwidths)
