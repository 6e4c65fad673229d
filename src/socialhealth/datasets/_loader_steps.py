"""Loader steps the file-based loaders share, beyond the engine's plan/run.

* missing codes for files without missing-value metadata (``_wrap_missing``), declared in a
  codebook's ``[missing.<group>]`` tables (``_declared_missing``, ``_code_meanings``);
* extra (non-schema) columns from ``[extra.<column>]`` tables, cached with the table
  (``_compute_extras``, ``_run_with_extras``);
* codebook ``[variables]`` templates matched to a file's columns (``_resolve_variables``) and
  ``custom`` concepts whose sources are absent turned into "not measured" rows
  (``_with_not_measured``);
* the licensed-data error every licensed survey raises without a path (``_licensed``);
* the check that a file has the variables a loader needs, naming the survey the file looks
  like otherwise (``require_columns``), and codes as strings for ids, strata and PSUs
  (``code_strings``).

Used by the GSS, BRFSS, NHIS, HRS, ESS, UKHLS/BHPS, ELSA, OPN and CLS loaders.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from socialhealth.errors import DatasetError, LicensedDataError, SurveyFileError
from socialhealth.datasets import _cache, _engine
from socialhealth.datasets._codebook import absent_text, codes_text
from socialhealth.datasets._readers import RawTable, Source
from socialhealth.datasets._surveydata import SurveyData


def _declared_missing(cb: dict) -> dict[str, list]:
    """``{variable: [codes]}`` from a codebook's ``[missing.<group>]`` tables."""
    out: dict[str, list] = {}
    for g, spec in cb.get("missing", {}).items():
        if g == "meanings":
            continue
        for v in spec["variables"]:
            out.setdefault(v, []).extend(spec["codes"])
    return out


def _wrap_missing(src: Source, codes: dict[str, list] | None = None, negative: bool = False,
                 skip: Sequence[str] = ()) -> None:
    """Make ``src.read`` set survey missing codes to NaN and count them per variable and code.

    ``codes``: ``{variable: [codes]}``; ``negative=True``: every negative value of every numeric
    column read (UKHLS / ELSA convention) except those in ``skip``. Counts are added to
    ``RawTable.missing`` (provenance ``missing_codes``) under the code as a string ("-8", "7").
    Works for every file kind (the engine applies declared codes to CSV files only).
    """
    orig = src._impl
    codes = codes or {}

    def read(columns):
        raw: RawTable = orig(columns)
        for c in columns:
            if c in skip or c not in raw.data.columns:
                continue
            s = raw.data[c]
            if not pd.api.types.is_numeric_dtype(s):
                continue
            x = s.to_numpy(dtype=float)
            hit = np.zeros(len(x), bool)
            if c in codes:
                hit |= np.isin(x, np.asarray(codes[c], dtype=float))
            if negative:
                hit |= ~np.isnan(x) & (x < 0)
            _engine.set_missing(raw, c, x, hit)
        return raw

    src._impl = read


def _extra_sources(cb: dict, fmt: dict | None = None) -> list[str]:
    """Source variables of the codebook's ``[extra.<column>]`` tables."""
    out: list[str] = []
    for spec in cb.get("extra", {}).values():
        out.extend(s.format(**(fmt or {})) for s in spec["sources"])
    return list(dict.fromkeys(out))


