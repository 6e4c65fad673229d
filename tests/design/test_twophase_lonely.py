"""TwoPhaseDesign(lonely_psu=...): single-PSU (or single-row) strata at phase 1 and phase 2,
against R survey 4.1-1 under options(survey.lonely.psu = ...).

Reference numbers: tests/fixtures/twophase/make_twophase_lonely.R (twophase_lonely_reference.json),
which changes the synthetic twophase_phase1_data.csv as ``_datasets`` below does. Means,
totals, ratios and their phase contributions are compared at 1e-8 (relative), svyglm
coefficients and covariances at 1e-7 (R fitted with glm.control(epsilon = 1e-12)).

What R does (module docstring of socialhealth.design.twophase):

* method="full" (R's twophase2) ignores survey.lonely.psu at both phases and never fails; its
  value is the Horvitz-Thompson double sum, in which a lonely unit keeps its diagonal term
  ``(1 - f_h)``: lonely_psu="adjust" here. "remove"/"average" keep their meaning here and
  are checked by hand.
* method="approx"/"simple": "adjust" and "average" as here; "remove"/"certainty" leave a term
  ``f (1 - pi2)^2 Z^2 / pi2`` of a lonely phase-1 stratum (neither 0 nor R's own "average"
  before its H / H_ok factor), so here the stratum adds 0, checked as R's "average" times
  ``H_ok / H``.
* phase-2 strata with one phase-2 row: both methods follow the options in the phase-2 term
  (full: "adjust"'s value whatever the option), as here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError, LonelyPSUError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "twophase"
TOL = 1e-8
GLM_TOL = 1e-7
OPTIONS = ("remove", "adjust", "average", "certainty")

# name in the JSON -> (data set, TwoPhaseDesign arguments, variable, gaussian glm formula)
DESIGNS = {
    "full_psu_fpc": ("dp", dict(subset="in2", strata="s2", phase1_psu="psu",
                                phase1_strata="stratum1", phase1_fpc="Npsu"),
                     "y", "y ~ x + age"),
    "full_p2c_fpc": ("dp", dict(subset="in2c", strata="urban", phase1_psu="psu",
                                phase2_psu="psu", phase1_strata="stratum1", phase1_fpc="Npsu"),
                     "yc", "yc ~ age + case"),
    "approx_p2c_fpc": ("dp", dict(subset="in2c", strata="urban", phase1_psu="psu",
                                  phase2_psu="psu", phase1_strata="stratum1",
                                  phase1_fpc="Npsu", method="approx"),
                       "yc", "yc ~ age + case"),
    "approx_row": ("dr", dict(subset="in2", strata="s2", phase1_strata="st9", method="approx"),
                   "y", "y ~ x + age"),
    "simple_row_fpc": ("dr", dict(subset="in2", strata="s2", phase1_strata="st9",
                                  phase1_fpc="Nel9", method="simple"), "y", "y ~ x + age"),
    "phase2_full": ("ds", dict(subset="in2", strata="s2l"), "y", "y ~ x + age"),
    "phase2_approx": ("ds", dict(subset="in2", strata="s2l", method="approx"),
                      "y", "y ~ x + age"),
    "phase2_full_psu_fpc": ("ds", dict(subset="in2", strata="s2l", phase1_psu="psu",
                                       phase1_strata="stratum1", phase1_fpc="Npsu"),
                            "y", "y ~ x + age"),
    "phase2c_full": ("dc", dict(subset="in2c", strata="u3", phase1_psu="psu", phase2_psu="psu",
                                phase1_strata="stratum1", phase1_fpc="Npsu"),
                     "yc", "yc ~ age + case"),
    "phase2c_approx": ("dc", dict(subset="in2c", strata="u3", phase1_psu="psu",
                                  phase2_psu="psu", phase1_strata="stratum1",
                                  phase1_fpc="Npsu", method="approx"),
                       "yc", "yc ~ age + case"),
}
FULL_PHASE1 = ("full_psu_fpc", "full_p2c_fpc")          # R ignores the option: "adjust"
APPROX_PHASE1 = ("approx_p2c_fpc", "approx_row", "simple_row_fpc")


def _datasets() -> dict[str, pd.DataFrame]:
    """The three changed data sets of make_twophase_lonely.R."""
    d0 = pd.read_csv(FIX / "twophase_phase1_data.csv")
    # phase-1 stratum 7 with one PSU: a copy of PSU 60 (stratum 6, 20 population PSUs)
    extra = d0[d0.psu == 60].assign(psu=61, stratum1=7)
    extra["id"] = extra["id"] + 10000
    dp = pd.concat([d0, extra], ignore_index=True)
    # phase-1 stratum 9 holding only the first phase-2 row (4 population rows)
    first = int(np.flatnonzero(d0.in2)[0])
    dr = d0.assign(st9=np.where(np.arange(len(d0)) == first, 9, d0.stratum1))
    dr["Nel9"] = np.where(dr.st9 == 9, 4, dr.Nel)
    # phase-2 stratum "lone": the first phase-2 row and the first three other rows
    ds = d0.assign(s2l=d0.s2)
    ds.loc[[first, *np.flatnonzero(~d0.in2)[:3]], "s2l"] = "lone"
    # phase 2 of whole PSUs: phase-2 stratum 2 = the first PSU in phase 2 and the first not
    psus = d0.drop_duplicates("psu")
    two = [psus.psu[psus.in2c].iloc[0], psus.psu[~psus.in2c].iloc[0]]
    dc = d0.assign(u3=np.where(d0.psu.isin(two), 2, d0.urban))
    return {"dp": dp, "dr": dr, "ds": ds, "dc": dc}


@pytest.fixture(scope="module")
def data():
    return _datasets()


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIX / "twophase_lonely_reference.json").read_text())


def _close(got, want, tol=TOL):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=tol, atol=0)


def _design(data, name, option):
    key, kw, _, _ = DESIGNS[name]
    return sh.TwoPhaseDesign(data[key], lonely_psu=option, **kw)


def _estimates(d, y):
    """(estimate, vcov, phase1, phase2) of mean, total and ratio y / age."""
    out = {}
    for key, call in (("mean", lambda: d.mean(y)), ("total", lambda: d.total(y)),
                      ("ratio", lambda: d.ratio(y, "age"))):
        est = call()
        out[key] = (est.to_frame().estimate.to_numpy(), est.vcov, *d._last_phases)
    return out


def _check(got, r, tol=TOL):
    _close(got[0], r["estimate"], tol)
    _close(got[1], r["vcov"], tol)
    if r["phase1"] is not None:                        # R's svyratio has no phases
        _close(got[2], r["phase1"], tol)
        _close(got[3], r["phase2"], tol)


def _check_glm(d, r, glm_formula):
    for key, formula, family in [("glm_gaussian", glm_formula, "gaussian"),
                                 ("glm_quasibinomial", "case ~ age", "binomial")]:
        m = d.glm(formula, family=family)
        _close(m.params, r[key]["estimate"], GLM_TOL)
        _close(m.cov_params(), r[key]["vcov"], GLM_TOL)


# ----------------------------------------------------------------------------- no option
@pytest.mark.parametrize("name", list(DESIGNS))
def test_default_fails_and_names_the_option(data, ref, name):
    with pytest.raises(LonelyPSUError, match="lonely_psu=: 'adjust'") as err:
        _design(data, name, "fail")
    assert "survey.lonely.psu" in str(err.value)
    # R's twophase2 (method = "full") never fails: it ignores survey.lonely.psu
    if name.endswith("_full") or "_full_" in name or name.startswith("full"):
        assert ref[name]["fail"] == "no error"
    else:
        assert "only one PSU" in ref[name]["fail"]


def test_unknown_option(data):
    with pytest.raises(DesignError, match="lonely_psu='drop'"):
        _design(data, "approx_row", "drop")


# ----------------------------------------------------------------------------- equal to R
def _matches_r(name, option):
    if name in FULL_PHASE1:
        return option == "adjust"
    if name in APPROX_PHASE1:
        return option in ("adjust", "average")
    if name in ("phase2_full", "phase2_full_psu_fpc", "phase2c_full"):
        return option == "adjust"
    return True                                        # phase2(c)_approx: every option


CASES = [(n, o) for n in DESIGNS for o in OPTIONS if _matches_r(n, o)]


@pytest.mark.parametrize("name,option", CASES)
def test_equal_to_r(data, ref, name, option):
    d = _design(data, name, option)
    r = ref[name][option]
    got = _estimates(d, DESIGNS[name][2])
    for key in ("mean", "total", "ratio"):
        _check(got[key], r[key])


@pytest.mark.parametrize("name,option", CASES)
def test_glm_equal_to_r(data, ref, name, option):
    d = _design(data, name, option)
    _check_glm(d, ref[name][option], DESIGNS[name][3])


@pytest.mark.parametrize("name,option", [(n, o) for n, o in CASES
                                         if n in ("full_psu_fpc", "approx_row",
                                                  "phase2_approx")])
def test_calibrated_equal_to_r(data, ref, name, option):
    """Phase-2 weights calibrated to the phase-1 total of age (R calibrate(d, ~age, phase = 2))."""
    d = _design(data, name, option).calibrate("~age")
    r = ref[name][option]["calibrated"]
    for key in ("mean", "total"):
        est = getattr(d, key)("y")
        _check((est.to_frame().estimate.to_numpy(), est.vcov, *d._last_phases), r[key])


# ----------------------------------------------------------------------------- R ignores
@pytest.mark.parametrize("name", FULL_PHASE1 + ("phase2_full", "phase2_full_psu_fpc",
                                                "phase2c_full"))
def test_r_full_ignores_the_option(ref, name):
    for option in ("remove", "average", "certainty"):
        for key in ("mean", "total"):
            _close(ref[name][option][key]["vcov"], ref[name]["adjust"][key]["vcov"], 1e-14)


def _pi2kl(s2, n1, n2):
    """Joint phase-2 inclusion probabilities of stratified SRS (rows k, l of ``s2``)."""
    a, b = n1[s2].to_numpy(float), n2[s2].to_numpy(float)
    pi2 = b / a
    same = s2.to_numpy()[:, None] == s2.to_numpy()[None, :]
    kl = np.where(same, (b * (b - 1) / (a * (a - 1)))[:, None], pi2[:, None] * pi2[None, :])
    np.fill_diagonal(kl, pi2)
    return pi2, kl


def test_full_remove_and_average_by_hand(data, ref):
    """method="full", phase-1 stratum 7 with one PSU (61) of 20: "adjust" (= R) keeps the
    Horvitz-Thompson term of the PSU, ``(1 - 1/20) sum_{k,l in PSU 61} Z_k Z_l pi2_k pi2_l /
    pi2_kl``; "remove" drops it; "average" multiplies the rest by 7 strata / 6."""
    df = data["dp"]
    n1 = df.groupby("s2").size()
    n2 = df[df.in2].groupby("s2").size()
    sub = df[df.in2]
    pi2, pi2kl = _pi2kl(sub.s2, n1, n2)
    w1 = np.where(sub.stratum1 == 7, 20.0, sub.Npsu / 10.0)   # N_h / n_h
    w = w1 / pi2
    ybar = (w * sub.y).sum() / w.sum()
    lone = (sub.psu == 61).to_numpy()
    for key, Z in (("mean", w * (sub.y - ybar) / w.sum()), ("total", w * sub.y)):
        Z = np.where(lone, Z, 0.0)
        term = 0.95 * Z @ (np.outer(pi2, pi2) / pi2kl) @ Z
        adjust1 = ref["full_psu_fpc"]["adjust"][key]["phase1"][0][0]
        remove = _design(data, "full_psu_fpc", "remove")
        getattr(remove, key)("y")
        _close(remove._last_phases[0][0, 0], adjust1 - term)
        _close(remove._last_phases[1], ref["full_psu_fpc"]["adjust"][key]["phase2"])
        average = _design(data, "full_psu_fpc", "average")
        getattr(average, key)("y")
        _close(average._last_phases[0][0, 0], (adjust1 - term) * 7 / 6)
        assert term > 0.1 * adjust1                      # the lonely PSU matters here


def test_full_phase2_clusters_remove_by_hand(data, ref):
    """Phase 2 samples whole PSUs: the lonely PSU 61 adds ``(1 - 1/20) pi2_j T_j^2``."""
    df = data["dp"]
    first = df.drop_duplicates("psu")
    m1 = first.groupby("urban").size()
    m2 = first[first.in2c].groupby("urban").size()
    lone = df[df.psu == 61]
    pi2 = m2[lone.urban.iloc[0]] / m1[lone.urban.iloc[0]]
    assert lone.in2c.all()
    sub = df[df.in2c]
    pj = (m2[sub.urban] / m1[sub.urban]).to_numpy()
    w = np.where(sub.stratum1 == 7, 20.0, sub.Npsu / 10.0) / pj
    ybar = (w * sub.yc).sum() / w.sum()
    T = (w * (sub.yc - ybar) / w.sum())[(sub.psu == 61).to_numpy()].sum()
    r = ref["full_p2c_fpc"]["adjust"]["mean"]
    d = _design(data, "full_p2c_fpc", "remove")
    d.mean("yc")
    _close(d._last_phases[0][0, 0], r["phase1"][0][0] - 0.95 * pi2 * T ** 2)


@pytest.mark.parametrize("name", APPROX_PHASE1)
def test_approx_remove_is_r_average_without_its_factor(data, ref, name):
    """R's approx "average" leaves the lonely stratum out and multiplies by H / H_ok (7/6:
    seven phase-1 strata with phase-2 rows); "remove" here is the same without the factor.
    R's own "remove" keeps a term of the lonely stratum (module docstring)."""
    for option in ("remove", "certainty"):
        d = _design(data, name, option)
        got = _estimates(d, DESIGNS[name][2])
        for key in ("mean", "total"):
            r_avg = ref[name]["average"][key]
            _close(got[key][2], np.asarray(r_avg["phase1"]) * 6 / 7)
            _close(got[key][3], r_avg["phase2"])
            assert abs(got[key][2][0, 0] / ref[name][option][key]["phase1"][0][0] - 1) > 1e-6


