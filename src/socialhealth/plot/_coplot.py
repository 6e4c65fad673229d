"""Conditioning plots of survey data (R ``svycoplot``): one design-based scatterplot of ``y``
against ``x`` per group, or per interval, of a third variable.

Panels
    A categorical (or text, or yes/no) conditioning variable gives one panel per level with
    rows. A numeric one is cut into ``number`` overlapping intervals holding about equal
    numbers of rows (lattice ``equal.count``, R ``co.intervals``): with the ``m`` sorted
    non-missing values ``z_(1) <= ... <= z_(m)``, ``r = m / (number (1 - overlap) +
    overlap)`` and ``t_k = (k - 1) (1 - overlap) r`` (``k = 1 ... number``), interval ``k``
    runs from ``z_(round(1 + t_k)) - eps`` to ``z_(round(r + t_k)) + eps`` (``round`` to the
    nearest whole number, halves to even as R's), ``eps`` half the smallest gap between
    distinct values; an interval whose ends both equal the previous one's is dropped. A row
    is in every interval that holds its value, ends included, so rows of an overlap appear in
    two panels. The intervals count rows, not weights (as R's).

Transparency (R ``style = "transparent"``)
    Opacity ``alpha_i = (a_0 (w_max - w_i) + a_1 w_i) / w_max``, ``w_max`` the largest weight
    of the design (as :func:`socialhealth.plot.scatter`).

Hexagons (R ``style = "hexbin"``)
    Every panel bins its rows on one lattice of ``xbins`` hexagons across (module
    :mod:`socialhealth.plot._design_scatter`), whose bounds are the panels' common axis
    limits, lattice's: the range of ``x`` (of ``y``) over all panels widened by 7% on each
    side, and whose ``shape`` is a panel's height over its width, so that the hexagons are
    regular on the page. A cell's ``count`` is the sum of the weights of its rows.

References
----------
Cleveland WS (1993) *Visualizing Data*. Hobart Press (conditioning plots, equal-count
intervals). Korn EL, Graubard BI (1998) Scatterplots with survey data. *American Statistician*
52:58-69. Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, chapter 4.
"""
from __future__ import annotations

import math
import warnings

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from socialhealth._options import is_choice, is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.errors import PlotError, RowsDroppedWarning
from socialhealth.plot import style as house
from socialhealth.plot._design_scatter import _hexagon, hex_cells, hex_centres
from socialhealth.plot.design_plots import DESIGN_CAPTION, DesignPlot, _numeric_column

STYLES = ("hex", "transparent")
PADDING = 0.07          # lattice.getOption("axis.padding")$numeric


