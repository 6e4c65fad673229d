"""xlim= of plot.smooth / plot.density (R svysmooth(..., xlim = c(low, high))) against R survey
4.1-1 and KernSmooth 2.23: fixtures/svysmooth_xlim_reference.json, written by
fixtures/svysmooth_xlim_reference.R (regeneration command and the meaning of the cases in its
header). With xlim covering the data the curve is R's; with xlim inside the data (where R bins
the rows beyond it wrongly) it is R's curve over the smallest range on xlim's grid spacing that
covers the data, cut to xlim."""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import socialhealth as sh  # noqa: E402
from r_compare import r_numbers as _num  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" /
                  "svysmooth_xlim_reference.json").read_text())
TOL = 1e-10
COVERING = REF["cases"]["covering"]
NARROW = REF["cases"]["narrow"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def designs():
    strat = sh.datasets.load_example("apistrat")
    syn = pd.DataFrame(REF["synthetic"]).astype(float)
    dstrat = sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    return {"strat": dstrat,
            "strat_E": dstrat.subset(strat["stype"] == "E"),
            "strat_H": dstrat.subset(strat["stype"] == "H"),
            "syn": sh.SurveyDesign(syn, weights="w")}


def draw(designs, ref):
    """Our curve for a fixture case (bandwidth given only where R was given one)."""
    design = designs[ref["design"]]
    lhs, _, rhs = ref["formula"].partition("~")
    kwargs = dict(ngrid=ref["ngrid"], xlim=tuple(ref["xlim"]))
    if ref["given_bandwidth"]:
        kwargs["bandwidth"] = ref["bandwidth"]
    if lhs.strip():
        p = sh.plot.smooth(design, lhs.strip(), rhs.strip(), **kwargs)
        return p, p.to_frame()["y"].to_numpy(), rhs.strip(), lhs.strip()
    p = sh.plot.density(design, rhs.strip(), **kwargs)
    return p, p.to_frame()["density"].to_numpy(), rhs.strip(), None


def defined(design, x, y, grid, bandwidth):
    """Grid points whose kernel window (4 bandwidths) holds data at two bins or more: the
    local-linear fit is defined there (NaN here elsewhere; R returns noise)."""
    data = design.data
    used = data[x].notna() & design.in_subset
    if y is not None:
        used &= data[y].notna()
    delta = grid[1] - grid[0]
    half = math.floor(4 * bandwidth / delta)
    bins = np.unique(np.floor((data.loc[used, x].to_numpy(float) - grid[0]) / delta + 1e-9))
    j = np.arange(len(grid))
    return np.array([((bins >= k - half) & (bins <= k + half)).sum() >= 2 for k in j])


def test_cases_cover_the_fixture():
    assert len(COVERING) == 7 and len(NARROW) == 5


@pytest.mark.parametrize("case", sorted(COVERING))
def test_xlim_covering_the_data_gives_rs_curve(designs, case):
    ref = COVERING[case]
    p, curve, x, y = draw(designs, ref)
    assert p.bandwidth == pytest.approx(ref["bandwidth"], rel=TOL)
    grid = p.to_frame()["x"].to_numpy()
    assert len(grid) == ref["ngrid"] and (grid[0], grid[-1]) == tuple(ref["xlim"])
    np.testing.assert_allclose(grid, _num(ref["x"]), rtol=TOL)
    r = _num(ref["y"])
    if y is None:
        np.testing.assert_allclose(curve, r, rtol=TOL, atol=1e-15)
    else:
        ok = defined(designs[ref["design"]], x, y, grid, p.bandwidth)
        assert np.array_equal(np.isfinite(curve), ok)
        np.testing.assert_allclose(curve[ok], r[ok], rtol=TOL)
    assert p.ax.get_xlim() == tuple(ref["xlim"])


@pytest.mark.parametrize("case", sorted(NARROW))
def test_xlim_inside_the_data_is_the_whole_curve_cut_to_xlim(designs, case):
    ref = NARROW[case]
    assert ref["rows_below"] + ref["rows_above"] > 0
    p, curve, x, y = draw(designs, ref)
    assert p.bandwidth == pytest.approx(ref["bandwidth"], rel=TOL)
    m = ref["ngrid"]
    cut = slice(ref["first"] - 1, ref["first"] - 1 + m)
    wide_grid, r = _num(ref["x"])[cut], _num(ref["y"])[cut]
    np.testing.assert_allclose(p.to_frame()["x"], wide_grid, rtol=TOL, atol=1e-12)
    if y is None:
        # R scales the bins by M / (high - low) of its own grid
        lo, hi = ref["xlim"]
        wlo, whi = ref["wide_xlim"]
        factor = (m / (hi - lo)) / (ref["wide_ngrid"] / (whi - wlo))
        np.testing.assert_allclose(curve, r * factor, rtol=TOL, atol=1e-15)
    else:
        ok = np.isfinite(curve)
        assert ok.mean() > 0.9
        np.testing.assert_allclose(curve[ok], r[ok], rtol=TOL)
    # R's own narrow result: its smoother curve has an extra point where rows lie below xlim
    if y is not None and ref["rows_below"] > 0:
        assert ref["r_narrow_length"] == m + 1


def test_xlim_does_not_change_the_plug_in_bandwidth(designs):
    d = designs["strat"]
    assert (sh.plot.smooth(d, "api00", "ell", xlim=(10, 50)).bandwidth
            == sh.plot.smooth(d, "api00", "ell").bandwidth)
    assert (sh.plot.density(d, "api00", xlim=(500, 800)).bandwidth
            == sh.plot.density(d, "api00").bandwidth)


def test_density_by_group_on_a_common_grid(designs):
    ref = COVERING["density_strat_H_api00_plugin"]
    p = sh.plot.density(designs["strat"], "api00", by="stype", xlim=tuple(ref["xlim"]))
    t = p.to_frame()
    for level in "EHM":
        np.testing.assert_allclose(t.loc[t["stype"] == level, "x"], _num(ref["x"]), rtol=TOL)
    np.testing.assert_allclose(t.loc[t["stype"] == "H", "density"], _num(ref["y"]), rtol=TOL,
                               atol=1e-15)


def test_density_over_a_window_keeps_the_whole_populations_scale(designs):
    # the rows beyond xlim stay in the total weight: the curve is not rescaled to the window
    d = designs["strat"]
    full = sh.plot.density(d, "api00", bandwidth=20, ngrid=401, xlim=(300, 1100)).to_frame()
    part = sh.plot.density(d, "api00", bandwidth=20, ngrid=151, xlim=(500, 800)).to_frame()
    # the same grid spacing (2), so the same points in the middle of the window
    mid = full[(full["x"] >= 600) & (full["x"] <= 700)]
    mine = part[(part["x"] >= 600) & (part["x"] <= 700)]
    np.testing.assert_allclose(mine["x"], mid["x"], rtol=1e-12)
    # equal up to R's factor M / (high - low) of each grid
    factor = (151 / 300) / (401 / 800)
    np.testing.assert_allclose(mine["density"], mid["density"] * factor, rtol=1e-9)


def test_a_window_much_narrower_than_the_kernel(designs):
    # the kernel reaches 4 bandwidths = 16,000 grid steps past a window of 10: the rows out
    # there still make the curve, which is the whole-range one (up to binning on another grid;
    # R's factor M / (high - low) is M / (M - 1) per grid spacing, the same for both)
    d = designs["strat"]
    p = sh.plot.density(d, "api00", bandwidth=100, xlim=(600, 610)).to_frame()
    assert np.isfinite(p["density"]).all() and (p["density"] > 0).all()
    full = sh.plot.density(d, "api00", bandwidth=100).to_frame()
    at = np.interp(p["x"], full["x"], full["density"])
    np.testing.assert_allclose(p["density"], at, rtol=1e-2)     # observed 2.4e-3


BAD_XLIM = [
    ((800, 500), r"lower end first.*got \(800, 500\)"),
    ((500, 500), r"low below high"),
    ((0, np.inf), r"finite numbers.*inf"),
    ((np.nan, 10), r"finite numbers"),
    ((0, 10, 20), r"two numbers \(low, high\).*got 3 values"),
    (5, r"two numbers \(low, high\).*got 5\."),
    ("0,10", r"two numbers \(low, high\)"),
    (("0", "10"), r"two numbers .*got '0' among them"),
    ((True, 10), r"two numbers .*got True among them"),
    ({0, 10}, r"two numbers \(low, high\)"),
]


@pytest.mark.parametrize("xlim, match", BAD_XLIM)
@pytest.mark.parametrize("plot", ["smooth", "density"])
def test_xlim_must_be_two_finite_numbers_low_first(designs, plot, xlim, match):
    d = designs["strat"]
    with pytest.raises(PlotError, match=match):
        if plot == "smooth":
            sh.plot.smooth(d, "api00", "ell", xlim=xlim)
        else:
            sh.plot.density(d, "api00", xlim=xlim)


def test_xlim_accepts_lists_arrays_and_numpy_numbers(designs):
    d = designs["strat"]
    a = sh.plot.density(d, "api00", xlim=[300, 1000]).to_frame()
    b = sh.plot.density(d, "api00", xlim=np.array([300.0, 1000.0])).to_frame()
    c = sh.plot.density(d, "api00", xlim=(np.int64(300), np.float64(1000))).to_frame()
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_xlim_with_the_quantile_smoother_says_it_goes_with_locpoly(designs):
    # R: svysmooth(method = "quantreg", xlim = ...) stops ("unused argument (xlim = ...)")
    with pytest.raises(PlotError, match='xlim= goes with method="locpoly"'):
        sh.plot.smooth(designs["strat"], "api00", "ell", method="quantreg", xlim=(0, 50))


def test_bandwidth_below_the_spacing_of_xlims_grid(designs):
    with pytest.raises(PlotError, match="below the grid spacing"):
        sh.plot.smooth(designs["strat"], "api00", "ell", bandwidth=1, ngrid=11, xlim=(0, 100))


def test_smooth_over_an_xlim_far_from_the_data_is_refused():
    # every grid point out of the kernel's reach of the data: an all-missing curve would be
    # drawn as an empty figure; the density there is 0, which is an answer
    d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw", strata="stype",
                        fpc="fpc")
    with pytest.raises(PlotError, match=r"undefined everywhere over xlim=\(1000, 1100\).*"
                                        r"span 342 to 875"):
        sh.plot.smooth(d, "api00", "api99", xlim=(1000, 1100))
    curve = sh.plot.smooth(d, "api00", "api99", xlim=(500, 700)).to_frame()["y"]
    assert np.isfinite(curve).all()
    dens = sh.plot.density(d, "api99", xlim=(1000, 1100)).to_frame()["density"]
    assert (dens == 0).all()


