"""Attrition, mortality follow-up and change-with-change on linked panels.

R: fixtures/longitudinal/make_longitudinal.R fits every model from the baseline samples that
examples.py writes to a temp dir (svyby/svyciprop + svychisq for the followed-vs-lost table,
svyglm for the retention and outcome models, as.svrepdesign(type = "JKn") + withReplicates with
both models refitted per replicate, svykm/svycoxph on the persons with a known vital status,
svyglm on first differences); only R's numbers are committed (longitudinal_reference.json).
Tolerances: rtol 1e-8 for estimates and linearised SEs, 1e-6 for the replicate SEs (130 refits
of two IRLS fits each, both sides converged to 1e-13/1e-14); counts and df exactly.
Generated panels: the weights, counts and models are checked by hand below.
"""
from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets, models
from socialhealth.datasets import PanelData
from socialhealth.datasets._panel import write_example_long
from socialhealth.errors import DatasetError, MissingColumnError, ModelError

FIX = Path(__file__).parent / "fixtures" / "longitudinal"
R = json.loads((FIX / "longitudinal_reference.json").read_text())["results"]
_spec = importlib.util.spec_from_file_location("longitudinal_examples", FIX / "examples.py")
EX = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EX)
RTOL = 1e-8


def _available(shared_data_dir, ex):
    if not (shared_data_dir / "gss" / ex["file"]).exists():
        pytest.skip(f"{ex['file']} not available")


@pytest.fixture(scope="module")
def baselines(request):
    return {}


def _baseline(cache, shared_data_dir, ex):
    if ex["name"] not in cache:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cache[ex["name"]] = EX.baseline_sample(ex, shared_data_dir)
    return cache[ex["name"]]


# ----------------------------------------------------------------------------- real panels vs R
@pytest.mark.parametrize("ex", EX.EXAMPLES, ids=[e["name"] for e in EX.EXAMPLES])
def test_attrition_equals_r(shared_data_dir, baselines, ex):
    _available(shared_data_dir, ex)
    b = _baseline(baselines, shared_data_dir, ex)
    ref = R[ex["name"]]
    assert len(b.data) == ref["n_baseline"]
    a = models.attrition(b, baseline=ex["baseline"], outcome_model=ex["outcome_model"],
                         variance="replicate" if ex["replicate"] else "linearisation")
    assert a.counts["at_risk"] == ref["n_at_risk"] and a.counts["followed"] == ref["n_followed"]
    # 1. the followed-vs-lost table: svyciprop per group and svychisq
    t = a.to_frame()
    t = t[t["group"].isin(["followed", "lost"])]
    for cell in ref["cells"]:
        lev = True if cell["level"] == "TRUE" else cell["level"]
        row = t[(t["variable"] == cell["variable"]) & (t["group"] == cell["group"])
                & (t["level"].astype(str) == str(lev))]
        assert len(row) == 1, cell
        np.testing.assert_allclose([row["estimate"].iloc[0], row["se"].iloc[0]],
                                   [cell["estimate"], cell["se"]], rtol=RTOL)
    for var, tt in ref["tests"].items():
        row = t[t["variable"] == var].iloc[0]
        np.testing.assert_allclose([row["test_statistic"], row["test_df1"], row["test_df2"],
                                    row["p_value"]],
                                   [tt["statistic"], tt["df1"], tt["df2"], tt["p"]], rtol=1e-7)
    # 2. retention model and weights
    assert a.retention_model.nobs == ref["retention"]["n"]
    assert a.retention_model.df_resid == ref["retention"]["df"]
    for k, name in [("baseline", "baseline weight"), ("ipw", "baseline / P(retained)"),
                    ("panel", "panel weight")]:
        w = a.weights.set_index("weight").loc[name]
        r = ref["weights"][k]
        assert w["n"] == r["n"]
        np.testing.assert_allclose([w["sum"], w["min"], w["max"], w["ratio"], w["n_eff"]],
                                   [r["sum"], r["min"], r["max"], r["ratio"], r["n_eff"]],
                                   rtol=RTOL)
    # 3. outcome models without / with the retention weights
    o = a.outcome
    for k, name in [("baseline", "baseline weight"), ("ipw", "baseline / P(retained)")]:
        rows = o[o["weighting"] == name].reset_index(drop=True)
        assert len(rows) == len(ref["outcome"][k])
        for row, r in zip(rows.itertuples(), ref["outcome"][k]):
            assert row.n == r["n"]
            np.testing.assert_allclose(np.log(row.estimate), r["coef"], rtol=RTOL)
            if ex["replicate"]:
                assert row.df == r["replicate_df"]
                np.testing.assert_allclose(row.se, r["se_replicate"], rtol=1e-6)
            else:
                assert row.df == r["df"]
                np.testing.assert_allclose(row.se, r["se"], rtol=RTOL)
    if not ex["replicate"]:
        return
    # the linearised SEs of the same models (weights as known) equal R's svyglm too
    lin = models.attrition(b, baseline=ex["baseline"], outcome_model=ex["outcome_model"]).outcome
    for k, name in [("baseline", "baseline weight"), ("ipw", "baseline / P(retained)")]:
        rows = lin[lin["weighting"] == name].reset_index(drop=True)
        for row, r in zip(rows.itertuples(), ref["outcome"][k]):
            assert row.df == r["df"]
            np.testing.assert_allclose([np.log(row.estimate), row.se], [r["coef"], r["se"]],
                                       rtol=RTOL)