@pytest.mark.parametrize("name", ["phase2", "phase2c"])
def test_full_lonely_phase2_stratum_follows_the_option(data, ref, name):
    """The phase-2 term is the same stratified SRS formula for both methods: with "remove" and
    "average" it equals R's approx phase-2 term under that option (R's full ignores it)."""
    full = name + "_full"
    for option in ("remove", "average", "certainty"):
        d = _design(data, full, option)
        got = _estimates(d, DESIGNS[full][2])
        for key in ("mean", "total"):
            _close(got[key][2], ref[full]["adjust"][key]["phase1"])
            _close(got[key][3], ref[name + "_approx"][option][key]["phase2"])


def test_full_lonely_phase2_stratum_by_hand(data, ref):
    """Phase-2 stratum "lone" (1 of 4 rows in phase 2): "adjust" (= R) adds ``(1 - 1/4) Z^2``
    of its row to the phase-2 term, "remove" nothing, "average" multiplies the rest by 5 / 4
    (five phase-2 strata, one lonely)."""
    df = data["ds"]
    sub = df[df.in2]
    n1 = df.groupby("s2l").size()
    n2 = sub.groupby("s2l").size()
    w = (sub.Npsu / 10.0) / (n2[sub.s2l] / n1[sub.s2l]).to_numpy()
    ybar = (w * sub.y).sum() / w.sum()
    lone = (sub.s2l == "lone").to_numpy()
    for key, Z in (("mean", w * (sub.y - ybar) / w.sum()), ("total", w * sub.y)):
        term = 0.75 * float(Z[lone].iloc[0]) ** 2
        r = ref["phase2_full_psu_fpc"]["adjust"][key]
        for option, want in (("remove", r["phase2"][0][0] - term),
                             ("average", (r["phase2"][0][0] - term) * 5 / 4)):
            d = _design(data, "phase2_full_psu_fpc", option)
            getattr(d, key)("y")
            _close(d._last_phases[0], r["phase1"])
            _close(d._last_phases[1][0, 0], want)


