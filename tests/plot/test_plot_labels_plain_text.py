"""Labels from data are plain text in every plot, never mathtext (issue 12).

A value label such as ``"$25,000 to $49,999"`` holds two ``$``: matplotlib's mathtext would
draw it as ``25,000to49,999`` and fail outright on ``"$\\frac$ 1"``. Every public plot function
is drawn with such labels in every place data reaches (tick labels, legend entries and titles,
axis labels built from column/term names, annotations) and the rendered text is checked: the
text is unchanged, the canvas draws, and each text's rendered width equals the width of the
same string laid out as plain text (mathtext would drop the ``$`` and the spaces between them).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from socialhealth import plot  # noqa: E402
from socialhealth.measures import survey_prcomp  # noqa: E402

INCOME = "$25,000 to $49,999"
FRAC = "$\\frac$ 1"          # a syntax error as mathtext (ParseSyntaxException)
DOLLARS = "$$"               # empty formula as mathtext
LABELS = [INCOME, FRAC, DOLLARS]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _frames():
    est = {"estimate": [0.2, 0.3, 0.25], "ci_low": [0.1, 0.2, 0.15], "ci_high": [0.3, 0.4, 0.35]}
    return {
        "forest": lambda: plot.forest(
            pd.DataFrame({"term": LABELS, "estimate": [1.2, 1.5, 0.9],
                          "ci_low": [1.0, 1.2, 0.7], "ci_high": [1.4, 1.9, 1.2],
                          "group": [INCOME, FRAC, INCOME]}), by="group"),
        "prevalence": lambda: plot.prevalence(
            pd.DataFrame({"income": LABELS * 2, "sex": [FRAC] * 3 + [INCOME] * 3,
                          "term": "lonely", "level": None,
                          "estimate": est["estimate"] * 2, "ci_low": est["ci_low"] * 2,
                          "ci_high": est["ci_high"] * 2})),
        "prevalence_term": lambda: plot.prevalence(   # term name in the y label
            pd.DataFrame({"income": LABELS, "term": INCOME, "level": None, **est})),
        "trend": lambda: plot.trend(
            pd.DataFrame({"year": [2016, 2018, 2020] * 2, "income": [INCOME] * 3 + [FRAC] * 3,
                          "term": FRAC, "level": None,
                          "estimate": est["estimate"] * 2, "ci_low": est["ci_low"] * 2,
                          "ci_high": est["ci_high"] * 2})),
        "likert": lambda: plot.likert(
            pd.DataFrame({"income": [INCOME] * 3 + [FRAC] * 3, "term": DOLLARS,
                          "level": [INCOME, FRAC, DOLLARS] * 2,
                          "estimate": [0.5, 0.3, 0.2, 0.6, 0.3, 0.1]})),
        "likert_items": lambda: plot.likert(   # item names as tick labels
            pd.DataFrame({"term": [INCOME] * 2 + [FRAC] * 2, "level": ["no", "yes"] * 2,
                          "estimate": [0.5, 0.5, 0.6, 0.4]})),
        "risk_factors": lambda: plot.risk_factors(
            pd.DataFrame({"term": [INCOME, FRAC], "estimate": [1.3, 2.0],
                          "ci_low": [1.1, 1.7], "ci_high": [1.5, 2.3]}),
            pd.DataFrame({"label": [INCOME], "estimate": [1.26], "ci_low": [1.1],
                          "ci_high": [1.4], "source": [FRAC]}),
            survey_name=DOLLARS),
        "survival": lambda: plot.survival(
            pd.DataFrame({"income": [INCOME] * 2 + [FRAC] * 2, "time": [1.0, 3.0, 1.0, 2.0],
                          "surv": [0.9, 0.8, 0.85, 0.6], "ci_low": [0.85, 0.7, 0.8, 0.5],
                          "ci_high": [0.95, 0.9, 0.9, 0.7]})),
        "cdf": lambda: plot.cdf(
            pd.DataFrame({"income": [INCOME] * 2 + [FRAC] * 2, "term": DOLLARS,
                          "level": [1.0, 3.0, 1.0, 2.0], "estimate": [0.4, 1.0, 0.3, 1.0],
                          "ci_low": [0.3, 1.0, 0.2, 1.0], "ci_high": [0.5, 1.0, 0.4, 1.0]})),
        "transitions": lambda: plot.transitions(
            pd.DataFrame({"from_state": [INCOME, INCOME, FRAC], "to_state": [INCOME, DOLLARS, FRAC],
                          "row_share": [0.6, 0.4, 1.0], "row_ci_low": [0.4, 0.2, np.nan],
                          "row_ci_high": [0.8, 0.6, np.nan]}), title=DOLLARS),
        # design-based plots: group labels and column names from the data
        "hist": lambda: plot.hist(_design(), INCOME, by="group"),
        "boxplot": lambda: plot.boxplot(_design(), INCOME, by="group"),
        "smooth": lambda: plot.smooth(_design(), FRAC, INCOME, bandwidth=2.0),
        "density": lambda: plot.density(_design(), INCOME, by="group", bandwidth=3.0),
        "qq": lambda: plot.qq(_design(), FRAC, against=INCOME, by="group"),
        "scatter": lambda: plot.scatter(_design(), INCOME, FRAC, style="hex", xbins=5),
        # every panel and the figure's shared axis labels: check the whole figure
        "coplot": lambda: plot.coplot(_design(), FRAC, INCOME, by="group", xbins=5).figure,
        "biplot": lambda: plot.biplot(
            survey_prcomp(_design(), [INCOME, FRAC, "noise"], scores=True),
            labels=[DOLLARS] * 30),
    }


def _design():
    from socialhealth import SurveyDesign

    x = np.arange(30, dtype=float)
    return SurveyDesign(pd.DataFrame({INCOME: x, FRAC: 2 * x + 1, "group": LABELS * 10,
                                      "noise": (x * 7) % 5, "w": 1.0 + x % 2}), weights="w")


PLOTS = _frames()


def test_every_public_plot_function_is_covered():
    public = {n for n in plot.__all__ if callable(getattr(plot, n))
              and not isinstance(getattr(plot, n), type)}
    assert public <= {k.split("_term")[0].split("_items")[0] for k in PLOTS}


def _plain_width(fig, t: Text, renderer) -> float:
    ref = fig.text(0, 0, t.get_text(), fontproperties=t.get_fontproperties(), parse_math=False,
                   rotation=t.get_rotation())
    w = ref.get_window_extent(renderer).width if t.get_rotation() == 0 else \
        ref.get_window_extent(renderer).height
    ref.remove()
    return w


def _check_rendered(ax):
    fig = ax.figure
    fig.canvas.draw()                          # raises ParseSyntaxException under mathtext
    renderer = fig.canvas.get_renderer()
    seen = []
    for t in ax.findobj(Text):
        s = t.get_text()
        if not s or not t.get_visible():
            continue
        seen.append(s)
        if "$" in s:
            w = (t.get_window_extent(renderer).width if t.get_rotation() == 0
                 else t.get_window_extent(renderer).height)
            assert w == pytest.approx(_plain_width(fig, t, renderer), abs=0.5), s
    return seen


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_dollar_labels_are_drawn_as_plain_text(name):
    ax = PLOTS[name]()
    seen = _check_rendered(ax)
    texts = " | ".join(seen)
    dollar_labels = [s for s in seen if "$" in s]
    assert dollar_labels, f"{name}: no label with $ drawn: {texts}"
    # every label given is shown unchanged somewhere (tick, legend, title, annotation)
    expected = {
        "forest": [INCOME, FRAC, DOLLARS],
        "prevalence": [INCOME, FRAC, DOLLARS],
        "prevalence_term": [f"Prevalence of {INCOME} (%)"],
        "trend": [INCOME, FRAC, f"Prevalence of {FRAC} (%)"],
        "likert": [INCOME, FRAC, DOLLARS],
        "likert_items": [INCOME, FRAC],
        "risk_factors": [INCOME, FRAC, DOLLARS],
        "survival": [INCOME, FRAC],
        "cdf": [INCOME, FRAC, DOLLARS],
        "transitions": [INCOME, FRAC, DOLLARS],
        "hist": [INCOME, FRAC, DOLLARS],
        "boxplot": [INCOME, FRAC, DOLLARS],
        "smooth": [INCOME, FRAC],
        "density": [INCOME, DOLLARS],
        "qq": [INCOME, FRAC, DOLLARS],
        "scatter": [INCOME, FRAC],
        "coplot": [INCOME, FRAC, DOLLARS],
        "biplot": [INCOME, FRAC, DOLLARS],
    }[name]
    for lab in expected:
        assert any(lab in s for s in seen), f"{name}: {lab!r} not drawn; texts: {texts}"
    # resizing and drawing again keeps them plain (tick labels re-laid out)
    ax.figure.set_size_inches(9, 7)
    _check_rendered(ax)


def test_the_income_label_keeps_its_dollars_and_spaces_on_a_tick():
    ax = PLOTS["prevalence"]()
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticklabels() if t.get_text() == INCOME]
    assert len(ticks) == 1
    renderer = ax.figure.canvas.get_renderer()
    # hand check: mathtext would drop the two "$" and the two spaces; plain text keeps all 18
    # characters, so it is wider than the same font's "25,000to49,999"
    narrow = ax.figure.text(0, 0, "25,000to49,999", fontproperties=ticks[0].get_fontproperties(),
                            parse_math=False)
    assert ticks[0].get_window_extent(renderer).width > narrow.get_window_extent(renderer).width


def test_axes_passed_in_are_made_plain_and_rcparams_are_restored():
    fig, ax = plt.subplots()
    ax.get_xticklabels()                       # tick labels made before the call
    before = matplotlib.rcParams["text.parse_math"]
    plot.prevalence(pd.DataFrame({"income": LABELS, "term": "x", "level": None,
                                  "estimate": [0.1, 0.2, 0.3], "ci_low": [0.05, 0.1, 0.2],
                                  "ci_high": [0.15, 0.3, 0.4]}), ax=ax, title=INCOME)
    assert matplotlib.rcParams["text.parse_math"] == before
    assert ax.get_title(loc="left") == INCOME
    _check_rendered(ax)
    # the caller's own later text still follows the caller's rcParams (mathtext by default)
    t = ax.text(0, 0, "$x$")
    assert t.get_parse_math() is True


def test_rcparams_restored_when_a_plot_raises():
    before = matplotlib.rcParams["text.parse_math"]
    with pytest.raises(Exception):
        plot.forest(pd.DataFrame({"term": ["a"], "estimate": [-1.0], "ci_low": [-2.0],
                                  "ci_high": [0.5]}))
    assert matplotlib.rcParams["text.parse_math"] == before


def test_numbers_still_render():
    ax = PLOTS["forest"]()
    ax.figure.canvas.draw()
    assert np.all([t.get_text() != "" for t in ax.get_yticklabels()])
