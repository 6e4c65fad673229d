"""The shared load pipeline: cache look-up, column-selective read, row selection, harmonising,
provenance, cache write. Survey modules (``gss.py``, ``ess.py``) only describe their survey
through a :class:`Plan`.
"""
from __future__ import annotations

import io
import json
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth.errors import (CacheError, CacheWarning, DesignFallbackWarning,  # noqa: F401
                                 MissingColumnError, SocialHealthWarning, SurveyFileError)
from socialhealth.datasets import _cache
from socialhealth.datasets._codebook import (codebook_frame, codebook_hash, harmonise, population,
                                             sources_needed)
from socialhealth.datasets._readers import RawTable, Source, open_source
from socialhealth.datasets._schema import typed
from socialhealth.datasets._surveydata import SurveyData

ENGINE_VERSION = 3   # (code changes also change _code_hash, in every key)
#                      2: age bands from the survey's own minimum age; provenance population
#                      3: provenance single_psu_strata (strata with one PSU and the rule used)


@dataclass
class Plan:
    """What a survey module tells the engine about one load.

    ``read``: source variables needed besides the codebook's (design, filters, ids).
    ``select(raw) -> (mask, {reason: n})``: rows to keep; every dropped row needs a reason.
    ``design(df) -> {column: values}`` for respondent_id, wave, year, weight, strata, psu
    (computed on the kept rows of the source table).
    ``warnings``: design fallbacks (a :class:`DesignFallbackWarning` each); ``data_warnings``:
    checks of the file that failed (a :class:`SocialHealthWarning` each), which ``select``,
    ``design`` and the custom rules may append to while the file is read. Both are kept in the
    provenance and issued on every load, from the file or from the cache.
    """

    codebook_name: str
    codebook: dict
    fmt: dict
    wave: object
    read: list[str]
    select: Callable[[pd.DataFrame], tuple[np.ndarray, dict]]
    design: Callable[[pd.DataFrame], dict]
    design_spec: dict
    country: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_warnings: list[str] = field(default_factory=list)
    custom_rules: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    extra_provenance: dict = field(default_factory=dict)
    declared_missing: dict = field(default_factory=dict)   # {var: [codes]} for files without
    #                                                        their own missing-value metadata (CSV)
    population_key: object = None   # key of the codebook's [population.waves] (default: wave)
    extras: Callable | None = None   # kept rows -> (frame, codebook rows, unmapped): non-schema
    #                                  columns placed after the schema columns, cached with them


def run(name: str, path, options: dict, prepare: Callable[[Source], Plan], *,
        loader_version: int, columns=None, cache: bool = True, extra_key=(),
        codebook_name: str | None = None) -> SurveyData:
    """Load ``path`` for survey ``name`` through ``prepare`` (see :class:`Plan`), with caching.

    The cache key holds the file's sha256, ``loader_version``, the engine version, the hash of
    the harmonisation code and declarative files (:func:`_code_hash`), the codebook's hash, the
    options and the requested columns: editing a codebook or a rule invalidates cached tables.
    """
    t0 = time.perf_counter()
    extra_key = (*extra_key, codebook_hash(codebook_name) if codebook_name else "")
    p = Path(path).expanduser()
    user_cols = list(dict.fromkeys(columns or []))
    if cache and p.is_file() and p.stat().st_size > 0:
        sha = _cache.cached_sha256(p)
        if sha is not None:
            hit = _try_cache(name, sha, options, user_cols, loader_version, extra_key)
            if hit is not None:
                return hit
    src = open_source(p)
    try:
        return _run_opened(name, p, src, options, prepare, loader_version, user_cols, cache,
                           extra_key, t0)
    except BaseException:
        if not src.sha_ready:  # let the background hash finish: no half-written index file
            try:
                _ = src.sha256
            except Exception:  # noqa: BLE001 - the original error matters, not this one
                pass
        raise


