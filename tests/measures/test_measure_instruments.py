"""Every instrument scored on hand-computed edge rows.

Expected values are worked out by hand from each instrument's published rules (written next to
each case), never computed by socialhealth: all-minimum and all-maximum rows (the published
range), each reverse-keyed item, and missing items under every missing-item rule.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import MeasureError, SocialHealthWarning

NA = np.nan


def frame(rows, cols):
    return pd.DataFrame(rows, columns=cols, dtype="float64")


def vals(series):
    return [None if pd.isna(v) else float(v) for v in series]


# ----------------------------------------------------------------------------------- UCLA-3
UCLA3_ITEMS = {"companionship": "q1", "left_out": "q2", "isolated": "q3"}


def test_ucla3_range_and_missing_rules():
    df = frame([[1, 1, 1], [3, 3, 3], [2, 3, NA], [2, NA, NA], [NA, NA, NA]], ["q1", "q2", "q3"])
    # published range 3-9; row 2: 2 of 3 answered, row 3: 1 of 3 answered
    s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding="1-3")
    assert vals(s.score) == [3, 9, None, None, None]  # default rule: complete
    assert s.missing["total"] == ("complete", 3)
    s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding="1-3", missing="prorate")
    assert vals(s.score) == [3, 9, 7.5, None, None]  # (2 + 3) / 2 * 3 = 7.5; 1 answered < 2
    s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding="1-3", missing="available")
    assert vals(s.score) == [3, 9, 5, None, None]
    with pytest.warns(SocialHealthWarning, match="biased"):
        s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding="1-3", missing="none")
    assert vals(s.score) == [3, 9, 5, 2, None]
    assert s.n_items_answered.tolist() == [3, 3, 2, 1, 0]
    assert s.category is None  # no published cut-off


def test_ucla3_codings_and_cutoff():
    df = frame([[1, 1, 1], [3, 3, 3], [1, 2, 3]], ["q1", "q2", "q3"])
    # HRS order: 1 often ... 3 hardly ever -> reversed: 1->3, 3->1
    s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding="hrs-often-first")
    assert vals(s.score) == [9, 3, 6]
    s = measures.score("ucla3", df - 1, items=UCLA3_ITEMS, coding="0-2")  # 0-2 shifted by one
    assert vals(s.score) == [3, 9, 6]
    s = measures.score("ucla3", df, items=UCLA3_ITEMS, coding={1: 1, 2: 2, 3: 3}, cutoff=6)
    assert s.category.tolist() == ["not lonely", "lonely", "lonely"]  # 3 < 6; 9 >= 6; 6 >= 6
    cats = measures.categorise("ucla3", pd.Series([3, 5, 5.5, 6, 9]), cutoff=6)
    assert cats.tolist() == ["not lonely", "not lonely", "not lonely", "lonely", "lonely"]


def test_ucla3_items_as_list_and_default_names():
    df = frame([[1, 2, 3]], ["companionship", "left_out", "isolated"])
    assert vals(measures.score("ucla3", df, coding="1-3").score) == [6]
    df2 = frame([[1, 2, 3]], ["a", "b", "c"])
    assert vals(measures.score("ucla3", df2, items=["a", "b", "c"], coding="1-3").score) == [6]


# ----------------------------------------------------------------------------------- UCLA-20
UCLA20_REVERSED = [1, 5, 6, 9, 10, 15, 16, 19, 20]  # Russell 1996: nine positively worded items
UCLA20_COLS = [f"item{i}" for i in range(1, 21)]


def _ucla20_row(reversed_code, other_code):
    return [reversed_code if i in UCLA20_REVERSED else other_code for i in range(1, 21)]


def test_ucla20_range():
    df = frame([_ucla20_row(4, 1), _ucla20_row(1, 4), [1] * 20, [4] * 20], UCLA20_COLS)
    s = measures.score("ucla20", df, coding="1-4")
    # min: positive items answered 4 (-> 1), negative 1 -> 20; max -> 80
    # all raw 1: 11 negative items x 1 + 9 reversed x 4 = 47; all raw 4: 11 x 4 + 9 x 1 = 53
    assert vals(s.score) == [20, 80, 47, 53]
    s0 = measures.score("ucla20", df - 1, coding="0-3")
    assert vals(s0.score) == [20, 80, 47, 53]


@pytest.mark.parametrize("item", range(1, 21))
def test_ucla20_each_item_direction(item):
    row = _ucla20_row(4, 1)  # score 20
    row[item - 1] = 1 if item in UCLA20_REVERSED else 4
    s = measures.score("ucla20", frame([row], UCLA20_COLS), coding="1-4")
    assert vals(s.score) == [23]  # one item moved from its lowest to its highest scored value


def test_ucla20_missing_rules():
    base = _ucla20_row(3, 2)  # every item scores 2 after reversal -> 40
    four = list(base)
    for i in (2, 3, 4, 5):
        four[i - 1] = NA
    five = list(four)
    five[6] = NA
    df = frame([base, four, five], UCLA20_COLS)
    assert vals(measures.score("ucla20", df, coding="1-4").score) == [40, None, None]
    # prorate needs 16 of 20: 16 answered -> 2 * 20 = 40; 15 answered -> missing
    assert vals(measures.score("ucla20", df, coding="1-4", missing="prorate").score) == [40, 40, None]
    assert vals(measures.score("ucla20", df, coding="1-4", missing="available").score) == [40, 32, None]
    with pytest.warns(SocialHealthWarning):
        assert vals(measures.score("ucla20", df, coding="1-4", missing="none").score) == [40, 32, 30]


# ----------------------------------------------------------------------------------- DJG-6
DJG6_COLS = ["emptiness", "miss_people", "rejected", "lean_on", "trust", "close_to"]


def test_djg6_edges_and_neutral():
    # codes 1 no, 2 more or less, 3 yes; emotional items first, social (positive) last
    df = frame(
        [
            [1, 1, 1, 3, 3, 3],  # not lonely anywhere -> 0
            [3, 3, 3, 1, 1, 1],  # lonely everywhere -> 6
            [2, 2, 2, 2, 2, 2],  # "more or less" counts as lonely on both kinds -> 6
            [1, 1, 1, 1, 3, 3],  # social item lean_on answered "no" -> 1 (social 1)
            [1, 1, 1, 3, 2, 3],  # social item trust "more or less" -> 1
            [1, 1, 1, 3, 3, 1],  # close_to "no" -> 1
            [2, 1, 1, 3, 3, 3],  # emptiness "more or less" -> 1 (emotional 1)
            [3, 3, 1, 1, 3, 3],  # 2 emotional + 1 social -> 3, moderately lonely
        ],
        DJG6_COLS,
    )
    s = measures.score("djg6", df, coding="3-point", neutral=2)
    assert vals(s.score) == [0, 6, 6, 1, 1, 1, 1, 3]
    assert vals(s.subscales["emotional"]) == [0, 3, 3, 0, 0, 0, 1, 2]
    assert vals(s.subscales["social"]) == [0, 3, 3, 1, 1, 1, 0, 1]
    assert s.category.tolist() == ["not lonely", "severely lonely", "severely lonely", "not lonely",
                                   "not lonely", "not lonely", "not lonely", "moderately lonely"]
    assert s.subscale_categories["social"].tolist() == ["not lonely", "lonely", "lonely", "lonely",
                                                       "lonely", "lonely", "not lonely", "lonely"]
    frame_out = s.to_frame()
    assert {"djg6_score", "djg6_emotional", "djg6_social", "djg6_category",
            "djg6_emotional_category", "djg6_social_category"} <= set(frame_out.columns)


def test_djg6_five_point_and_reversed_three_point():
    # 5-point, 1 yes! 2 yes 3 more or less 4 no 5 no!
    df = frame([[1, 2, 3, 3, 4, 5], [4, 5, 4, 1, 2, 1]], DJG6_COLS)
    s = measures.score("djg6", df, coding="5-point-yes-first", neutral=3)
    assert vals(s.score) == [6, 0]
    s = measures.score("djg6", 6 - df, coding="5-point-no-first", neutral=3)  # same answers
    assert vals(s.score) == [6, 0]
    df3 = frame([[1, 1, 1, 3, 3, 3]], DJG6_COLS)  # 1 yes, 3 no: lonely everywhere
    assert vals(measures.score("djg6", df3, coding="3-point-yes-first", neutral=2).score) == [6]


def test_djg6_missing_rules_follow_manual():
    df = frame(
        [
            [3, 3, NA, 1, 1, 1],  # 1 missing: manual counts the 5 answered -> 5; emotional missing
            [3, NA, NA, 1, 1, 1],  # 2 missing: total missing; social 3
            [NA, NA, NA, NA, NA, NA],
        ],
        DJG6_COLS,
    )
    s = measures.score("djg6", df, coding="3-point", neutral=2)  # default = manual rule
    assert vals(s.score) == [5, None, None]
    assert vals(s.subscales["emotional"]) == [None, None, None]
    assert vals(s.subscales["social"]) == [3, 3, None]
    assert s.category.tolist()[0] == "severely lonely"
    assert pd.isna(s.category.iloc[1])
    s = measures.score("djg6", df, coding="3-point", neutral=2, missing="prorate")
    assert vals(s.score) == [6, None, None]  # 5 / 5 * 6
    s = measures.score("djg6", df, coding="3-point", neutral=2, missing="complete")
    assert vals(s.score) == [None, None, None]
    with pytest.warns(SocialHealthWarning):
        s = measures.score("djg6", df, coding="3-point", neutral=2, missing="none")
    assert vals(s.score) == [5, 4, None]
    assert vals(s.subscales["emotional"]) == [2, 1, None]  # none: 1 + 1 answered; 1


# ----------------------------------------------------------------------------------- DJG-11
DJG11_COLS = ["talk_to", "close_friend", "emptiness", "lean_on", "miss_company", "circle_limited",
              "trust", "close_to", "miss_people", "rejected", "call_on"]
DJG11_SOCIAL = [1, 4, 7, 8, 11]  # positively worded, reverse keyed (manual)


def _djg11_row(lonely: bool):
    # social items: "no" (1) is lonely; emotional: "yes" (3) is lonely
    return [(1 if lonely else 3) if i in DJG11_SOCIAL else (3 if lonely else 1) for i in range(1, 12)]


def test_djg11_range_and_subscales():
    df = frame([_djg11_row(False), _djg11_row(True)], DJG11_COLS)
    s = measures.score("djg11", df, coding="3-point", neutral=2)
    assert vals(s.score) == [0, 11]
    assert vals(s.subscales["emotional"]) == [0, 6]
    assert vals(s.subscales["social"]) == [0, 5]
    assert s.category is None  # 11-item cut-offs are unverified: only by name


@pytest.mark.parametrize("item", DJG11_SOCIAL)
def test_djg11_each_reversed_item(item):
    row = _djg11_row(False)
    row[item - 1] = 1  # "no" on a positively worded item -> 1
    s = measures.score("djg11", frame([row], DJG11_COLS), coding="3-point", neutral=2)
    assert vals(s.score) == [1]
    assert vals(s.subscales["social"]) == [1]


def test_djg11_opt_in_cutoffs_and_explicit_proration():
    cats = measures.categorise("djg11", pd.Series([0, 2, 3, 8, 9, 10, 11]), cutoffs="van_tilburg_1999")
    assert cats.tolist() == ["not lonely", "not lonely", "moderately lonely", "moderately lonely",
                             "severely lonely", "severely lonely", "very severely lonely"]
    row = _djg11_row(True)
    row[0] = NA
    df = frame([row], DJG11_COLS)
    with pytest.raises(MeasureError, match="min_answered"):
        measures.score("djg11", df, coding="3-point", neutral=2, missing="prorate")
    s = measures.score("djg11", df, coding="3-point", neutral=2, missing="prorate",
                       min_answered={"total": 10, "social": 4, "emotional": 5})
    assert vals(s.score) == [11]  # 10 answered, all lonely: 10 / 10 * 11
    assert vals(s.subscales["social"]) == [5]  # 4 / 4 * 5
    assert vals(s.subscales["emotional"]) == [6]


# ----------------------------------------------------------------------------------- ONS
def test_ons_direct_codings_and_headline():
    df = pd.DataFrame({"lonely": [1, 2, 3, 4, 5, NA]})
    s = measures.score("ons_direct", df, items={"direct": "lonely"}, coding="often-first")
    assert vals(s.score) == [5, 4, 3, 2, 1, None]
    assert s.category.tolist()[:5] == ["often/always", "some of the time", "occasionally",
                                       "hardly ever", "never"]
    head = measures.categorise("ons_direct", s.score, cutoffs="headline")
    assert head.tolist()[:5] == ["often/always"] + ["less than often"] * 4
    s2 = measures.score("ons_direct", df, items={"direct": "lonely"}, coding="never-first")
    assert vals(s2.score) == [1, 2, 3, 4, 5, None]


def test_ons_measures_per_item_codings():
    df = frame([[1, 3, 3, 3], [5, 1, 1, 1], [2, 2, NA, 2]], ["d", "c", "l", "i"])
    coding = {"direct": "often-first", "companionship": "1-3", "left_out": "1-3", "isolated": "1-3"}
    s = measures.score("ons_measures", df, items={"direct": "d", "companionship": "c",
                                                  "left_out": "l", "isolated": "i"}, coding=coding)
    assert vals(s.score) == [5, 1, 4]  # direct question, often-first reversed
    assert vals(s.subscales["ucla3"]) == [9, 3, None]  # UCLA-3 sum; complete by default


# ----------------------------------------------------------------------------------- CES-D
def test_cesd_lonely_codings():
    s = measures.score("cesd_lonely", pd.DataFrame({"f": [1, 2, 3, 4]}), items=["f"], coding="1-4")
    assert vals(s.score) == [0, 1, 2, 3]  # ESS fltlnl / GSS cesd4 shifted to Radloff's 0-3
    assert s.category.tolist()[3] == "most or all of the time"
    s = measures.score("cesd_lonely", pd.DataFrame({"f": [0, 3]}), items=["f"], coding="0-3")
    assert vals(s.score) == [0, 3]
    s = measures.score("cesd8_lonely", pd.DataFrame({"f": [0, 1, NA]}), items=["f"], coding="0-1")
    assert vals(s.score) == [0, 1, None]
    assert s.category.tolist()[:2] == ["no", "yes"]


# ----------------------------------------------------------------------------------- LSNS-6
LSNS_COLS = ["family_see", "family_talk", "family_help", "friends_see", "friends_talk", "friends_help"]


def test_lsns6_range_cutoff_and_subscales():
    df = frame([[0] * 6, [5] * 6, [2] * 6, [2, 2, 2, 2, 2, 1]], LSNS_COLS)
    s = measures.score("lsns6", df, coding="0-5")
    assert vals(s.score) == [0, 30, 12, 11]
    assert s.category.tolist() == ["at risk of social isolation", "not at risk", "not at risk",
                                   "at risk of social isolation"]  # < 12 at risk (Lubben 2006)
    assert vals(s.subscales["family"]) == [0, 15, 6, 6]
    assert vals(s.subscales["friends"]) == [0, 15, 6, 5]
    assert s.subscale_categories.empty  # subscale cut-off unverified: explicit only
    fam = measures.categorise("lsns6", s.subscales["friends"], scale="friends", cutoff=6)
    assert fam.tolist() == ["at risk (below cut-off)", "not at risk", "not at risk",
                            "at risk (below cut-off)"]
    df.iloc[0, 0] = NA
    with pytest.raises(MeasureError, match="min_answered"):
        measures.score("lsns6", df, coding="0-5", missing="prorate")
    # prorate the total only (subscales keep their default 'complete')
    s = measures.score("lsns6", df, coding="0-5", missing={"total": "prorate"}, min_answered=5)
    assert vals(s.score) == [0, 30, 12, 11]  # row 0: 5 answered zeros -> 0 / 5 * 6 = 0
    assert vals(s.subscales["family"])[0] is None
    row = frame([[NA, 5, 5, 4, 4, 4]], LSNS_COLS)
    s = measures.score("lsns6", row, coding="0-5", missing={"total": "prorate"}, min_answered=5)
    assert s.score.iloc[0] == pytest.approx(26.4, abs=1e-12)  # (5 + 5 + 4 + 4 + 4) / 5 * 6


# ----------------------------------------------------------------------------------- indices
def test_berkman_syme_components_only():
    df = frame([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 1, NA]], ["married", "sociability", "church", "groups"])
    s = measures.score("berkman_syme", df, coding="indicators")
    assert vals(s.score) == [0, 4, None]
    assert s.category is None
    with pytest.raises(MeasureError, match="could not be verified"):
        measures.categorise("berkman_syme", s.score)


def test_steptoe_index():
    cols = ["not_partnered", "contact_children", "contact_family", "contact_friends", "no_organisations"]
    df = frame([[0] * 5, [1] * 5, [1, 0, 0, 1, 0]], cols)
    s = measures.score("steptoe_isolation", df, coding="indicators")
    assert vals(s.score) == [0, 5, 2]
    with pytest.raises(MeasureError, match="no published cut-off"):
        measures.categorise("steptoe_isolation", s.score)
    assert measures.categorise("steptoe_isolation", s.score, cutoff=2).tolist() == [
        "not isolated (below cut-off)", "isolated", "isolated"]


def test_dssi_range_and_subscales():
    cols = [f"dssi{i}" for i in range(1, 11)]
    df = frame([[1] * 10, [3] * 10, [3, 3, 3, 3, 1, 1, 1, 1, 1, 1]], cols)
    s = measures.score("dssi", df, coding="1-3")
    assert vals(s.score) == [10, 30, 18]
    assert vals(s.subscales["social_interaction"]) == [4, 12, 12]
    assert vals(s.subscales["satisfaction"]) == [6, 18, 6]


# ----------------------------------------------------------------------------------- BRFSS
@pytest.mark.parametrize("key,item", [("brfss_sdhisolt", "sdhisolt"), ("brfss_sdlonely", "sdlonely")])
def test_brfss_items(key, item):
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 7, 9, NA]})
    s = measures.score(key, df, items={item: "x"}, coding="brfss")
    assert vals(s.score) == [5, 4, 3, 2, 1, None, None, None]  # 1 Always -> 5; 7/9 missing
    assert s.category.tolist()[:5] == ["always", "usually", "sometimes", "rarely", "never"]
    cdc = measures.categorise(key, s.score, cutoffs="cdc")
    assert cdc.tolist()[:5] == ["always, usually or sometimes"] * 3 + ["rarely or never"] * 2


# ----------------------------------------------------------------------------------- GSS
def test_gss_5pt_versions():
    df = frame([[1, 1, 1], [5, 5, 5], [4, 5, NA]], ["lonely1", "lonely2", "lonely3"])
    items = {"companionship": "lonely1", "isolated": "lonely2", "left_out": "lonely3"}
    s = measures.score("gss_lonely_5pt", df, items=items, coding="5-point-never-to-very-often")
    assert vals(s.score) == [3, 15, None]
    s = measures.score("gss_lonely_5pt", df, items=items, coding="5-point-never-to-very-often",
                       missing="prorate")
    assert vals(s.score) == [3, 15, 13.5]  # (4 + 5) / 2 * 3
    s2 = measures.score("gss_lonely_5pt_2item", df, items={"companionship": "lonely1", "isolated": "lonely2"},
                        coding="5-point-never-to-very-often")
    assert vals(s2.score) == [2, 10, 9]


@pytest.mark.realdata
def test_gss_2020_pair_on_real_data(shared_data_dir):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip("GSS extract not found")
    df, _ = pyreadstat.read_dta(str(path), usecols=["lonely1_2", "lonely2_2"])
    s = measures.score("gss_lonely_5pt_2item", df, items={"companionship": "lonely1_2",
                                                          "isolated": "lonely2_2"},
                       coding="5-point-never-to-very-often")
    expected = df["lonely1_2"] + df["lonely2_2"]  # plain sum; NaN where either is missing
    pd.testing.assert_series_equal(s.score, expected, check_names=False)
    assert s.score.notna().sum() == 1775


# ----------------------------------------------------------------------------------- catalogue
PUBLISHED_RANGES = {
    "ucla3": "3-9", "ucla20": "20-80", "djg11": "0-11", "djg6": "0-6", "ons_direct": "1-5",
    "ons_measures": "1-5", "cesd_lonely": "0-3", "cesd8_lonely": "0-1", "lsns6": "0-30",
    "berkman_syme": "0-4", "steptoe_isolation": "0-5", "dssi": "10-30", "brfss_sdhisolt": "1-5",
    "brfss_sdlonely": "1-5", "gss_lonely_5pt": "3-15", "gss_lonely_5pt_2item": "2-10",
}


def test_list_has_every_instrument_with_published_range():
    tab = measures.list()
    assert list(tab.columns) == ["key", "name", "items", "range", "direction", "cutoffs", "reference"]
    assert dict(zip(tab["key"], tab["range"])) == PUBLISHED_RANGES
    assert dict(zip(tab["key"], tab["items"]))["ucla20"] == 20
    assert tab["reference"].str.len().min() > 40


@pytest.mark.parametrize("key", sorted(PUBLISHED_RANGES))
def test_describe_documents_items_codings_cutoffs_and_citation(key):
    text = measures.describe(key)
    inst = measures.get_instrument(key)
    for it in inst.items:
        assert it.name in text
    assert "Codings" in text and "Reference:" in text and inst.reference in text
    assert key in measures.__doc__  # the module docstring carries every instrument's rules


def test_describe_marks_unverified_rules():
    assert "UNVERIFIED" in measures.describe("djg11")
    assert "Unverified / conventions" in measures.describe("ucla3")
    assert "could not be verified" in measures.describe("berkman_syme")


def test_no_warning_for_manual_rules():
    df = frame([[3, 3, NA, 1, 1, 1]], DJG6_COLS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        measures.score("djg6", df, coding="3-point", neutral=2)


# ----------------------------------------------------------------------------------- missing rules, all
# One row with missing item(s) per instrument, scored under every rule. Expected values by hand:
# complete -> missing; prorate -> mean of answered x k (if enough answered); available -> sum of
# answered (if enough answered); none -> sum of answered.
MISSING_CASES = [
    # key, coding, extra kwargs, {column: value}, {rule: expected total}
    ("dssi", "1-3", {"min_answered": 9},
     dict(zip([f"dssi{i}" for i in range(1, 11)], [3, 3, 3, NA, 1, 1, 1, 1, 1, 1])),
     {"complete": None, "prorate": 15 / 9 * 10, "available": 15, "none": 15}),
    ("lsns6", "0-5", {"min_answered": 5}, dict(zip(LSNS_COLS, [5, 5, NA, 0, 0, 0])),
     {"complete": None, "prorate": 12, "available": 10, "none": 10}),
    ("steptoe_isolation", "indicators", {},
     dict(zip(["not_partnered", "contact_children", "contact_family", "contact_friends",
               "no_organisations"], [1, 1, NA, 0, 0])),
     {"complete": None, "prorate": None, "available": None, "none": 2}),  # index: all 5 needed
    ("berkman_syme", "indicators", {},
     dict(zip(["married", "sociability", "church", "groups"], [1, NA, 1, 1])),
     {"complete": None, "prorate": None, "available": None, "none": 3}),
    ("gss_lonely_5pt", "5-point-never-to-very-often", {},
     {"companionship": 5, "isolated": NA, "left_out": 3},
     {"complete": None, "prorate": 12, "available": 8, "none": 8}),  # (5 + 3) / 2 * 3
    ("gss_lonely_5pt_2item", "5-point-never-to-very-often", {}, {"companionship": 5, "isolated": NA},
     {"complete": None, "prorate": None, "available": None, "none": 5}),
    ("djg11", "3-point", {"neutral": 2, "min_answered": 10},
     dict(zip(DJG11_COLS, [NA] + _djg11_row(True)[1:])),
     {"complete": None, "prorate": 11, "available": 10, "none": 10}),
    ("ons_direct", "often-first", {}, {"direct": NA},
     {"complete": None, "prorate": None, "available": None, "none": None}),
    ("cesd_lonely", "0-3", {}, {"lonely": NA},
     {"complete": None, "prorate": None, "available": None, "none": None}),
    ("cesd8_lonely", "0-1", {}, {"lonely": NA},
     {"complete": None, "prorate": None, "available": None, "none": None}),
    ("brfss_sdhisolt", "brfss", {}, {"sdhisolt": 9},
     {"complete": None, "prorate": None, "available": None, "none": None}),
    ("brfss_sdlonely", "brfss", {}, {"sdlonely": 7},
     {"complete": None, "prorate": None, "available": None, "none": None}),
]


@pytest.mark.parametrize("rule", ["complete", "prorate", "available", "none"])
@pytest.mark.parametrize("key, coding, kwargs, row, expected", MISSING_CASES,
                         ids=[c[0] for c in MISSING_CASES])
def test_missing_items_under_each_rule(key, coding, kwargs, row, expected, rule):
    df = pd.DataFrame([row], dtype="float64")
    if rule in ("complete", "none"):
        # min_answered belongs to the prorate/available rules (with the others it is refused)
        kwargs = {k: v for k, v in kwargs.items() if k != "min_answered"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)  # 'none' warns by design
        s = measures.score(key, df, coding=coding, missing={"total": rule}, **kwargs)
    got = s.score.iloc[0]
    if expected[rule] is None:
        assert pd.isna(got)
    else:
        assert got == pytest.approx(expected[rule], abs=1e-12)


def test_ons_measures_missing_direct_keeps_indirect():
    df = frame([[NA, 3, 3, 3]], ["direct", "companionship", "left_out", "isolated"])
    s = measures.score("ons_measures", df, coding={"direct": "often-first", "companionship": "1-3",
                                                   "left_out": "1-3", "isolated": "1-3"})
    assert vals(s.score) == [None]
    assert vals(s.subscales["ucla3"]) == [9]
