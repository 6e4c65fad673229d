"""Age bands start at each survey's own minimum age, declared with the population it represents.

* every codebook (and the demo's registry entry) declares ``[population]`` min_age and
  description; they are read here straight from the TOML text, not through the loader code;
* every loader's youngest ``age_group`` label is written out by hand below and must equal the
  declared minimum age ("15-24" ESS, "18-24" GSS/BRFSS/NHIS, "16-24" UKHLS/OPN/demo, "50-54"
  HRS/ELSA, "20-24" for the GSS 2020 panel wave);
* ``datasets.load(..., min_age=18)`` drops and counts the younger respondents;
* on the real ESS 7 / ESS 9 / GSS files (skipped without ``../shared``) the band counts equal a
  direct pyreadstat count of ``agea`` / ``age``.
"""
from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets._schema import age_group_levels, tomllib
from socialhealth.errors import DatasetError

HERE = Path(__file__).resolve().parent
COMMON = ["25-34", "35-44", "45-54", "55-64", "65-74", "75+"]


def _toml(rel: str) -> dict:
    return tomllib.loads(resources.files("socialhealth.datasets").joinpath(rel).read_text("utf-8"))


def _declared(name: str, wave: str | None = None) -> int:
    """min_age as written in the codebook (or the demo's registry entry)."""
    reg = _toml("registry.toml")[name]
    if "codebook" not in reg:
        return reg["population"]["min_age"]
    pop = _toml(f"codebooks/{reg['codebook']}.toml")["population"]
    return pop.get("waves", {}).get(wave, {}).get("min_age", pop["min_age"])


