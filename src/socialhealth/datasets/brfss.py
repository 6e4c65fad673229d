"""Behavioral Risk Factor Surveillance System (CDC) loader: the LLCP annual file, 2016-2024.

Reads CDC's SAS transport file (``LLCP2023.XPT``) or the ``LLCP2023XPT.zip`` holding it, one or
several years. Codebook: ``codebooks/brfss.toml`` (CDC LLCP codebooks 2022/2023; other years'
names marked [U] there).

* Missing codes: the XPT carries no missing-value metadata, so the codebook's codes (7 don't
  know, 9 refused, 77/99, ``_AGEG5YR`` 14) are set missing and counted per variable and code in
  ``provenance["missing_codes"]``; a blank (SAS ``.``) means "not asked or missing" and is
  counted under ``"."`` (and summed per variable in ``provenance["not_asked"]``). The SDOH
  module was asked in a subset of states, so ~half of the records are blank there.
* Loneliness: ``SDLONELY`` (2023+) is loneliness; ``SDHISOLT`` (2022) is *isolation*, a
  different construct, mapped to the extra column ``isolated_feeling`` and never to ``lonely``.
* Design: ``_LLCPWT``, strata ``_STSTR`` (made year-specific), PSU ``_PSU`` (= the annual
  sequence number, so practically one respondent per PSU), ``nest=True``,
  ``lonely_psu="adjust"``. In R::

      options(survey.lonely.psu = "adjust")
      svydesign(ids = ~`_PSU`, strata = ~`_STSTR`, weights = ~`_LLCPWT`, nest = TRUE, data = llcp)

This module also holds helpers the other US/UK loaders share (missing-code declaration for
files without missing metadata, extra non-schema columns with caching); they are candidates
for the shared machinery (``_engine``).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _cache, _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import RawTable, Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets.gss import _require, _strings

LOADER_VERSION = 1


# ================================================================== shared helpers (US/UK loaders)
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
            if hit.any():
                counts = raw.missing.setdefault(c, {})
                for code, k in zip(*np.unique(x[hit], return_counts=True)):
                    key = str(int(code)) if float(code).is_integer() else str(code)
                    counts[key] = counts.get(key, 0) + int(k)
                raw.data[c] = np.where(hit, np.nan, x)
        return raw

    src._impl = read


def _extra_sources(cb: dict, fmt: dict | None = None) -> list[str]:
    """Source variables of the codebook's ``[extra.<column>]`` tables."""
    out = []
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
                         "labels": "", "notes": f"{src} is not in this file. " + spec.get("notes", ""),
                         "measured": False})
            continue
        x = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype=float)
        valid = ~np.isnan(x)
        bad: dict = {}
        if kind == "ordered":
            m = {float(k): v for k, v in spec["map"].items()}
            vals = [m.get(v) if ok else None for v, ok in zip(x, valid)]
            out = pd.Categorical(vals, categories=spec["levels"], ordered=True)
            rule = ", ".join(f"{k}→{v}" for k, v in spec["map"].items())
            other = valid & ~np.isin(x, list(m))
        elif kind == "bool":
            t = np.isin(x, spec["true"])
            f = np.isin(x, spec["false"])
            out = pd.array([True if a else (False if b else pd.NA) for a, b in zip(t, f)],
                           dtype="boolean")
            rule = f"True if {src} in {spec['true']}; False if in {spec['false']}"
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
        for code, k in zip(*np.unique(x[other], return_counts=True)):
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
    lower = {}
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


def _licensed(name: str, what: str, where: str, how: str) -> "LicensedDataError":
    from socialhealth.errors import LicensedDataError

    return LicensedDataError(
        f"{what} is licensed data that socialhealth cannot download: {where}. Then pass the "
        f"file you downloaded: {how}.")


def _with_not_measured(cb: dict, fmt: dict, columns, wave=None, extra: dict | None = None) -> dict:
    """A copy of ``cb`` where ``custom`` concepts whose sources are absent from the file (or
    that ``extra`` = ``{concept: note}`` names) become ``not_measured`` rows saying why (the
    engine checks absence for the other rules only)."""
    import copy

    out = copy.deepcopy(cb)
    cols = set(columns)
    for concept, spec in out.get("concepts", {}).items():
        if concept in (extra or {}):
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
                "notes": f"source variable(s) {absent} not in this file. " + spec.get("notes", "")}
    return out