@pytest.mark.parametrize("ex", EX.EXAMPLES, ids=[e["name"] for e in EX.EXAMPLES])
def test_mortality_followup_equals_r_svykm_svycoxph(shared_data_dir, baselines, ex):
    _available(shared_data_dir, ex)
    b = _baseline(baselines, shared_data_dir, ex)
    ref = R[ex["name"]]
    m = datasets.mortality_followup(b)
    km = models.kaplan_meier(m.design, time="time", event="event", se=True).to_frame()
    # every person with a known vital status has the same follow-up time: one step. R's svykm
    # lists tied events one by one; its last value is the product-limit estimate at that time
    assert km["time"].tolist() == [float(ex["waves"][-1] - ex["waves"][0])]
    np.testing.assert_allclose(km["surv"].iloc[-1], ref["km"]["surv"][-1], rtol=RTOL)
    np.testing.assert_allclose(km["se_log"].iloc[-1] ** 2, ref["km"]["var_log"][-1], rtol=1e-6)
    col = ex["km_by"] + f"@{ex['waves'][0]}"
    mb = m.design.subset(m.data[col].notna().to_numpy())
    kb = models.kaplan_meier(mb.assign(g=m.data[col].astype("Float64").astype(float)),
                             time="time", event="event", by="g", se=True).to_frame()
    for g in ref["km_by"]:
        row = kb[kb["g"] == float(g["group"])]
        np.testing.assert_allclose(row["surv"].iloc[-1], g["surv"][-1], rtol=RTOL)
        np.testing.assert_allclose(row["se_log"].iloc[-1] ** 2, g["var_log"][-1], rtol=1e-6)
    cols = ex["cox"]
    y0 = ex["waves"][0]
    cc = m.data[[f"{c}@{y0}" for c in cols]].notna().all(axis=1).to_numpy()
    dm = m.design.subset(cc & m.data["died"].notna().to_numpy())
    ph = f"poor_health@{y0}"
    dm = dm.assign(**{ph: m.data[ph].astype("Float64").astype(float),
                      f"sex@{y0}": m.data[f"sex@{y0}"].astype(object)})
    cox = models.coxph(dm, time="time", event="event",
                       covariates=" + ".join(f"`{c}@{y0}`" for c in cols), min_events=5,
                       events_per_variable=1)
    assert cox.nobs == ref["cox"]["n"] and cox.n_events == ref["cox"]["events"]
    np.testing.assert_allclose(cox.params.to_numpy(), list(ref["cox"]["coef"].values()),
                               rtol=1e-7)
    np.testing.assert_allclose(cox.bse.to_numpy(), list(ref["cox"]["se"].values()), rtol=1e-7)


