"""plot.biplot / plot.coplot against R survey 4.1-1 (biplot.svyprcomp, svycoplot) on the synthetic
apistrat and apiclus2 example data: fixtures/biplot_coplot_reference.json, written by
fixtures/biplot_coplot_reference.R (regeneration command in its header). R's numbers are what its
functions compute for drawing (biplot.svyprcomp's variables at its last step, the trellis
object's panel arguments, the hexbin objects handed to grid.hexagons), not recomputed."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import socialhealth as sh  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402
from socialhealth.plot._coplot import equal_count_intervals  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" / "biplot_coplot_reference.json").read_text())
TOL = 1e-10
ITEMS = ["api00", "meals", "ell", "mobility"]


def _arr(v) -> np.ndarray:
    return np.atleast_1d(np.array(v, dtype=float))


@pytest.fixture(scope="module")
def strat():
    api = sh.datasets.load_example("apistrat")
    return sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")


@pytest.fixture(scope="module")
def clus2():
    api = sh.datasets.load_example("apiclus2")
    return sh.SurveyDesign(api, psu=["dnum", "snum"], weights="pw", fpc=["fpc1", "fpc2"])


@pytest.fixture(scope="module")
def pcs(strat):
    return {"scaled": sh.measures.survey_prcomp(strat, ITEMS, scale=True, scores=True),
            "raw": sh.measures.survey_prcomp(strat, ITEMS, scores=True)}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _as_r_signs(pc, ref_rotation):
    """``pc`` with each component signed as R's (R's signs are its SVD routine's, socialhealth's
    fixed: largest loading positive); the limits and arrow scale of a biplot depend on them."""
    ours, theirs = pc.rotation.to_numpy(), np.array(ref_rotation)
    s = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * s, theirs, rtol=1e-9, atol=1e-12)
    return dataclasses.replace(pc, rotation=pc.rotation * s, scores=pc.scores * s)


# --------------------------------------------------------------------------- biplot
BIPLOTS = {
    "scaled": ("scaled", {}),
    "scaled_weight_scaled": ("scaled", {"weight": "scaled", "max_size": 0.8}),
    "scaled_weight_none": ("scaled", {"weight": "none", "max_alpha": 0.3}),
    "scaled_pc_biplot": ("scaled", {"pc_biplot": True, "expand": 2}),
    "raw": ("raw", {"max_alpha": 0.9}),
}


@pytest.mark.parametrize("case", list(BIPLOTS))
def test_biplot_matches_biplot_svyprcomp(pcs, case):
    which, kwargs = BIPLOTS[case]
    ref = REF["biplot"][case]
    pc = _as_r_signs(pcs[which], ref["rotation"])
    p = sh.plot.biplot(pc, **kwargs)
    t = p.to_frame()
    obs, items = t[t["kind"] == "observation"], t[t["kind"] == "item"]
    assert len(obs) == 200 and items["label"].tolist() == ref["items"]
    np.testing.assert_allclose(obs[["x", "y"]], ref["scores"], rtol=TOL, atol=1e-13)
    np.testing.assert_allclose(items[["x", "y"]], ref["loadings"], rtol=TOL)
    np.testing.assert_allclose(obs["alpha"], np.broadcast_to(_arr(ref["alpha255"]) / 255, 200),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(obs["size"], np.broadcast_to(_arr(ref["cex"]), 200), rtol=TOL)
    assert p.arrow_scale == pytest.approx(ref["ratio"], rel=TOL)
    np.testing.assert_allclose(p.ax.get_xlim(), ref["xlim"], rtol=TOL)
    np.testing.assert_allclose(p.ax.get_ylim(), ref["ylim"], rtol=TOL)
    # the arrows end at 0.8 of the items' points, drawn in the rows' units (divided by ratio)
    ends = np.array([a.xy for a in p.ax.texts if a.get_text() == ""])
    np.testing.assert_allclose(ends * p.arrow_scale, 0.8 * items[["x", "y"]].to_numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("case, choices, scale", [("choices_13_scale_half", (1, 3), 0.5),
                                                  ("choices_12_scale_0", (1, 2), 0),
                                                  ("choices_12_scale_1", (1, 2), 1)])
def test_biplot_choices_and_scale_match_biplot_prcomp(pcs, case, choices, scale):
    ref = REF["biplot_prcomp"][case]
    pc = _as_r_signs(pcs["scaled"], REF["biplot"]["scaled"]["rotation"])
    t = sh.plot.biplot(pc, choices=choices, scale=scale).to_frame()
    np.testing.assert_allclose(t.loc[t["kind"] == "observation", ["x", "y"]], ref["scores"],
                               rtol=TOL, atol=1e-13)
    np.testing.assert_allclose(t.loc[t["kind"] == "item", ["x", "y"]], ref["loadings"],
                               rtol=TOL)


def test_biplot_opacity_by_hand():
    """Weights 1, 2, 4 (relative 1/4, 1/2, 1): 255 w max_alpha / max(w) = 31.875, 63.75, 127.5,
    kept as R's colours keep them, whole steps: 31, 63, 127 (of 255)."""
    df = pd.DataFrame({"a": [1.0, 2, 4, 3], "b": [2.0, 1, 3, 5], "w": [1.0, 2, 4, 2]})
    pc = sh.measures.survey_prcomp(sh.SurveyDesign(df, weights="w"), ["a", "b"], scores=True)
    t = sh.plot.biplot(pc).to_frame()
    np.testing.assert_allclose(t["alpha"][:4], np.array([31, 63, 127, 63]) / 255, rtol=1e-14)
    sized = sh.plot.biplot(pc, weight="scaled", max_size=1).to_frame()
    np.testing.assert_allclose(sized["size"][:4], np.sqrt([0.25, 0.5, 1, 0.5]), rtol=1e-14)


