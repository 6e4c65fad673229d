"""A logistic model on replicate designs whose data have a far-out covariate value: the fitted
probability of that row is numerically 0 (or 1), yet the data are not separated and every
replicate refit converges. R's svyglm gives coefficients and a replicate covariance (with a
warning only); socialhealth used to call such a replicate "separated" because its last
coefficient step was above 1e-6, although the step moved no linear predictor by more than
rounding. Now the replicate check uses the full-sample rule: a fitted probability at 0 or 1
AND a last step that still moves a linear predictor by more than 0.1.

Reference: ``fixtures/glm_replicate_edge/make_glm_replicate_edge.R`` (R 4.2.2, survey 4.1-1,
``glm.control(epsilon = 1e-12)``); replicate weights (multipliers, as R keeps them), scale
and rscales are R's own.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh

REF = json.loads((Path(__file__).parent / "fixtures" / "glm_replicate_edge"
                  / "glm_replicate_edge.json").read_text())
DATA = pd.DataFrame(REF["data"])


@pytest.mark.parametrize("kind", sorted(REF["fits"]))
def test_replicate_glm_with_extreme_fitted_probability_matches_r(kind):
    fit = REF["fits"][kind]
    W = np.asarray(fit["repweights"], dtype=float)
    d = sh.ReplicateDesign(DATA, weights="w", replicate_weights=W, method="other",
                           scale=fit["scale"][0], rscales=fit["rscales"], mse=fit["mse"][0],
                           combined_weights=fit["combined_weights"][0])
    m = d.glm("y ~ x", family="binomial", tol=1e-12)
    p = m.predict(type="response").to_numpy()
    assert p[0] < 1e-10 and p[1] > 1 - 1e-10      # numerically 0 and 1, as in R
    np.testing.assert_allclose(m.params.to_numpy(), fit["coef"], rtol=1e-8)
    np.testing.assert_allclose(m.cov_params().to_numpy(), np.asarray(fit["vcov"]), rtol=1e-8)


def test_separated_replicate_is_still_refused():
    """The check still refuses real separation: rows with x > 0 all have y = 1 and rows with
    x < 0 all have y = 0 (complete separation) -- the full-sample fit already refuses it."""
    df = DATA.assign(ys=(DATA["x"] > 0).astype(float))
    W = np.asarray(REF["fits"]["JKn"]["repweights"], dtype=float)
    d = sh.ReplicateDesign(df, weights="w", replicate_weights=W, method="other", scale=1.0,
                           combined_weights=False)
    with pytest.raises(sh.errors.SeparationError, match="separation"):
        d.glm("ys ~ x", family="binomial")
