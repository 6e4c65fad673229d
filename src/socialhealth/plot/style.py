"""House style of socialhealth plots: palette, fonts, axes set-up and the weighting caption.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), distinguishable
with the common colour-vision deficiencies; ordered categories use a sequential ColorBrewer ramp
(YlGnBu, colour-blind safe). Every plot states how its estimates were weighted in a caption
under the axes (gid ``"socialhealth-caption"``), which the caller can override or switch off.

Every text a plot draws is plain text, never mathtext (:func:`plain_text`): survey labels such as
``"$25,000 to $49,999"`` are data, and matplotlib would otherwise read text between two ``$``
as a formula (drawing ``25,000to49,999``, or failing on ``"$\\frac$ 1"``).
"""
from __future__ import annotations

import functools
import inspect
import re
import textwrap
from typing import Any, Literal, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import Formatter

from socialhealth._text import show_given

#: Okabe-Ito colours (blue, vermillion, bluish green, reddish purple, orange, sky blue,
#: yellow, black): colour-blind safe.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")
HATCHES = ("", "//", "..", "xx")
MISSING_GID = "socialhealth-missing"
GREY = "#4D4D4D"
LIGHT_GREY = "#BFBFBF"

#: Default caption: how the estimates were made.
DEFAULT_CAPTION = "Weighted estimates (survey weights); 95% CIs from design-based SEs"
#: Default caption of plots without CIs (likert).
SHARE_CAPTION = "Weighted percentages (survey weights)"
CAPTION_GID = "socialhealth-caption"

FONT = {"tick": 10, "label": 11, "title": 12, "caption": 8.5, "annotation": 9}


#: Arguments of the public plot functions that take one text (or None).
TEXT_ARGUMENTS = ("title", "xlabel", "ylabel", "caption")


def check_axes(ax: Any, where: str) -> None:
    """Refuse an ``ax=`` that is not a matplotlib Axes (nor None) with a PlotError (a number, a
    string or a list failed later in matplotlib or pandas, e.g. "'str' object has no attribute
    'bar'").

    Examples
    --------
    >>> check_axes(None, "forest()")
    >>> check_axes("left", "forest()")
    Traceback (most recent call last):
    ...
    socialhealth.errors.PlotError: forest(): ax= must be a matplotlib Axes (e.g. from \
fig, ax = plt.subplots()) or None for a new figure, not 'left'.
    """
    if ax is not None and not isinstance(ax, Axes):
        from socialhealth.errors import PlotError

        raise PlotError(f"{where}: ax= must be a matplotlib Axes (e.g. from fig, ax = "
                        f"plt.subplots()) or None for a new figure, not {show_given(ax)}.")


def check_text(value: Any, name: str, where: str) -> None:
    """Refuse a title, axis label or caption that is not a string (nor None) with a PlotError
    (a pandas Series failed in ``if title:``; a list or number was drawn as its printout).

    Examples
    --------
    >>> check_text("Lonely", "title", "forest()")
    >>> check_text(["Lonely"], "title", "forest()")
    Traceback (most recent call last):
    ...
    socialhealth.errors.PlotError: forest(): title= must be text (a string) or None, not \
['Lonely'].
    """
    if value is not None and not isinstance(value, str):
        from socialhealth.errors import PlotError

        raise PlotError(f"{where}: {name}= must be text (a string) or None, not "
                        f"{show_given(value)}.")