def _code_meanings(cb: dict) -> dict:
    return dict(cb.get("missing", {}).get("meanings", {}))


# ================================================================== BRFSS
def _bmi_hundredths(df, spec, fmt, context):
    src = spec["sources"][0]
    if src not in df.columns:
        return [None] * len(df), f"{src} not in this file"
    x = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype=float) / 100.0
    return x, f"{src} / 100"


CUSTOM_RULES = {"bmi_hundredths": _bmi_hundredths}


def _psu_years(df: pd.DataFrame, psu: str) -> list[int]:
    """Survey years in ``_PSU`` (annual sequence number: the first four digits, 2022000001)."""
    x = df[psu].to_numpy(dtype=float)
    x = x[~np.isnan(x)]
    return sorted(set(np.floor(x / 1e6).astype(int).tolist()))


def _year_from_name(src: Source) -> int | None:
    import re

    for name in (src.member or "", src.path.name):
        m = re.search(r"(?<!\d)(20\d\d)(?!\d)", Path(name).stem)
        if m:
            return int(m.group(1))
    return None


def load_brfss(path, *, wave: int | None = None, pool: str = "equal",
               columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one or several BRFSS LLCP annual files (2016-2024) in the harmonised schema.

    Parameters
    ----------
    path : str, path-like, or list of them
        ``LLCP2023.XPT`` or CDC's ``LLCP2023XPT.zip`` (read directly). A list of files (one per
        survey year) is pooled: see ``pool``.
    wave : int, optional
        The survey year the (single) file must hold, checked against ``_PSU`` (whose first four
        digits are the survey year); None accepts the file's year. Years outside 2016-2024
        raise :class:`~socialhealth.errors.UnknownWaveError`.
    pool : {"equal", "sample_size"}
        How weights are rescaled when several years are pooled. ``"equal"`` (default): each
        year's ``_LLCPWT`` divided by the number of years pooled, so the pooled weights sum to
        the average annual population (the rule used in public BRFSS code such as
        ``bcapistrant/brfssR`` and in CDC's multi-year guidance as commonly cited; the CDC page
        itself could not be checked here [U]). ``"sample_size"``: each year's weights multiplied
        by ``n_year / n_total`` (years contribute in proportion to their sample size).
        ``"state_years"``: each weight divided by the number of pooled years that have
        respondents from the same state (``_STATE``) with a non-missing weight: the rule for
        state-level module data, where a state may be absent in some years (as in public code,
        ``bcapistrant/brfssR``); equal to ``"equal"`` when every state is in every year.
    columns : list of str, optional
        Source variables to add under their own names (their 7/9 codes are left as they are
        unless the codebook declares them).
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        Harmonised columns, then the extra columns ``isolated_feeling``, ``feels_isolated``,
        ``lonely_cdc``, ``emotional_support``, ``life_satisfaction``, ``mental_health_days``
        (see the codebook), then requested source columns. Design ``SurveyDesign(weights=
        "weight", strata="strata", psu="psu", nest=True, lonely_psu="adjust")``; strata are
        ``"<year>-<_STSTR>"``. In R: ``svydesign(ids=~`_PSU`, strata=~`_STSTR`,
        weights=~`_LLCPWT`, nest=TRUE)`` with ``options(survey.lonely.psu="adjust")``.

    Raises
    ------
    UnknownWaveError, SurveyFileError, DatasetError

    Examples
    --------
    >>> from socialhealth import datasets
    >>> sd = datasets.load("brfss", path="LLCP2023XPT.zip")          # doctest: +SKIP
    >>> sd.design.proportion("lonely", by="age_group")                # doctest: +SKIP
    >>> both = datasets.load("brfss", path=["LLCP2022.XPT", "LLCP2023.XPT"])  # doctest: +SKIP
    """
    cb = load_codebook("brfss")
    years = sorted(int(y) for y in cb["years"])
    if wave is not None and int(wave) not in years:
        raise UnknownWaveError(f"the BRFSS codebook covers survey years {years[0]}-{years[-1]}; "
                               f"got wave={wave!r}.")
    if pool not in ("equal", "state_years", "sample_size"):
        raise DatasetError(f"pool={pool!r}: choose 'equal' (divide by the number of years), "
                           f"'state_years' (by the number of pooled years with data from the "
                           f"respondent's state) or 'sample_size'.")
    if isinstance(path, (list, tuple)):
        if wave is not None:
            raise DatasetError("wave= selects one file's year; with a list of files, pass the "
                               "files of the years you want.")
        parts = [load_brfss(p, columns=columns, cache=cache) for p in path]
        return _pool(parts, pool)
    d = cb["design"]
    miss = _declared_missing(cb)
    state: dict = {}

    def prepare(src: Source) -> _engine.Plan:
        _require(src, [d["weight"], d["strata"], d["psu"], d["state"]], "BRFSS LLCP")
        cols = set(src.columns)
        # the year decides the variable names: wave=, else the file name (LLCP2023.XPT),
        # else the first four digits of _PSU (one extra column read); checked in select()
        year = int(wave) if wave is not None else _year_from_name(src)
        if year is None:
            yrs = _psu_years(src.read([d["psu"]]).data, d["psu"])
            if len(yrs) != 1:
                raise SurveyFileError(f"{src.path}: _PSU does not encode one survey year "
                                      f"(found {yrs[:5]}); pass one CDC LLCP annual file.")
            year = yrs[0]
        if str(year) not in cb["years"]:
            raise UnknownWaveError(f"{src.path} holds BRFSS {year}; the codebook covers "
                                   f"{years[0]}-{years[-1]}.")
        fmt = dict(cb["years"][str(year)])
        _wrap_missing(src, miss)
        extra_src = [s for s in _extra_sources(cb) if s in cols]
        yv = d["year"] if d["year"] in cols else None
        read = [d["weight"], d["strata"], d["psu"], *extra_src] + ([yv] if yv else [])

        def select(df):
            found = _psu_years(df, d["psu"])
            if found != [year]:
                raise SurveyFileError(
                    f"{src.path}: _PSU says survey year(s) {found[:5]}, expected {year}"
                    + (" (wave=)" if wave is not None else " (from the file name)")
                    + ". Pass one CDC LLCP annual file and the matching wave=.")
            reasons = OrderedDict()
            w = df[d["weight"]].to_numpy(dtype=float)
            bad = np.isnan(w) | (w <= 0)
            reasons["missing or zero _LLCPWT"] = int(bad.sum())
            nod = ~bad & (np.isnan(df[d["strata"]].to_numpy(dtype=float))
                          | np.isnan(df[d["psu"]].to_numpy(dtype=float)))
            reasons["no _STSTR/_PSU"] = int(nod.sum())
            return ~bad & ~nod, reasons

        def design(df):
            n = len(df)
            iy = np.full(n, float(year))
            if yv:
                iy = pd.to_numeric(pd.Series(df[yv].astype(object)), errors="coerce").to_numpy(dtype=float)
                iy = np.where(np.isnan(iy), float(year), iy)
            state["extras"] = _compute_extras(df, cb)
            return {"respondent_id": [f"{year}-{p}" for p in _strings(df[d["psu"]])],
                    "wave": [str(year)] * n, "year": iy,
                    "weight": df[d["weight"]].to_numpy(dtype=float),
                    "strata": [f"{year}-{s}" for s in _strings(df[d["strata"]])],
                    "psu": _strings(df[d["psu"]])}

        return _engine.Plan(
            codebook_name="brfss", codebook=cb, fmt=fmt, wave=year, read=read, select=select,
            design=design,
            design_spec={"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                         "lonely_psu": "adjust", "notes": d["notes"]},
            country="US", custom_rules=CUSTOM_RULES,
            extra_provenance={"weight_variable": d["weight"],
                              "missing_code_meanings": _code_meanings(cb)})

    sd = _run_with_extras("brfss", path, {"wave": wave}, prepare, lambda: state["extras"],
                          loader_version=LOADER_VERSION, columns=columns, cache=cache,
                          extra_key=(codebook_hash("brfss"),))
    _not_asked(sd)
    return sd


def _not_asked(sd: SurveyData) -> None:
    """provenance["not_asked"]: blanks (SAS '.') per variable, separately from 7/9 codes."""
    sd.provenance["not_asked"] = {v: int(c["."]) for v, c in sd.provenance["missing_codes"].items()
                                  if "." in c}


def _pool(parts: list[SurveyData], pool: str) -> SurveyData:
    """Stack several years; rescale weights (``equal``: / number of years; ``sample_size``:
    * n_year / n_total)."""
    waves = [p.provenance["wave"] for p in parts]
    if len(set(waves)) != len(waves):
        raise DatasetError(f"the files given hold the same BRFSS year more than once ({waves}).")
    k = len(parts)
    n_tot = sum(len(p.data) for p in parts)
    state_years: dict = {}
    for p in parts:
        for st in set(p.data["region"].astype(object).where(p.data["region"].notna(), None)):
            state_years[st] = state_years.get(st, 0) + 1
    frames = []
    for p in parts:
        df = p.data.copy()
        if pool == "state_years":
            st = df["region"].astype(object).where(df["region"].notna(), None)
            f = 1.0 / np.array([state_years[x] for x in st], dtype=float)
        else:
            f = 1.0 / k if pool == "equal" else len(df) / n_tot
        df["weight"] = df["weight"].to_numpy(dtype=float) * f
        frames.append(df)
    cats = {}
    for f in frames:   # union of the categories, in first-seen order (a not-measured year has none)
        for c in f.columns:
            if isinstance(f[c].dtype, pd.CategoricalDtype):
                lv, ordered = cats.get(c, ([], bool(f[c].cat.ordered)))
                cats[c] = (lv + [x for x in f[c].cat.categories if x not in lv], ordered)
    for f in frames:
        for c, (lv, ordered) in cats.items():
            if c in f.columns:
                f[c] = pd.Categorical(f[c].astype(object).where(f[c].notna(), None),
                                      categories=lv, ordered=ordered)
    data = pd.concat(frames, ignore_index=True)
    # codebook: per concept, measured in any year; notes name the years
    cbs = []
    for p in parts:
        c = p.codebook.copy()
        c["notes"] = f"[{p.provenance['wave']}] " + c["notes"].astype(str)
        cbs.append(c)
    allcb = pd.concat(cbs, ignore_index=True)
    rows = []
    for concept, g in allcb.groupby("concept", sort=False):
        rows.append({"concept": concept, "source_variables": " | ".join(dict.fromkeys(g["source_variables"])),
                     "rule": " | ".join(dict.fromkeys(g["rule"])), "labels": g["labels"].iloc[0],
                     "notes": " ".join(g["notes"]), "measured": bool(g["measured"].any())})
    codebook = pd.DataFrame(rows, columns=parts[0].codebook.columns)
    rule = {"equal": f"each year's _LLCPWT divided by the number of years pooled ({k})",
            "sample_size": "each year's _LLCPWT times n_year / n_total",
            "state_years": "each _LLCPWT divided by the number of pooled years with respondents "
                           "from the same state"}[pool]
    prov = OrderedDict(survey="brfss", wave=" + ".join(waves), pooled=[p.provenance for p in parts],
                       pool=pool, pool_rule=rule, rows_kept=len(data),
                       rows_read=sum(p.provenance["rows_read"] for p in parts),
                       missing_codes={w: p.provenance["missing_codes"] for w, p in zip(waves, parts)},
                       not_asked={w: p.provenance["not_asked"] for w, p in zip(waves, parts)},
                       loader="brfss", loader_version=LOADER_VERSION)
    spec = dict(parts[0].design_spec)
    spec["notes"] = spec.get("notes", "") + f" Pooled years {waves}: {rule}."
    return SurveyData("brfss", data, codebook, dict(prov), spec)
