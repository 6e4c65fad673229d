"""English Longitudinal Study of Ageing (ELSA) loader: one wave's core file, optional mortality.

Licensed data (UK Data Service End User Licence, SN 5050): register at
https://ukdataservice.ac.uk, download study 5050 and pass ``path=`` to the wave's
``wave_9_elsa_data_eul_v1.dta`` (or the ``.sav`` or tab-delimited ``.tab`` edition).
Codebook: ``codebooks/elsa.toml``.

* Negative codes (-9 refusal / not answered, -8 don't know, -2, -1 not applicable, others
  "other negative code") are set missing and counted per variable and code.
* UCLA-3 ``scfeela``/``scfeelb``/``scfeelc`` are mapped by code (1 hardly ever or never, 2 some
  of the time, 3 often), never by label ("Hardly ever of never" typo in waves 2, 3, 4, 6).
* Variable names are matched case-insensitively (``PScedA`` vs ``pscedA`` across waves).
* Design: weights only (official PSU/strata [U]); a
  :class:`~socialhealth.datasets.DesignFallbackWarning` says so. In R:
  ``svydesign(ids=~1, weights=~w9xwgt, data=elsa9)``.
"""
from __future__ import annotations

import re
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import show_list
from socialhealth.errors import (DatasetError, SocialHealthWarning, SurveyFileError,
                                 UnknownWaveError)
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import Source, open_source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import (_UserDesign, _licensed, _resolve_variables,
                                                 _with_not_measured, _wrap_missing)
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1

_WHERE = ("register with the UK Data Service (https://ukdataservice.ac.uk), accept the End User "
          "Licence and download study SN 5050 (English Longitudinal Study of Ageing)")


def _num(df, c):
    return pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)


def _srcs(spec, fmt):
    return [s.format(**fmt) for s in spec["sources"]]


def _ucla3_ge6(df, spec, fmt, context):
    arr = np.column_stack([_num(df, c) for c in _srcs(spec, fmt)])
    ok = np.all((arr >= 1) & (arr <= 3), axis=1)
    score = arr.sum(axis=1)
    vals = [bool(s >= 6) if o else None for s, o in zip(score, ok, strict=True)]
    return vals, f"True if {' + '.join(_srcs(spec, fmt))} >= 6 (all three items 1-3 needed)"


_PARTNERED = re.compile(r"married|cohabit|civil partner|living (as|with)|couple|partnered")
_UNPARTNERED = re.compile(r"never|single|separat|divorc|widow|former|dissolved|surviv|"
                          r"not (married|cohabit|partnered|in a couple)|no partner")


def _partner_code_check(context, var, not_partnered) -> None:
    """Compare the codebook's 'not partnered' codes with the file's own value labels.

    Which ``marstat`` codes mean "not married or cohabiting" could not be verified (elsa.toml
    [isolation]); a wrong set inverts the partner point of the isolation index. When the file
    labels its codes, a code counted as not partnered whose label reads as partnered ("married",
    "cohabiting", ...), or the reverse, is reported in ``provenance["partner_code_check"]`` with
    a SocialHealthWarning (kept in ``provenance["notes"]``), issued again on every load from
    the cache.
    """
    out = context.get("partner_code_check")
    if out is None:
        return
    labels = {k: str(v) for k, v in (context.get("partner_labels") or {}).items()
              if isinstance(k, (int, float)) and k >= 0}
    out.update(variable=var, labels={str(k): v for k, v in sorted(labels.items())})
    if not labels:
        out.update(checked=False, reason=f"{var} has no value labels in the file")
        return
    bad = []
    for code, lab in sorted(labels.items()):
        text = lab.lower()
        partnered = bool(_PARTNERED.search(text)) and not _UNPARTNERED.search(text)
        unpartnered = bool(_UNPARTNERED.search(text))
        counted = float(code) in {float(c) for c in not_partnered}
        if (counted and partnered) or (not counted and unpartnered):
            bad.append(f"{code} {lab!r} is {'counted' if counted else 'not counted'} as not "
                       f"partnered")
    out.update(checked=True, consistent=not bad, conflicts=bad)
    if bad:
        msg = (f"the social isolation index counts {var} codes {show_list(not_partnered)} as 'not "
               f"married or cohabiting', but the file's value labels disagree: "
               f"{'; '.join(bad)}. The partner point of social_isolation_index is then wrong "
               f"(inverted for those codes). Check {var}'s labels in your ELSA release.")
        context["notes"].append(msg)
        if context.get("data_warnings") is None:
            warnings.warn(msg, SocialHealthWarning, stacklevel=user_stacklevel())
        else:            # the plan warns on every load, from the file or from the cache
            context["data_warnings"].append(msg)


