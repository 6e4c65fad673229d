"""Differential tests of socialhealth's applied models against R survey 4.1-1 on randomly
generated synthetic designs.

Fixture: ``fixtures/fuzz_applied/fuzz_applied_reference.json.gz``, written by
``make_fuzz_applied.R`` next to it (seeded; 26 stratified cluster designs with 60-400 rows, some
with fpc, some with a single-PSU stratum under ``lonely_psu="adjust"`` or ``"average"``; 6
replicate designs: ``as.svrepdesign`` JK1, bootstrap and JKn, and replicate weights supplied
with the data, whose analysis weights are in the fixture). Missing values in the exposure,
covariates and outcomes. Each data set is analysed with

* ``models.association``: odds ratios, prevalence ratios (log-binomial; quasi-Poisson when it
  falls back), risk differences (identity-link binomial), differences in means; nested
  cumulative blocks; numeric, 0/1 and categorical exposures (a sparse level, another
  reference); complete cases and available cases; a domain (R ``svyglm`` on ``subset()``);
* ``models.interaction``: effects within modifier levels (R ``svycontrast``) and the Wald test
  of the product terms (R ``regTermTest``), for a 0/1, a numeric and a categorical exposure,
  odds ratios, prevalence ratios (log-binomial) and differences, on the design and a domain;
* ``models.margins``: ``variance="svypredmeans"`` against R ``svypredmeans`` and
  ``svycontrast`` (differences, log ratios); the default full linearisation against the same
  Graubard-Korn influence values computed in R by hand from svyglm's parts (``svyrecvar``), and
  on replicate designs against ``withReplicates`` refitting the model per replicate;
* on a linked panel (``PanelData``) built from the same rows: ``models.prospective`` (baseline
  outcome adjusted; incident), ``models.change`` (R ``svyglm`` on first differences),
  ``models.transitions`` (R ``svytable`` / ``svyciprop``) and ``models.attrition``
  (retention model, weights, outcome models with and without the weights treated as known: on
  replicate designs the design's replicate weights times ``ipw / w``, R ``svrepdesign``).

Tolerances: 1e-8 relative, with an absolute floor of 1e-8 times the largest entry of the
compared vector (entries near zero), for everything but one case below: the GLMs are run with
``glm.control(epsilon = 1e-12)`` in R and socialhealth's default ``tol=1e-12`` on the same IRLS
rule; the rest are closed forms given the fits. Degrees of freedom and ``n`` exactly.

* Log- and identity-link binomial models (prevalence ratios, risk differences) are taken to the
  maximum on both sides (socialhealth: ``models._association.to_maximum``; R: refits from
  ``coef(m)`` until the coefficients settle), since the deviance rule stops Fisher scoring on a
  non-canonical link up to ~5e-7 (relative) short of it, at a path-dependent point.
  On replicate designs the replicate refits of those models (R's and socialhealth's alike,
  from the full-sample coefficients, weights summing to 1) stop by the deviance rule, which on
  these slowly converging fits leaves a replicate's coefficient up to ~1e-4 (relative) from its
  maximum, at a point decided by rounding at the threshold: their SEs, intervals and p-values
  are compared at 1e-4 (``PR_REPLICATE_SE_TOL``). Seen: replicate_bootstrap_5, log-binomial,
  SE 0.27700168 (R) vs 0.27701185 (socialhealth); with every replicate refitted by R to its
  maximum 0.27701342 (replicate 27 of R's refits was 8e-5 from its maximum). The
  coefficients at 1e-8.
* IRLS stops when the relative change in deviance is below epsilon; at the threshold, rounding
  decides whether one more iteration is made, and the SE (bread at the iterate before the
  last) moves by ~2e-7. Where R's SE does not match, the SE of R's model refitted from
  ``coef(m)`` (``se_refit``, the other side of that decision) must, with its t interval.
* R's ``confint.svyglm`` (and so ``svyciprop``) forms the t interval as
  ``qnorm(1 - 2 * pnorm(qt(0.025, ddf)))``, which is infinite at ``ddf = 1`` (``pnorm(-12.7)``
  ~ 1e-37 is lost next to 1). There the interval is compared with ``b +- qt(0.975, ddf) se``
  from R's own coefficient and SE (``ci_t_*``).
* Risk differences where R's identity-link fit is at the boundary (fitted probability 0 or 1:
  R's SEs are not valid): socialhealth falls back to the difference of predictive margins of
  the logistic model, compared with the same margins computed by hand in R.
* Models with no residual design df (more coefficients than design df): NaN intervals and p
  in both; socialhealth says so in the note and a warning.
* Separation (a sparse level or a small panel where the outcome is constant in a group, also
  within one bootstrap replicate): R's glm.fit drifts to a large coefficient (|b| > 10 checked)
  and reports it; socialhealth raises a SeparationError naming the model or replicate.
* ``svypredmeans`` refits the model inside R; where that fit's IRLS stopped one iteration away
  from socialhealth's (the threshold decision above), the margins' covariance is compared with
  socialhealth's model refitted from its own coefficients.
* Transition shares on replicate designs where one replicate of svyciprop's intercept-only
  svyglm diverges from the full-sample start (R returns -1.5e15 for a replicate share of
  0.22, so its interval is (0, NaN)): socialhealth takes that replicate's maximum; compared
  with the interval by hand from R's replicate logits with the absurd one replaced by the
  logit of the replicate's share from the data.

R cannot do, and so is computed in R by hand from public functions: ``svycontrast()`` on a
replicate-design ``svyglm`` fails in survey 4.1-1 ("requires numeric/complex matrix/vector
arguments"), so on those designs the interaction effects are ``k'b`` and ``sqrt(k'Vk)`` from
``coef()`` and ``vcov()`` of the fit. ``svypredmeans`` averages over every row of its design
(``svymean`` of the predictions, NA where a covariate is missing), so the margins cases are
fitted on the complete cases of the outcome and covariates, and once on the complete cases of
the covariates only: R's svypredmeans then averages over the model's rows (socialhealth's
``average_over="model"``, as its docstring says), while the full linearisation by hand
averages over every row (``average_over="design"``). The attrition retention
probabilities are compared for the persons at risk (socialhealth leaves the others NaN).

Defects found and fixed (regression tests at the end): log/identity-link binomial estimates
~5e-7 short of the maximum; replicate-design logit intervals of ``design.proportion`` (and so
``transitions``) refitted with the wrong weight scale (up to 0.17% off R's svyciprop, and
arbitrary where a replicate has no event); a replicate refit diverging from a far start gave a
NaN interval (batched path) or a bare ZeroDivisionError (row-wise path); NaN intervals without
a word where df <= 0.
"""
from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth import models
from socialhealth.datasets import PanelData

