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

Subsample (R ``style = "subsample"``)
    ``sample_size`` rows (default 500) drawn *with replacement*, each draw picking row ``i``
    with probability ``w_i / sum_j w_j``: a sample from (approximately) the estimated
    population distribution, as R ``sample(n, sample.size, replace = TRUE, prob = w)``. Each
    drawn value is then jittered as R ``jitter(v, factor = 3, amount)``: plus a uniform draw on
    ``(-a, a)``, with by default ``a = 3/5 d``, ``d`` the smallest gap between the distinct
    drawn values rounded to 3 significant digits of their range (R's rule: the range ``z``,
    values rounded to ``3 - floor(log10 z)`` decimals); an amount of 0 means
    ``a = 3 z / 50``. ``x`` is jittered before ``y``.

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

from socialhealth._options import is_choice, is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.errors import PlotError, RowsDroppedWarning
from socialhealth.plot import style as house
from socialhealth.plot.design_plots import DESIGN_CAPTION, DesignPlot, _numeric_column

STYLES = ("bubble", "transparent", "hex", "subsample")


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


def jitter_amount(values: np.ndarray, factor: float = 3.0, amount: float | None = None) -> float:
    """Half-width of R's ``jitter(values, factor, amount)`` (module notes).

    Examples
    --------
    >>> import numpy as np
    >>> jitter_amount(np.array([1.0, 3.0, 4.0]))
    0.6
    >>> round(jitter_amount(np.array([1.0, 3.0, 4.0]), amount=0), 10)
    0.18
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0
    lo, hi = float(v.min()), float(v.max())
    z = hi - lo
    if z == 0:
        z = abs(lo)
    if z == 0:
        z = 1.0
    if amount is None:
        distinct = np.unique(np.round(v, 3 - int(math.floor(math.log10(z)))))
        if distinct.size > 1:
            d = float(np.min(np.diff(distinct)))
        else:
            d = float(distinct[0]) / 10 if distinct[0] != 0 else z / 10
        return factor / 5 * abs(d)
    if amount == 0:
        return factor * (z / 50)
    return float(amount)


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
    sample_size: int = 500,
    seed=None,
    jitter=None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-based scatterplot of ``y`` against ``x``: bubbles, transparency, hexagons or a
    weighted subsample.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    x, y : str
        Numeric columns: horizontal and vertical axis.
    style : {"bubble", "transparent", "hex", "subsample"}
        ``"bubble"``: open circles with area proportional to the weight (small surveys);
        ``"transparent"``: points whose opacity grows with the weight; ``"hex"``: hexagons
        shaded by the estimated population count in each (large surveys); ``"subsample"``:
        ``sample_size`` rows drawn with probability proportional to the weight (with
        replacement), jittered, drawn as plain points.
    inches : float
        Bubbles: radius of the largest circle, in inches (R ``inches``, default 0.05).
    alpha : (float, float)
        Transparency: opacity of a weight of 0 and of the largest weight (R ``alpha``).
    xbins : int
        Hexagons: number of hexagon widths across the range of ``x`` (R ``xbins``).
    sample_size : int
        Subsample: number of draws (R ``sample.size``, default 500).
    seed : int or numpy.random.Generator, optional
        Subsample: seed of the draws and the jitter (``numpy.random.default_rng(seed)``); the
        same seed draws the same points.
    jitter : (float or None, float or None) or False, optional
        Subsample: half-widths of the uniform jitter of ``x`` and ``y`` (R ``amount = list(x,
        y)``). ``None`` (default, either or both) is R's default rule, 3/5 of the smallest gap
        between drawn values; 0 is R's ``amount = 0``, 3/50 of the drawn range (not no
        jitter); ``False`` draws the values without jitter.
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
        ``y_centroid``; subsample one row per draw, in the order drawn and indexed by the row
        drawn (a row drawn twice appears twice), ``x, y`` (its values), ``weight``,
        ``x_jittered, y_jittered`` (the point drawn).

    Raises
    ------
    PlotError
        Not a design; absent or non-numeric columns; an unknown ``style``; no row with both
        values; ``inches``, ``alpha``, ``xbins``, ``sample_size``, ``jitter`` or ``seed`` out
        of range (each is checked whatever the style, though each style uses some only);
        hexagons over a single value; a subsample from a design with a negative weight (R
        stops: "negative probability").

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
    replicate design there, so use a Taylor design to compare). R's ``basecol`` is not
    implemented (points are drawn in the house blue; R's default is black). Rows with a
    missing ``x`` or ``y`` are left out (counted in ``n_missing``); rows outside a subset are
    not used.

    The subsample follows R's rule (draws with replacement, probability proportional to the
    weight; R's jitter amounts, tests: 1e-10 on the rows R drew), but the points differ from
    R's: the draws come from numpy's random generator, not R's, so no seed reproduces R's
    subsample. R draws among all rows of the design, including those with a missing ``x`` or
    ``y``, which ``plot`` then leaves out (fewer than ``sample.size`` points, from a weight
    total that counts the incomplete rows); socialhealth draws ``sample_size`` rows among the
    complete ones.

    In R: ``svyplot(y ~ x, design, style = "bubble")`` (or ``"transparent"``, ``"hex"``,
    ``"subsample"``, with ``sample.size = sample_size`` and ``amount = list(x =, y =)`` for
    ``jitter``).

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
    >>> sub = sh.plot.scatter(d, "api99", "api00", style="subsample", seed=1).to_frame()
    >>> len(sub), list(sub.columns)
    (500, ['x', 'y', 'weight', 'x_jittered', 'y_jittered'])
    """
    what = "scatter()"
    if not is_choice(style, STYLES):
        hint = " R's 'grayhex' is 'hex' here." if is_choice(style, ("grayhex",)) else ""
        raise PlotError(f"{what}: unknown style {show_given(style)}; use 'bubble', "
                        f"'transparent', 'hex' or 'subsample'.{hint}")
    # every option is checked whatever the style (a wrong value is refused even where the
    # style drawn does not use it)
    size_in = float(inches) if is_number(inches) else float("nan")   # not "10", True
    if not (np.isfinite(size_in) and size_in > 0):
        raise PlotError(f"{what}: inches must be a positive number, not {show_given(inches)}.")
    a0, a1 = house.check_opacities(alpha, what)
    xbins = house.check_whole(xbins, "xbins", what)
    sample_size = house.check_whole(sample_size, "sample_size", what)
    amounts = _jitter_amounts(jitter, what)
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise PlotError(f"{what}: seed must be a whole number of at least 0 (or a numpy "
                        f"random Generator), not {show_given(seed)}.") from None
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
                          "positive.", RowsDroppedWarning, stacklevel=user_stacklevel())
            use = use & ~negative
            index = design.data.index[use]
        w_max = float(np.max(w_all[inside])) if inside.any() else 0.0
        if not w_max > 0:
            raise PlotError(f"{what}: no row has a positive weight.")
        w = w_all[use]
    if style == "bubble":
        radius = size_in * np.sqrt(w) / math.sqrt(w_max)
        area = (2 * 72 * radius) ** 2
        table = pd.DataFrame({"x": xv[use], "y": yv[use], "weight": w, "radius": radius,
                              "size": area}, index=index)
        ax.scatter(xv[use], yv[use], s=area, facecolors="none",
                   edgecolors=house.PALETTE[0], linewidths=0.8, zorder=2)
        kind = "bubble plot"
    elif style == "transparent":
        opacity = (a0 * (w_max - w) + a1 * w) / w_max
        table = pd.DataFrame({"x": xv[use], "y": yv[use], "weight": w, "alpha": opacity},
                             index=index)
        colours = np.tile(mpl.colors.to_rgba(house.PALETTE[0]), (len(w), 1))
        colours[:, 3] = opacity
        ax.scatter(xv[use], yv[use], s=16, c=colours, edgecolors="none", zorder=2)
        kind = "transparency scatterplot"
    elif style == "subsample":
        table = _subsample(what, xv[use], yv[use], w_all[use], index, sample_size, rng,
                           amounts)
        ax.scatter(table["x_jittered"], table["y_jittered"], s=10, color=house.PALETTE[0],
                   edgecolors="none", zorder=2)
        kind = "weighted subsample scatterplot"
    else:
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