def _steptoe(df, spec, fmt, context):
    iso = context["isolation"]
    names = context["names"]
    _partner_code_check(context, names[iso["partner"]], iso["not_partnered"])
    part = _num(df, names[iso["partner"]])
    pts = [np.where(np.isnan(part), np.nan, np.isin(part, iso["not_partnered"]).astype(float))]
    for key in iso["contact"]:
        x = _num(df, names[key])
        valid = np.isin(x, [1, 2, 3, 4, 5, 6])
        pts.append(np.where(valid, np.isin(x, iso["less_than_monthly"]).astype(float), np.nan))
    org = _num(df, names[iso["org_none"]])
    pts.append(np.where(np.isnan(org), np.nan, (org == iso["org_none_code"]).astype(float)))
    total = np.column_stack(pts).sum(axis=1)            # NaN if any component is missing
    vals = [None if np.isnan(t) else int(t) for t in total]
    return vals, ("sum of 5 points: marstat in " + str(iso["not_partnered"]) + "; scchdg, scfamg, "
                  "scfrdg in " + str(iso["less_than_monthly"]) + "; scorg96 = "
                  + str(iso["org_none_code"]))


def _health(df, spec, fmt, context):
    scale = context["health_scale"]
    m = {float(k): v for k, v in scale["map"].items()}
    x = _num(df, _srcs(spec, fmt)[0])
    vals = [m.get(v) for v in x]
    other = ~np.isnan(x) & ~np.isin(x, list(m))
    context.setdefault("unmapped", {})["self_rated_health"] = int(other.sum())
    return (vals, f"{_srcs(spec, fmt)[0]} on the {context['health_scale_name']} scale: "
            f"{scale['description']}")


def _cesd8(df, spec, fmt, context):
    c = context["cesd"]
    names = context["names"]
    pos = {names[k] for k in c["positive"]}
    pts = []
    for src in _srcs(spec, fmt):
        x = _num(df, src)
        valid = np.isin(x, [c["yes"], c["no"]])
        hit = (x == c["no"]) if src in pos else (x == c["yes"])
        pts.append(np.where(valid, hit.astype(float), np.nan))
    score = np.column_stack(pts).sum(axis=1)
    vals = [None if np.isnan(s) else bool(s >= c["cutoff"]) for s in score]
    return vals, f"CES-D-8 score (D, F reversed) >= {c['cutoff']}; all 8 items needed"


def _mortality(df, spec, fmt, context):
    dy = context["death_year"]
    return [None if pd.isna(v) else bool(v) for v in dy["died"]], \
        "True if the mortality file records a death year"


def _followup(df, spec, fmt, context):
    dy = context["death_year"]
    iy = context["iyear"]
    end = context["followup_end"]
    out = []
    for died, y, i in zip(dy["died"], dy["year"], iy, strict=True):
        if pd.isna(died):
            out.append(np.nan)
        elif died:
            out.append(y - i)
        else:
            out.append(np.nan if end is None else end - i)
    return out, "death year - interview year; followup_end - interview year if alive"


CUSTOM_RULES = {"ucla3_ge6": _ucla3_ge6, "steptoe_index": _steptoe, "health_scale": _health,
                "cesd8": _cesd8, "mortality": _mortality, "followup": _followup}


