"""design.glm: bad input, formulas, missing values and hand-computed sandwich estimates.

Every expected number here is computed in the test from its formula with plain numpy (weighted
least squares, the with-replacement sandwich), never by the code under test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import (
    ConvergenceError,
    FormulaError,
    ModelError,
    SeparationError,
    SocialHealthError,
)


@pytest.fixture()
def toy():
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({
        "psu": np.repeat(np.arange(40), 10),
        "stratum": np.repeat(np.arange(10), 40),
        "w": rng.uniform(1, 5, n),
        "x": rng.normal(size=n),
        "g": rng.choice(["b", "a", "c"], n),
    })
    df["y"] = 1.0 + 2.0 * df["x"] + (df["g"] == "c") * 0.5 + rng.normal(size=n)
    df["yb"] = (df["y"] > 1.5).astype(float)
    df["flag"] = df["y"] > 1.5
    df["count"] = rng.poisson(np.exp(0.3 + 0.2 * df["x"]))
    return df


def design(df):
    return sh.SurveyDesign(df, psu="psu", strata="stratum", weights="w", nest=True)


# ----------------------------------------------------------------------------- hand computations
def test_gaussian_weights_only_matches_hand_sandwich(toy):
    """Weights-only design (each row its own PSU, with replacement):
    b = (X'WX)^{-1} X'Wy;  V = A^{-1} [n/(n-1) sum_i (u_i - ubar)(u_i - ubar)'] A^{-1},
    u_i = x_i w_i (y_i - x_i'b); df = n - 1 + 1 - p."""
    d = sh.SurveyDesign(toy, weights="w")
    m = d.glm("y ~ x")
    X = np.column_stack([np.ones(len(toy)), toy["x"]])
    w, y = toy["w"].to_numpy(), toy["y"].to_numpy()
    A = X.T @ (w[:, None] * X)
    b = np.linalg.solve(A, X.T @ (w * y))
    U = X * (w * (y - X @ b))[:, None]
    n = len(y)
    Uc = U - U.mean(axis=0)
    Ainv = np.linalg.inv(A)
    V = Ainv @ (n / (n - 1) * Uc.T @ Uc) @ Ainv
    np.testing.assert_allclose(m.params, b, rtol=1e-12)
    np.testing.assert_allclose(m.cov_params().to_numpy(), V, rtol=1e-10)
    assert m.df_resid == n - 1 + 1 - 2


def test_logistic_cluster_sandwich_by_hand(toy):
    """Stratified cluster design: Newton-Raphson logistic fit and the stratified
    with-replacement sandwich  V = A^{-1} [sum_h n_h/(n_h-1) sum_i (t_hi - tbar_h)(.)'] A^{-1}
    with t_hi the PSU totals of u_i = x_i w_i (y_i - mu_i)."""
    m = design(toy).glm("yb ~ x", family="binomial")
    X = np.column_stack([np.ones(len(toy)), toy["x"]])
    w, y = toy["w"].to_numpy(), toy["yb"].to_numpy()
    b = np.zeros(2)
    for _ in range(50):
        mu = 1 / (1 + np.exp(-X @ b))
        A = X.T @ ((w * mu * (1 - mu))[:, None] * X)
        b = b + np.linalg.solve(A, X.T @ (w * (y - mu)))
    mu = 1 / (1 + np.exp(-X @ b))
    A = X.T @ ((w * mu * (1 - mu))[:, None] * X)
    U = X * (w * (y - mu))[:, None]
    meat = np.zeros((2, 2))
    for h, grp in toy.groupby("stratum"):
        t = np.array([U[grp.index[grp["psu"] == p]].sum(axis=0) for p in grp["psu"].unique()])
        dev = t - t.mean(axis=0)
        meat += len(t) / (len(t) - 1) * dev.T @ dev
    Ainv = np.linalg.inv(A)
    np.testing.assert_allclose(m.params, b, rtol=1e-10)
    np.testing.assert_allclose(m.cov_params().to_numpy(), Ainv @ meat @ Ainv, rtol=1e-8)
    assert m.df_resid == 40 - 10 + 1 - 2


def test_single_factor_gaussian_equals_domain_mean_differences(toy):
    """y ~ C(g): intercept = weighted mean of the reference level 'a' (first in sorted order),
    the other coefficients differences of weighted domain means."""
    m = design(toy).glm("y ~ C(g)")
    wm = {g: np.average(sub["y"], weights=sub["w"]) for g, sub in toy.groupby("g")}
    assert list(m.params.index) == ["Intercept", "C(g)[T.b]", "C(g)[T.c]"]
    np.testing.assert_allclose(m.params, [wm["a"], wm["b"] - wm["a"], wm["c"] - wm["a"]], rtol=1e-12)


# ----------------------------------------------------------------------------- formulas
def test_string_column_is_a_factor_and_reference_can_be_chosen(toy):
    d = design(toy)
    plain = d.glm("y ~ x + g")
    assert list(plain.params.index) == ["Intercept", "x", "g[T.b]", "g[T.c]"]
    ref_b = d.glm("y ~ x + C(g, contr.treatment('b'))")
    assert [c for c in ref_b.params.index if "T." in c][0].endswith("[T.a]")
    ref_b2 = d.glm("y ~ x + C(g, Treatment(reference='b'))")
    np.testing.assert_allclose(ref_b.params.to_numpy(), ref_b2.params.to_numpy(), rtol=1e-12)
    # same model, other parametrisation: slope and fitted values unchanged
    assert ref_b.params["x"] == pytest.approx(plain.params["x"], rel=1e-12)
    np.testing.assert_allclose(ref_b.predict(), plain.predict(), rtol=1e-12)
    # a pandas Categorical uses its first category as reference
    d2 = design(toy.assign(g=pd.Categorical(toy["g"], categories=["c", "a", "b"])))
    assert list(d2.glm("y ~ x + g").params.index) == ["Intercept", "x", "g[T.a]", "g[T.b]"]


def test_boolean_response_and_indicator_formula(toy):
    d = design(toy)
    a = d.glm("flag ~ x", family="binomial")
    b = d.glm("yb ~ x", family="binomial")
    c = d.glm("I(y > 1.5) ~ x", family="binomial")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-13)
    np.testing.assert_allclose(c.params, b.params, rtol=1e-13)
    np.testing.assert_allclose(c.bse, b.bse, rtol=1e-12)


def test_unknown_column_names_it(toy):
    with pytest.raises(FormulaError, match="'xx'") as exc:
        design(toy).glm("y ~ xx + g")
    assert "did you mean" in str(exc.value)
    with pytest.raises(FormulaError, match="no.such"):
        design(toy).glm("y ~ x + `no.such`")
    with pytest.raises(FormulaError, match="'zz'"):
        design(toy).glm("zz ~ x")


def test_malformed_formulas(toy):
    d = design(toy)
    with pytest.raises(FormulaError, match="~"):
        d.glm("y + x")
    with pytest.raises(FormulaError):
        d.glm("y ~ (x + ")
    with pytest.raises(FormulaError, match="response"):
        d.glm("g ~ x")                               # categorical outcome
    with pytest.raises(FormulaError, match="infinite"):
        d.assign(z=np.where(toy["x"] > 0, 0.0, 1.0)).glm("y ~ np.log(z)")


def test_rank_deficient_names_aliased_column(toy):
    d = design(toy.assign(x2=2 * toy["x"] + 1))
    with pytest.raises(ModelError, match="'x2'"):
        d.glm("y ~ x + x2")
    with pytest.raises(ModelError, match="aliased"):
        d.glm("yb ~ x + x2", family="binomial")


def test_family_link_and_outcome_checks(toy):
    d = design(toy)
    with pytest.raises(ModelError, match="family"):
        d.glm("y ~ x", family="gamma")
    with pytest.raises(ModelError, match="link"):
        d.glm("yb ~ x", family="binomial", link="sqrt")
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        d.glm("y ~ x", family="binomial")
    with pytest.raises(ModelError, match="non-negative"):
        d.glm("y ~ x", family="poisson")
    with pytest.raises(ModelError, match="start"):
        d.glm("yb ~ x", family="binomial", start=[0.0])


def test_separation_raises(toy):
    sep = toy.assign(ys=(toy["x"] > 0).astype(float))
    with pytest.raises(SeparationError, match="separation"):
        design(sep).glm("ys ~ x", family="binomial")


def test_non_convergence_raises(toy):
    with pytest.raises(ConvergenceError, match="converge"):
        design(toy).glm("yb ~ x", family="binomial", max_iter=1)


# ----------------------------------------------------------------------------- missing values, domains
def test_missing_covariates_are_left_out_keeping_the_design(toy):
    rng = np.random.default_rng(3)
    holed = toy.copy()
    holes = rng.choice(len(toy), 37, replace=False)
    holed.loc[holes, "x"] = np.nan
    holed.loc[holes[:5], "g"] = None
    d = design(holed)
    m = d.glm("y ~ x + g")
    assert m.nobs == len(toy) - 37 and m.n_missing == 37
    # the same as the domain (subset) fit on the complete rows: zero weight, PSUs kept
    ok = holed["x"].notna() & holed["g"].notna()
    ref = design(holed).subset(ok).glm("y ~ x + g")
    np.testing.assert_allclose(m.params, ref.params, rtol=1e-13)
    np.testing.assert_allclose(m.bse, ref.bse, rtol=1e-12)
    assert m.df_resid == ref.df_resid
    # predictions are NaN where a covariate is missing
    assert m.predict().isna().sum() == 37


def test_subset_counts_only_domain_rows(toy):
    d = design(toy)
    dom = d.subset(toy["g"] == "a")
    m = dom.glm("y ~ x")
    assert m.nobs == int((toy["g"] == "a").sum())
    assert m.n_missing == 0


# ----------------------------------------------------------------------------- results
def test_result_table_and_tests(toy):
    m = design(toy).glm("y ~ x + C(g)")
    tab = m.to_frame()
    assert list(tab.columns) == ["term", "estimate", "se", "ci_low", "ci_high", "df", "statistic", "p"]
    ci90 = m.conf_int(alpha=0.10)
    from scipy import stats

    q = stats.t.ppf(0.95, m.df_resid)
    np.testing.assert_allclose(ci90["ci_low"], m.params - q * m.bse, rtol=1e-13)
    np.testing.assert_allclose(m.to_frame(level=0.90)["ci_high"], m.params + q * m.bse, rtol=1e-13)
    # Wald test of one coefficient: F = t^2 and the same p-value as the t test
    t = m.wald_test("x")
    assert t.statistic == pytest.approx(m.tvalues["x"] ** 2, rel=1e-12)
    assert t.p == pytest.approx(m.pvalues["x"], rel=1e-9)
    with pytest.raises(ModelError, match="not a term"):
        m.wald_test("nope")
    text = m.summary()
    assert "In R: svyglm(y ~ x + factor(g), design = design)" in text
    assert "Std. Error" in text and "Dispersion" in text


def test_errors_are_socialhealth_errors(toy):
    with pytest.raises(SocialHealthError):
        design(toy).glm("y ~ missing_col")


def test_boundary_of_identity_binomial_raises(toy):
    """Identity-link binomial whose fitted probabilities reach 0 (R: 'algorithm stopped at
    boundary value'): no valid SEs, so a ModelError that says so."""
    df = toy.assign(z=(toy["x"] > 1.2).astype(float))
    with pytest.raises(ModelError, match="boundary"):
        design(df).glm("z ~ x", family="binomial", link="identity")


def test_model_matrix_is_available_after_the_fit(toy):
    """The fit reuses the matrix's memory for the scores; frame.X rebuilds it on demand."""
    m = design(toy).glm("y ~ x + C(g)")
    X = m.frame.X
    expected = np.column_stack([np.ones(len(toy)), toy["x"], toy["g"] == "b", toy["g"] == "c"]).astype(float)
    np.testing.assert_array_equal(X, expected)


def test_split_offsets():
    from socialhealth.design.formula import split_offsets

    assert split_offsets("y ~ x + offset(log(n))") == ("y ~ x", ["log(n)"])
    assert split_offsets("y ~ offset(np.log(n + 1)) + x") == ("y ~ x", ["np.log(n + 1)"])
    assert split_offsets("y ~ offset(a) + x + offset(b)") == ("y ~ x", ["a", "b"])
    assert split_offsets("y ~ offset(a)") == ("y ~ 1", ["a"])
    assert split_offsets("y ~ x") == ("y ~ x", [])
    with pytest.raises(FormulaError, match="offset"):
        split_offsets("y ~ x + offset(log(n)")


def test_offset_unknown_column_named(toy):
    with pytest.raises(FormulaError, match="'nn'"):
        design(toy).glm("count ~ x + offset(np.log(nn))", family="poisson")


def test_extreme_but_converged_probability_is_not_separation(toy):
    """One far-out covariate value gives a fitted probability within 1e-10 of 1, but the
    outcome is not separated and the fit converges: no SeparationError (R: a warning only)."""
    rng = np.random.default_rng(11)
    df = toy.copy()
    df["xe"] = df["x"]
    df.loc[0, "xe"] = 12.0
    p = 1 / (1 + np.exp(-(-0.5 + 2.5 * df["xe"])))
    df["ye"] = (rng.random(len(df)) < p).astype(float)
    df.loc[0, "ye"] = 1.0
    m = design(df).glm("ye ~ xe", family="binomial")
    assert m.predict(type="response").iloc[0] > 1 - 1e-10
    assert m.converged and np.all(np.isfinite(m.bse))


def test_quasi_separation_by_a_category_raises(toy):
    """Every row of category 'c' has outcome 1 (quasi-complete separation): its coefficient
    diverges, so SeparationError."""
    df = toy.assign(yq=np.where(toy["g"] == "c", 1.0, toy["yb"]))
    with pytest.raises(SeparationError, match="separation"):
        design(df).glm("yq ~ x + C(g)", family="binomial")


def test_joint_wald_test_of_two_terms(toy):
    """Joint test of x and C(g): F = b' V^{-1} b / 3 with the 3 coefficients, by hand."""
    m = design(toy).glm("y ~ x + C(g)")
    from scipy import stats

    b = m.params.to_numpy()[1:]
    V = m.cov_params().to_numpy()[1:, 1:]
    F = float(b @ np.linalg.solve(V, b)) / 3
    for spec in ("~x + C(g)", "x + C(g)", ["x", "C(g)"], ["x", "g"]):
        t = m.wald_test(spec)
        assert t.df == 3 and t.ddf == m.df_resid
        assert t.statistic == pytest.approx(F, rel=1e-12)
        assert t.p == pytest.approx(stats.f.sf(F, 3, m.df_resid), rel=1e-10)


def test_glm_r_call_spells_out_levels_whose_order_depends_on_rs_locale():
    # R's factor() sorts levels by the locale's collation: "Banana" < "apple" in the C locale
    # (our code-point order, so our reference level is "Banana"), "apple" < "Banana" in en_US;
    # the printed svyglm must name the levels so R takes the same reference in every locale
    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({"y": rng.normal(size=n), "w": 1.0 + rng.random(n),
                       "fruit": pd.Categorical(rng.choice(["Banana", "apple"], n)),
                       "sex": pd.Categorical(rng.choice(["Female", "Male"], n)),
                       "age": pd.Categorical(rng.choice(["16-29", "30-49", "50+"], n))})
    call = sh.SurveyDesign(df, weights="w").glm("y ~ fruit + sex + age").r_call
    assert 'factor(fruit, levels = c("Banana", "apple"))' in call
    # the same order in every locale: written as bare names
    assert "+ sex +" in call and call.endswith("+ age, design = design)")


def test_glm_r_call_writes_numpy_functions_and_powers_as_r_does():
    # the printed svyglm wrote np.log(enroll) (R: could not find function "np.log") and **.
    # R (survey 4.1-1) on the same example file:
    #   a <- read.csv(gzfile("src/socialhealth/datasets/examples/apistrat.csv.gz"))
    #   design <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = a)
    #   svyglm(api00 ~ log(enroll) + I(ell^2), design = design)
    a = sh.datasets.load_example("apistrat")
    d = sh.SurveyDesign(a, weights="pw", strata="stype", fpc="fpc")
    m = d.glm("api00 ~ np.log(enroll) + I(ell**2)")
    assert m.r_call == "svyglm(api00 ~ log(enroll) + I(ell^2), design = design)"
    np.testing.assert_allclose(m.params.to_numpy(),
                               [791.4558298557611, -14.3809540005912, -0.0602445072959],
                               rtol=1e-10)
    np.testing.assert_allclose(m.bse.to_numpy(),
                               [56.2664769038294, 8.5401832979459, 0.0068988099659], rtol=1e-9)
