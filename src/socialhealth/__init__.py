"""socialhealth: loneliness, social connection and health from public surveys.

Design-based estimates that match R's ``survey`` package, loaders that turn raw survey files
into one harmonised schema, scoring of the standard loneliness and isolation instruments,
models of connection and health, plots and an HTML report.

>>> import socialhealth as sh
>>> sd = sh.datasets.load("demo")                      # doctest: +SKIP
>>> sd.design.proportion("lonely", by="age_group")     # doctest: +SKIP
"""
from __future__ import annotations

import importlib
from typing import Any

from socialhealth import errors
from socialhealth._version import __version__

_LAZY = {
    "SurveyDesign": ("socialhealth.design", "SurveyDesign"),
    "ReplicateDesign": ("socialhealth.design", "ReplicateDesign"),
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