FIX = Path(__file__).parent / "fixtures" / "fuzz_applied" / "fuzz_applied_reference.json.gz"
REF = json.loads(gzip.decompress(FIX.read_bytes()))
DATASETS = {d["id"]: d for d in REF["datasets"]}
TOL = 1e-8
# log/identity-binomial SEs on replicate designs: R's replicate refits (module docstring)
PR_REPLICATE_SE_TOL = 1e-4
BLOCKS = [["age", "sex"], ["educ"]]
METHOD = {"JK1": "jk1", "bootstrap": "bootstrap", "JKn": "jkn", "other": "other"}
STRINGS = ("sex", "educ", "region", "grp", "st1", "st2", "status")
LOGICALS = ("iso1", "ph1", "ph2", "followed")


# ----------------------------------------------------------------------------- helpers
def _num(v):
    if isinstance(v, list):
        return np.array([_num(x) for x in v], dtype=float)
    return np.nan if v is None else float(v)


def close(got, want, what="", rtol=TOL):
    got = np.atleast_1d(np.asarray(got, dtype=float))
    want = np.atleast_1d(_num(want) if not isinstance(want, np.ndarray) else want)
    want = want.reshape(got.shape) if want.size == got.size else want
    scale = np.nanmax(np.abs(want)) if want.size and np.isfinite(want).any() else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def frame(ds) -> pd.DataFrame:
    cols = {}
    for k, vals in ds["data"].items():
        if k in STRINGS:
            cols[k] = pd.Series([v for v in vals], dtype=object)
        elif k in LOGICALS:
            cols[k] = pd.array(vals, dtype="boolean")
        else:
            cols[k] = pd.Series([np.nan if v is None else v for v in vals], dtype=float)
    return pd.DataFrame(cols)


def design_kwargs(ds, df):
    spec = ds["design"]
    if ds["kind"] == "taylor":
        return dict(weights="w", strata="stratum", psu="psu", fpc=spec.get("fpc"),
                    lonely_psu=spec["lonely_psu"])
    return dict(weights="w", replicate_weights=[f"rw{j}" for j in range(len(spec["repweights"]))],
                method=METHOD[spec["type"]], scale=spec["scale"], rscales=spec["rscales"],
                mse=spec["mse"])


def with_repweights(ds, df):
    if ds["kind"] == "replicate":
        for j, c in enumerate(ds["design"]["repweights"]):
            df[f"rw{j}"] = np.asarray(c, dtype=float)
    return df


def build(ds):
    df = with_repweights(ds, frame(ds))
    kw = design_kwargs(ds, df)
    if ds["kind"] == "taylor":
        return sh.SurveyDesign(df, **kw)
    return sh.ReplicateDesign(df, **kw)


PANEL_COLUMNS = {"iso1": "iso@2006", "ph1": "ph@2006", "ph2": "ph@2010", "h1": "h@2006",
                 "h2": "h@2010", "c1": "c@2006", "c2": "c@2010", "st1": "st@2006",
                 "st2": "st@2010", "age": "age@2006", "sex": "sex@2006"}


def panel(ds) -> PanelData:
    df = with_repweights(ds, frame(ds)).rename(columns=PANEL_COLUMNS)
    df["respondent_id"] = np.arange(len(df)).astype(str)
    df["followup_status"] = df["status"]
    df["followed"] = df["followed"].astype(bool)
    kw = design_kwargs(ds, df)
    if ds["kind"] == "replicate":
        kw["kind"] = "replicate"
    return PanelData("fuzz", df, pd.DataFrame(), {}, kw, waves=[2006, 2010])


def cases(key):
    out = []
    for dsid, ds in DATASETS.items():
        if key in ds["results"]:
            out.append(pytest.param(dsid, id=f"{dsid}"))
    return out


