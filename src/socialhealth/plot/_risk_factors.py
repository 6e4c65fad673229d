"""Loneliness and isolation next to the classic risk factors, survey estimates beside published
ones."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from socialhealth._text import show_list
from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot._forest import _ci_text, log_axis, mark_open_and_missing
from socialhealth.plot.frames import as_frame, require

RISK_CAPTION = ("Survey: weighted estimates (survey weights), 95% CIs from design-based SEs; "
                "published: as reported by the source")
_INTERCEPTS = {"intercept", "(intercept)", "const"}


def _labelled(frame: pd.DataFrame, label: str | None, labels: dict, what: str) -> pd.DataFrame:
    if label is None:
        label = next((c for c in ("label", "term", "exposure") if c in frame.columns), None)
        if label is None:
            raise PlotError(f"risk_factors(): the {what} table needs a 'label' or 'term' column "
                            "(or pass label=).")
    require(frame, [label], f"risk_factors() ({what})")
    raw = frame[label].astype(str)
    frame = frame[~raw.str.lower().isin(_INTERCEPTS)]
    raw = frame[label].astype(str)
    return frame.assign(_raw=raw, _display=[labels.get(t, style.pretty(t)) for t in raw])


@style.plain_text
def risk_factors(
    survey,
    anchors: pd.DataFrame | None = None,
    *,
    terms: Sequence[str] | None = None,
    labels: dict | None = None,
    label: str | None = None,
    anchor_label: str | None = None,
    anchor_source: str | None = None,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    survey_name: str = "This survey",
    anchor_name: str = "Published estimate",
    ref: float = 1.0,
    annotate: bool = True,
    xlabel: str = "Ratio (95% CI, log scale)",
    title: str | None = None,
    caption: str | None = RISK_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Loneliness / isolation beside smoking, obesity and inactivity, from two sources.

    A forest-like plot on a log ratio scale. Each row is a risk factor; the survey's estimate
    (filled circle) and the published anchor(s) (open diamonds) sit side by side, with a legend
    naming the two sources and a reference line at 1.

    Parameters
    ----------
    survey : DataFrame or model result with ``.to_frame()``
        Ratio estimates from the survey, e.g. ``design.glm("died ~ lonely + smoker + obese +
        physically_inactive + C(age_group)", ...)`` (asked for ``to_frame(exponentiate=True)``)
        or a table with ``term``, ``estimate``, ``ci_low``, ``ci_high``.
    anchors : DataFrame, optional
        Published estimates: a label column (``label``, ``term`` or ``exposure``),
        ``estimate`` and, where known, ``ci_low``, ``ci_high`` (missing CI: point only), e.g.
        rows of ``socialhealth/models/data/anchors.csv``.
    terms : list of str, optional
        Survey terms to show, in order (default: all but the intercept). Use it to leave out
        adjustment terms such as age groups.
    labels : dict, optional
        Display names for survey terms and anchor labels; rows of the two sources with the
        same display name share a line, e.g. ``{"lonely[T.True]": "Loneliness",
        "loneliness": "Loneliness"}``.
    label, anchor_label : str, optional
        Label columns of ``survey`` / ``anchors``.
    anchor_source : str, optional
        Column of ``anchors`` naming the source, written after its numbers (default: the
        first of ``anchor_key``, ``source_key``, ``source`` present).
    estimate, ci_low, ci_high : str
        Value columns (the same names in both tables).
    survey_name, anchor_name : str
        Legend entries of the two sources.
    ref : float
        Reference line (1 = no association).
    annotate : bool
        Write "estimate (low, high)" right of each point.
    xlabel, title, caption : str, optional
        The caption says how each source was estimated (``None`` for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The plot puts numbers side by side; it does not make them comparable. Published anchors
    differ in outcome, contrast and adjustment (e.g. odds of survival vs hazard of death) -
    state that in the caption or title when they do.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> ours = pd.DataFrame({"term": ["lonely", "smoker", "obese", "physically_inactive"],
    ...                      "estimate": [1.3, 2.0, 1.25, 1.5], "ci_low": [1.1, 1.7, 1.05, 1.3],
    ...                      "ci_high": [1.55, 2.35, 1.5, 1.75]})
    >>> published = pd.DataFrame({"label": ["lonely"], "estimate": [1.26],
    ...                           "ci_low": [float("nan")], "ci_high": [float("nan")]})
    >>> ax = plot.risk_factors(ours, published)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['This survey', 'Published estimate']
    """
    names = dict(labels or {})
    s = _labelled(as_frame(survey, exponentiate=True), label, names, "survey")
    require(s, [estimate, ci_low, ci_high], "risk_factors() (survey)")
    if terms is not None:
        missing = [t for t in terms if t not in set(s["_raw"])]
        if missing:
            raise PlotError(f"risk_factors(): terms {show_list(missing)} are not in the survey "
                            f"table; available: {show_list(s['_raw'])}.")
        s = s.set_index("_raw", drop=False).loc[list(terms)].reset_index(drop=True)
    a = None
    if anchors is not None:
        a = _labelled(as_frame(anchors), anchor_label, names, "anchors")
        for c in (ci_low, ci_high):
            if c not in a.columns:
                a = a.assign(**{c: np.nan})
        require(a, [estimate], "risk_factors() (anchors)")
    rows = list(dict.fromkeys(list(s["_display"]) + (list(a["_display"]) if a is not None else [])))
    if not rows:
        raise PlotError("risk_factors() has no rows to draw.")
    vals = [s[[estimate, ci_low, ci_high]].to_numpy(dtype=float).ravel()]
    if a is not None:
        vals.append(a[[estimate, ci_low, ci_high]].to_numpy(dtype=float).ravel())
    allv = np.concatenate(vals)
    if np.any(allv[np.isfinite(allv)] <= 0):
        raise PlotError("risk_factors() draws ratios on a log scale; the data has values <= 0. "
                        "Pass exponentiated estimates (odds / hazard ratios).")

    # one slot per point: the survey's first, then each anchor of the row
    tabs = [("survey", s)] + ([("anchor", a)] if a is not None and len(a) else [])
    slots: dict = {r: [] for r in rows}
    for kind, tab in tabs:
        for i, r in enumerate(tab["_display"]):
            slots[r].append((kind, i))
    step, gap = 0.34, 0.55
    y_of: dict = {}
    centres = {}
    y = 0.0
    for r in rows:
        k = len(slots[r])
        top = y
        for j, key in enumerate(slots[r]):
            y_of[key] = -(top + j * step)
        centres[r] = -(top + (k - 1) * step / 2)
        y = top + (k - 1) * step + gap + step
    height_units = y
    ax = style.new_axes(ax, (7.6, max(2.8, 1.5 + 0.55 * height_units)))
    trans = ax.get_yaxis_transform()
    source_col = anchor_source
    if source_col is None and a is not None:
        # "source" of a compare_risk_factors table is only the row kind ("anchor"): the paper
        # is named by anchor_key there (source_key in anchors.csv)
        source_col = next((c for c in ("anchor_key", "source_key", "source") if c in a.columns),
                          None)

    def draw(kind, tab, colour, marker, face, name):
        ys = np.array([y_of[(kind, i)] for i in range(len(tab))])
        e = tab[estimate].to_numpy(dtype=float)
        lo = tab[ci_low].to_numpy(dtype=float)
        hi = tab[ci_high].to_numpy(dtype=float)
        ax.errorbar(e, ys, xerr=[e - lo, hi - e], fmt="none", ecolor=colour, elinewidth=1.4,
                    capsize=0, zorder=2)
        ax.scatter(e, ys, s=44, marker=marker, facecolors=face, edgecolors=colour,
                   linewidths=1.4, zorder=3, label=name)
        if annotate:
            src = (tab[source_col].astype(str).to_numpy() if kind == "anchor" and source_col
                   else [""] * len(tab))
            for ei, li, hi_, yi, si in zip(e, lo, hi, ys, src, strict=True):
                note = f"  {si}" if si and si != "nan" else ""
                no_ci = "CI not estimable" if kind == "survey" else None
                ax.annotate(f"{_ci_text(ei, li, hi_, no_ci)}{note}", xy=(1.02, yi), xycoords=trans,
                            ha="left", va="center", fontsize=style.FONT["annotation"], color=colour,
                            annotation_clip=False, gid="socialhealth-annotation")

    draw("survey", s, style.PALETTE[0], "o", style.PALETTE[0], survey_name)
    if len(tabs) > 1:
        draw("anchor", a, style.PALETTE[1], "D", "white", anchor_name)
    ax.axvline(ref, color=style.GREY, linewidth=0.9, linestyle="--", zorder=1,
               gid="socialhealth-reference")
    ax.set_yticks([centres[r] for r in rows])
    ax.set_yticklabels(rows)
    ax.set_ylim(-(height_units - gap - step) - 0.5, 0.5)
    log_axis(ax, allv, ref)
    for kind, tab in tabs:
        mark_open_and_missing(ax, tab[estimate].to_numpy(dtype=float),
                              tab[ci_low].to_numpy(dtype=float),
                              tab[ci_high].to_numpy(dtype=float),
                              [y_of[(kind, i)] for i in range(len(tab))],
                              mark_no_ci=kind == "survey")   # published without CI: point
    style.tidy_axes(ax, grid=None)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    style.set_labels(ax, xlabel=xlabel, title=title)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False,
              fontsize=style.FONT["annotation"])
    style.add_caption(ax, caption)
    return ax
