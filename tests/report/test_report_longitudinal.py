"""The report's longitudinal section (report.build(panel=...), socialhealth report --waves).

Generated panel: transition counts and weights by hand (pandas on the raw columns). Real GSS
2006-2010 panel (skipped without ../shared): the prospective odds ratios equal R's svyglm
numbers committed in tests/models/fixtures/prospective/prospective_reference.json
(make_prospective.R), exposure rare contact = social evenings less than monthly or never.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import cli, datasets, report
from socialhealth.datasets import PanelData

REF = Path(__file__).parents[1] / "models" / "fixtures" / "prospective" / "prospective_reference.json"


def _panel(with_exposure_2010=True):
    rng = np.random.default_rng(11)
    n = 300
    lon06 = rng.random(n) < 0.3
    lon10 = np.where(rng.random(n) < 0.7, lon06, rng.random(n) < 0.3)
    ph06 = rng.random(n) < 0.25
    ph10 = rng.random(n) < 0.15 + 0.2 * lon06 + 0.4 * ph06
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2.0, n),
        "strata": np.repeat(["a", "b"], n // 2), "psu": np.tile(["1", "2", "3", "4", "5"], n // 5),
        "lonely@2006": lon06, "poor_health@2006": ph06, "poor_health@2010": ph10,
        "age_group@2006": pd.Categorical(rng.choice(["18-44", "45-64", "65+"], n)),
        "sex@2006": pd.Categorical(rng.choice(["female", "male"], n))})
    if with_exposure_2010:
        data["lonely@2010"] = lon10
    return PanelData("generated", data, pd.DataFrame(), {"panel": {"weight_variable": "weight",
                                                                   "accounting": {"baseline": 400}}},
                     {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True},
                     waves=[2006, 2010])


def _build(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return report.build(datasets.load("demo"), outcomes=["poor_health"], panel=panel)


def test_longitudinal_section_on_a_generated_panel():
    p = _panel()
    rep = _build(p)
    keys = rep.status["key"].tolist()
    assert keys.index("longitudinal") == keys.index("association") + 1
    sec = rep["longitudinal"]
    assert sec.status == "ok", sec.status
    pros, trans = sec.tables
    # transitions by hand: weights summed over the four cells of lonely@2006 x lonely@2010
    d = p.data
    f = trans.frame.set_index(["from_state", "to_state"])
    said = {False: "no", True: "yes"}     # the states in words, not True/False
    for a in (False, True):
        for b in (False, True):
            sel = (d["lonely@2006"] == a) & (d["lonely@2010"] == b)
            assert f.loc[(said[a], said[b]), "n"] == int(sel.sum())
            assert f.loc[(said[a], said[b]), "weighted"] == pytest.approx(d.loc[sel, "weight"].sum())
            row = d.loc[d["lonely@2006"] == a, "weight"].sum()
            # svyciprop(method="logit") reports expit of the fitted logistic intercept (R too),
            # equal to the weighted ratio to the glm's convergence tolerance (~1e-9 here)
            assert f.loc[(said[a], said[b]), "row_share"] == pytest.approx(
                d.loc[sel, "weight"].sum() / row, rel=1e-7)
    # three nested models (unadjusted, + age group and sex, + poor health at 2006), all persons
    t = pros.frame
    assert len(t) == 3 and (t["n"] == 300).all() and (t["outcome"] == "poor_health").all()
    assert t["adjusted_for"].iloc[-1].endswith("poor_health@2006")
    assert any("svytable(~`lonely@2006` + `lonely@2010`" in r for r in sec.r_code)
    assert len(sec.figures) == 1
    assert rep.meta["panel_waves"] == [2006, 2010]


def test_longitudinal_section_skipped_without_the_exposure_at_the_last_wave():
    rep = _build(_panel(with_exposure_2010=False))
    st = rep["longitudinal"].status
    assert st.startswith("skipped") and "wave 2010" in st
    # in words: the exposure's name, not the panel column "lonely@2010" or the spec 'lonely'
    assert "Loneliness is not measured at wave 2010" in st
    assert "@" not in st and "'lonely'" not in st, st


def test_no_panel_no_longitudinal_section():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = report.build(datasets.load("demo"), outcomes=["poor_health"])
    assert "longitudinal" not in rep.status["key"].tolist()


def test_cli_waves_on_a_generated_gss_long_file(tmp_path, capsys):
    from socialhealth.datasets._panel import write_example_long

    path = write_example_long(tmp_path / "p.dta")
    out = tmp_path / "r.md"
    rc = cli.main(["report", "--dataset", "gss_panel06", "--path", str(path), "--waves",
                   "2006,2010", "--exposure", "poor_health", "--outcomes", "lonely",
                   "--no-cache", "-o", str(out)])
    assert rc == 0, capsys.readouterr()
    text = out.read_text()
    # persons 1, 2, 4 linked: poor health (health 3-4) 2006 F, F, T -> 2010 T, F, T
    # the exposure named in words (its display name), not by its column
    assert "## Fair or poor self-rated health over time: linked panel" in text
    assert "Transitions of fair or poor self-rated health, 2006 to 2010" in text
    assert "poor_health over time" not in text
    rc = cli.main(["report", "--dataset", "demo", "--waves", "2006,2010", "-o", str(out)])
    assert rc != 0 and "not a panel" in capsys.readouterr().err
    rc = cli.main(["report", "--dataset", "gss_panel06", "--path", str(path), "--waves",
                   "2010,2006", "-o", str(out)])
    assert rc != 0 and "two or more distinct waves" in capsys.readouterr().err


def test_real_gss_panel06_section_equals_r(shared_data_dir):
    f = shared_data_dir / "gss" / "gss_panel06_long.dta.zip"
    if not f.exists():
        pytest.skip("gss_panel06_long.dta.zip not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = datasets.load_panel("gss_panel06", f, waves=[2006, 2010])
        sd = datasets.load("gss_panel06", f, wave=2006)
        rep = report.build(sd, exposure="contact_in_person>=less than monthly",
                           outcomes=["poor_health"], panel=p)
    sec = rep["longitudinal"]
    assert sec.status == "ok", sec.status
    got = sec.tables[0].frame
    ref = json.loads(REF.read_text())["results"]["panel06_rare_contact"]["models"]
    assert len(got) == len(ref) == 3
    for g, r in zip(got.itertuples(), ref):
        assert g.n == r["n"] and g.df == r["df"]
        np.testing.assert_allclose([g.odds_ratio, g.ci_low, g.ci_high, g.p],
                                   [r["estimate"], r["ci_low"], r["ci_high"], r["p"]], rtol=1e-6)
    trans = sec.tables[1].frame
    both = p.data["contact_in_person@2006"].notna() & p.data["contact_in_person@2010"].notna()
    assert trans["n"].sum() == int(both.sum())


def test_cli_panel_files_for_wave_file_surveys(tmp_path):
    import argparse

    from socialhealth.cli import UsageError, _panel_path

    for name in ("i_indresp.dta", "k_indresp.dta"):
        (tmp_path / name).write_bytes(b"")
    a = argparse.Namespace(dataset="ukhls", path=[str(tmp_path)])
    assert _panel_path(a, [9, 11]) == str(tmp_path)            # the folder goes to load_panel
    assert a.path == [str(tmp_path / "i_indresp.dta")]         # the first wave to load()
    files = [str(tmp_path / "i_indresp.dta"), str(tmp_path / "k_indresp.dta")]
    a = argparse.Namespace(dataset="ukhls", path=list(files))
    assert _panel_path(a, [9, 11]) == files and a.path == files[:1]
    with pytest.raises(UsageError, match="one --path per wave"):
        _panel_path(argparse.Namespace(dataset="elsa", path=files[:1]), [8, 9])
    a = argparse.Namespace(dataset="hrs", path=["rand.dta"])
    assert _panel_path(a, [8, 10]) == "rand.dta" and a.path == ["rand.dta"]
