"""The UCLA-3 rule for the harmonised columns (measures.harmonised), used by the codebook engine
and the demo generator: sum of the three 1-3 items (3-9), all three needed, lonely at 6+."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MeasureError
from socialhealth.measures.harmonised import UCLA3_LONELY_CUTOFF, ucla3_columns, ucla3_lonely

ITEMS = ["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]


def test_ucla3_columns_by_hand():
    items = pd.DataFrame({"ucla3_companionship": [1, 1, 2, 3, 3, None],
                          "ucla3_left_out": [1, 2, 2, 3, None, None],
                          "ucla3_isolated": [1, 2, 2, 3, 3, 2]}, index=list("abcdef"))
    out = ucla3_columns(items)
    assert list(out.index) == list("abcdef")
    # 1+1+1, 1+2+2, 2+2+2, 3+3+3; one or more items missing -> missing
    np.testing.assert_array_equal(out["ucla3_score"].to_numpy(), [3, 5, 6, 9, np.nan, np.nan])
    assert out["lonely_ucla3"].tolist() == [False, False, True, True, pd.NA, pd.NA]
    assert str(out["lonely_ucla3"].dtype) == "boolean"


def test_cutoff_is_six_or_more():
    assert UCLA3_LONELY_CUTOFF == 6
    assert ucla3_lonely(np.arange(3.0, 10.0)).tolist() == [False] * 3 + [True] * 4


def test_codes_outside_the_coding_raise():
    items = pd.DataFrame({c: [1, 2] for c in ITEMS})
    items.loc[1, "ucla3_isolated"] = 4
    with pytest.raises(MeasureError, match="ucla3_isolated"):
        ucla3_columns(items)
    with pytest.raises(MeasureError, match="outside"):
        ucla3_lonely([2.0])
    with pytest.raises(MeasureError, match="ucla3_left_out"):
        ucla3_columns(items.drop(columns="ucla3_left_out"))


def test_demo_scores_are_the_raw_item_sums():
    d = sh.datasets.load("demo").data
    raw = d[ITEMS].to_numpy(dtype=float)
    total = raw[:, 0] + raw[:, 1] + raw[:, 2]           # NaN if any item is missing
    np.testing.assert_array_equal(d["ucla3_score"].to_numpy(dtype=float), total)
    known = ~np.isnan(total)
    assert d["lonely_ucla3"].isna().to_numpy().tolist() == (~known).tolist()
    assert (d["lonely_ucla3"][known].to_numpy(dtype=bool) == (total[known] >= 6)).all()
    assert np.isnan(total).sum() > 0 and (total[known] >= 6).sum() > 0   # both cases occur