@pytest.mark.parametrize("ex", EX.EXAMPLES, ids=[e["name"] for e in EX.EXAMPLES])
def test_change_equals_r_svyglm_on_differences(shared_data_dir, ex):
    _available(shared_data_dir, ex)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = EX.linked_panel(ex, shared_data_dir)
    ref = R[ex["name"]]["change"]
    assert len(p.data) == ref["n_linked"]
    r = models.change(p, exposure=ex["change"]["exposure"], outcome=ex["change"]["outcome"],
                      waves=(ex["waves"][0], ex["waves"][-1]),
                      exposure_scores=EX.SCORES_CONTACT, outcome_scores=EX.SCORES_HEALTH)
    f = r.to_frame()
    assert r.n == ref["n"] and f["df"].iloc[0] == ref["df"]
    np.testing.assert_allclose(f["estimate"], ref["coef"], rtol=RTOL)
    np.testing.assert_allclose(f["se"], ref["se"], rtol=RTOL)
    np.testing.assert_allclose(f["ci_low"], ref["ci_low"], rtol=RTOL)
    np.testing.assert_allclose(f["ci_high"], ref["ci_high"], rtol=RTOL)


# ----------------------------------------------------------------------------- generated panels
def test_baseline_sample_of_the_example_long_file():
    path = write_example_long(os.path.join(tempfile.mkdtemp(), "p.dta"))
    b = datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2008, 2010], cache=False)
    d = b.data.set_index("respondent_id")
    # persons 1-4 and 6 have wtpannr12 (interviewed 2006 and 2008); 5 was lost before 2008
    assert list(d.index) == ["1", "2", "3", "4", "6"]
    assert d["weight"].tolist() == [1.2, 0.8, 1.0, 1.0, 1.0]                 # wtpannr12
    assert d["panel_weight"].fillna(-1).tolist() == [1.5, 0.5, -1, 1.0, -1]  # wtpannr123
    assert d["followup_status"].tolist() == ["linked", "linked", "deceased", "linked", "attrited"]
    assert d["died"].tolist()[:4] == [False, False, True, False] and pd.isna(d["died"].iloc[4])
    assert d["death_wave"].fillna(0).tolist() == [0, 0, 2010, 0, 0]
    assert d["followup_years"].fillna(-1).tolist() == [4, 4, 4, 4, -1]
    # later waves are present for the linked persons only; person 1: health 3 (fair) in 2010
    assert d.loc["1", "poor_health@2010"] == True and pd.isna(d.loc["3", "poor_health@2010"])  # noqa: E712
    assert b.provenance["panel"]["baseline_weight"] == "wtpannr12"
    with pytest.raises(DatasetError, match="must end"):
        datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2008], cache=False)
    with pytest.raises(DatasetError, match="wtpannr12"):
        datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2010], weight="wtpannr123",
                                     cache=False)


def test_mortality_followup_by_hand():
    path = write_example_long(os.path.join(tempfile.mkdtemp(), "p.dta"))
    b = datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2010], cache=False)
    m = datasets.mortality_followup(b)
    # known vital status: 1, 2, 4 alive, 3 dead (weights 1.2, 0.8, 1.0 | 1.0); 6 unknown
    assert len(m.design) == 4
    km = models.kaplan_meier(m.design, time="time", event="event").to_frame()
    assert km["n_risk"].tolist() == [4.0] and km["n_event"].tolist() == [1.0]
    assert km["surv"].iloc[0] == pytest.approx(1 - 1.0 / 4.0, rel=1e-14)
    with pytest.raises(DatasetError, match="baseline sample"):
        datasets.mortality_followup(datasets.load_panel("gss_panel06", path, waves=[2006, 2010],
                                                        cache=False))


def _gen_baseline(n=900, seed=11):
    rng = np.random.default_rng(seed)
    old = rng.random(n) < 0.4
    iso = rng.random(n) < 0.3
    grp = rng.choice(["a", "b", "c"], n)
    status = np.where(rng.random(n) < 0.75 - 0.3 * old - 0.15 * iso, "linked", "attrited")
    status[rng.random(n) < 0.05] = "deceased"
    followed = status == "linked"
    ph = rng.random(n) < 0.15 + 0.2 * iso + 0.15 * old
    old_col = pd.array(old, dtype="boolean")
    old_col[:7] = pd.NA                                  # 7 persons without the covariate
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2.5, n),
        "strata": np.repeat(["s1", "s2", "s3"], n // 3), "psu": np.tile(["1", "2", "3", "4", "5"], n // 5),
        "followed": followed, "followup_status": status,
        "older@2006": old_col, "isolated@2006": iso, "grp@2006": grp,
        "poor_health@2006": rng.random(n) < 0.2,
        "poor_health@2010": pd.array(np.where(followed, ph, pd.NA), dtype="boolean")})
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    return PanelData("gen", data, pd.DataFrame(), {}, spec, waves=[2006, 2010])


