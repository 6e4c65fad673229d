"""Forest plot of ratio estimates (association tables, meta-analyses)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from socialhealth._options import is_choice
from socialhealth._text import show_given, show_list
from socialhealth._deprecation import renamed_parameter
from socialhealth.design.structure import check_flag
from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.frames import (as_frame, needed, no_missing_groups, ordered_unique,
                                      require)

_INTERCEPTS = {"intercept", "(intercept)", "const"}


def _label_column(frame: pd.DataFrame, label: str | None) -> str:
    if label is not None:
        require(frame, [label], "forest()")
        return label
    for c in ("label", "term", "exposure"):
        if c in frame.columns:
            return c
    raise PlotError("forest() needs a label column: 'label' or 'term' (or pass label=).")


def _ratio_ticks(lo: float, hi: float) -> list[float]:
    """Readable ticks for a log ratio axis spanning [lo, hi]: 1-2-5 steps per decade on wide
    ranges, finer steps (1, 1.25, 1.5, 2, 3, 4, 5, ...) on narrow ones."""
    span = np.log10(hi / lo)
    mults: tuple[float, ...]
    if span <= 0.8:
        mults = (1, 1.25, 1.5, 2, 3, 4, 5, 6, 8)
    elif span <= 1.6:
        mults = (1, 1.5, 2, 3, 5)
    elif span <= 4:
        mults = (1, 2, 5)
    else:
        mults = (1,)
    k0, k1 = int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1
    ticks = sorted({float(f"{m * 10.0 ** k:.6g}") for k in range(k0, k1 + 1) for m in mults
                    if lo <= m * 10.0 ** k <= hi})
    if len(ticks) > 9:
        ticks = ticks[:: int(np.ceil(len(ticks) / 9))]
    if len(ticks) < 2:   # a very narrow range
        ticks = [float(f"{t:.3g}") for t in np.geomspace(lo, hi, 4)]
    return ticks


def log_axis(ax: Axes, values: np.ndarray, ref: float | None) -> None:
    """Log x axis with plain-number ticks covering ``values`` (and the reference line)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if ref is not None:
        v = np.r_[v, ref]
    lo, hi = v.min(), v.max()
    pad = (np.log(hi) - np.log(lo)) * 0.08 + 0.02
    lo, hi = np.exp(np.log(lo) - pad), np.exp(np.log(hi) + pad)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = _ratio_ticks(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def draw_diamond(ax: Axes, est: float, lo: float, hi: float, y: float, colour, height=0.42):
    """Draw a pooled-estimate diamond at row ``y``: centre ``est``, tips at ``lo`` and ``hi``.

    Returns the ``matplotlib.patches.Polygon`` (``gid="socialhealth-summary"``).
    """
    poly = Polygon([(lo, y), (est, y + height / 2), (hi, y), (est, y - height / 2)],
                   closed=True, facecolor=colour, edgecolor=colour, zorder=3,
                   gid="socialhealth-summary")
    ax.add_patch(poly)
    return poly


def _selected_rows(frame: pd.DataFrame, lab: str, drop_intercept: bool,
                   terms: Sequence[str] | None) -> pd.DataFrame:
    """The rows to draw, labelled (``_label``) and in ``terms`` order when given."""
    frame = frame.assign(_label=frame[lab].astype(str))
    if drop_intercept:
        frame = frame[~frame["_label"].str.lower().isin(_INTERCEPTS)]
    if terms is not None:
        missing = [t for t in terms if t not in set(frame["_label"])]
        if missing:
            raise PlotError(f"terms {show_list(missing)} are not in the data; available: "
                            f"{show_list(frame['_label'].unique())}.")
        frame = frame[frame["_label"].isin(list(terms))]
        frame = frame.assign(_order=frame["_label"].map({t: i for i, t in enumerate(terms)}))
        frame = frame.sort_values("_order", kind="stable")
    if frame.empty:
        raise PlotError("forest() has no rows to draw.")
    return frame


def _number_repeats(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Give rows that share a label (within a group) rows of their own: ``"Avlund (1)"``,
    ``"Avlund (2)"`` (two studies by one author), instead of drawing one over the other.
    ``_shown`` holds the label to display, ``_suffix`` the number added."""
    keys = [frame["_label"]] + ([frame[by]] if by else [])
    occ = frame.groupby(keys, sort=False, dropna=False).cumcount().to_numpy()
    size = frame.groupby(keys, sort=False, dropna=False)["_label"].transform("size").to_numpy()
    suffix = np.where(size > 1, [f" ({k + 1})" for k in occ], "")
    return frame.assign(_base=frame["_label"], _suffix=suffix,
                        _label=frame["_label"] + suffix)


def _draw_groups(ax: Axes, frame, groups, by, weight, est, lo, hi, ypos, offsets,
                 summaries) -> None:
    """Points with CI bars (marker area by weight) and summary diamonds, one colour per group."""
    wvals = frame[weight].to_numpy(dtype=float) if weight else None
    wmax = np.nanmax(wvals) if wvals is not None else 1.0
    for k, g in enumerate(groups):
        sel = np.ones(len(frame), bool) if g is None else (frame[by] == g).to_numpy()
        gs = style.group_style(k)
        colour = gs["colour"]
        marker = gs["marker"] if weight is None else "s"
        labs = frame["_label"].to_numpy()[sel]
        is_sum = np.array([t in summaries for t in labs])
        y = np.array([ypos[t] + offsets[g] for t in labs])
        e, lw, h = est[sel], lo[sel], hi[sel]
        pt = ~is_sum
        if pt.any():
            ax.errorbar(e[pt], y[pt], xerr=[e[pt] - lw[pt], h[pt] - e[pt]], fmt="none",
                        ecolor=colour, elinewidth=1.4, capsize=0, zorder=2)
            sizes = 36.0 if wvals is None else 18 + 160 * (wvals[sel][pt] / wmax)
            ax.scatter(e[pt], y[pt], s=sizes, marker=marker, color=colour, zorder=3,
                       label=style.level_text(g) if g is not None else None,
                       edgecolors="white", linewidths=0.5)
        for ei, li, hi_, yi in zip(e[is_sum], lw[is_sum], h[is_sum], y[is_sum], strict=True):
            draw_diamond(ax, ei, li, hi_, yi, colour)


def mark_open_and_missing(ax: Axes, est, lo, hi, y, colour=style.GREY,
                          mark_no_ci: bool = True) -> None:
    """Make what an error bar cannot show visible: a NaN estimate is written "not estimable"
    at its row, a NaN interval "no CI" above its point, and an infinite bound (which
    matplotlib would silently not draw) is drawn to the edge of the axis with an arrow head.

    Call after the x limits are final.
    """
    left, right = ax.get_xlim()
    trans = ax.get_yaxis_transform()
    for e, lw, h, yi in zip(est, lo, hi, y, strict=True):
        if not np.isfinite(e):
            style.mark_missing(ax, 0.5, yi, "not estimable", xycoords=trans, va="center")
            continue
        if mark_no_ci and (np.isnan(lw) or np.isnan(h)):
            style.mark_missing(ax, e, yi + 0.12, "no CI", va="bottom")
        for bound, edge, head in ((h, right, ">"), (lw, left, "<")):
            if np.isinf(bound):
                ax.plot([e, edge], [yi, yi], color=colour, linewidth=1.4, zorder=2,
                        gid="socialhealth-open-interval")
                ax.plot([edge], [yi], marker=head, color=colour, markersize=6, zorder=3,
                        clip_on=False, gid="socialhealth-open-interval")
    ax.set_xlim(left, right)


def _ci_text(e: float, lw: float, h: float, no_ci: str | None = "CI not estimable") -> str:
    """ "1.30 (1.10, 1.55)"; "not estimable" for a NaN estimate; "1.30 (CI not estimable)"
    for a NaN interval (``no_ci=None``: the estimate alone)."""
    if not np.isfinite(e):
        return "not estimable"
    if np.isnan(lw) or np.isnan(h):
        return f"{e:.2f} ({no_ci})" if no_ci else f"{e:.2f}"
    return f"{e:.2f} ({lw:.2f}, {h:.2f})"


def _annotate_rows(ax: Axes, frame, by, est, lo, hi, ypos, offsets) -> None:
    """Write "estimate (low, high)" to the right of each row, under a header."""
    header = ax.annotate("Estimate (95% CI)", xy=(1.02, 1.0), xycoords="axes fraction",
                         ha="left", va="bottom", fontsize=style.FONT["annotation"],
                         fontweight="bold", annotation_clip=False)
    header.set_gid("socialhealth-annotation-header")
    trans = ax.get_yaxis_transform()
    for t, e, lw, h, gv in zip(frame["_label"], est, lo, hi,
                              frame[by] if by else [None] * len(frame), strict=True):
        y = ypos[t] + offsets[gv]
        ax.annotate(_ci_text(e, lw, h), xy=(1.02, y), xycoords=trans, ha="left", va="center",
                    fontsize=style.FONT["annotation"], annotation_clip=False,
                    gid="socialhealth-annotation")


@style.plain_text
@renamed_parameter("group", "by", since="0.1.0")
def forest(
    data,
    *,
    label: str | None = None,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    weight: str | None = None,
    by: str | None = None,
    summary: str | Sequence[str] | None = None,
    terms: Sequence[str] | None = None,
    labels: dict | None = None,
    scale: Literal["log", "linear"] = "log",
    ref: float | None = None,
    xlabel: str | None = None,
    annotate: bool = True,
    drop_intercept: bool = True,
    title: str | None = None,
    caption: str | None = style.DEFAULT_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot: one row per term (or study), point estimate and confidence interval.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        Columns ``term`` (or ``label``), ``estimate``, ``ci_low``, ``ci_high`` and optionally
        ``weight`` (meta-analysis weights: marker area proportional to weight) and a grouping
        column (``by``; several models / surveys / subgroups: one colour and marker each, rows
        dodged). A model result is asked for ``to_frame(exponentiate=True)`` when ``scale="log"``.
    label, estimate, ci_low, ci_high, weight : str, optional
        Column names. ``label`` defaults to ``label`` / ``term``; ``weight`` is used when a
        column of that name exists.
    by : str, optional
        Grouping column: one colour and marker per value, rows dodged (default: a column named
        ``group``, if there is one). Until 0.2 ``group=``.
    summary : str or list of str, optional
        Labels of pooled rows (e.g. ``"RE model"``) drawn as diamonds spanning their CI; a
        label that is not a row of the table is refused (PlotError naming the rows).
    terms : list of str, optional
        Rows to show, in this order (default: all, intercept dropped).
    labels : dict, optional
        Display names, e.g. ``{"lonely[T.True]": "Lonely"}``. Default: prettified names.
    scale : {"log", "linear"}
        ``"log"`` for ratios (reference line at 1), ``"linear"`` for differences / coefficients
        (reference line at 0).
    ref : float, optional
        Position of the reference line (default 1 on the log scale, 0 on the linear scale);
        ``np.nan`` for none (an infinite ``ref`` is refused).
    xlabel : str, optional
        Default ``"Ratio (95% CI, log scale)"`` or ``"Estimate (95% CI)"``.
    annotate : bool
        Write "estimate (low, high)" to the right of each row.
    drop_intercept : bool
        Leave out the intercept row of a model table.
    title, caption : str, optional
        Caption under the axes; default states the weighting, ``None`` for no caption.
    ax : matplotlib Axes, optional
        Draw into this axes (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Rows are drawn top to bottom in the order of the data. Confidence intervals are the columns
    given, never recomputed; a row with a missing CI shows the point marked "no CI", a row
    with a missing estimate is marked "not estimable", an infinite bound is drawn to the edge
    of the axis with an arrow head. Rows sharing a label get rows of their own, numbered
    ``"Avlund (1)"``, ``"Avlund (2)"``. The role of this plot
    is that of ``metafor::forest()`` in R (a picture, not numbers, so nothing to match).

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> table = pd.DataFrame({"term": ["Lonely", "Smoker", "Obese"],
    ...                       "estimate": [1.3, 2.0, 1.25],
    ...                       "ci_low": [1.1, 1.7, 1.05], "ci_high": [1.55, 2.35, 1.5]})
    >>> ax = plot.forest(table, xlabel="Hazard ratio (95% CI, log scale)")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Lonely', 'Smoker', 'Obese']
    """
    if not is_choice(scale, ("log", "linear")):
        raise PlotError(f"scale must be 'log' or 'linear', not {show_given(scale)}.")
    needed("forest()", estimate=estimate, ci_low=ci_low, ci_high=ci_high)
    annotate = check_flag(annotate, "annotate", "forest()")
    drop_intercept = check_flag(drop_intercept, "drop_intercept", "forest()")
    if labels is not None and not isinstance(labels, Mapping):
        raise PlotError(f"forest(): labels= takes a mapping of term to label, e.g. "
                        f"{{'lonely': 'Lonely'}}, not {show_given(labels)}.")
    if ref is not None and (isinstance(ref, (bool, np.bool_))
                            or not isinstance(ref, (int, float, np.number))):
        raise PlotError(f"forest(): ref= takes the number where the reference line is drawn "
                        f"(1 for ratios, 0 for differences) or None, not {show_given(ref)}.")
    if ref is not None and np.isinf(ref):
        raise PlotError(f"forest(): ref={show_given(ref)} cannot be drawn; give the number "
                        "where the reference line goes (1 for ratios, 0 for differences), "
                        "or np.nan for no line.")
    if scale == "log" and ref is not None and np.isfinite(ref) and not ref > 0:
        raise PlotError(f"forest(): ref={show_given(ref)} cannot be drawn on a log scale; ratios "
                        "are compared with ref=1 (or pass scale='linear' for differences).")
    # (a generator is read once, here: the check below would otherwise use it up)
    if terms is not None and not isinstance(terms, str) and isinstance(terms, Iterator):
        terms = list(terms)
    if summary is not None and not isinstance(summary, str) and isinstance(summary, Iterator):
        summary = list(summary)
    for arg, value in (("terms", terms), ("summary", summary)):
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, Iterable) and all(isinstance(t, str) for t in value)):
            raise PlotError(f"forest(): {arg}= takes term names (text or a list of text), not "
                            f"{show_given(value)}.")
    if isinstance(terms, str):
        terms = [terms]
    frame = as_frame(data, exponentiate=(scale == "log"))
    lab = _label_column(frame, label)
    weight = weight if weight is not None else ("weight" if "weight" in frame.columns else None)
    by = by if by is not None else ("group" if "group" in frame.columns else None)
    require(frame, [estimate, ci_low, ci_high, weight, by], "forest()")
    every_label = frame[lab].astype(str)       # (before terms= and drop_intercept= select)
    frame = _selected_rows(frame, lab, drop_intercept, terms)
    no_missing_groups(frame, [by], "forest()")
    frame = _number_repeats(frame, by)
    if summary is not None:       # (a repeated label may be named numbered, "RE model (2)")
        known = set(every_label) | set(frame["_label"])
        absent = [t for t in ([summary] if isinstance(summary, str) else list(summary))
                  if t not in known]
        if absent:
            raise PlotError(f"forest(): summary= names rows of the table (labels in its "
                            f"{lab!r} column) to draw as diamonds; {show_list(absent)} "
                            f"{'is' if len(absent) == 1 else 'are'} not among them: "
                            f"{show_list(ordered_unique(every_label))}.")
    est = frame[estimate].to_numpy(dtype=float)
    lo = frame[ci_low].to_numpy(dtype=float)
    hi = frame[ci_high].to_numpy(dtype=float)
    if scale == "log":
        vals = np.r_[est, lo, hi]
        if np.any(vals[np.isfinite(vals)] <= 0):
            raise PlotError(
                "a log-scale forest plot needs positive ratios; the data has values <= 0. "
                "Pass exponentiated estimates (to_frame(exponentiate=True)) or scale='linear'."
            )
    if ref is None:
        ref = 1.0 if scale == "log" else 0.0
    summaries = {summary} if isinstance(summary, str) else set(summary or ())
    summaries |= {t for t, b in zip(frame["_label"], frame["_base"], strict=True)
                  if b in summaries}

    row_labels = ordered_unique(frame["_label"])
    groups = ordered_unique(frame[by]) if by else [None]
    n_rows = len(row_labels)
    height = 1.2 + 0.42 * n_rows * (1 + 0.35 * (len(groups) - 1))
    # wider for long row labels, so that the labels do not squeeze the axes to a sliver
    longest = max((len(str(t)) for t in row_labels), default=0)
    ax = style.new_axes(ax, (7.0 + 0.07 * max(0, longest - 30), max(2.6, height)))
    ypos = {t: n_rows - 1 - i for i, t in enumerate(row_labels)}
    width = 0.6 / len(groups) if len(groups) > 1 else 0.0
    offsets = {g: (len(groups) - 1) / 2 * width - k * width for k, g in enumerate(groups)}

    _draw_groups(ax, frame, groups, by, weight, est, lo, hi, ypos, offsets, summaries)

    if ref is not None and np.isfinite(ref):
        ax.axvline(ref, color=style.GREY, linewidth=0.9, linestyle="--", zorder=1,
                   gid="socialhealth-reference")
    names = labels or {}
    ax.set_yticks([ypos[t] for t in row_labels])
    base = dict(zip(frame["_label"], zip(frame["_base"], frame["_suffix"], strict=True),
                    strict=True))
    ax.set_yticklabels([names.get(base[t][0], style.pretty(base[t][0])) + base[t][1]
                        for t in row_labels])
    ax.set_ylim(-0.7, n_rows - 0.3)
    for t in summaries & set(row_labels):
        ax.get_yticklabels()[row_labels.index(t)].set_fontweight("bold")
    if scale == "log":
        log_axis(ax, np.r_[lo, hi, est], ref if ref is not None and np.isfinite(ref) else None)
    ys = np.array([ypos[t] + offsets[gv] for t, gv in
                   zip(frame["_label"], frame[by] if by else [None] * len(frame), strict=True)])
    mark_open_and_missing(ax, est, lo, hi, ys)
    style.tidy_axes(ax, grid=None)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    default_x = "Ratio (95% CI, log scale)" if scale == "log" else "Estimate (95% CI)"
    style.set_labels(ax, xlabel=xlabel or default_x, title=title)
    if annotate:
        _annotate_rows(ax, frame, by, est, lo, hi, ypos, offsets)
    if by:
        ax.legend(fontsize=style.FONT["annotation"], loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  ncol=min(4, len(groups)), frameon=False, handletextpad=0.3,
                  title=None if by == "group" else style.pretty(by),
                  title_fontsize=style.FONT["annotation"],
                  alignment="left")
    style.add_caption(ax, caption)
    return ax
