"""calibrate() with interaction formulas and rake() with a joint margin, against R survey 4.1-1.

Expected values: fixtures/calibration_interactions/calibration_interactions_reference.json,
written by make_calibration_interactions.R (same folder) from a seeded synthetic sample and
population (sample rows and population totals stored in the JSON): R's
``calibrate(design, ~a*b + cc, population = ...)`` (linear and raking) and
``rake(design, list(~a + b, ~cc), list(pop.ab, pop.c))`` on a Taylor design and on its
``as.svrepdesign(type = "JKn")`` conversion.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.calibration import model_matrix
from socialhealth.errors import DesignError

FIX = json.loads((Path(__file__).parent / "fixtures" / "calibration_interactions"
                  / "calibration_interactions_reference.json").read_text())
DATA = pd.DataFrame(FIX["data"])
TOL = 1e-10


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.nanmax(np.abs(b)))


def design(kind):
    d = sh.SurveyDesign(DATA, weights="w", strata="st", psu="psu", nest=True)
    return d if kind == "taylor" else d.to_replicate("jkn")


def check(cal, ref, tol=TOL):
    close(cal.weights, ref["weights"], tol)
    m, t = cal.mean(["y", "z"]), cal.total(["y", "z"])
    close(m.table["estimate"], ref["mean"], tol)
    close(m.table["se"], ref["mean_se"], tol)
    close(t.table["estimate"], ref["total"], tol)
    close(t.table["se"], ref["total_se"], tol)
    if "rep1" in ref:
        close(cal.replicate_weights[:, 0], ref["rep1"], tol)


CAL = [k for k, c in FIX["cases"].items() if "formula" in c]


@pytest.mark.parametrize("cid", CAL)
def test_model_matrix_columns_as_r(cid):
    ref = FIX["cases"][cid]
    X, names = model_matrix(DATA, ref["formula"])
    assert names == ref["columns"]
    # hand check of the interaction columns: products of the main-effect indicators
    for j, name in enumerate(names):
        if ":" in name:
            prod = np.ones(len(DATA))
            for piece in name.split(":"):
                if piece in DATA.columns:
                    prod = prod * DATA[piece].to_numpy(float)
                else:
                    var = next(v for v in ("a", "b", "cc") if piece.startswith(v) and piece[len(v):] in set(DATA[v]))
                    prod = prod * (DATA[var] == piece[len(var):]).to_numpy(float)
            np.testing.assert_array_equal(X[:, j], prod)


@pytest.mark.parametrize("cid", CAL)
def test_calibrate_interactions_equal_r(cid):
    ref = FIX["cases"][cid]
    totals = FIX["totals"][cid.split("_")[0] if not cid.startswith("ab_c") else "ab_c"]
    cal = design(ref["kind"]).calibrate(ref["formula"], totals, calfun=ref["calfun"])
    # linear: closed form; raking: Newton to R's epsilon (1e-7), same path as R
    check(cal, ref, TOL if ref["calfun"] == "linear" else 1e-8)
    # the calibrated totals hit the population totals
    X, names = model_matrix(DATA, ref["formula"])
    close(X.T @ cal.weights, [totals[n] for n in names], 1e-6)


def test_patsy_names_accepted_for_interactions():
    totals = FIX["totals"]["ab_c"]
    patsy = {("Intercept" if k == "(Intercept)" else
              k.replace("aa", "a[T.a").replace("byes", "b[T.yes]").replace("ccc", "cc[T.c")): v
             for k, v in totals.items()}
    patsy = {k.replace("a[T.a2", "a[T.a2]").replace("a[T.a3", "a[T.a3]")
              .replace("cc[T.c2", "cc[T.c2]").replace("cc[T.c3", "cc[T.c3]"): v for k, v in patsy.items()}
    assert "a[T.a2]:b[T.yes]" in patsy
    d = design("taylor")
    a = d.calibrate("~a*b + cc", patsy)
    b = d.calibrate("~a*b + cc", totals)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_interaction_totals_must_be_named():
    totals = dict(FIX["totals"]["ab_c"])
    del totals["aa3:byes"]
    with pytest.raises(DesignError, match="aa3:byes"):
        design("taylor").calibrate("~a*b + cc", totals)


def _pop(name, columns):
    p = pd.DataFrame(FIX[name])
    return p[columns + ["Freq"]]


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
@pytest.mark.parametrize("joint", [("a", "b"), ["a", "b"]])
def test_rake_joint_margin_equals_r(kind, joint):
    ref = FIX["cases"][f"rake_ab_c_{kind}"]
    r = design(kind).rake([(joint, _pop("pop_ab", ["a", "b"])), ("cc", _pop("pop_c", ["cc"]))],
                          max_iter=10, epsilon=1, on_nonconvergence="warn")
    check(r, ref)


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_rake_joint_margin_converged_equals_r_and_calibrate(kind):
    """Raked to convergence, a joint a x b margin plus cc is calibration with
    calfun='raking' on ~a*b + cc (same totals): both equal R's."""
    ref = FIX["cases"][f"rake_ab_c_conv_{kind}"]
    r = design(kind).rake([(("a", "b"), _pop("pop_ab", ["a", "b"])), ("cc", _pop("pop_c", ["cc"]))],
                          max_iter=100, epsilon=1e-10)
    check(r, ref, 1e-8)
    cal = FIX["cases"][f"ab_c_raking_{kind}"]
    close(r.weights, cal["weights"], 1e-7)


def test_interaction_without_main_effects_names_our_columns():
    """R codes ~a:b with all 6 a x b cells plus the intercept (rank-deficient); ours is
    full-rank, so R's names are refused with a message that lists ours."""
    X, names = model_matrix(DATA, "~a:b")
    assert names == ["(Intercept)", "byes", "aa2:bno", "aa3:bno", "aa2:byes", "aa3:byes"]
    assert np.linalg.matrix_rank(X) == 6
    r_names = ["(Intercept)", "aa1:bno", "aa2:bno", "aa3:bno", "aa1:byes", "aa2:byes", "aa3:byes"]
    with pytest.raises(DesignError, match="byes"):
        design("taylor").calibrate("~a:b", dict.fromkeys(r_names, 100.0))
