"""Instruments are data: a TOML entry is enough, and broken entries are refused."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import MeasureError
from socialhealth.measures import definitions

NEW = '''
key = "{key}"
name = "Test two-item scale"
reference = "Nobody N. A test scale. J Tests 2026;1:1-2."
direction = "higher = lonelier"
[codes]
values = [1, 2, 3, 4]
labels = ["never", "rarely", "sometimes", "often"]
[[items]]
name = "a"
[[items]]
name = "b"
reverse = true
[scales.total]
items = ["a", "b"]
range = [{lo}, 8]
default_missing = "complete"
min_answered = 1
default_cutoffs = "test"
[scales.total.cutoffs.test]
verified = true
source = "test"
bands = [[2, 4, "low"], [5, 8, "high"]]
[codings."1-4"]
description = "identity"
map = [[1, 1], [2, 2], [3, {top}], [4, 4]]
'''


@pytest.fixture
def user_registry(monkeypatch):
    monkeypatch.setattr(definitions, "_USER", {})
    return definitions._USER


def test_a_new_instrument_is_a_data_entry(tmp_path, user_registry):
    path = tmp_path / "test2.toml"
    path.write_text(NEW.format(key="test2", lo=2, top=3))
    inst = measures.register(path)
    assert inst.key == "test2" and "test2" in measures.instrument_keys()
    df = pd.DataFrame({"a": [1, 4, 2], "b": [4, 1, None]})
    s = measures.score("test2", df, coding="1-4", missing="prorate")
    # a + (5 - b): 1 + 1 = 2; 4 + 4 = 8; prorated 2 / 1 * 2 = 4
    assert s.score.tolist() == [2.0, 8.0, 4.0]
    assert s.category.tolist() == ["low", "high", "low"]
    assert "test2" in set(measures.list()["key"])


@pytest.mark.parametrize(
    "lo, top, key, match",
    [
        (3, 3, "t_range", "published range"),  # items give 2-8, file says 3-8
        (2, 5, "t_code", "not canonical codes"),  # maps raw 3 onto 5
        (2, 3, "ucla3", "already exists"),
    ],
)
def test_broken_definitions_are_refused(tmp_path, user_registry, lo, top, key, match):
    path = tmp_path / "bad.toml"
    path.write_text(NEW.format(key=key, lo=lo, top=top))
    with pytest.raises(MeasureError, match=match):
        measures.register(path)


def test_missing_field_and_unreadable_file(tmp_path, user_registry):
    path = tmp_path / "nofield.toml"
    path.write_text('key = "x"\n')
    with pytest.raises(MeasureError, match="lacks the field"):
        measures.register(path)
    with pytest.raises(MeasureError, match="cannot read"):
        measures.register(tmp_path / "absent.toml")


def test_shipped_definitions_agree_with_the_reference_tables():
    # reverse keys and subscales as published (measures_and_datasets.md section 1.12)
    rev = lambda k: [i.number for i in measures.get_instrument(k).items if i.reverse]  # noqa: E731
    assert rev("ucla20") == [1, 5, 6, 9, 10, 15, 16, 19, 20]
    assert rev("djg11") == [1, 4, 7, 8, 11]
    assert sorted(rev("djg6")) == [4, 7, 8]
    assert rev("ucla3") == [] and rev("lsns6") == []
    djg6 = measures.get_instrument("djg6")
    assert sorted(i.number for i in djg6.items) == [3, 4, 7, 8, 9, 10]
    assert djg6.scale("emotional").items == ("emptiness", "miss_people", "rejected")