def _jitter_amounts(jitter, what: str) -> tuple:
    """``jitter=`` of ``style="subsample"`` as two amounts (None: R's rule; False: none)."""
    if jitter is None:
        return (None, None)
    if jitter is False:
        return (False, False)
    try:
        amounts = tuple(jitter)
    except TypeError:
        amounts = ()
    ok = len(amounts) == 2 and all(
        a is None or (is_number(a) and np.isfinite(a) and a >= 0) for a in amounts)
    if not ok:
        raise PlotError(f"{what}: jitter must be two half-widths for x and y (numbers of at "
                        "least 0, or None for R's default rule), or False for none, not "
                        f"{show_given(jitter)}.")
    return amounts


def _subsample(what: str, xs: np.ndarray, ys: np.ndarray, w: np.ndarray, index: pd.Index,
               sample_size: int, rng: np.random.Generator, amounts: tuple) -> pd.DataFrame:
    """The draws of ``style="subsample"`` (module notes) as the plot's table."""
    if (w < 0).any():
        raise PlotError(f"{what}: a subsample draws rows with probability proportional to the "
                        f"weight, and {int((w < 0).sum()):,} row(s) have a negative weight "
                        "(from a linear calibration); calibrate with bounds to keep weights "
                        "positive, or use style='hex'.")
    total = float(w.sum())
    if not total > 0:
        raise PlotError(f"{what}: no row has a positive weight; nothing to draw.")
    draw = rng.choice(len(w), size=int(sample_size), replace=True, p=w / total)
    table = pd.DataFrame({"x": xs[draw], "y": ys[draw], "weight": w[draw]},
                         index=index[draw])
    for col, a in zip(("x", "y"), amounts, strict=True):
        values = table[col].to_numpy()
        if a is False:
            table[f"{col}_jittered"] = values
        else:
            half = jitter_amount(values, 3.0, a)
            table[f"{col}_jittered"] = values + rng.uniform(-half, half, len(values))
    return table
