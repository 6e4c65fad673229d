"""The same harmonised call on two surveys: design.proportion("poor_health", by="age_group") on
the GSS 2016-2020 panel (2020 wave) and ESS round 9 (GB). Skips when the real files are absent.

The ESS estimate for one age group is checked against a hand computation on the raw columns
(pyreadstat, SPSS user-missing codes as NaN): the anweight-weighted share of health in
{3 fair, 4 bad, 5 very bad} among respondents aged 45-54 with a valid health answer.
"""
from __future__ import annotations

import numpy as np
import pytest

from socialhealth import datasets

COMMON = ["25-34", "35-44", "45-54", "55-64", "65-74", "75+"]   # the bands every survey shares


def _gss_path(shared_data_dir):
    for name in ("gss_panel20_extract.dta", "gss_panel20.dta"):
        p = shared_data_dir / "gss" / name
        if p.is_file():
            return p
    pytest.skip("GSS 2016-2020 panel file not found under <data>/gss/")


def _ess_path(shared_data_dir):
    p = shared_data_dir / "ess" / "ESS9GB.sav"
    if not p.is_file():
        pytest.skip("ESS9GB.sav not found under <data>/ess/")
    return p


def _check(sd):
    # the youngest band starts at the survey's own minimum age (GSS 2020 wave: 20; ESS: 15)
    levels = list(sd.data["age_group"].cat.categories)
    assert levels == [f"{sd.provenance['population']['min_age']}-24"] + COMMON
    est = sd.design.proportion("poor_health", by="age_group").to_frame()
    present = [g for g in levels if ((sd.data["age_group"] == g) & sd.data["poor_health"].notna()).any()]
    assert est["age_group"].astype(str).tolist() == present           # one row per group present
    assert est["estimate"].between(0, 1).all()
    assert (est["ci_low"] <= est["estimate"]).all() and (est["estimate"] <= est["ci_high"]).all()
    return est


@pytest.mark.slow
def test_same_call_on_gss_and_ess(shared_data_dir):
    import pyreadstat

    gss = datasets.load("gss_panel20", path=_gss_path(shared_data_dir), wave=2020)
    ess = datasets.load("ess", path=_ess_path(shared_data_dir))
    g, e = _check(gss), _check(ess)
    assert len(g) == 7 and len(e) == 7
    assert g["age_group"].astype(str).tolist()[0] == "20-24"
    assert e["age_group"].astype(str).tolist()[0] == "15-24"
    assert g["age_group"].astype(str).tolist()[1:] == e["age_group"].astype(str).tolist()[1:] == COMMON
    # hand computation on the raw ESS columns for 45-54
    raw, _ = pyreadstat.read_sav(str(_ess_path(shared_data_dir)),
                                 usecols=["health", "agea", "anweight"])
    h, a, w = (raw[c].to_numpy(dtype=float) for c in ("health", "agea", "anweight"))
    grp = (a >= 45) & (a <= 54) & ~np.isnan(h)
    hand = np.sum(w[grp] * (h[grp] >= 3)) / np.sum(w[grp])
    row = e.set_index(e["age_group"].astype(str)).loc["45-54"]
    # proportion(method="logit") gets its estimate from a logistic fit (as R's svyciprop):
    # equal to the weighted share up to the fit's convergence tolerance
    assert row["estimate"] == pytest.approx(hand, rel=1e-9)
    m = ess.design.mean("poor_health", by="age_group").to_frame()
    m = m.set_index(m["age_group"].astype(str)).loc["45-54", "estimate"]
    assert m == pytest.approx(hand, rel=1e-12)
