"""Design-based scatterplots (R ``svyplot``): each observation drawn for the population
share it stands for.

Bubbles (R ``style = "bubble"``)
    An open circle per row whose *area* is proportional to its weight: radius
    ``r_i = inches * sqrt(w_i) / max_j sqrt(w_j)`` inches, the largest circle ``inches``
    (default 0.05) in radius, as R ``symbols(x, y, circles = sqrt(w), inches = inches)``. The
    maximum runs over every row of the design (of its subset), as R's, including rows not drawn
    for a missing ``x`` or ``y``. Matplotlib marker area: ``(2 * 72 * r_i)^2`` points^2.

Transparency (R ``style = "transparent"``)
    A filled point per row with opacity
    ``alpha_i = (a_0 (w_max - w_i) + a_1 w_i) / w_max``, i.e. from ``a_0`` (default 0) for a
    weight of 0 up to ``a_1`` (default 0.8) for the largest weight ``w_max`` of the design.

Hexagons (R ``style = "hex"``, package hexbin)
    Rows are binned on a lattice of regular hexagons (Carr et al. 1987) spanning the observed
    ranges: with ``dx = (x_max - x_min) / xbins``, centres sit at
    ``(x_min + dx (j + (r mod 2) / 2), y_min + r * dy)`` for row ``r`` and column ``j``,
    ``dy = (y_max - y_min) sqrt(3) / (2 xbins)``, and each row of data goes to the nearest
    centre in the metric that makes the hexagons regular (``u = (x - x_min) / dx``,
    ``v = (y - y_min) / dy``: squared distance ``(u - u_c)^2 + 3 (v - v_c)^2 / 4``), a tie
    going to the even row. Cells are numbered ``r * J + j + 1`` with ``J = floor(xbins +
    1.5001)`` columns, as hexbin numbers them. A cell's ``count`` is the sum of the weights of
    its rows, the estimated number of population members in it, so the counts add up to the
    estimated population size; ``x_centroid``, ``y_centroid`` are the weighted means of its
    rows.

References
----------
Korn EL, Graubard BI (1998) Scatterplots with survey data. *American Statistician* 52:58-69.
Carr DB, Littlefield RJ, Nicholson WL, Littlefield JS (1987) Scatterplot matrix techniques for
large N. *JASA* 82:424-436. Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*.
Wiley, chapter 4.
"""
from __future__ import annotations

import math
import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection

from socialhealth.errors import PlotError, RowsDroppedWarning
from socialhealth.plot import style as house
from socialhealth.plot.design_plots import DESIGN_CAPTION, DesignPlot, _numeric_column

STYLES = ("bubble", "transparent", "hex")


def hex_cells(x: np.ndarray, y: np.ndarray, xbins: int, shape: float = 1.0,
              xbnds: tuple[float, float] | None = None,
              ybnds: tuple[float, float] | None = None) -> tuple[np.ndarray, dict]:
    """Hexagon cell of each point (1-based numbers as R hexbin's) and the lattice.

    Returns ``(cell, lattice)``; ``lattice`` holds ``xmin, ymin, dx, dy, columns`` (module
    notes), from which :func:`hex_centres` gives a cell's centre. ``shape`` (hexbin's: the
    plotting region's height over its width) stretches the rows, ``dy = (y_max - y_min)
    sqrt(3) / (2 shape xbins)``; ``xbnds``, ``ybnds`` replace the ranges of ``x`` and ``y`` as
    the lattice's bounds (hexbin's arguments of the same names).

    Examples
    --------
    >>> import numpy as np
    >>> cell, lat = hex_cells(np.array([0.0, 1.0, 0.5]), np.array([0.0, 1.0, 0.5]), 2)
    >>> cell.tolist(), lat["columns"]
    ([1, 9, 5], 3)
    """
    xmin, xmax = (float(np.min(x)), float(np.max(x))) if xbnds is None else map(float, xbnds)
    ymin, ymax = (float(np.min(y)), float(np.max(y))) if ybnds is None else map(float, ybnds)
    if not (xmax > xmin and ymax > ymin):
        raise PlotError("scatter(style='hex'): x and y must each take at least two different "
                        "values to bin them into hexagons; use style='bubble'.")
    columns = int(math.floor(xbins + 1.5001))
    u = xbins * (x - xmin) / (xmax - xmin)                          # units of dx
    v = xbins * shape / math.sqrt(3) * (y - ymin) / (ymax - ymin)   # units of 2 dy
    j1, i1 = np.floor(u + 0.5), np.floor(v + 0.5)                   # nearest even-row centre
    j2, i2 = np.floor(u), np.floor(v)                               # odd-row centre of the cell
    d1 = (u - j1) ** 2 + 3 * (v - i1) ** 2
    d2 = (u - j2 - 0.5) ** 2 + 3 * (v - i2 - 0.5) ** 2
    even = (d1 < 0.25) | ((d1 <= 1 / 3) & (d1 <= d2))
    row = np.where(even, 2 * i1, 2 * i2 + 1)
    col = np.where(even, j1, j2)
    cell = (row * columns + col + 1).astype(np.int64)
    lattice = {"xmin": xmin, "ymin": ymin, "dx": (xmax - xmin) / xbins,
               "dy": (ymax - ymin) * math.sqrt(3) / (2 * shape * xbins), "columns": columns}
    return cell, lattice


