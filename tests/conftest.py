"""Shared test fixtures: where the reference material and the real survey files live.

The repository is cloned next to ``shared/`` (``<repo>/../shared``); the environment variables
``SOCIALHEALTH_REFERENCE`` and ``SOCIALHEALTH_DATA`` override the two folders. Tests that need
them skip cleanly when they are absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Packages whose versions decide the numbers: printed at the top of every run (and so in CI's
# log) to show which versions a green run used.
_VERSIONED = ("numpy", "scipy", "pandas", "statsmodels", "pyreadstat", "matplotlib", "pyarrow",
              "formulaic")


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
def shared_data_dir() -> Path:
    path = _data_path()
    if not path.is_dir():
        pytest.skip(f"real survey files not found at {path} (set SOCIALHEALTH_DATA)")
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


@pytest.fixture(autouse=True)
def _matplotlib_agg(monkeypatch):
    """Plots in tests never open a window."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