def load_elsa(path=None, *, wave: int | None = None, weight: str | None = None,
              health_scale: str | None = None, mortality_path=None,
              followup_end: int | None = None, psu: str | None = None,
              strata: str | None = None, columns: Sequence[str] | None = None,
              cache: bool = True) -> SurveyData:
    """Load one ELSA wave's core file in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        ``wave_9_elsa_data_eul_v1.dta`` (or the .sav / tab-delimited .tab edition) from UK Data
        Service SN 5050. Required: without it a :class:`~socialhealth.errors.LicensedDataError` says
        where to register.
    wave : int, optional
        1-10; None reads it from the file name (``wave_9_...``).
    weight : {"xw", "sc"} or str, optional
        ``"xw"`` (default): the cross-sectional weight ``wNxwgt`` (wave 2 ``w2wgt``); ``"sc"``:
        the self-completion weight ``wNscwt`` (wave 2 ``scw2wgt``; the UCLA items are in the
        self-completion questionnaire); or a variable name. ``provenance["weight_variable"]``
        says which was used; rows with a zero or missing weight are dropped and counted.
    health_scale : {"us5", "eu5", "four"}, optional
        Scale of the self-rated health item; default the wave's (``[waves]`` in the codebook).
    mortality_path : str or path-like, optional
        ELSA end-of-life / mortality status file with ``idauniq`` and a death year
        (``yrdeath`` [U]); fills ``died`` and ``followup_years``.
    followup_end : int, optional
        Last year of mortality follow-up (for survivors' ``followup_years``); default the
        latest death year in the mortality file.
    psu, strata : str, optional
        Design variables in your file, both or neither. ELSA's official PSU/strata variables
        are unverified here, so by default the design is weights-only (SRS with replacement,
        with a warning). If your file carries them (the Harmonized ELSA file of the Gateway to
        Global Aging has ``r{w}clust`` and ``r{w}strat`` [U: seen in a published analysis
        script, not in ELSA's documentation]), pass them: the design becomes
        ``SurveyDesign(weights, strata, psu, nest=True, lonely_psu="adjust")`` and rows with a
        missing PSU or stratum are dropped and counted. In R: ``svydesign(ids=~r9clust,
        strata=~r9strat, weights=~w9xwgt, nest=TRUE)``.
    columns : list of str, optional
        Source variables to add under their own names.
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight")`` (weights only; ELSA design variables [U]); in R
        ``svydesign(ids=~1, weights=~w9xwgt)``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("elsa")["access"]          # from the UK Data Service, under licence
    'licensed'
    >>> # needs the file:
    >>> sd = datasets.load("elsa", path="wave_9_elsa_data_eul_v1.dta")  # doctest: +SKIP

    ``sd.design.proportion("lonely", by="age_group")`` then gives the prevalence by age.
    """
    cb = load_codebook("elsa")
    if path is None:
        raise _licensed("elsa", "ELSA", _WHERE,
                       "datasets.load('elsa', path='<folder>/wave_9_elsa_data_eul_v1.dta')")
    waves = cb["waves"]
    if wave is not None and str(wave) not in waves:
        raise UnknownWaveError(f"ELSA waves are 1-{max(map(int, waves))}; got wave={wave!r}.")
    if health_scale is not None and health_scale not in cb["health_scales"]:
        raise DatasetError(f"health_scale={health_scale!r}: choose one of "
                           f"{list(cb['health_scales'])}.")
    mort = None
    if mortality_path is not None:
        mort = open_source(mortality_path)
    d = cb["design"]
    _UserDesign.check("ELSA", psu, strata)
    context: dict = {"isolation": cb["isolation"], "cesd": cb["cesd"]}

    def prepare(src: Source) -> _engine.Plan:
        w = int(wave) if wave is not None else _wave_from_name(src)
        if str(w) not in waves:
            raise UnknownWaveError(f"{src.path} is ELSA wave {w}; the codebook covers "
                                   f"1-{max(map(int, waves))}.")
        spec = waves[str(w)]
        require_columns(src, [d["id"]], "ELSA core")
        cols = list(src.columns)
        names, used = _resolve_variables(cb, cols)
        wname = weight or "xw"
        wvar = spec.get(wname) if wname in ("xw", "sc") else weight
        if wvar is None:
            raise DatasetError(f"ELSA wave {w} has no {wname!r} weight in the codebook.")
        lower = {c.lower(): c for c in cols}
        if wvar.lower() not in lower:
            raise SurveyFileError(
                f"{src.path} has no weight {wvar!r} (ELSA wave {w}). Is this the wave-{w} core "
                f"file? Pass wave= or weight=.")
        wvar = lower[wvar.lower()]
        hs = health_scale or spec["health"]
        context.update(names=names, health_scale=cb["health_scales"][hs], health_scale_name=hs)
        extra = {}
        if mort is None:
            extra = {"died": "No mortality_path= given.",
                     "followup_years": "No mortality_path= given."}
        cb_run = _with_not_measured(cb, names, cols, wave=w, extra=extra)
        top = _top_code(src, cb, names, w)       # before the negative-code step below
        partner_check: dict = {}
        context.update(partner_code_check=partner_check,
                       partner_labels=_capture_labels(src, names[cb["isolation"]["partner"]]))
        _wrap_missing(src, negative=True, skip=(d["id"],))
        year_names = d["interview_year"]
        year_names = [year_names] if isinstance(year_names, str) else year_names
        yv = next((lower[n.lower()] for n in year_names if n.lower() in lower), None)
        read = [d["id"], wvar] + ([yv] if yv else [])
        ud = _UserDesign("ELSA", src, wvar, psu, strata, d["notes"])
        read += ud.read
        notes = [ud.message]              # shared with the custom rules (_partner_code_check)
        context["notes"] = notes
        data_warnings: list[str] = []     # warned on every load (cached or not)
        context["data_warnings"] = data_warnings

        def design(df):
            n = len(df)
            iy = np.full(n, float(spec["year"]))
            if yv:
                y = df[yv].to_numpy(dtype=float)
                iy = np.where(np.isnan(y), iy, y)
            context["iyear"] = iy
            if mort is not None:
                context["death_year"], context["followup_end"] = _deaths(mort, cb, df[d["id"]],
                                                                         followup_end)
            out = {"respondent_id": code_strings(df[d["id"]]), "wave": [str(w)] * n, "year": iy,
                   "weight": df[wvar].to_numpy(dtype=float)}
            out.update(ud.columns(df, code_strings))
            return out

        return _engine.Plan(
            codebook_name="elsa", codebook=cb_run, fmt=names, wave=w, read=read, select=ud.select,
            design=design, design_spec=ud.spec, country="GB",
            notes=notes, warnings=[ud.warning] if ud.warning else [],
            data_warnings=data_warnings,
            custom_rules=CUSTOM_RULES,
            context=context,
            extra_provenance={"weight_variable": wvar, "variables": used,
                              "partner_code_check": partner_check,
                              "design_variables": ud.provenance,
                              "health_scale": hs, "top_coded": top,
                              "missing_code_meanings": dict(cb["missing"]["meanings"]),
                              "mortality_file": None if mort is None else str(mort.path)})

    return _engine.run("elsa", path, {"wave": wave, "weight": weight, "health_scale": health_scale,
                                      "followup_end": followup_end, "psu": psu, "strata": strata},
                       prepare,
                       loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(mort.sha256 if mort is not None else "", codebook_hash("elsa")))


