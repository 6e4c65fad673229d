"""Behavioral Risk Factor Surveillance System (CDC) loader: the LLCP annual file, 2016-2024.

Reads CDC's SAS transport file (``LLCP2023.XPT``) or the ``LLCP2023XPT.zip`` holding it, one or
several years; several files of one year (state extracts) are stacked. Codebook:
``codebooks/brfss.toml`` (CDC LLCP codebooks 2022/2023; 2016 names checked on real 2016 rows;
2024 names from codebook values quoted in public notes; 2017-2021 names marked [U] there).

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

The loader steps it shares with the other US/UK loaders live in ``_loader_steps``.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show_list
from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, codes_text, load_codebook
from socialhealth.datasets._readers import Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import (_code_meanings, _compute_extras, _declared_missing,
                                                 _extra_sources, _run_with_extras, _wrap_missing)
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1


# ================================================================== BRFSS
def _bmi_hundredths(df, spec, fmt, context):
    src = spec["sources"][0]
    if src not in df.columns:
        return [None] * len(df), f"{src} not in this file"
    x = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype=float) / 100.0
    return x, f"{src} / 100"


def _any_of(df, spec, fmt, context):
    """True if any source has a ``true`` code; False if every source has a ``false`` code;
    missing otherwise (CDC's _MICHD rule for CVDCRHD4 / CVDINFR4)."""
    srcs = [s.format(**fmt) for s in spec["sources"]]
    absent = [s for s in srcs if s not in df.columns]
    if absent:
        return [None] * len(df), f"{absent} not in this file"
    x = np.column_stack([pd.to_numeric(df[s], errors="coerce").to_numpy(dtype=float) for s in srcs])
    t = np.isin(x, np.asarray(spec["true"], dtype=float))
    f = np.isin(x, np.asarray(spec["false"], dtype=float))
    any_t, all_f = t.any(axis=1), f.all(axis=1)
    # numpy's stubs do not take None as a fill value; at run time it gives an object array
    out = np.where(any_t, True, np.where(all_f, False, None))  # type: ignore[call-overload]
    return out.tolist(), (f"yes if any of {', '.join(srcs)} is {codes_text(spec['true'])}; "
                          f"no if all are {codes_text(spec['false'])}; otherwise missing")


CUSTOM_RULES = {"bmi_hundredths": _bmi_hundredths, "any_of": _any_of}


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


def load_brfss(path, *, wave: int | None = None,
               pool: Literal["equal", "sample_size", "state_years"] = "equal",
               columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one or several BRFSS LLCP annual files (2016-2024) in the harmonised schema.

    Parameters
    ----------
    path : str, path-like, or list of them
        ``LLCP2023.XPT`` or CDC's ``LLCP2023XPT.zip`` (read directly). A list of files: files of
        the same survey year (e.g. state extracts of the LLCP file) are stacked, rows appended
        with their own ``_LLCPWT``/``_STSTR``/``_PSU`` (row and missing-code accounting per file
        in ``provenance["files"]``, summed at the top; a respondent in two files raises
        :class:`~socialhealth.errors.DatasetError`); different survey years are then pooled:
        see ``pool``.
    wave : int, optional
        The survey year the file (every file, for a list) must hold, checked against ``_PSU``
        (whose first four digits are the survey year); None accepts the file's year. Years
        outside 2016-2024 raise :class:`~socialhealth.errors.UnknownWaveError`.
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
        ``respondent_id`` is ``"<year>-<_STATE>-<_PSU>"`` (``_PSU`` is unique within a state
        and year only). Harmonised columns, then the extra columns ``isolated_feeling``,
        ``feels_isolated``, ``lonely_cdc``, ``emotional_support``, ``life_satisfaction``,
        ``mental_health_days`` (see the codebook), then requested source columns. Design
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")``; strata are ``"<year>-<_STSTR>"``. In R:
        ``svydesign(ids=~`_PSU`, strata=~`_STSTR`, weights=~`_LLCPWT`, nest=TRUE)`` with
        ``options(survey.lonely.psu="adjust")``.

    Raises
    ------
    UnknownWaveError, SurveyFileError, DatasetError

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("brfss")["access"]         # an open download (datasets.fetch)
    'open'
    >>> sd = datasets.load("brfss", path="LLCP2023XPT.zip")   # needs the CDC file  # doctest: +SKIP

    ``sd.design.proportion("lonely", by="age_group")`` then gives the prevalence by age; several
    years load together with ``datasets.load("brfss", path=["LLCP2022.XPT", "LLCP2023.XPT"])``.
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
        if not path:
            raise DatasetError("path=[] names no file; pass one LLCP file or a list of them.")
        parts = [load_brfss(p, wave=wave, columns=columns, cache=cache) for p in path]
        by_year: OrderedDict = OrderedDict()
        for p in parts:
            by_year.setdefault(p.provenance["wave"], []).append(p)
        years_ = [g[0] if len(g) == 1 else _stack(g) for g in by_year.values()]
        return _name_the_states(years_[0] if len(years_) == 1 else _pool(years_, pool), cb,
                                several_files=len(parts) > 1)
    d = cb["design"]
    miss = _declared_missing(cb)
    state: dict = {}

    def prepare(src: Source) -> _engine.Plan:
        require_columns(src, [d["weight"], d["strata"], d["psu"], d["state"]], "BRFSS LLCP")
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
        read = [d["weight"], d["strata"], d["psu"], d["state"], *extra_src] + ([yv] if yv else [])

        def select(df):
            found = _psu_years(df, d["psu"])
            if found != [year]:
                raise SurveyFileError(
                    f"{src.path}: _PSU says survey year(s) {show_list(found, limit=5)}, "
                    f"expected {year}"
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
                iy = pd.to_numeric(pd.Series(df[yv].astype(object)),
                                   errors="coerce").to_numpy(dtype=float)
                iy = np.where(np.isnan(iy), float(year), iy)
            state["extras"] = _compute_extras(df, cb)
            # _PSU (= SEQNO) is unique within a state and year only: the id carries _STATE
            ids = [f"{year}-{st}-{p}"
                   for st, p in zip(code_strings(df[d["state"]]), code_strings(df[d["psu"]]),
                                    strict=True)]
            return {"respondent_id": ids,
                    "wave": [str(year)] * n, "year": iy,
                    "weight": df[d["weight"]].to_numpy(dtype=float),
                    "strata": [f"{year}-{s}" for s in code_strings(df[d["strata"]])],
                    "psu": code_strings(df[d["psu"]])}

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
    return _name_the_states(sd, cb)


TERRITORIES = {"GU", "PR", "VI"}


def _name_the_states(sd: SurveyData, cb: dict, several_files: bool = False) -> SurveyData:
    """A file of some states only (a state extract, or several stacked) describes the adults
    of those states: the population says "in Tennessee" instead of "in the United States".
    A national file (every state) keeps the codebook's words."""
    pop = sd.provenance.get("population")
    if not isinstance(pop, dict) or "region" not in sd.data.columns:
        return sd
    # (stacked files carry the first part's population: start again from the national words)
    desc = str(pop.get("national_description") or pop.get("description") or "")
    names = cb.get("state_names", {})
    states = sorted(str(x) for x in sd.data["region"].dropna().unique())
    if "in the United States" not in desc or not states or len(states) >= 50 \
            or any(x not in names for x in states):
        return sd
    full = [names[x] for x in states]
    where = full[0] if len(full) == 1 else ", ".join(full[:-1]) + " and " + full[-1]
    kind = ("state" if len(states) == 1 else "states") if not set(states) & TERRITORIES else (
        "territory" if len(states) == 1 else "states and territories")
    where_from = "the files" if several_files else "the file"
    what = (f"the only {kind} in {where_from}" if len(full) == 1
            else f"the {len(full)} {kind} in {where_from}")
    sd.provenance["population"] = {
        **pop, "description": desc.replace("in the United States", f"in {where}", 1)
        + f"; {what}", "national_description": desc, "states": states}
    return sd


def _not_asked(sd: SurveyData) -> None:
    """provenance["not_asked"]: blanks (SAS '.') per variable, separately from 7/9 codes."""
    sd.provenance["not_asked"] = {v: int(c["."]) for v, c in sd.provenance["missing_codes"].items()
                                  if "." in c}


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-bind loaded tables; categorical columns get the union of their categories (in
    first-seen order; a file where the concept is not measured has none)."""
    frames = [f.copy() for f in frames]
    cats: dict = {}
    for f in frames:
        for c in f.columns:
            if isinstance(f[c].dtype, pd.CategoricalDtype):
                lv, ordered = cats.get(c, ([], bool(f[c].cat.ordered)))
                cats[c] = (lv + [x for x in f[c].cat.categories if x not in lv], ordered)
    for f in frames:
        for c, (lv, ordered) in cats.items():
            if c in f.columns:
                f[c] = pd.Categorical(f[c].astype(object).where(f[c].notna(), None),
                                      categories=lv, ordered=ordered)
    return pd.concat(frames, ignore_index=True)


def _add_counts(total: dict, counts: dict) -> None:
    """``total[var][code] += counts[var][code]`` (missing-code and unmapped-code tables)."""
    for var, per in counts.items():
        t = total.setdefault(var, {})
        for code, k in per.items():
            t[code] = t.get(code, 0) + int(k)


def _carried(parts: list[SurveyData]) -> dict:
    """Provenance every part shares (the population, from one codebook and one ``min_age``)
    or that is the union of the parts' (loader notes and warnings, each once, in order), for
    a stacked or pooled load: without it ``describe`` and the report lost the population and
    the notes of several files."""
    def union(key: str) -> list:
        return list(dict.fromkeys(str(x) for p in parts for x in p.provenance.get(key) or []))

    return {"population": parts[0].provenance.get("population"), "notes": union("notes"),
            "warnings": union("warnings"), "data_warnings": union("data_warnings")}


def _stack(parts: list[SurveyData]) -> SurveyData:
    """Several files of ONE survey year (e.g. state extracts of the LLCP file) as one table.

    Rows are appended; weights, strata and PSUs are those of each file (the files are parts of
    one annual sample, so no rescaling: the stacked design is R's ``svydesign`` on the stacked
    rows, ``nest=TRUE``). A respondent (same ``_STATE`` and ``_PSU``) in two files is an error.
    Row and missing-code accounting is kept per file (``provenance["files"]``) and summed.
    """
    wave = parts[0].provenance["wave"]
    files = [str(p.provenance.get("file", "")) for p in parts]
    data = _concat([p.data for p in parts])
    origin = np.repeat(np.arange(len(parts)), [len(p.data) for p in parts])
    dup = data["respondent_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        where = sorted({files[i] for i in origin[dup]})
        raise DatasetError(
            f"BRFSS {wave}: {int(dup.sum())} rows share a respondent (same _STATE and _PSU) across "
            f"the files {where}; pass each state's rows once (not, e.g., CDC's national file "
            f"together with a state extract of it).")
    # codebook: a concept is measured if it is measured in any file; notes say where it is not
    rows = []
    cbs = [p.codebook for p in parts]
    for _, first in cbs[0].iterrows():
        concept = first["concept"]
        got = [cb[cb["concept"] == concept] for cb in cbs]
        meas = [bool(g["measured"].iloc[0]) if len(g) else False for g in got]
        src = next((g.iloc[0] for g, m in zip(got, meas, strict=True) if m), first)
        row = {k: src[k] for k in cbs[0].columns}
        row["measured"] = any(meas)
        if any(meas) and not all(meas):
            row["notes"] = (f"[measured in {[f for f, m in zip(files, meas, strict=True) if m]}; "
                            f"not measured in "
                            f"{[f for f, m in zip(files, meas, strict=True) if not m]}] "
                            + str(row["notes"]))
        rows.append(row)
    codebook = pd.DataFrame(rows, columns=cbs[0].columns)
    per_file: list[OrderedDict] = []
    dropped: dict[str, int] = {}
    not_asked: dict[str, int] = {}
    missing: dict[str, dict] = {}
    unmapped: dict[str, dict] = {}
    for p in parts:
        pv = p.provenance
        per_file.append(OrderedDict(
            file=pv.get("file"), member=pv.get("member"), sha256=pv.get("sha256"),
            rows_read=pv["rows_read"], rows_kept=pv["rows_kept"],
            rows_dropped=dict(pv.get("rows_dropped", {})), missing_codes=pv["missing_codes"],
            not_asked=pv.get("not_asked", {}), unmapped_codes=pv.get("unmapped_codes", {}),
            cache=pv.get("cache")))
        for k, v in pv.get("rows_dropped", {}).items():
            dropped[k] = dropped.get(k, 0) + int(v)
        _add_counts(missing, pv["missing_codes"])
        _add_counts(unmapped, pv.get("unmapped_codes", {}))
        for k, v in pv.get("not_asked", {}).items():
            not_asked[k] = not_asked.get(k, 0) + int(v)
    caches = {f["cache"] for f in per_file}
    p0 = parts[0].provenance
    prov = OrderedDict(
        survey="brfss", wave=wave,
        stacked=(f"{len(parts)} files of survey year {wave} stacked: rows appended, each file's "
                 f"_LLCPWT, _STSTR and _PSU unchanged (parts of one annual sample)"),
        files=per_file, rows_read=sum(f["rows_read"] for f in per_file), rows_kept=len(data),
        rows_dropped=dropped, missing_codes=missing, not_asked=not_asked, unmapped_codes=unmapped,
        renamed_columns=p0.get("renamed_columns", {}), design=p0.get("design", ""),
        weight_variable=p0.get("weight_variable"),
        missing_code_meanings=p0.get("missing_code_meanings", {}),
        extra_columns=p0.get("extra_columns", []), loader="brfss", loader_version=LOADER_VERSION,
        cache=caches.pop() if len(caches) == 1 else "mixed", **_carried(parts))
    return SurveyData("brfss", data, codebook, dict(prov), dict(parts[0].design_spec))


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
            f: float | np.ndarray = 1.0 / np.array([state_years[x] for x in st], dtype=float)
        else:
            f = 1.0 / k if pool == "equal" else len(df) / n_tot
        df["weight"] = df["weight"].to_numpy(dtype=float) * f
        frames.append(df)
    data = _concat(frames)
    # codebook: per concept, measured in any year; notes name the years (a note that is the
    # same in several years is given once, with those years)
    cbs = []
    for p in parts:
        c = p.codebook.copy()
        c["year_"] = str(p.provenance["wave"])
        cbs.append(c)
    allcb = pd.concat(cbs, ignore_index=True)
    rows = []
    for concept, g in allcb.groupby("concept", sort=False):
        by_note: OrderedDict = OrderedDict()
        for note, yr in zip(g["notes"].astype(str), g["year_"], strict=True):
            by_note.setdefault(note, []).append(yr)
        notes = " ".join(f"[{', '.join(yrs)}] {note}" for note, yrs in by_note.items())
        rows.append({"concept": concept,
                     "source_variables": " | ".join(dict.fromkeys(g["source_variables"])),
                     "rule": " | ".join(dict.fromkeys(g["rule"])), "labels": g["labels"].iloc[0],
                     "notes": notes, "measured": bool(g["measured"].any())})
    codebook = pd.DataFrame(rows, columns=parts[0].codebook.columns)
    rule = {"equal": f"each year's _LLCPWT divided by the number of years pooled ({k})",
            "sample_size": "each year's _LLCPWT times n_year / n_total",
            "state_years": "each _LLCPWT divided by the number of pooled years with respondents "
                           "from the same state"}[pool]
    prov = OrderedDict(survey="brfss", wave=" + ".join(waves), pooled=[p.provenance for p in parts],
                       pool=pool, pool_rule=rule, rows_kept=len(data),
                       rows_read=sum(p.provenance["rows_read"] for p in parts),
                       missing_codes={w: p.provenance["missing_codes"] for w,
                                      p in zip(waves, parts, strict=True)},
                       not_asked={w: p.provenance["not_asked"] for w,
                                  p in zip(waves, parts, strict=True)},
                       loader="brfss", loader_version=LOADER_VERSION, **_carried(parts))
    spec = dict(parts[0].design_spec)
    spec["notes"] = spec.get("notes", "") + f" Pooled years {waves}: {rule}."
    return SurveyData("brfss", data, codebook, dict(prov), spec)
