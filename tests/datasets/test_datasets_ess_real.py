"""ESS rounds 7 and 9 (GB) on the real files (skipped when absent).

Expected values: a direct pyreadstat read in the test (codes counted from meta.missing_ranges),
R survey 4.1-1 (tests/fixtures/datasets/r_reference.json, make_reference.R) and numpy by hand.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning

R = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "datasets" /
                "r_reference.json").read_text())


def _file(shared_data_dir, rel):
    p = shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def _user_missing_counts(path, cols):
    raw, meta = pyreadstat.read_sav(str(path), usecols=cols, user_missing=True)
    out = {}
    for c in cols:
        rngs = meta.missing_ranges.get(c, [])
        cnt = Counter()
        for v in raw[c].dropna():
            if any(r["lo"] <= v <= r["hi"] for r in rngs):
                cnt[str(int(v))] += 1
        nsys = int(raw[c].isna().sum())
        if nsys:
            cnt["sysmis"] = nsys
        if cnt:
            out[c] = dict(cnt)
    return raw, out


@pytest.mark.parametrize("fname,rows", [("ESS7GB.sav", 2264), ("ESS9GB.sav", 2204)])
def test_rows_and_missing_codes(shared_data_dir, fname, rows):
    path = _file(shared_data_dir, f"ess/{fname}")
    with pytest.warns(DesignFallbackWarning) if "7" in fname else _nowarn():
        sd = datasets.load("ess", path=path)
    p = sd.provenance
    assert p["rows_read"] == rows == p["rows_kept"] + sum(p["rows_dropped"].values())
    _, expect = _user_missing_counts(path, p["columns_read"])
    assert p["missing_codes"] == expect
    if "7" in fname:
        assert p["missing_codes"]["fltlnl"] == {"7": 4, "8": 3, "9": 8}


class _nowarn:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error", DesignFallbackWarning)

    def __exit__(self, *a):
        return self._w.__exit__(*a)


def test_ess9_design(shared_data_dir):
    path = _file(shared_data_dir, "ess/ESS9GB.sav")
    sd = datasets.load("ess", path=path, columns=["sclmeet", "anweight", "pspwght", "pweight"])
    d = sd.data
    assert d["strata"].nunique() == 192 == R["ess9_gb"]["strata"]
    assert d["psu"].nunique() == 385 == R["ess9_gb"]["psus"]
    assert sd.design.degf() == R["ess9_gb"]["degf"]
    # anweight is the default from round 9 and equals pspwght * pweight
    np.testing.assert_allclose(d["weight"], d["anweight"], rtol=0)
    np.testing.assert_allclose(d["weight"], d["pspwght"] * d["pweight"], rtol=1e-12)
    x = sd.design.assign(rare=lambda df: (df["sclmeet"] <= 2).astype(float)
                         .where(df["sclmeet"].notna()))
    est = x.mean("rare").to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(R["ess9_gb"]["sclmeet_rare"]["est"], rel=1e-10)
    assert est["se"] == pytest.approx(R["ess9_gb"]["sclmeet_rare"]["se"], rel=1e-8)
    assert est["estimate"] == pytest.approx(0.09651, abs=5e-6)   # data notes: 9.651 %
    ph = sd.design.mean("poor_health").to_frame().iloc[0]   # health 3-5 (fair, bad, very bad)
    assert ph["estimate"] == pytest.approx(R["ess9_gb"]["poor_health"]["est"], rel=1e-10)
    assert ph["se"] == pytest.approx(R["ess9_gb"]["poor_health"]["se"], rel=1e-8)
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"]          # round 9 has no fltlnl
    assert sd.data["lonely"].isna().all()


def test_ess7_weights_only_fallback_and_prevalence(shared_data_dir):
    path = _file(shared_data_dir, "ess/ESS7GB.sav")
    with pytest.warns(DesignFallbackWarning, match="SDDF"):
        sd = datasets.load("ess", path=path, columns=["fltlnl", "pspwght", "pweight"])
    assert "psu" not in sd.design_spec and "strata" not in sd.design_spec
    assert any("SDDF" in n for n in sd.provenance["notes"])
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["psu", "measured"] and "sddf_path=" in cb.loc["psu", "notes"]
    assert sd.data["strata"].isna().all() and sd.data["psu"].isna().all()
    est = sd.design.mean("lonely").to_frame().iloc[0]
    ci = sd.design.proportion("lonely").to_frame().iloc[0]   # svyciprop-like (logit), via a fit
    assert ci["estimate"] == pytest.approx(est["estimate"], rel=1e-6)
    ref = R["ess7_gb"]["lonely_pspwght_pweight"]
    assert est["estimate"] == pytest.approx(ref["est"], rel=1e-10)
    assert est["se"] == pytest.approx(ref["se"], rel=1e-8)
    assert est["estimate"] == pytest.approx(0.04898, abs=5e-6)   # data notes: 4.898 %
    # by hand on the raw columns: weighted share, SRS-with-replacement linearisation
    raw, _ = pyreadstat.read_sav(str(path), usecols=["fltlnl", "pspwght", "pweight"])
    y = raw["fltlnl"].to_numpy(dtype=float)            # 7/8/9 -> NaN (pyreadstat default)
    w = (raw["pspwght"] * raw["pweight"]).to_numpy()
    dom = ~np.isnan(y)
    yy = np.isin(y, [3, 4]).astype(float)
    p = np.sum(w[dom] * yy[dom]) / np.sum(w[dom])
    z = np.where(dom, w * (yy - p), 0.0) / np.sum(w[dom])
    n = len(z)
    se = np.sqrt(n / (n - 1) * np.sum((z - z.mean()) ** 2))
    assert est["estimate"] == pytest.approx(p, rel=1e-12)
    assert est["se"] == pytest.approx(se, rel=1e-10)
    # the body weight column does not overwrite the survey weight
    with pytest.warns(DesignFallbackWarning):
        sd2 = datasets.load("ess", path=path, columns=["weight"])
    assert "weight_source" in sd2.data.columns and sd2.provenance["renamed_columns"] == {"weight": "weight_source"}


def test_ess7_sddf_merge(shared_data_dir, tmp_path):
    """A synthetic SDDF (2 PSUs per stratum) merged on idno gives a full design."""
    path = _file(shared_data_dir, "ess/ESS7GB.sav")
    ids, _ = pyreadstat.read_sav(str(path), usecols=["idno", "cntry"])
    sddf = pd.DataFrame({"idno": ids["idno"], "cntry": ids["cntry"],
                         "stratum": np.arange(len(ids)) // 20, "psu": np.arange(len(ids)) // 10})
    sddf = sddf.iloc[:-3]             # three respondents without an SDDF record
    sp = tmp_path / "ESS7SDDF.csv"
    sddf.to_csv(sp, index=False)
    sd = datasets.load("ess", path=path, sddf_path=sp)
    assert sd.provenance["rows_dropped"] == {"no psu/stratum (no SDDF record)": 3}
    assert sd.design_spec["psu"] == "psu" and sd.data["psu"].nunique() == len(sddf) // 10 + (len(sddf) % 10 > 0)
    assert sd.provenance["warnings"] == []