def _helpers(module: str):
    """The synthetic-file writers of another test module (pytest runs with importlib mode)."""
    spec = importlib.util.spec_from_file_location(f"_agebands_{module}", HERE / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------ declarations
def test_age_group_levels_by_hand():
    assert age_group_levels(15) == ["15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
    assert age_group_levels(18)[0] == "18-24" and age_group_levels(18)[1:] == COMMON
    assert age_group_levels(20)[0] == "20-24"
    assert age_group_levels(25) == COMMON
    assert age_group_levels(50) == ["50-54", "55-64", "65-74", "75+"]
    assert age_group_levels(80) == ["80+"]
    for bad in (-1, 121, 18.5, "18", True):
        with pytest.raises(DatasetError, match="min_age"):
            age_group_levels(bad)


def test_every_survey_declares_its_population():
    reg = _toml("registry.toml")
    for name, e in reg.items():
        if not e.get("loader"):
            continue
        pop = (_toml(f"codebooks/{e['codebook']}.toml") if "codebook" in e else e)["population"]
        assert isinstance(pop["min_age"], int) and 0 < pop["min_age"] < 100, name
        assert "and over" in pop["description"] or "over 50" in pop["description"], name
    # the ages written in the issue and the survey documentation
    assert {n: _declared(n) for n in ("ess", "gss", "gss_panel20", "gss_panel06", "brfss", "nhis",
                                      "hrs", "elsa", "ukhls", "bhps", "opn", "cls", "demo")} == {
        "ess": 15, "gss": 18, "gss_panel20": 18, "gss_panel06": 18, "brfss": 18, "nhis": 18,
        "hrs": 50, "elsa": 50, "ukhls": 16, "bhps": 16, "opn": 16, "cls": 16, "demo": 16}
    assert _declared("gss_panel20", "2020") == 20


def test_a_codebook_without_population_is_refused():
    from socialhealth.datasets._codebook import load_codebook, validate

    cb = {k: v for k, v in load_codebook("ess").items() if k != "population"}
    with pytest.raises(DatasetError, match=r"\[population\] is missing"):
        validate(cb, "ess_copy")
    cb["population"] = {"min_age": 15.5, "description": "x"}
    with pytest.raises(DatasetError, match="whole number"):
        validate(cb, "ess_copy")


def test_brfss_age_group_map_is_true_to_ageg5yr():
    # _AGEG5YR code 1 is 18-24 (CDC codebook); it used to be mapped to "16-24"
    m = _toml("codebooks/brfss.toml")["concepts"]["age_group"]["map"]
    assert m["1"] == "18-24" and m["2"] == m["3"] == "25-34" and m["13"] == "75+"


# ------------------------------------------------------------------------------ each loader
def _ess(tmp_path, ess_sav_file):
    return datasets.load("ess", path=ess_sav_file, country="GB")


def _gss(tmp_path, ess_sav_file):
    p = _helpers("conftest").write_gss_cum(tmp_path / "gss7224_synthetic.dta")
    return datasets.load("gss", path=p)


def _brfss(tmp_path, ess_sav_file):
    p = _helpers("test_brfss_loader").write_llcp(tmp_path / "LLCP2023.XPT")
    return datasets.load("brfss", path=p)


def _nhis(tmp_path, ess_sav_file):
    return datasets.load("nhis", path=_helpers("test_nhis_loader").write_zip(tmp_path / "adult24csv.zip"))


def _hrs(tmp_path, ess_sav_file):
    p = _helpers("test_hrs_loader").write_rand(tmp_path / "randhrs1992_2022v1.dta")
    return datasets.load("hrs", path=p, wave=8)


def _elsa(tmp_path, ess_sav_file):
    p = _helpers("test_elsa_loader").write(tmp_path / "wave_9_elsa_data_eul_v1.dta")
    return datasets.load("elsa", path=p)


def _ukhls(tmp_path, ess_sav_file):
    return datasets.load("ukhls", path=_helpers("test_ukhls_loader").write_w9(tmp_path / "i_indresp.dta"))


def _opn(tmp_path, ess_sav_file):
    import pyreadstat

    mod = _helpers("test_ons_loaders")
    p = tmp_path / "opn_2023.sav"
    pyreadstat.write_sav(pd.DataFrame(mod.OPN), str(p))
    return datasets.load("opn", path=p, wave=2023, variables=mod.NAMES, cache=False)


def _demo(tmp_path, ess_sav_file):
    return datasets.load("demo")


# name, loader call, youngest label written by hand
LOADERS = [("ess", _ess, "15-24"), ("gss", _gss, "18-24"), ("brfss", _brfss, "18-24"),
           ("nhis", _nhis, "18-24"), ("hrs", _hrs, "50-54"), ("elsa", _elsa, "50-54"),
           ("ukhls", _ukhls, "16-24"), ("opn", _opn, "16-24"), ("demo", _demo, "16-24")]


@pytest.mark.filterwarnings("ignore::socialhealth.errors.SocialHealthWarning")
@pytest.mark.parametrize("name,call,youngest", LOADERS, ids=[n for n, _, _ in LOADERS])
def test_youngest_label_is_the_declared_minimum_age(name, call, youngest, tmp_path, ess_sav_file):
    sd = call(tmp_path, ess_sav_file)
    levels = list(sd.data["age_group"].cat.categories)
    declared = _declared(name)
    assert levels[0] == youngest
    assert levels[0].split("-")[0] == str(declared)
    assert levels[1:] == [b for b in COMMON if int(b.rstrip("+").split("-")[0]) > declared]
    pop = sd.provenance["population"]
    assert pop["min_age"] == declared and pop["description"]
    # every banded respondent is at least the minimum age, and the youngest band holds
    # exactly the ages from the minimum to the next common edge
    age = sd.data["age"].to_numpy(dtype=float)
    banded = sd.data["age_group"].notna().to_numpy()
    if sd.codebook.set_index("concept").loc["age_group", "source_variables"] == "age":
        assert (age[banded] >= declared).all()
        hi = int(youngest.split("-")[1])
        assert int((sd.data["age_group"] == youngest).sum()) == int(((age >= declared) & (age <= hi)).sum())


def test_an_age_below_the_declared_minimum_gets_no_band(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"idno": [1, 2, 3], "cntry": ["GB"] * 3, "essround": [7] * 3,
                       "pspwght": [1.0] * 3, "pweight": [1.0] * 3, "agea": [14, 15, 40],
                       **{v: [1] * 3 for v in ("gndr", "hhmmb", "sclmeet", "inprdsc", "health")}})
    p = tmp_path / "ESS7YY.sav"
    pyreadstat.write_sav(df, str(p))
    with pytest.warns(datasets.DesignFallbackWarning):
        sd = datasets.load("ess", path=p)
    assert [None if pd.isna(v) else v for v in sd.data["age_group"].astype(object)] == [None, "15-24", "35-44"]
    assert sd.provenance["unmapped_codes"]["age_group"] == {"age below 15": 1}
    assert "younger than 15" in sd.codebook.set_index("concept").loc["age_group", "notes"]


# ------------------------------------------------------------------------------ min_age=
@pytest.mark.filterwarnings("ignore::socialhealth.errors.SocialHealthWarning")
def test_min_age_drops_and_counts(ess_sav_file):
    # ESS_SYN (tests/datasets/conftest.py), GB rows: agea 16, 999 (missing), 80, 45, 30
    sd = datasets.load("ess", path=ess_sav_file, country="GB", min_age=18)
    p = sd.provenance
    assert p["rows_read"] == 6 and p["rows_kept"] == 3
    assert p["rows_dropped"] == {"other countries": 1, "aged under 18 (min_age=18)": 1,
                                 "age missing: cannot be shown to be aged 18 or over (min_age=18)": 1}
    assert p["rows_read"] == p["rows_kept"] + sum(p["rows_dropped"].values())
    assert sd.data["age"].tolist() == [80.0, 45.0, 30.0]
    assert list(sd.data["age_group"].cat.categories)[0] == "18-24"
    assert p["population"]["min_age"] == 18 and p["population"]["declared_min_age"] == 15
    assert p["population"]["description"].startswith("people aged 18 and over")
    assert p["options"]["min_age"] == 18
    assert len(sd.design.data) == 3
    # weighted share lonely (fltlnl 3/4) among the three kept rows, by hand: weights
    # pspwght*pweight = 1.0, 3.0, 2.0; fltlnl 8 (missing), 4, 2 -> (3*1) / (3 + 2)
    assert sd.design.mean("lonely").to_frame()["estimate"].iloc[0] == pytest.approx(3 / 5, rel=1e-12)


@pytest.mark.filterwarnings("ignore::socialhealth.errors.SocialHealthWarning")
def test_min_age_at_or_below_the_population_changes_nothing(ess_sav_file):
    full = datasets.load("ess", path=ess_sav_file, country="GB")
    same = datasets.load("ess", path=ess_sav_file, country="GB", min_age=15)
    assert same.provenance["rows_kept"] == full.provenance["rows_kept"] == 5
    assert same.provenance["rows_dropped"] == full.provenance["rows_dropped"]
    assert list(same.data["age_group"].cat.categories) == list(full.data["age_group"].cat.categories)


def test_min_age_on_the_demo_and_bad_values():
    demo = datasets.load("demo")
    young = int((demo.data["age"] < 18).sum())
    assert young > 0 and demo.data["age"].min() == 16
    sd = datasets.load("demo", min_age=18)
    assert sd.provenance["rows_dropped"] == {"aged under 18 (min_age=18)": young}
    assert len(sd.data) == len(demo.data) - young
    assert sd.data["age_group"].cat.categories[0] == "18-24"
    # the 16-24 rows aged 18+ are all relabelled 18-24, the other bands are untouched
    assert int((sd.data["age_group"] == "18-24").sum()) == int(
        ((demo.data["age"] >= 18) & (demo.data["age"] <= 24)).sum())
    assert int((sd.data["age_group"] == "75+").sum()) == int((demo.data["age"] >= 75).sum())
    for bad in ("18", 18.0, -3, True):
        with pytest.raises(DatasetError, match="min_age"):
            datasets.load("demo", min_age=bad)


# ------------------------------------------------------------------------------ report / CLI
def test_report_says_which_population_it_describes():
    from socialhealth.report import build

    rep = build(datasets.load("demo", min_age=18), outcomes=["depression"])
    sample = next(s for s in rep.sections if s.key == "sample")
    assert ("The estimates describe synthetic adults aged 18 and over in Great Britain and 18 "
            "and over in the United States (generated by socialhealth, not real people); "
            "respondents under 18 left out.") in sample.text
    methods = next(s for s in rep.sections if s.key == "methods")
    assert any('sh.datasets.load("demo", min_age=18)' in line for line in methods.r_code)


def test_cli_min_age(capsys):
    from socialhealth import cli

    assert cli.main(["describe", "--dataset", "demo", "--min-age", "18"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "population:" in x)
    # the description ends in a bracket: the age follows after "; ", not in a second bracket
    assert line.startswith("  population: synthetic adults aged 18 and over") and \
        line.endswith("(generated by socialhealth, not real people); minimum age 18"), line


# ------------------------------------------------------------------------------ real files
def _real(shared_data_dir, rel):
    p = shared_data_dir / rel
    if not p.is_file():
        pytest.skip(f"{rel} not found under {shared_data_dir}")
    return p


@pytest.mark.filterwarnings("ignore::socialhealth.errors.SocialHealthWarning")
@pytest.mark.parametrize("rel,n15,n_under18", [("ess/ESS7GB.sav", 8, 37), ("ess/ESS9GB.sav", 7, 29)])
def test_real_ess_15_24_band_and_min_age(shared_data_dir, rel, n15, n_under18):
    import pyreadstat

    path = _real(shared_data_dir, rel)
    raw, _ = pyreadstat.read_sav(str(path), usecols=["agea"])   # 999 (user-missing) -> NaN
    a = raw["agea"].to_numpy(dtype=float)
    assert int((a == 15).sum()) == n15 and int((a < 18).sum()) == n_under18
    sd = datasets.load("ess", path=path)
    g = sd.data["age_group"].astype(object)
    assert list(sd.data["age_group"].cat.categories) == ["15-24"] + COMMON
    assert int((g == "15-24").sum()) == int(((a >= 15) & (a <= 24)).sum())
    assert set(g[sd.data["age"].to_numpy() == 15]) == {"15-24"}           # the 15-year-olds
    bounds = {"25-34": (25, 34), "35-44": (35, 44), "45-54": (45, 54), "55-64": (55, 64),
              "65-74": (65, 74), "75+": (75, 200)}
    for band, (lo, hi) in bounds.items():
        assert int((g == band).sum()) == int(((a >= lo) & (a <= hi)).sum()), band
    adults = datasets.load("ess", path=path, min_age=18)
    p = adults.provenance
    assert p["rows_dropped"]["aged under 18 (min_age=18)"] == n_under18
    assert p["rows_dropped"]["age missing: cannot be shown to be aged 18 or over (min_age=18)"] \
        == int(np.isnan(a).sum())
    assert p["rows_kept"] == int((a >= 18).sum())
    assert p["rows_read"] == p["rows_kept"] + sum(p["rows_dropped"].values())
    assert adults.data["age"].min() == 18
    assert list(adults.data["age_group"].cat.categories)[0] == "18-24"
    assert int((adults.data["age_group"] == "18-24").sum()) == int(((a >= 18) & (a <= 24)).sum())


def test_real_gss_bands(shared_data_dir):
    import pyreadstat

    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.is_file():
        path = _real(shared_data_dir, "gss/gss_panel20.dta")
    raw, _ = pyreadstat.read_dta(str(path), usecols=["age_1a", "age_2", "wtssnr_2", "samptype"])
    for wave, col, keep, youngest in ((2020, "age_2", raw["wtssnr_2"].notna(), "20-24"),
                                      (2016, "age_1a", raw["samptype"] == 2016, "18-24")):
        a = raw.loc[keep, col].to_numpy(dtype=float)
        sd = datasets.load("gss_panel20", path=path, wave=wave)
        assert len(sd.data) == len(a)
        assert list(sd.data["age_group"].cat.categories) == [youngest] + COMMON
        lo = int(youngest.split("-")[0])
        assert a[~np.isnan(a)].min() == lo                       # 20 in 2020, 18 in 2016
        assert int((sd.data["age_group"] == youngest).sum()) == int(((a >= lo) & (a <= 24)).sum())
        assert sd.provenance["population"]["min_age"] == lo
        assert ("re-interviewed in 2020" in sd.provenance["population"]["description"]) == (wave == 2020)
    cross = _real(shared_data_dir, "gss/GSS2018.dta")
    raw, _ = pyreadstat.read_dta(str(cross), usecols=["age"])
    a = raw["age"].to_numpy(dtype=float)
    sd = datasets.load("gss", path=cross)
    assert list(sd.data["age_group"].cat.categories) == ["18-24"] + COMMON
    assert int((sd.data["age_group"] == "18-24").sum()) == int(((a >= 18) & (a <= 24)).sum()) == 197
    assert int((sd.data["age_group"] == "75+").sum()) == int((a >= 75).sum())   # 89 = 89+ included


def _r_reference() -> dict:
    import json

    return json.loads((HERE.parent / "fixtures" / "datasets" / "age_reference.json").read_text())


@pytest.mark.filterwarnings("ignore::socialhealth.errors.SocialHealthWarning")
def test_real_ess_adults_match_r(shared_data_dir):
    """min_age=18 equals R svydesign(..., data = subset(ess, agea >= 18)); the 15-24 band equals
    R's domain subset(des, agea >= 15 & agea <= 24) (make_age_reference.R)."""
    R = _r_reference()
    e7 = _real(shared_data_dir, "ess/ESS7GB.sav")
    r7 = R["ess7_gb"]
    adults = datasets.load("ess", path=e7, min_age=18)
    p = adults.provenance
    assert p["rows_read"] == r7["n"] and p["rows_kept"] == r7["adults_n"]
    assert p["rows_dropped"]["aged under 18 (min_age=18)"] == r7["n_under18"]
    assert p["rows_dropped"]["age missing: cannot be shown to be aged 18 or over (min_age=18)"] \
        == r7["n_age_missing"]
    assert adults.design.degf() == r7["adults_degf"]
    m = adults.design.mean("lonely").to_frame().iloc[0]
    assert m["estimate"] == pytest.approx(r7["adults_lonely"]["est"], rel=1e-10)
    assert m["se"] == pytest.approx(r7["adults_lonely"]["se"], rel=1e-8)
    full = datasets.load("ess", path=e7)
    b = full.design.mean("lonely", by="age_group").to_frame()
    b = b.set_index(b["age_group"].astype(str)).loc["15-24"]
    assert b["estimate"] == pytest.approx(r7["band_15_24_lonely"]["est"], rel=1e-10)
    assert b["se"] == pytest.approx(r7["band_15_24_lonely"]["se"], rel=1e-8)

    r9 = R["ess9_gb"]
    adults9 = datasets.load("ess", path=_real(shared_data_dir, "ess/ESS9GB.sav"), min_age=18)
    assert adults9.provenance["rows_kept"] == r9["adults_n"]
    assert adults9.design.degf() == r9["adults_degf"]
    m = adults9.design.mean("poor_health").to_frame().iloc[0]
    assert m["estimate"] == pytest.approx(r9["adults_poor_health"]["est"], rel=1e-10)
    assert m["se"] == pytest.approx(r9["adults_poor_health"]["se"], rel=1e-8)
