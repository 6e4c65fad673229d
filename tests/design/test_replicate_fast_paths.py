"""The large-survey code paths of replicate designs give the numbers of a direct computation.

Expected values come from raw numpy loops written here (replicate estimates one replicate at a
time, ``V = scale sum_r (theta_r - mean)^2``), not from the engine: the blocked domain pass,
the many-domain path, the rank shortcut of ``degf`` and the blocked GLM refits.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design import replicate as replicate_module
from socialhealth.errors import ReplicateWeightsError


def synthetic(n=3000, R=12, n_dom=4, seed=7):
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 40, n)
    w = rng.uniform(1, 3, n)
    mult = rng.poisson(1.0, (40, R)).astype(float)          # bootstrap-like PSU multipliers
    W = w[:, None] * mult[psu]
    df = pd.DataFrame({"y": rng.normal(size=n), "z": rng.normal(size=n),
                       "dom": rng.integers(0, n_dom, n), "w": w})
    df["b"] = (rng.random(n) < 1 / (1 + np.exp(-df["z"]))).astype(float)
    for r in range(R):
        df[f"rw{r + 1}"] = W[:, r]
    return df, W


def direct_domain_means(df, W, col, n_dom):
    scale = 1.0 / (W.shape[1] - 1)
    est, se = [], []
    for d in range(n_dom):
        m = (df["dom"] == d).to_numpy()
        y = df[col].to_numpy()[m]
        est.append(np.sum(df["w"].to_numpy()[m] * y) / np.sum(df["w"].to_numpy()[m]))
        reps = np.array([np.sum(W[m, r] * y) / np.sum(W[m, r]) for r in range(W.shape[1])])
        se.append(np.sqrt(scale * np.sum((reps - reps.mean()) ** 2)))
    return np.array(est), np.array(se)


@pytest.mark.parametrize("n_dom", [3, 12])          # 3: one blocked pass; 12: domain by domain
def test_domain_means_equal_direct_computation(n_dom, monkeypatch):
    df, W = synthetic(n_dom=n_dom)
    monkeypatch.setattr(replicate_module, "_BLOCK_ELEMENTS", 1000)      # several row blocks
    d = sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    t = d.mean(["y", "z"], by="dom").to_frame()
    for col in ("y", "z"):
        est, se = direct_domain_means(df, W, col, n_dom)
        rows = t[t["term"] == col]
        np.testing.assert_allclose(rows["estimate"], est, rtol=1e-12)
        np.testing.assert_allclose(rows["se"], se, rtol=1e-10)


def test_overall_mean_and_ratio_equal_direct_computation():
    df, W = synthetic()
    d = sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    y, z = df["y"].to_numpy(), df["z"].to_numpy() + 5
    reps = (W.T @ y) / W.sum(axis=0)
    se = np.sqrt(np.sum((reps - reps.mean()) ** 2) / (W.shape[1] - 1))
    np.testing.assert_allclose(d.mean("y").se.iloc[0], se, rtol=1e-10)
    d2 = d.assign(z5=z)
    reps = (W.T @ y) / (W.T @ z)
    se = np.sqrt(np.sum((reps - reps.mean()) ** 2) / (W.shape[1] - 1))
    np.testing.assert_allclose(d2.ratio("y", "z5").se.iloc[0], se, rtol=1e-10)


def test_degf_rank_shortcut_agrees_with_full_rank():
    rng = np.random.default_rng(3)
    n, R = 70000, 6                                         # above the sampled-rows threshold
    W = rng.uniform(0.5, 2.0, (n, R))
    rows = np.ones(n, dtype=bool)
    assert replicate_module._rank(W, rows) == R
    # a replicate that is the sum of two others: rank R - 1 (the shortcut must not claim R)
    W[:, 3] = W[:, 0] + W[:, 1]
    assert replicate_module._rank(W, rows) == R - 1
    # rows outside the subset do not count: only the first two columns vary inside it
    n = 140000
    W2 = np.ones((n, R))
    W2[:, 1] = np.arange(n) % 3 + 1.0
    rows2 = np.zeros(n, dtype=bool)
    rows2[: n // 2] = True
    W2[~rows2] = rng.uniform(0.5, 2.0, ((~rows2).sum(), R))
    assert replicate_module._rank(W2, rows2) == 2


def test_replicate_weight_checks_still_refuse_bad_values():
    df, _ = synthetic(n=50, R=3)
    for bad, word in ((np.nan, "missing"), (np.inf, "infinite")):
        d2 = df.copy()
        d2.loc[4, "rw2"] = bad
        with pytest.raises(ReplicateWeightsError, match=word):
            sh.ReplicateDesign(d2, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    d2 = df.copy()
    d2.loc[4, "rw2"] = -1.0          # accepted, as R svrepdesign (ACS replicate weights)
    d = sh.ReplicateDesign(d2, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    assert d._negative_replicates() == [2]


def test_glm_replicate_refits_in_blocks_equal_one_by_one(monkeypatch):
    """The blocked, batched refits (several row blocks, replicate groups, a subset so that the
    rows used are not all rows) equal one plain IRLS fit per replicate (the generic hook)."""
    from socialhealth.design import glm_replicates as glm_module   # the refits' own constants

    df, _ = synthetic(n=2000, R=8)
    d = sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    d = d.subset(df["dom"] != 0)
    monkeypatch.setattr(glm_module, "_CHUNK", 300)
    monkeypatch.setattr(glm_module, "_BLOCK_ELEMENTS", 256 * 3)
    monkeypatch.setattr(glm_module, "_REP_GROUP_ELEMENTS", 3 * 300)
    monkeypatch.setattr(glm_module, "_K_MAX_ELEMENTS", 10)
    m = d.glm("b ~ z + y", family="binomial")
    monkeypatch.undo()

    class GenericOnly:                      # no _W: one _irls refit per replicate
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name == "_W":
                raise AttributeError(name)
            return getattr(self._inner, name)

    from socialhealth.design.glm import glm as survey_glm

    m0 = survey_glm(GenericOnly(d), "b ~ z + y", family="binomial")
    np.testing.assert_allclose(m.params, m0.params, rtol=1e-13)
    np.testing.assert_allclose(m.cov_params(), m0.cov_params(), rtol=1e-9)


# ---------------------------------------------------------------- replicate columns as one view
def one_block_frame(df, R):
    """The same data with the replicate columns in one pandas block (as read_parquet/read_csv
    give them): a frame built from one 2-d array."""
    cols = [f"rw{r + 1}" for r in range(R)]
    block = pd.DataFrame(np.ascontiguousarray(df[cols].to_numpy().T).T, columns=cols)
    return pd.concat([df.drop(columns=cols), block], axis=1)


@pytest.mark.parametrize("layout", ["one block", "separate columns", "reversed order"])
def test_matrix_view_paths_equal_direct_computation(layout):
    R = 12
    df, W = synthetic(R=R)
    cols = [f"rw{r + 1}" for r in range(R)]
    if layout != "separate columns":
        df = one_block_frame(df, R)
    if layout == "reversed order":
        cols, W = cols[::-1], W[:, ::-1]
    d = sh.ReplicateDesign(df, weights="w", replicate_weights=cols, method="bootstrap")
    src = d._Wsrc
    if layout == "separate columns":
        assert src._view is None
    else:
        # the view shares the frame's memory (nothing copied) and cannot be written to
        assert src._view is not None and not src._view.flags.writeable
        assert np.shares_memory(src._view, df[cols[0]].to_numpy())
        np.testing.assert_array_equal(src._view, W)
    scale = 1.0 / (R - 1)

    def se_of(reps):
        return np.sqrt(scale * np.sum((reps - reps.mean()) ** 2))

    y = df["y"].to_numpy()
    np.testing.assert_allclose(d.mean("y").se.iloc[0], se_of((W.T @ y) / W.sum(0)), rtol=1e-10)
    np.testing.assert_allclose(d.total("y").se.iloc[0], se_of(W.T @ y), rtol=1e-10)
    t = d.mean("y", by="dom").to_frame()
    est, se = direct_domain_means(df, W, "y", 4)
    np.testing.assert_allclose(t["estimate"], est, rtol=1e-12)
    np.testing.assert_allclose(t["se"], se, rtol=1e-10)
    # a subset: rows outside it have replicate weight 0
    keep = (df["dom"] != 1).to_numpy()
    s = d.subset(keep)
    Wk = np.where(keep[:, None], W, 0.0)
    np.testing.assert_allclose(s.mean("y").se.iloc[0], se_of((Wk.T @ y) / Wk.sum(0)),
                               rtol=1e-10)
    np.testing.assert_allclose(s.total("y").se.iloc[0], se_of(Wk.T @ y), rtol=1e-10)
    # a missing value: that row leaves numerator and denominator
    d2 = d.assign(ym=np.where(np.arange(len(df)) % 7 == 0, np.nan, y))
    ok = np.arange(len(df)) % 7 != 0
    np.testing.assert_allclose(d2.mean("ym").se.iloc[0],
                               se_of((W[ok].T @ y[ok]) / W[ok].sum(0)), rtol=1e-10)


def test_view_refused_for_columns_not_in_one_evenly_spaced_block():
    base = np.arange(40.0).reshape(4, 10)
    assert replicate_module._matrix_view([base[0], base[1], base[2]]) is not None
    assert replicate_module._matrix_view([base[0], base[2], base[3]]) is None   # uneven gaps
    other = np.arange(10.0)
    assert replicate_module._matrix_view([base[0], other]) is None               # two buffers
    assert replicate_module._matrix_view([base[0], base[0]]) is None             # same column
    assert replicate_module._matrix_view([base[0, ::2], base[1, ::2]]) is None   # strided
    assert replicate_module._matrix_view([base[0].astype(np.float32),
                                          base[1].astype(np.float32)]) is None


def test_kept_product_is_not_reused_after_the_values_change():
    df, W = synthetic(R=6)
    d = sh.ReplicateDesign(one_block_frame(df, 6), weights="w",
                           replicate_weights="^rw[0-9]+$", method="bootstrap")
    M = df[["y", "z"]].to_numpy().copy()
    np.testing.assert_allclose(d._Wsrc.tdot(M), W.T @ M, rtol=1e-12)
    M[5, 1] += 100.0                         # same array object, new values
    np.testing.assert_allclose(d._Wsrc.tdot(M), W.T @ M, rtol=1e-12)
    out = d._Wsrc.tdot(M)
    out[:] = 0                               # the caller's result is its own copy
    np.testing.assert_allclose(d._Wsrc.tdot(M), W.T @ M, rtol=1e-12)
    # the same mean asked twice, and a proportion (its estimate and logit refits share one
    # product): the numbers of a direct computation
    y = df["y"].to_numpy()
    reps = (W.T @ y) / W.sum(0)
    se = np.sqrt(np.sum((reps - reps.mean()) ** 2) / 5)
    for _ in range(2):
        np.testing.assert_allclose(d.mean("y").se.iloc[0], se, rtol=1e-10)


def test_busy_elsewhere_reads_a_count():
    from socialhealth.design import replicate_variance as rv

    busy = rv._busy_elsewhere()
    assert busy is None or (busy >= 0 and float(busy) == busy)


def test_large_products_use_only_idle_cores(monkeypatch):
    """blas_threads_on_idle_cores: one BLAS thread when the other cores are busy, BLAS's own
    setting when they are idle, and never more than an enclosing limit allows."""
    import os

    from threadpoolctl import threadpool_info

    from socialhealth.design import replicate_variance as rv

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    cores = os.cpu_count() or 1
    monkeypatch.setattr(rv, "_busy_elsewhere", lambda: float(cores + 5))      # all busy
    with rv.blas_threads_on_idle_cores():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
    monkeypatch.setattr(rv, "_busy_elsewhere", lambda: 0.0)                   # only us
    with rv.blas_threads_on_idle_cores():
        assert blas_threads() == [min(b, cores) for b in before] or blas_threads() == before
    with rv.one_blas_thread():
        with rv.blas_threads_on_idle_cores():
            assert blas_threads() == [1] * len(before)


@pytest.mark.parametrize("bad, word", [(np.nan, "missing"), (-np.nan, "missing"),
                                       (np.inf, "infinite"), (-np.inf, "infinite")])
def test_one_pass_value_check_refuses_every_invalid_weight(bad, word):
    df, _ = synthetic(n=200, R=4)
    df = one_block_frame(df, 4)
    df.loc[17, "rw3"] = bad
    with pytest.raises(ReplicateWeightsError, match=word):
        sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")


@pytest.mark.parametrize("bad", [-1e-300, -5.0])
def test_one_pass_value_check_accepts_finite_negative_weights(bad):
    """Finite negative replicate weights pass (R svrepdesign accepts them); the largest and
    a lower bound of the smallest weight are kept."""
    df, _ = synthetic(n=200, R=4)
    df = one_block_frame(df, 4)
    df.loc[17, "rw3"] = bad
    d = sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    W = df[[f"rw{r}" for r in range(1, 5)]].to_numpy()
    assert d._Wsrc.largest() == W.max()
    assert d._Wsrc.smallest() == bad and d._Wsrc.has_negative()
    assert d._negative_replicates() == [3]
    assert d.subset(np.arange(200) != 17)._negative_replicates() == []


def test_value_check_accepts_zeros_including_negative_zero_and_finds_the_largest():
    df, W = synthetic(n=200, R=4)
    df.loc[3, "rw1"] = -0.0
    df.loc[4, "rw2"] = 0.0
    d = sh.ReplicateDesign(df, weights="w", replicate_weights="^rw[0-9]+$", method="bootstrap")
    W = df[[f"rw{r}" for r in range(1, 5)]].to_numpy()
    assert d._Wsrc.largest() == W.max()
    d2 = sh.ReplicateDesign(one_block_frame(df.loc[5:].reset_index(drop=True), 4), weights="w",
                            replicate_weights="^rw[0-9]+$", method="bootstrap")
    assert d2._Wsrc.largest() == W[5:].max()


@pytest.mark.parametrize("kind", ["mean", "total"])
@pytest.mark.parametrize("sizes", [(0.6, 0.3, 0.1), (0.02, 0.9, 0.08)])
def test_domain_estimates_after_the_overall_one_equal_direct_computation(kind, sizes,
                                                                         monkeypatch):
    # after the overall estimate of the same variable, W'y and the weight sums are kept; the
    # largest domain's replicate totals are then those minus the other domains' (no column of
    # its own in the product). Same numbers as a direct computation, domain by domain.
    R = 12
    df, W = synthetic(R=R, n_dom=3)
    rng = np.random.default_rng(3)
    df["dom"] = rng.choice(3, size=len(df), p=sizes)
    used = []
    real = replicate_module._known_totals
    monkeypatch.setattr(replicate_module, "_known_totals",
                        lambda *a: used.append(real(*a)) or used[-1])
    d = sh.ReplicateDesign(one_block_frame(df, R), weights="w",
                           replicate_weights="^rw[0-9]+$", method="bootstrap")
    getattr(d, kind)("y").to_frame()            # keeps W'y and the weight sums
    t = getattr(d, kind)("y", by="dom").to_frame()
    assert used and used[-1] is not None and used[-1][0] == int(np.argmax(sizes))
    y, w = df["y"].to_numpy(), df["w"].to_numpy()
    est, se = [], []
    for dom in range(3):
        m = (df["dom"] == dom).to_numpy()
        tot = W[m].T @ y[m]
        reps = tot / W[m].sum(axis=0) if kind == "mean" else tot
        est.append(np.sum(w[m] * y[m]) / (np.sum(w[m]) if kind == "mean" else 1.0))
        se.append(np.sqrt(np.sum((reps - reps.mean()) ** 2) / (R - 1)))
    np.testing.assert_allclose(t["estimate"], est, rtol=1e-12)
    np.testing.assert_allclose(t["se"], se, rtol=1e-10)
    # a new variable: nothing kept for it, every domain gets its own columns
    d.mean("z", by="dom")
    assert used[-1] is None


@pytest.mark.parametrize("subset", [False, True])
def test_mean_numerators_and_weight_sums_from_one_read_equal_direct_computation(subset,
                                                                                monkeypatch):
    # the first mean over all rows takes W'y and W'1 from one read of W, row block by row
    # block (here blocks of 700 rows); the same numbers as a direct computation, whole and on
    # a subset (rows outside count 0), and the kept products serve the next call
    monkeypatch.setattr(replicate_module, "_FUSED_BLOCK_BYTES", 700 * 8 * 12)
    monkeypatch.setattr(replicate_module, "_MIN_FUSED_ROWS", 1)
    R = 12
    df, W = synthetic(R=R)
    d = sh.ReplicateDesign(one_block_frame(df, R), weights="w",
                           replicate_weights="^rw[0-9]+$", method="bootstrap")
    keep = np.ones(len(df), dtype=bool)
    if subset:
        keep = (df["dom"] != 1).to_numpy()
        d = d.subset(keep)
    fused = []
    real = replicate_module._ReplicateColumns._tdot_with_colsums
    monkeypatch.setattr(replicate_module._ReplicateColumns, "_tdot_with_colsums",
                        lambda self, v, whole: fused.append(len(v)) or real(self, v, whole))
    y = df["y"].to_numpy()
    Wk = W[keep]
    reps = (Wk.T @ y[keep]) / Wk.sum(axis=0)
    se = np.sqrt(np.sum((reps - reps.mean()) ** 2) / (R - 1))
    for _ in range(2):
        t = d.mean("y").to_frame()
        np.testing.assert_allclose(t["se"].iloc[0], se, rtol=1e-10)
    assert fused == [len(df)]                       # once; the second call used kept products
    np.testing.assert_allclose(d._Wsrc.colsums(), Wk.sum(axis=0), rtol=1e-12)
    z = df["z"].to_numpy()
    reps = (Wk.T @ z[keep]) / Wk.sum(axis=0)
    np.testing.assert_allclose(d.mean("z").se.iloc[0],
                               np.sqrt(np.sum((reps - reps.mean()) ** 2) / (R - 1)), rtol=1e-10)


def _direct_domain(W, y, dom, d, ratio=True):
    """Replicate SE of the domain-``d`` mean (``ratio``) or total of ``y``, from ``W``."""
    ind = (dom == d).astype(float)
    top = W.T @ (y * ind)
    reps = top / (W.T @ ind) if ratio else top
    return float(np.sqrt(np.sum((reps - reps.mean()) ** 2) / (W.shape[1] - 1)))


def test_kept_domain_totals_are_reused_only_for_the_same_values_domains_and_kind():
    df, W = synthetic(R=6, n_dom=3)
    frame = one_block_frame(df, 6)
    d = sh.ReplicateDesign(frame, weights="w", replicate_weights="^rw[0-9]+$",
                           method="bootstrap")
    y, z, dom = df["y"].to_numpy(), df["z"].to_numpy(), df["dom"].to_numpy()
    # a total first, then the mean of the same values by the same domains: the mean needs
    # the domains' weight sums too, which the kept totals do not have
    np.testing.assert_allclose(d.total("y", by="dom").se.to_numpy(),
                               [_direct_domain(W, y, dom, k, ratio=False) for k in range(3)],
                               rtol=1e-10)
    want = [_direct_domain(W, y, dom, k) for k in range(3)]
    for _ in range(2):                       # asked twice: the second from the kept totals
        np.testing.assert_allclose(d.mean("y", by="dom").se.to_numpy(), want, rtol=1e-10)
    assert d._Wsrc._kept_domains is not None
    assert not d._Wsrc._kept_domains[-1].flags.writeable
    # other values by the same domains, and the same values by other domains: afresh
    np.testing.assert_allclose(d.mean("z", by="dom").se.to_numpy(),
                               [_direct_domain(W, z, dom, k) for k in range(3)], rtol=1e-10)
    np.testing.assert_allclose(d.mean("z", by="dom").se.to_numpy(),
                               [_direct_domain(W, z, dom, k) for k in range(3)], rtol=1e-10)
    other = (dom + 1) % 3
    frame2 = frame.assign(dom=other)
    d2 = sh.ReplicateDesign(frame2, weights="w", replicate_weights="^rw[0-9]+$",
                            method="bootstrap")
    d2.mean("z", by="dom")
    d2._Wsrc._kept_domains = d._Wsrc._kept_domains    # as if kept on the same weights
    np.testing.assert_allclose(d2.mean("z", by="dom").se.to_numpy(),
                               [_direct_domain(W, z, other, k) for k in range(3)], rtol=1e-10)


def test_kept_domain_sums_serve_another_variable_by_the_same_domains_only():
    df, W = synthetic(R=6, n_dom=4)
    df["v"] = df["z"].where(np.arange(len(df)) % 7 != 3)         # missing in some rows
    frame = one_block_frame(df, 6)
    d = sh.ReplicateDesign(frame, weights="w", replicate_weights="^rw[0-9]+$",
                           method="bootstrap")
    dom = df["dom"].to_numpy()

    def direct(col):
        y = df[col].to_numpy()
        used = ~np.isnan(y)
        out = []
        for k in range(4):
            ind = ((dom == k) & used).astype(float)
            reps = (W.T @ (np.where(used, y, 0.0) * ind)) / (W.T @ ind)
            out.append(np.sqrt(np.sum((reps - reps.mean()) ** 2) / 5))
        return out

    np.testing.assert_allclose(d.mean("y", by="dom").se.to_numpy(), direct("y"), rtol=1e-10)
    assert d._Wsrc._kept_sums is not None
    # another variable, every row used: the kept sums of the same domains
    np.testing.assert_allclose(d.mean("z", by="dom").se.to_numpy(), direct("z"), rtol=1e-10)
    # missing values leave rows out of the domains: other sums, computed afresh
    np.testing.assert_allclose(d.mean("v", by="dom").se.to_numpy(), direct("v"), rtol=1e-10)
    np.testing.assert_allclose(d.mean("y", by="dom").se.to_numpy(), direct("y"), rtol=1e-10)


def test_a_first_domain_mean_keeps_the_replicates_weight_sums_for_later_estimates():
    df, W = synthetic(R=6, n_dom=4)
    d = sh.ReplicateDesign(one_block_frame(df, 6), weights="w",
                           replicate_weights="^rw[0-9]+$", method="bootstrap")
    assert d._Wsrc._colsums is None
    d.mean("y", by="dom")
    np.testing.assert_allclose(d._Wsrc._colsums, W.sum(axis=0), rtol=1e-13)
    reps = (W.T @ df["z"].to_numpy()) / W.sum(axis=0)
    se = np.sqrt(np.sum((reps - reps.mean()) ** 2) / 5)
    np.testing.assert_allclose(d.mean("z").se.iloc[0], se, rtol=1e-12)
    assert d.degf() == 5.0
    # rows left out of every domain (a missing value): the sums are not the domains'
    df2 = df.assign(y=df["y"].where(np.arange(len(df)) % 5 != 0))
    d2 = sh.ReplicateDesign(one_block_frame(df2, 6), weights="w",
                            replicate_weights="^rw[0-9]+$", method="bootstrap")
    d2.mean("y", by="dom")
    assert d2._Wsrc._colsums is None or np.allclose(d2._Wsrc._colsums, W.sum(axis=0),
                                                    rtol=1e-13)


def test_in_place_edits_of_the_frame_after_definition_do_not_reach_the_design():
    # pandas >= 3 (copy-on-write) copies a block on an in-place edit only while a pandas
    # object refers to it; the design's NumPy views of the replicate weight columns did not
    # count, so an edit of the frame changed the weights under the design's kept products
    # (uncached estimates followed the edit, cached ones did not)
    df, W = synthetic(R=6, n_dom=3)
    frame = one_block_frame(df, 6)
    d = sh.ReplicateDesign(frame, weights="w", replicate_weights="^rw[0-9]+$",
                           method="bootstrap")
    y, dom = df["y"].to_numpy(), df["dom"].to_numpy()
    frame.loc[frame.index[:500], "rw1"] *= 3.0
    frame.loc[frame.index[:500], "w"] *= 3.0
    np.testing.assert_allclose(d.mean("y", by="dom").se.to_numpy(),
                               [_direct_domain(W, y, dom, k) for k in range(3)], rtol=1e-10)
    w = df["w"].to_numpy()
    np.testing.assert_allclose(d.mean("y").estimate.iloc[0], np.sum(w * y) / np.sum(w),
                               rtol=1e-12)
