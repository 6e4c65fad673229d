"""Columns named like formulaic transforms (cc, cr, bs, center) are data columns in a formula.

Expected values: hand-computed indicator columns of the toy data below.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth.design.formula import formula_variables, model_frame, rhs_matrix


@pytest.mark.parametrize("name", ["cc", "cr", "bs", "center"])
def test_column_named_like_a_transform(name):
    df = pd.DataFrame({"y": np.arange(6.0), "x": np.arange(6.0) ** 2, name: list("ababab")})
    assert formula_variables(f"y ~ x + {name}", df) == ["y", "x", name]
    mf = model_frame(df, f"y ~ x + {name}")
    np.testing.assert_array_equal(mf.X[:, -1], [0, 1, 0, 1, 0, 1])
    X, names = rhs_matrix(df, f"~{name}*x")
    assert names == ["(Intercept)", f"{name}b", "x", f"{name}b:x"]
    np.testing.assert_array_equal(X[:, 3], [0, 1, 0, 9, 0, 25])


def test_quoted_levels_and_calls_are_not_columns():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": list("abab"), "b": [np.nan] * 4,
                       "log": [np.nan] * 4, "x": [1.0, 2, 3, 4]})
    # 'b' only as a quoted reference level and 'log' only as a function: not model columns
    assert formula_variables('y ~ C(g, Treatment(reference="b")) + np.log(x)', df) == ["y", "g", "x"]
