"""General Social Survey (NORC) loaders: the cross-section layout (cumulative file and single-year
releases) and the panels.

Codebooks: ``codebooks/gss.toml`` (cross-section layout), ``codebooks/gss_panel20.toml`` (2016-2020
panel, wide) and ``codebooks/gss_panel_long.toml`` (2006-2010, 2008-2012, 2010-2014 panels,
long, as converted from gssr's R factors: codes are factor level positions).

Design (all files): PSU ``vpsu`` coded 1/2 within stratum ``vstrat`` (year x vstrat in the
cumulative file), so ``nest=True``; single-PSU strata exist, so ``lonely_psu="adjust"``. In R::

    options(survey.lonely.psu = "adjust")
    svydesign(ids = ~vpsu, strata = ~interaction(year, vstrat), weights = ~wtssps,
              nest = TRUE, data = gss)
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show_list
from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import load_codebook
from socialhealth.datasets._loader_steps import (
    _compute_extras, _extra_sources, code_strings as _strings, require_columns as _require)
from socialhealth.datasets._readers import Source
from socialhealth.datasets._schema import concept_columns

LOADER_VERSION = 2  # 2: the design note names the weight used in each year of the file


# ================================================================================ 2016-2020 panel
def load_panel20(path, *, wave: int = 2020, weight: str | None = None,
                 columns: Sequence[str] | None = None, cache: bool = True):
    """Load one wave of the GSS 2016-2020 panel (wide file) in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        ``gss_panel20.dta`` (or the agency's .zip, or .sav). Only the needed columns are read.
    wave : {2016, 2018, 2020}
        2016 and 2018 return that year's cross-section (``samptype``); 2020 returns the 1823
        re-interviewed respondents, i.e. everyone with a 2020 weight (``wtssnr_2``); the others
        are counted in ``provenance["rows_dropped"]``.
    weight : {"wtssnr", "wtssall", "wtss"}, optional
        The weight family (suffix added for the wave). Default ``wtssnr`` (non-response adjusted).
    columns : list of str, optional
        Source variables to add under their own names (e.g. ``["lonely1_2"]``).
    cache : bool
        Use the Parquet cache keyed by the file's sha256 (default True).

    Returns
    -------
    SurveyData
        Design ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")`` with strata ``vstrat_<s>`` and PSUs ``vpsu_<s>``; in R
        ``svydesign(ids=~vpsu_2, strata=~vstrat_2, weights=~wtssnr_2, nest=TRUE)``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("gss_panel20")["years"]    # an open download from gss.norc.org
    '2016, 2018, 2020'
    >>> sd = datasets.load("gss_panel20", path="gss_panel20.dta", wave=2020,
    ...                    columns=["lonely1_2"])   # needs the GSS file  # doctest: +SKIP

    With NORC's ``gss_panel20.dta``, ``sd.provenance["rows_kept"]`` is 1823, and
    ``sd.data["lonely1_2"]`` keeps the source item next to the harmonised columns.
    """
    cb = load_codebook("gss_panel20")
    waves = cb["panel"]["waves"]
    if str(wave) not in waves:
        raise UnknownWaveError(
            f"gss_panel20 has waves {sorted(int(w) for w in waves)}; got wave={wave!r}.")
    spec = waves[str(wave)]
    fmt = {"s": spec["suffix"]}
    families = [w.format(**fmt) for w in cb["panel"]["weights"]]
    if weight is None:
        wvar = families[0]
    else:
        wvar = weight if weight in families else f"{weight}_{fmt['s']}"
        if wvar not in families:
            raise DatasetError(
                f"weight={weight!r} is not a gss_panel20 weight; choose one of "
                f"{[f.rsplit('_', 1)[0] for f in families]} (suffix added for the wave).")
    strata = cb["panel"]["strata"].format(**fmt)
    psu = cb["panel"]["psu"].format(**fmt)
    idv, samp = cb["panel"]["id"], cb["panel"]["sample"]

    def prepare(src: Source) -> _engine.Plan:
        _require(src, [idv, samp, strata, psu, wvar], "GSS 2016-2020 panel")

        def select(df):
            reasons = OrderedDict()
            keep = np.ones(len(df), bool)
            if "sample" in spec:
                in_sample = df[samp].to_numpy(dtype=float) == spec["sample"]
                reasons[f"other cross-section (samptype is not {spec['sample']})"] = int(
                    (~in_sample).sum())
                keep &= in_sample
            has_w = ~np.isnan(df[wvar].to_numpy(dtype=float))
            reason = (f"no {wave} weight (not re-interviewed)" if str(wave) == "2020"
                      else f"no {wvar} weight")
            reasons[reason] = int((keep & ~has_w).sum())
            keep &= has_w
            has_d = ~np.isnan(df[strata].to_numpy(dtype=float)) \
                & ~np.isnan(df[psu].to_numpy(dtype=float))
            reasons[f"no {strata}/{psu}"] = int((keep & ~has_d).sum())
            keep &= has_d
            return keep, reasons

        def design(df):
            return {"respondent_id": _strings(df[idv]), "wave": [str(wave)] * len(df),
                    "year": [int(wave)] * len(df), "weight": df[wvar].to_numpy(dtype=float),
                    "strata": _strings(df[strata]), "psu": _strings(df[psu])}

        return _engine.Plan(
            codebook_name="gss_panel20", codebook=cb, fmt=fmt, wave=wave,
            read=[idv, samp, strata, psu, wvar], select=select, design=design,
            design_spec={"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                         "lonely_psu": "adjust",
                         "notes": f"PSUs: {psu}; strata: {strata} (PSUs numbered within "
                                  f"strata); weight: {wvar}. {cb['panel']['weight_notes']}"},
            country="US", extra_provenance={"weight_variable": wvar})

    return _engine.run("gss_panel20", path, {"wave": wave, "weight": wvar}, prepare,
                       loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       codebook_name="gss_panel20")


# ================================================================================ long panels
def _died_long(df: pd.DataFrame, spec: dict, fmt: dict, context: dict):
    """Deceased-before-a-later-wave proxy from the long panels' ``panstat`` strings."""
    full = context["full"]
    pid = context["pid"]
    wvar = context.get("weight", "")
    if wvar.endswith("123"):
        # a three-wave weight keeps only persons re-interviewed in the last wave: every kept
        # row would be False (a 0% "mortality" that is an artefact of the selection)
        text = (f"missing: with the three-wave weight {wvar} every person kept was "
                "re-interviewed in the last wave, so nobody kept can have died; load with "
                "weight='wtpannr12' (persons interviewed in waves 1 and 2) or link the waves "
                "(panstat 'deceased' in a later wave) for the mortality proxy")
        return [pd.NA] * len(df), text
    status = full["panstat"].astype("string").fillna("").str.lower()
    dead_ids = set(full.loc[status.str.contains("deceased").to_numpy(), pid].tolist())
    last_wave = full[context["wavevar"]].max()
    alive_ids = set(full.loc[(full[context["wavevar"]] == last_wave).to_numpy()
                             & status.str.contains("reinterviewed").to_numpy()
                             & ~status.str.contains("not reinterviewed").to_numpy(), pid].tolist())
    vals = [True if i in dead_ids else (False if i in alive_ids else pd.NA) for i in df[pid]]
    text = ("True if any row of the person has panstat '... not reinterviewed because r was "
            "deceased'; False if re-interviewed in the last wave; else missing")
    return vals, text


def load_panel_long(name: str, path, *, wave: int | None = None, weight: str | None = None,
                    columns: Sequence[str] | None = None, cache: bool = True):
    """Load a GSS long panel file (2006-2010, 2008-2012 or 2010-2014) in the harmonised schema.

    The files hold one row per person and wave (``firstid`` x ``wave`` 1/2/3), including rows
    for waves where the person was not interviewed (``year`` missing): those are dropped and
    counted. The panels carry panel weights only (no cross-sectional ``wtssall``):
    ``wtpannr123`` (default; persons interviewed in all three waves, non-response adjusted),
    ``wtpan123``, ``wtpannr12`` and ``wtpan12`` (interviewed in waves 1 and 2).

    Parameters
    ----------
    name : {"gss_panel06", "gss_panel08", "gss_panel10"}
    path : str or path-like
        ``gss_panel06_long.dta`` or a .zip holding it (read directly, no unpacking to disk).
    wave : int, optional
        Interview year (e.g. 2006, 2008, 2010 for gss_panel06); None = all waves (long).
    weight : str, optional
        One of the panel weights above.
    columns : list of str, optional
        Source variables to add under their own names.

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")``; in R ``svydesign(ids=~vpsu, strata=~vstrat,
        weights=~wtpannr123, nest=TRUE)``. With all waves, persons appear once per wave and
        the PSU (not the person) is the cluster.

    Examples
    --------
    >>> # needs the file:
    >>> sd = load_panel_long("gss_panel10", "gss_panel10_long.dta.zip", wave=2014)  # doctest: +SKIP

    ``sd.codebook.set_index("concept").loc["ucla3_isolated", "source_variables"]`` is then
    ``'isolated'``.
    """
    cb = load_codebook("gss_panel_long")
    panels = cb["panels"]
    if name not in panels:
        raise DatasetError(f"{name!r} is not a GSS long panel; choose one of {sorted(panels)}.")
    years = [int(y) for y in panels[name]["years"]]
    if wave is not None and int(wave) not in years:
        raise UnknownWaveError(f"{name} has waves {years} (interview years); got wave={wave!r}.")
    d = cb["design"]
    wvar = weight or d["weights"][0]
    if wvar not in d["weights"]:
        raise DatasetError(f"weight={weight!r} is not a {name} weight; choose one of "
                           f"{d['weights']}.")
    idv, wavev, yearv, strata, psu = d["id"], d["wave"], d["year"], d["strata"], d["psu"]

    def prepare(src: Source) -> _engine.Plan:
        _require(src, [idv, wavev, yearv, strata, psu, wvar], f"GSS {name} long panel",
                 "The gssr copy of the 2008-2012 panel lacks vstrat/vpsu; use NORC's file. "
                 if name == "gss_panel08" else "")
        ctx: dict = {"pid": idv, "wavevar": wavev, "weight": wvar}

        def select(df):
            ctx["full"] = df
            reasons = OrderedDict()
            keep = np.ones(len(df), bool)
            if wave is not None:
                k = years.index(int(wave)) + 1
                this = df[wavev].to_numpy(dtype=float) == k
                reasons["other waves"] = int((~this).sum())
                keep &= this
            iv = ~np.isnan(df[yearv].to_numpy(dtype=float))
            reasons["not interviewed in this wave (placeholder row of the long file)"] = int(
                (keep & ~iv).sum())
            keep &= iv
            has_w = ~np.isnan(df[wvar].to_numpy(dtype=float))
            reasons[f"no {wvar} weight ({d['weight_notes'][wvar]})"] = int((keep & ~has_w).sum())
            keep &= has_w
            return keep, reasons

        def design(df):
            return {"respondent_id": _strings(df[idv]),
                    "wave": _strings(df[yearv]),
                    "year": df[yearv].to_numpy(dtype=float),
                    "weight": df[wvar].to_numpy(dtype=float),
                    "strata": _strings(df[strata]), "psu": _strings(df[psu])}

        return _engine.Plan(
            codebook_name="gss_panel_long", codebook=cb, fmt={}, wave=wave,
            read=[idv, wavev, yearv, strata, psu, wvar, "panstat"], select=select, design=design,
            design_spec={"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                         "lonely_psu": d["lonely_psu"],
                         "notes": f"PSUs: {psu}; strata: {strata} (PSUs numbered within "
                                  f"strata); weight: {wvar} (panel weight: "
                                  f"{d['weight_notes'][wvar]}). The files have no "
                                  f"cross-sectional weight. {d['notes']}"},
            country="US", custom_rules={"died_long": _died_long}, context=ctx,
            extra_provenance={"weight_variable": wvar},
            # [population.waves.<n>] is keyed by the wave number (1/2/3), not the year
            population_key=None if wave is None else years.index(int(wave)) + 1)

    return _engine.run(name, path, {"wave": wave, "weight": wvar}, prepare,
                       loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       codebook_name="gss_panel_long")


# ================================================================================ cumulative file
def load_cumulative(path, *, wave: int | Sequence[int] | None = None, weight: str | None = None,
                    columns: Sequence[str] | None = None, cache: bool = True):
    """Load a GSS file in the cross-section layout: NORC's cumulative file (1972-2024,
    ``gss7224_r*.dta``) or a single-year release (``GSS2018.dta``).

    Parameters
    ----------
    path : str or path-like
        The Stata file (or NORC's .zip of it).
    wave : int or list of int, optional
        Survey year(s) to keep; None keeps all years.
    weight : str, optional
        ``None`` (default) = the recommended weight per row: the first of ``wtssnrps``,
        ``wtssps``, ``wtssnr``, ``wtssall``, ``wtss`` that the file has and the row does not
        miss (NORC: the non-response-adjusted post-stratified ``wtssnrps`` where available;
        files without the PS weights, such as GSS2018.dta, get the non-response-adjusted
        ``wtssnr``). Or name any weight column the file has (those five, or the ``_nea`` /
        ``_next`` variants) to use it throughout (rows where it is missing are dropped and
        counted). The choice is recorded in ``provenance["weight_variable"]`` and, per year,
        ``provenance["weight_by_year"]``.
    columns : list of str, optional
        Source variables to add under their own names (e.g. ``["satsoc", "hlthmntl"]``).
    cache : bool
        Use the Parquet cache keyed by the file's sha256 (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")`` with strata = year x vstrat. In R (gssr vignette):
        ``svydesign(ids=~vpsu, strata=~interaction(year, vstrat), weights=~wtssps, nest=TRUE)``.
        Schema columns, then the extra columns of ``codebooks/gss.toml`` ``[extra.*]``
        (social evenings, satsoc, PROMIS-type health items, ISSP contact items, poor-health
        days; codebook rows say "extra column"; ``provenance["extra_columns"]``). Items asked
        in some years only are missing in the other years' rows;
        ``provenance["measured_by_year"]`` gives the answers per concept and year and
        ``provenance["not_measured_by_year"]`` the loaded years without any.

    Examples
    --------
    A tiny file laid out like the cumulative file (the real one is ``gss7224_r2.dta``):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "gss_tiny.dta"
    >>> pd.DataFrame({"year": [2018] * 4 + [2022] * 2, "id": [1, 2, 3, 4, 1, 2],
    ...               "vstrat": [1, 1, 2, 2, 1, 1], "vpsu": [1, 2, 1, 2, 1, 2],
    ...               "wtssnrps": [1.5, 0.5, 1.2, 0.8, 1.0, 1.0],
    ...               "wtssps": [1.4, 0.6, 1.1, 0.9, 1.0, 1.0], "wtssall": [1.0] * 6,
    ...               "sex": [1, 2, 2, 1, 1, 2], "age": [30, 45, 60, 75, 41, 52],
    ...               "health": [1, 2, 4, 3, 2, 1]}).to_stata(path, write_index=False)
    >>> sd = load_cumulative(path, wave=2018, cache=False)
    >>> sd.provenance["weight_by_year"], sd.provenance["rows_kept"]
    ({'2018': 'wtssnrps'}, 4)
    >>> print(sd.data[["year", "sex", "age", "self_rated_health", "weight"]].to_string())
       year     sex   age self_rated_health  weight
    0  2018    male  30.0         excellent     1.5
    1  2018  female  45.0              good     0.5
    2  2018  female  60.0              poor     1.2
    3  2018    male  75.0              fair     0.8
    >>> sd.design.n_strata, sd.design.n_psu
    (2, 4)
    >>> tmp.cleanup()
    """
    cb = load_codebook("gss")
    d = cb["design"]
    first, last = cb["survey"]["years"]
    wanted: list[int] | None
    if wave is None:
        wanted = None
    elif isinstance(wave, Iterable) and not isinstance(wave, (str, bytes)):
        wanted = [int(w) for w in wave]
    else:
        wanted = [int(wave)]
    if wanted is not None:
        bad = [w for w in wanted if not first <= w <= last or w in cb["survey"]["no_survey_years"]]
        if bad:
            raise UnknownWaveError(
                f"the GSS cumulative codebook covers {first}-{last} (no survey in "
                f"{cb['survey']['no_survey_years']}); got year(s) {bad}.")
    selectable = [*d["weights"], *d.get("other_weights", [])]
    if weight is not None and weight not in selectable:
        raise DatasetError(f"weight={weight!r}: choose one of {selectable} (those the file has) "
                           f"or None (recommended per year).")
    yv, idv, strata, psu = d["year"], d["id"], d["strata"], d["psu"]

    def prepare(src: Source) -> _engine.Plan:
        present = [w for w in d["weights"] if w in src.columns]
        _require(src, [yv, idv, strata, psu], "GSS cumulative")
        if not present and weight is None:
            raise SurveyFileError(f"{src.path} has none of the GSS weights {d['weights']}.")
        if weight is not None and weight not in src.columns:
            have = [w for w in selectable if w in src.columns]
            raise SurveyFileError(f"{src.path} has no {weight!r}; its weights are {have}.")
        order = [weight] if weight else present
        extra_src = [s for s in _extra_sources(cb) if s in set(src.columns)]
        info: dict = {"weight_variable": weight or " / ".join(order),
                      "weight_choice": ("chosen by the user (weight=)" if weight else
                                        "recommended per row: the first non-missing of "
                                        + ", ".join(order)),
                      "weights_in_file": [w for w in selectable if w in src.columns]}

        def select(df):
            reasons = OrderedDict()
            keep = np.ones(len(df), bool)
            y = df[yv].to_numpy(dtype=float)
            if wanted is not None:
                inyr = np.isin(y, wanted)
                reasons["other years"] = int((~inyr).sum())
                keep &= inyr
                absent = sorted(set(wanted) - set(y[inyr].astype(int).tolist()))
                if absent:
                    raise UnknownWaveError(f"{src.path} has no rows for year(s) {absent}.")
            w, used = _weight_per_row(df, order)
            reasons[f"no weight ({' / '.join(order)} all missing)"] = int(
                (keep & np.isnan(w)).sum())
            keep &= ~np.isnan(w)
            zero = keep & (w <= 0)
            reasons["zero weight"] = int(zero.sum())
            keep &= ~zero
            nod = np.isnan(df[strata].to_numpy(dtype=float)) \
                | np.isnan(df[psu].to_numpy(dtype=float))
            reasons[f"no {strata}/{psu}"] = int((keep & nod).sum())
            keep &= ~nod
            took = set(used[keep].tolist())
            info["weight_variable"] = " / ".join(v for v in order if v in took) or " / ".join(order)
            by = pd.DataFrame({"y": y[keep], "v": used[keep]}).drop_duplicates()
            info["weight_by_year"] = {}
            for r in by.sort_values(["y", "v"]).itertuples():
                k = str(int(r.y))
                info["weight_by_year"][k] = (r.v if k not in info["weight_by_year"]
                                             else info["weight_by_year"][k] + " / " + r.v)
            spec["notes"] = _design_note(weight, order, info["weight_by_year"],
                                         d["weight_notes"])
            return keep, reasons

        def design(df):
            y = df[yv].to_numpy(dtype=float)
            w, _ = _weight_per_row(df, order)   # the same rule as in select(), on the kept rows
            ys = _strings(y)
            return {"respondent_id": [f"{a}-{b}" for a,
                                      b in zip(ys, _strings(df[idv]), strict=True)],
                    "wave": ys, "year": y, "weight": w,
                    "strata": [f"{a}-{b}" for a, b in zip(ys, _strings(df[strata]), strict=True)],
                    "psu": _strings(df[psu])}

        # select() replaces the notes with the weights it actually used, year by year
        spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                "lonely_psu": "adjust", "notes": _design_note(weight, order, {},
                                                              d["weight_notes"])}
        plan = _engine.Plan(
            codebook_name="gss", codebook=cb, fmt={},
            wave=wanted[0] if wanted is not None and len(wanted) == 1 else None,
            read=[yv, idv, strata, psu, *order, *extra_src],
            select=select, design=design, extras=lambda kept: _compute_extras(kept, cb),
            design_spec=spec, country="US")
        plan.extra_provenance = info  # select() fills weight_by_year before provenance is built
        return plan

    sd = _engine.run("gss", path, {"wave": wanted, "weight": weight}, prepare,
                     loader_version=LOADER_VERSION, columns=columns, cache=cache,
                     codebook_name="gss")
    return _by_year(sd, cb)