def test_biplot_row_labels(pcs):
    p = sh.plot.biplot(pcs["scaled"], labels="row")
    texts = [a.get_text() for a in p.ax.texts]
    assert "1" in texts and "200" in texts
    names = [f"school {i}" for i in range(200)]
    assert sh.plot.biplot(pcs["scaled"], labels=names).to_frame()["label"].iloc[5] == "school 5"
    with pytest.raises(PlotError, match="one label per row"):
        sh.plot.biplot(pcs["scaled"], labels=names[:10])


def test_biplot_errors_say_what_to_do(strat, pcs):
    no_scores = sh.measures.survey_prcomp(strat, ITEMS)
    with pytest.raises(PlotError, match="scores=True"):
        sh.plot.biplot(no_scores)
    with pytest.raises(PlotError, match="survey_prcomp"):
        sh.plot.biplot(strat.mean("api00"))
    with pytest.raises(PlotError, match="component numbers from 1 to 4"):
        sh.plot.biplot(pcs["scaled"], choices=(1, 5))
    with pytest.raises(PlotError, match="'transparent'"):
        sh.plot.biplot(pcs["scaled"], weight="size")
    with pytest.raises(PlotError, match="scale must be a number from 0 to 1"):
        sh.plot.biplot(pcs["scaled"], scale=2)


def test_biplot_of_a_component_without_variance_says_so():
    """Two collinear items: PC2 has no variance, so scaling the rows by it would divide by 0."""
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "w": [1.0, 2, 1, 2]})
    df["b"] = 2 * df["a"]            # collinear after weighting too (R centres the weighted rows)
    pc = sh.measures.survey_prcomp(sh.SurveyDesign(df, weights="w"), ["a", "b"], scores=True)
    with pytest.raises(PlotError, match="PC2 has no variance"):
        sh.plot.biplot(pc)
    t = sh.plot.biplot(pc, scale=0).to_frame()          # lambda = 1: scores as they are
    np.testing.assert_allclose(t.loc[:3, "x"], pc.scores["PC1"], rtol=1e-14)