def test_attrition_weights_by_hand(hand_logistic):
    panel = _gen_baseline()
    d = panel.data
    a = models.attrition(panel, baseline=["older", "isolated", "grp"])
    at_risk = d["followup_status"].isin(["linked", "attrited"]).to_numpy()
    assert a.counts["at_risk"] == int(at_risk.sum())
    assert a.counts["excluded"] == int((d["followup_status"] == "deceased").sum())
    assert a.counts["excluded_statuses"] == ["deceased"]
    ok = at_risk & d["older@2006"].notna().to_numpy()
    assert a.retention_model.nobs == int(ok.sum())
    # hand fit: intercept, older, isolated, grp b, grp c
    X = np.column_stack([np.ones(len(d)), d["older@2006"].astype("Float64").fillna(0).to_numpy(float),
                         d["isolated@2006"].to_numpy(float), (d["grp@2006"] == "b").to_numpy(float),
                         (d["grp@2006"] == "c").to_numpy(float)])
    y = d["followed"].to_numpy(float)
    w = d["weight"].to_numpy()
    b = hand_logistic(X[ok], y[ok], w[ok])
    np.testing.assert_allclose(a.retention_model.params.to_numpy(), b, rtol=1e-9)
    p = 1 / (1 + np.exp(-X @ b))
    analysis = ok & d["followed"].to_numpy()
    ipw = w[analysis] / p[analysis]
    got = a.retention.loc[analysis, "ipw_weight"].to_numpy()
    np.testing.assert_allclose(got, ipw, rtol=1e-9)
    assert a.retention.loc[~analysis, "ipw_weight"].isna().all()
    s = a.weights.set_index("weight").loc["baseline / P(retained)"]
    np.testing.assert_allclose([s["ratio"], s["n_eff"]],
                               [ipw.max() / ipw.min(), ipw.sum() ** 2 / (ipw ** 2).sum()],
                               rtol=1e-9)
    # the followed-vs-lost table compares the persons at risk only: n per group by hand
    t = a.to_frame()
    n_f = t[(t["variable"] == "isolated@2006") & (t["group"] == "followed")]["n_nonmissing"].iloc[0]
    assert n_f == int(d["followed"].sum())


def test_attrition_outcome_with_and_without_by_hand(hand_logistic):
    panel = _gen_baseline()
    d = panel.data
    a = models.attrition(panel, baseline=["older", "isolated"],
                         outcome_model=dict(exposure="isolated", exposure_wave=2006,
                                            outcome="poor_health", outcome_wave=2010,
                                            baseline_outcome=False))
    o = a.outcome.set_index("weighting")
    analysis = a.retention["ipw_weight"].notna().to_numpy()
    x = d["isolated@2006"].to_numpy(float)
    yv = d["poor_health@2010"].astype("Float64").fillna(0).to_numpy(float)
    X = np.column_stack([np.ones(len(d)), x])
    for name, w in [("baseline weight", d["weight"].to_numpy()),
                    ("baseline / P(retained)", a.retention["ipw_weight"].to_numpy())]:
        b = hand_logistic(X[analysis], yv[analysis], w[analysis])
        np.testing.assert_allclose(np.log(o.loc[name, "estimate"]), b[1], rtol=1e-9)
        assert o.loc[name, "n"] == int(analysis.sum())
    # replicate variance: a different SE, same estimates
    r = models.attrition(panel, baseline=["older", "isolated"], variance="replicate",
                         outcome_model=dict(exposure="isolated", exposure_wave=2006,
                                            outcome="poor_health", outcome_wave=2010,
                                            baseline_outcome=False)).outcome.set_index("weighting")
    np.testing.assert_allclose(r["estimate"], o["estimate"], rtol=1e-12)
    assert (r["variance"].str.startswith("replicate (jkn, 15 replicates)")).all()
    assert (r["df"] == 15 - 3 + 1 - 2).all()           # degf(jkn) = 15 - 3 strata


