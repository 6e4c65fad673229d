"""sh.plot.cdf draws design.cdf results as step functions with their intervals."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import PlotError

matplotlib.use("Agg")


def _table():
    return pd.DataFrame({"sex": ["f", "f", "f", "m", "m", "m"], "term": "score",
                         "level": [3.0, 5.0, 9.0, 3.0, 5.0, 9.0],
                         "estimate": [0.2, 0.7, 1.0, 0.4, 0.8, 1.0],
                         "ci_low": [0.1, 0.6, 1.0, 0.3, 0.7, 1.0],
                         "ci_high": [0.3, 0.8, 1.0, 0.5, 0.9, 1.0]})


def test_steps_follow_the_table_one_curve_per_group():
    ax = sh.plot.cdf(_table())
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [3, 5, 9])
    np.testing.assert_allclose(lines[0].get_ydata(), [20, 70, 100])
    np.testing.assert_allclose(lines[1].get_ydata(), [40, 80, 100])
    assert all(line.get_drawstyle() == "steps-post" for line in lines)
    assert len(ax.collections) == 2                        # one band per group
    assert ax.get_xlabel() == "Score" and "(%)" in ax.get_ylabel()
    assert ax.get_legend().get_title().get_text() == "Sex"


def test_proportion_scale_and_no_band():
    ax = sh.plot.cdf(_table(), percent=False, band=False, caption=None)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.2, 0.7, 1.0])
    assert len(ax.collections) == 0


def test_two_grouping_columns_need_by():
    t = _table().assign(country="GB")[["country", "sex", "term", "level", "estimate"]]
    with pytest.raises(PlotError, match="Pass by="):
        sh.plot.cdf(t)


def test_draws_a_design_result():
    d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw", strata="stype",
                        fpc="fpc")
    est = d.cdf("api00", at=[500, 600, 700, 800])
    ax = sh.plot.cdf(est)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(),
                               100 * est.to_frame()["estimate"].to_numpy())
    assert ax.get_xlabel() == "Api00" and ax.get_legend() is None
