"""Model formulas accept pandas extension dtypes (nullable string, boolean, Int64) as loaders
produce them, with the same fit as the plain NumPy dtypes."""
import numpy as np
import pandas as pd

import socialhealth as sh


def test_extension_dtypes_fit_like_plain_dtypes():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({
        "y": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "g": pd.array(rng.choice(["a", "b", "c"], n), dtype="string"),
        "x": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "w": rng.uniform(1, 2, n),
    })
    df.loc[[3, 9], "g"] = pd.NA                       # missing values in a nullable column
    plain = df.assign(g=df["g"].astype(object).where(df["g"].notna(), None),
                      y=df["y"].astype(bool), x=df["x"].astype(float))
    m1 = sh.SurveyDesign(df, weights="w").glm("y ~ g + x", family="binomial")
    m2 = sh.SurveyDesign(plain, weights="w").glm("y ~ g + x", family="binomial")
    assert list(m1.params.index) == ["Intercept", "g[T.b]", "g[T.c]", "x"]
    np.testing.assert_allclose(m1.params, m2.params, rtol=1e-12)
    np.testing.assert_allclose(m1.bse, m2.bse, rtol=1e-12)
    assert m1.n_missing == 2 and m1.nobs == n - 2
