"""plot.survival: step curves from a kaplan_meier table; values checked on the drawn artists."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from socialhealth import plot  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402

KM = pd.DataFrame({
    "lonely": [False, False, True, True],
    "time": [1.0, 3.0, 1.0, 2.0],
    "n_risk": [10.0, 8.0, 10.0, 7.0], "n_event": [1.0, 1.0, 1.5, 2.0],
    "surv": [0.9, 0.8, 0.85, 0.6],
    "se": [0.03, 0.05, 0.04, 0.06], "se_log": [0.03, 0.06, 0.05, 0.1],
    "ci_low": [0.85, 0.7, np.nan, 0.5], "ci_high": [0.95, 0.9, np.nan, 0.7],
})


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_steps_start_at_one_and_follow_the_table():
    ax = plot.survival(KM)
    a, b = ax.get_lines()
    assert a.get_drawstyle() == "steps-post"
    assert list(a.get_xdata()) == [0.0, 1.0, 3.0]
    assert np.allclose(a.get_ydata(), [100.0, 90.0, 80.0])
    assert np.allclose(b.get_ydata(), [100.0, 85.0, 60.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["No", "Yes"]
    assert ax.get_ylabel() == "Surviving (%)" and ax.get_xlabel() == "Time"
    bands = [c for c in ax.collections if c.__class__.__name__ in ("FillBetweenPolyCollection",
                                                                   "PolyCollection")]
    assert len(bands) == 2
    # the second group's first interval is NA (before its first event in R): band from t = 2
    v = bands[1].get_paths()[0].vertices
    assert np.isclose(v[:, 0].min(), 2.0)
    assert np.isclose(v[:, 1].min(), 50.0) and np.isclose(v[:, 1].max(), 70.0)


def test_no_band_without_intervals_and_proportion_scale():
    ax = plot.survival(KM.drop(columns=["ci_low", "ci_high"]).query("lonely"), percent=False)
    assert not [c for c in ax.collections if "Poly" in c.__class__.__name__]
    (line,) = ax.get_lines()
    assert np.allclose(line.get_ydata(), [1.0, 0.85, 0.6])
    assert ax.get_ylabel() == "Proportion surviving"


def test_two_grouping_columns_need_group():
    two = KM.assign(sex="f")[["sex", "lonely", "time", "surv"]]
    with pytest.raises(PlotError, match="Pass by="):
        plot.survival(two)
    with pytest.raises(PlotError, match="'time'"):
        plot.survival(KM.drop(columns="time"))


def test_draws_a_kaplan_meier_result():
    from socialhealth import datasets, models

    sd = datasets.load("demo")
    km = models.kaplan_meier(sd.design, time="followup_years", event="died", by="lonely", se=True)
    ax = plot.survival(km)
    frame = km.to_frame()
    lines = ax.get_lines()
    assert len(lines) == 2
    first = frame[frame["lonely"] == frame["lonely"].iloc[0]]
    assert np.allclose(lines[0].get_ydata()[1:], first["surv"].to_numpy() * 100)