def equal_count_intervals(values, number: int = 6, overlap: float = 0.5) -> np.ndarray:
    """Overlapping intervals holding about equal numbers of values (R ``co.intervals``).

    Parameters
    ----------
    values : array-like of float
        Missing values (NaN) are ignored.
    number : int
        Number of intervals (before dropping repeats).
    overlap : float
        Share of an interval's values it shares with the next, below 1.

    Returns
    -------
    numpy.ndarray
        One row per interval: lower and upper end (formula in the module notes).

    Examples
    --------
    >>> equal_count_intervals([1, 2, 3, 4, 5, 6, 7, 8], number=3, overlap=0.5).tolist()
    [[0.5, 4.5], [2.5, 6.5], [4.5, 8.5]]
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    m = len(x)
    r = m / (number * (1 - overlap) + overlap)
    ii = np.arange(number) * (1 - overlap) * r
    lo = x[np.round(1 + ii).astype(np.int64) - 1]     # numpy rounds halves to even, as R
    hi = x[np.round(r + ii).astype(np.int64) - 1]
    keep = np.concatenate([[True], (np.diff(lo) > 0) | (np.diff(hi) > 0)])
    jump = np.diff(x)
    eps = 0.5 * float(np.min(jump[jump > 0])) if np.any(jump > 0) else 0.0
    return np.column_stack([lo[keep] - eps, hi[keep] + eps])


def _interval_text(lo: float, hi: float) -> str:
    return f"{lo:.4g} to {hi:.4g}"


def _panels(design, by: str, number: int, overlap: float, what: str):
    """[(label, lower, upper, mask)] of the panels (masks of rows in the design's subset)."""
    data = design.data
    if not isinstance(by, str) or by not in data.columns:
        raise PlotError(f"{what}: by= must name a column of the design data (the conditioning "
                        f"variable), not {show_given(by)}; columns: "
                        f"{', '.join(map(str, data.columns))}.")
    inside = np.asarray(design.in_subset, dtype=bool)
    g = data[by]
    numeric = (pd.api.types.is_numeric_dtype(g) and not pd.api.types.is_bool_dtype(g)
               and not isinstance(g.dtype, pd.CategoricalDtype))
    out = []
    if numeric:
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 1:
            raise PlotError(f"{what}: number must be a whole number of intervals, at least 1, "
                            f"not {show_given(number)}.")
        if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) \
                or not 0 <= overlap < 1:
            raise PlotError(f"{what}: overlap must be a share from 0 to below 1, not "
                            f"{show_given(overlap)}.")
        z = pd.to_numeric(g, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        zin = z[inside & np.isfinite(z)]
        if len(zin) == 0:
            raise PlotError(f"{what}: by column {by!r} has no values in the design.")
        for lo, hi in equal_count_intervals(zin, int(number), float(overlap)):
            out.append((_interval_text(lo, hi), float(lo), float(hi),
                        inside & (z >= lo) & (z <= hi)))
    else:
        levels = (list(g.cat.categories) if isinstance(g.dtype, pd.CategoricalDtype)
                  else sorted(g.dropna().unique(), key=lambda v: (str(type(v)), v)))
        for lv in levels:
            mask = inside & (g == lv).fillna(False).to_numpy(dtype=bool)
            if mask.any():
                out.append((house.level_text(lv), np.nan, np.nan, mask))
        if not out:
            raise PlotError(f"{what}: by column {by!r} has no values in the design.")
    return out


@house.plain_text
def coplot(
    design,
    y: str,
    x: str,
    *,
    by: str,
    style: str = "hex",
    number: int = 6,
    overlap: float = 0.5,
    alpha: tuple[float, float] = (0.0, 0.8),
    xbins: int = 15,
    shape: float | None = None,
    columns: int | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    figsize: tuple[float, float] | None = None,
) -> DesignPlot:
    """Conditioning plot: a design-based scatterplot of ``y`` against ``x`` per panel of ``by``.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y, x : str
        Numeric columns: vertical and horizontal axis (R ``y ~ x | by``).
    by : str
        The conditioning variable: a categorical, text or yes/no column gives a panel per
        level; a numeric column gives ``number`` overlapping intervals with about equal
        numbers of rows (R ``| equal.count(by)``). For a panel per value of a numeric
        column, make it categorical first.
    style : {"hex", "transparent"}
        ``"hex"``: hexagons shaded by the estimated population count (R ``"hexbin"``, also
        accepted); ``"transparent"``: points whose opacity grows with the weight.
    number, overlap : int, float
        Numeric ``by``: number of intervals and the share of rows two neighbours share
        (R ``equal.count(by, number, overlap)``; defaults 6 and 0.5 as R's).
    alpha : (float, float)
        Transparency: opacity of a weight of 0 and of the largest weight (R ``alpha``).
    xbins : int
        Hexagons: hexagon widths across the panel (R ``xbins``, default 15).
    shape : float, optional
        Hexagons: the lattice's height-to-width ratio (hexbin ``shape``); by default a
        panel's height over its width on the figure, as R.
    columns : int, optional
        Panels per row (by default up to 3; 2 for 4 panels).
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    figsize : (float, float), optional
        Inches; by default 3.2 per panel across and 2.8 down.

    Returns
    -------
    DesignPlot
        ``.ax`` (the first panel), ``.axes`` (all panels, in order), ``.figure``,
        ``.n_missing`` (rows left out for a missing ``x``, ``y`` or ``by``), ``.panels`` (one
        row per panel: ``panel``, ``lower``, ``upper`` (numeric ``by``), ``n`` rows drawn);
        ``to_frame()``: transparency, one row per point and panel (a row of an overlap twice),
        ``panel, x, y, weight, alpha``, indexed by the rows of the design data; hexagons, one
        row per non-empty cell and panel, ``panel, cell, x, y`` (centre), ``n``, ``count``
        (sum of weights), ``x_centroid``, ``y_centroid``.

    Raises
    ------
    PlotError
        Not a design; absent or non-numeric ``x`` or ``y``; ``by`` absent or without values;
        an unknown ``style``; ``number``, ``overlap``, ``alpha``, ``xbins`` or ``shape`` out of
        range (each checked whatever the style); no row with both values.

    Warns
    -----
    RowsDroppedWarning
        Transparency: rows with a negative weight (a linear calibration) have no opacity and
        are left out.

    Notes
    -----
    Formulas in :mod:`socialhealth.plot._coplot`. The intervals, the rows of each panel, the
    opacities, and the hexagon cells, centres, weighted counts and ``x`` centroids equal R's
    (tests: 1e-10, with R's ``shape``). R 4.1-1's ``y`` centroids are weighted means of ``x``
    (a slip in ``svycoplot``); here they are those of ``y``. R draws hexagons of area growing
    with the count (hexbin's ``"centroids"``); socialhealth shades full hexagons, on one
    colour scale for all panels (one colour bar, like R's ``hexscale = "absolute"``). Panels
    run left to right, top to bottom (R's lattice starts at the bottom left). Only the
    sampling weights enter, so a replicate design draws as its Taylor original.

    In R: ``svycoplot(y ~ x | by, design, style = "hexbin")``; numeric ``by``:
    ``svycoplot(y ~ x | equal.count(by), design, style = "transparent")``.

    References
    ----------
    Cleveland WS (1993) *Visualizing Data*. Hobart Press. Lumley T (2010) *Complex Surveys:
    A Guide to Analysis Using R*. Wiley, chapter 4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apiclus2")
    >>> d = sh.SurveyDesign(api, psu=["dnum", "snum"], weights="pw", fpc=["fpc1", "fpc2"])
    >>> p = sh.plot.coplot(d, "api00", "api99", by="meals", style="transparent")
    >>> p.panels.round(1)
              panel  lower  upper   n
    0  -0.5 to 29.5   -0.5   29.5  36
    1  18.5 to 41.5   18.5   41.5  39
    2  29.5 to 52.5   29.5   52.5  39
    3  40.5 to 64.5   40.5   64.5  42
    4  51.5 to 75.5   51.5   75.5  37
    5  63.5 to 100.5  63.5  100.5  38
    """
    what = "coplot()"
    if is_choice(style, ("hexbin",)):
        style = "hex"
    if not is_choice(style, STYLES):
        hint = " 'bubble' is in sh.plot.scatter only." if is_choice(style, ("bubble",)) else ""
        raise PlotError(f"{what}: unknown style {show_given(style)}; use 'hex' or "
                        f"'transparent'.{hint}")
    # every option is checked whatever the style (a wrong value is refused even where the
    # style drawn does not use it)
    a0, a1 = house.check_opacities(alpha, what)
    xbins = house.check_whole(xbins, "xbins", what)
    if shape is not None and (not is_number(shape) or not shape > 0):
        raise PlotError(f"{what}: shape must be a positive number (a panel's height over "
                        f"its width), not {show_given(shape)}.")
    xv = _numeric_column(design, x, what)
    yv = _numeric_column(design, y, what)
    panels = _panels(design, by, number, overlap, what)
    inside = np.asarray(design.in_subset, dtype=bool)
    complete = np.isfinite(xv) & np.isfinite(yv)
    in_any = np.zeros(len(xv), bool)
    for *_, m in panels:
        in_any |= m
    n_missing = int((inside & ~(complete & in_any)).sum())
    if not (in_any & complete).any():
        raise PlotError(f"{what}: no row has values of {x!r}, {y!r} and {by!r}; nothing to "
                        "plot.")
    w_all = np.asarray(design.weights, dtype=float)

    k = len(panels)
    if columns is None:
        columns = 2 if k == 4 else min(k, 3)
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise PlotError(f"{what}: columns must be a whole number of at least 1, not "
                        f"{show_given(columns)}.")
    if figsize is not None and not (
            isinstance(figsize, (tuple, list)) and len(figsize) == 2
            and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                    and 0 < v < np.inf for v in figsize)):
        raise PlotError(f"{what}: figsize= takes (width, height) in inches, two positive numbers "
                        f"such as (10, 7), not {show_given(figsize)}.")
    ncol = int(min(columns, k))
    nrow = math.ceil(k / ncol)
    size = figsize or (3.2 * ncol + (1.4 if style == "hex" else 0.6), 2.6 * nrow + 1.3)
    fig, grid = plt.subplots(nrow, ncol, figsize=size, sharex=True, sharey=True,
                             squeeze=False)
    wide, high = fig.get_figwidth(), fig.get_figheight()     # margins in inches
    fig.subplots_adjust(left=0.85 / wide, right=1 - (1.3 if style == "hex" else 0.2) / wide,
                        bottom=0.95 / high, top=1 - (0.75 if title else 0.4) / high,
                        hspace=0.3, wspace=0.08)
    axes = list(grid.ravel())
    for extra in axes[k:]:
        extra.set_visible(False)
    axes = axes[:k]
    for j, ax in enumerate(axes):
        if j + ncol >= k:          # no panel below: this one shows the x values
            ax.xaxis.set_tick_params(labelbottom=True)

    rows = []
    if style == "transparent":
        negative = inside & complete & in_any & (w_all < 0)
        if negative.any():
            warnings.warn(f"{what}: {int(negative.sum()):,} row(s) with a negative weight (from "
                          "a linear calibration) have no opacity and are left out of the plot; "
                          "calibrate with bounds to keep weights positive.", RowsDroppedWarning,
                          stacklevel=user_stacklevel())
        w_max = float(np.max(w_all[inside]))
        if not w_max > 0:
            raise PlotError(f"{what}: no row has a positive weight.")
        opacity_all = (a0 * (w_max - w_all) + a1 * w_all) / w_max
        base = mpl.colors.to_rgba(house.PALETTE[0])
        counts = []
        for (label, _lo, _hi, m), ax in zip(panels, axes, strict=True):
            use = m & complete & (w_all >= 0)
            colours = np.tile(base, (int(use.sum()), 1))
            colours[:, 3] = opacity_all[use]
            ax.scatter(xv[use], yv[use], s=12, c=colours, edgecolors="none", zorder=2)
            rows.append(pd.DataFrame({"panel": label, "x": xv[use], "y": yv[use],
                                      "weight": w_all[use], "alpha": opacity_all[use]},
                                     index=design.data.index[use]))
            counts.append(int(use.sum()))
        kind = "conditioning plot (transparency)"
    else:
        drawn = in_any & complete
        xbnds = _padded(xv[drawn])
        ybnds = _padded(yv[drawn])
        # the colour bar first, so that the panels have their final width when measured
        mappable = mpl.cm.ScalarMappable(cmap="YlGnBu")
        bar = fig.colorbar(mappable, ax=axes, pad=0.02, fraction=0.05)
        bar.set_label("Estimated population count", fontsize=house.FONT["annotation"])
        bar.ax.tick_params(labelsize=house.FONT["annotation"])
        if shape is None:
            box = axes[0].get_position()
            shape = (box.height * fig.get_figheight()) / (box.width * fig.get_figwidth())
        if not is_number(shape) or not shape > 0:
            raise PlotError(f"{what}: shape must be a positive number (a panel's height over "
                            f"its width), not {show_given(shape)}.")
        cells: list[tuple | None] = []
        counts = []
        for label, _lo, _hi, m in panels:
            use = m & complete
            xs, ys, w = xv[use], yv[use], w_all[use]
            counts.append(int(use.sum()))
            if not use.any():
                cells.append(None)
                continue
            cell, lattice = hex_cells(xs, ys, int(xbins), float(shape), xbnds, ybnds)
            ids, inverse = np.unique(cell, return_inverse=True)
            count = np.bincount(inverse, weights=w)
            with np.errstate(invalid="ignore", divide="ignore"):
                x_cm = np.bincount(inverse, weights=w * xs) / count
                y_cm = np.bincount(inverse, weights=w * ys) / count
            cx, cy = hex_centres(ids, lattice)
            cells.append((cx, cy, count, lattice))
            rows.append(pd.DataFrame({"panel": label, "cell": ids, "x": cx, "y": cy,
                                      "n": np.bincount(inverse).astype(np.int64),
                                      "count": count, "x_centroid": x_cm, "y_centroid": y_cm}))
        top = max(float(np.max(c[2])) for c in cells if c is not None)
        mappable.set_clim(0, top)
        norm = mappable.norm
        for ax, c in zip(axes, cells, strict=True):
            if c is None:
                continue
            cx, cy, count, lattice = c
            polys = [_hexagon(a, b, lattice["dx"], lattice["dy"])
                     for a, b in zip(cx, cy, strict=True)]
            coll = PolyCollection(polys, array=count, cmap="YlGnBu", norm=norm,
                                  edgecolors="white", linewidths=0.3, zorder=2)
            ax.add_collection(coll)
        axes[0].set_xlim(*xbnds)
        axes[0].set_ylim(*ybnds)
        kind = "conditioning plot (hexagons)"

    by_words = house.axis_label(by)
    for (label, *_), ax in zip(panels, axes, strict=True):
        house.tidy_axes(ax, grid="both" if style != "hex" else None)
        ax.set_title(f"{by_words}: {label}", fontsize=house.FONT["annotation"], loc="left")
    fig.supxlabel(xlabel or house.axis_label(x), fontsize=house.FONT["label"], y=0.42 / high,
                  va="bottom")
    fig.supylabel(ylabel or house.axis_label(y), fontsize=house.FONT["label"], x=0.12 / wide,
                  ha="left")
    if title:
        fig.suptitle(title, fontsize=house.FONT["title"], fontweight="bold", x=0.85 / wide,
                     y=1 - 0.12 / high, ha="left", va="top")
    if caption:
        fig.text(0.85 / wide, 0.1 / high, caption, fontsize=house.FONT["caption"],
                 color=house.GREY, style="italic", ha="left", va="bottom",
                 gid=house.CAPTION_GID)
    table = (pd.concat(rows) if rows else pd.DataFrame())
    table_of_panels = pd.DataFrame({"panel": [p[0] for p in panels],
                                    "lower": [p[1] for p in panels],
                                    "upper": [p[2] for p in panels], "n": counts})
    return DesignPlot(axes[0], table, kind, n_missing=n_missing, axes=axes,
                      panels=table_of_panels)


def _padded(v: np.ndarray) -> tuple[float, float]:
    """lattice's axis limits: the range widened by 7% of it on each side (a single value:
    plus and minus 0.5)."""
    lo, hi = float(np.min(v)), float(np.max(v))
    if lo == hi:
        return lo - 0.5, hi + 0.5
    d = hi - lo
    return lo - PADDING * d, hi + PADDING * d
