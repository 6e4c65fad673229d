"""Hostile inputs, sixth round: what round five left.

Each test below failed before the fix that came with it; what it found:

1. arguments checked only where the chosen style or method uses them, so a wrong value passed
   silently otherwise: ``scatter(seed="x")``, ``alpha="x"``, ``xbins=0``, ``sample_size=0``,
   ``jitter="x"`` with the default ``style="bubble"`` (and ``inches="x"`` with
   ``style="hex"``); ``smooth(df="x", quantile=2)`` with the default ``method="locpoly"``
   (and ``ngrid="x"`` with ``method="quantreg"``); ``coplot(alpha="x")`` with the default
   ``style="hex"`` (and ``xbins=0``, ``shape=-1`` with ``style="transparent"``). They are
   now checked up front, whatever the style or method; a valid value that the style does not
   use is still allowed. ``prevalence(level=)`` (and ``trend(level=)``) accepted any value
   (a list, a Series, NaN) when the table has no levels;
2. ``forest(ref=inf)`` drew no reference line (``ref=np.nan`` is the documented way to have
   none, and stays); ``forest(summary="no such row")`` drew no diamond and said nothing;
   ``SurveyGLMResult.predict(offset=True)`` added 1 to every prediction and
   ``offset=nan`` made every prediction missing; ``Table.column_names(sep=42)`` wrote
   "label42header";
3. ``calibrate(formula=Series)`` and ``post_stratify(strata=Series)`` said the column
   "0    1.0\\n1    2.0 ... dtype: float64" was not found (a MissingColumnError quoting the
   Series' printout as a column name): they now say the argument must be text or a list of
   names, and describe what was given ("a pandas Series of 3 values").

Left as it is: ``trim_weights(lower=-1)``. R's ``trimWeights`` has ``lower = -Inf`` by default
and takes any lower bound; a negative one leaves positive weights alone and bounds negative
weights (a linear calibration, ACS-style replicate weights) from below, which is meaningful.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from hostile_inputs import (SAID, SERIES, api, close_figures,  # noqa: F401  tests/_support
                            demo, glm, refused)
from socialhealth import plot

pytestmark = pytest.mark.usefixtures("close_figures")


def quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


# ----------------------------------------------------------------------------- 1. plots
def scatter(**kw):
    return plot.scatter(api(), "api99", "api00", **kw)


def smooth(**kw):
    return plot.smooth(api(), "api00", "ell", **kw)


def coplot(**kw):
    return plot.coplot(api(), "api00", "api99", by="meals", number=2, **kw)


UNUSED_BY_THE_STYLE = {
    "scatter(style='bubble', seed='x')": (lambda: scatter(seed="x"), "seed"),
    "scatter(style='bubble', seed=2.5)": (lambda: scatter(seed=2.5), "seed"),
    "scatter(style='bubble', alpha='x')": (lambda: scatter(alpha="x"), "alpha"),
    "scatter(style='bubble', alpha=(0, 2))": (lambda: scatter(alpha=(0, 2)), "alpha"),
    "scatter(style='hex', alpha=('0', '1'))": (
        lambda: scatter(style="hex", alpha=("0", "1")), "alpha"),
    "scatter(style='bubble', jitter='x')": (lambda: scatter(jitter="x"), "jitter"),
    "scatter(style='bubble', sample_size=0)": (lambda: scatter(sample_size=0), "sample_size"),
    "scatter(style='bubble', sample_size='500')": (
        lambda: scatter(sample_size="500"), "sample_size"),
    "scatter(style='bubble', xbins=0)": (lambda: scatter(xbins=0), "xbins"),
    "scatter(style='subsample', xbins=2.5)": (
        lambda: scatter(style="subsample", seed=1, xbins=2.5), "xbins"),
    "scatter(style='hex', inches='x')": (lambda: scatter(style="hex", inches="x"), "inches"),
    "smooth(method='locpoly', df='x')": (lambda: smooth(bandwidth=10, df="x"), "df"),
    "smooth(method='locpoly', df=2)": (lambda: smooth(bandwidth=10, df=2), "df"),
    "smooth(method='locpoly', quantile=2)": (lambda: smooth(bandwidth=10, quantile=2),
                                             "quantile"),
    "smooth(method='locpoly', quantile=nan)": (
        lambda: smooth(bandwidth=10, quantile=float("nan")), "quantile"),
    "smooth(method='quantreg', ngrid='x')": (lambda: smooth(method="quantreg", ngrid="x"),
                                             "ngrid"),
    "coplot(style='hex', alpha='x')": (lambda: coplot(alpha="x"), "alpha"),
    "coplot(style='hex', alpha=(0, 2))": (lambda: coplot(alpha=(0, 2)), "alpha"),
    "coplot(style='transparent', xbins=0)": (lambda: coplot(style="transparent", xbins=0),
                                             "xbins"),
    "coplot(style='transparent', shape=-1)": (lambda: coplot(style="transparent", shape=-1),
                                              "shape"),
}


@pytest.mark.parametrize("name", sorted(UNUSED_BY_THE_STYLE))
def test_an_argument_the_style_does_not_use_is_still_checked(name):
    call, argument = UNUSED_BY_THE_STYLE[name]
    err = refused(lambda: quiet(call))
    assert str(err).startswith(name.split("(")[0] + "(): " + argument)


def test_the_message_describes_a_series_given():
    err = refused(lambda: scatter(alpha=SERIES))
    assert SAID in str(err) and "dtype" not in str(err)


def test_valid_values_the_style_does_not_use_are_still_allowed():
    bubbles = scatter(seed=1, alpha=(0.1, 0.9), jitter=(0, None), sample_size=50, xbins=10)
    hexes = scatter(style="hex", seed=np.random.default_rng(3), inches=0.1, alpha=[0, 1])
    assert len(bubbles.to_frame()) == len(api().data)
    assert hexes.to_frame()["count"].sum() == pytest.approx(float(api().weights.sum()))
    line = smooth(bandwidth=10, quantile=0.9, df=6)
    assert len(line.to_frame()) == 401
    q = smooth(method="quantreg", quantile=0.5, ngrid=101)
    assert q.bandwidth is None and len(q.to_frame()) == len(api().data)
    assert coplot(alpha=(0.2, 1.0)).to_frame()["count"].sum() > 0
    assert coplot(style="transparent", xbins=5, shape=1.5).to_frame()["alpha"].max() \
        == pytest.approx(0.8)


def test_subsample_draws_stay_the_same_for_a_seed():
    a = scatter(style="subsample", seed=7, sample_size=20).to_frame()
    b = scatter(style="subsample", seed=np.random.default_rng(7), sample_size=20).to_frame()
    pd.testing.assert_frame_equal(a, b)


def prevalence_table():
    return demo().proportion("lonely", by="sex").to_frame()     # level column all None


@pytest.mark.parametrize("level", [["a", "b"], SERIES, float("nan"), {"a": 1}])
def test_prevalence_level_must_be_one_level(level):
    err = refused(lambda: plot.prevalence(prevalence_table(), level=level))
    assert "level=" in str(err) and "dtype" not in str(err)


def test_trend_level_is_checked_too():
    table = demo().proportion("lonely", by="year").to_frame()
    refused(lambda: plot.trend(table, level=["a"]), "level=")


def test_prevalence_level_valid_values_still_draw():
    ax = plot.prevalence(prevalence_table(), level="Often/always")   # (not used: no levels)
    assert len(ax.patches) == 2
    table = demo().proportion("lonely_direct3", by="sex").to_frame()
    ax = plot.prevalence(table, level=str(table["level"].iloc[-1]))
    assert len(ax.patches) == 2


# ----------------------------------------------------------------------------- 2. others
def forest_table():
    return pd.DataFrame({"term": ["Avlund", "Holt", "RE model"],
                         "estimate": [1.3, 2.0, 1.5], "ci_low": [1.1, 1.7, 1.2],
                         "ci_high": [1.55, 2.35, 1.8]})


@pytest.mark.parametrize("ref", [float("inf"), -np.inf])
def test_forest_infinite_ref_is_refused(ref):
    refused(lambda: plot.forest(forest_table(), ref=ref, scale="linear"), "ref=")


def test_forest_nan_ref_still_means_no_line():
    ax = plot.forest(forest_table(), ref=float("nan"))
    assert not [a for a in ax.get_lines() if a.get_gid() == "socialhealth-reference"]


@pytest.mark.parametrize("summary", ["nosuchcol", ["RE model", "FE model"]])
def test_forest_summary_not_a_row_is_refused_naming_the_rows(summary):
    err = refused(lambda: plot.forest(forest_table(), summary=summary), "summary=")
    assert "'Avlund', 'Holt', 'RE model'" in str(err)


def test_forest_summary_of_a_row_draws_a_diamond():
    ax = plot.forest(forest_table(), summary="RE model")
    assert [p for p in ax.patches if p.get_gid() == "socialhealth-summary"]


@pytest.mark.parametrize("offset", [True, False, float("nan"), np.inf, [True] * 5])
def test_predict_offset_must_be_numbers(offset):
    refused(lambda: glm().predict(demo().data.head(5), offset=offset), "offset=")


def test_predict_with_a_numeric_offset_still_works():
    new = demo().data.head(5)
    base = glm().predict(new).to_numpy()
    shifted = glm().predict(new, offset=0.5).to_numpy()
    per_row = glm().predict(new, offset=np.arange(5.0)).to_numpy()
    np.testing.assert_allclose(shifted - base, 0.5)
    np.testing.assert_allclose(per_row - base, np.arange(5.0))


def describe_table():
    return sh.tables.describe(demo(), variables=["age"], by="sex")


@pytest.mark.parametrize("sep", [42, None, SERIES])
def test_column_names_sep_must_be_text(sep):
    err = refused(lambda: describe_table().column_names(sep=sep), "sep=")
    assert "dtype" not in str(err)


def test_column_names_with_text_sep():
    assert describe_table().column_names(sep=" / ")[1] == "Overall (N = 2,596) / n"


# ----------------------------------------------------------------------------- 3. Series
def test_calibrate_formula_series_is_described():
    err = refused(lambda: api().calibrate(SERIES, {"(Intercept)": 6194}), "formula")
    assert SAID in str(err) and "dtype" not in str(err)


def test_post_stratify_strata_series_is_described():
    err = refused(lambda: api().post_stratify(SERIES, {"E": 4421, "H": 755, "M": 1018}),
                  "strata=")
    assert SAID in str(err) and "dtype" not in str(err)


def test_calibrate_and_post_stratify_with_names_still_work():
    pop = {"E": 4421, "H": 755, "M": 1018}
    for strata in ("stype", ["stype"], ("stype",)):
        ps = api().post_stratify(strata, pop)
        assert float(ps.weights.sum()) == pytest.approx(6194)
    for formula in ("~stype", ["stype"]):
        cal = api().calibrate(formula, {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018})
        assert float(cal.weights.sum()) == pytest.approx(6194)


# ----------------------------------------------------------------------------- left as it is
def test_trim_weights_negative_lower_bounds_negative_weights_as_r():
    """A negative lower bound is meaningful (R trimWeights' default is -Inf): it raises the
    negative weights of a linear calibration below it. Expected values from R 4.2, survey
    4.1-1: ``cal <- calibrate(svydesign(ids = ~1, weights = ~w, data = df), ~x, c(8, 60))``;
    ``round(weights(trimWeights(cal, lower = -0.5)), 6)``."""
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "w": 1.0})
    cal = quiet(lambda: sh.SurveyDesign(df, weights="w").calibrate(
        "~x", {"(Intercept)": 8.0, "x": 60.0}))
    trimmed = quiet(lambda: cal.trim_weights(lower=-0.5))
    r = [-0.5, -0.5, 0.071429, 0.642857, 1.214286, 1.785714, 2.357143, 2.928571]
    np.testing.assert_allclose(np.asarray(trimmed.weights), r, atol=1e-6)


def test_forest_reads_terms_given_as_a_generator_once():
    # the type check iterated the generator, so the plot then drew no rows
    m = api().glm("api00 ~ api99 + ell")
    as_list = plot.forest(m.to_frame(), terms=["api99", "ell"], scale="linear")
    as_generator = plot.forest(m.to_frame(), terms=(t for t in ["api99", "ell"]),
                               scale="linear")
    labels = [t.get_text() for t in as_list.get_yticklabels()]
    assert len(labels) == 2
    assert [t.get_text() for t in as_generator.get_yticklabels()] == labels


def test_coplot_takes_a_numpy_float32_shape():
    # np.float32 is not a Python float: a valid shape was refused
    ax = plot.coplot(api(), "api00", "api99", by="meals", number=2, style="hex",
                     shape=np.float32(1.0))
    assert ax is not None
