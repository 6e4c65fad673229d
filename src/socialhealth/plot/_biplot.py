"""Biplot of design-weighted principal components (R ``biplot.svyprcomp``): the rows as points
whose opacity or size shows their weight, the items as arrows.

Coordinates (Gabriel 1971; R ``biplot.prcomp``)
    With the scores ``s_ik`` and standard deviations ``sdev_k`` of the two components
    ``k`` in ``choices`` and ``n`` rows, ``lambda_k = (sdev_k sqrt(n))^scale`` (1 for
    ``scale = 0``), divided by ``sqrt(n)`` with ``pc_biplot``. A row is drawn at
    ``s_ik / lambda_k`` and an item ``j`` at ``v_jk lambda_k`` (``v`` the rotation), on a second
    pair of axes (top and right) whose limits are those of the rows times
    ``ratio = max_k(range of the items_k / range of the rows_k) / expand``; the arrow runs from
    the origin to 0.8 of the item's point, the item's name at the point. The rows' axes are
    square, both from ``min(-|min|, ...)`` to ``max(|max|, ...)`` over both components.

Weights (R ``weight =``)
    ``"transparent"``: opacity ``floor(max(1, 255 w_i max_alpha / max(w))) / 255`` (R's
    colours hold whole steps of 1/255, and its ``rgb(..., maxColorValue = 255)`` truncates),
    size ``max_size``. ``"scaled"``: size ``max(0.2, max_size sqrt(w_i / max(w)))``, opacity
    ``floor(255 max_alpha) / 255``. ``"none"``: both constant.

References
----------
Gabriel KR (1971) The biplot graphic display of matrices with application to principal
component analysis. *Biometrika* 58:453-467. Lumley T (2010) *Complex Surveys: A Guide to
Analysis Using R*. Wiley.
"""
from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth.errors import PlotError
from socialhealth.plot import style as house
from socialhealth.plot.design_plots import DesignPlot

WEIGHTS = ("transparent", "scaled", "none")
#: text size of R's plots (pointsize 12): a row label of R ``cex`` c is ``12 c`` points
POINTSIZE = 12.0


def _byte_alpha(a255: np.ndarray) -> np.ndarray:
    """Opacities given on R's 0-255 scale as R's ``rgb(..., maxColorValue = 255)`` stores
    them: the whole number below (truncated; a value within rounding error of a whole number
    counts as it), divided by 255."""
    return np.floor(np.asarray(a255, dtype=float) * (1 + 1e-12)) / 255


def _unsigned_range(v: np.ndarray) -> np.ndarray:
    return np.array([-abs(float(np.min(v))), abs(float(np.max(v)))])


