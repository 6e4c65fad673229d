"""Proportional-odds models (R ``svyolr``) on domains of calibrated, PPS and replicate designs:
the deviance depends on the scale of the weights, which R rescales to mean 1 over the rows of
its design object (on a ``subset()`` of a calibrated or PPS design those include the rows
outside the domain, with weight 0; see tests/design/test_glm_domains.py for svyglm).

Fixture: the ``svyolr`` entries of ``tests/design/fixtures/glm_domains/glm_domains_reference.json``
(``make_glm_domains.R``; optim with ``reltol = 1e-15``, ``ndeps = 1e-6``). Tolerance 1e-6
relative, as tests/models/test_ordinal.py (svyolr's BFGS and finite-difference Hessian).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.models import ordinal

HERE = Path(__file__).parent.parent / "design" / "fixtures" / "glm_domains"
OLR = json.loads((HERE / "glm_domains_reference.json").read_text())["svyolr"]
LEVELS = ["low", "mid", "high"]


@pytest.fixture(scope="module")
def designs():
    d = pd.read_csv(HERE / "glm_domains_data.csv")
    d["dom"] = d["dom"].astype(bool)
    # R: cut(ypos, c(-Inf, 1, 3, Inf)) (right-closed intervals)
    d["yo"] = np.where(d["ypos"] <= 1, "low", np.where(d["ypos"] <= 3, "mid", "high"))
    tay = sh.SurveyDesign(d, psu="psu", strata="stratum", weights="w", nest=True)
    popg = pd.DataFrame({"grp": ["a", "b", "c"], "Freq": np.array([0.42, 0.33, 0.25]) * 6000})
    return d, {
        "taylor": tay,
        "poststrat": tay.post_stratify("grp", popg),
        "calibrate": tay.calibrate("~x1 + C(grp)", [6000, 1500, 2000, 1500]),
        "rake": tay.rake([("grp", popg),
                          ("hi", pd.DataFrame({"hi": ["hi", "lo"], "Freq": [3100, 2900]}))]),
        "pps_brewer": sh.SurveyDesign(d, strata="stratum", fpc="pi", pps="brewer"),
        "jkn": tay.to_replicate("jkn"),
    }


@pytest.mark.parametrize("r", OLR, ids=[f"{r['design']}-{r['domain']}" for r in OLR])
def test_svyolr_deviance_on_domains(designs, r):
    d, ds = designs
    des = ds[r["design"]]
    if r["domain"] == "domain":
        des = des.subset(d["dom"])
    m = ordinal(des, "yo ~ x1 + x2", levels=LEVELS)
    np.testing.assert_allclose(m.params, r["coef"], rtol=1e-6)
    if r["design"] != "jkn":
        # survey 4.1-1 returns SEs of 0 for svyolr on this replicate design with these optim
        # controls; replicate svyolr SEs are checked in tests/models/test_ordinal.py
        np.testing.assert_allclose(m.bse, r["se"], rtol=1e-6)
    assert m.deviance == pytest.approx(r["deviance"], rel=1e-8)


def test_kept_rows_scale_the_deviance(designs):
    """R's deviances on the domain: the post-stratified design's rows are kept (its weights
    rescaled over all 360 rows), the plain design's dropped (rescaled over the domain's)."""
    dev = {(r["design"], r["domain"]): r["deviance"] for r in OLR}
    d, _ = designs
    n_dom = int(d["dom"].sum())
    assert n_dom < len(d)
    # the plain design's domain deviance times (design rows / domain rows) is close to the
    # post-stratified one's (the weights differ only by the post-stratification factors)
    ratio = dev[("poststrat", "domain")] / dev[("taylor", "domain")]
    assert abs(ratio - len(d) / n_dom) < 0.02
