"""Design-based factor analysis and principal components (``measures.survey_factanal``,
``measures.survey_prcomp``) against R survey 4.1-1 ``svyfactanal`` / ``svyprcomp`` (R 4.2.2).

Reference: ``fixtures/survey_factor/make_fixtures.R`` (seeded five-point loneliness items,
emotional/social/mood factors, in a stratified cluster sample with fpc; a domain; rows with a
missing item; JK1, JKn and bootstrap replicate designs, the bootstrap also as a domain;
1-3 factors on 3-8 items; varimax, promax and no rotation; every ``n=`` option).

Tolerances:

* closed forms at 1e-8 relative or tighter: the ``svyvar`` covariance and the SEs of the
  variances, ``n.obs`` of every ``n=`` option, and all of ``svyprcomp`` (sdev, rotation up to
  the sign of each component, centre, scale, weights, scores);
* factanal against R run to convergence (``control = list(opt = list(factr = 1, pgtol = 0))``,
  "tight" in the JSON): loadings, uniquenesses and the rotation matrix 1e-7 absolute (the
  largest difference seen is 3e-8: both sit at the same optimum, whose objective agrees to
  1e-14), the objective and the chi-square statistic 1e-9 relative;
* factanal against R's default fit (``optim``'s ``factr = 1e7``, which stops before the
  optimum): per case, no further from R's loadings and uniquenesses than R's default fit is
  from R's own tight fit (``default_vs_tight`` in the JSON, up to 9e-6) plus 1e-7; the
  statistic and p-value 1e-6 relative.

R's ``rotmat`` is the rotation function's matrix before ``factanal`` orders and signs the
factors (R bug PR#15848), so it is compared up to that signed permutation; the consistent
``T`` (``L = L_unrotated T``) and the promax factor correlations ``(T'T)^-1`` are computed in
the R script from R's own fits.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MeasureError, NotApplicableError

REF = json.loads((Path(__file__).parent / "fixtures" / "survey_factor"
                  / "survey_factor.json").read_text())
DATA = pd.DataFrame(REF["data"])
DATA["dom"] = DATA["dom"].astype(bool)
MULT = np.array(REF["multipliers"], dtype=float).T          # PSU x replicate
FA, PC = REF["factanal"], REF["prcomp"]
_DESIGNS: dict = {}


def design(kind):
    if kind not in _DESIGNS:
        taylor = sh.SurveyDesign(DATA, psu="psu", strata="st", fpc="fpc", weights="w")
        W = MULT[DATA["psu"].to_numpy() - 1] * DATA["w"].to_numpy()[:, None]
        boot = sh.ReplicateDesign(DATA, weights="w", replicate_weights=W, method="bootstrap")
        _DESIGNS.update(
            taylor=taylor, taylor_subset=taylor.subset(DATA["dom"].to_numpy()),
            jk1=sh.SurveyDesign(DATA, psu="psu", weights="w").to_replicate("jk1"),
            jkn=taylor.to_replicate("jkn"), bootstrap=boot,
            bootstrap_subset=boot.subset(DATA["dom"].to_numpy()))
    return _DESIGNS[kind]


def fit(name):
    c = FA[name]
    return sh.measures.survey_factanal(design(c["kind"]), c["items"], factors=c["factors"],
                                       n=c["n"], rotation=c["rotation"])


def test_fixture_covers_the_brief():
    kinds = {c["kind"] for c in FA.values()}
    assert {"taylor", "taylor_subset", "jk1", "bootstrap"} <= kinds
    assert {c["n"] for c in FA.values()} == {"none", "sample", "degf", "effective",
                                             "min.effective"}
    assert {c["rotation"] for c in FA.values()} == {"varimax", "promax", "none"}
    assert {c["factors"] for c in FA.values()} == {1, 2, 3}
    assert REF["versions"]["survey"] == "4.1.1"


@pytest.mark.parametrize("kind", sorted(REF["degf"]))
def test_design_degf_matches_r(kind):
    assert design(kind).degf() == REF["degf"][kind]


@pytest.mark.parametrize("name", sorted(FA))
def test_covariance_and_sample_size_match_r(name):
    c, r = FA[name], fit(name)
    np.testing.assert_allclose(r.covariance.to_numpy(), np.array(c["cov"]), rtol=1e-10)
    np.testing.assert_allclose(r.correlation.to_numpy(), np.array(c["correlation"]),
                               rtol=1e-10, atol=1e-12)
    est = (design(c["kind"]).subset(DATA[c["items"]].notna().all(axis=1).to_numpy())
           if c["complete_cases"] else design(c["kind"])).var(c["items"]).to_frame()
    se = est.set_index("term")["se"]
    np.testing.assert_allclose(se[c["items"]].to_numpy(), c["var_se"], rtol=1e-8)
    assert r.n == c["nrow"] and r.dof == c["dof"]
    if c["n_obs"] is None:
        assert r.n_obs is None
    else:
        np.testing.assert_allclose(r.n_obs, c["n_obs"], rtol=1e-8)


@pytest.mark.parametrize("name", sorted(FA))
def test_factanal_matches_r_at_the_optimum(name):
    c, r = FA[name], fit(name)
    assert r.converged and c["converged"]
    assert list(r.loadings.columns) == [f"Factor{j + 1}" for j in range(c["factors"])]
    np.testing.assert_allclose(r.loadings.to_numpy(), np.array(c["loadings_tight"]), atol=1e-7)
    np.testing.assert_allclose(r.uniquenesses.to_numpy(), c["uniquenesses_tight"], atol=1e-7)
    np.testing.assert_allclose(r.objective, c["objective_tight"], rtol=1e-9, atol=1e-15)
    if c["statistic_tight"] is None:
        assert r.statistic is None and r.p is None
    else:
        np.testing.assert_allclose(r.statistic, c["statistic_tight"], rtol=1e-9)


@pytest.mark.parametrize("name", sorted(FA))
def test_factanal_within_r_default_optimiser_error(name):
    c, r = FA[name], fit(name)
    tol = c["default_vs_tight"] + 1e-7
    assert np.max(np.abs(r.loadings.to_numpy() - np.array(c["loadings"]))) <= tol
    assert np.max(np.abs(r.uniquenesses.to_numpy() - np.array(c["uniquenesses"]))) <= tol
    if c["statistic"] is not None:
        np.testing.assert_allclose(r.statistic, c["statistic"], rtol=1e-6)
        np.testing.assert_allclose(r.p, c["pval"], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n in FA if "rotmat" in FA[n]))
def test_rotation_matrix_matches_r(name):
    c, r = FA[name], fit(name)
    T = r.rotmat.to_numpy()
    np.testing.assert_allclose(T, np.array(c["rotmat"]), atol=1e-7)
    # R's own rotmat: the same entries, rows and columns in the rotation function's order/sign
    np.testing.assert_allclose(np.sort(np.abs(T), axis=None),
                               np.sort(np.abs(np.array(c["rotmat_r"])), axis=None), atol=1e-7)
    unrotated = sh.measures.survey_factanal(design(c["kind"]), c["items"],
                                            factors=c["factors"], rotation="none")
    np.testing.assert_allclose(unrotated.loadings.to_numpy(),
                               np.array(c["loadings_unrotated_tight"]), atol=1e-7)
    np.testing.assert_allclose(unrotated.loadings.to_numpy() @ T, r.loadings.to_numpy(),
                               atol=1e-12)
    if c["rotation"] == "promax":
        np.testing.assert_allclose(r.factor_correlation.to_numpy(),
                                   np.array(c["factor_correlation"]), atol=1e-7)
        # a rotation leaves the fitted common part unchanged: L Phi L' = L0 L0'
        L, L0 = r.loadings.to_numpy(), unrotated.loadings.to_numpy()
        np.testing.assert_allclose(L @ r.factor_correlation.to_numpy() @ L.T, L0 @ L0.T,
                                   atol=1e-12)
    else:
        assert r.factor_correlation is None
        np.testing.assert_allclose(T.T @ T, np.eye(c["factors"]), atol=1e-12)


def test_one_factor_three_items_by_hand():
    """An exactly identified one-factor model: ``lambda_1^2 = r12 r13 / r23`` (and cyclic)
    from the design-based correlations computed here with numpy (weighted, equal for the
    n/(n-1) factor that cancels)."""
    items = ["e1", "e2", "e3"]
    r = sh.measures.survey_factanal(design("taylor"), items, factors=1)
    X, w = DATA[items].to_numpy(float), DATA["w"].to_numpy(float)
    C = np.cov(X.T, aweights=w)
    sd = np.sqrt(np.diag(C))
    P = C / np.outer(sd, sd)
    lam = np.sqrt([P[0, 1] * P[0, 2] / P[1, 2], P[0, 1] * P[1, 2] / P[0, 2],
                   P[0, 2] * P[1, 2] / P[0, 1]])
    np.testing.assert_allclose(r.loadings["Factor1"].to_numpy(), lam, atol=1e-8)
    np.testing.assert_allclose(r.uniquenesses.to_numpy(), 1 - lam ** 2, atol=1e-8)
    assert r.dof == 0 and r.statistic is None and r.rotmat is None
    assert r.objective < 1e-12


@pytest.mark.parametrize("name", sorted(PC))
def test_prcomp_matches_r(name):
    c = PC[name]
    r = sh.measures.survey_prcomp(design(c["kind"]), c["items"], center=c["center"],
                                  scale=c["scale"], scores=c["scores"], tol=c["tol"])
    np.testing.assert_allclose(r.sdev.to_numpy(), c["sdev"], rtol=1e-8)
    R_rot = np.array(c["rotation"])
    sign = np.sign(np.sum(R_rot * r.rotation.to_numpy(), axis=0))     # R's signs: its SVD's
    assert np.all(sign != 0)
    np.testing.assert_allclose(r.rotation.to_numpy() * sign, R_rot, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r.weights.to_numpy(), c["weights"], rtol=1e-10)
    assert list(r.weights.index + 1) == c["rows"]                         # R's row names
    if c["center_value"] is None:
        assert r.center is None
    else:
        np.testing.assert_allclose(r.center.to_numpy(), c["center_value"], rtol=1e-10)
    if c["scale_value"] is None:
        assert r.scale is None
    else:
        np.testing.assert_allclose(r.scale.to_numpy(), c["scale_value"], rtol=1e-10)
    if c["scores"]:
        np.testing.assert_allclose(r.scores.to_numpy() * sign, np.array(c["x"]), rtol=1e-8,
                                   atol=1e-9)
    else:
        assert r.scores is None
    big = np.abs(r.rotation.to_numpy()).argmax(axis=0)
    assert np.all(r.rotation.to_numpy()[big, np.arange(len(big))] > 0)


def test_prcomp_equal_weights_is_ordinary_pca():
    """Equal weights: the covariance eigen decomposition of numpy (divisor n - 1)."""
    items = ["e1", "e2", "s1", "s2", "m1"]
    df = DATA.assign(one=1.0)
    r = sh.measures.survey_prcomp(sh.SurveyDesign(df, weights="one"), items, scores=True)
    X = df[items].to_numpy(float)
    vals, vecs = np.linalg.eigh(np.cov(X.T))
    vals, vecs = vals[::-1], vecs[:, ::-1]
    np.testing.assert_allclose(r.sdev.to_numpy(), np.sqrt(vals), rtol=1e-10)
    sign = np.sign(np.sum(vecs * r.rotation.to_numpy(), axis=0))
    np.testing.assert_allclose(r.rotation.to_numpy() * sign, vecs, atol=1e-10)
    np.testing.assert_allclose(r.scores.to_numpy() * sign, (X - X.mean(axis=0)) @ vecs,
                               atol=1e-9)
    f = r.to_frame()
    np.testing.assert_allclose(f["proportion"], vals / vals.sum(), rtol=1e-10)


@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("name", sorted(FA))
def test_prcomp_weighted_centre_is_the_eigen_decomposition_of_r_svyvar(name, scale):
    """center="weighted": sdev^2 and rotation are the eigenvalues and eigenvectors of R's
    svyvar covariance matrix (cov2cor of it with scale=True), on every design of the
    factanal cases (Taylor, subset, complete cases, JK1, JKn, bootstrap)."""
    c = FA[name]
    cov = np.array(c["cov"])
    if scale:
        sd = np.sqrt(np.diag(cov))
        cov = cov / np.outer(sd, sd)
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    r = sh.measures.survey_prcomp(design(c["kind"]), c["items"], center="weighted",
                                  scale=scale)
    assert r.n == c["nrow"] and r.centring == "weighted"
    np.testing.assert_allclose(r.sdev.to_numpy() ** 2, vals, rtol=1e-10)
    sign = np.sign(np.sum(vecs * r.rotation.to_numpy(), axis=0))
    np.testing.assert_allclose(r.rotation.to_numpy() * sign, vecs, atol=1e-8)
    assert "svyvar(" in r.r_call and ("cov2cor(" in r.r_call) == scale


def test_prcomp_weighted_centre_scores_and_centre_by_hand():
    items = ["e1", "e2", "s1", "m1"]
    r = sh.measures.survey_prcomp(design("taylor"), items, center="weighted", scale=True,
                                  scores=True)
    X, w = DATA[items].to_numpy(float), DATA["w"].to_numpy(float)
    m = (w[:, None] * X).sum(axis=0) / w.sum()
    n = len(X)
    sd = np.sqrt((w[:, None] * (X - m) ** 2).sum(axis=0) / w.sum() * n / (n - 1))
    np.testing.assert_allclose(r.center.to_numpy(), m, rtol=1e-12)
    np.testing.assert_allclose(r.scale.to_numpy(), sd, rtol=1e-12)
    np.testing.assert_allclose(r.scores.to_numpy(), ((X - m) / sd) @ r.rotation.to_numpy(),
                               atol=1e-10)
    assert "items centred at their weighted means, scaled" in repr(r)
    with pytest.raises(sh.errors.MeasureError, match='"weighted"'):
        sh.measures.survey_prcomp(design("taylor"), items, center="mean")


def test_missing_rows_are_reported():
    r = sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e3", "s1", "s2", "s3m"],
                                    factors=2, n="effective")
    assert (r.n, r.n_dropped) == (474, 6)
    assert "6 left out" in repr(r) and "complete.cases(e1, e2, e3, s1, s2, s3m)" in r.r_call
    p = sh.measures.survey_prcomp(design("taylor"), ["e1", "s3m"])
    assert (p.n, p.n_dropped) == (474, 6)


def test_result_objects():
    r = fit("djg6_promax_sample")
    f = r.to_frame()
    assert list(f.columns) == ["item", "Factor1", "Factor2", "uniqueness", "communality"]
    np.testing.assert_allclose(f["communality"] + f["uniqueness"], 1.0)
    text = repr(r)
    assert "Factor correlations" in text and "chi-square" in text
    assert r.r_call == ('svyfactanal(~e1 + e2 + e3 + s1 + s2 + s3, design, factors = 2, '
                        'n = "sample", rotation = "promax")')
    assert r._repr_html_().startswith("<pre>Design-based maximum likelihood")
    for member in ("coef", "se", "confint"):
        with pytest.raises(NotApplicableError, match="loadings"):
            getattr(r, member)()
    with pytest.raises(NotApplicableError):
        r.vcov  # noqa: B018
    heywood = fit("items8_3f_varimax_degf")
    assert min(FA["items8_3f_varimax_degf"]["uniquenesses_tight"]) == 0.005
    assert "lower bound 0.005 (a Heywood case)" in repr(heywood)
    p = sh.measures.survey_prcomp(design("taylor"), ["e1", "e2", "e3"], scale=True)
    assert list(p.to_frame().columns) == ["component", "sdev", "variance", "proportion",
                                          "cumulative"]
    assert "scale. = TRUE" in p.r_call and "Importance of components" in repr(p)
    with pytest.raises(NotApplicableError):
        float(p)


def _bad(**cols):
    df = DATA.assign(**cols)
    return sh.SurveyDesign(df, psu="psu", strata="st", fpc="fpc", weights="w")


@pytest.mark.parametrize("call, match", [
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2"], factors=1),
     "3 or more item columns"),
    (lambda: sh.measures.survey_factanal(design("taylor"), "e1", factors=1), "list of 3"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e3", "s1"],
                                         factors=2), "too many for 4 items.*at most 1 factor"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e3"], factors=0),
     "whole number"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e3"], factors=1,
                                         n="eff"), "not one of"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e3"], factors=1,
                                         rotation="oblimin"), "not one of"),
    (lambda: sh.measures.survey_factanal(_bad(txt=np.where(DATA["e1"] > 2, "a", "b")),
                                         ["e1", "e2", "txt"], factors=1), "not numeric"),
    (lambda: sh.measures.survey_factanal(_bad(gone=np.nan), ["e1", "e2", "gone"], factors=1),
     "missing in every row"),
    (lambda: sh.measures.survey_factanal(_bad(flat=2.0), ["e1", "e2", "flat"], factors=1),
     "do not vary"),
    (lambda: sh.measures.survey_factanal(_bad(tot=DATA["e1"] + DATA["e2"]),
                                         ["e1", "e2", "tot", "s1"], factors=1), "singular"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e1"], factors=1),
     "listed twice"),
    (lambda: sh.measures.survey_factanal(design("taylor"), ["e1", "e2", "e4"], factors=1),
     "not found"),
    (lambda: sh.measures.survey_prcomp(design("taylor"), ["e1"]), "2 or more item columns"),
    (lambda: sh.measures.survey_prcomp(_bad(zero=0.0), ["e1", "zero"], center=False,
                                       scale=True), "constant"),
    (lambda: sh.measures.survey_prcomp(_bad(one=1.0).with_weights(np.ones(len(DATA))),
                                       ["e1", "one"], scale=True), "constant"),
    (lambda: sh.measures.survey_prcomp(design("taylor"), ["e1", "e2"], scale="yes"),
     "True or False"),
    (lambda: sh.measures.survey_prcomp(design("taylor"), ["e1", "e2"], tol=2),
     "tol="),
    (lambda: sh.measures.survey_prcomp(_bad(gone=np.nan), ["e1", "gone"]),
     "missing in every row"),
])
def test_errors_name_the_fix(call, match):
    with pytest.raises(MeasureError, match=match):
        call()
