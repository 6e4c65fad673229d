"""Shared pieces of the hostile-input suites (tests/test_hostile_inputs_3.py to _6.py): a small
demo design, a logistic model on it, the stratified apistrat design, a Series to pass where one
value goes (and how messages describe it), closing the figures plot calls leave, and the check
that a call raises a socialhealth exception.

Importable as ``hostile_inputs`` from any test (``pythonpath = ["tests/_support"]``)."""
from __future__ import annotations

from functools import cache

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import SocialHealthError


#: a column passed where one value goes, and how a message writes it
SERIES = pd.Series([1.0, 2.0, 3.0])
SAID = "a pandas Series of 3 values"


@pytest.fixture
def close_figures():
    """Close the figures a test's plot calls leave open (``pytest.mark.usefixtures``)."""
    yield
    plt.close("all")


@cache
def api() -> sh.SurveyDesign:
    """R's ``dstrat``: apistrat stratified by school type, with fpc."""
    data = sh.datasets.load_example("apistrat")
    return sh.SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")


@cache
def glm():
    """A logistic model on :func:`demo`: lonely ~ age + sex."""
    return demo().glm("lonely ~ age + sex", family="binomial")


@cache
def demo() -> sh.SurveyDesign:
    """The demo survey cut to its first 25 strata (2,596 rows): quick to fit models on."""
    full = sh.datasets.load("demo").design
    keep = full.data["strata"].cat.categories[:25]
    small = full.data[full.data["strata"].isin(keep)].copy()
    for c in ("strata", "psu"):
        small[c] = small[c].cat.remove_unused_categories()
    return sh.SurveyDesign(small, weights="weight", strata="strata", psu="psu", nest=True,
                           lonely_psu="adjust")


def refused(call, match: str | None = None) -> SocialHealthError:
    """``call()`` raises a socialhealth exception (never a bare numpy/pandas one)."""
    with pytest.raises(SocialHealthError, match=match) as info:
        call()
    return info.value
