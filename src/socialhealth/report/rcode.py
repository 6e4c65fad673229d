"""R ``survey`` code that reproduces the report's numbers.

The report shows, for each number, the R call that gives it on the same data: the design from
``design.r_code()`` (``svydesign``) or, for replicate designs, the matching ``svrepdesign``;
then ``svyciprop`` / ``svyby`` / ``svyglm`` calls with the design object called ``des``.
"""
from __future__ import annotations

import os
import re

import numpy as np

_R_TYPES = {"jk1": "JK1", "jkn": "JKn", "brr": "BRR", "fay": "Fay", "bootstrap": "bootstrap",
            "sdr": "successive-difference", "other": "other"}


def design_lines(design, data_name: str = "df") -> list[str]:
    """``options(...)`` and ``des <- svydesign(...)`` (or ``svrepdesign``) lines."""
    r_code = getattr(design, "r_code", None)
    if callable(r_code):
        code = r_code(data_name=data_name)
        parts = [p.strip() for p in code.split("; ") if p.strip()]
        lines = [p for p in parts if p.startswith("options(")]
        calls = [p for p in parts if not p.startswith("options(")]
        lines += [f"des <- {c}" for c in calls]
        return lines
    if getattr(design, "kind", "") == "replicate":
        W = getattr(design, "_W", None)
        n_rep = W.shape[1] if W is not None else "R"
        rs = np.asarray(getattr(design, "rscales", [1.0]), dtype=float)
        rscales = f"{rs[0]:.10g}" if rs.size and np.allclose(rs, rs[0]) else "<per replicate>"
        weights = getattr(design, "_weights_name", None) or "1"
        method = _R_TYPES.get(str(getattr(design, "method", "other")).lower(), "other")
        cols = list(getattr(design, "_rep_columns", None) or [])
        prefix = os.path.commonprefix(cols) if cols else ""
        if cols and prefix and all(re.fullmatch(re.escape(prefix) + r"[0-9]+", c) for c in cols):
            rep = f'"^{prefix}[0-9]+$"'
        elif cols:
            rep = f"{data_name}[, c({', '.join(r_string(c) for c in cols)})]"
        else:
            rep = '"<replicate weight columns>"'
        return [f"# {n_rep} replicate weight columns in {data_name}",
                f"des <- svrepdesign(data = {data_name}, weights = ~{weights}, "
                f"repweights = {rep}, type = \"{method}\", "
                f"scale = {float(getattr(design, 'scale', 1.0)):.10g}, rscales = {rscales}, "
                f"mse = {str(bool(getattr(design, 'mse', False))).upper()}, combined.weights = TRUE)"]
    return [f"# the design could not be written as R code: {design!r}"]


def with_des(call: str) -> str:
    """An engine ``r_call`` ("..., design, ...") rewritten for the design object ``des``."""
    call = re.sub(r"\bdesign = design\b", "design = des", call)
    return re.sub(r"(?<![\w.=])design(?=\s*[,)])", "des", call).replace("'", '"')


def r_string(value) -> str:
    """An R literal for a Python value (strings double-quoted)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    return f"{value}"
