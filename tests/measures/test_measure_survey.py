"""Scores join a SurveyData-like object: its data and design gain the score columns."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import measures

ITEMS = {"companionship": "q1", "left_out": "q2", "isolated": "q3"}


def _df():
    # scores: 3, 9, 6, missing; weights 1, 2, 1, 5
    return pd.DataFrame(
        {"q1": [1, 3, 2, 1], "q2": [1, 3, 2, None], "q3": [1, 3, 2, 1], "w": [1.0, 2.0, 1.0, 5.0]},
        index=[10, 11, 12, 13],
    )


class FakeDesign:
    def __init__(self, data):
        self.data = data

    def assign(self, **cols):
        return FakeDesign(self.data.assign(**cols))


class FakeSurvey:
    def __init__(self, data):
        self.data = data
        self.design = FakeDesign(data)


def test_fake_survey_gets_columns_in_data_and_design():
    sd = FakeSurvey(_df())
    old_design = sd.design
    s = measures.score("ucla3", sd, items=ITEMS, coding="1-3", cutoff=6)
    assert s.survey is sd
    for obj in (sd.data, sd.design.data):
        assert obj["ucla3_score"].tolist()[:3] == [3.0, 9.0, 6.0]
        assert pd.isna(obj["ucla3_score"].iloc[3])
        assert obj["ucla3_category"].tolist()[:3] == ["not lonely", "lonely", "lonely"]
        assert obj["ucla3_n_answered"].tolist() == [3, 3, 3, 2]
    assert "ucla3_score" not in old_design.data.columns  # the old design is left untouched
    assert list(sd.data.index) == [10, 11, 12, 13]


def test_prefix_names_the_columns():
    sd = FakeSurvey(_df())
    measures.score("ucla3", sd, items=ITEMS, coding="1-3", prefix="tils")
    assert {"tils_score", "tils_n_answered"} <= set(sd.design.data.columns)


def test_real_design_mean_of_score():
    from socialhealth import SurveyDesign

    class Survey:  # a minimal SurveyData-like holder around the real design
        def __init__(self, data):
            self.data = data
            self.design = SurveyDesign(data, weights="w")

    sd = Survey(_df())
    measures.score("ucla3", sd, items=ITEMS, coding="1-3")
    est = sd.design.mean("ucla3_score").to_frame()
    # available cases: (1*3 + 2*9 + 1*6) / (1 + 2 + 1) = 27 / 4
    assert est["estimate"].iloc[0] == pytest.approx(6.75, abs=1e-12)


def test_real_surveydata():
    from socialhealth.datasets._surveydata import SurveyData

    sd = SurveyData(name="test", data=_df(), codebook=pd.DataFrame({"measured": []}),
                    provenance={}, design_spec={"weights": "w"})
    sd.design  # noqa: B018 - build it
    measures.score("ucla3", sd, items=ITEMS, coding="1-3")
    assert "ucla3_score" in sd.data.columns
    assert sd.design.mean("ucla3_score").to_frame()["estimate"].iloc[0] == pytest.approx(6.75, abs=1e-12)


def test_harmonised_item_names_and_replacement_warning():
    from socialhealth.errors import SocialHealthWarning

    df = pd.DataFrame({"ucla3_companionship": [1, 3], "ucla3_left_out": [2, 3],
                       "ucla3_isolated": [3, 3], "ucla3_score": [0.0, 0.0]})
    sd = FakeSurvey(df)
    with pytest.warns(SocialHealthWarning, match="replaced existing survey column"):
        s = measures.score("ucla3", sd, coding="1-3")  # items found as ucla3_<item>
    assert s.score.tolist() == [6.0, 9.0]
    assert sd.data["ucla3_score"].tolist() == [6.0, 9.0]