def _compute_extras(df: pd.DataFrame, cb: dict, fmt: dict | None = None
                   ) -> tuple[pd.DataFrame, list[dict], dict]:
    """Extra (non-schema) columns from ``[extra.<column>]`` tables, their codebook rows and
    unmapped codes.

    Kinds: ``ordered`` (``map`` code -> label, ``levels``), ``bool`` (``true``/``false`` codes),
    ``days`` (``valid = [lo, hi]``, ``zero`` = the code for "none" -> 0).
    """
    cols, rows, unmapped = {}, [], {}
    n = len(df)
    for name, spec in cb.get("extra", {}).items():
        srcs = [s.format(**(fmt or {})) for s in spec["sources"]]
        src = srcs[0]
        kind = spec["kind"]
        if src not in df.columns:
            cols[name] = _empty(kind, spec, n)
            rows.append({"concept": name, "source_variables": src, "rule": "not measured",
                         "labels": "", "notes": f"{src} is not in this file. "
                         + spec.get("notes", ""),
                         "measured": False})
            continue
        x = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype=float)
        valid = ~np.isnan(x)
        bad: dict = {}
        if kind == "ordered":
            m = {float(k): v for k, v in spec["map"].items()}
            vals = [m.get(v) if ok else None for v, ok in zip(x, valid, strict=True)]
            out = pd.Categorical(vals, categories=spec["levels"], ordered=True)
            rule = ", ".join(f"{k}→{v}" for k, v in spec["map"].items())
            other = valid & ~np.isin(x, list(m))
        elif kind == "bool":
            t = np.isin(x, spec["true"])
            f = np.isin(x, spec["false"])
            out = pd.array([True if a else (False if b else pd.NA) for a,
                            b in zip(t, f, strict=True)],
                           dtype="boolean")
            rule = (f"yes if {src} is {codes_text(spec['true'])}; "
                    f"no if {codes_text(spec['false'])}")
            other = valid & ~t & ~f
        elif kind == "days":
            lo, hi = spec["valid"]
            z = x == spec["zero"]
            ok = (x >= lo) & (x <= hi)
            out = np.where(z, 0.0, np.where(ok, x, np.nan))
            rule = f"{src} {lo}-{hi} days; {spec['zero']} (none) → 0"
            other = valid & ~z & ~ok
        else:
            raise DatasetError(f"[extra.{name}]: unknown kind {kind!r}")
        for code, k in zip(*np.unique(x[other], return_counts=True), strict=True):
            bad[str(int(code)) if float(code).is_integer() else str(code)] = int(k)
        if bad:
            unmapped[name] = bad
        cols[name] = out
        measured = bool(n) and not pd.isna(pd.Series(out)).all()
        rows.append({"concept": name, "source_variables": src, "rule": rule,
                     "labels": "; ".join(f"{k} {v}" for k, v in spec.get("map", {}).items()),
                     "notes": ("extra column (not in the harmonised schema). " if measured else
                               "NOT MEASURED HERE: missing for every row kept. ")
                     + spec.get("notes", ""), "measured": measured})
    return pd.DataFrame(cols, index=df.index), rows, unmapped


def _empty(kind, spec, n):
    if kind == "ordered":
        return pd.Categorical([None] * n, categories=spec["levels"], ordered=True)
    if kind == "bool":
        return pd.array([pd.NA] * n, dtype="boolean")
    return np.full(n, np.nan)


def _run_with_extras(name: str, path, options: dict, prepare: Callable[[Source], _engine.Plan],
                    extras: Callable[[], tuple[pd.DataFrame, list[dict], dict]] | None, *,
                    loader_version: int, columns=None, cache: bool = True,
                    extra_key=()) -> SurveyData:
    """:func:`_engine.run` plus extra (non-schema) columns, cached together with the table.

    ``extras()`` is called after the engine has run ``prepare`` (which should stash the kept
    rows' extra columns) and returns ``(frame, codebook_rows, unmapped)``; the columns are put
    after the schema columns (before the requested source columns). The engine has no hook for
    this yet, so the engine runs uncached and this function caches the final table itself with
    the engine's own cache functions (same key scheme, extra_key tagged ``"extras"``).
    """
    if extras is None:
        return _engine.run(name, path, options, prepare, loader_version=loader_version,
                           columns=columns, cache=cache, extra_key=extra_key)
    user_cols = list(dict.fromkeys(columns or []))
    key = ("extras", *extra_key)
    p = Path(path).expanduser()
    if cache and p.is_file() and p.stat().st_size > 0:
        sha = _cache.cached_sha256(p)
        if sha is not None:
            hit = _engine._try_cache(name, sha, options, user_cols, loader_version, key)
            if hit is not None:
                return hit
    sd = _engine.run(name, path, options, prepare, loader_version=loader_version,
                     columns=user_cols, cache=False, extra_key=extra_key)
    frame, rows, unmapped = extras()
    data = sd.data
    n_schema = len(data.columns) - len(user_cols)
    head, tail = data.iloc[:, :n_schema], data.iloc[:, n_schema:]
    frame = frame.reset_index(drop=True)
    frame.columns = [c if c not in data.columns else f"{c}_extra" for c in frame.columns]
    sd.data = pd.concat([head, frame, tail], axis=1)
    sd.codebook = pd.concat([sd.codebook, pd.DataFrame(rows, columns=sd.codebook.columns)],
                            ignore_index=True)
    sd.provenance["unmapped_codes"] = {**sd.provenance.get("unmapped_codes", {}), **unmapped}
    sd.provenance["extra_columns"] = list(frame.columns)
    if cache:
        sd.provenance["cache"] = "miss"
        _engine._write_cache(sd, name, sd.provenance["sha256"], options, user_cols,
                             loader_version, key)
    return sd