def test_window_sums_equal_the_direct_sums():
    from socialhealth.plot._bandwidth import window_sums

    rng = np.random.default_rng(3)
    a = rng.normal(size=30)
    kernel = rng.normal(size=11)               # offsets -5 .. 5
    for start, size in [(0, 30), (7, 10), (25, 5), (0, 3)]:
        direct = [sum(kernel[i] * a[start + j + i - 5] for i in range(11)
                      if 0 <= start + j + i - 5 < len(a)) for j in range(size)]
        np.testing.assert_allclose(window_sums(a, kernel, start, size), direct, rtol=1e-13,
                                   atol=1e-13)


@pytest.mark.parametrize("plot, kw, column", [
    ("density", dict(x="api99", bandwidth=40, xlim=(500, 520)), "density"),
    ("smooth", dict(y="api00", x="api99", bandwidth=30, xlim=(400, 420)), "y"),
    ("smooth", dict(y="api00", x="api99"), "y"),
])
def test_many_kernel_offsets_give_the_loops_sums(plot, kw, column, monkeypatch):
    # a window much narrower than the kernel has thousands of offsets; their sums are taken
    # as correlations instead of offset by offset: the same curve
    from socialhealth.plot import _bandwidth, design_plots

    d = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw", strata="stype",
                        fpc="fpc")
    draw = getattr(sh.plot, plot)
    by_loop = draw(d, **kw).to_frame()[column].to_numpy()
    monkeypatch.setattr(_bandwidth, "_LOOP_OFFSETS", 3)
    monkeypatch.setattr(design_plots, "_LOOP_OFFSETS", 3)
    by_correlation = draw(d, **kw).to_frame()[column].to_numpy()
    np.testing.assert_array_equal(np.isnan(by_loop), np.isnan(by_correlation))
    np.testing.assert_allclose(by_correlation, by_loop, rtol=1e-12, atol=1e-15)


def test_smoother_diagonals_by_correlation_equal_the_loop(monkeypatch):
    from socialhealth.plot import _bandwidth

    counts = np.random.default_rng(1).poisson(3, 401).astype(float)
    by_loop = _bandwidth.smoother_diagonals(counts, 0.0, 10.0, 2.0)
    monkeypatch.setattr(_bandwidth, "_LOOP_OFFSETS", 3)
    by_correlation = _bandwidth.smoother_diagonals(counts, 0.0, 10.0, 2.0)
    for a, b in zip(by_loop, by_correlation, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12)