def test_lonely_row_outside_phase2_adds_nothing(data):
    """A lonely phase-1 row that is not in phase 2 has no phase-2 rows to estimate its stratum
    from: with every option the stratum adds nothing and is not counted by "average" (as R,
    whose approx phase-1 term only sees strata with phase-2 rows)."""
    df = data["dr"]
    other = int(np.flatnonzero(~df.in2)[0])
    df = df.assign(st9=np.where(np.arange(len(df)) == other, 9, df.stratum1))
    got = []
    for option in ("remove", "adjust", "average"):
        d = sh.TwoPhaseDesign(df, subset="in2", strata="s2", phase1_strata="st9",
                              method="approx", lonely_psu=option)
        d.total("y")
        got.append(d._last_phases[0])
    _close(got[1], got[0], 1e-14)
    _close(got[2], got[0], 1e-14)


def test_r_code_and_describe(data):
    d = _design(data, "approx_row", "average")
    assert d.r_code().startswith('options(survey.lonely.psu = "average"); twophase(')
    assert "lonely_psu: average" in d.describe()


def test_multistage_approx_refused_r_depends_on_row_order(data, ref):
    """R's multistage approx phase-1 term changes when the rows are reordered (each PSU's
    phase-2 probability is its first row's), so there is no reference to match: refused."""
    r = ref["multistage_approx"]
    _close(r["rows_shuffled"]["estimate"], r["rows_in_order"]["estimate"], 1e-12)
    _close(r["rows_shuffled"]["phase2"], r["rows_in_order"]["phase2"], 1e-12)
    assert abs(r["rows_shuffled"]["phase1"][0][0] / r["rows_in_order"]["phase1"][0][0] - 1) > 0.05
    with pytest.raises(DesignError, match="order of the rows"):
        sh.TwoPhaseDesign(data["dp"].assign(N2=5), subset="in2", strata="s2",
                          phase1_psu=["psu", "cl2"], phase1_strata="stratum1",
                          phase1_fpc=["Npsu", "N2"], method="approx")
