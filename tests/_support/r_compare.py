"""Comparison helpers shared by the differential (fuzz) suites against R.

Importable as ``r_compare`` from any test (``pythonpath = ["tests/_support"]`` in
``pyproject.toml``; this folder holds no tests; ``mini_report.py`` beside it builds the
report on the mini survey).
"""
from __future__ import annotations

import math

import numpy as np

#: relative tolerance of the closed forms compared with R
TOL = 1e-8


def as_array(values) -> np.ndarray:
    """R's JSON values as a flat float array (``null`` -> NaN)."""
    return np.asarray([np.nan if v is None else v for v in np.atleast_1d(values)],
                      dtype=float).ravel()


def r_numbers(values) -> np.ndarray:
    """R's JSON numbers (a list or one value) as a flat float array, whichever way jsonlite
    wrote the special values: ``null`` and the string ``"NA"`` (or ``"NaN"``) -> NaN,
    ``"Inf"`` / ``"-Inf"`` -> infinities, other strings (``"%.17g"`` digits) -> their value."""
    def one(v):
        if v is None or (isinstance(v, str) and v in ("NA", "NaN")):
            return math.nan
        return float(v)
    return np.array([one(v) for v in np.atleast_1d(np.asarray(values, dtype=object))],
                    dtype=float).ravel()


def close(ours, r, tol=TOL, what="", scale=None):
    """``ours`` equal to R's ``r`` within ``tol`` relative, with an absolute floor of ``tol``
    times ``scale`` (default the largest |r|; for standard errors the largest |estimate|, so
    that an SE that is 0 up to rounding, e.g. R's 3e-15 against our 0, is 0 in the units of
    the estimate)."""
    ours = np.asarray(ours, dtype=float).ravel()
    r = as_array(r)
    assert ours.shape == r.shape, (what, ours, r)
    if scale is None:
        scale = np.nanmax(np.abs(r)) if np.isfinite(r).any() else 1.0
    np.testing.assert_allclose(ours, r, rtol=tol, atol=tol * max(float(scale), 1e-300),
                               err_msg=what)


def value_key(v) -> str:
    """A harmonised value as R's JSON names it: ``True``/``False``, integers without ``.0``,
    other floats by ``repr``, anything else as ``str``."""
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    return str(v)


def scalar_close(a, b, tol=TOL) -> bool:
    """Two numbers equal within ``tol`` relative (absolute floor 1e-12); ``None`` only equals
    ``None``."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=1e-12)


def canonical_drops(dropped: dict, reasons) -> dict:
    """A loader's drop reasons (its own sentences) mapped onto R's reason keys: the first
    ``(words, key)`` of ``reasons`` whose words appear in the sentence; counts of reasons that
    map to the same key are added."""
    out: dict = {}
    for reason, n in dropped.items():
        key = next((k for words, k in reasons if words in reason), reason)
        out[key] = out.get(key, 0) + int(n)
    return out


# ----------------------------------------------------------------- printed R code fixtures
def r_code_close(a, b, tol: float = 1e-8) -> bool:
    """Our number against R's in the printed-R-code fixtures (``tests/fixtures/r_code*``):
    relative ``tol`` (plus 1e-9 absolute); R's NA/NaN (``None`` in JSON) agrees only with NaN."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return all(v is None or math.isnan(v) for v in (a, b))
    return abs(a - b) <= tol * max(abs(a), abs(b)) + 1e-9


def fixture_cases(folder, module_name: str):
    """A printed-R-code fixture folder's ``cases.py``, loaded under ``module_name`` (each such
    folder has a ``cases.py``; a plain ``import cases`` returns whichever was imported first)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(module_name, Path(folder) / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