def _capture_labels(src: Source, var: str) -> dict:
    """Make ``src.read`` keep the value labels of ``var`` (filled when the file is read)."""
    store: dict = {}
    orig = src._impl

    def read(columns):
        raw = orig(columns)
        store.update((raw.value_labels or {}).get(var) or {})
        return raw

    src._impl = read
    return store


def _top_code(src: Source, cb: dict, names: dict, wave: int) -> dict:
    """Make ``src.read`` replace the codebook's top codes (``[top_code]``: indager -7, and 99 in
    waves 2-4, = "collapsed at 90 plus") by the top-coded age before negative codes are set
    missing. Returns ``{variable: {code: n}}``, filled when the file is read (provenance)."""
    tc = cb.get("top_code")
    if not tc:
        return {}
    var = names[tc["variable"]]
    codes = [*tc["codes"], *tc.get("codes_by_wave", {}).get(str(wave), [])]
    counts: dict = {}
    orig = src._impl

    def read(columns):
        raw = orig(columns)
        if var in columns and var in raw.data.columns \
                and pd.api.types.is_numeric_dtype(raw.data[var]):
            x = raw.data[var].to_numpy(dtype=float)
            hit = np.isin(x, np.asarray(codes, dtype=float))
            if hit.any():
                for code in codes:
                    k = int((x == code).sum())
                    if k:
                        counts.setdefault(var, {})[str(code)] = k
                raw.data[var] = np.where(hit, float(tc["value"]), x)
        return raw

    src._impl = read
    return counts


def _wave_from_name(src: Source) -> int:
    for name in (src.member or "", src.path.name):
        m = re.search(r"wave_?(\d+)", name.lower())
        if m:
            return int(m.group(1))
    raise SurveyFileError(f"{src.path}: cannot tell the ELSA wave from the file name; pass wave=.")


def _deaths(mort: Source, cb: dict, ids: pd.Series, followup_end):
    m = cb["mortality"]
    lower = {c.lower(): c for c in mort.columns}
    need = [m["id"], m["death_year"]]
    absent = [v for v in need if v.lower() not in lower]
    if absent:
        raise SurveyFileError(f"{mort.path} lacks {absent}: pass the ELSA end-of-life / mortality "
                              f"status file (idauniq + death year) as mortality_path=.")
    raw = mort.read([lower[v.lower()] for v in need]).data
    mid = code_strings(raw[lower[m["id"].lower()]])
    yr = pd.to_numeric(raw[lower[m["death_year"].lower()]], errors="coerce").to_numpy(dtype=float)
    yr = np.where(yr > 0, yr, np.nan)                    # negative codes: no death recorded
    table = dict(zip(mid, yr, strict=True))
    end = followup_end if followup_end is not None else (
        float(np.nanmax(yr)) if np.isfinite(yr).any() else None)
    died, year = [], []
    for i in code_strings(ids):
        if i not in table:
            died.append(pd.NA)
            year.append(np.nan)
        else:
            died.append(not np.isnan(table[i]))
            year.append(table[i])
    return {"died": died, "year": np.asarray(year, dtype=float)}, end