def test_attrition_errors():
    panel = _gen_baseline()
    with pytest.raises(MissingColumnError):
        models.attrition(panel, baseline=["nothing"])
    with pytest.raises(ModelError, match="variance"):
        models.attrition(panel, baseline=["isolated"], variance="bootstrap")
    with pytest.raises(ModelError, match="lost"):
        models.attrition(panel, baseline=["isolated"], lost=("no such status",))
    linked = PanelData("x", panel.data.drop(columns=["followed"]), pd.DataFrame(), {},
                       panel.design_spec, waves=[2006, 2010])
    with pytest.raises(ModelError, match="load_panel_baseline"):
        models.attrition(linked, baseline=["isolated"])


def test_weight_summary_by_hand():
    from socialhealth.models._attrition import weight_summary

    s = weight_summary([2.0, 0.0, np.nan, 1.0, 1.0])
    assert s["n"] == 3 and s["ratio"] == 2.0
    assert s["n_eff"] == pytest.approx(16 / 6, rel=1e-15) and s["deff_w"] == pytest.approx(3 / (16 / 6))


def test_change_by_hand():
    rng = np.random.default_rng(4)
    n = 120
    lv = ["never", "monthly", "weekly"]
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2, n),
        "strata": np.repeat(["a", "b"], n // 2), "psu": np.tile(["1", "2", "3"], n // 3),
        "c@2006": pd.Categorical(rng.choice(lv, n), categories=lv),
        "c@2010": pd.Categorical(rng.choice(lv, n), categories=lv),
        "h@2006": rng.normal(size=n), "h@2010": rng.normal(size=n)})
    data.loc[:4, "h@2010"] = np.nan
    panel = PanelData("g", data, pd.DataFrame(), {}, {"weights": "weight", "strata": "strata",
                      "psu": "psu", "nest": True}, waves=[2006, 2010])
    sc = {"never": 0, "monthly": 1, "weekly": 2}
    r = models.change(panel, "c", "h", waves=(2006, 2010), exposure_scores=sc)
    dx = data["c@2010"].map(sc).astype(float) - data["c@2006"].map(sc).astype(float)
    dy = data["h@2010"] - data["h@2006"]
    ok = dy.notna().to_numpy()
    X = np.column_stack([np.ones(ok.sum()), dx[ok]])
    w = data["weight"].to_numpy()[ok]
    b = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * dy[ok]))
    np.testing.assert_allclose(r.to_frame()["estimate"], b, rtol=1e-10)
    assert r.n == n - 5
    with pytest.raises(ModelError, match="scores"):
        models.change(panel, "c", "h", waves=(2006, 2010))
    with pytest.raises(ModelError, match="no score"):
        models.change(panel, "c", "h", waves=(2006, 2010), exposure_scores={"never": 0})
    with pytest.raises(ModelError, match="earlier"):
        models.change(panel, "c", "h", waves=(2010, 2006), exposure_scores=sc)
    with pytest.raises(MissingColumnError):
        models.change(panel, "c", "h", waves=(2006, 2008), exposure_scores=sc)


def test_panel20_baseline_weight_choice(shared_data_dir):
    f = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not f.exists():
        pytest.skip("gss_panel20_extract.dta not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = datasets.load_panel_baseline("gss_panel20", f, waves=[2018, 2020], weight="wtssall")
        # every 2018 respondent (2348, the README's count), 2018 cross-sectional weight
        assert len(b.data) == 2348 and b.provenance["panel"]["baseline_weight"] == "wtssall_1b"
        assert b.data["followup_status"].value_counts().to_dict() == {
            "attrited": 1267, "linked": 1014, "deceased": 45, "ineligible": 22}
        assert int(b.data["died"].sum()) == 45                 # panstat 33 in the 2018 sample
        with pytest.raises(DatasetError, match="2020 wave's weight"):
            datasets.load_panel_baseline("gss_panel20", f, waves=[2016, 2020], weight="wtssnr_2")