def _rows_vs_r(f, rlist, expo, what, level_of=None, se_rtol=TOL):
    """An association-type table (one row per model and exposure level) against R's
    ``rows_of`` records, model by model."""
    assert sorted(f["model"].unique()) == list(range(len(rlist))), what
    for k, r in enumerate(rlist):
        assert "error" not in r, f"{what} model {k}: R failed: {r}"
        rows = f[f["model"] == k]
        terms = np.atleast_1d(r["terms"]).tolist()
        if level_of is not None:
            lv = [level_of(t) for t in terms]
            rows = rows.set_index(rows["level"].astype(str)).loc[lv]
        assert len(rows) == len(terms), what
        b = np.log(rows["estimate"]) if expo else rows["estimate"]
        w = f"{what} model {k} ({r['formula']})"
        assert (rows["df"] == r["df"]).all(), (w, rows["df"].tolist(), r["df"])
        assert (rows["n"] == r["n"]).all(), (w, rows["n"].tolist(), r["n"])
        close(b, r["coef"], w + " coef")
        lo, hi = (np.log(rows["ci_low"]), np.log(rows["ci_high"])) if expo else (rows["ci_low"],
                                                                                rows["ci_high"])
        try:
            close(rows["se"], r["se"], w + " se", rtol=se_rtol)
        except AssertionError:
            # IRLS stopped one iteration apart at the threshold (module docstring): the same
            # model refitted from R's coefficients, and its t interval by hand
            se = _num(r["se_refit"])
            close(rows["se"], se, w + " se (R refitted from coef(m))", rtol=se_rtol)
            q = stats.t.ppf(0.975, r["df"])
            close(lo, _num(r["coef"]) - q * se, w + " ci_low (R refitted)")
            close(hi, _num(r["coef"]) + q * se, w + " ci_high (R refitted)")
            continue
        if None in np.atleast_1d(np.asarray(r["ci_low"], dtype=object)) and r["df"] > 0:
            # R's confint() is infinite at df = 1 (module docstring): the t interval by hand
            close(lo, r["ci_t_low"], w + " ci_low (t interval)", rtol=se_rtol)
            close(hi, r["ci_t_high"], w + " ci_high (t interval)", rtol=se_rtol)
        else:
            close(lo, r["ci_low"], w + " ci_low", rtol=se_rtol)
            close(hi, r["ci_high"], w + " ci_high", rtol=se_rtol)
        close(rows["p"], r["p"], w + " p", rtol=se_rtol)
        assert (rows["df"] == r["df"]).all(), (w, rows["df"].tolist(), r["df"])
        assert (rows["n"] == r["n"]).all(), (w, rows["n"].tolist(), r["n"])


def _r_diverged(max_abs_coef, what):
    """Where socialhealth raises a SeparationError (the maximum-likelihood estimate does not
    exist), R's glm.fit stops after drifting: some coefficient is large (|b| > 10 on the link
    scale; R's SE is then meaningless). Expected difference: socialhealth refuses."""
    assert max_abs_coef > 10, (what, max_abs_coef)


def _check_notes(f, rlist, caught):
    """No note, except on a model without residual df (R's df <= 0 too), whose NaN interval and
    p-value are said in the note and a warning (never silently)."""
    for k, r in enumerate(rlist):
        notes = f.loc[f["model"] == k, "note"]
        if r["df"] > 0:
            assert (notes == "").all(), notes.tolist()
        else:
            assert notes.str.startswith("no residual design degrees of freedom").all()
            assert any(f"model {k} " in str(w.message) and "degrees of freedom" in str(w.message)
                       for w in caught)
    assert all("degrees of freedom" in str(w.message) for w in caught), [str(w.message)
                                                                        for w in caught]


def grp_level(t):
    return t.replace("factor(grp)", "").replace("grp_b", "")


def domain(d):
    return d.subset((d.data["region"] == "r1").to_numpy())


# ----------------------------------------------------------------------------- association
ASSOC = {
    # key: (exposure, outcome, adjust, measure, kwargs, level_of, on_domain)
    "assoc_or": ("lonely", "ybin", BLOCKS, "or", {}, None, False),
    "assoc_or_avail": ("lonely", "ybin", BLOCKS, "or", {"complete_cases": False}, None, False),
    "assoc_coef_cat": ("grp", "ycont", BLOCKS, "coef", {}, grp_level, False),
    "assoc_coef_cat_refb": ("grp", "ycont", [["age"]], "coef", {"reference": "b"}, grp_level,
                            False),
    "assoc_coef_num": ("x", "ycont", [["age"]], "coef", {}, None, False),
    "assoc_or_cat": ("grp", "ybin", [["sex"]], "or", {}, grp_level, False),
    "assoc_or_domain": ("lonely", "ybin", BLOCKS, "or", {}, None, True),
    "assoc_coef_domain": ("x", "ycont", [["age"]], "coef", {}, None, True),
}


