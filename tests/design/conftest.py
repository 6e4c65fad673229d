"""Reference numbers shared by the design tests: the R fixture on the synthetic example data
(tests/fixtures/r_survey, make_reference.R) and the extra R cases of
tests/design/fixtures/proportion (make_extra.R)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

EXTRA = Path(__file__).parent / "fixtures" / "proportion" / "extra_reference.json"


@pytest.fixture(scope="session")
def ref(r_survey):
    """``r_survey_reference.json`` of the in-repo synthetic set (tests/fixtures/r_survey)."""
    return r_survey.reference


@pytest.fixture(scope="session")
def extra():
    """The ``results`` of ``fixtures/proportion/extra_reference.json``."""
    return json.loads(EXTRA.read_text())["results"]