@house.plain_text
def biplot(
    pca,
    *,
    choices: tuple[int, int] = (1, 2),
    scale: float = 1.0,
    pc_biplot: bool = False,
    weight: str = "transparent",
    max_alpha: float = 0.5,
    max_size: float = 0.5,
    expand: float = 1.0,
    labels=None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = "Principal components of the survey-weighted items",
    ax: Axes | None = None,
) -> DesignPlot:
    """Biplot of design-weighted principal components: rows weighted by opacity or size.

    Parameters
    ----------
    pca : SurveyPrcompResult
        From :func:`socialhealth.measures.survey_prcomp` with ``scores=True``.
    choices : (int, int)
        The two components drawn, 1-based (R ``choices``; ``biplot.svyprcomp`` draws 1 and 2).
    scale : float
        Between 0 and 1: the rows are divided by ``lambda^scale`` and the items multiplied by
        it (R ``biplot.prcomp``'s ``scale``; ``biplot.svyprcomp`` uses 1).
    pc_biplot : bool
        Gabriel's principal-component biplot: ``lambda`` divided by ``sqrt(n)`` (R
        ``pc.biplot``).
    weight : {"transparent", "scaled", "none"}
        Show a row's weight by its opacity, by its size, or not at all (R ``weight``).
    max_alpha : float
        Opacity of the largest weight (R ``max.alpha``).
    max_size : float
        Size of the largest weight, as R's ``cex``, a multiple of the 12-point text size
        (R ``max.cex``).
    expand : float
        Greater than 1 lengthens the arrows against the rows (R ``expand``).
    labels : "row", sequence or None
        Draw each row as a text label instead of a point: ``"row"`` for the row numbers
        1 ... n (R's default), or one label per row used, in the order of ``pca.scores``
        (R ``xlabs``; e.g. ``design.data.loc[pca.scores.index, "name"]``).
    xlabel, ylabel, title : str, optional
        Axis labels default to the component names (``PC1``, ``PC2``).
    caption : str, optional
        ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``, ``.arrow_scale`` (R's ``ratio``: the items' axes, top and
        right, are the rows' axes times it);
        ``to_frame()``: one row per observation then one per item: ``kind``
        (``"observation"`` or ``"item"``), ``label``, ``x``, ``y``, ``weight`` (of the
        observation, ``w_i / mean(w)``), ``alpha``, ``size`` (R ``cex``); for the items ``x``,
        ``y`` are the item's point on the items' axes (the arrow ends at 0.8 of it).

    Raises
    ------
    PlotError
        Not a principal components result; no scores (rerun with ``scores=True``); a
        component not kept, or without variance; ``scale``, ``weight``, ``max_alpha``,
        ``max_size``, ``expand`` or ``labels`` out of range.

    Notes
    -----
    Formulas in :mod:`socialhealth.plot._biplot`. Coordinates, opacities, sizes, the axes'
    limits and the arrows' scale equal R's (tests: 1e-10), up to the sign of each component
    (arbitrary in both; see ``survey_prcomp``). The rows are drawn as points (R draws their
    row numbers as text; ``labels="row"`` does so). R 4.1-1 takes the weights of every row of
    the design even when rows with a missing item were left out, which shifts the opacities
    against the rows; here each row has its own weight. ``choices`` and ``scale`` other than
    R ``biplot.svyprcomp``'s (1, 2) and 1 follow R ``biplot.prcomp``'s formulas on the
    weighted components.

    In R: ``biplot(svyprcomp(~a + b + c, design, scores = TRUE))`` (``weight =``,
    ``max.alpha =``, ``max.cex =``, ``pc.biplot =``, ``expand =``).

    References
    ----------
    Gabriel KR (1971) The biplot graphic display of matrices with application to principal
    component analysis. *Biometrika* 58:453-467. Lumley T (2010) *Complex Surveys*, Wiley.

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> pc = sh.measures.survey_prcomp(d, ["api00", "meals", "ell", "mobility"], scale=True,
    ...                                scores=True)
    >>> p = sh.plot.biplot(pc)
    >>> t = p.to_frame()
    >>> t[t["kind"] == "item"][["label", "x", "y"]].round(3)
            label       x       y
    200     api00   4.892  11.711
    201     meals  11.887  -4.336
    202       ell  11.461  -5.178
    203  mobility   9.361   5.725
    """
    what = "biplot()"
    needed = ("scores", "sdev", "rotation", "weights")
    if not all(hasattr(pca, a) for a in needed) or not isinstance(pca.rotation, pd.DataFrame):
        raise PlotError(f"{what} takes the result of sh.measures.survey_prcomp(design, items, "
                        f"scores=True), not {type(pca).__name__}.")
    if pca.scores is None:
        raise PlotError(f"{what}: the principal components have no scores; rerun "
                        "sh.measures.survey_prcomp(design, items, scores=True).")
    k = len(pca.sdev)
    try:
        c1, c2 = (int(c) for c in choices)
        ok = [float(c) for c in choices] == [c1, c2]
    except (TypeError, ValueError):
        ok = False
    if not ok or not (1 <= c1 <= k and 1 <= c2 <= k) or c1 == c2:
        raise PlotError(f"{what}: choices must be two different component numbers from 1 to "
                        f"{k} (the components kept), e.g. (1, 2); got {show_given(choices)}.")
    if not is_choice(weight, WEIGHTS):
        raise PlotError(f"{what}: unknown weight {show_given(weight)}; use 'transparent' "
                        "(opacity), 'scaled' (size) or 'none'.")
    for name, value, low, high in (("scale", scale, 0.0, 1.0), ("max_alpha", max_alpha, 0.0, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high:
            raise PlotError(f"{what}: {name} must be a number from {low:g} to {high:g}, "
                            f"not {show_given(value)}.")
    for name, value in (("max_size", max_size), ("expand", expand)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise PlotError(f"{what}: {name} must be a positive number, not {show_given(value)}.")
    cols = [c1 - 1, c2 - 1]
    scores = pca.scores.to_numpy(dtype=float)[:, cols]
    n = scores.shape[0]
    lam = pca.sdev.to_numpy(dtype=float)[cols] * math.sqrt(n)
    flat = [f"PC{c}" for c, v in zip((c1, c2), lam, strict=True) if not v > 1e-12 * lam.max()]
    if flat and scale != 0:
        raise PlotError(f"{what}: {' and '.join(flat)} has no variance (the items are collinear), "
                        "so the rows cannot be scaled by it; draw other components (choices=) "
                        "or use fewer items, or scale=0.")
    lam = lam ** scale if scale != 0 else np.ones(2)
    if pc_biplot:
        lam = lam / math.sqrt(n)
    xx = scores / lam
    yy = pca.rotation.to_numpy(dtype=float)[:, cols] * lam
    w = pca.weights.to_numpy(dtype=float)
    rel = w / np.max(w)
    if weight == "transparent":
        alpha = _byte_alpha(np.maximum(1, 255 * rel * max_alpha))
        size = np.full(n, float(max_size))
    else:
        alpha = np.full(n, _byte_alpha(np.array([255 * max_alpha]))[0])
        size = (np.maximum(0.2, max_size * np.sqrt(rel)) if weight == "scaled"
                else np.full(n, float(max_size)))
    row_labels = _row_labels(labels, pca, n, what)

    r1, r2 = _unsigned_range(xx[:, 0]), _unsigned_range(xx[:, 1])
    lim = np.array([min(r1[0], r2[0]), max(r1[1], r2[1])])
    ry1, ry2 = _unsigned_range(yy[:, 0]), _unsigned_range(yy[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmax(np.concatenate([ry1 / lim, ry2 / lim]))) / expand

    names = list(pca.sdev.index[cols])
    ax = house.new_axes(ax, (6.0, 6.0))
    ax.set_box_aspect(1)
    base = np.array(mpl.colors.to_rgba(house.GREY))
    colours = np.tile(base, (n, 1))
    colours[:, 3] = alpha
    if row_labels is None:
        ax.scatter(xx[:, 0], xx[:, 1], s=(POINTSIZE * size) ** 2 / 4, c=colours,
                   edgecolors="none", zorder=2)
    else:
        for i in range(n):
            ax.text(xx[i, 0], xx[i, 1], row_labels[i], ha="center", va="center",
                    fontsize=POINTSIZE * size[i], color=colours[i], zorder=2)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    house.tidy_axes(ax, grid=None)
    ax.spines["top"].set_visible(True)
    ax.spines["right"].set_visible(True)
    ax.axhline(0, color=house.LIGHT_GREY, linewidth=0.6, zorder=1)
    ax.axvline(0, color=house.LIGHT_GREY, linewidth=0.6, zorder=1)
    arrow = house.PALETTE[1]
    for j, item in enumerate(pca.rotation.index):      # items' units / ratio = rows' units
        ax.annotate("", xy=(0.8 * yy[j, 0] / ratio, 0.8 * yy[j, 1] / ratio), xytext=(0, 0),
                    arrowprops={"arrowstyle": "-|>", "color": arrow, "linewidth": 1.2,
                                "mutation_scale": 10, "shrinkA": 0, "shrinkB": 0}, zorder=3)
        ax.text(yy[j, 0] / ratio, yy[j, 1] / ratio, str(item), color=arrow,
                ha="center", va="center", fontsize=house.FONT["annotation"],
                fontweight="bold", zorder=4)
    to_items = (lambda v: v * ratio, lambda v: v / ratio)
    items_axes = [ax.secondary_xaxis("top", functions=to_items),
                  ax.secondary_yaxis("right", functions=to_items)]
    for sec in items_axes:
        sec.tick_params(labelsize=house.FONT["tick"], colors=arrow, labelcolor=arrow)
    house.set_labels(ax, xlabel=xlabel or names[0], ylabel=ylabel or names[1])
    if title:                                  # above the items' axis on top
        ax.set_title(title, fontsize=house.FONT["title"], loc="left", fontweight="bold",
                     pad=24)
    house.add_caption(ax, caption)

    obs_labels = (row_labels if row_labels is not None
                  else [str(i) for i in pca.scores.index])
    table = pd.concat([
        pd.DataFrame({"kind": "observation", "label": obs_labels, "x": xx[:, 0],
                      "y": xx[:, 1], "weight": w, "alpha": alpha, "size": size}),
        pd.DataFrame({"kind": "item", "label": list(pca.rotation.index), "x": yy[:, 0],
                      "y": yy[:, 1], "weight": np.nan, "alpha": np.nan, "size": np.nan}),
    ], ignore_index=True)
    return DesignPlot(ax, table, "biplot", arrow_scale=ratio)


def _row_labels(labels, pca, n: int, what: str) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        if labels == "row":
            return [str(i + 1) for i in range(n)]
        raise PlotError(f"{what}: labels={labels!r}: give 'row' for the row numbers or the "
                        "labels themselves (e.g. design.data.loc[pca.scores.index, 'name']); "
                        "the principal components result does not hold the data's columns.")
    try:
        out = [house.level_text(v) for v in labels]
    except TypeError:
        raise PlotError(f"{what}: labels must be 'row' or one label per row used ({n}), not "
                        f"{type(labels).__name__}.") from None
    if len(out) != n:
        raise PlotError(f"{what}: labels has {len(out)} entries but {n} rows were used; give "
                        "one label per row of pca.scores (e.g. design.data.loc[pca.scores.index, "
                        "'name']).")
    return out
