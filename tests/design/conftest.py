"""Reference numbers shared by the design tests: the R fixture in ../shared and the extra R
cases of tests/design/fixtures/proportion (make_extra.R)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

EXTRA = Path(__file__).parent / "fixtures" / "proportion" / "extra_reference.json"


@pytest.fixture(scope="session")
def ref(reference_dir):
    """``r_survey_reference.json`` (skips when ../shared is absent)."""
    return json.loads((reference_dir / "r_survey" / "r_survey_reference.json").read_text())


@pytest.fixture(scope="session")
def extra():
    """The ``results`` of ``fixtures/proportion/extra_reference.json``."""
    return json.loads(EXTRA.read_text())["results"]
