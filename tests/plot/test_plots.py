"""socialhealth.plot: inspect the artists (not pixels) of each plot.

Expected values are the inputs themselves, transformed by hand rules written out here
(percent = proportion x 100, marker area = 18 + 160 x weight / max weight, ...).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

from socialhealth import plot  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402
from socialhealth.plot.style import DEFAULT_CAPTION, SHARE_CAPTION  # noqa: E402

CAPTION_GID = "socialhealth-caption"


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def _fail(*a, **k):
        raise AssertionError("plots must never call show()")

    monkeypatch.setattr(plt, "show", _fail)
    yield
    plt.close("all")


def caption_of(ax) -> str | None:
    texts = [t for t in ax.texts if t.get_gid() == CAPTION_GID]
    assert len(texts) <= 1
    return texts[0].get_text().replace("\n", " ") if texts else None


def yticklabels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def xticklabels(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_xticklabels()]


def errorbar_containers(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def errorbar_segments(container) -> list[np.ndarray]:
    return [np.asarray(s) for s in container.lines[2][0].get_segments()]


class FakeResult:
    """Stands in for a socialhealth result: has to_frame(exponentiate=...)."""

    def __init__(self, log_frame: pd.DataFrame):
        self.log_frame = log_frame
        self.calls = []

    def to_frame(self, exponentiate: bool = False):
        self.calls.append(exponentiate)
        f = self.log_frame.copy()
        if exponentiate:
            for c in ("estimate", "ci_low", "ci_high"):
                f[c] = np.exp(f[c])
        return f


# ----------------------------------------------------------------------------- forest
ASSOC = pd.DataFrame({
    "term": ["lonely", "smoker", "obese"],
    "estimate": [3.0, 1.4, 1.3],
    "ci_low": [2.5, 1.2, 1.1],
    "ci_high": [3.6, 1.63, 1.5],
})


def test_forest_rows_scale_reference_and_caption():
    ax = plot.forest(ASSOC)
    assert yticklabels(ax) == ["Lonely", "Smoker", "Obese"]     # top to bottom, prettified
    assert ax.get_xscale() == "log"
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == "socialhealth-reference"]
    assert len(refs) == 1 and list(refs[0].get_xdata()) == [1, 1]
    assert ax.get_xlabel() == "Ratio (95% CI, log scale)"
    assert caption_of(ax) == DEFAULT_CAPTION
    (eb,) = errorbar_containers(ax)
    segs = errorbar_segments(eb)
    # each CI segment runs from ci_low to ci_high at its row's y (top row = highest y)
    assert [tuple(np.round(s[:, 0], 6)) for s in segs] == [(2.5, 3.6), (1.2, 1.63), (1.1, 1.5)]
    assert [s[0, 1] for s in segs] == [2, 1, 0]
    points = ax.collections[-1].get_offsets()
    assert np.allclose(points[:, 0], [3.0, 1.4, 1.3])
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "socialhealth-annotation"]
    assert notes == ["3.00 (2.50, 3.60)", "1.40 (1.20, 1.63)", "1.30 (1.10, 1.50)"]
    lo, hi = ax.get_xlim()
    assert lo < 1 and hi > 3.6        # the reference line and all CIs are in view


def test_forest_asks_results_for_exponentiated_frame_and_drops_intercept():
    res = FakeResult(pd.DataFrame({
        "term": ["Intercept", "lonely[T.True]"], "estimate": [-2.0, np.log(1.3)],
        "se": [0.1, 0.08], "ci_low": [-2.2, np.log(1.1)], "ci_high": [-1.8, np.log(1.55)],
    }))
    ax = plot.forest(res, xlabel="Hazard ratio (95% CI, log scale)")
    assert res.calls == [True]
    assert yticklabels(ax) == ["Lonely"]
    assert ax.get_xlabel() == "Hazard ratio (95% CI, log scale)"
    assert np.allclose(ax.collections[-1].get_offsets()[:, 0], [1.3])


def test_forest_linear_scale_reference_at_zero_and_no_caption():
    tab = ASSOC.assign(estimate=np.log(ASSOC.estimate), ci_low=np.log(ASSOC.ci_low),
                       ci_high=np.log(ASSOC.ci_high))
    ax = plot.forest(tab, scale="linear", caption=None, annotate=False)
    assert ax.get_xscale() == "linear"
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == "socialhealth-reference"]
    assert list(refs[0].get_xdata()) == [0, 0]
    assert ax.get_xlabel() == "Estimate (95% CI)"
    assert caption_of(ax) is None
    assert not [t for t in ax.texts if t.get_gid() == "socialhealth-annotation"]


def test_forest_log_scale_rejects_non_positive_values():
    with pytest.raises(PlotError, match="positive"):
        plot.forest(ASSOC.assign(ci_low=[-0.1, 1.2, 1.1]))


def test_forest_meta_analysis_weights_and_summary_diamond():
    meta = pd.DataFrame({
        "label": ["A 2001", "B 2005", "C 2010", "D 2018", "RE model"],
        "estimate": [1.2, 1.5, 0.9, 1.35, 1.25], "ci_low": [0.9, 1.1, 0.6, 1.1, 1.05],
        "ci_high": [1.6, 2.05, 1.35, 1.65, 1.49], "weight": [20, 30, 10, 40, np.nan],
    })
    ax = plot.forest(meta, summary="RE model", caption="Random-effects meta-analysis")
    assert yticklabels(ax) == ["A 2001", "B 2005", "C 2010", "D 2018", "RE model"]
    sizes = ax.collections[-1].get_sizes()
    assert np.allclose(sizes, [18 + 160 * w / 40 for w in (20, 30, 10, 40)])
    diamonds = [p for p in ax.patches if isinstance(p, Polygon)
                and p.get_gid() == "socialhealth-summary"]
    assert len(diamonds) == 1
    xy = diamonds[0].get_xy()
    assert np.isclose(xy[:, 0].min(), 1.05) and np.isclose(xy[:, 0].max(), 1.49)
    assert np.allclose(xy[:, 1].mean(), 0.0, atol=0.25)     # bottom row
    assert caption_of(ax) == "Random-effects meta-analysis"


def test_forest_groups_dodged_with_legend():
    tab = pd.concat([ASSOC.assign(group="GB"), ASSOC.assign(group="US")])
    ax = plot.forest(tab)
    ebs = errorbar_containers(ax)
    assert len(ebs) == 2
    y_gb = [s[0, 1] for s in errorbar_segments(ebs[0])]
    y_us = [s[0, 1] for s in errorbar_segments(ebs[1])]
    assert all(a > b for a, b in zip(y_gb, y_us))         # GB above US within each row
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GB", "US"]
    assert yticklabels(ax) == ["Lonely", "Smoker", "Obese"]


def test_forest_terms_labels_and_missing_column():
    ax = plot.forest(ASSOC, terms=["obese", "lonely"], labels={"lonely": "Loneliness"})
    assert yticklabels(ax) == ["Obese", "Loneliness"]
    with pytest.raises(PlotError, match="not in the data"):
        plot.forest(ASSOC, terms=["diabetes"])
    with pytest.raises(PlotError, match="ci_high"):
        plot.forest(ASSOC.drop(columns="ci_high"))
    with pytest.raises(PlotError, match="to_frame"):
        plot.forest([1, 2, 3])


def test_forest_draws_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = plot.forest(ASSOC, ax=axes[1])
    assert out is axes[1]
    assert not axes[0].collections


# ----------------------------------------------------------------------------- prevalence
PREV = pd.DataFrame({
    "age_group": ["16-24", "25-34", "35-44"] * 2,
    "country": ["GB"] * 3 + ["US"] * 3,
    "term": "lonely", "level": None,
    "estimate": [0.08, 0.06, 0.05, 0.10, 0.09, 0.07],
    "se": 0.01,
    "ci_low": [0.06, 0.045, 0.04, 0.08, 0.07, 0.055],
    "ci_high": [0.10, 0.075, 0.062, 0.12, 0.11, 0.09],
    "df": 252.0,
})


def test_prevalence_bars_by_group_and_hue():
    ax = plot.prevalence(PREV)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 6
    # bars drawn hue by hue (GB, then US), heights in percent
    assert np.allclose([b.get_height() for b in bars], [8, 6, 5, 10, 9, 7])
    ebs = errorbar_containers(ax)
    assert len(ebs) == 2
    segs = errorbar_segments(ebs[1])                      # US
    assert np.allclose([s[:, 1] for s in segs], [[8, 12], [7, 11], [5.5, 9]])
    assert xticklabels(ax) == ["16-24", "25-34", "35-44"]
    assert ax.get_xlabel() == "Age group"
    assert ax.get_ylabel() == "Prevalence of lonely (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GB", "US"]
    assert ax.get_legend().get_title().get_text() == "Country"
    ticks = [t for t in (lab.get_text() for lab in ax.get_yticklabels()) if t]
    assert ticks and all(t.endswith("%") for t in ticks)
    assert ax.get_ylim()[0] == 0
    assert caption_of(ax) == DEFAULT_CAPTION


def test_prevalence_points_one_group():
    one = PREV[PREV.country == "GB"].drop(columns="country")
    ax = plot.prevalence(one, kind="point", percent=False, ylabel="Proportion lonely",
                         caption="Unweighted")
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]
    (eb,) = errorbar_containers(ax)
    assert np.allclose(eb.lines[0].get_ydata(), [0.08, 0.06, 0.05])
    assert ax.get_legend() is None
    assert ax.get_ylabel() == "Proportion lonely"
    assert caption_of(ax) == "Unweighted"


def test_prevalence_categorical_needs_level():
    cat = pd.DataFrame({
        "sex": ["female"] * 2 + ["male"] * 2, "term": "lonely_direct3",
        "level": ["some of the time", "often or always"] * 2,
        "estimate": [0.3, 0.07, 0.28, 0.06], "ci_low": [0.28, 0.06, 0.26, 0.05],
        "ci_high": [0.32, 0.08, 0.30, 0.07],
    })
    with pytest.raises(PlotError, match="level="):
        plot.prevalence(cat)
    ax = plot.prevalence(cat, level="often or always")
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert np.allclose([b.get_height() for b in bars], [7, 6])
    assert ax.get_ylabel() == "Prevalence of lonely direct3: often or always (%)"


# ----------------------------------------------------------------------------- trend
TREND = pd.DataFrame({
    "year": [2016, 2017, 2018] * 2, "country": ["GB"] * 3 + ["US"] * 3,
    "term": "lonely", "level": None,
    "estimate": [0.05, 0.055, 0.06, 0.065, 0.07, 0.072],
    "ci_low": [0.04, 0.045, 0.05, 0.055, 0.06, 0.062],
    "ci_high": [0.06, 0.065, 0.07, 0.075, 0.08, 0.082],
}).iloc[[0, 3, 1, 4, 2, 5]]     # interleaved: the plot must sort by year


def test_trend_lines_and_bands_by_group():
    ax = plot.trend(TREND)
    lines = ax.get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_xdata()) == [2016, 2017, 2018]
    assert np.allclose(lines[0].get_ydata(), [5.0, 5.5, 6.0])
    assert np.allclose(lines[1].get_ydata(), [6.5, 7.0, 7.2])
    bands = [c for c in ax.collections if c.__class__.__name__ in ("FillBetweenPolyCollection",
                                                                   "PolyCollection")]
    assert len(bands) == 2
    verts = bands[1].get_paths()[0].vertices
    assert np.isclose(verts[:, 1].min(), 5.5) and np.isclose(verts[:, 1].max(), 8.2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GB", "US"]
    assert ax.get_xlabel() == "Year"
    assert ax.get_ylabel() == "Prevalence of lonely (%)"
    assert caption_of(ax) == DEFAULT_CAPTION
    assert xticklabels(ax)  # integer year ticks
    assert all("." not in t for t in xticklabels(ax))


def test_trend_single_line_error_bars():
    gb = TREND[TREND.country == "GB"].drop(columns="country")
    ax = plot.trend(gb, band=False, percent=False)
    assert len(ax.get_lines()) >= 1 and ax.get_legend() is None
    (eb,) = errorbar_containers(ax)
    segs = errorbar_segments(eb)
    assert np.allclose([s[:, 1] for s in segs], [[0.04, 0.06], [0.045, 0.065], [0.05, 0.07]])


# ----------------------------------------------------------------------------- likert
LEVELS = ["Never", "Hardly ever", "Occasionally", "Some of the time", "Often/always"]
LIK = pd.DataFrame({
    "age_group": ["16-24"] * 5 + ["75+"] * 5, "term": "lonely_direct",
    "level": LEVELS * 2,
    "estimate": [0.15, 0.33, 0.25, 0.17, 0.10, 0.22, 0.34, 0.24, 0.13, 0.07],
})


def test_likert_stacked_100_percent_bars():
    ax = plot.likert(LIK)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 10
    widths = np.array([b.get_width() for b in bars]).reshape(5, 2)   # level-major
    assert np.allclose(widths.sum(axis=0), 100)
    assert np.allclose(widths[:, 0], [15, 33, 25, 17, 10])
    # 75+ shares sum to 1.00 too -> unchanged; lefts accumulate
    lefts = np.array([b.get_x() for b in bars]).reshape(5, 2)
    assert np.allclose(lefts[:, 1], [0, 22, 56, 80, 93])
    assert yticklabels(ax) == ["16-24", "75+"]
    assert ax.yaxis_inverted()                        # first group on top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == LEVELS
    assert ax.get_xlim() == (0, 100)
    assert ax.get_xlabel() == "Share of respondents (%)"
    assert ax.get_ylabel() == "Age group"
    seg = [t.get_text() for t in ax.texts if t.get_gid() == "socialhealth-segment-label"]
    assert seg[:2] == ["15", "22"]                        # Never: 16-24 then 75+
    assert caption_of(ax) == SHARE_CAPTION
    colours = {tuple(np.round(b.get_facecolor(), 4)) for b in bars}
    assert len(colours) == 5


def test_likert_rescales_incomplete_rows_and_items_as_rows():
    items = pd.DataFrame({
        "term": ["ucla3_companionship"] * 3 + ["ucla3_isolated"] * 3,
        "level": ["1", "2", "3"] * 2,
        "estimate": [0.6, 0.3, 0.1, 0.35, 0.35, 0.2],       # second sums to 0.9
    })
    ax = plot.likert(items, caption=None)
    assert yticklabels(ax) == ["Ucla3 companionship", "Ucla3 isolated"]
    widths = np.array([b.get_width() for b in ax.patches]).reshape(3, 2)
    assert np.allclose(widths[:, 1], [35 / 0.9, 35 / 0.9, 20 / 0.9])
    assert caption_of(ax) is None


def test_likert_needs_levels():
    with pytest.raises(PlotError, match="level"):
        plot.likert(PREV)


# ----------------------------------------------------------------------------- risk factors
SURVEY = pd.DataFrame({
    "term": ["Intercept", "lonely[T.True]", "smoker[T.True]", "obese[T.True]",
             "physically_inactive[T.True]", "C(age_group)[T.75+]"],
    "estimate": [0.01, 1.3, 2.0, 1.25, 1.5, 30.0],
    "ci_low": [0.005, 1.1, 1.7, 1.05, 1.3, 20.0],
    "ci_high": [0.02, 1.55, 2.35, 1.5, 1.75, 45.0],
})
ANCHORS = pd.DataFrame({
    "exposure": ["loneliness", "loneliness", "social isolation"],
    "estimate": [1.26, 1.22, 1.29], "ci_low": [np.nan, 1.10, np.nan],
    "ci_high": [np.nan, 1.35, np.nan],
    "source_key": ["holt-lunstad_2015", "rico-uribe_2018", "holt-lunstad_2015"],
})
NAMES = {"lonely[T.True]": "Loneliness", "loneliness": "Loneliness",
         "smoker[T.True]": "Smoking", "obese[T.True]": "Obesity",
         "physically_inactive[T.True]": "Inactivity", "social isolation": "Social isolation"}
TERMS = ["lonely[T.True]", "smoker[T.True]", "obese[T.True]", "physically_inactive[T.True]"]


def test_risk_factors_two_sources():
    ax = plot.risk_factors(SURVEY, ANCHORS, terms=TERMS, labels=NAMES)
    assert yticklabels(ax) == ["Loneliness", "Smoking", "Obesity", "Inactivity",
                               "Social isolation"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "This survey", "Published estimate"]
    survey_pts, anchor_pts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert np.allclose(survey_pts.get_offsets()[:, 0], [1.3, 2.0, 1.25, 1.5])
    assert np.allclose(anchor_pts.get_offsets()[:, 0], [1.26, 1.22, 1.29])
    # the two sources use different markers (filled circle vs open diamond)
    assert survey_pts.get_paths()[0] != anchor_pts.get_paths()[0]
    # a loneliness anchor sits below the survey point on the same row, above the next row
    ys = survey_pts.get_offsets()[:, 1]
    ya = anchor_pts.get_offsets()[:, 1]
    assert ys[0] > ya[0] > ya[1] > ys[1]
    assert ax.get_xscale() == "log"
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == "socialhealth-reference"]
    assert list(refs[0].get_xdata()) == [1, 1]
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "socialhealth-annotation"]
    assert "1.30 (1.10, 1.55)" in notes
    assert "1.26  holt-lunstad_2015" in notes            # no CI published: point only
    assert "1.22 (1.10, 1.35)  rico-uribe_2018" in notes
    cap = caption_of(ax)
    assert "weighted" in cap and "published" in cap


def test_risk_factors_survey_only_and_errors():
    ax = plot.risk_factors(SURVEY, terms=TERMS[:2], caption=None)
    assert yticklabels(ax) == ["Lonely", "Smoker"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["This survey"]
    with pytest.raises(PlotError, match="not in the survey table"):
        plot.risk_factors(SURVEY, terms=["diabetes[T.True]"])
    with pytest.raises(PlotError, match="log scale"):
        plot.risk_factors(SURVEY.assign(estimate=-1.0))


# ----------------------------------------------------------------------------- with the engine
def test_plots_accept_socialhealth_results():
    sh = pytest.importorskip("socialhealth")
    from socialhealth.datasets.demo import generate_demo

    df = generate_demo()
    d = sh.SurveyDesign(df, weights="weight", strata="strata", psu="psu", nest=True)
    est = d.mean("lonely", by="age_group")
    ax = plot.prevalence(est)
    table = est.to_frame()
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert np.allclose([b.get_height() for b in bars], 100 * table["estimate"].to_numpy())
    ax = plot.likert(d.mean("lonely_direct", by="country"))
    assert yticklabels(ax) == ["GB", "US"]
    ax = plot.trend(d.mean("lonely", by=["year", "country"]))
    assert len(ax.get_lines()) == 2


def test_pretty_labels_of_model_terms():
    from socialhealth.plot.style import pretty

    assert pretty("lonely[T.True]") == "Lonely"
    assert pretty("C(age_group)[T.75+]") == "Age group: 75+"
    assert pretty("sex[T.male]") == "Sex: male"
    assert pretty("physically_inactive") == "Physically inactive"


def test_forest_of_a_survey_glm():
    sh = pytest.importorskip("socialhealth")
    from socialhealth.datasets.demo import generate_demo

    df = generate_demo()
    d = sh.SurveyDesign(df, weights="weight", strata="strata", psu="psu", nest=True)
    m = d.glm("depression ~ lonely + C(age_group) + sex", family="binomial")
    ax = plot.forest(m)
    labels = yticklabels(ax)
    assert "Intercept" not in labels and labels[0] == "Lonely"
    assert "Age group: 75+" in labels and "Sex: male" in labels
    x = ax.collections[-1].get_offsets()[:, 0]
    assert np.allclose(x, np.exp(m.params.drop("Intercept").to_numpy()))


def test_log_ratio_ticks_are_round_numbers():
    from socialhealth.plot._forest import _ratio_ticks

    # narrow range: 1, 1.25, 1.5, 2, 3, ... steps; wide range: 1-2-5 or decades
    assert _ratio_ticks(0.55, 2.3) == [0.6, 0.8, 1.0, 1.25, 1.5, 2.0]
    assert _ratio_ticks(0.05, 20) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    assert _ratio_ticks(0.5, 7000) == [1.0, 10.0, 100.0, 1000.0]
    ax = plot.forest(ASSOC)
    # data 1.1-3.6 and the line at 1, padded by 8% of the log range: a narrow range
    assert xticklabels(ax) == ["1", "1.25", "1.5", "2", "3", "4"]


def test_to_frame_errors_are_not_swallowed():
    """A result whose to_frame(exponentiate=True) fails must not be silently plotted unexponentiated."""
    from socialhealth.plot.frames import as_frame

    class Broken:
        def to_frame(self, exponentiate=False):
            raise TypeError("bug inside to_frame")

    class NoExp:
        def to_frame(self):
            return pd.DataFrame({"estimate": [1.0]})

    with pytest.raises(TypeError, match="bug inside"):
        as_frame(Broken(), exponentiate=True)
    assert as_frame(NoExp(), exponentiate=True)["estimate"].tolist() == [1.0]


# ---------------------------------------------------------------- transitions
def _transition_frame():
    return pd.DataFrame({"from_state": ["no", "no", "yes"], "to_state": ["no", "yes", "yes"],
                         "n": [5, 2, 3], "share": [0.5, 0.2, 0.3],
                         "ci_low": [0.3, 0.05, 0.1], "ci_high": [0.7, 0.5, 0.6],
                         "row_share": [0.714, 0.286, 1.0], "row_ci_low": [0.35, 0.07, np.nan],
                         "row_ci_high": [0.93, 0.65, np.nan]})


def test_transitions_heat_map_cells_labels_and_blank_cell():
    ax = plot.transitions(_transition_frame())
    grid = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    # rows from-state no, yes; columns to-state no, yes; yes -> no has no person
    np.testing.assert_allclose(grid, [[0.714, 0.286], [np.nan, 1.0]])
    assert [t.get_text() for t in ax.texts if t.get_gid() != "socialhealth-caption"] == [
        "71%\n(35-93)", "29%\n(7-65)", "-", "100%"]      # undefined CI (share 1): no interval
    assert yticklabels(ax) == ["no", "yes"] and xticklabels(ax) == ["no", "yes"]
    assert ax.get_xlabel() == "To" and ax.get_ylabel() == "From"
    assert caption_of(ax).startswith("Weighted transition shares")


def test_transitions_share_of_all_and_errors():
    ax = plot.transitions(_transition_frame(), value="share", caption=None, title="T")
    grid = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(grid, [[0.5, 0.2], [np.nan, 0.3]])
    assert "50%\n(30-70)" in [t.get_text() for t in ax.texts]
    assert caption_of(ax) is None
    with pytest.raises(PlotError, match="row_share"):
        plot.transitions(_transition_frame(), value="odds")
    with pytest.raises(PlotError, match="from_state"):
        plot.transitions(pd.DataFrame({"estimate": [1.0]}))


def test_transitions_of_a_model_result_uses_its_columns_and_level_order():
    from socialhealth import models
    from socialhealth.datasets import PanelData

    states = ["good", "fair", "poor"]
    data = pd.DataFrame({"weight": [1.0, 1, 2, 2, 1, 1], "strata": "s",
                         "psu": ["1", "2", "3"] * 2,
                         "h@2006": pd.Categorical(["poor", "good", "fair", "good", "poor", "fair"],
                                                  categories=states),
                         "h@2010": pd.Categorical(["poor", "fair", "fair", "good", "good", "poor"],
                                                  categories=states)})
    panel = PanelData("g", data, pd.DataFrame(), {}, {"weights": "weight", "strata": "strata",
                                                       "psu": "psu"}, waves=[2006, 2010])
    ax = plot.transitions(models.transitions(panel, "h", 2006, 2010))
    assert yticklabels(ax) == states and xticklabels(ax) == states
    assert ax.get_ylabel() == "H (2006)" and ax.get_xlabel() == "H (2010)"
    grid = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    # by hand: good (w 1 + 2 = 3): -> fair 1, -> good 2; fair (w 2 + 1): -> fair 2, -> poor 1;
    # poor (w 1 + 1): -> poor 1, -> good 1
    np.testing.assert_allclose(grid, [[2 / 3, 1 / 3, np.nan], [np.nan, 2 / 3, 1 / 3],
                                      [1 / 2, np.nan, 1 / 2]])