def _resolve_variables(cb: dict, columns, fmt: dict | None = None,
                      overrides: dict | None = None) -> tuple[dict, dict]:
    """Actual file names for the codebook's ``[variables]`` table (``key = "template"``).

    Each template is formatted with ``fmt`` (``"R{w}SHLT"`` -> ``"R8SHLT"``), then matched to
    the file's columns case-insensitively (RAND and ELSA files differ in case across releases).
    ``overrides`` (``{key: name}``) replace templates (for surveys whose names are unverified).
    Returns ``(names, used)``: ``{key: name in the file, or the expected name if absent}`` for
    codebook ``{key}`` substitution, and ``{key: name}`` of what was used (for provenance).
    """
    lower: dict[str, str] = {}
    for c in columns:
        lower.setdefault(str(c).lower(), str(c))
    out = {}
    for key, tmpl in cb.get("variables", {}).items():
        name = (overrides or {}).get(key, tmpl)
        name = name.format(**(fmt or {}))
        out[key] = lower.get(name.lower(), name)
    unknown = sorted(set(overrides or {}) - set(out))
    if unknown:
        raise DatasetError(f"variables={{...}} names unknown key(s) {unknown}; the codebook's "
                           f"keys are {sorted(out)}.")
    return out, dict(out)


def _licensed(name: str, what: str, where: str, how: str) -> LicensedDataError:
    return LicensedDataError(
        f"{what} is licensed data that socialhealth cannot download: {where}. Then pass the "
        f"file you downloaded: {how}.")


def _article(name: str) -> str:
    """"a" or "an" as said aloud: "an ELSA", "an NHIS", "a RAND", "a UKHLS", "an ESS".

    >>> [_article(x) for x in ("ELSA core", "NHIS", "RAND HRS", "UKHLS", "BRFSS", "European")]
    ['an', 'an', 'a', 'a', 'a', 'a']
    """
    word = name.split()[0] if name.split() else name
    if len(word) > 1 and word.isupper() and word != "RAND":   # said letter by letter
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    w = word.lower()
    return "an" if w[:1] in "aeiou" and not w.startswith(("eu", "uni", "use")) else "a"


def require_columns(src: Source, names: Sequence[str], survey: str, hint: str = "") -> None:
    """Raise :class:`SurveyFileError` unless ``src`` has every variable in ``names``.

    The message names the missing variables, the survey the file looks like instead (when it
    is recognisable) and ``hint`` (ending in a space when given).
    """
    missing = [c for c in names if c not in set(src.columns)]
    if missing:
        other = guess_survey(src.columns)
        raise SurveyFileError(
            f"{src.path} is not {_article(survey)} {survey} file: required variable(s) "
            f"{missing} are missing"
            + (f" (it looks like {other})" if other else "") + ". " + hint
            + "Pass the file as distributed by the survey agency.")


def guess_survey(columns) -> str:
    """Which survey file ``columns`` look like ("" when none is recognised)."""
    cols = set(columns)
    if {"essround", "cntry", "idno"} <= cols:
        return "a European Social Survey file"
    if "samptype" in cols and "yearid" in cols:
        return "the GSS 2016-2020 panel (load it as 'gss_panel20')"
    if "firstid" in cols and "wave" in cols:
        return "a GSS long panel file (load it as 'gss_panel06', 'gss_panel08' or 'gss_panel10')"
    if {"year", "vstrat", "vpsu"} <= cols:
        return "the GSS cumulative file (load it as 'gss')"
    if "_LLCPWT" in cols or "_llcpwt" in cols:
        return "a BRFSS file"
    return ""


