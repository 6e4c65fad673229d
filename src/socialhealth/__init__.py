"""socialhealth: loneliness, social connection and health from public surveys.

Design-based estimates that match R's ``survey`` package, loaders that turn raw survey files
into one harmonised schema, scoring of the standard loneliness and isolation instruments,
models of connection and health, plots and an HTML report.

>>> import socialhealth as sh
>>> sd = sh.datasets.load("demo")                      # synthetic demo survey, no file needed
>>> est = sd.design.proportion("lonely", by="age_group")
>>> print(est.to_frame()[["age_group", "estimate", "ci_low", "ci_high"]].round(3).to_string())
  age_group  estimate  ci_low  ci_high
0     16-24     0.096   0.081    0.114
1     25-34     0.080   0.067    0.094
2     35-44     0.054   0.044    0.065
3     45-54     0.067   0.056    0.082
4     55-64     0.072   0.061    0.085
5     65-74     0.048   0.041    0.057
6       75+     0.083   0.072    0.096
>>> apistrat = sh.datasets.load_example("apistrat")    # synthetic stand-in for R's apistrat
>>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
>>> d.mean("api00").to_frame()[["estimate", "se"]].round(2).values.tolist()
[[655.68, 6.69]]
"""
from __future__ import annotations

import importlib
from typing import Any

from socialhealth import errors
from socialhealth._version import __version__

_LAZY = {
    "SurveyDesign": ("socialhealth.design", "SurveyDesign"),
    "ReplicateDesign": ("socialhealth.design", "ReplicateDesign"),
    "TwoPhaseDesign": ("socialhealth.design", "TwoPhaseDesign"),
    "design": ("socialhealth.design", None),
    "datasets": ("socialhealth.datasets", None),
    "measures": ("socialhealth.measures", None),
    "models": ("socialhealth.models", None),
    "plot": ("socialhealth.plot", None),
    "report": ("socialhealth.report", None),
    "tables": ("socialhealth.tables", None),
}

__all__ = ["__version__", "errors", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'socialhealth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
