"""Shared test fixtures: where the reference material and the real survey files live.

R parity: the R reference numbers of R ``survey`` on socialhealth's synthetic example data
(``socialhealth.datasets.load_example``) are in the repository (``tests/fixtures/r_survey``,
fixture ``r_survey``), so every engine test runs on a clone alone.

Optional material next to the clone (``<repo>/../shared``; the environment variables
``SOCIALHEALTH_REFERENCE`` and ``SOCIALHEALTH_DATA`` override the two folders): the original
R reference set on R survey's own data (``reference_dir``; when present the parity test of
``test_r_reference.py`` also runs on it) and third-party survey microdata (``shared_data_dir``:
GSS, ESS, BRFSS files, not redistributable). Tests that need them skip cleanly when absent.
"""
from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from message_watch import numpy_reprs_seen, watch_messages

REPO = Path(__file__).resolve().parents[1]

# Packages whose versions decide the numbers: printed at the top of every run (and so in CI's
# log) to show which versions a green run used.
_VERSIONED = ("numpy", "scipy", "pandas", "statsmodels", "pyreadstat", "matplotlib", "pyarrow",
              "formulaic")


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the project's default, pyproject.toml): one worker per core, at most 4.

    Each worker collects the whole suite (~0.5 GB); more than 4 gain little and a many-core
    machine would otherwise start dozens. On one core the tests run in this process (``-n 0``).
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` or ``-n N`` still choose the number.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = min(4, cores or 1)
    return cores if cores > 1 else 0          # one core: no worker process, as with -n 0


def pytest_report_header(config):
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in _VERSIONED:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return "socialhealth test run with: " + ", ".join(parts)
SHARED = REPO.parent / "shared"
R_SURVEY = REPO / "tests" / "fixtures" / "r_survey"

MICRODATA_HELP = (
    "third-party survey microdata (GSS from NORC, https://gss.norc.org; ESS from the European "
    "Social Survey ERIC, https://www.europeansocialsurvey.org, free registration; BRFSS from the "
    "CDC) are not redistributable and not in the repository: download them from the provider "
    "and put them under ../shared/data/<survey>/ next to the clone (gss/, ess/, brfss/) or set "
    "SOCIALHEALTH_DATA to that folder")


class RSurvey:
    """One R reference set: ``r_survey_reference.json``, R's replicate weights and the data sets
    the R script read (``synthetic``: socialhealth's example data, in the repository;
    ``original``: R survey's own data sets in ../shared/reference/r_survey)."""

    def __init__(self, folder: Path, synthetic: bool):
        self.folder = Path(folder)
        self.synthetic = synthetic
        self.label = "synthetic" if synthetic else "original"

    @cached_property
    def reference(self) -> dict:
        return json.loads((self.folder / "r_survey_reference.json").read_text())

    def data(self, name: str) -> pd.DataFrame:
        if self.synthetic:
            from socialhealth.datasets import load_example
            return load_example(name)
        return pd.read_csv(self.folder / f"{name}.csv")

    def repweights(self, name: str) -> np.ndarray:
        """R's replicate weights (rows x replicates). The in-repo nhanes sets are stored as R's
        multipliers per (SDMVSTRA, SDMVPSU) cell: weight = WTMEC2YR x multiplier."""
        full = self.folder / f"repweights_{name}.csv.gz"
        if full.exists():
            return pd.read_csv(full).drop(columns="row").to_numpy(dtype=float)
        mult = pd.read_csv(self.folder / f"repmult_{name}.csv")
        nh = self.data("nhanes")
        m = nh[["SDMVSTRA", "SDMVPSU"]].merge(mult, how="left", on=["SDMVSTRA", "SDMVPSU"])
        cols = [c for c in mult.columns if c.startswith("rw")]
        return nh["WTMEC2YR"].to_numpy(dtype=float)[:, None] * m[cols].to_numpy(dtype=float)


def _reference_path() -> Path:
    return Path(os.environ.get("SOCIALHEALTH_REFERENCE", SHARED / "reference"))


def _data_path() -> Path:
    return Path(os.environ.get("SOCIALHEALTH_DATA", SHARED / "data"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = _reference_path()
    if not path.is_dir():
        pytest.skip(f"reference material not found at {path} (set SOCIALHEALTH_REFERENCE)")
    return path


@pytest.fixture(scope="session")
def r_survey() -> RSurvey:
    """The in-repo R reference set on the synthetic example data (never skips)."""
    return RSurvey(R_SURVEY, synthetic=True)


def original_r_survey() -> RSurvey | None:
    """The original R reference set in ../shared/reference/r_survey, or None when absent."""
    path = _reference_path() / "r_survey"
    return RSurvey(path, synthetic=False) if (path / "r_survey_reference.json").is_file() else None


def pytest_generate_tests(metafunc):
    """``r_survey_set``: the in-repo synthetic set, plus the original set when ../shared has it."""
    if "r_survey_set" in metafunc.fixturenames:
        sets = [RSurvey(R_SURVEY, synthetic=True)]
        original = original_r_survey()
        if original is not None:
            sets.append(original)
        metafunc.parametrize("r_survey_set", sets, ids=[x.label for x in sets], scope="session")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = _data_path()
    if not path.is_dir():
        pytest.skip(f"real survey files not found at {path}: {MICRODATA_HELP}")
    return path


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test uses a fresh cache folder, never the user's ``~/.cache/socialhealth``, so a
    stale cached table can never hide a loader change (tests that need their own cache folder
    still set ``SOCIALHEALTH_CACHE`` themselves)."""
    old = os.environ.get("SOCIALHEALTH_CACHE")
    os.environ["SOCIALHEALTH_CACHE"] = str(tmp_path_factory.mktemp("socialhealth-cache"))
    yield
    if old is None:
        os.environ.pop("SOCIALHEALTH_CACHE", None)
    else:
        os.environ["SOCIALHEALTH_CACHE"] = old


@pytest.fixture(scope="session", autouse=True)
def _messages_watched():
    """Errors and warnings of the package are written for people: a message that shows
    ``np.int64(62)`` instead of ``62`` (numpy 2's scalar repr leaking through ``repr()`` or
    ``!r``), or ``0.30000000000000004`` instead of ``0.3``, fails the test that produced it
    (see ``_no_numpy_reprs_in_messages``)."""
    watch_messages()
    yield


@pytest.fixture(autouse=True)
def _no_numpy_reprs_in_messages():
    numpy_reprs_seen.clear()
    yield
    if numpy_reprs_seen:
        seen = list(dict.fromkeys(numpy_reprs_seen))
        numpy_reprs_seen.clear()
        pytest.fail("a socialhealth message shows a numpy scalar repr (np.int64(...) etc.) or a "
                    "float with all its digits (0.30000000000000004) instead of the plain "
                    "value:\n" + "\n".join(seen[:5]), pytrace=False)


@pytest.fixture(autouse=True)
def _matplotlib_agg(monkeypatch):
    """Plots in tests never open a window."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def hand_logistic():
    """Weighted logistic regression by Newton-Raphson, ``fit(X, y, w) -> coefficients``
    (independent of design.glm; for expected values computed by hand)."""
    import numpy as np

    def fit(X, y, w):
        b = np.zeros(X.shape[1])
        for _ in range(100):
            p = 1 / (1 + np.exp(-X @ b))
            step = np.linalg.solve(X.T @ (X * (w * p * (1 - p))[:, None]), X.T @ (w * (y - p)))
            b += step
            if np.max(np.abs(step)) < 1e-13:
                break
        return b

    return fit
