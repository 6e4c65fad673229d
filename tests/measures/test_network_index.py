"""Berkman-Syme components from the raw Berkman-Breslow items (Loucks et al. 2006 rule).

Expected values are worked out by hand from the rule in the docstring of
socialhealth.measures.network_index: married = code 1; sociability = 0 when close friends AND
close relatives are both at most "1 or 2" (codes 0-1), 1 when either is "3 to 5" or more
(codes 2-4); groups = code 1; church = religious attendance "once or twice a month" or more
(codes 3-5); 9 = unknown -> missing. Levels: 0-1, 2, 3, 4 components.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import ItemCodeError, MeasureError

COLS = ["married", "close_friends", "close_relatives", "groups", "religious_attendance"]


def raw(rows):
    return pd.DataFrame(rows, columns=COLS)


def as_list(s):
    return [None if pd.isna(x) else float(x) for x in s]


def test_each_component_threshold():
    df = raw([
        [0, 0, 0, 0, 0],   # nothing: 0
        [1, 0, 0, 0, 0],   # married only: 1
        [0, 1, 1, 0, 0],   # "1 or 2" friends and relatives: still 0-2 -> sociability 0
        [0, 2, 0, 0, 0],   # 3-5 friends -> sociability 1
        [0, 0, 4, 0, 0],   # 10+ relatives -> sociability 1
        [0, 0, 0, 1, 0],   # group member
        [0, 0, 0, 0, 2],   # every few months: below monthly -> church 0
        [0, 0, 0, 0, 3],   # once or twice a month -> church 1
        [1, 3, 3, 1, 5],   # everything: 4
    ])
    c = measures.berkman_syme_components(df)
    assert list(c.columns) == ["married", "sociability", "church", "groups"]
    assert as_list(c["married"]) == [0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert as_list(c["sociability"]) == [0, 0, 0, 1, 1, 0, 0, 0, 1]
    assert as_list(c["groups"]) == [0, 0, 0, 0, 0, 1, 0, 0, 1]
    assert as_list(c["church"]) == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    s = measures.score("berkman_syme", c, coding="indicators")
    assert as_list(s.score) == [0, 1, 0, 1, 1, 1, 0, 1, 4]
    levels = measures.categorise("berkman_syme", s.score, cutoffs="loucks2006")
    assert list(levels.cat.categories) == ["0-1 components (most isolated)", "2 components",
                                           "3 components", "4 components (most integrated)"]
    assert levels.iloc[0] == levels.iloc[1] == "0-1 components (most isolated)"
    assert levels.iloc[-1] == "4 components (most integrated)"


def test_levels_two_and_three():
    df = raw([[1, 2, 0, 0, 0], [1, 2, 0, 1, 0]])       # 2 and 3 components
    s = measures.score("berkman_syme", measures.berkman_syme_components(df), coding="indicators")
    assert as_list(s.score) == [2, 3]
    assert measures.categorise("berkman_syme", s.score, cutoffs="loucks2006").tolist() == [
        "2 components", "3 components"]


def test_unknown_and_missing_answers():
    df = raw([
        [9, 0, 0, 0, 0],            # married unknown -> married NaN -> score NaN (all 4 needed)
        [0, 9, 3, 0, 0],            # friends unknown but 6-9 relatives: sociability known = 1
        [0, 9, 1, 0, 0],            # friends unknown, relatives 1-2: sociability unknown
        [0, np.nan, 0, 0, 9],       # friends missing; attendance unknown
    ])
    c = measures.berkman_syme_components(df)
    assert as_list(c["married"]) == [None, 0, 0, 0]
    assert as_list(c["sociability"]) == [0, 1, None, None]
    assert as_list(c["church"]) == [0, 0, 0, None]
    s = measures.score("berkman_syme", c, coding="indicators")
    assert as_list(s.score) == [None, 1, None, None]


def test_custom_column_names_and_index_kept():
    df = pd.DataFrame({"mar": [1], "fr": [2], "rel": [0], "grp": [0], "att": [4]}, index=[17])
    c = measures.berkman_syme_components(df, married="mar", close_friends="fr", close_relatives="rel",
                                         groups="grp", religious_attendance="att")
    assert c.index.tolist() == [17]
    assert c.loc[17].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_bad_codes_raise_naming_item():
    df = raw([[0, 5, 0, 0, 0]])     # 5 is not a code of the count items
    with pytest.raises(ItemCodeError, match="close_friends.* has values 5 outside"):
        measures.berkman_syme_components(df)
    df = raw([[2, 0, 0, 0, 0]])
    with pytest.raises(ItemCodeError, match="'married'"):
        measures.berkman_syme_components(df)
    df = raw([[0, 0, 0, 0, "weekly"]])
    with pytest.raises(ItemCodeError, match="religious_attendance"):
        measures.berkman_syme_components(df)


def test_missing_column_and_unknown_rule():
    df = raw([[0, 0, 0, 0, 0]]).drop(columns="groups")
    with pytest.raises(MeasureError, match="'groups'.*not in the data"):
        measures.berkman_syme_components(df)
    with pytest.raises(MeasureError, match="unknown rule"):
        measures.berkman_syme_components(raw([[0, 0, 0, 0, 0]]), rule="berkman1979")


def test_loucks_levels_are_opt_in():
    s = pd.Series([0.0, 4.0])
    with pytest.raises(MeasureError, match="loucks2006"):
        measures.categorise("berkman_syme", s)
    assert "UNVERIFIED" in measures.describe("berkman_syme")
