"""SurveyData.assign and the checked design setter (used by measures.score on a SurveyData)."""
from __future__ import annotations

import numpy as np
import pytest

from socialhealth import datasets, measures
from socialhealth.errors import DesignError


@pytest.fixture()
def sd():
    return datasets.load("demo", cache=False)


def test_assign_returns_new_survey_and_keeps_design(sd):
    before = sd.design.mean("age").to_frame()
    sd2 = sd.assign(older=lambda d: (d["age"] >= 65).astype(float))
    assert "older" not in sd.data and "older" not in sd.design.data      # original untouched
    assert "older" in sd2.data and "older" in sd2.design.data
    assert sd2.provenance["assigned_columns"] == ["older"]
    # same design structure: the mean of an old column is unchanged, to the last digit
    after = sd2.design.mean("age").to_frame()
    assert after["estimate"].iloc[0] == before["estimate"].iloc[0]
    assert after["se"].iloc[0] == before["se"].iloc[0]
    # the new column is the hand-built indicator
    expected = (sd.data["age"] >= 65).astype(float)
    assert np.array_equal(sd2.data["older"].to_numpy(), expected.to_numpy())


def test_assign_before_design_is_built(sd):
    sd2 = sd.assign(x=2.0)
    assert sd2._design is None                # built lazily from the new data
    assert sd2.design.mean("x").to_frame()["estimate"].iloc[0] == pytest.approx(2.0, abs=0)


def test_design_setter_rejects_other_rows_and_objects(sd):
    with pytest.raises(DesignError, match="keep every row"):
        sd.design = type(sd.design)(sd.data.iloc[:10], **{k: v for k, v in sd.design_spec.items()
                                                          if k not in ("kind", "notes")})
    with pytest.raises(DesignError, match="must be a socialhealth"):
        sd.design = sd.data


def test_measures_score_attaches_through_public_setter(sd):
    s = measures.score("ucla3", sd, items={"companionship": "ucla3_companionship",
                                           "left_out": "ucla3_left_out", "isolated": "ucla3_isolated"},
                       coding="1-3", prefix="check_")
    added = [c for c in sd.data.columns if c.startswith("check_")]
    assert added and all(c in sd.design.data for c in added)
    score_col = [c for c in added if c.endswith("score")][0]
    assert np.allclose(sd.data[score_col].to_numpy(), s.score.to_numpy(), equal_nan=True)
    assert sd.design.mean(score_col).to_frame()["estimate"].notna().all()