def code_strings(values) -> list:
    """Codes as strings ("3211", "1"), None where missing; vectorised for float arrays."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.dtype.kind == "f":
        out = np.full(len(arr), None, dtype=object)
        ok = ~np.isnan(arr)
        whole = ok & (arr == np.round(arr))
        out[whole] = arr[whole].astype(np.int64).astype(str)
        out[ok & ~whole] = arr[ok & ~whole].astype(str)
        return out.tolist()
    return [None if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))
            else (str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer()
                  else str(v)) for v in values]


def _with_not_measured(cb: dict, fmt: dict, columns, wave=None, extra: dict | None = None) -> dict:
    """A copy of ``cb`` where ``custom`` concepts whose sources are absent from the file (or
    that ``extra`` = ``{concept: note}`` names) become ``not_measured`` rows saying why (the
    engine checks absence for the other rules only)."""
    import copy

    out = copy.deepcopy(cb)
    cols = set(columns)
    extra = extra or {}
    for concept, spec in out.get("concepts", {}).items():
        if concept in extra:
            out["concepts"][concept] = {"rule": "not_measured", "sources": spec.get("sources", []),
                                        "notes": extra[concept] + " " + spec.get("notes", "")}
            continue
        if spec.get("rule") != "custom":
            continue
        if spec.get("waves") is not None and wave is not None and \
                str(wave) not in [str(w) for w in spec["waves"]]:
            continue
        srcs = [x.format(**fmt) for x in spec.get("sources", [])]
        absent = [x for x in srcs if x not in cols]
        if absent:
            out["concepts"][concept] = {
                "rule": "not_measured", "sources": spec.get("sources", []),
                "notes": absent_text(absent) + " " + spec.get("notes", "")}
    return out


def _code_meanings(cb: dict) -> dict:
    return dict(cb.get("missing", {}).get("meanings", {}))


def _unusable_weight(df: pd.DataFrame, weight: str) -> np.ndarray:
    """Rows whose weight is missing, zero or negative (dropped by every loader and counted)."""
    x = df[weight].to_numpy(dtype=float)
    return np.isnan(x) | (x <= 0)


def _positive_weight_rows(weight: str) -> Callable[[pd.DataFrame], tuple[np.ndarray, dict]]:
    """A plan's ``select`` that keeps rows with a positive weight and counts the others."""
    from collections import OrderedDict

    def select(df: pd.DataFrame):
        bad = _unusable_weight(df, weight)
        return ~bad, OrderedDict({f"zero or missing weight {weight}": int(bad.sum())})

    return select


class _UserDesign:
    """Design variables a user names for a survey whose official ones are unverified.

    ``read`` lists the file columns to read; ``select(df)`` keeps rows with a positive weight
    and a PSU and stratum (counting the others); ``columns(df)`` gives the ``strata``/``psu``
    schema columns; ``spec`` is the design_spec. Without ``psu``/``strata`` the design is
    weights-only and ``warning`` says so.
    """

    def __init__(self, survey: str, src: Source, weight: str, psu: str | None, strata: str | None,
                 weights_only_notes: str) -> None:
        self.check(survey, psu, strata)
        self.weight = weight
        self.psu: str | None
        self.strata: str | None
        if psu is None or strata is None:   # check() allows both or neither
            self.psu = self.strata = None
            self.read: list[str] = []
            self.warning: str | None = (
                f"{survey} PSU/strata variables are unverified [U]: the design is weights-only "
                f"({weight}), "
                "so standard errors ignore clustering and stratification. Pass psu= and strata= "
                "if your file has them.")
            self.message = self.warning
            self.spec: dict = {"weights": "weight", "notes": weights_only_notes}
            return
        lower = {str(c).lower(): str(c) for c in src.columns}
        absent = [v for v in (psu, strata) if v.lower() not in lower]
        if absent:
            raise SurveyFileError(f"{src.path} has no design variable(s) {absent} (psu={psu!r}, "
                                  f"strata={strata!r}); check the names in your {survey} file.")
        self.psu, self.strata = lower[psu.lower()], lower[strata.lower()]
        self.read = [self.psu, self.strata]
        self.warning = None
        self.message = (f"{survey} design from your file's variables: PSU {self.psu}, strata "
                        f"{self.strata}, weight {weight} (nest=TRUE, lonely PSUs 'adjust').")
        self.spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                     "lonely_psu": "adjust",
                     "notes": f"user-supplied design variables: PSU {self.psu}, strata "
                              f"{self.strata}, weight {weight}."}

    @staticmethod
    def check(survey: str, psu: str | None, strata: str | None) -> None:
        """Raise before any file is read when only one of psu=/strata= is given."""
        if (psu is None) != (strata is None):
            raise DatasetError(f"{survey}: pass both psu= and strata= (your file's design "
                               f"variables), "
                               "or neither for the weights-only design.")

    def select(self, df: pd.DataFrame):
        keep, reasons = _positive_weight_rows(self.weight)(df)
        if self.psu is not None:
            nod = keep & (np.isnan(df[self.psu].to_numpy(dtype=float))
                          | np.isnan(df[self.strata].to_numpy(dtype=float)))
            reasons[f"no {self.strata}/{self.psu}"] = int(nod.sum())
            keep = keep & ~nod
        return keep, reasons

    def columns(self, df: pd.DataFrame, strings: Callable[[pd.Series], list]) -> dict:
        if self.psu is None:
            return {}
        return {"strata": strings(df[self.strata]), "psu": strings(df[self.psu])}

    @property
    def provenance(self) -> dict | None:
        return None if self.psu is None else {"psu": self.psu, "strata": self.strata}