def _weight_per_row(df: pd.DataFrame, order: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's weight: the first of ``order`` that is not missing (and its name)."""
    w = np.full(len(df), np.nan)
    used = np.array([None] * len(df), dtype=object)
    for v in order:
        x = df[v].to_numpy(dtype=float)
        fill = np.isnan(w) & ~np.isnan(x)
        w[fill] = x[fill]
        used[fill] = v
    return w, used


def _year_runs(by_year: dict[str, str]) -> str:
    """'1972-2002 (24 survey years): wtssall; 2004, 2006: wtssnr' from {'1972': 'wtssall',
    ...}: neighbouring years of the file with the same weight share one entry; a range names
    how many survey years it holds, since the GSS skipped years."""
    runs: list[list[str]] = []
    for year, var in sorted(by_year.items(), key=lambda kv: int(kv[0])):
        if runs and runs[-1][0] == var:
            runs[-1].append(year)
        else:
            runs.append([var, year])
    return "; ".join(f"{', '.join(ys)}: {v}" if len(ys) <= 2 else
                     f"{ys[0]}-{ys[-1]} ({len(ys)} survey years): {v}"
                     for v, *ys in runs)


def _design_note(weight: str | None, order: list[str], by_year: dict[str, str],
                 weight_notes: str) -> str:
    """The design note of a GSS cross-section load: which weight each year of the file used,
    then the codebook's note on which releases carry which weights."""
    rule = (f"{weight} (chosen with weight=)" if weight else
            "the recommended one per row, the first answered of " + ", ".join(order))
    used = f"; used in this file: {_year_runs(by_year)}" if by_year else ""
    return (f"PSUs: vpsu; strata: year x vstrat (PSUs numbered within strata); weight: "
            f"{rule}{used}. Weights across GSS releases: {weight_notes}")


def _by_year(sd, cb: dict):
    """Per concept and loaded year, the number of rows with an answer; years without any are
    "not measured" that year (provenance and codebook notes). Computed from the harmonised
    columns on every load (cache hits included)."""
    data = sd.data
    years = sorted(int(y) for y in pd.unique(data["year"].dropna()))
    counts, missing_years = {}, {}
    notes = sd.codebook["notes"].astype(object).tolist()
    idx = {c: i for i, c in enumerate(sd.codebook["concept"])}
    for c in [*concept_columns(), *sd.provenance.get("extra_columns", [])]:
        if c not in data.columns:
            continue
        per = data[c].notna().groupby(data["year"]).sum()
        got = {str(int(y)): int(per.get(y, 0)) for y in years}
        counts[c] = {y: n for y, n in got.items() if n}
        none = [int(y) for y, n in got.items() if n == 0]
        if none and counts[c]:
            missing_years[c] = none
            spec = cb["concepts"].get(c, {})
            doc = (f" (NORC asked it in {show_list(spec['years'], quote=False)})"
                   if "years" in spec else "")
            if c in idx:
                notes[idx[c]] = (f"Not measured in {show_list(none)}{doc}; answers in "
                                 f"{show_list(sorted(int(y) for y in counts[c]))}. "
                                 + str(notes[idx[c]]))
    sd.codebook["notes"] = notes
    sd.provenance["measured_by_year"] = counts
    sd.provenance["not_measured_by_year"] = missing_years
    if not sd.provenance.get("wave") and len(years) == 1:
        # a single-year release (GSS2018.dta) or a cumulative file with one year left: the
        # wave is that year even without wave= (several years keep wave None)
        sd.provenance["wave"] = str(years[0])
    return sd


def load_panel06(path, **kwargs):
    """Load the GSS 2006-2010 panel; see :func:`load_panel_long` (waves 2006, 2008, 2010).

    Examples
    --------
    >>> # needs the file:
    >>> sd = load_panel06("gss_panel06_long.dta.zip", wave=2006)  # doctest: +SKIP

    In R: ``options(survey.lonely.psu = "adjust")``; ``svydesign(ids = ~vpsu, strata = ~vstrat,
    weights = ~wtpannr123, nest = TRUE, data = gss)`` (weight as chosen, see
    :func:`load_panel_long`).
    """
    return load_panel_long("gss_panel06", path, **kwargs)


def load_panel08(path, **kwargs):
    """Load the GSS 2008-2012 panel; see :func:`load_panel_long` (waves 2008, 2010, 2012).

    Examples
    --------
    >>> # needs the file:
    >>> sd = load_panel08("gss_panel08_long.dta", wave=2008)  # doctest: +SKIP

    In R: ``options(survey.lonely.psu = "adjust")``; ``svydesign(ids = ~vpsu, strata = ~vstrat,
    weights = ~wtpannr123, nest = TRUE, data = gss)`` (weight as chosen, see
    :func:`load_panel_long`).
    """
    return load_panel_long("gss_panel08", path, **kwargs)


def load_panel10(path, **kwargs):
    """Load the GSS 2010-2014 panel; see :func:`load_panel_long` (waves 2010, 2012, 2014).

    Examples
    --------
    >>> # needs the file:
    >>> sd = load_panel10("gss_panel10_long.dta.zip", wave=2014)  # doctest: +SKIP

    In R: ``options(survey.lonely.psu = "adjust")``; ``svydesign(ids = ~vpsu, strata = ~vstrat,
    weights = ~wtpannr123, nest = TRUE, data = gss)`` (weight as chosen, see
    :func:`load_panel_long`).
    """
    return load_panel_long("gss_panel10", path, **kwargs)
