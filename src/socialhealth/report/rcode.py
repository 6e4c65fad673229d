"""R ``survey`` code that reproduces the report's numbers.

The report shows, for each number, the R call that gives it on the same data: the design from
``design.r_code()`` (``svydesign``) or, for replicate designs, the matching ``svrepdesign``;
then ``svyciprop`` / ``svyby`` / ``svyglm`` calls with the design object called ``des``.
"""
from __future__ import annotations

import os
import re

import numpy as np

from socialhealth._text import r_quoted

# R's svrepdesign has no type "subbootstrap" or "mrbbootstrap" (only as.svrepdesign makes
# them): their weights are bootstrap weights, written with their own scale= and rscales=
_R_TYPES = {"jk1": "JK1", "jkn": "JKn", "brr": "BRR", "fay": "Fay", "bootstrap": "bootstrap",
            "subbootstrap": "bootstrap", "mrbbootstrap": "bootstrap",
            "sdr": "successive-difference", "other": "other"}


def design_lines(design, data_name: str = "df") -> list[str]:
    """``options(...)`` and ``des <- svydesign(...)`` (or ``svrepdesign``) lines."""
    r_code = getattr(design, "r_code", None)
    if callable(r_code):
        code = r_code(data_name=data_name)
        parts = [p.strip() for p in code.split("; ") if p.strip()]
        lines = [p for p in parts if p.startswith("options(")]
        calls = [p for p in parts if not p.startswith("options(")]
        if any("repweights = repweights" in c for c in calls):
            lines.append("# repweights: the replicate weights (design.replicate_weights) as an R "
                         "matrix, e.g. written to CSV and read with as.matrix(read.csv(...))")
        if any("ppsmat(jointprob" in c for c in calls):
            lines.append("# jointprob: the matrix of joint inclusion probabilities given to "
                         "socialhealth's ppsmat(), as an R matrix")
        if any("formula = ~predictors, calfun = \"rrz\"" in c for c in calls):
            lines.append("# predictors: the predictors= given to estimate_weights(), as an R "
                         "matrix with one row per row of df, in R's global environment")
        if any("hadamard.matrix = H" in c for c in calls):
            lines.append("# H: the Hadamard matrix given as hadamard=, as an R matrix")
        lines += [f"des <- {c}" for c in calls]
        return lines
    if getattr(design, "kind", "") == "replicate":
        n_rep = getattr(design, "n_replicates", "R")
        rs = np.asarray(getattr(design, "rscales", [1.0]), dtype=float)
        rscales = f"{rs[0]:.10g}" if rs.size and np.allclose(rs, rs[0]) else "<per replicate>"
        weights = getattr(design, "weights_column", None) or "1"
        method = _R_TYPES.get(str(getattr(design, "method", "other")).lower(), "other")
        cols = list(getattr(design, "replicate_columns", None) or [])
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
                f"mse = {str(bool(getattr(design, 'mse', False))).upper()}, combined.weights = "
                f"TRUE)"]
    return [f"# the design could not be written as R code: {design!r}"]


def with_des(call: str) -> str:
    """An engine ``r_call`` ("..., design, ...") rewritten for the design object ``des``."""
    call = re.sub(r"\bdesign = design\b", "design = des", call)
    return re.sub(r"(?<![\w.=])design(?=\s*[,)])", "des", call).replace("'", '"')


def r_string(value) -> str:
    """An R literal for a Python value (strings double-quoted)."""
    if isinstance(value, str):
        return r_quoted(value)
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    return f"{value}"


def _break_points(line: str) -> list[int]:
    """Positions just after ``", "`` / ``" & "`` / ``" + "`` outside strings and comments,
    where an R (or Python) line inside parentheses may continue on the next line."""
    out, quote, depth = [], "", 0
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth > 0 and line.startswith((", ", " & ", " + "), i):
            out.append(i + (2 if ch == "," else 3))
        i += 1
    return out


def wrap_line(line: str, width: int = 92) -> list[str]:
    """One line of R code as lines of at most ``width`` characters where it can be broken.

    Code is broken only after a comma, ``&`` or ``+`` inside parentheses and outside strings
    (R reads the call on across the line break); continuation lines are indented 4 spaces.
    A comment (``# ...``) continues as a comment, its code part broken the same way. Nothing
    is ever cut inside a name, a number or a string, so a line without such a break point stays
    longer than ``width``.

    Examples
    --------
    >>> for ln in wrap_line('x <- svyglm(y ~ a + b, design = des, family = quasibinomial())', 40):
    ...     print(ln)
    x <- svyglm(y ~ a + b, design = des,
        family = quasibinomial())
    """
    if len(line) <= width:
        return [line]
    prefix = ""
    m = re.match(r"^(#\s*)", line)
    body = line
    if m:
        prefix, body = m.group(1), line[m.end():]
    points = _break_points(body)        # positions in the whole body (parentheses counted)
    lines, start, indent = [], 0, ""
    while len(prefix) + len(indent) + len(body) - start > width:
        room = width - len(prefix) - len(indent)
        later = [p for p in points if p > start]
        cuts = [p for p in later if p - start <= room]
        if not cuts:
            if not later:
                break
            cuts = [later[0]]
        cut = cuts[-1]
        lines.append(prefix + indent + body[start:cut].rstrip())
        start = cut
        while start < len(body) and body[start] == " ":
            start += 1
        indent = "    "
    lines.append(prefix + indent + body[start:])
    return lines


def wrap_code(lines, width: int = 92) -> list[str]:
    """Every line of ``lines`` through :func:`wrap_line`.

    Examples
    --------
    >>> wrap_code(["library(survey)", "f(a, b)"], 5)
    ['library(survey)', 'f(a,', '    b)']
    """
    out: list[str] = []
    for ln in lines:
        out += wrap_line(str(ln), width)
    return out
