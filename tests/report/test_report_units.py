"""Units in the report: titles name no unit, headers do, frames keep proportions on 0-1.

The prevalence table used to be titled "Prevalence (%)" while its ``frame`` held proportions
(0.0708 under a "%" title). Now every table title is unit-free, the ``percent`` columns of
each frame are proportions in [0, 1], their rendered headers end in "(%)" and the rendered cell
is 100 x the weighted share, computed here by hand from the raw demo columns.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from socialhealth import datasets, report



def _panel():
    """The generated two-wave panel of test_report_longitudinal.py (loaded from its file)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "_report_longitudinal", Path(__file__).with_name("test_report_longitudinal.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod._panel()


@pytest.fixture(scope="module")
def demo_report():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return report.build(datasets.load("demo"), outcomes=["poor_health"], panel=_panel())


def _tables(rep):
    return [(s.key, t) for s in rep.sections for t in s.tables]


def test_the_walk_sees_the_percent_tables(demo_report):
    titles = [t.title for _, t in _tables(demo_report)]
    assert "Prevalence with 95% confidence intervals" in titles
    assert "Prevalence by year" in titles
    assert any(t.title.startswith("Transitions of") for _, t in _tables(demo_report))


def test_no_title_names_a_unit_and_percent_columns_hold_proportions(demo_report):
    for key, t in _tables(demo_report):
        title_without_ci = re.sub(r"\d+% (confidence intervals|CIs?)", "", t.title)
        assert "%" not in title_without_ci, (key, t.title)
        for c in t.percent:
            vals = t.frame[c].astype(float).to_numpy()
            vals = vals[np.isfinite(vals)]
            assert len(vals) and vals.min() >= 0 and vals.max() <= 1, (key, t.title, c)
            header = t.header("ci" if c in ("ci_low", "ci_high") else c)
            assert header.endswith("(%)"), (key, t.title, c, header)
        # a column that is not a percentage never gets "(%)"
        for c in t.frame.columns:
            if c not in t.percent and c not in ("ci_low", "ci_high"):
                assert not t.header(c).endswith("(%)"), (key, t.title, c)


def test_rendered_prevalence_is_the_weighted_share_in_percent(demo_report):
    sd = datasets.load("demo")
    d = sd.data
    ok = d["lonely"].notna() & (d["weight"] > 0)
    w = d.loc[ok, "weight"].astype(float)
    x = d.loc[ok, "lonely"].astype(float)
    share = float((w * x).sum() / w.sum())            # by hand, from the raw columns
    t = demo_report["prevalence"].table("Prevalence with 95% confidence intervals")
    assert float(t.frame["estimate"].iloc[0]) == pytest.approx(share, abs=1e-12)
    shown = t.display()
    assert shown["Estimate (%)"].iloc[0] == f"{100 * share:.1f}"
    html = demo_report.to_html()
    assert "Prevalence with 95% confidence intervals" in html
    assert "Prevalence (%)" not in html.split("<svg")[0].replace("ylabel", "")


def test_transition_heat_map_axes_are_labelled_in_words(monkeypatch):
    # the heat map used the derived column names (contact_in_person_geless_than_monthly@2006),
    # cut off at the figure's edge; now the exposure's display name and the wave
    from socialhealth import plot

    seen = {}
    real = plot.transitions

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(plot, "transitions", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = report.build(datasets.load("demo"), outcomes=["poor_health"], panel=_panel())
    assert rep["longitudinal"].status == "ok"
    name = rep.meta.get("exposure_name") or "Loneliness"
    assert seen["ylabel"].replace("\n", " ").endswith(", 2006")
    assert seen["xlabel"].endswith(", 2010")
    assert "@" not in seen["xlabel"] + seen["ylabel"]
    assert name.split()[0] in seen["xlabel"]
