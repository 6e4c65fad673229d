"""Regression tests of the library defects the notebook audit found (each fails without its fix).

* plot functions switched matplotlib's interactive mode back off (``mpl.rc_context`` restores
  every rcParam), so a notebook showed only its first figure;
* ``plot.likert`` with long answer labels and ``plot.forest`` with long row labels squeezed
  their axes to a sliver (constrained layout: "axes sizes collapsed to zero");
* ``plot.risk_factors`` wrote "anchor" (the row kind) after each published estimate of a
  ``compare_risk_factors`` table instead of the paper;
* ``models.coxph`` refused a list of linked-panel columns (``age@2016``: not quoted);
* table labels of linked-panel columns read ``Age group@2006``;
* ``SurveyData`` printed ``wave=None, file=None`` for the demo.
"""
from __future__ import annotations

import warnings

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.plot.style import plain_text


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plot_keeps_interactive_mode():
    """Jupyter's inline backend turns interactive mode on when the first figure is made; a
    plot function must not switch it back off on return."""
    @plain_text
    def draw():
        mpl.interactive(True)         # what the inline backend does on the first figure
        _fig, ax = plt.subplots()
        return ax

    old = mpl.is_interactive()
    try:
        mpl.interactive(False)
        draw()
        assert mpl.is_interactive()
        assert mpl.rcParams["text.parse_math"] is True      # the one setting is restored
    finally:
        mpl.interactive(old)


def _axes_width(ax):
    fig = ax.figure
    fig.canvas.draw()
    return ax.get_position().width


def test_likert_long_labels_keep_the_bars_wide():
    levels = ["None or almost none of the time", "Some of the time", "Most of the time",
              "All or almost all of the time"]
    t = pd.DataFrame({"group": np.repeat(["a", "b"], 4), "level": levels * 2,
                      "estimate": [0.7, 0.2, 0.06, 0.04] * 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # "constrained_layout not applied" is a warning
        ax = sh.plot.likert(t, by="group", levels=levels)
        assert _axes_width(ax) > 0.6


def test_forest_long_labels_keep_the_axes_wide():
    labels = [f"Baseline / P(retained): + age group (2006), sex (2006), model {k}"
              for k in range(4)]
    t = pd.DataFrame({"label": labels, "estimate": [1.3, 1.0, 1.1, 0.9],
                      "ci_low": [0.6, 0.5, 0.5, 0.4], "ci_high": [2.7, 2.2, 2.5, 2.1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = sh.plot.forest(t, label="label")
        assert _axes_width(ax) > 0.25


def test_risk_factors_names_the_paper_not_the_row_kind():
    survey = pd.DataFrame({"label": ["lonely"], "estimate": [1.8], "ci_low": [1.4],
                           "ci_high": [2.3], "source": ["survey"]})
    anchors = pd.DataFrame({"label": ["lonely"], "estimate": [1.22], "ci_low": [1.1],
                            "ci_high": [1.35], "source": ["anchor"],
                            "anchor_key": ["rico-uribe_2018"]})
    ax = sh.plot.risk_factors(survey, anchors)
    texts = [t.get_text() for t in ax.texts]
    assert any("rico-uribe_2018" in t for t in texts), texts
    assert not any(t.rstrip().endswith("anchor") for t in texts), texts


def test_coxph_accepts_a_list_of_panel_columns():
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame({"age@2016": rng.uniform(20, 80, n), "time": rng.exponential(5, n),
                       "weight": rng.uniform(0.5, 2, n)})
    df["event"] = (df["time"] < 6).astype(float)
    df["time"] = df["time"].clip(upper=6)
    d = sh.SurveyDesign(df, weights="weight")
    listed = sh.models.coxph(d, time="time", event="event", covariates=["age@2016"])
    quoted = sh.models.coxph(d, time="time", event="event", covariates="`age@2016`")
    assert listed.to_frame()["estimate"].iloc[0] == quoted.to_frame()["estimate"].iloc[0]


def test_panel_column_labels_are_words():
    from socialhealth.tables.labels import variable_label

    assert variable_label("age_group@2006") == "Age group (2006)"
    assert variable_label("poor_health@2010", {"poor_health": "Poor health"}) == \
        "Poor health (2010)"
    assert variable_label("email@home") == "Email@home"        # not a year: unchanged


def test_change_summary_names_concepts_in_words():
    from socialhealth.models._change import _pair

    assert _pair(("self_rated_health@2006", "self_rated_health@2010")) == \
        "Self rated health, 2006 -> 2010"


def test_surveydata_repr_has_no_none():
    text = repr(sh.datasets.load("demo"))
    assert "None" not in text and text.startswith("SurveyData('demo', rows=")