@pytest.mark.parametrize("key", list(ASSOC))
@pytest.mark.parametrize("dsid", list(DATASETS))
def test_association_vs_r(dsid, key):
    ds = DATASETS[dsid]
    expo_col, outcome, adjust, measure, kw, level_of, on_domain = ASSOC[key]
    d = build(ds)
    if on_domain:
        d = domain(d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            t = models.association(d, exposure=expo_col, outcome=outcome, adjust=adjust,
                                   measure=measure, **kw)
        except sh.errors.SeparationError as exc:
            k = int(str(exc).split()[1])           # "model <k> (...)"
            _r_diverged(ds["results"][key][k]["max_abs_coef"], f"{dsid} {key} model {k}")
            return
    f = t.to_frame()
    _check_notes(f, ds["results"][key], caught)
    _rows_vs_r(f, ds["results"][key], measure in ("or", "pr"), f"{dsid} {key}", level_of)


@pytest.mark.parametrize("dsid", list(DATASETS))
def test_association_pr_vs_r(dsid):
    """Prevalence ratios: the log-binomial model where it converges (R with start = (log of the
    weighted mean, 0, ...)), the quasi-Poisson fallback otherwise."""
    ds = DATASETS[dsid]
    r_lb, r_po = ds["results"]["assoc_pr_logbin"], ds["results"]["assoc_pr_pois"]
    d = build(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = models.association(d, exposure="lonely", outcome="ybin", adjust=BLOCKS, measure="pr")
    f = t.to_frame()
    for k in range(len(r_lb)):
        row = f[f["model"] == k]
        fell_back = "Poisson" in row["note"].iloc[0]
        ref = r_po[k] if fell_back else r_lb[k]
        if not fell_back:
            assert "error" not in ref and ref["converged"], (dsid, k)
        se_rtol = PR_REPLICATE_SE_TOL if ds["kind"] == "replicate" and not fell_back else TOL
        _rows_vs_r(row.assign(model=0), [ref], True, f"{dsid} pr model {k}", se_rtol=se_rtol)


@pytest.mark.parametrize("dsid", list(DATASETS))
def test_association_rd_vs_r(dsid):
    """Risk differences: the identity-link binomial model (R with start = (weighted mean, 0,
    ...), as socialhealth); where R's fit stops at the boundary (fitted probabilities 0 or 1,
    ``m$boundary``, or R fails) socialhealth falls back to the difference of predictive margins
    of the logistic model, compared with the same margins by hand in R."""
    ds = DATASETS[dsid]
    r_id, r_mg = ds["results"]["assoc_rd"], ds["results"]["assoc_rd_margins"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = models.association(build(ds), exposure="lonely", outcome="ybin", adjust=BLOCKS,
                               measure="rd")
    f = t.to_frame()
    for k in range(len(r_id)):
        row = f[f["model"] == k]
        what = f"{dsid} rd model {k}"
        if "margins" not in row["note"].iloc[0]:
            assert "error" not in r_id[k] and not r_id[k]["boundary"], what
            se_rtol = PR_REPLICATE_SE_TOL if ds["kind"] == "replicate" else TOL
            _rows_vs_r(row.assign(model=0), [r_id[k]], False, what, se_rtol=se_rtol)
            continue
        # R at the boundary too: failed, flagged, or fitted probabilities within 1e-8 of 0 or 1
        # (in the full-sample fit or, on replicate designs, in a replicate's refit)
        r = r_id[k]
        rng = [*r["fitted_range"], *r.get("rep_fitted_range", [])]
        assert ("error" in r or r["boundary"] or min(rng) < 1e-8 or max(rng) > 1 - 1e-8), what
        assert any("margins" in str(w.message) for w in caught), what
        mg = r_mg[k]
        V = np.asarray(_num(mg["lin_vcov"])).reshape(2, 2)
        close(row["estimate"], mg["lin_margin"][1] - mg["lin_margin"][0], what + " margins diff")
        close(row["se"], np.sqrt(V[0, 0] + V[1, 1] - 2 * V[0, 1]), what + " margins diff se")
        assert (row["df"] == mg["df"]).all(), what


# ----------------------------------------------------------------------------- interaction
INTER = {
    "inter_or_sex": ("lonely", "ybin", "sex", ["age"], "or", False),
    "inter_coef_educ": ("x", "ycont", "educ", ["sex"], "coef", False),
    "inter_coef_cat": ("educ", "ycont", "sex", ["age"], "coef", False),
    "inter_or_domain": ("lonely", "ybin", "sex", ["age"], "or", True),
    "inter_pr_sex": ("lonely", "ybin", "sex", ["age"], "pr", False),
}


@pytest.mark.parametrize("key", list(INTER))
@pytest.mark.parametrize("dsid", list(DATASETS))
def test_interaction_vs_r(dsid, key):
    ds = DATASETS[dsid]
    r = ds["results"][key]
    assert "error" not in r, r
    x, y, by, adjust, measure, on_domain = INTER[key]
    d = build(ds)
    if on_domain:
        d = domain(d)
    res = models.interaction(d, exposure=x, outcome=y, by=by, adjust=adjust, measure=measure)
    f = res.to_frame()
    labels = []
    for row in f.itertuples(index=False):
        xt = x if row.level is None else f"factor({x}){row.level}"
        labels.append(f"{xt} {row.modifier_level}")
    idx = [labels.index(lab) for lab in r["labels"]]
    f = f.iloc[idx]
    what = f"{dsid} {key}"
    est = np.log(f["estimate"]) if measure in ("or", "pr") else f["estimate"]
    close(est, r["est"], what + " est")
    close(f["se"], r["se"], what + " se")
    assert (f["df"] == r["df"]).all() and (f["n"] == r["n"]).all(), what
    w = res.wald
    close(w.statistic, r["wald"]["F"], what + " F")
    assert w.df == r["wald"]["df"] and w.ddf == r["wald"]["ddf"], what
    close(w.p, r["wald"]["p"], what + " wald p")


# ----------------------------------------------------------------------------- margins
MARGINS = {
    # key: (outcome, covariates, variable, family, on a domain, average_over)
    "margins_grp_logit": ("ybin", ["age", "sex"], "grp", "binomial", False, "model"),
    "margins_educ_gauss": ("ycont", ["x"], "educ", "gaussian", False, "model"),
    "margins_lonely_domain": ("ybin", ["age"], "lonely", "binomial", True, "model"),
    # the outcome missing on some rows with known covariates: svypredmeans averages over them
    "margins_grp_design_rows": ("ybin", ["age", "sex"], "grp", "binomial", False, "design"),
}


def _margins_design(d, y, covs, g, on_domain, average_over):
    if on_domain:
        d = domain(d)
    cols = [y, *covs, g] if average_over == "model" else [*covs, g]
    ok = d.data[cols].notna().all(axis=1).to_numpy() & d.in_subset
    return d.subset(ok)


@pytest.mark.parametrize("key", list(MARGINS))
@pytest.mark.parametrize("dsid", list(DATASETS))
def test_margins_vs_r(dsid, key):
    ds = DATASETS[dsid]
    r = ds["results"][key]
    assert "error" not in r, r
    y, covs, g, family, on_domain, average_over = MARGINS[key]
    d = _margins_design(build(ds), y, covs, g, on_domain, average_over)
    what = f"{dsid} {key}"
    try:
        m = d.glm(f"{y} ~ " + " + ".join([*covs, f"C({g})"]), family=family)
    except sh.errors.SeparationError:
        _r_diverged(r["max_abs_coef"], what)
        return
    levels = [str(v) for v in r["levels"]]
    # svypredmeans
    # R's svypredmeans averages over the model's rows (after na.omit), also where the outcome
    # is missing on rows of its design: socialhealth's average_over="model"
    res = models.margins(m, g, variance="svypredmeans", average_over="model")
    t = res.to_frame()
    mg = t[t["kind"] == "margin"]
    mine = [str(int(v)) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)
            for v in mg["level"]]
    assert mine == levels, (mine, levels)
    close(mg["estimate"], r["margin"], what + " margins")
    Vr = np.asarray(_num(r["vcov"])).reshape(len(levels), len(levels))
    try:
        close(res.vcov, Vr, what + " vcov")
    except AssertionError:
        # svypredmeans refits the model inside R; where its IRLS stopped one iteration away
        # from ours (module docstring), the model refitted from its own coefficients
        m = d.glm(m.formula, family=family, start=m.params.to_numpy())
        res = models.margins(m, g, variance="svypredmeans", average_over="model")
        t = res.to_frame()
        close(res.vcov, Vr, what + " vcov (model refitted from its coefficients)")
    close(t[t["kind"] == "difference"]["estimate"], r["diff"]["est"], what + " diff")
    close(t[t["kind"] == "difference"]["se"], r["diff"]["se"], what + " diff se")
    ratio = t[t["kind"] == "ratio"]
    close(np.log(ratio["estimate"]), r["logratio"]["est"], what + " log ratio")
    close(ratio["se"], r["logratio"]["se"], what + " log ratio se")
    assert (t["df"] == r["df"]).all(), what
    # full linearisation (Taylor) / replicate refits, by hand in R
    lin = models.margins(m, g, average_over=average_over)
    close(lin.to_frame().query("kind == 'margin'")["estimate"], r["lin_margin"],
          what + " lin margins")
    close(lin.vcov, np.asarray(_num(r["lin_vcov"])).reshape(len(levels), len(levels)),
          what + " lin vcov")


# ----------------------------------------------------------------------------- panel
@pytest.mark.parametrize("dsid", list(DATASETS))
def test_prospective_vs_r(dsid):
    ds = DATASETS[dsid]
    p = panel(ds)
    for key, incident in (("prosp", False), ("prosp_incident", True)):
        try:
            t = models.prospective(p, exposure="iso", exposure_wave=2006, outcome="ph",
                                   outcome_wave=2010, adjust=["age", "sex"], incident=incident)
        except sh.errors.SeparationError as exc:
            k = int(str(exc).split()[1])
            _r_diverged(ds["results"][key][k]["max_abs_coef"], f"{dsid} {key} model {k}")
            continue
        _rows_vs_r(t.to_frame(), ds["results"][key], True, f"{dsid} {key}")


@pytest.mark.parametrize("dsid", list(DATASETS))
def test_change_vs_r(dsid):
    ds = DATASETS[dsid]
    p = panel(ds)
    for key, adjust in (("change", None), ("change_adj", ["age"])):
        r = ds["results"][key]
        res = models.change(p, "c", "h", waves=(2006, 2010), adjust=adjust)
        f = res.to_frame() if hasattr(res, "to_frame") else res.table
        what = f"{dsid} {key}"
        close(f["estimate"], r["coef"], what + " coef")
        close(f["se"], r["se"], what + " se")
        ci = ("ci_t_low", "ci_t_high") if r["df"] == 1 else ("ci_low", "ci_high")
        close(f["ci_low"], r[ci[0]], what + " ci_low")
        close(f["ci_high"], r[ci[1]], what + " ci_high")
        close(f["p"], r["p"], what + " p")
        assert (f["df"] == r["df"]).all() and res.n == r["n"], what


@pytest.mark.parametrize("dsid", list(DATASETS))
def test_transitions_vs_r(dsid):
    ds = DATASETS[dsid]
    r = ds["results"]["transitions"]
    t = models.transitions(panel(ds), "st", 2006, 2010).to_frame()
    what = f"{dsid} transitions"
    assert len(t) == len(r), what
    t = t.set_index([t["from_state"].astype(str), t["to_state"].astype(str)])
    for c in r:
        row = t.loc[(c["from"], c["to"])]
        w = f"{what} {c['from']} -> {c['to']}"
        assert row["n"] == c["n"], w
        for col in ("weighted", "share", "se", "row_share", "row_se"):
            close(row[col], c[col], f"{w} {col}")
        # the logit intervals against the t interval on the logit scale by hand (R's own
        # svyciprop intervals where they are finite, df > 1)
        close(row[["ci_low", "ci_high"]].to_numpy(float), c["ci_t"], f"{w} ci")
        if c.get("row_rep"):
            _check_diverged_replicate(ds, c, row, w)
            continue
        close(row[["row_ci_low", "row_ci_high"]].to_numpy(float), c["row_ci_t"], f"{w} row ci")
        for col in ("ci", "row_ci"):
            if c["row_df" if col == "row_ci" else "df"] > 1:
                close(row[[f"{col}_low", f"{col}_high"]].to_numpy(float),
                      [c[f"{col}_low"], c[f"{col}_high"]], f"{w} {col} (svyciprop)")
        assert row["df"] == c["df"] and row["row_df"] == c["row_df"], (w, row["df"], c["df"],
                                                                      row["row_df"], c["row_df"])


def _check_diverged_replicate(ds, c, row, w):
    """Expected difference (R is wrong): a replicate of svyciprop's intercept-only svyglm whose
    share is far from the full sample's makes glm.fit, started at the full-sample logit,
    overshoot and diverge (R returns e.g. -1.5e15 where the maximum, logit of the replicate's
    share, is -1.26), so R's interval is (0, NaN). socialhealth takes that replicate's maximum;
    the interval by hand: R's replicate logits with the absurd ones replaced by the logit of
    the replicate's share computed from the data, their replicate variance, a t interval."""
    df = frame(ds)
    W = np.column_stack([np.asarray(col, dtype=float) for col in ds["design"]["repweights"]])
    dom = ((df["st1"] == c["from"]) & df["st2"].notna()).to_numpy()
    y = (df["st2"] == c["to"]).to_numpy(float)[dom]
    b_r = np.asarray(c["row_rep"]["replicates"], dtype=float)
    for r in np.flatnonzero(np.abs(b_r) > 1000):
        p_r = W[dom, r] @ y / W[dom, r].sum()
        assert 0 < p_r < 1, w
        b_r[r] = np.log(p_r / (1 - p_r))
    spec = ds["design"]
    centre = np.mean(b_r) if not spec["mse"] else c["row_rep"]["coef"]
    se = np.sqrt(spec["scale"] * np.sum(np.asarray(spec["rscales"]) * (b_r - centre) ** 2))
    b = c["row_rep"]["coef"]
    q = stats.t.ppf(0.975, c["row_df"])
    want = 1 / (1 + np.exp(-np.array([b - q * se, b + q * se])))
    close(row[["row_ci_low", "row_ci_high"]].to_numpy(float), want, f"{w} row ci (by hand)")


@pytest.mark.parametrize("dsid", [d for d in DATASETS if "attrition" in DATASETS[d]["results"]])
def test_attrition_vs_r(dsid):
    ds = DATASETS[dsid]
    r = ds["results"]["attrition"]
    assert "error" not in r, r
    p = panel(ds)
    kw = dict(outcome_model=dict(exposure="iso", exposure_wave=2006, outcome="ph",
                                 outcome_wave=2010, adjust=["sex"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = models.attrition(p, baseline=["age", "sex", "iso"], **kw)
        except sh.errors.SeparationError as exc:
            # the outcome model has no maximum (R's drifted): socialhealth refuses, naming the
            # model; the retention part is compared without it
            k = int(str(exc).split()[1])
            _r_diverged(r["outcome"]["baseline"][k]["max_abs_coef"], f"{dsid} outcome {k}")
            a = models.attrition(p, baseline=["age", "sex", "iso"])
    what = f"{dsid} attrition"
    ret = a.retention_model
    close(ret.params.to_numpy(), r["retention"]["coef"], what + " retention coef")
    close(ret.se().to_numpy() if callable(getattr(ret, "se", None)) else ret.bse,
          r["retention"]["se"], what + " retention se")
    assert ret.nobs == r["retention"]["n"] and ret.df_resid == r["retention"]["df"], what
    # fitted retention probabilities of the persons at risk (socialhealth leaves the others
    # NaN: they are not in the retention model)
    risk = a.retention["at_risk"].to_numpy(bool)
    close(a.retention["p_retained"].to_numpy()[risk], _num(r["p_retained"])[risk],
          what + " p_retained")
    wt = a.weights.set_index("weight")
    for name, key in (("baseline weight", "baseline"), ("baseline / P(retained)", "ipw")):
        assert wt.loc[name, "n"] == r["weights"][key]["n"], what
        close(wt.loc[name, ["ratio", "n_eff"]].to_numpy(float),
              [r["weights"][key]["ratio"], r["weights"][key]["n_eff"]], what + " weights")
    if a.outcome is None:
        return
    o = a.outcome
    for name, key in (("baseline weight", "baseline"), ("baseline / P(retained)", "ipw")):
        _rows_vs_r(o[o["weighting"] == name], r["outcome"][key], True, f"{what} {key}")


# ----------------------------------------------------------------------------- regressions
def _complete(ds, cols):
    df = frame(ds)
    return df[df[cols].notna().all(axis=1)]


def _newton(X, y, w, link):
    """Weighted binomial maximum likelihood by Newton-Raphson with the observed information
    (a hand computation independent of socialhealth's IRLS), log or identity link."""
    b = np.zeros(X.shape[1])
    b[0] = np.log(np.average(y, weights=w)) if link == "log" else np.average(y, weights=w)
    for _ in range(500):
        eta = X @ b
        mu = np.exp(eta) if link == "log" else eta
        if link == "log":       # l = y eta + (1 - y) log(1 - e^eta)
            d1 = y - (1 - y) * mu / (1 - mu)
            d2 = -(1 - y) * mu / (1 - mu) ** 2
        else:                   # l = y log(eta) + (1 - y) log(1 - eta)
            d1 = y / mu - (1 - y) / (1 - mu)
            d2 = -y / mu ** 2 - (1 - y) / (1 - mu) ** 2
        step = np.linalg.solve((X * (w * d2)[:, None]).T @ X, X.T @ (w * d1))
        b = b - step
        if np.max(np.abs(step)) < 1e-15 * (1 + np.max(np.abs(b))):
            break
    return b


@pytest.mark.parametrize("dsid,measure,link", [("taylor_04", "pr", "log"),
                                               ("taylor_01", "rd", "identity")])
def test_noncanonical_binomial_at_the_maximum(dsid, measure, link):
    """Regression: log- and identity-link binomial models stopped by the deviance rule up to
    ~5e-7 (relative) short of the maximum (Fisher scoring converges linearly there; on
    taylor_04 R's mustart fails and its start= path stopped elsewhere). association() now
    refits until the coefficients settle: the estimate is the maximum-likelihood estimate,
    found here by Newton-Raphson by hand."""
    ds = DATASETS[dsid]
    d = _complete(ds, ["ybin", "lonely", "age", "sex", "educ"])
    X = np.column_stack([np.ones(len(d)), d["lonely"], d["age"], (d["sex"] == "m").astype(float)])
    b = _newton(X, d["ybin"].to_numpy(), d["w"].to_numpy(), link)
    t = models.association(build(ds), exposure="lonely", outcome="ybin", adjust=BLOCKS,
                           measure=measure).to_frame()
    row = t[t["model"] == 1]
    assert row["note"].iloc[0] == ""
    got = np.log(row["estimate"].iloc[0]) if measure == "pr" else row["estimate"].iloc[0]
    close(got, b[1], f"{dsid} {measure} at the maximum", rtol=1e-10)


@pytest.mark.parametrize("dsid", [d for d in DATASETS if DATASETS[d]["kind"] == "replicate"])
def test_replicate_logit_interval_refit_weights(dsid):
    """Regression (design engine, ``design.proportion(method="logit")`` on replicate designs):
    R's svyglm refits each replicate with prior weights ``w_r / sum(w_r)``, which set the
    deviance scale of the IRLS stopping rule; socialhealth divided by the mean full-sample
    weight instead, so its replicate refits stopped elsewhere: intervals ~1e-7 off R's
    svyciprop, and far off where a replicate has no event (the refit drifts until the rule
    stops it). Every joint share ``from -> to`` with df > 1 against R's svyciprop."""
    ds = DATASETS[dsid]
    d = build(ds)
    ok = (d.data["st1"].notna() & d.data["st2"].notna()).to_numpy()
    for c in ds["results"]["transitions"]:
        if c["df"] <= 1:
            continue
        cell = ((d.data["st1"] == c["from"]) & (d.data["st2"] == c["to"])).astype(float)
        est = d.assign(cell=cell.where(ok).to_numpy()).subset(ok).proportion("cell",
                                                                             method="logit")
        row = est.to_frame().iloc[0]                  # a 0/1 variable: the share of 1
        close(row["estimate"], c["share"], "share")
        close([row["ci_low"], row["ci_high"]], [c["ci_low"], c["ci_high"]],
              f"{dsid} {c['from']} -> {c['to']} svyciprop interval")


def test_intercept_refit_diverging_from_a_far_start():
    """Regression (design engine): Fisher scoring of the intercept-only logistic model started
    at the full-sample logit (-3.29) for a replicate whose share is 0.22 overshoots and
    diverges (R's glm.fit returns -1.5e15 there: replicate_bootstrap_2, rare -> high);
    socialhealth returned NaN and a NaN interval without a word. The refit is now the maximum,
    logit(0.22)."""
    from socialhealth.design.proportion import _glm_intercept, _glm_intercept_sums

    s1, tot = 3.48, 15.72
    want = np.log(s1 / (tot - s1))
    with np.errstate(all="ignore"):
        got = _glm_intercept_sums(s1 / tot, 1 - s1 / tot, -3.290073)
        got_rows = _glm_intercept(np.array([1.0, 0.0]), np.array([s1, tot - s1]) / tot,
                                  start=-3.290073)[0]
    close(got, want, "batched refit")
    close(got_rows, want, "row-wise refit")


def test_no_residual_df_is_said():
    """Regression: a model with at least as many coefficients as design degrees of freedom
    (df <= 0) returned NaN intervals and p-values without a word; the row's note and a
    SocialHealthWarning now say why (R's numbers are NaN as well)."""
    dsid = next(d for d, ds in DATASETS.items()
                if [r["df"] > 0 for r in ds["results"]["assoc_or"]] == [True, False, False]
                and "error" not in ds["results"]["inter_or_sex"])
    ds = DATASETS[dsid]
    with pytest.warns(sh.errors.SocialHealthWarning, match="no residual design degrees"):
        t = models.association(build(ds), exposure="lonely", outcome="ybin", adjust=BLOCKS,
                               measure="or").to_frame()
    assert t["note"].iloc[0] == ""
    assert t["note"].iloc[1:].str.startswith("no residual design degrees of freedom").all()
    assert t[["ci_low", "p"]].iloc[1:].isna().all().all()
    with pytest.warns(sh.errors.SocialHealthWarning, match="no residual design degrees"):
        models.interaction(build(ds), exposure="lonely", outcome="ybin", by="educ",
                           adjust=["age", "sex"])


def test_margins_at_unseen_level_refused():
    """Regression: ``margins(m, "grp", at=["a", "zz"])`` gave the level ``zz`` (not in the
    data) the prediction of the reference level ``a`` (all its dummy columns 0): margin equal
    to a's, difference 0.0 with SE 0. It is now refused, as R's predict() refuses a new factor
    level; numeric variables entered as C() too."""
    d = build(DATASETS["taylor_02"])
    m = d.glm("ybin ~ age + C(grp) + C(lonely)", family="binomial")
    with pytest.raises(sh.errors.ModelError, match="'zz' are not levels of 'grp'"):
        models.margins(m, "grp", at=["a", "zz"])
    with pytest.raises(sh.errors.ModelError, match="not levels of 'lonely'"):
        models.margins(m, "lonely", at=[0, 2])
    ok = models.margins(m, "grp", at=["b", "a"]).to_frame()
    assert ok.loc[ok["kind"] == "margin", "level"].tolist() == ["b", "a"]


def _refusal_cases():
    ds = DATASETS["taylor_02"]
    d, p = build(ds), panel(ds)
    m = d.glm("ybin ~ age + C(grp)", family="binomial")
    nobody = PanelData("x", p.data.assign(**{"st@2010": None}), pd.DataFrame(), {},
                       p.design_spec, waves=[2006, 2010])
    one = (d.data["grp"] == "a").to_numpy()
    return {
        "association, one exposure level in the domain":
            lambda: models.association(d.subset(one), exposure="grp", outcome="ybin"),
        "association, empty domain": lambda: models.association(
            d.subset(np.zeros(len(d.data), bool)), exposure="lonely", outcome="ybin"),
        "association, odds ratio of a numeric outcome":
            lambda: models.association(d, exposure="lonely", outcome="ycont", measure="or"),
        "association, unknown reference":
            lambda: models.association(d, exposure="grp", outcome="ybin", reference="zz"),
        "interaction, exposure constant in a stratum": lambda: models.interaction(
            d.subset((d.data["lonely"] == 1).to_numpy()), exposure="lonely", outcome="ybin",
            by="sex"),
        "interaction, one modifier level": lambda: models.interaction(
            d.subset((d.data["sex"] == "f").to_numpy()), exposure="lonely", outcome="ybin",
            by="sex"),
        "margins, variable not in the model": lambda: models.margins(m, "sex"),
        "margins, continuous without at": lambda: models.margins(m, "age"),
        "transitions, nobody at both waves": lambda: models.transitions(nobody, "st", 2006, 2010),
        "change, categorical without scores":
            lambda: models.change(p, "st", "h", waves=(2006, 2010)),
        "prospective, incident numeric outcome": lambda: models.prospective(
            p, exposure="iso", exposure_wave=2006, outcome="h", outcome_wave=2010,
            incident=True),
    }


@pytest.mark.parametrize("case", list(_refusal_cases()))
def test_refusals_are_socialhealth_errors(case):
    """What cannot be estimated is refused with a socialhealth exception that says why (never
    a bare KeyError/ValueError/ZeroDivisionError, never a NaN or 0 in a result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(sh.errors.SocialHealthError) as exc:
            _refusal_cases()[case]()
    assert len(str(exc.value)) > 40