def check_opacities(alpha: Any, where: str) -> tuple[float, float]:
    """``alpha=`` of the transparency scatterplots as two opacities, or a PlotError saying what
    to pass (two numbers from 0 to 1; text and True/False are refused).

    Checked whatever the plot's style, so a wrong value is refused even where the style drawn
    does not use it.

    Examples
    --------
    >>> check_opacities((0, 0.8), "scatter()")
    (0.0, 0.8)
    >>> check_opacities("x", "scatter()")
    Traceback (most recent call last):
    ...
    socialhealth.errors.PlotError: scatter(): alpha must be two opacities between 0 and 1 \
(for a weight of 0 and for the largest weight), not 'x'.
    """
    from socialhealth._options import is_number
    from socialhealth.errors import PlotError

    values: list = []
    if isinstance(alpha, (tuple, list, np.ndarray)):
        values = list(np.ravel(alpha)) if isinstance(alpha, np.ndarray) else list(alpha)
    if not (len(values) == 2 and all(is_number(a) and 0 <= a <= 1 for a in values)):
        raise PlotError(f"{where}: alpha must be two opacities between 0 and 1 (for a weight "
                        f"of 0 and for the largest weight), not {show_given(alpha)}.")
    return float(values[0]), float(values[1])


def check_whole(value: Any, name: str, where: str, least: int = 1) -> int:
    """``value`` as an int when it is a whole number of at least ``least`` (not True/False, not
    2.5, not text); otherwise a PlotError naming what to pass.

    Examples
    --------
    >>> check_whole(30, "xbins", "scatter()")
    30
    >>> check_whole("30", "xbins", "scatter()")
    Traceback (most recent call last):
    ...
    socialhealth.errors.PlotError: scatter(): xbins must be a whole number of at least 1, not \
'30'.
    """
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < least):
        from socialhealth.errors import PlotError

        raise PlotError(f"{where}: {name} must be a whole number of at least {least}, not "
                        f"{show_given(value)}.")
    return int(value)


def plain_text(func):
    """Decorator of every public plot function: all text it draws is plain text (no mathtext).

    Before the call it checks the arguments every plot function shares: ``ax=`` must be a
    matplotlib Axes or None (:func:`check_axes`); ``title=``, ``xlabel=``, ``ylabel=`` and
    ``caption=`` text or None (:func:`check_text`).

    The function runs with ``rcParams["text.parse_math"] = False`` (so every text, legend entry
    and tick label it creates is plain), and afterwards every text of the returned axes is set to
    ``parse_math=False`` as well (the title and axis labels of an axes passed as ``ax=`` were made
    before the call). A ``$`` in a label is then drawn as a dollar sign, and ``get_text()``
    returns the label unchanged. Texts the caller adds afterwards follow the caller's rcParams;
    to turn mathtext back on for one of ours: ``text.set_parse_math(True)``.
    """

    signature = inspect.signature(func)
    shared = [n for n in ("ax", *TEXT_ARGUMENTS) if n in signature.parameters]
    where = f"{func.__name__}()"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        given = dict(kwargs)
        try:
            given.update(signature.bind_partial(*args, **kwargs).arguments)
        except TypeError:        # a wrong call: the function itself says what is wrong
            pass
        for name in shared:
            if name in given:
                if name == "ax":
                    check_axes(given[name], where)
                else:
                    check_text(given[name], name, where)
        # Save and restore this one setting only: ``mpl.rc_context`` restores every rcParam on
        # exit, including ``interactive``, which Jupyter's inline backend switches on when the
        # first figure is made inside the context; switching it back off hid every later figure
        # of a notebook.
        old = mpl.rcParams["text.parse_math"]
        mpl.rcParams["text.parse_math"] = False
        try:
            ax = func(*args, **kwargs)
            make_plain(ax)
        finally:
            mpl.rcParams["text.parse_math"] = old
        return ax

    return wrapper


def make_plain(ax: Axes) -> None:
    """Set ``parse_math=False`` on every text of ``ax`` (tick labels, legend, title,
    annotations)."""
    for axis in (ax.xaxis, ax.yaxis):      # instantiate the lazily created tick labels
        axis.get_major_ticks()
        axis.get_minor_ticks()
    for t in ax.findobj(Text):
        t.set_parse_math(False)


