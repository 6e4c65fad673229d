"""models.transitions: weighted from -> to tables between two waves of a linked panel.

R: fixtures/prospective/make_transitions.R (svytable, svyciprop logit on the persons answering
both waves and on each from-state domain) on the linked rows that examples.py writes to a temp
dir; only R's numbers are committed (transitions_reference.json). Generated panel: by hand.
"""
from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import models
from socialhealth.datasets import PanelData
from socialhealth.errors import MissingColumnError, ModelError

FIX = Path(__file__).parent / "fixtures" / "prospective"
R = json.loads((FIX / "transitions_reference.json").read_text())["results"]
_spec = importlib.util.spec_from_file_location("prospective_examples_t", FIX / "examples.py")
EX = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EX)


@pytest.mark.parametrize("ex", EX.TRANSITIONS, ids=[e["name"] for e in EX.TRANSITIONS])
def test_transitions_equal_r_on_real_panels(shared_data_dir, ex):
    if not (shared_data_dir / "gss" / ex["file"]).exists():
        pytest.skip(f"{ex['file']} not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = EX.load(ex, shared_data_dir)
    ref = R[ex["name"]]
    t = models.transitions(panel, ex["concept"], *ex["waves"])
    f = t.to_frame()
    assert t.n == ref["n_both"]
    assert len(f) == len(ref["cells"])
    got = f.set_index(["from_state", "to_state"])
    for c in ref["cells"]:
        row = got.loc[(c["from"], c["to"])]
        assert row["n"] == c["n"] and row["df"] == c["df"] and row["row_df"] == c["row_df"]
        keys = ["weighted", "share", "se", "ci_low", "ci_high", "row_share", "row_se",
                "row_ci_low", "row_ci_high"]
        # R writes undefined interval ends (a share of 0 or 1) as the string "NA"/"NaN"
        want = [np.nan if isinstance(c[k], str) else c[k] for k in keys]
        np.testing.assert_allclose(row[keys].to_numpy(dtype=float), want, rtol=1e-10)


def _panel():
    data = pd.DataFrame({
        "weight": [1.0, 1, 2, 2, 1, 1, 1, 3, 1, 2, 1, 1],
        "strata": ["s"] * 6 + ["t"] * 6, "psu": ["1", "2", "3"] * 4,
        "srh@2006": pd.Categorical(["good", "good", "fair", "poor", "good", "fair", "good",
                                    None, "fair", "good", "poor", "good"],
                                   categories=["good", "fair", "poor"], ordered=True),
        "srh@2010": pd.Categorical(["good", "fair", "fair", "poor", "good", "poor", "good",
                                    "good", "fair", "fair", "poor", None],
                                   categories=["good", "fair", "poor"], ordered=True)})
    return PanelData("gen", data, pd.DataFrame(), {}, {"weights": "weight", "strata": "strata",
                                                        "psu": "psu", "nest": True},
                     waves=[2006, 2010])


def test_generated_table_by_hand():
    t = models.transitions(_panel(), "srh", 2006, 2010)
    f = t.to_frame()
    # persons answering both: rows 0-6, 8-10 (10 persons; row 7 and row 11 miss one wave)
    # weights: 1 1 2 2 1 1 1 | 1 2 1 -> total 13
    # good->good rows 0, 4, 6 (w 3); good->fair rows 1, 9 (w 1 + 2 = 3); fair->fair rows 2, 8
    # (w 3); fair->poor row 5 (1); poor->poor rows 3, 10 (3)
    assert t.n == 10
    assert list(zip(f["from_state"], f["to_state"])) == [
        ("good", "good"), ("good", "fair"), ("fair", "fair"), ("fair", "poor"), ("poor", "poor")]
    assert f["n"].tolist() == [3, 2, 2, 1, 2]
    np.testing.assert_allclose(f["weighted"], [3, 3, 3, 1, 3])
    # (logit method: the estimate is expit of an IRLS intercept, exact to ~1e-11)
    np.testing.assert_allclose(f["share"], np.array([3, 3, 3, 1, 3]) / 13, rtol=1e-9)
    np.testing.assert_allclose(f["row_share"], [0.5, 0.5, 0.75, 0.25, 1.0], rtol=1e-9)
    # poor -> poor is 1 in its domain: as in R, the logit interval is undefined
    assert np.isnan(f["row_ci_low"].iloc[-1])
    m = t.matrix()
    assert list(m.index) == ["good", "fair", "poor"] and list(m.columns) == ["good", "fair", "poor"]
    assert m.loc["good", "fair"] == pytest.approx(0.5) and np.isnan(m.loc["poor", "good"])
    assert repr(t).startswith("Transitions of srh: srh@2006 -> srh@2010 (10 persons")


def test_errors():
    p = _panel()
    with pytest.raises(MissingColumnError):
        models.transitions(p, "srh", 2006, 2014)
    p.data["x@2006"] = [None] * 12
    p.data["x@2010"] = ["a"] * 12
    with pytest.raises(ModelError, match="both"):
        models.transitions(p, "x", 2006, 2010)
    with pytest.raises(ModelError, match="value"):
        models.transitions(p, "srh", 2006, 2010).matrix("nope")
