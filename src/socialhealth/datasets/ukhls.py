"""Understanding Society (UKHLS) and harmonised BHPS loaders: one wave's ``indresp`` file.

Licensed data (UK Data Service End User Licence, SN 6614): socialhealth never downloads it;
register at https://ukdataservice.ac.uk, download study 6614 and pass ``path=`` to the wave's
``{w}_indresp.dta`` (or ``.sav``). Codebooks: ``codebooks/ukhls.toml``, ``codebooks/bhps.toml``.

* Negative codes (-1 don't know, -2 refused, -7 proxy, -8 inapplicable, -9 missing, -10 not
  available for IEMB, -11 only available for IEMB; -20, -21 and any other negative value =
  "other negative code" [U]) are ordinary values in the files: every negative value read is
  set missing and counted per variable and code in
  ``provenance["missing_codes"]`` (meanings in ``provenance["missing_code_meanings"]``).
* ``sclonely`` has three options (hardly ever or never / some of the time / often) and is NOT
  the ONS five-option item; ``provenance["lonely_direct_options"]`` records the option set.
* Design: ``{w}_psu``, ``{w}_strata``, the chosen weight; ``nest=True``, ``lonely_psu="adjust"``.
  In R::

      options(survey.lonely.psu = "adjust")
      svydesign(ids = ~i_psu, strata = ~i_strata, weights = ~i_indscui_xw, nest = TRUE,
                data = subset(indresp, i_indscui_xw > 0))
"""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import Sequence

import numpy as np

from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import _unusable_weight, _licensed, _wrap_missing
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1

_WHERE = ("register with the UK Data Service (https://ukdataservice.ac.uk), accept the End User "
          "Licence and download study SN 6614 (Understanding Society / harmonised BHPS)")


def _wave_number(cb: dict, wave) -> int | None:
    """Wave number from 9, "9" or the prefix letter(s) "i" / "i_" / "ba"."""
    if wave is None:
        return None
    waves = cb["waves"]
    s = str(wave).strip().rstrip("_").lower()
    if s.isdigit() and s in waves:
        return int(s)
    for k, v in waves.items():
        if v["prefix"].rstrip("_") == s:
            return int(k)
    name = cb["survey"]["name"]
    first, last = min(map(int, waves)), max(map(int, waves))
    raise UnknownWaveError(
        f"{name} waves are {first}-{last} (prefixes {waves[str(first)]['prefix']}..."
        f"{waves[str(last)]['prefix']}); got wave={wave!r}.")


def _detect_wave(cb: dict, src: Source, psu_tmpl: str) -> int:
    cols = set(src.columns)
    found = [int(k) for k, v in cb["waves"].items()
             if psu_tmpl.format(p=v["prefix"]) in cols or f"{v['prefix']}hidp" in cols]
    if len(found) == 1:
        return found[0]
    m = re.match(r"^([a-z]{1,2})_indresp", src.path.name.lower())
    if m:
        for k, v in cb["waves"].items():
            if v["prefix"] == m.group(1) + "_":
                return int(k)
    raise SurveyFileError(
        f"{src.path}: cannot tell which {cb['survey']['name']} wave this file holds "
        f"(wave prefixes found: {found or 'none'}); pass wave=.")


def _weight_var(cb: dict, wn: int, weight: str | None) -> str:
    spec = cb["waves"][str(wn)]
    p = spec["prefix"]
    if weight is None or weight in ("xw", "cross-sectional"):
        return spec["xw"]
    if weight in ("lw", "longitudinal"):
        if "lw" not in spec:
            raise DatasetError(f"wave {wn} has no longitudinal weight (the first wave); use "
                               f"weight='xw' or name a weight variable.")
        return spec["lw"]
    return weight if weight.startswith(p) else p + weight