def sequential_colours(n: int) -> list:
    """``n`` colours from light to dark on the colour-blind-safe YlGnBu ramp.

    Evenly spaced on [0.18, 0.92] of the colormap (one colour: 0.7), RGBA tuples.

    Examples
    --------
    >>> len(sequential_colours(4))
    4
    """
    cmap = mpl.colormaps["YlGnBu"]
    return [cmap(x) for x in np.linspace(0.18, 0.92, n)] if n > 1 else [cmap(0.7)]


def is_dark(colour) -> bool:
    """True when white text reads better than black on ``colour`` (relative luminance < 0.45).

    Luminance ``0.2126 R + 0.7152 G + 0.0722 B`` of the sRGB components (ITU-R BT.709 weights,
    without gamma linearisation).

    Examples
    --------
    >>> is_dark("black"), is_dark("white")
    (True, False)
    """
    r, g, b, *_ = mpl.colors.to_rgba(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or a fresh axes on a constrained-layout figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def tidy_axes(ax: Axes, grid: Literal["both", "x", "y"] | None = "x") -> None:
    """Remove chart junk: top/right spines off, light grid on the value axis only, readable
    ticks."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GREY)
    ax.tick_params(labelsize=FONT["tick"], colors=GREY, labelcolor="black")
    if grid:
        ax.grid(True, axis=grid, color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)


def set_labels(ax: Axes, xlabel: str | None = None, ylabel: str | None = None,
               title: str | None = None) -> None:
    """Set axis labels and a left-aligned bold title in the package's font sizes
    (``None``: unchanged)."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT["label"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT["label"])
    if title:
        ax.set_title(title, fontsize=FONT["title"], loc="left", fontweight="bold")


def group_legend(ax: Axes, by: str, **kwargs) -> None:
    """The legend of a plot with one line or bar set per value of ``by``: titled with ``by`` in
    words, no frame, annotation-size text; ``kwargs`` go to ``ax.legend`` (default
    ``loc="best"``)."""
    ax.legend(title=pretty(by), frameon=False, fontsize=FONT["annotation"],
              title_fontsize=FONT["annotation"], **{"loc": "best", **kwargs})


def add_caption(ax: Axes, caption: str | None) -> None:
    """Write ``caption`` under the x-axis label, left-aligned with the axes (kept in the layout).

    ``None`` or ``""`` draws no caption.
    """
    for t in list(ax.texts):
        if t.get_gid() == CAPTION_GID:
            t.remove()
    if not caption:
        return
    # the axes' figure: socialhealth draws no subfigures (which have no width of their own)
    width_in = cast(Figure, ax.figure).get_figwidth() * ax.get_position().width
    chars = max(40, int(width_in * 15))
    text = "\n".join(textwrap.fill(part, chars) for part in str(caption).split("\n"))
    ax.annotate(
        text,
        xy=(0.0, 0.0),
        xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -6),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=FONT["caption"],
        color=GREY,
        style="italic",
        gid=CAPTION_GID,
        annotation_clip=False,
    )


def pretty(name) -> str:
    """Human label of a column or model term.

    ``age_group`` -> ``Age group``; ``lonely[T.True]`` -> ``Lonely``;
    ``C(age_group)[T.75+]`` and ``age_group[T.75+]`` -> ``Age group: 75+``.

    Examples
    --------
    >>> pretty("C(age_group)[T.75+]")
    'Age group: 75+'
    """
    s = str(name).strip()
    m = _TERM.match(s)
    if m:
        var = m.group(1) or m.group(2)
        level = m.group(3)
        base = pretty(var)
        return base if level in ("True", "1") else f"{base}: {level}"
    s = s.replace("_", " ").strip()
    return s[:1].upper() + s[1:] if s else s


