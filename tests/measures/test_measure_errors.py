"""Bad input gives a clear error (one test each): never a silent NaN or a clipped value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import (
    CodingError,
    ItemCodeError,
    ItemCountError,
    MeasureError,
    MissingColumnError,
    SocialHealthError,
)

ITEMS = {"companionship": "q1", "left_out": "q2", "isolated": "q3"}
DJG6_COLS = ["emptiness", "miss_people", "rejected", "lean_on", "trust", "close_to"]


@pytest.fixture
def ucla():
    return pd.DataFrame({"q1": [1, 2, 3], "q2": [1, 2, 3], "q3": [1, 2, 3]}, dtype="float64")


def test_code_out_of_range_names_item_column_and_values(ucla):
    ucla.loc[1, "q2"] = 4  # a 4-point answer scored on a 3-point key
    ucla.loc[2, "q2"] = 4
    with pytest.raises(ItemCodeError) as err:
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3")
    msg = str(err.value)
    assert "left_out" in msg and "'q2'" in msg and "does not allow: 4 (2 rows)" in msg


def test_codes_bad_in_several_items_reported_together(ucla):
    ucla.loc[0, "q1"] = 0
    ucla.loc[0, "q3"] = 9
    with pytest.raises(ItemCodeError) as err:
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3")
    assert "companionship" in str(err.value) and "isolated" in str(err.value)


def test_string_missing_codes_are_not_silently_dropped():
    df = pd.DataFrame({"q1": [1, "d"], "q2": [1, 2], "q3": [1, 2]}, dtype=object)
    with pytest.raises(ItemCodeError, match="'d'"):
        measures.score("ucla3", df, items=ITEMS, coding="1-3")
    # mapping the code to None in an explicit coding makes it missing, on purpose
    s = measures.score("ucla3", df, items=ITEMS, coding={1: 1, 2: 2, 3: 3, "d": None})
    assert s.score.isna().tolist() == [False, True]


def test_brfss_dont_know_is_missing_but_other_codes_raise():
    df = pd.DataFrame({"x": [7, 9, 8]})
    with pytest.raises(ItemCodeError, match=r"8 \(1 row\)"):
        measures.score("brfss_sdlonely", df, items={"sdlonely": "x"}, coding="brfss")


def test_wrong_number_of_items_list(ucla):
    with pytest.raises(ItemCountError, match="3 items"):
        measures.score("ucla3", ucla, items=["q1", "q2"], coding="1-3")


def test_missing_item_in_mapping(ucla):
    with pytest.raises(ItemCountError, match="missing \\['isolated'\\]"):
        measures.score("ucla3", ucla, items={"companionship": "q1", "left_out": "q2"}, coding="1-3")


def test_unknown_item_in_mapping(ucla):
    with pytest.raises(ItemCountError, match="unknown \\['lonely'\\]"):
        measures.score("ucla3", ucla, items={**ITEMS, "lonely": "q1"}, coding="1-3")


def test_same_column_for_two_items(ucla):
    with pytest.raises(ItemCountError, match="same column"):
        measures.score("ucla3", ucla, items={"companionship": "q1", "left_out": "q1", "isolated": "q3"},
                       coding="1-3")


def test_items_as_string_rejected(ucla):
    with pytest.raises(ItemCountError, match="dict"):
        measures.score("ucla3", ucla, items="q1", coding="1-3")


def test_missing_column(ucla):
    with pytest.raises(MissingColumnError, match="'q4'"):
        measures.score("ucla3", ucla, items={**ITEMS, "isolated": "q4"}, coding="1-3")


def test_unknown_coding_lists_known_ones(ucla):
    with pytest.raises(CodingError, match="'1-3'.*'0-2'"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-5")


def test_coding_is_required(ucla):
    with pytest.raises(CodingError, match="never assumed"):
        measures.score("ucla3", ucla, items=ITEMS)


def test_explicit_coding_to_non_canonical_code(ucla):
    with pytest.raises(CodingError, match="not canonical"):
        measures.score("ucla3", ucla, items=ITEMS, coding={1: 1, 2: 2, 3: 4})


def test_coding_of_wrong_type(ucla):
    with pytest.raises(CodingError, match="preset name"):
        measures.score("ucla3", ucla, items=ITEMS, coding=3)


def test_per_item_coding_must_cover_all_items():
    df = pd.DataFrame({"d": [1], "c": [1], "l": [1], "i": [1]})
    items = {"direct": "d", "companionship": "c", "left_out": "l", "isolated": "i"}
    with pytest.raises(CodingError, match="one coding per item"):
        measures.score("ons_measures", df, items=items, coding="often-first")
    with pytest.raises(CodingError, match="cover every item"):
        measures.score("ons_measures", df, items=items, coding={"direct": "often-first"})
    with pytest.raises(CodingError, match="not 'companionship'"):
        measures.score("ons_measures", df, items=items,
                       coding={"direct": "often-first", "companionship": "often-first",
                               "left_out": "1-3", "isolated": "1-3"})


def test_djg_requires_neutral():
    df = pd.DataFrame([[1, 1, 1, 3, 3, 3]], columns=DJG6_COLS)
    with pytest.raises(CodingError, match="neutral="):
        measures.score("djg6", df, coding="3-point")


def test_djg_neutral_must_match_coding():
    df = pd.DataFrame([[1, 1, 1, 5, 5, 5]], columns=DJG6_COLS)
    with pytest.raises(CodingError, match="does not match"):
        measures.score("djg6", df, coding="5-point-yes-first", neutral=2)


def test_djg_three_point_data_on_five_point_key_raises():
    # a 5-point answer (5 = no!) on the 3-point coding is out of range, not clipped
    df = pd.DataFrame([[1, 1, 1, 5, 3, 3]], columns=DJG6_COLS)
    with pytest.raises(ItemCodeError, match="lean_on"):
        measures.score("djg6", df, coding="3-point", neutral=2)


def test_neutral_only_for_djg(ucla):
    with pytest.raises(CodingError, match="only used"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", neutral=2)


def test_unknown_instrument_suggests():
    with pytest.raises(MeasureError, match="did you mean 'ucla3'|Did you mean 'ucla3'"):
        measures.score("ucla-3", pd.DataFrame(), coding="1-3")


def test_unknown_missing_rule(ucla):
    with pytest.raises(MeasureError, match="missing-item rule"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", missing="mean")


def test_unknown_scale_in_missing_dict(ucla):
    with pytest.raises(MeasureError, match="unknown scale"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", missing={"emotional": "prorate"})
    with pytest.raises(MeasureError, match="unknown scale"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", min_answered={"social": 1})


def test_bad_min_answered(ucla):
    with pytest.raises(MeasureError, match="from 1 to 3"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", missing="prorate", min_answered=4)


def test_prorate_without_published_rule():
    df = pd.DataFrame(np.zeros((1, 10)), columns=[f"dssi{i}" for i in range(1, 11)]) + 1
    with pytest.raises(MeasureError, match="no published rule"):
        measures.score("dssi", df, coding="1-3", missing="prorate")


def test_data_must_be_a_frame():
    with pytest.raises(MeasureError, match="DataFrame"):
        measures.score("ucla3", [[1, 2, 3]], coding="1-3")


def test_bad_prefix(ucla):
    with pytest.raises(MeasureError, match="prefix"):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3", prefix="")


def test_categorise_score_out_of_range():
    with pytest.raises(MeasureError, match="outside the range 0-6"):
        measures.categorise("djg6", pd.Series([0, 7]))


def test_categorise_needs_cutoff_when_none_published():
    with pytest.raises(MeasureError, match="no published cut-off"):
        measures.categorise("ucla3", pd.Series([3, 9]))


def test_categorise_unverified_set_needs_name():
    with pytest.raises(MeasureError, match="van_tilburg_1999"):
        measures.categorise("djg11", pd.Series([3]))


def test_categorise_bad_threshold_and_both_options():
    with pytest.raises(MeasureError, match="outside the score range"):
        measures.categorise("ucla3", pd.Series([3]), cutoff=10)
    with pytest.raises(MeasureError, match="not both"):
        measures.categorise("djg6", pd.Series([3]), cutoffs="manual", cutoff=2)
    with pytest.raises(MeasureError, match="no cut-off set 'cdc'"):
        measures.categorise("djg6", pd.Series([3]), cutoffs="cdc")
    with pytest.raises(MeasureError, match="no scale 'family'"):
        measures.categorise("djg6", pd.Series([3]), scale="family")


def test_all_errors_share_the_base_class(ucla):
    ucla.loc[0, "q1"] = 5
    with pytest.raises(SocialHealthError):
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3")
    with pytest.raises(ValueError):  # MeasureError is also a ValueError
        measures.score("ucla3", ucla, items=ITEMS, coding="1-3")