def _load(name: str, path, *, wave, weight, columns, cache) -> SurveyData:
    cb = load_codebook(name)
    if path is None:
        raise _licensed(name, f"{cb['survey']['name'].upper()} ({name})", _WHERE,
                       f"datasets.load({name!r}, path='<folder>/i_indresp.dta', wave=9)")
    wn = _wave_number(cb, wave)
    d = cb["design"]
    meanings = dict(cb.get("missing", {}).get("meanings", {}))
    info: dict = {}

    def prepare(src: Source) -> _engine.Plan:
        w = wn if wn is not None else _detect_wave(cb, src, d["psu"])
        spec = cb["waves"][str(w)]
        p = spec["prefix"]
        fmt = {"p": p}
        wvar = _weight_var(cb, w, weight)
        psu, strata = d["psu"].format(**fmt), d["strata"].format(**fmt)
        require_columns(src, [d["id"]], f"{name.upper()} indresp")
        cols = set(src.columns)
        if wvar not in cols:
            other = sorted(c for c in cols if c.endswith(("_xw", "_lw", "xrwght")))[:8]
            raise SurveyFileError(
                f"{src.path} has no weight {wvar!r} (wave {w}, prefix {p!r}; weights in the "
                f"file: {other or 'none'}). Is this the wave-{w} {name.upper()} indresp file? "
                f"Pass wave= for another wave or weight= to name a weight.")
        full = psu in cols and strata in cols
        notes, warns = [], []
        if not full:
            if name == "ukhls":
                require_columns(src, [psu, strata], f"UKHLS wave {w} indresp")
            msg = (f"{src.path.name} has no {psu}/{strata}: the design is weights-only "
                   f"({wvar}), so standard errors ignore clustering and stratification [BHPS "
                   f"design variables are unverified].")
            warns.append(msg)
            notes.append(msg)
        _wrap_missing(src, negative=True, skip=(d["id"],))
        yv = d["interview_year"].format(**fmt)
        read = [d["id"], wvar] + ([psu, strata] if full else []) + ([yv] if yv in cols else [])
        info.update(wave_number=w, prefix=p, weight_variable=wvar)

        def select(df):
            reasons = OrderedDict()
            bad = _unusable_weight(df, wvar)
            reasons[f"zero or missing weight {wvar} (not in this weight's population, e.g. no "
                    f"self-completion or proxy interview)"] = int(bad.sum())
            keep = ~bad
            if full:
                nod = keep & (np.isnan(df[psu].to_numpy(dtype=float))
                              | np.isnan(df[strata].to_numpy(dtype=float)))
                reasons[f"no {psu}/{strata}"] = int(nod.sum())
                keep &= ~nod
            return keep, reasons

        def design(df):
            n = len(df)
            yr = np.full(n, float(spec["year"]))
            if yv in df.columns:
                iy = df[yv].to_numpy(dtype=float)
                yr = np.where(np.isnan(iy), yr, iy)
            out = {"respondent_id": code_strings(df[d["id"]]), "wave": [str(w)] * n, "year": yr,
                   "weight": df[wvar].to_numpy(dtype=float)}
            if full:
                out["strata"] = code_strings(df[strata])
                out["psu"] = code_strings(df[psu])
            return out

        dspec = ({"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                  "lonely_psu": "adjust"} if full else {"weights": "weight"})
        dspec["notes"] = (f"PSUs: {psu}; strata: {strata} (PSUs numbered within strata); "
                          f"weight: {wvar}. " + d["notes"]) if full \
            else f"weight {wvar} only. " + d["notes"]
        lon = cb["concepts"].get("lonely_direct", {})
        return _engine.Plan(
            codebook_name=name, codebook=cb, fmt=fmt, wave=w, read=read, select=select,
            design=design, design_spec=dspec, country="GB", notes=notes, warnings=warns,
            extra_provenance={"weight_variable": wvar, "wave_prefix": p,
                              "missing_code_meanings": meanings,
                              "lonely_direct_options": lon.get("levels", [])})

    return _engine.run(name, path, {"wave": wn, "weight": weight}, prepare,
                       loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(codebook_hash(name),))


def load_ukhls(path=None, *, wave: int | str | None = None, weight: str | None = None,
               columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one Understanding Society wave (``{w}_indresp``) in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        The wave's ``indresp`` file as downloaded from the UK Data Service (``i_indresp.dta``
        or ``.sav``). Required: the data are licensed (SN 6614); without it a
        :class:`~socialhealth.errors.LicensedDataError` says where to register.
    wave : int or str, optional
        Wave number 1-14 or prefix letter ``"a"``-``"n"``; None detects it from the variable
        prefixes (``i_psu``) or the file name.
    weight : str, optional
        ``None``/``"xw"`` (default): the cross-sectional self-completion weight of the wave
        (``a_indscus_xw``; ``{b..e}_indscub_xw``; ``{f..}_indscui_xw``); ``"lw"``: the
        longitudinal one (``*_lw``); or any weight variable (with or without the wave prefix,
        e.g. ``"indinui_xw"``). ``provenance["weight_variable"]`` says which was used; rows with
        a zero or missing weight are dropped and counted.
    columns : list of str, optional
        Source variables to add under their own names (negative codes set missing).
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")``; in R ``svydesign(ids=~i_psu, strata=~i_strata,
        weights=~i_indscui_xw, nest=TRUE)``. Waves without the loneliness items (1-8) give
        "not measured" codebook rows.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("ukhls")["access"]         # from the UK Data Service, under licence
    'licensed'
    >>> # needs the file:
    >>> sd = datasets.load("ukhls", path="i_indresp.dta", wave=9)  # doctest: +SKIP

    ``sd.design.proportion("lonely_ucla3", by="age_group")`` then gives the prevalence by age.
    """
    return _load("ukhls", path, wave=wave, weight=weight, columns=columns, cache=cache)


def load_bhps(path=None, *, wave: int | str | None = None, weight: str | None = None,
              columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one harmonised BHPS wave (``b{a..r}_indresp`` in SN 6614) in the harmonised schema.

    Same machinery as :func:`load_ukhls`; the BHPS codebook is mostly unverified [U] (see
    ``codebooks/bhps.toml``): weight ``{p}xrwght`` (cross-sectional respondent weight),
    design ``{p}psu``/``{p}strata`` when present, else weights-only with a
    :class:`~socialhealth.datasets.DesignFallbackWarning`. No loneliness item is confirmed.

    Parameters
    ----------
    path : str or path-like
        ``ba_indresp.dta`` ... ``br_indresp.dta`` (licensed, SN 6614).
    wave : int or str, optional
        1-18 or ``"ba"``-``"br"``; None detects it.
    weight, columns, cache
        As in :func:`load_ukhls` (default weight ``{p}xrwght``).

    Returns
    -------
    SurveyData

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("bhps")["years"]
    '1991-2009'
    >>> # needs the file:
    >>> sd = datasets.load("bhps", path="bj_indresp.dta", wave=10)  # doctest: +SKIP
    """
    return _load("bhps", path, wave=wave, weight=weight, columns=columns, cache=cache)