def hex_centres(cell: np.ndarray, lattice: dict) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(x, y)`` of hexagon cells numbered as :func:`hex_cells` numbers them."""
    row, col = np.divmod(np.asarray(cell) - 1, lattice["columns"])
    return (lattice["xmin"] + lattice["dx"] * (col + 0.5 * (row % 2)),
            lattice["ymin"] + lattice["dy"] * row)


def _hexagon(cx: float, cy: float, dx: float, dy: float) -> np.ndarray:
    """Corners of the lattice's hexagon around ``(cx, cy)`` (pointed top and bottom)."""
    h = 2 * dy / 3
    return np.array([(cx, cy + h), (cx + dx / 2, cy + h / 2), (cx + dx / 2, cy - h / 2),
                     (cx, cy - h), (cx - dx / 2, cy - h / 2), (cx - dx / 2, cy + h / 2)])


@house.plain_text
def scatter(
    design,
    x: str,
    y: str,
    *,
    style: str = "bubble",
    inches: float = 0.05,
    alpha: tuple[float, float] = (0.0, 0.8),
    xbins: int = 30,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-based scatterplot of ``y`` against ``x``: bubbles, transparency or hexagons.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    x, y : str
        Numeric columns: horizontal and vertical axis.
    style : {"bubble", "transparent", "hex"}
        ``"bubble"``: open circles with area proportional to the weight (small surveys);
        ``"transparent"``: points whose opacity grows with the weight; ``"hex"``: hexagons
        shaded by the estimated population count in each (large surveys).
    inches : float
        Bubbles: radius of the largest circle, in inches (R ``inches``, default 0.05).
    alpha : (float, float)
        Transparency: opacity of a weight of 0 and of the largest weight (R ``alpha``).
    xbins : int
        Hexagons: number of hexagon widths across the range of ``x`` (R ``xbins``).
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``, ``.n_missing`` (rows left out for a missing ``x`` or ``y``);
        ``to_frame()``: bubbles, one row per point, ``x, y, weight, radius`` (inches),
        ``size`` (matplotlib marker area, points^2); transparency ``x, y, weight, alpha``
        (indexed by the rows of the design data); hexagons one row per non-empty cell,
        ``cell, x, y`` (centre), ``n`` (rows), ``count`` (sum of weights), ``x_centroid``,
        ``y_centroid``.

    Raises
    ------
    PlotError
        Not a design; absent or non-numeric columns; an unknown ``style``; no row with both
        values; ``inches``, ``alpha`` or ``xbins`` out of range; hexagons over a single value.

    Warns
    -----
    RowsDroppedWarning
        Bubbles and transparency: rows with a negative weight (a linear calibration) have
        no circle area or opacity and are left out (R draws none, or stops).

    Notes
    -----
    Formulas in :mod:`socialhealth.plot._design_scatter`. Sizes and opacities equal R's
    (tests: 1e-10); so do the hexagon cells, their centres, weighted counts and centroids,
    computed on hexbin's lattice (not with matplotlib's ``hexbin``, whose grid differs).
    R draws ``style = "hex"`` as hexagons of area growing with the count, each moved to its
    weighted centroid (hexbin's ``"centroids"`` style); socialhealth shades full hexagons on the
    lattice by the count (as R's ``"grayhex"``, on a colour-blind-safe ramp, with a colour
    bar); the centroids are in the table. Only the weights enter, so a replicate design draws
    as its Taylor original (R's ``"transparent"`` style takes the replicate weights of a
    replicate design there, so use a Taylor design to compare). R's ``"subsample"`` style
    (a weighted random resample) is not implemented, nor R's ``basecol`` (points are drawn in
    the house blue; R's default is black). Rows with a missing ``x`` or ``y`` are left out
    (counted in ``n_missing``); rows outside a subset are not used.

    In R: ``svyplot(y ~ x, design, style = "bubble")`` (or ``"transparent"``, ``"hex"``).

    References
    ----------
    Korn EL, Graubard BI (1998) Scatterplots with survey data. *American Statistician*
    52:58-69. Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.scatter(d, "api99", "api00")
    >>> p.to_frame().iloc[[0, 100]].round(4)
             x      y  weight  radius    size
    0    663.0  698.0   44.21  0.0500  51.840
    100  599.0  608.0   15.10  0.0292  17.706
    >>> hexes = sh.plot.scatter(d, "api99", "api00", style="hex").to_frame()
    >>> round(float(hexes["count"].sum()), 2), round(float(d.weights.sum()), 2)
    (6194.0, 6194.0)
    """
    what = "scatter()"
    if style not in STYLES:
        hint = (" R's 'grayhex' is 'hex' here; 'subsample' is not implemented."
                if style in ("grayhex", "subsample") else "")
        raise PlotError(f"{what}: unknown style {style!r}; use 'bubble', 'transparent' or "
                        f"'hex'.{hint}")
    xv = _numeric_column(design, x, what)
    yv = _numeric_column(design, y, what)
    w_all = np.asarray(design.weights, dtype=float)
    inside = design.in_subset
    complete = np.isfinite(xv) & np.isfinite(yv)
    use = inside & complete
    n_missing = int((inside & ~complete).sum())
    if not use.any():
        raise PlotError(f"{what}: no row has values of both {x!r} and {y!r}; nothing to plot.")
    index = design.data.index[use]
    ax = house.new_axes(ax, (6.4, 4.6))
    if style in ("bubble", "transparent"):
        negative = use & (w_all < 0)
        if negative.any():
            warnings.warn(f"{what}: {int(negative.sum()):,} row(s) with a negative weight "
                          "(from a linear calibration) have no circle size or opacity and are "
                          "left out of the plot; calibrate with bounds to keep weights "
                          "positive.", RowsDroppedWarning, stacklevel=3)
            use = use & ~negative
            index = design.data.index[use]
        w_max = float(np.max(w_all[inside])) if inside.any() else 0.0
        if not w_max > 0:
            raise PlotError(f"{what}: no row has a positive weight.")
        w = w_all[use]
    if style == "bubble":
        try:
            size_in = float(inches)
        except (TypeError, ValueError):
            size_in = float("nan")
        if not (np.isfinite(size_in) and size_in > 0):
            raise PlotError(f"{what}: inches must be a positive number, not {inches!r}.")
        radius = size_in * np.sqrt(w) / math.sqrt(w_max)
        area = (2 * 72 * radius) ** 2
        table = pd.DataFrame({"x": xv[use], "y": yv[use], "weight": w, "radius": radius,
                              "size": area}, index=index)
        ax.scatter(xv[use], yv[use], s=area, facecolors="none",
                   edgecolors=house.PALETTE[0], linewidths=0.8, zorder=2)
        kind = "bubble plot"
    elif style == "transparent":
        try:
            a0, a1 = (float(a) for a in alpha)
        except (TypeError, ValueError):
            raise PlotError(f"{what}: alpha must be two opacities between 0 and 1 (for a weight "
                            f"of 0 and for the largest weight), not {alpha!r}.") from None
        if not (0 <= a0 <= 1 and 0 <= a1 <= 1):
            raise PlotError(f"{what}: alpha must be two opacities between 0 and 1 (for a weight "
                            f"of 0 and for the largest weight), not {alpha!r}.")
        opacity = (a0 * (w_max - w) + a1 * w) / w_max
        table = pd.DataFrame({"x": xv[use], "y": yv[use], "weight": w, "alpha": opacity},
                             index=index)
        colours = np.tile(mpl.colors.to_rgba(house.PALETTE[0]), (len(w), 1))
        colours[:, 3] = opacity
        ax.scatter(xv[use], yv[use], s=16, c=colours, edgecolors="none", zorder=2)
        kind = "transparency scatterplot"
    else:
        if not isinstance(xbins, (int, np.integer)) or isinstance(xbins, bool) or xbins < 1:
            raise PlotError(f"{what}: xbins must be a whole number of at least 1, not {xbins!r}.")
        xs, ys, w = xv[use], yv[use], w_all[use]
        cell, lattice = hex_cells(xs, ys, int(xbins))
        cells, inverse = np.unique(cell, return_inverse=True)
        count = np.bincount(inverse, weights=w)
        with np.errstate(invalid="ignore", divide="ignore"):
            x_cm = np.bincount(inverse, weights=w * xs) / count
            y_cm = np.bincount(inverse, weights=w * ys) / count
        cx, cy = hex_centres(cells, lattice)
        table = pd.DataFrame({"cell": cells, "x": cx, "y": cy,
                              "n": np.bincount(inverse).astype(np.int64), "count": count,
                              "x_centroid": x_cm, "y_centroid": y_cm})
        polys = [_hexagon(a, b, lattice["dx"], lattice["dy"]) for a, b in zip(cx, cy,
                                                                              strict=True)]
        coll = PolyCollection(polys, array=count, cmap="YlGnBu", edgecolors="white",
                              linewidths=0.3, zorder=2)
        ax.add_collection(coll)
        ax.autoscale_view()
        bar = ax.figure.colorbar(coll, ax=ax, pad=0.02)
        bar.set_label("Estimated population count", fontsize=house.FONT["annotation"])
        bar.ax.tick_params(labelsize=house.FONT["annotation"])
        kind = "hexagon plot"
    house.tidy_axes(ax, grid="both" if style != "hex" else None)
    house.set_labels(ax, xlabel=xlabel or house.axis_label(x), ylabel=ylabel or house.axis_label(y),
                     title=title)
    house.add_caption(ax, caption)
    return DesignPlot(ax, table, kind, n_missing=n_missing)