# --------------------------------------------------------------------------- coplot
@pytest.mark.parametrize("case, column, number, overlap", [
    ("meals", "meals", 6, 0.5), ("ell_4_025", "ell", 4, 0.25),
    ("api00_strat_10_0", "api00", 10, 0.0), ("avg_ed_strat", "avg.ed", 6, 0.5)])
def test_equal_count_intervals_match_co_intervals(case, column, number, overlap):
    data = sh.datasets.load_example("apiclus2" if case in ("meals", "ell_4_025") else "apistrat")
    got = equal_count_intervals(data[column].to_numpy(float), number, overlap)
    np.testing.assert_allclose(got, REF["co_intervals"][case], rtol=TOL)


TRANSPARENT = {
    "api00_api99_sch_wide": ("api00", "api99", "sch.wide", {}),
    "api00_meals_stype_alpha": ("api00", "meals", "stype", {"alpha": (0.2, 1)}),
    "api00_api99_equal_count_meals": ("api00", "api99", "meals", {}),
    "api00_api99_equal_count_ell_4": ("api00", "api99", "ell", {"number": 4, "overlap": 0.25}),
}


@pytest.mark.parametrize("case", list(TRANSPARENT))
def test_coplot_transparent_matches_svycoplot(clus2, case):
    y, x, by, kwargs = TRANSPARENT[case]
    ref = REF["coplot_transparent"][case]
    p = sh.plot.coplot(clus2, y, x, by=by, style="transparent", **kwargs)
    t = p.to_frame()
    panels = p.panels
    assert len(panels) == len(ref["panels"]) == len(p.axes)
    if isinstance(ref["levels"][0], str):
        assert panels["panel"].tolist() == ref["levels"]
    else:
        np.testing.assert_allclose(panels[["lower", "upper"]], ref["levels"], rtol=TOL)
    alpha = np.array(ref["alpha"])
    for label, r in zip(panels["panel"], ref["panels"], strict=True):
        drawn = t[t["panel"] == label]
        rows = np.array(r["rows"]) - 1
        assert drawn.index.tolist() == rows.tolist()
        np.testing.assert_allclose(drawn["x"], r["x"], rtol=TOL)
        np.testing.assert_allclose(drawn["y"], r["y"], rtol=TOL)
        np.testing.assert_allclose(drawn["alpha"], alpha[rows], rtol=TOL, atol=1e-15)
    assert panels["n"].tolist() == [len(r["rows"]) for r in ref["panels"]]
    assert p.n_missing == 0


HEX = {
    "api00_api99_sch_wide": ("api00", "api99", "sch.wide", {}),
    "api00_api99_stype_10": ("api00", "api99", "stype", {"xbins": 10}),
    "api00_meals_equal_count_ell": ("api00", "meals", "ell", {}),
}


@pytest.mark.parametrize("case", list(HEX))
def test_coplot_hexagons_match_svycoplot(clus2, case):
    y, x, by, kwargs = HEX[case]
    ref = REF["coplot_hex"][case]
    shape = ref[0]["shape"]                    # R's panel height / width, from its device
    assert all(b["shape"] == shape for b in ref)
    p = sh.plot.coplot(clus2, y, x, by=by, style="hexbin", shape=shape, **kwargs)
    t = p.to_frame()
    assert list(dict.fromkeys(t["panel"])) == p.panels["panel"].tolist()
    assert len(p.panels) == len(ref)
    np.testing.assert_allclose(p.ax.get_xlim(), ref[0]["xbnds"], rtol=TOL)
    np.testing.assert_allclose(p.ax.get_ylim(), ref[0]["ybnds"], rtol=TOL)
    for label, b in zip(p.panels["panel"], ref, strict=True):
        cells = t[t["panel"] == label]
        assert cells["cell"].tolist() == _arr(b["cell"]).astype(int).tolist()
        np.testing.assert_allclose(cells["count"], b["count"], rtol=TOL)
        np.testing.assert_allclose(cells["x_centroid"], b["xcm"], rtol=TOL)
        np.testing.assert_allclose(cells["x"], b["x"], rtol=TOL)
        np.testing.assert_allclose(cells["y"], b["y"], rtol=TOL)