def _run_opened(name, p, src, options, prepare, loader_version, user_cols, cache, extra_key,
                t0) -> SurveyData:
    deferred = not src.sha_ready  # hashed in a background thread while we read
    if cache and not deferred:
        hit = _try_cache(name, src.sha256, options, user_cols, loader_version, extra_key)
        if hit is not None:
            return hit
    plan = prepare(src)
    available = set(src.columns)
    need, absent = sources_needed(plan.codebook, plan.fmt, plan.wave, available)
    if absent:
        raise SurveyFileError(
            f"{p} lacks variables the {name} codebook needs: {absent}. Is this the {name} file "
            f"(wave {plan.wave})? Pass the survey's own file as distributed.")
    missing_user = [c for c in user_cols if c not in available]
    if missing_user:
        raise MissingColumnError(missing_user, available=sorted(available), where=str(p))
    to_read = list(dict.fromkeys([*plan.read, *need, *user_cols]))
    raw: RawTable = src.read(to_read)
    if src.kind == "csv" and plan.declared_missing:
        _apply_declared_missing(raw, plan.declared_missing)
    df = raw.data
    mask, reasons = plan.select(df)
    mask = np.asarray(mask, dtype=bool)
    kept = df.loc[mask].reset_index(drop=True)
    n = len(kept)
    if n == 0 and int(raw.n_rows) > 0:   # an empty table would only fail later, less clearly
        why = "; ".join(f"{k}: {int(v)}" for k, v in reasons.items() if v) or "no reason given"
        wv = plan.extra_provenance.get("weight_variable")
        raise SurveyFileError(
            f"{p}: none of its {int(raw.n_rows)} rows can be used for {name}"
            f"{'' if plan.wave is None else f' wave {plan.wave}'} ({why}). Check that this is "
            f"the right file and wave"
            + (f", and that the weight {wv} is filled in it (pass weight= to use another "
               f"weight variable)" if wv else "") + ".")
    des = plan.design(kept)
    vl = raw.value_labels
    countries = sorted({str(c) for c in set(des.get("country") or [plan.country])
                        if c is not None and not pd.isna(c) and str(c)})
    pop = population(plan.codebook, plan.wave if plan.population_key is None
                     else plan.population_key, ", ".join(countries))
    frame, rows, unmapped = harmonise(kept, plan.codebook, plan.fmt, plan.wave, vl,
                                      plan.custom_rules, {**plan.context, "raw": kept},
                                      min_age=pop["min_age"])
    out = {
        "respondent_id": typed("respondent_id", des["respondent_id"], n),
        "survey": typed("survey", [name] * n, n),
        "wave": typed("wave", des["wave"], n),
        "year": typed("year", des["year"], n),
        "country": typed("country", des.get("country", [plan.country] * n), n),
        "weight": typed("weight", des["weight"], n),
        "strata": typed("strata", des.get("strata"), n),
        "psu": typed("psu", des.get("psu"), n),
    }
    extra_cols: list[str] = []
    if plan.extras is not None:
        ef, erows, eunm = plan.extras(kept)
        ef = ef.reset_index(drop=True)
        frame = pd.concat([frame.reset_index(drop=True), ef], axis=1)
        rows = [*rows, *erows]
        unmapped = {**unmapped, **eunm}
        extra_cols = list(ef.columns)
    data = pd.concat([pd.DataFrame(out), frame], axis=1)
    renamed = {}
    for c in user_cols:
        target = c if c not in data.columns else f"{c}_source"
        if target != c:
            renamed[c] = target
        data[target] = kept[c].to_numpy() if kept[c].dtype != "string" else kept[c].array
    rows_read = int(raw.n_rows)
    dropped = {k: int(v) for k, v in reasons.items() if v}
    if rows_read != n + sum(dropped.values()):
        dropped["other (loader accounting error; please report)"] = (
            rows_read - n - sum(dropped.values()))
    spec_notes = plan.design_spec.get("notes", "")
    has_sp = des.get("psu") is not None
    design_rows = [
        {"concept": "weight",
         "source_variables": str(plan.extra_provenance.get("weight_variable", "")),
         "rule": "the survey's recommended analysis weight", "labels": "",
         "notes": spec_notes, "measured": True},
        {"concept": "strata", "source_variables": "", "rule": "design strata" if has_sp
         else "not measured",
         "labels": "", "notes": spec_notes if has_sp else " ".join(plan.notes) or spec_notes,
         "measured": has_sp},
        {"concept": "psu", "source_variables": "", "rule": "primary sampling units" if has_sp
         else "not measured",
         "labels": "", "notes": spec_notes if has_sp else " ".join(plan.notes) or spec_notes,
         "measured": has_sp},
    ]
    cb = codebook_frame(design_rows + rows)
    prov = OrderedDict(
        survey=name, wave=None if plan.wave is None else str(plan.wave),
        file=str(p), member=src.member, sha256=src.sha256, reader=raw.reader,
        columns_read=to_read, rows_read=rows_read, rows_kept=n, rows_dropped=dropped,
        missing_codes=raw.missing, unmapped_codes=unmapped, renamed_columns=renamed,
        design=plan.design_spec.get("notes", ""), notes=plan.notes, warnings=plan.warnings,
        data_warnings=list(plan.data_warnings),
        loader=name, loader_version=loader_version, engine_version=ENGINE_VERSION,
        codebook=f"codebooks/{plan.codebook_name}.toml#{codebook_hash(plan.codebook_name)}",
        options={k: _jsonable(v) for k, v in options.items()},
        population={**pop, "declared_in": f"codebooks/{plan.codebook_name}.toml [population]"},
        **({"extra_columns": extra_cols} if extra_cols else {}),
        **plan.extra_provenance,
    )
    spec = {k: v for k, v in plan.design_spec.items()}
    lonely = single_psu_strata(data, spec)
    if lonely is not None:
        prov["single_psu_strata"] = lonely
        if lonely["count"]:
            prov["notes"] = [*prov["notes"], lonely["note"]]
            for row in cb.index[cb["concept"].isin(["strata", "psu"])]:
                cb.loc[row, "notes"] = f"{cb.loc[row, 'notes']} {lonely['note']}".strip()
    prov["seconds"] = round(time.perf_counter() - t0, 4)  # sha256 joined above (provenance)
    if cache and deferred:  # the file was hashed meanwhile: maybe it was cached after all
        hit = _try_cache(name, src.sha256, options, user_cols, loader_version, extra_key)
        if hit is not None:
            return hit
    _issue_warnings(prov)
    sd = SurveyData(name, data, cb, dict(prov), spec)
    if cache:
        sd.provenance["cache"] = "miss"
        _write_cache(sd, name, src.sha256, options, user_cols, loader_version, extra_key)
    else:
        sd.provenance["cache"] = "off"
    return sd