def axis_label(name) -> str:
    """Words for a column drawn on an axis: the harmonised schema's words where the report
    content has them (``ucla3_score`` -> "UCLA-3 loneliness score", ``bmi`` -> "BMI"), else
    the tables' variable label (``smoker`` -> "Smoking"), else :func:`pretty`.

    Model terms keep :func:`pretty` (a yes/no term reads "Lonely", not "Loneliness"); this is
    for the variable itself on an axis.

    Examples
    --------
    >>> axis_label("ucla3_score"), axis_label("age_group"), axis_label("api00")
    ('UCLA-3 loneliness score', 'Age group', 'Api00')
    """
    from socialhealth.tables.labels import variable_label

    try:
        from socialhealth.report.content import content
        words = content().get("concept_labels", {}).get(str(name))
    except Exception:  # the report content is optional for plots
        words = None
    return str(words) if words else variable_label(name)


_TERM = re.compile(r"^(?:C\((\w+)[^)]*\)|(\w+))\[(?:T\.)?(.+)\]$")


def group_style(k: int) -> dict:
    """Colour, marker, line style and hatch of the ``k``-th group (0-based), distinct for up to
    64 groups: past the 8 palette colours the marker shifts and the line style / hatch change,
    so group 8 never looks like group 0.

    Examples
    --------
    >>> a, b = group_style(0), group_style(8)
    >>> a["colour"] == b["colour"], a["marker"] == b["marker"], a["linestyle"] == b["linestyle"]
    (True, False, False)
    """
    n = len(PALETTE)
    cycle = k // n
    return {"colour": PALETTE[k % n], "marker": MARKERS[(k + cycle) % len(MARKERS)],
            "linestyle": LINESTYLES[cycle % len(LINESTYLES)],
            "hatch": HATCHES[cycle % len(HATCHES)]}


def level_text(value) -> str:
    """Words for a group value in a tick label or legend: booleans (and the strings
    ``"True"``/``"False"``) as ``"Yes"``/``"No"``, anything else as ``str(value)``.

    Examples
    --------
    >>> level_text(True), level_text("False"), level_text("75+")
    ('Yes', 'No', '75+')
    """
    if isinstance(value, (bool, np.bool_)):
        return "Yes" if value else "No"
    text = str(value)
    return {"True": "Yes", "False": "No"}.get(text, text)


def term_text(name) -> str:
    """A variable name in running text: underscores as spaces, case kept
    (``"heart_disease"`` -> ``"heart disease"``).

    Examples
    --------
    >>> term_text("lonely_direct3")
    'lonely direct3'
    """
    return str(name).replace("_", " ").strip()


def mark_missing(ax: Axes, x, y, text: str, xycoords="data", **kwargs) -> None:
    """Write ``text`` (e.g. ``"not estimable"``) where a value could not be drawn, in grey
    italics (gid ``MISSING_GID``), so no NaN estimate or interval vanishes silently."""
    kw: dict[str, Any] = {"ha": "center", "va": "bottom", "fontsize": FONT["annotation"],
                          "color": GREY, "style": "italic", "annotation_clip": False}
    kw.update(kwargs)
    ax.annotate(text, xy=(x, y), xycoords=xycoords, gid=MISSING_GID, **kw)


class PercentTicks(Formatter):
    """Percent tick labels (values already in percent) with just enough decimals to tell the
    ticks apart: ``0%, 2%, 4%``; ``0.2%, 0.4%``; ``0.25%, 0.5%`` - never ``0%, 0%, 1%``.

    Examples
    --------
    >>> f = PercentTicks()
    >>> f.set_locs([0.0, 0.25, 0.5])
    >>> [f(v) for v in (0.0, 0.25, 0.5)]
    ['0.00%', '0.25%', '0.50%']
    """

    _ticks: tuple = ()

    def set_locs(self, locs):
        """Remember the tick positions about to be labelled (matplotlib calls this before
        formatting them), so every label gets the same number of decimals."""
        self._ticks = tuple(float(v) for v in locs)

    def __call__(self, x, pos=None):
        locs = [v for v in (self._ticks or (x,)) if np.isfinite(v)]
        decimals = 0
        while decimals < 6 and any(abs(v * 10 ** decimals - round(v * 10 ** decimals)) > 1e-6
                                   for v in locs):
            decimals += 1
        return f"{x:.{decimals}f}%"
