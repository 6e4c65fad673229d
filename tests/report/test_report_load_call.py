"""The methods section's Python load call repeats every load option that changes the data or
the design (otherwise the exported data would not give the report's numbers in R)."""
from __future__ import annotations

import warnings

import pytest

import socialhealth as sh


def _load_line(rep) -> str:
    return next(ln for ln in rep["methods"].r_code if "sh.datasets.load(" in ln)


def test_demo_seed_and_replicate_design_are_in_the_load_call():
    sd = sh.datasets.load("demo", seed=5, replicate=True)
    rep = sh.report.build(sd, outcomes="depression")
    assert _load_line(rep).endswith('sh.datasets.load("demo", seed=5, replicate=True)')


def test_ess_weight_is_in_the_load_call(shared_data_dir):
    path = shared_data_dir / "ess" / "ESS7GB.sav"
    if not path.exists():
        pytest.skip("ESS7GB.sav not present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = sh.datasets.load("ess", path=path, weight="pspwght")
    rep = sh.report.build(sd, outcomes="poor_health")
    assert f"sh.datasets.load(\"ess\", path=\"{path}\", weight='pspwght')" in _load_line(rep)