LONELY_PSU_RULES = {
    "adjust": "its PSU total is centred at the mean over all PSUs instead of its stratum's "
              "mean; in R, options(survey.lonely.psu = \"adjust\")",
    "average": "it gets the average variance of the other strata (R survey.lonely.psu = "
               "\"average\")",
    "remove": "it adds nothing to the variance (R survey.lonely.psu = \"remove\")",
    "certainty": "it is treated as sampled with certainty and adds nothing (R "
                 "survey.lonely.psu = \"certainty\")",
    "fail": "the variance is an error (R's default survey.lonely.psu = \"fail\")",
}


def single_psu_strata(data: pd.DataFrame, spec: dict) -> dict | None:
    """Strata with a single PSU among the rows with a positive weight, and the rule the design
    applies to them (``spec["lonely_psu"]``); None for a design without strata and PSUs.

    Returns ``{"count", "strata", "lonely_psu", "note"}``; the note says how many strata have
    one PSU, what the rule does to them and how to choose another.
    """
    s, c, w = (v[0] if isinstance(v, (list, tuple)) and v else v    # first stage
               for v in (spec.get("strata"), spec.get("psu"), spec.get("weights")))
    if not isinstance(s, str) or not isinstance(c, str) or not isinstance(w, (str, type(None))):
        return None
    if not s or not c or s not in data.columns or c not in data.columns:
        return None
    rows = data[[s, c]]
    if w and w in data.columns:
        rows = rows[pd.to_numeric(data[w], errors="coerce").to_numpy(dtype=float) > 0]
    rows = rows.dropna()
    per = rows.groupby(rows[s].astype(str), observed=True)[c].nunique()
    k, m = int((per == 1).sum()), int(len(per))
    rule = str(spec.get("lonely_psu", "fail"))
    if k == 0:
        note = f"All {m} strata have two or more PSUs."
    else:
        note = (f"{k} of {m} strata have a single PSU in this file (among the rows with a "
                f"positive weight); with lonely_psu={rule!r} such a stratum's variance term is "
                f"not zero: {LONELY_PSU_RULES.get(rule, rule)}. Another rule: "
                f"sh.SurveyDesign(sd.data, weights='weight', strata='strata', psu='psu', "
                f"nest=True, lonely_psu='average'|'remove'|'certainty'|'fail').")
    return {"count": k, "strata": m, "lonely_psu": rule, "note": note}


def set_missing(raw, column: str, x: np.ndarray, hit: np.ndarray) -> None:
    """Set ``column`` missing where ``hit`` and count each code in ``raw.missing[column]``
    (codes as strings: "-8", "7", "99.5")."""
    if not hit.any():
        return
    counts = raw.missing.setdefault(column, {})
    for code, k in zip(*np.unique(x[hit], return_counts=True), strict=True):
        key = str(int(code)) if float(code).is_integer() else str(code)
        counts[key] = counts.get(key, 0) + int(k)
    raw.data[column] = np.where(hit, np.nan, x)


