"""BRR / Fay from a Taylor design for 2..80 strata, and with a user-supplied Hadamard matrix,
against R survey 4.1-1 (``as.svrepdesign(type = "BRR")``, ``hadamard.matrix =``).

Expected values: fixtures/brr/brr_reference.json, written by make_brr.R (same folder) from
seeded synthetic data stored in the JSON (strata labelled 1..80 in shuffled order).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.replicate_weights import check_hadamard, differs_from_r, hadamard
from socialhealth.errors import DesignError, RDifferenceWarning, ReplicateWeightsError

FIX = json.loads((Path(__file__).parent / "fixtures" / "brr" / "brr_reference.json").read_text())
DATA = pd.DataFrame(FIX["data"])
TOL = 1e-10
R28 = np.array(FIX["meta"]["hadamard_27"]) * 2 - 1          # R's stored order-28 matrix


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.nanmax(np.abs(b)))


def design(H):
    df = DATA[DATA["st"] <= H].reset_index(drop=True)
    return sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)


def check(rep, ref, linear_only=False):
    m, t = rep.mean(["y", "x"]), rep.total(["y", "x"])
    close(m.table["estimate"], ref["mean"])
    close(t.table["estimate"], ref["total"])
    close(t.table["se"], ref["total_se"])
    if linear_only:
        # same balance, different half-samples: means agree only approximately
        # (measured: at most 4.8% apart on these data)
        np.testing.assert_allclose(m.table["se"], ref["mean_se"], rtol=0.06)
    else:
        close(m.table["se"], ref["mean_se"])


# R's order-28 matrix (and its doubling, 56) is stored data from Sloane's library that no
# published construction tried reproduces (test_r_order_28_is_not_plackett_burman_or_paley;
# its automorphism group is trivial, so none can, see hadamard()): 24..27 and 48..55 strata
R28_STRATA = set(range(24, 28)) | set(range(48, 56))
R28_FAMILY = R28_STRATA | set(range(108, 112)) | set(range(220, 224))


@pytest.mark.parametrize("H", range(2, 81))
def test_brr_equals_r(H):
    ref = FIX["brr"][str(H)]
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        rep = design(H).to_replicate("brr")
    differs = [w for w in got if issubclass(w.category, RDifferenceWarning)]
    # the user is told exactly where R's default matrix differs, and nowhere else
    assert len(differs) == (H in R28_STRATA), [str(w.message) for w in got]
    if differs:
        assert "hadamard=" in str(differs[0].message)
        assert differs[0].filename == __file__          # points at the caller's line
    assert rep.n_replicates == ref["n_replicates"] == hadamard(H).shape[0]
    check(rep, ref, linear_only=H in R28_STRATA)


def test_differs_from_r_marks_the_order_28_family_only():
    assert {n for n in range(1, 240) if differs_from_r(n)} == R28_FAMILY


@pytest.mark.parametrize("H", sorted(R28_STRATA))
def test_brr_with_r_order_28_matrix_equals_r(H):
    """With R's matrix passed as hadamard= (doubled for 48..55 strata, as R builds 56),
    every statistic equals R's default BRR. A passed matrix is read as R reads
    hadamard.matrix= (top-left value = -1), so R's default is reproduced by its matrix with
    the unused first row negated (in R: h <- hadamard(27); h[1, ] <- 1 - h[1, ])."""
    M = (R28 if H < 28 else np.block([[R28, R28], [R28, -R28]])).copy()
    M[0] = -M[0]
    assert FIX["meta"]["hadamard_55_is_doubled_27"]
    check(design(H).to_replicate("brr", hadamard=M), FIX["brr"][str(H)])


@pytest.mark.parametrize("H", [5, 11, 27, 35, 55, 71, 80])
def test_fay_equals_r(H):
    ref = FIX["brr"][str(H)]["fay"]
    if H in R28_STRATA:
        with pytest.warns(RDifferenceWarning, match="hadamard="):
            rep = design(H).to_replicate("fay", fay_rho=0.3)
    else:
        rep = design(H).to_replicate("fay", fay_rho=0.3)
    check(rep, ref, linear_only=H in R28_STRATA)


@pytest.mark.parametrize("case", sorted(FIX["user"]))
def test_user_hadamard_equals_r(case):
    ref = FIX["user"][case]
    M = np.array(FIX["meta"]["perm16"]) if case.startswith("perm16") else np.array(FIX["meta"]["hadamard_27"])
    check(design(ref["H"]).to_replicate("brr", hadamard=M), ref)


def test_user_hadamard_rejected_as_r():
    S16 = hadamard(15)
    d = design(10)
    errs = FIX["errors"]
    assert "at least nstrata+1" in errs["too_small"]
    with pytest.raises(ReplicateWeightsError, match="at least 11"):
        d.to_replicate("brr", hadamard=S16[:8, :8])
    bad = S16.copy()
    bad[1, 2] *= -1
    assert "not a Hadamard matrix" in errs["not_orthogonal"] == errs["not_square"]
    with pytest.raises(ReplicateWeightsError, match="not orthogonal"):
        d.to_replicate("brr", hadamard=bad)
    with pytest.raises(ReplicateWeightsError, match="square"):
        d.to_replicate("brr", hadamard=S16[:, :12])
    with pytest.raises(ReplicateWeightsError, match="two distinct values"):
        d.to_replicate("brr", hadamard=np.where(S16 > 0, 1.0, np.arange(256.0).reshape(16, 16)))
    with pytest.raises(DesignError, match="goes with method='brr'"):
        d.to_replicate("jkn", hadamard=S16)


def test_check_hadamard_reads_values_as_r():
    """R maps the top-left value to -1 and the other to +1 (brrweights): R's own 1/0 matrix
    and its +-1 form are both negated, a negated matrix gives the same signs, and any pair of
    values works."""
    S8 = hadamard(7)
    np.testing.assert_array_equal(check_hadamard((S8 + 1) // 2, 7), -S8)
    np.testing.assert_array_equal(check_hadamard(S8, 7), -S8)
    np.testing.assert_array_equal(check_hadamard(-S8, 7), -S8)
    np.testing.assert_array_equal(check_hadamard(np.where(S8 > 0, 5, 2), 7), -S8)


def test_order_36_is_twin_prime_and_r_orders():
    """Order 36: back-circulant core from the twin-prime (5, 7) difference set, bordered; the
    order list equals R's hadamard() for 2..80 strata (fixture 'order')."""
    H = hadamard(35)
    assert H.shape == (36, 36) and (H @ H.T == 36 * np.eye(36)).all()
    core = H[1:, :35]
    assert all((core[i] == np.roll(core[0], -i)).all() for i in range(35))
    assert (H[1:, 35] == -1).all() and (H[0] == 1).all()
    for H_, ref in FIX["brr"].items():
        assert hadamard(int(H_)).shape[0] == ref["order"]


