"""Audit: every figure shows the numbers of the result it plots, in words, and drops nothing.

Each plot is built from a real result on the demo survey, its matplotlib artists are read back
(points, error-bar segments, bar heights, bands, tick labels, legends) and compared row by row
with the result's ``to_frame()``. The expected values are the result table's own columns (the
plot must not recompute them), so a plot that moves, reorders, rescales or drops a value fails.
Then words (no raw column names, no True/False) and edge cases: one row, undefined intervals
(marked, never silently missing), tiny/huge ratios on a log axis, many groups.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import socialhealth as sh  # noqa: E402
from socialhealth import models, plot  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402
from socialhealth.plot import style  # noqa: E402

RTOL = 1e-12
CHECKED: dict[str, int] = {}   # plotted values compared, per function (printed with -s)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print("\nplotted values checked per function:", dict(sorted(CHECKED.items())))


@pytest.fixture(scope="module")
def design():
    return sh.datasets.load("demo").design


def _count(name: str, n: int) -> None:
    CHECKED[name] = CHECKED.get(name, 0) + n


def _texts(labels) -> list[str]:
    return [t.get_text() for t in labels]


def _legend(ax) -> list[str]:
    return _texts(ax.get_legend().get_texts())


def _segments(ax) -> list[np.ndarray]:
    """All error-bar segments (2 x 2 arrays) of the axes, in drawing order."""
    return [np.asarray(s) for c in ax.collections if isinstance(c, LineCollection)
            for s in c.get_segments()]


def _missing_marks(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == style.MISSING_GID]


def _assert_words(text: str) -> None:
    assert "_" not in text and "@" not in text, text
    assert text not in ("True", "False", "nan", "None"), text


def _all_words(ax) -> None:
    """Axis labels, tick labels and legend entries are words."""
    for t in [ax.get_xlabel(), ax.get_ylabel(), *_texts(ax.get_xticklabels()),
              *_texts(ax.get_yticklabels())]:
        _assert_words(t)
    if ax.get_legend() is not None:
        for t in _legend(ax) + [ax.get_legend().get_title().get_text()]:
            _assert_words(t)


# --------------------------------------------------------------------------------- forest
def _check_forest(ax, table: pd.DataFrame, labels: list[str]) -> None:
    """Points, CI segments and row labels of a forest plot against ``table`` (plot order)."""
    assert ax.get_xscale() == "log"
    assert _texts(ax.get_yticklabels()) == labels
    ticks = dict(zip(_texts(ax.get_yticklabels()), ax.get_yticks(), strict=True))
    pts = np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
    segs = _segments(ax)
    assert len(pts) == len(table) == len(segs)
    for (_, row), lab, (px, py), seg in zip(table.iterrows(), labels, pts, segs, strict=True):
        np.testing.assert_allclose(px, row["estimate"], rtol=RTOL)
        assert py == ticks[lab]                         # the point sits on its own label
        np.testing.assert_allclose(sorted(seg[:, 0]), [row["ci_low"], row["ci_high"]],
                                   rtol=RTOL)
        assert seg[0, 1] == seg[1, 1] == py
    lo, hi = ax.get_xlim()
    assert lo < table["ci_low"].min() and table["ci_high"].max() < hi   # nothing clipped
    shown = [float(t) for t in _texts(ax.get_xticklabels())]
    np.testing.assert_allclose(shown, ax.get_xticks(), rtol=1e-3)      # tick text = position
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "socialhealth-annotation"]
    assert notes == [f"{e:.2f} ({lw:.2f}, {h:.2f})" for e, lw, h in
                     table[["estimate", "ci_low", "ci_high"]].to_numpy()]
    _count("forest", 3 * len(table) + len(labels) + len(notes))


def test_forest_of_a_logistic_model_shows_its_odds_ratios(design):
    m = design.glm("died ~ lonely + smoker + obese + C(age_group)", family="binomial")
    table = m.to_frame(exponentiate=True)
    table = table[table["term"] != "Intercept"].reset_index(drop=True)
    ax = plot.forest(m)
    labels = ["Lonely", "Smoker", "Obese"] + [f"Age group: {g}" for g in
                                              ["25-34", "35-44", "45-54", "55-64", "65-74", "75+"]]
    _check_forest(ax, table, labels)
    _all_words(ax)
    # ratios span 1 to > 500: the log axis still covers every interval
    assert table["ci_high"].max() > 500


def test_forest_terms_order_is_the_drawn_order(design):
    m = design.glm("died ~ lonely + smoker + obese", family="binomial")
    table = m.to_frame(exponentiate=True).set_index("term").loc[["obese", "lonely"]]
    ax = plot.forest(m, terms=["obese", "lonely"])
    _check_forest(ax, table.reset_index(), ["Obese", "Lonely"])


def test_forest_single_row_and_extreme_ratios():
    t = pd.DataFrame({"term": ["tiny"], "estimate": [2e-4], "ci_low": [1e-6], "ci_high": [4e-2]})
    _check_forest(plot.forest(t), t, ["Tiny"])
    t = pd.DataFrame({"term": ["huge"], "estimate": [3e4], "ci_low": [5e2], "ci_high": [2e6]})
    _check_forest(plot.forest(t), t, ["Huge"])


def test_forest_by_group_legend_and_dodging_are_the_groups(design):
    rows = []
    for sex in ("female", "male"):
        m = design.subset(design.data["sex"] == sex).glm("died ~ lonely + smoker",
                                                         family="binomial")
        f = m.to_frame(exponentiate=True)
        rows.append(f[f["term"] != "Intercept"].assign(group=sex))
    table = pd.concat(rows, ignore_index=True)
    ax = plot.forest(table)
    assert _legend(ax) == ["female", "male"]
    ticks = dict(zip(_texts(ax.get_yticklabels()), ax.get_yticks(), strict=True))
    assert list(ticks) == ["Lonely", "Smoker"]
    for k, sex in enumerate(("female", "male")):
        pts = ax.collections[2 * k + 1].get_offsets()           # errorbar, scatter per group
        sub = table[table["group"] == sex]
        np.testing.assert_allclose(pts[:, 0], sub["estimate"], rtol=RTOL)
        for (_, y), lab in zip(pts, ["Lonely", "Smoker"], strict=True):
            assert abs(y - ticks[lab]) < 0.4                     # dodged within its own row
        _count("forest", 2 * len(sub))


def test_forest_boolean_groups_are_named_in_words():
    t = pd.DataFrame({"term": ["a", "a"], "estimate": [1.2, 1.4], "ci_low": [1.0, 1.1],
                      "ci_high": [1.5, 1.8], "group": [False, True]})
    ax = plot.forest(t)
    assert _legend(ax) == ["No", "Yes"]


def test_forest_nan_estimate_and_interval_are_marked_not_dropped():
    t = pd.DataFrame({"term": ["a", "b", "c"], "estimate": [1.5, np.nan, 2.0],
                      "ci_low": [1.1, np.nan, np.nan], "ci_high": [2.0, np.nan, np.nan]})
    ax = plot.forest(t)
    assert _texts(ax.get_yticklabels()) == ["A", "B", "C"]
    assert sorted(_missing_marks(ax)) == ["no CI", "not estimable"]
    notes = [x.get_text() for x in ax.texts if x.get_gid() == "socialhealth-annotation"]
    assert notes == ["1.50 (1.10, 2.00)", "not estimable", "2.00 (CI not estimable)"]


def test_forest_infinite_bound_is_drawn_to_the_axis_edge():
    t = pd.DataFrame({"term": ["a", "b"], "estimate": [2.0, 1.5], "ci_low": [1.2, 1.1],
                      "ci_high": [np.inf, 2.0]})
    ax = plot.forest(t)
    open_ = [ln for ln in ax.lines if ln.get_gid() == "socialhealth-open-interval"]
    assert open_, "the open interval of row a is not drawn"
    xs, ys = open_[0].get_data()
    assert xs[0] == 2.0 and np.isclose(xs[1], ax.get_xlim()[1]) and ys[0] == 1.0   # row a


def test_forest_rows_sharing_a_label_get_rows_of_their_own():
    """Two studies by one author were drawn on one row, one point over the other."""
    t = pd.DataFrame({"term": ["Avlund", "Blazer", "Avlund"], "estimate": [1.2, 1.3, 1.4],
                      "ci_low": [1.0, 1.1, 1.1], "ci_high": [1.5, 1.6, 1.8]})
    ax = plot.forest(t)
    _check_forest(ax, t, ["Avlund (1)", "Blazer", "Avlund (2)"])


# ----------------------------------------------------------------------------- prevalence
def _check_bars(ax, table: pd.DataFrame, groups: list[str]) -> None:
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    segs = _segments(ax)
    assert len(bars) == len(segs) == len(table)
    centres = [b.get_x() + b.get_width() / 2 for b in bars]
    ticks = dict(zip(ax.get_xticks(), _texts(ax.get_xticklabels()), strict=True))
    for (_, row), bar, seg, g, c in zip(table.iterrows(), bars, segs, groups, centres,
                                        strict=True):
        np.testing.assert_allclose(bar.get_height(), 100 * row["estimate"], rtol=RTOL)
        np.testing.assert_allclose(sorted(seg[:, 1]), [100 * row["ci_low"], 100 * row["ci_high"]],
                                   rtol=RTOL)
        assert ticks[round(c)] == g                               # bar under its own label
    _count("prevalence", 3 * len(table) + len(groups))


def test_prevalence_by_age_group_draws_each_estimate_and_interval(design):
    r = design.proportion("lonely", by="age_group")
    table = r.to_frame()
    ax = plot.prevalence(r)
    _check_bars(ax, table, [str(g) for g in table["age_group"]])
    assert ax.get_ylabel() == "Prevalence of lonely (%)"
    _all_words(ax)


def test_prevalence_two_groupings_and_boolean_groups_in_words(design):
    r = design.proportion("lonely", by=["age_group", "lives_alone"])
    table = r.to_frame()
    ax = plot.prevalence(r)
    assert _legend(ax) == ["No", "Yes"]                    # not False / True
    # bars drawn hue by hue: all "No" bars, then all "Yes" bars
    ordered = pd.concat([table[~table["lives_alone"]], table[table["lives_alone"]]])
    _check_bars(ax, ordered, [str(g) for g in ordered["age_group"]])
    _all_words(ax)


def test_prevalence_boolean_x_and_raw_term_in_words(design):
    ax = plot.prevalence(design.proportion("heart_disease", by="lives_alone"))
    assert _texts(ax.get_xticklabels()) == ["No", "Yes"]
    assert ax.get_ylabel() == "Prevalence of heart disease (%)"
    _all_words(ax)


def test_prevalence_percent_ticks_are_distinct_for_small_prevalences():
    t = pd.DataFrame({"g": ["a", "b"], "term": "x", "level": None, "estimate": [0.003, 0.004],
                      "ci_low": [0.002, 0.003], "ci_high": [0.004, 0.006]})
    ax = plot.prevalence(t)
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    shown = [(v, s) for v, s in zip(ax.get_yticks(), _texts(ax.get_yticklabels()), strict=True)
             if lo <= v <= hi]
    labels = [s for _, s in shown]
    assert len(set(labels)) == len(labels), labels           # was 0%, 0%, 0%, ..., 1%, 1%
    for v, s in shown:
        assert np.isclose(float(s.rstrip("%")), v), (v, s)


def test_prevalence_single_row_point_kind(design):
    r = design.proportion("lonely", by="sex")
    table = r.to_frame().iloc[[0]]
    ax = plot.prevalence(table, kind="point")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), 100 * table["estimate"], rtol=RTOL)
    np.testing.assert_allclose(sorted(_segments(ax)[0][:, 1]),
                               100 * table[["ci_low", "ci_high"]].to_numpy()[0], rtol=RTOL)
    assert _texts(ax.get_xticklabels()) == ["female"]
    _count("prevalence", 3)


def test_prevalence_nan_estimate_and_interval_are_marked():
    t = pd.DataFrame({"g": ["a", "b", "c"], "term": "x", "level": None,
                      "estimate": [0.2, np.nan, 0.3], "ci_low": [0.1, np.nan, np.nan],
                      "ci_high": [0.3, np.nan, np.nan]})
    ax = plot.prevalence(t)
    assert _texts(ax.get_xticklabels()) == ["a", "b", "c"]
    assert sorted(_missing_marks(ax)) == ["no CI", "not\nestimable"]


def test_prevalence_missing_group_value_and_duplicates_are_refused():
    t = pd.DataFrame({"g": ["a", None], "term": "x", "level": None, "estimate": [0.2, 0.3],
                      "ci_low": [0.1, 0.2], "ci_high": [0.3, 0.4]})
    with pytest.raises(PlotError, match="missing value of the grouping column"):
        plot.prevalence(t)
    t["g"] = ["a", "a"]
    with pytest.raises(PlotError, match="on top of each other"):
        plot.prevalence(t)


def test_prevalence_many_groups_are_told_apart():
    n = 10
    t = pd.DataFrame({"x": ["a"] * n, "grp": [f"g{k}" for k in range(n)], "term": "t",
                      "level": None, "estimate": np.linspace(0.1, 0.5, n), "ci_low": 0.05,
                      "ci_high": 0.6})
    t = t[["x", "grp", "term", "level", "estimate", "ci_low", "ci_high"]]
    ax = plot.prevalence(t)
    assert _legend(ax) == [f"g{k}" for k in range(n)]
    looks = {(tuple(p.get_facecolor()), p.get_hatch()) for p in ax.patches}
    assert len(looks) == n                                 # group 8 is not drawn as group 0
    np.testing.assert_allclose([p.get_height() for p in ax.patches], 100 * t["estimate"],
                               rtol=RTOL)
    _count("prevalence", n)


# ---------------------------------------------------------------------------------- trend
def _band(ax, k: int) -> np.ndarray:
    return [c for c in ax.collections if isinstance(c, PolyCollection)][k].get_paths()[0].vertices


def test_trend_line_and_band_are_the_yearly_estimates(design):
    r = design.proportion("lonely", by="year")
    table = r.to_frame()
    ax = plot.trend(r)
    x, y = ax.get_lines()[0].get_data()
    np.testing.assert_array_equal(x, table["year"])
    np.testing.assert_allclose(y, 100 * table["estimate"], rtol=RTOL)
    verts = _band(ax, 0)
    for yr, lo, hi in table[["year", "ci_low", "ci_high"]].to_numpy():
        at = verts[np.isclose(verts[:, 0], yr), 1]
        assert np.isclose(at, 100 * lo).any() and np.isclose(at, 100 * hi).any()
    _count("trend", 4 * len(table))
    _all_words(ax)


def test_trend_by_group_in_words_and_error_bars(design):
    r = design.proportion("lonely", by=["year", "lives_alone"])
    table = r.to_frame()
    ax = plot.trend(r, band=False)
    assert _legend(ax) == ["No", "Yes"]
    segs = _segments(ax)
    curves = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label() in ("No", "Yes")}
    for k, g in enumerate([False, True]):
        sub = table[table["lives_alone"] == g].sort_values("year")
        x, y = curves[style.level_text(g)].get_data()
        np.testing.assert_array_equal(x, sub["year"])
        np.testing.assert_allclose(np.asarray(y, float), 100 * sub["estimate"], rtol=RTOL)
        for seg, (lo, hi) in zip(segs[k * len(sub):(k + 1) * len(sub)],
                                 sub[["ci_low", "ci_high"]].to_numpy(), strict=True):
            np.testing.assert_allclose(sorted(seg[:, 1]), [100 * lo, 100 * hi], rtol=RTOL)
        _count("trend", 4 * len(sub))
    _all_words(ax)


def test_trend_level_label_has_no_raw_column_name(design):
    r = design.mean("lonely_direct3", by="year")
    ax = plot.trend(r, level="often or always")
    assert ax.get_ylabel() == "Prevalence of lonely direct3: often or always (%)"


def test_trend_nan_estimate_and_interval_are_marked():
    t = pd.DataFrame({"year": [2016, 2017, 2018], "term": "x", "level": None,
                      "estimate": [0.2, np.nan, 0.3], "ci_low": [0.1, np.nan, np.nan],
                      "ci_high": [0.3, np.nan, np.nan]})
    ax = plot.trend(t)
    assert sorted(_missing_marks(ax)) == ["no CI", "not\nestimable"]


def test_trend_many_groups_have_distinct_styles():
    n = 9
    t = pd.DataFrame({"year": np.tile([2016, 2017], n), "grp": np.repeat(
        [f"g{k}" for k in range(n)], 2), "term": "x", "level": None, "estimate": 0.2,
        "ci_low": 0.1, "ci_high": 0.3})
    ax = plot.trend(t, by="grp")
    looks = {(ln.get_color(), ln.get_marker(), ln.get_linestyle()) for ln in ax.get_lines()}
    assert len(looks) == n


# ------------------------------------------------------------------------------- survival
def test_survival_curves_and_bands_are_the_table(design):
    km = models.kaplan_meier(design, "followup_years", "died", by="lonely", se=True)
    table = km.to_frame()
    ax = plot.survival(km)
    assert _legend(ax) == ["No", "Yes"]
    for k, g in enumerate([False, True]):
        sub = table[table["lonely"] == g].sort_values("time")
        x, y = ax.get_lines()[k].get_data()
        np.testing.assert_allclose(x, np.r_[0.0, sub["time"]], rtol=RTOL)
        np.testing.assert_allclose(y, 100 * np.r_[1.0, sub["surv"]], rtol=RTOL)
        verts = _band(ax, k)
        ok = sub["ci_low"].notna().to_numpy()
        for lo, hi in sub.loc[ok, ["ci_low", "ci_high"]].to_numpy()[:: max(1, ok.sum() // 50)]:
            assert np.isclose(verts[:, 1], 100 * lo).any() and np.isclose(verts[:, 1],
                                                                          100 * hi).any()
        _count("survival", 2 * len(sub) + 2 * len(sub.loc[ok][:: max(1, ok.sum() // 50)]))
    _all_words(ax)


# --------------------------------------------------------------------------------- likert
def test_likert_segments_are_the_shares(design):
    r = design.mean("lonely_direct3", by="sex")
    table = r.to_frame()
    ax = plot.likert(r)
    levels = list(dict.fromkeys(table["level"]))
    assert _legend(ax) == levels
    assert _texts(ax.get_yticklabels()) == ["female", "male"]
    for j, lev in enumerate(levels):
        for i, sex in enumerate(["female", "male"]):
            bar = ax.patches[j * 2 + i]
            sub = table[table["sex"] == sex]
            share = float(sub.loc[sub["level"] == lev, "estimate"].iloc[0]) / sub["estimate"].sum()
            np.testing.assert_allclose(bar.get_width(), 100 * share, rtol=1e-9)
            assert round(bar.get_y() + bar.get_height() / 2) == i
            _count("likert", 1)


def test_likert_boolean_groups_in_words_and_nan_refused(design):
    ax = plot.likert(design.mean("lonely_direct3", by="lives_alone"))
    assert _texts(ax.get_yticklabels()) == ["No", "Yes"]
    t = pd.DataFrame({"g": ["a"] * 2 + ["b"] * 2, "term": "x", "level": ["lo", "hi"] * 2,
                      "estimate": [0.4, 0.6, np.nan, 0.5]})
    with pytest.raises(PlotError, match="missing"):
        plot.likert(t)                 # was drawn as 0% and the bar rescaled to 100%


# --------------------------------------------------------------------------- risk factors
def test_risk_factors_points_are_the_survey_and_published_numbers(design):
    m = design.glm("died ~ lonely + smoker + obese", family="binomial")
    table = m.to_frame(exponentiate=True).set_index("term").loc[["lonely", "smoker", "obese"]]
    pub = pd.DataFrame({"label": ["lonely", "smoker"], "estimate": [1.26, 2.1],
                        "ci_low": [np.nan, 1.8], "ci_high": [np.nan, 2.4]})
    ax = plot.risk_factors(m, pub, terms=["lonely", "smoker", "obese"])
    assert _texts(ax.get_yticklabels()) == ["Lonely", "Smoker", "Obese"]
    assert _legend(ax) == ["This survey", "Published estimate"]
    sc = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(sc[0].get_offsets()[:, 0], table["estimate"], rtol=RTOL)
    np.testing.assert_allclose(sc[1].get_offsets()[:, 0], pub["estimate"], rtol=RTOL)
    segs = _segments(ax)[:3]
    for seg, (lo, hi) in zip(segs, table[["ci_low", "ci_high"]].to_numpy(), strict=True):
        np.testing.assert_allclose(sorted(seg[:, 0]), [lo, hi], rtol=RTOL)
    ticks = dict(zip(_texts(ax.get_yticklabels()), ax.get_yticks(), strict=True))
    for (_, y), lab in zip(sc[0].get_offsets(), ["Lonely", "Smoker", "Obese"], strict=True):
        assert abs(y - ticks[lab]) < 0.4
    _count("risk_factors", 3 * 3 + 2 + 3)
    _all_words(ax)


def test_risk_factors_nan_survey_estimate_is_marked():
    t = pd.DataFrame({"term": ["a", "b"], "estimate": [1.3, np.nan], "ci_low": [1.1, np.nan],
                      "ci_high": [1.5, np.nan]})
    ax = plot.risk_factors(t)
    assert _missing_marks(ax) == ["not estimable"]
    notes = [x.get_text() for x in ax.texts if x.get_gid() == "socialhealth-annotation"]
    assert notes == ["1.30 (1.10, 1.50)", "not estimable"]


# ---------------------------------------------------------------------------- transitions
def test_transitions_cells_are_the_table_and_labels_are_words():
    from socialhealth.datasets import PanelData

    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({"weight": rng.uniform(1, 3, n), "strata": rng.integers(0, 4, n),
                         "psu": np.arange(n), "h@2006": rng.random(n) < 0.3,
                         "h@2010": rng.random(n) < 0.4})
    panel = PanelData("g", data, pd.DataFrame(), {}, {"weights": "weight", "strata": "strata",
                                                       "psu": "psu"}, waves=[2006, 2010])
    res = models.transitions(panel, "h", 2006, 2010)
    table = res.to_frame()
    ax = plot.transitions(res)
    assert ax.get_ylabel() == "H (2006)" and ax.get_xlabel() == "H (2010)"
    rows, cols = _texts(ax.get_yticklabels()), _texts(ax.get_xticklabels())
    assert rows == cols == ["No", "Yes"]
    grid = ax.images[0].get_array()
    cells = [t for t in ax.texts if t.get_gid() is None]
    for r in table.itertuples(index=False):
        i = rows.index(style.level_text(r.from_state))
        j = cols.index(style.level_text(r.to_state))
        np.testing.assert_allclose(grid[i, j], r.row_share, rtol=RTOL)
        want = (f"{100 * r.row_share:.0f}%\n({100 * r.row_ci_low:.0f}-"
                f"{100 * r.row_ci_high:.0f})")
        assert cells[i * len(cols) + j].get_text() == want
        _count("transitions", 4)


# ------------------------------------------------------------------------ design plots
def test_hist_and_boxplot_draw_their_tables_with_words(design):
    p = plot.hist(design, "age")
    t = p.to_frame()
    np.testing.assert_allclose([b.get_height() for b in p.ax.patches], t["density"], rtol=RTOL)
    np.testing.assert_allclose([b.get_x() for b in p.ax.patches], t["bin_low"], rtol=RTOL)
    _count("hist", 2 * len(t))
    b = plot.boxplot(design, "bmi", by="lives_alone")
    assert _texts(b.ax.get_xticklabels()) == ["No", "Yes"]
    # axis labels are the schema's words, not the column names ("Lives alone", "Bmi")
    assert b.ax.get_xlabel() == "Living alone"
    assert b.ax.get_ylabel() == "BMI"
    h = plot.hist(design, "bmi", by="lives_alone")
    assert _legend(h.ax) == ["No", "Yes"]
    _count("boxplot", 2)
