"""Health and Retirement Study loader: one wave of the RAND HRS Longitudinal File.

Registration data: the RAND HRS file is free but needs an HRS account (conditions of use, no
redistribution): register at https://hrs.isr.umich.edu (data portal
https://hrsdata.isr.umich.edu), download ``randhrs1992_2022v1_STATA.zip`` and pass
``path="randhrs1992_2022v1.dta"``. Codebook: ``codebooks/hrs.toml``.

* Respondents of the wave (``R{w}IWSTAT`` = 1) with a positive weight are kept; others are
  counted in ``provenance["rows_dropped"]``.
* Loneliness: ``R{w}LBLONELY3`` (leave-behind, waves 8+; RAND construction [U]); its
  direction is checked against the CES-D item ``R{w}FLONE`` when the file has it
  (``provenance["lonely3_direction_check"]``, a warning if they correlate negatively).
* Mortality: ``died`` / ``followup_years`` from later waves' ``R{v}IWSTAT`` (5 died this wave,
  6 died in a previous wave) and ``RADYEAR``.
* Design: ``RAESTRAT`` strata, ``RAEHSAMP`` SECU, ``nest=True``; in R::

      svydesign(ids = ~raehsamp, strata = ~raestrat, weights = ~r8wtresp, nest = TRUE,
                data = subset(rand, r8iwstat == 1 & r8wtresp > 0))
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth.errors import DatasetError, SocialHealthWarning, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import (_licensed, _resolve_variables, _unusable_weight,
                                                 _with_not_measured)
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1

_WHERE = ("register (free) for an HRS data account at https://hrs.isr.umich.edu (data portal "
          "https://hrsdata.isr.umich.edu), accept the conditions of use and download the RAND "
          "HRS Longitudinal File (Stata version)")


# Fewest rows with both R{w}LBLONELY3 and R{w}FLONE for the direction check to be run.
_DIRECTION_MIN_N = 30


def _data_warning(context, msg: str) -> None:
    """Hand a failed check's warning to the load plan (``context["data_warnings"]``), which
    issues it on every load, from the file or from the cache; warn at once without a plan."""
    out = context.get("data_warnings")
    if out is None:
        warnings.warn(msg, SocialHealthWarning, stacklevel=user_stacklevel())
    else:
        out.append(msg)


def _direction_check(x, ok, context, src):
    """Check that R{w}LBLONELY3 runs the assumed way (higher = lonelier) against R{w}FLONE.

    RAND's construction of LBLONELY3 could not be verified from its documentation (hrs.toml):
    if the three leave-behind items (raw 1 = often ... 3 = hardly ever) were averaged without
    reversing them, higher would mean LESS lonely and ``lonely`` would be inverted. The CES-D
    item R{w}FLONE (felt lonely much of the past week, 0 no / 1 yes) is in every RAND release,
    so a negative correlation between the two is a strong sign of a reversed scale: the result
    is recorded in ``provenance["lonely3_direction_check"]`` and a negative correlation raises
    a SocialHealthWarning (also kept in ``provenance["notes"]``), issued again on every load
    from the cache.
    """
    out = context.get("direction_check")
    flone = context.get("flone")
    if out is None or flone is None:
        return
    f = flone()
    name = context.get("flone_name", "R{w}FLONE")
    if f is None:
        out.update(checked=False, reason=f"{name} is not in the file")
        return
    both = ok & np.isin(f, [0.0, 1.0])
    n = int(both.sum())
    out.update(against=name, n=n)
    if n < _DIRECTION_MIN_N or np.ptp(x[both]) == 0 or np.ptp(f[both]) == 0:
        out.update(checked=False, reason=f"fewer than {_DIRECTION_MIN_N} rows with both "
                   f"{src} and {name}, or no variation in one of them")
        return
    r = float(np.corrcoef(x[both], f[both])[0, 1])
    out.update(checked=True, correlation=round(r, 4), consistent=bool(r >= 0))
    if r < 0:
        msg = (f"{src} correlates NEGATIVELY with the CES-D item {name} (felt lonely; r = "
               f"{r:.3f}, n = {n}): in this file the scale seems to run the other way (higher = "
               f"LESS lonely), so 'lonely' ({src} >= 2) would be inverted. Check the RAND "
               f"codebook of your release for how LBLONELY3 is scored before using 'lonely'.")
        context["notes"].append(msg)
        _data_warning(context, msg)


def _lonely3(df, spec, fmt, context):
    src = spec["sources"][0].format(**fmt)
    x = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype=float)
    ok = (x >= 1) & (x <= 3)
    _direction_check(x, ok, {**context, "flone": (lambda: context["flone"](df))
                             if "flone" in context else None}, src)
    return [bool(v >= 2) if o else None for v,
            o in zip(x, ok, strict=True)], (f"True if {src} >= 2 (scale 1-3, higher = lonelier "
                                            f"[U: RAND construction; direction checked against "
                                            f"the CES-D item R{{w}}FLONE when present])")


def _later(context, df):
    """(statuses, interview years, nominal years) of the later waves, row-aligned with df."""
    return context["later"](df)


def _died(df, spec, fmt, context):
    st, _, _ = _later(context, df)
    died_codes, alive_codes = context["status"]["died"], context["status"]["alive"]
    out: list[bool | None] = []
    for row in st:
        if any(s in died_codes for s in row):
            out.append(True)
        elif any(s in alive_codes for s in row):
            out.append(False)
        else:
            out.append(None)
    return out, "True if a later R{v}IWSTAT is 5 or 6; False if a later one is 1 or 4"


def _followup(df, spec, fmt, context):
    st, iwy, nominal = _later(context, df)
    died_codes, alive_codes = context["status"]["died"], context["status"]["alive"]
    base = context["iwendy"](df)
    dyear = context["death_year"](df)
    out = []
    for i, row in enumerate(st):
        b = base[i]
        if np.isnan(b):
            out.append(np.nan)
            continue
        if any(s in died_codes for s in row):
            if not np.isnan(dyear[i]):
                out.append(dyear[i] - b)
            else:
                k = next(j for j, s in enumerate(row) if s in died_codes)
                out.append(nominal[k] - b)
            continue
        last = [j for j, s in enumerate(row) if s in alive_codes]
        if not last:
            out.append(np.nan)
            continue
        j = last[-1]
        end = iwy[i][j] if row[j] == 1 and not np.isnan(iwy[i][j]) else nominal[j]
        out.append(end - b)
    return (out, "death year (or later) minus interview year; last known alive year minus "
            "interview year")


CUSTOM_RULES = {"lonely3": _lonely3, "died": _died, "followup": _followup}


def load_hrs(path=None, *, wave: int | None = None, weight: str = "respondent",
             columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one wave of the RAND HRS Longitudinal File in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        ``randhrs1992_2022v1.dta`` (or the zip holding it). Required; without it a
        :class:`~socialhealth.errors.LicensedDataError` says where to register.
    wave : int
        HRS wave 1-16 (wave 8 = 2006, the first leave-behind loneliness wave; w = 1990 + 2w).
    weight : {"respondent", "leave_behind"}
        ``R{w}WTRESP`` (default) or the leave-behind weight ``R{w}LBWGTR`` (use it for the
        loneliness scale). Rows with a zero/missing weight are dropped and counted.
    columns : list of str, optional
        Source variables to add under their own names (e.g. ``["r8flone"]``).
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")`` with strata ``RAESTRAT`` and PSU ``RAEHSAMP``; in R
        ``svydesign(ids=~raehsamp, strata=~raestrat, weights=~r8wtresp, nest=TRUE)``.
        ``died``/``followup_years`` come from the later waves in the file.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("hrs")["access"]           # RAND HRS file after HRS registration
    'registration'
    >>> sd = datasets.load("hrs", path="randhrs1992_2022v1.dta", wave=8,
    ...                    weight="leave_behind")   # needs the RAND HRS file  # doctest: +SKIP

    ``sd.design.proportion("lonely")`` then gives the weighted prevalence.
    """
    cb = load_codebook("hrs")
    if path is None:
        raise _licensed("hrs", "The HRS (RAND HRS Longitudinal File)", _WHERE,
                       "datasets.load('hrs', path='<folder>/randhrs1992_2022v1.dta', wave=8)")
    waves = {int(k): int(v) for k, v in cb["waves"].items()}
    if wave is None:
        raise DatasetError(f"pass wave= (one of {sorted(waves)}): the RAND file holds every wave.")
    if int(wave) not in waves:
        raise UnknownWaveError(f"HRS waves are 1-{max(waves)} (wave 8 = 2006); got wave={wave!r}.")
    w = int(wave)
    if weight not in cb["weights"]:
        raise DatasetError(f"weight={weight!r}: choose one of {list(cb['weights'])}.")
    status = cb["status"]
    context: dict = {"status": status}
    notes: list[str] = []             # shared with the custom rules (see _direction_check)
    data_warnings: list[str] = []     # the same, warned on every load (cached or not)
    direction_check: dict = {}

    def prepare(src: Source) -> _engine.Plan:
        names, used = _resolve_variables(cb, src.columns, {"w": w})
        wvar = names[cb["weights"][weight]]
        req = [names[k] for k in ("id", "iwstat", "strata", "secu")] + [wvar]
        require_columns(src, req, "RAND HRS longitudinal")
        cols = set(src.columns)
        later = []
        for v in sorted(x for x in waves if x > w):
            nv, _ = _resolve_variables(cb, src.columns, {"w": v})
            if nv["iwstat"] in cols:
                later.append((v, nv["iwstat"], nv["iwendy"] if nv["iwendy"] in cols else None))
        opt = [names[k] for k in ("iwendy", "death_year", "flone") if names[k] in cols]
        read = req + opt + [c for _, s, y in later for c in (s, y) if c]
        cb_run = _with_not_measured(cb, names, src.columns, wave=w)

        def later_of(df):
            st = np.column_stack([df[s].to_numpy(dtype=float) for _, s, _ in later]) \
                if later else np.zeros((len(df), 0))
            iy = np.column_stack([df[y].to_numpy(dtype=float) if y else np.full(len(df), np.nan)
                                  for _, _, y in later]) if later else np.zeros((len(df), 0))
            nominal = [waves[v] for v, _, _ in later]
            return [list(r) for r in st], iy, nominal

        def col(name):
            return lambda df: (df[name].to_numpy(dtype=float) if name in df.columns
                               else np.full(len(df), np.nan))

        iwendy = col(names["iwendy"])
        context.update(later=later_of, death_year=col(names["death_year"]))
        fl = names["flone"]
        context.update(flone=(lambda df: df[fl].to_numpy(dtype=float) if fl in df.columns
                              else None), flone_name=fl, notes=notes,
                       data_warnings=data_warnings, direction_check=direction_check)

        def base_year(df):
            y = iwendy(df)
            return np.where(np.isnan(y), float(waves[w]), y)

        context["iwendy"] = base_year

        def select(df):
            reasons = OrderedDict()
            st = df[names["iwstat"]].to_numpy(dtype=float)
            resp = np.isin(st, status["respondent"])
            reasons[f"not a wave-{w} respondent ({names['iwstat']} != 1: not yet in sample, "
                    f"non-response, died or dropped)"] = int((~resp).sum())
            bad = resp & _unusable_weight(df, wvar)
            reasons[f"zero or missing weight {wvar}"] = int(bad.sum())
            keep = resp & ~bad
            nod = keep & (np.isnan(df[names["strata"]].to_numpy(dtype=float))
                          | np.isnan(df[names["secu"]].to_numpy(dtype=float)))
            reasons["no RAESTRAT/RAEHSAMP"] = int(nod.sum())
            return keep & ~nod, reasons

        def design(df):
            n = len(df)
            return {"respondent_id": code_strings(df[names["id"]]), "wave": [str(w)] * n,
                    "year": base_year(df), "weight": df[wvar].to_numpy(dtype=float),
                    "strata": code_strings(df[names["strata"]]),
                    "psu": code_strings(df[names["secu"]])}

        return _engine.Plan(
            codebook_name="hrs", codebook=cb_run, fmt=names, wave=w, read=read, select=select,
            design=design,
            design_spec={"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                         "lonely_psu": "adjust",
                         "notes": cb["design"]["notes"].replace("r{w}wtresp", wvar)},
            country="US", custom_rules=CUSTOM_RULES, context=context, notes=notes,
            data_warnings=data_warnings,
            extra_provenance={"weight_variable": wvar, "variables": used,
                              "later_waves": [v for v, _, _ in later],
                              "lonely3_direction_check": direction_check})

    return _engine.run("hrs", path, {"wave": w, "weight": weight}, prepare,
                       loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(codebook_hash("hrs"),))
