"""GLM fits on many rows: a canonical-link fit above ``irls._FUSED_MIN_ROWS`` rows computes the
fitted values and the next scoring step in one blocked pass over the model matrix. Its
coefficients must be the weighted maximum-likelihood fit (checked against statsmodels, an
independent fitter) and equal those of the separate passes used on fewer rows."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import socialhealth as sh
from socialhealth.design import irls

N = irls._FUSED_MIN_ROWS + 20_011          # above the threshold, not a multiple of the block


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=N), rng.uniform(-1, 1, N)
    g = rng.integers(0, 3, N)
    t = rng.uniform(0.5, 3, N)
    eta = -0.7 + 0.4 * x1 - 0.8 * x2 + 0.3 * (g == 1) - 0.2 * (g == 2)
    return pd.DataFrame({
        "y": (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float),
        "count": rng.poisson(np.exp(eta) * t).astype(float),
        "log_t": np.log(t), "x1": x1, "x2": x2, "g": g.astype(str),
        "w": rng.uniform(0.5, 4, N), "st": rng.integers(0, 10, N), "psu": rng.integers(0, 30, N),
    })


CASES = {
    "logistic": ("y ~ x1 + x2 + g", "binomial", None),
    "poisson with offset": ("count ~ x1 + x2 + g", "poisson", "log_t"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_large_fit_is_the_weighted_ml_fit(name):
    formula, family, offset = CASES[name]
    df = _frame(11)
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)
    kw = {} if offset is None else {"offset": offset}
    m = d.glm(formula, family=family, **kw)
    X = pd.get_dummies(df[["x1", "x2", "g"]], columns=["g"], drop_first=True, dtype=float)
    X.insert(0, "const", 1.0)
    fam = sm.families.Binomial() if family == "binomial" else sm.families.Poisson()
    ref = sm.GLM(df[formula.split(" ~ ")[0]], X, family=fam, var_weights=df["w"],
                 offset=None if offset is None else df[offset]).fit(tol=1e-13)
    np.testing.assert_allclose(np.asarray(m.params), ref.params.to_numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", list(CASES))
def test_large_fit_equals_the_separate_passes(name, monkeypatch):
    formula, family, offset = CASES[name]
    df = _frame(12)
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)
    kw = {} if offset is None else {"offset": offset}
    fused = d.glm(formula, family=family, **kw)
    monkeypatch.setattr(irls, "_FUSED_MIN_ROWS", 10**12)
    separate = d.glm(formula, family=family, **kw)
    np.testing.assert_allclose(np.asarray(fused.params), np.asarray(separate.params), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(np.asarray(fused.bse), np.asarray(separate.bse), rtol=1e-10)
    assert fused.deviance == pytest.approx(separate.deviance, rel=1e-12)


@pytest.mark.parametrize("offset", [0.5, [0.5] * 40])
def test_fused_pass_takes_the_offsets_the_separate_pass_takes(offset, monkeypatch):
    # fit_glm (extension API) passes offset= through: a number or a list worked on few rows
    # (numpy broadcasting) and must work the same above the fused-pass threshold
    from socialhealth.design.extension import fit_glm

    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(40), rng.normal(size=40)])
    y = (rng.random(40) < 0.4).astype(float)
    expected = fit_glm(X, y, np.ones(40), "binomial", "logit", offset=np.full(40, 0.5)).beta
    monkeypatch.setattr(irls, "_FUSED_MIN_ROWS", 0)
    fit = fit_glm(X, y, np.ones(40), "binomial", "logit", offset=offset)
    np.testing.assert_allclose(fit.beta, expected, rtol=1e-12)


@pytest.mark.parametrize("bad", [-0.5, np.nan])
def test_fit_glm_refuses_negative_or_missing_weights(bad):
    from socialhealth.design.extension import fit_glm
    from socialhealth.errors import ModelError

    X = np.column_stack([np.ones(6), np.arange(6.0)])
    w = np.ones(6)
    w[2] = bad
    with pytest.raises(ModelError, match="negative or missing.*weight of 0"):
        fit_glm(X, np.array([0, 1, 0, 1, 1, 0.0]), w, "binomial", "logit")
