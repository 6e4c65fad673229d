"""The report on the real GSS and ESS files (skipped when ../shared/data is absent)."""
from __future__ import annotations

import warnings

import pytest

import socialhealth as sh

pytestmark = pytest.mark.realdata


def _load(name, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.datasets.load(name, path=path, **kw)


def _file(shared_data_dir, rel):
    p = shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"{p} not present")
    return p


def test_ess9_has_no_loneliness_item(shared_data_dir):
    sd = _load("ess", _file(shared_data_dir, "ess/ESS9GB.sav"))
    rep = sh.report.build(sd)
    assert rep["sample"].ok and rep["methods"].ok
    for key in ("prevalence", "trend", "association", "risk_factors"):
        assert rep[key].status.startswith("skipped"), key
        assert "fltlnl" in rep[key].reason
    assert not rep.synthetic and "SYNTHETIC DATA" not in rep.to_html()


def test_ess7_prevalence_equals_engine_and_weights_only_design(shared_data_dir):
    sd = _load("ess", _file(shared_data_dir, "ess/ESS7GB.sav"))
    rep = sh.report.build(sd)
    assert rep["prevalence"].ok and rep["association"].ok
    assert rep["trend"].status.startswith("skipped")
    row = rep["prevalence"].tables[0].frame.iloc[0]
    direct = sd.design.proportion("lonely", method="logit").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(float(direct["estimate"]), rel=1e-12)
    assert row["ci_high"] == pytest.approx(float(direct["ci_high"]), rel=1e-12)
    items = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert "weights only" in items["Variance method"]
    assert any("SDDF" in n for n in rep["sample"].notes)   # the loader's design warning


def test_gss_panel20_2020_skips_lonely_and_runs_with_an_item_condition(shared_data_dir):
    path = _file(shared_data_dir, "gss/gss_panel20.dta")
    sd = _load("gss_panel20", path, wave=2020)
    rep = sh.report.build(sd)
    assert rep["prevalence"].status.startswith("skipped")
    assert "ucla3_isolated" in rep["prevalence"].reason
    rep2 = sh.report.build(sd, exposure="ucla3_isolated>=3")
    assert rep2["prevalence"].ok and rep2["association"].ok
    d = sd.design
    est = d.assign(x=(sd.data["ucla3_isolated"] >= 3).astype(float).where(
        sd.data["ucla3_isolated"].notna())).proportion("x").to_frame().iloc[0]
    row = rep2["prevalence"].tables[0].frame.iloc[0]
    assert row["estimate"] == pytest.approx(float(est["estimate"]), rel=1e-12)
    assert "svydesign(id = ~psu, strata = ~strata, weights = ~weight, nest = TRUE" in \
        "\n".join(rep2["methods"].r_code)