def _apply_declared_missing(raw: RawTable, declared: dict) -> None:
    """Set the codebook's missing codes to NaN (counting them) in files that carry no
    missing-value metadata of their own (CSV downloads)."""
    for var, codes in declared.items():
        if var not in raw.data.columns or not pd.api.types.is_numeric_dtype(raw.data[var]):
            continue
        x = raw.data[var].to_numpy(dtype=float)
        set_missing(raw, var, x, np.isin(x, np.asarray(codes, dtype=float)))


@lru_cache(maxsize=1)
def _code_hash() -> str:
    """sha256 (16 hex digits) of the code and declarative files that shape a harmonised table:
    every ``.py`` and ``.toml`` file of :mod:`socialhealth.datasets` (loaders, codebook engine,
    codebooks, ``schema.toml``) and :mod:`socialhealth.measures.harmonised` (the UCLA-3 rule).

    It is part of every cache key, so a fixed harmonisation rule reaches users with a warm
    cache instead of the table cached before the fix (a version number bumped by hand was
    forgotten twice). Computed once per process (about 1 ms).
    """
    import hashlib

    here = Path(__file__).resolve().parent
    files = sorted(f for f in here.rglob("*") if f.suffix in (".py", ".toml") and f.is_file())
    files.append(here.parent / "measures" / "harmonised.py")
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(here.parent)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def _key(name, sha, options, user_cols, loader_version, extra_key):
    opts = json.dumps({k: _jsonable(v) for k, v in sorted(options.items())}, sort_keys=True)
    return _cache.cache_key(sha, name, loader_version, ENGINE_VERSION, _code_hash(), opts,
                            user_cols, *extra_key)


def _try_cache(name, sha, options, user_cols, loader_version, extra_key) -> SurveyData | None:
    try:
        path = _cache.table_path(_key(name, sha, options, user_cols, loader_version, extra_key))
    except CacheError:  # no cache folder: said once, when the table cannot be written
        return None

    def build(data, meta):
        missing = [c for c in _FIXED if c not in data.columns]
        if missing:
            raise ValueError(f"it lacks the schema columns {missing}")
        for c, ordered in meta.get("empty_categoricals", {}).items():
            data[c] = pd.Categorical([None] * len(data), categories=[], ordered=ordered)
        cb = pd.DataFrame(meta["codebook"], columns=meta["codebook_columns"])
        prov = meta["provenance"]
        prov["cache"] = "hit"
        return SurveyData(name, data, cb, prov, meta["design_spec"])

    sd = _cache.read_table(path, build)
    if sd is not None:
        _issue_warnings(sd.provenance)
    return sd


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _issue_warnings(prov) -> None:
    """Issue the load's warnings kept in its provenance: the same on a load from the file and
    on a load from the cache, each attributed to the line of the user's code that asked for
    the load (the first caller outside socialhealth).

    Each is issued with a registry of its own (:func:`warnings.warn_explicit`), so that the
    default filter, which shows a warning once per code location, does not hide it when the
    same line loads the file again (a notebook cell run again): every load says it.
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    for category, key in ((DesignFallbackWarning, "warnings"),
                          (SocialHealthWarning, "data_warnings")):
        for w in prov.get(key, []) or []:
            warnings.warn_explicit(str(w), category, filename, lineno, registry={})


_FIXED = ("respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu")


def _write_cache(sd: SurveyData, name, sha, options, user_cols, loader_version, extra_key) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"columns": [str(c) for c in sd.data.columns],
            "codebook": sd.codebook.to_dict(orient="records"),
            "codebook_columns": list(sd.codebook.columns),
            "provenance": {k: v for k, v in sd.provenance.items() if k != "cache"},
            "design_spec": sd.design_spec,
            "empty_categoricals": {c: bool(sd.data[c].cat.ordered) for c in sd.data.columns
                                   if isinstance(sd.data[c].dtype, pd.CategoricalDtype)
                                   and len(sd.data[c].cat.categories) == 0}}
    table = pa.Table.from_pandas(sd.data, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[b"socialhealth"] = json.dumps(meta, default=_jsonable).encode()
    table = table.replace_schema_metadata(md)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    try:
        path = _cache.table_path(_key(name, sha, options, user_cols, loader_version, extra_key))
        _cache.atomic_write_bytes(path, sink.getvalue())
    except CacheError as e:  # no cache folder: loading goes on without the cache
        warnings.warn(f"{e} This load was not cached.", CacheWarning, stacklevel=user_stacklevel())
    except OSError as e:  # a read-only cache must not break loading
        warnings.warn(f"could not write the cache file {path}: {e}. The load itself is complete. "
                      f"{_cache.WAY_OUT}", CacheWarning, stacklevel=user_stacklevel())
