"""Shared pieces of the hostile-input suites (tests/test_hostile_inputs_3.py, _4.py and _5.py):
a small demo design and the check that a call raises a socialhealth exception.

Importable as ``hostile_inputs`` from any test (``pythonpath = ["tests/_support"]``)."""
from __future__ import annotations

from functools import cache

import pytest

import socialhealth as sh
from socialhealth.errors import SocialHealthError


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
