"""European Social Survey loader (any round's country file: SPSS .sav, Stata .dta, CSV).

Codebook: ``codebooks/ess.toml``. SPSS user-missing codes declared in the file (7/8/9, 77/88/99,
999, 66 ...) become missing and are counted per variable and code.

Design: rounds 9+ carry ``psu``, ``stratum`` and ``anweight`` in the main file; earlier rounds
keep psu/stratum in a separate Sample Design Data File (SDDF, e.g. ``ESS7SDDFe1_1``), which can
be merged with ``sddf_path=``. Without design variables the loader falls back to a weights-only
design (SRS with replacement) and says so (warning, provenance and codebook note). In R::

    svydesign(ids = ~psu, strata = ~stratum, weights = ~anweight, nest = TRUE, data = ess9)
    svydesign(ids = ~1, weights = ~I(pspwght * pweight), data = ess7)   # no SDDF
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import load_codebook
from socialhealth.datasets._readers import Source, open_source
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 2  # 2: an unknown --country is an error (was 0 rows), case-insensitive match


def _csv_missing(cb: dict) -> dict:
    groups = cb.get("csv_missing", {})
    out: dict = {}
    for g in groups.values():
        for v in g["variables"]:
            out[v] = list(g["codes"])
    return out


def _country_rows(codes: pd.Series, country: str, where: str, variable: str) -> np.ndarray:
    """Rows of ``country`` (an exact code, else the one code equal to it ignoring case and
    spaces). A code the file does not hold is an error naming the codes it holds, not 0 rows."""
    codes = codes.astype("string").fillna("")
    rows = (codes == country).to_numpy()
    if rows.any():
        return rows
    held = sorted(c for c in set(codes) if c)
    folded = [c for c in held if c.casefold() == str(country).strip().casefold()]
    if len(folded) != 1:
        raise SurveyFileError(f"{where} holds no respondents of country {country!r}; its "
                              f"{variable} codes: {held}.")
    return (codes == folded[0]).to_numpy()


def _sddf_design(df: pd.DataFrame, sddf: pd.DataFrame, keys: list, psu: str,
                 stratum: str) -> tuple[np.ndarray, np.ndarray]:
    """The SDDF's psu and stratum for each row of ``df`` (NaN where it has no record), merged
    on the ``keys`` the SDDF holds (``idno``, and ``cntry`` when present) compared as codes."""
    on = [c for c in sddf.columns if c in keys]
    left = df[on].copy()
    right = sddf.copy()
    for c in on:
        left[c] = code_strings(left[c])
        right[c] = code_strings(right[c])
    merged = left.merge(right.drop_duplicates(on), on=on, how="left")
    return merged[psu].to_numpy(dtype=float), merged[stratum].to_numpy(dtype=float)


def load_ess(path, *, wave: int | None = None, weight: str | None = None,
             country: str | None = None, sddf_path=None,
             columns: Sequence[str] | None = None, cache: bool = True):
    """Load an ESS round's file in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        The ESS file as downloaded (``ESS7GB.sav``, the integrated ``ESS9e03_2.sav``, .dta,
        .csv, or the .zip).
    wave : int, optional
        The ESS round the file must hold (checked against ``essround``); None accepts the
        file's round.
    weight : {"anweight", "pspwght*pweight", "pspwght", "dweight", "dweight*pweight"}, optional
        Default: ``anweight`` when present (round 9+), else ``pspwght * pweight`` (the
        equivalent product; ``pweight`` is constant within a country).
    country : str, optional
        ISO code to keep from a multi-country file (``"GB"``); other rows are dropped and counted.
    sddf_path : str or path-like, optional
        The round's SDDF file with ``idno``, ``psu``, ``stratum`` (and ``cntry``), merged on
        ``idno`` (+ ``cntry``) when the main file lacks psu/stratum.
    columns : list of str, optional
        Source variables to add under their own names (a name that clashes with a harmonised
        column, e.g. the body ``weight`` of round 7, gets the suffix ``_source``).
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        Design ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")`` when psu/stratum are known, else ``SurveyDesign(weights="weight")``
        with a :class:`~socialhealth.datasets.DesignFallbackWarning`.
        In R: ``svydesign(ids=~psu, strata=~stratum, weights=~anweight, nest=TRUE)``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("ess")["access"]           # the file needs a (free) ESS registration
    'registration'
    >>> sd = datasets.load("ess", path="ESS9GB.sav")   # needs the ESS file  # doctest: +SKIP

    ``sd.data[["weight", "strata", "psu"]].nunique()`` then shows the design columns and
    ``sd.design.proportion("lonely")`` the weighted prevalence.
    """
    cb = load_codebook("ess")
    rounds = {int(k): v for k, v in cb["rounds"].items()}
    if wave is not None and int(wave) not in rounds:
        raise UnknownWaveError(f"ESS rounds are {sorted(rounds)}; got wave={wave!r}.")
    d = cb["design"]
    if weight is not None and weight not in d["weights"]:
        raise DatasetError(f"weight={weight!r}: choose one of {list(d['weights'])}.")
    sddf = None
    if sddf_path is not None:
        sddf = open_source(sddf_path)
    idv, rv, cv, yv, psuv, strv = (d["id"], d["round"], d["country"], d["year"], d["psu"],
                                   d["strata"])

    def prepare(src: Source) -> _engine.Plan:
        require_columns(src, [idv, rv, cv], "European Social Survey")
        cols = set(src.columns)
        wname = weight or ("anweight" if "anweight" in cols else "pspwght*pweight")
        wvars = d["weights"][wname]
        missing_w = [v for v in wvars if v not in cols]
        if missing_w:
            raise SurveyFileError(f"{src.path} lacks the weight variable(s) {missing_w} "
                                  f"needed for weight={wname!r}.")
        has_design = psuv in cols and strv in cols
        notes, warns = [], []
        sd_df = None
        if not has_design and sddf is not None:
            require_columns(sddf, [idv, psuv, strv], "ESS SDDF")
            keys = [idv] + ([cv] if cv in sddf.columns else [])
            sd_df = sddf.read(keys + [psuv, strv]).data
            notes.append(f"psu/stratum merged from the SDDF file {sddf.path} "
                         f"(sha256 {sddf.sha256}) on {keys}.")
        elif not has_design:
            msg = (f"{src.path.name} has no psu/stratum (ESS rounds before 9 keep them in a "
                   f"separate SDDF file): the design is weights-only ({wname}), so standard "
                   f"errors ignore clustering and stratification. Pass sddf_path= to merge the "
                   f"round's SDDF file.")
            warns.append(msg)
            notes.append(msg)
        read = [idv, rv, cv, *wvars] + ([yv] if yv in cols else []) + \
               ([psuv, strv] if has_design else [])
        state: dict = {}

        def select(df):
            reasons = OrderedDict()
            keep = np.ones(len(df), bool)
            rounds_in = sorted(set(pd.to_numeric(df[rv], errors="coerce").dropna().astype(int)))
            if wave is not None and int(wave) not in rounds_in:
                raise SurveyFileError(f"{src.path} holds ESS round(s) {rounds_in}, not round "
                                      f"{wave}.")
            if wave is not None:
                this = pd.to_numeric(df[rv], errors="coerce").to_numpy() == int(wave)
                reasons["other rounds"] = int((~this).sum())
                keep &= this
            if country is not None:
                inc = _country_rows(df[cv], country, f"{src.path}", cv)
                reasons["other countries"] = int((keep & ~inc).sum())
                keep &= inc
            w = np.ones(len(df))
            for v in wvars:
                w = w * df[v].to_numpy(dtype=float)
            bad = np.isnan(w) | (w <= 0)
            reasons[f"missing or zero weight ({wname})"] = int((keep & bad).sum())
            keep &= ~bad
            psu_v = stratum_v = None
            if has_design:
                psu_v, stratum_v = df[psuv].to_numpy(dtype=float), df[strv].to_numpy(dtype=float)
            elif sd_df is not None:
                psu_v, stratum_v = _sddf_design(df, sd_df, [idv, cv], psuv, strv)
            if psu_v is not None and stratum_v is not None:
                nod = np.isnan(psu_v) | np.isnan(stratum_v)
                reasons["no psu/stratum" + (" (no SDDF record)" if sd_df is not None else "")] = \
                    int((keep & nod).sum())
                keep &= ~nod
                state["psu"], state["stratum"] = psu_v[keep], stratum_v[keep]
            state["w"] = w[keep]
            return keep, reasons

        def design(df):
            yr = np.full(len(df), np.nan)
            if yv in df.columns:
                yr = df[yv].to_numpy(dtype=float)
            rd = pd.to_numeric(df[rv], errors="coerce").to_numpy()
            fallback = np.array([rounds.get(int(r), np.nan) if not np.isnan(r) else np.nan
                                 for r in rd])
            yr = np.where(np.isnan(yr), fallback, yr)
            out = {"respondent_id": code_strings(df[idv]), "wave": code_strings(rd), "year": yr,
                   "weight": state["w"],
                   "country": [None if pd.isna(c) else str(c) for c in df[cv]]}
            if "psu" in state:
                out["strata"] = code_strings(state["stratum"])
                out["psu"] = code_strings(state["psu"])
                ctry = out["country"]
                if len(set(ctry)) > 1:   # integrated multi-country file: keep countries apart
                    out["strata"] = [f"{c}-{s}" for c, s in zip(ctry, out["strata"], strict=True)]
                    out["psu"] = [f"{c}-{p}" for c, p in zip(ctry, out["psu"], strict=True)]
            return out

        full = has_design or sd_df is not None
        spec = ({"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                 "lonely_psu": "adjust"} if full else {"weights": "weight"})
        spec["notes"] = (f"PSUs: {psuv}; strata: {strv} (PSUs numbered within strata); "
                         f"weight: {wname}" if full
                         else f"weight {wname} only; the file has no PSU or stratum variable")
        return _engine.Plan(
            codebook_name="ess", codebook=cb, fmt={}, wave=wave, read=read, select=select,
            design=design, design_spec=spec, country="", notes=notes, warnings=warns,
            declared_missing=_csv_missing(cb),
            extra_provenance={"weight_variable": wname,
                              "sddf": None if sddf is None else str(sddf.path)})

    return _engine.run("ess", path, {"wave": wave, "weight": weight, "country": country},
                       prepare, loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(sddf.sha256 if sddf is not None else "",), codebook_name="ess")