def test_strata_in_r_text_order():
    """R pairs strata with Hadamard rows in the text order of their labels (1, 10, 11, 12, 2,
    ...): with 12 strata, stratum 2 takes row 5 (1-based 6) and stratum 10 row 2."""
    df = DATA[DATA["st"] <= 12].reset_index(drop=True)
    rep = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True).to_replicate("brr")
    H = hadamard(12)
    for label, row in [(1, 1), (10, 2), (12, 4), (2, 5), (9, 12)]:
        i = int(np.flatnonzero((df["st"] == label).to_numpy())[0])   # first PSU: +1 half
        np.testing.assert_allclose(rep.replicate_weights[i] / rep.weights[i] - 1, H[row])


def test_hadamard_matrices_equal_r_by_checksum():
    """hadamard(n) for n = 1..400: same order as R and the same matrix (by a weighted checksum
    computed in R, fixture 'hadamard_checks') except for R's stored order-28 family."""
    for c in FIX["hadamard_checks"]:
        H = hadamard(c["n"])
        k = H.shape[0]
        assert k == c["order"], c["n"]
        assert (H @ H.T == k * np.eye(k)).all()
        i = np.arange(1, k + 1)
        checksum = (H * ((31 * i[:, None] + 17 * i[None, :]) % 101)).sum()
        assert (checksum == c["checksum"]) != (c["n"] in R28_FAMILY), c["n"]


# Plackett & Burman (1946), 28 runs: the 9 x 27 generator [A B C] of three 9 x 9 blocks; the
# design is [[A, B, C], [C, A, B], [B, C, A]] plus a row of minus signs
_PB28 = """+-++++--- -+---+--+ ++-+-++-+
++-+++--- --++--+-- -++++-++-
-+++++--- +---+--+- +-+-++-++
---+-++++ --+-+---+ +-+++-+-+
---++-+++ +----++-- ++--++++-
----+++++ -+-+---+- -+++-+-++
+++---+-+ --+--+-+- +-++-+++-
+++---++- +--+----+ ++-++--++
+++----++ -+--+-+-- -++-+++-+"""


def _profile(H):
    """Counts of |sum_j h_aj h_bj h_cj h_dj| over row quadruples a < b < c < d: invariant under
    row and column permutations and negations (Hadamard equivalence)."""
    from collections import Counter
    from itertools import combinations
    n, out = H.shape[0], Counter()
    for a, b in combinations(range(n), 2):
        P = H[a] * H[b]
        for c in range(b + 1, n):
            out.update(np.abs((P * H[c]) @ H[c + 1:].T).tolist())
    return dict(out)


def test_r_order_28_is_not_plackett_burman_or_paley():
    """Why order 28 differs from R: R's stored matrix (from Sloane's library, R ?hadamard) is
    not Hadamard-equivalent to the Plackett-Burman 28-run design nor to Paley II (q = 13), so
    no rearrangement of those matrices gives R's half-samples."""
    from socialhealth.design.replicate_weights import _paley2
    G = np.array([[1 if ch == "+" else -1 for ch in row.replace(" ", "")]
                  for row in _PB28.splitlines()])
    A, B, C = G[:, :9], G[:, 9:18], G[:, 18:]
    D = np.vstack([np.block([[A, B, C], [C, A, B], [B, C, A]]), -np.ones((1, 27), int)])
    PB = np.hstack([np.ones((28, 1), int), D])
    for H in (PB, _paley2(13), R28):
        assert (H @ H.T == 28 * np.eye(28)).all()
    assert _profile(R28) == {4: 18098, 12: 2337, 20: 40}
    assert _profile(PB) == {4: 18018, 12: 2457}
    assert _profile(_paley2(13)) == {4: 18200, 12: 2184, 20: 91}