def test_coplot_hexagon_y_centroids_by_hand():
    """Two hexagons: rows (0, 0) w 1 and (0.1, 0.2) w 3 share the lower-left cell; (10, 10) w 2
    is alone. Centroid of the first: x (0 + 0.3) / 4, y (0 + 0.6) / 4; count 4."""
    df = pd.DataFrame({"x": [0.0, 0.1, 10], "y": [0.0, 0.2, 10], "w": [1.0, 3, 2],
                       "g": ["a", "a", "a"]})
    p = sh.plot.coplot(sh.SurveyDesign(df, weights="w"), "y", "x", by="g", xbins=2, shape=1.0)
    t = p.to_frame().sort_values("count")
    assert t["count"].tolist() == [2.0, 4.0] and t["n"].tolist() == [1, 2]
    assert t["x_centroid"].tolist() == pytest.approx([10, 0.075])
    assert t["y_centroid"].tolist() == pytest.approx([10, 0.15])


def test_coplot_default_shape_makes_regular_hexagons(clus2):
    p = sh.plot.coplot(clus2, "api00", "api99", by="stype")
    box, fig = p.ax.get_position(), p.figure
    t = p.to_frame()
    dy = np.min(np.diff(np.unique(np.round(t["y"], 9))))          # row spacing, data units
    # on the page: hexagon width = panel width / xbins; rows sqrt(3)/2 of that apart
    width_in = box.width * fig.get_figwidth() / 15
    height_in = dy * box.height * fig.get_figheight() / np.diff(p.ax.get_ylim())[0]
    assert height_in == pytest.approx(np.sqrt(3) / 2 * width_in, rel=1e-9)


def test_coplot_counts_rows_left_out_and_uses_the_subset(strat):
    p = sh.plot.coplot(strat, "avg.ed", "api00", by="stype", style="transparent")
    assert p.n_missing == 5 and p.panels["n"].sum() == 195
    sub = strat.subset(strat.data["stype"] != "H")
    q = sh.plot.coplot(sub, "api00", "api99", by="meals", style="transparent", number=3)
    zin = strat.data.loc[strat.data["stype"] != "H", "meals"]
    np.testing.assert_allclose(q.panels[["lower", "upper"]],
                               equal_count_intervals(zin.to_numpy(float), 3, 0.5))
    assert (q.to_frame().index.isin(strat.data.index[strat.data["stype"] != "H"])).all()


def test_coplot_errors_say_what_to_do(clus2):
    with pytest.raises(PlotError, match="'hex' or 'transparent'"):
        sh.plot.coplot(clus2, "api00", "api99", by="stype", style="bubble")
    with pytest.raises(PlotError, match="must name a column"):
        sh.plot.coplot(clus2, "api00", "api99", by="nope")
    with pytest.raises(PlotError, match="not numeric"):
        sh.plot.coplot(clus2, "api00", "cname", by="stype")
    with pytest.raises(PlotError, match="overlap"):
        sh.plot.coplot(clus2, "api00", "api99", by="meals", overlap=1)
    with pytest.raises(PlotError, match="takes a survey design"):
        sh.plot.coplot(clus2.data, "api00", "api99", by="stype")


def test_coplot_of_a_replicate_design_uses_its_sampling_weights(clus2):
    """R's svycoplot takes weights(design, "sampling"): a replicate design draws as its
    original."""
    rep = clus2.to_replicate()
    for style in ("transparent", "hex"):
        a = sh.plot.coplot(clus2, "api00", "api99", by="meals", style=style, shape=1.5)
        b = sh.plot.coplot(rep, "api00", "api99", by="meals", style=style, shape=1.5)
        pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
        pd.testing.assert_frame_equal(a.panels, b.panels)
