"""Linked panel data: one row per person followed, each harmonised column once per wave.

:func:`load_panel` links the waves of a panel survey (the GSS 2006-2010, 2008-2012 and
2010-2014 long panels and the 2016-2020 wide panel) into one table, by calling the survey's
single-wave loader once per wave (the codebook rules are applied there, unchanged) and joining
the waves on the person id.

Column naming
-------------
Every harmonised column of a wave appears as ``<concept>@<year>``, the interview year of the
wave: ``poor_health@2006``, ``contact_in_person@2006``, ``poor_health@2010``,
``age_group@2006``. Source columns requested with ``columns=`` follow the same rule
(``socrel@2006``; in the wide 2016-2020 file the variable already names its wave,
``lonely1_2@2020``). The design columns appear once, without a year: ``respondent_id``,
``survey``, ``country``, ``weight`` (the panel weight), ``strata`` and ``psu`` (the baseline
wave's), with ``baseline_year``. Names with ``@`` are not Python identifiers: in a formula
quote them with backticks (```poor_health@2010``` ); :func:`socialhealth.models.prospective`
does that for you.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from socialhealth._deprecation import renamed_parameter
from socialhealth.errors import DatasetError, SurveyFileError, UnknownWaveError
from socialhealth.datasets._loader_steps import code_strings
from socialhealth.datasets._surveydata import SurveyData

__all__ = ["PanelData", "load_panel", "load_panel_baseline", "mortality_followup", "panel_column",
           "PANELS"]

PANELS = ("gss_panel06", "gss_panel08", "gss_panel10", "gss_panel20")
_DESIGN = ("respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu")


def panel_column(concept: str, year) -> str:
    """The name of ``concept`` at wave ``year`` in a linked panel: ``"<concept>@<year>"``.

    Examples
    --------
    >>> panel_column("poor_health", 2010)
    'poor_health@2010'

    In R the same column is ``` `poor_health@2010` ``` (backticks), or rename it first.
    """
    return f"{concept}@{int(year)}"


@dataclass
class PanelData(SurveyData):
    """A linked panel: one row per person followed, ``<concept>@<year>`` columns.

    A :class:`SurveyData` whose ``data`` has one row per person interviewed at every wave
    asked for and carrying the panel weight, and whose ``design`` is the baseline wave's design
    (strata and PSUs of the baseline interview) with the panel weight. Extra attributes:

    Attributes
    ----------
    waves : list of int
        The interview years linked, baseline first.
    status : pandas.DataFrame
        One row per person interviewed at baseline: ``respondent_id`` and ``status``
        (``"linked"``, ``"followed, no <weight> weight"``, ``"not selected for follow-up"``,
        ``"deceased"``, ``"ineligible"``, ``"attrited"``); the counts are in
        ``provenance["panel"]["accounting"]``.

    Examples
    --------
    >>> import tempfile, os
    >>> from socialhealth import datasets
    >>> from socialhealth.datasets._panel import write_example_long
    >>> path = write_example_long(os.path.join(tempfile.mkdtemp(), "panel.dta"))
    >>> p = datasets.load_panel("gss_panel06", path, waves=[2006, 2008, 2010], cache=False)
    >>> p.waves, len(p.data), p.status["status"].value_counts().to_dict()
    ([2006, 2008, 2010], 3, {'linked': 3, 'attrited': 2, 'deceased': 1})

    In R: ``merge()`` of the waves' rows on the person id; ``svydesign(ids = ~vpsu, strata =
    ~vstrat, weights = ~wtpannr123, nest = TRUE, data = linked)``.
    """

    waves: list | None = None
    status: pd.DataFrame = None

    @renamed_parameter("year", "wave", since="0.1.0")
    def column(self, concept: str, wave) -> pd.Series:
        """The column ``<concept>@<wave>`` of :attr:`data` (``wave``: one of :attr:`waves`).

        Examples
        --------
        >>> import pandas as pd
        >>> p = PanelData("x", pd.DataFrame({"lonely@2016": [True]}), pd.DataFrame(), {}, {},
        ...               waves=[2016, 2020])
        >>> p.column("lonely", 2016).tolist()
        [True]
        """
        name = panel_column(concept, wave)
        if name not in self.data.columns:
            from socialhealth.errors import MissingColumnError

            raise MissingColumnError([name], self.data.columns, "the linked panel")
        return self.data[name]

    def __repr__(self) -> str:
        acc = (self.provenance.get("panel") or {}).get("accounting", {})
        return (f"PanelData({self.name!r}, waves={self.waves}, persons linked={len(self.data)}, "
                f"baseline={acc.get('baseline', '?')}, weight="
                f"{(self.provenance.get('panel') or {}).get('weight_variable')!r})")


# ------------------------------------------------------------------------------ helpers
def _gss_long_years(name: str) -> list[int]:
    from socialhealth.datasets._codebook import load_codebook

    return [int(y) for y in load_codebook("gss_panel_long")["panels"][name]["years"]]


def ordered_waves(name: str, waves, what: str, example: str) -> list[int]:
    """``waves`` as distinct increasing ints (two or more, baseline first), else DatasetError;
    ``what`` / ``example`` word the message ("interview years", "[2006, 2010]")."""
    if waves is None or isinstance(waves, (str, int, np.integer)) or len(list(waves)) < 2:
        raise DatasetError(f"load_panel({name!r}): waves= needs two or more {what}, "
                           f"baseline first (e.g. waves={example}); got {waves!r}.")
    ws = [int(w) for w in waves]
    if len(set(ws)) != len(ws) or ws != sorted(ws):
        raise DatasetError(f"load_panel({name!r}): waves={ws} must be distinct and in "
                           "increasing order (baseline first).")
    return ws


def _check_waves(name: str, waves) -> list[int]:
    ws = ordered_waves(name, waves, "interview years", "[2006, 2010]")
    if name == "gss_panel20":
        allowed = [2016, 2018, 2020]
        bad = [w for w in ws if w not in allowed]
        if bad:
            raise UnknownWaveError(f"gss_panel20 has waves {allowed}; got {bad}.")
        if ws not in ([2016, 2020], [2018, 2020]):
            raise DatasetError(
                "gss_panel20 links one cross-section to its 2020 re-interview: waves=[2016, 2020] "
                f"or waves=[2018, 2020] (the 2016 and 2018 samples are different people); got "
                f"{ws}.")
    else:
        years = _gss_long_years(name)
        bad = [w for w in ws if w not in years]
        if bad:
            raise UnknownWaveError(f"{name} has waves {years} (interview years); got {bad}.")
    return ws


def _default_weight(name: str, ws: list[int]) -> str:
    """The panel weight that fits the waves: GSS long panels ``wtpannr12`` when only waves 1-2
    are linked, ``wtpannr123`` when wave 3 is; 2016-2020: ``wtssnr_2``."""
    if name == "gss_panel20":
        return "wtssnr_2"
    years = _gss_long_years(name)
    return "wtpannr123" if years[2] in ws else "wtpannr12"


def _panel20_weights() -> dict:
    """{weight variable: year} for every gss_panel20 weight of every wave."""
    from socialhealth.datasets._codebook import load_codebook

    cb = load_codebook("gss_panel20")["panel"]
    return {f.format(s=spec["suffix"]): int(y) for y, spec in cb["waves"].items()
            for f in cb["weights"]}


def _status_long(name, path, ws, wvar) -> tuple[pd.DataFrame, str]:
    """Person-level follow-up status from the long file's ``wave``/``year``/``panstat``/weight."""
    from socialhealth.datasets._codebook import load_codebook
    from socialhealth.datasets._readers import open_source

    d = load_codebook("gss_panel_long")["design"]
    years = _gss_long_years(name)
    src = open_source(Path(path).expanduser())
    need = [d["id"], d["wave"], d["year"], "panstat", wvar]
    absent = [c for c in need if c not in set(src.columns)]
    if absent:
        raise SurveyFileError(f"{path} lacks {absent}: not a GSS long panel file as distributed.")
    raw = src.read(need).data
    pid = pd.Series(code_strings(raw[d["id"]]), index=raw.index)
    k = raw[d["wave"]].to_numpy(dtype=float)
    iv = ~np.isnan(raw[d["year"]].to_numpy(dtype=float))
    st = raw["panstat"].astype("string").fillna("").str.lower()
    w = raw[wvar].to_numpy(dtype=float)
    kb = years.index(ws[0]) + 1
    klast = years.index(ws[-1]) + 1
    later = [years.index(y) + 1 for y in ws[1:]]
    base_ids = pd.unique(pid[(k == kb) & iv])
    frame = pd.DataFrame({"pid": pid, "k": k, "iv": iv, "st": st, "w": w})
    frame = frame[frame["pid"].isin(set(base_ids))]
    between = frame[(frame["k"] > kb) & (frame["k"] <= klast)]
    dead = set(between.loc[between["st"].str.contains("deceased"), "pid"])
    inel = set(between.loc[between["st"].str.contains("not eligible"), "pid"]) - dead
    followed = set.intersection(*[set(frame.loc[(frame["k"] == kk) & frame["iv"], "pid"])
                                  for kk in later])
    # the weight must be present (> 0) on the person's row of every linked wave
    has_w = set.intersection(*[set(frame.loc[(frame["k"] == kk) & (frame["w"] > 0), "pid"])
                               for kk in [kb, *later]])
    out = []
    for i in base_ids:
        if i in followed:
            s = "linked" if i in has_w else f"followed, no {wvar} weight"
        elif i in dead:
            s = "deceased"
        elif i in inel:
            s = "ineligible"
        else:
            s = "attrited"
        out.append(s)
    rule = ("panstat of the rows after baseline up to the last wave linked: 'deceased' -> "
            "deceased; other 'not eligible' (institution, outside US, incapacitated) -> "
            "ineligible; interviewed (year present) at every later wave linked -> followed; "
            "else attrited (eligible but not re-interviewed, or dropped out at an earlier wave)")
    return pd.DataFrame({"respondent_id": base_ids, "status": out}), rule


def _status_panel20(path, ws, wvar) -> tuple[pd.DataFrame, str]:
    from socialhealth.datasets._codebook import load_codebook
    from socialhealth.datasets._readers import open_source

    cb = load_codebook("gss_panel20")["panel"]
    src = open_source(Path(path).expanduser())
    need = [cb["id"], cb["sample"], "panstat", wvar]
    absent = [c for c in need if c not in set(src.columns)]
    if absent:
        raise SurveyFileError(f"{path} lacks {absent}: not the GSS 2016-2020 panel file.")
    raw = src.read(need).data
    base = raw[raw[cb["sample"]].to_numpy(dtype=float) == ws[0]]
    ps = base["panstat"].to_numpy(dtype=float)
    w = base[wvar].to_numpy(dtype=float)
    out = np.full(len(base), "attrited", dtype=object)
    out[ps == 0] = "not selected for follow-up"
    out[ps == 33] = "deceased"
    out[np.isin(ps, [3, 31, 32, 34])] = "ineligible"
    fol = ps == 1
    out[fol & (w > 0)] = "linked"
    out[fol & ~(w > 0)] = f"followed, no {wvar} weight"
    rule = ("panstat: 1 re-interviewed -> followed; 0 not selected for the 2020 re-interview "
            "(random subsample of 2016) -> not selected for follow-up; 33 deceased; 3, 31 "
            "(outside US), 32 (institution), 34 (incapacitated) -> ineligible; 2 selected, not "
            "re-interviewed -> attrited")
    return pd.DataFrame({"respondent_id": code_strings(base[cb["id"]]), "status": out}), rule


# ------------------------------------------------------------------------------ public
def load_panel(name: str, path, waves: Sequence[int], weight: str | None = None, *,
               columns: Sequence[str] | None = None, cache: bool = True) -> PanelData:
    """Link the waves of a panel into one row per person followed.

    Each wave is loaded with the survey's single-wave loader (``datasets.load(name, path,
    wave=year, ...)``, so every codebook rule is the one the cross-sectional analyses use) and
    the waves are joined on the person id (GSS long panels ``firstid``, 2016-2020 ``yearid``).
    Columns are named ``<concept>@<year>`` (see :mod:`socialhealth.datasets._panel`).

    UKHLS, ELSA and the RAND HRS file are linked the same way from their wave files, with
    waves given as wave numbers (``load_panel("ukhls", folder, waves=[9, 11])``, columns
    ``<concept>@9``): weights, design and row accounting in
    ``socialhealth.datasets._panel_files``.

    Parameters
    ----------
    name : {"gss_panel06", "gss_panel08", "gss_panel10", "gss_panel20", "ukhls", "elsa", "hrs"}
    path : str or path-like
        The panel file as distributed (e.g. ``gss_panel06_long.dta.zip``, ``gss_panel20.dta``;
        HRS ``randhrs1992_2022v1.dta``); UKHLS / ELSA: the folder of wave files, a list of
        files (one per wave) or ``{wave: file}``.
    waves : list of int
        Interview years, baseline first: e.g. ``[2006, 2010]``, ``[2006, 2008, 2010]``;
        gss_panel20 ``[2016, 2020]`` or ``[2018, 2020]``; UKHLS / ELSA / HRS wave numbers.
    weight : str, optional
        The panel weight. Default: the one that fits the waves, GSS long panels ``wtpannr12``
        (waves 1 and 2 only) or ``wtpannr123`` (wave 3 linked; respondents of all three
        waves, non-response adjusted); gss_panel20 ``wtssnr_2``, the non-response-adjusted
        weight of the 2020 re-interview (the only wave-2 survey weights in gss_panel20 are
        ``wtssnr_2``, ``wtssall_2`` and ``wtss_2``, all labelled "weight variable": checked on
        the real file's labels; which one NORC recommends for panel analysis [U]). Any other
        weight of the file may be named (``"wtpan123"``, ``"wtssall_2"``); ``provenance["panel"]
        ["weight_variable"]`` records the one used. Persons without it (or with 0) are counted
        as ``"followed, no <weight> weight"`` and left out.
    columns : list of str, optional
        Source variables to add for every wave (``<variable>@<year>``).
    cache : bool
        Passed to the single-wave loaders.

    Returns
    -------
    PanelData
        ``data``: one row per person linked, design columns ``respondent_id, survey, country,
        baseline_year, weight, strata, psu`` then ``<concept>@<year>`` for every harmonised
        concept of every wave. ``design``: the baseline wave's strata and PSUs (nested) with
        the panel weight. ``provenance["panel"]``: waves, weight, the per-wave loader
        provenance, and ``accounting`` = persons ``baseline`` (interviewed at baseline),
        ``not selected for follow-up``, ``deceased``, ``ineligible`` (institution, outside the
        US, incapacitated), ``attrited``, ``followed`` (interviewed at every later wave) and
        ``linked`` (followed and with the weight): baseline = the sum of the others but
        ``followed``.

    Raises
    ------
    DatasetError, UnknownWaveError, SurveyFileError
        Unknown panel, waves that cannot be linked, a weight the file does not have.

    Examples
    --------
    On generated data (a small Stata file laid out as the GSS long panels, written by
    :func:`write_example_long`):

    >>> import tempfile, os
    >>> from socialhealth import datasets
    >>> from socialhealth.datasets._panel import write_example_long
    >>> path = write_example_long(os.path.join(tempfile.mkdtemp(), "panel.dta"))
    >>> p = datasets.load_panel("gss_panel06", path, waves=[2006, 2010], cache=False)
    >>> p.provenance["panel"]["accounting"]
    {'baseline': 6, 'linked': 3, 'deceased': 1, 'ineligible': 0, 'attrited': 2, 'followed': 3}
    >>> p.data[["respondent_id", "weight", "poor_health@2006", "poor_health@2010"]]
      respondent_id  weight  poor_health@2006  poor_health@2010
    0             1     1.5             False              True
    1             2     0.5             False             False
    2             4     1.0              True              True

    In R: ``merge(subset(long, wave == 1), subset(long, wave == 3), by = "firstid",
    suffixes = c("@2006", "@2010"))`` keeping ``wtpannr123 > 0``, then ``svydesign(ids =
    ~vpsu, strata = ~vstrat, weights = ~wtpannr123, nest = TRUE, data = linked)``.
    """
    from socialhealth.datasets import load as load_one
    from socialhealth.datasets._panel_files import FILE_PANELS, load_file_panel

    if name in FILE_PANELS:
        return load_file_panel(name, path, waves, weight, columns=columns, cache=cache)
    if name not in PANELS:
        raise DatasetError(f"load_panel: {name!r} is not a linked-panel survey; choose one of "
                           f"{list(PANELS) + ['ukhls', 'elsa', 'hrs']}.")
    ws = _check_waves(name, waves)
    wvar = weight or _default_weight(name, ws)
    per_wave_weight: dict[int, str | None] = {}
    if name == "gss_panel20":
        allw = _panel20_weights()
        if wvar in {w.rsplit("_", 1)[0] for w in allw}:   # a weight family: the 2020 one
            wvar = f"{wvar}_2"
        if wvar not in allw:
            raise DatasetError(f"weight={wvar!r} is not a gss_panel20 weight; choose one of "
                               f"{sorted(allw)}.")
        wyear = allw[wvar]
        if wyear not in ws:
            raise DatasetError(f"weight={wvar!r} belongs to the {wyear} wave, which is not linked "
                               f"(waves={ws}).")
        for y in ws:
            per_wave_weight[y] = wvar if y == wyear else None
    else:
        from socialhealth.datasets._codebook import load_codebook

        allw = load_codebook("gss_panel_long")["design"]["weights"]
        if wvar not in allw:
            raise DatasetError(f"weight={wvar!r} is not a {name} weight; choose one of {allw}.")
        wyear = ws[0]
        for y in ws:
            per_wave_weight[y] = wvar
    loaded = {}
    for y in ws:
        kw: dict[str, Any] = {"wave": y, "cache": cache}
        if per_wave_weight[y] is not None:
            kw["weight"] = per_wave_weight[y]
        if columns:
            kw["columns"] = list(columns)
        loaded[y] = load_one(name, path, **kw)
    if name == "gss_panel20":
        status, rule = _status_panel20(path, ws, wvar)
    else:
        status, rule = _status_long(name, path, ws, wvar)
    # join on the person id, baseline first
    base = loaded[ws[0]].data
    design = pd.DataFrame({
        "respondent_id": base["respondent_id"], "survey": base["survey"],
        "country": base["country"], "baseline_year": base["year"],
        "strata": base["strata"], "psu": base["psu"]})
    wide = design
    weights = {}
    for y in ws:
        d = loaded[y].data
        if d["respondent_id"].duplicated().any():
            raise DatasetError(f"{name} wave {y}: the person id is not unique; cannot link.")
        weights[y] = d.set_index("respondent_id")["weight"]
        rest = d.drop(columns=[c for c in _DESIGN if c != "respondent_id"])
        rest = rest.rename(columns={c: panel_column(c, y) for c in rest.columns
                                    if c != "respondent_id"})
        wide = wide.merge(rest, on="respondent_id", how="inner", validate="one_to_one")
    w = weights[wyear].reindex(wide["respondent_id"]).to_numpy(dtype=float)
    if name != "gss_panel20":   # a person's panel weight is the same on each of their rows
        for y in ws:
            other = weights[y].reindex(wide["respondent_id"]).to_numpy(dtype=float)
            if not np.allclose(other, w, rtol=0, atol=0):
                raise DatasetError(f"{name}: {wvar} differs between waves of the same person "
                                   f"(wave {y}); the file is not a GSS long panel as distributed.")
    wide.insert(4, "weight", w)
    keep = w > 0
    wide = wide.loc[keep].reset_index(drop=True)
    linked_ids = set(wide["respondent_id"])
    st = status.copy()
    # the status file and the join must agree on who is linked
    acc_linked = set(st.loc[st["status"] == "linked", "respondent_id"])
    if acc_linked != linked_ids:
        raise DatasetError(
            f"{name}: linking by id found {len(linked_ids)} persons but the follow-up status "
            f"(panstat, weights) says {len(acc_linked)}; please report this with the file's "
            f"sha256.")
    counts = st["status"].value_counts()
    order = ["linked", f"followed, no {wvar} weight", "not selected for follow-up", "deceased",
             "ineligible", "attrited"]
    acc = OrderedDict(baseline=int(len(st)))
    for k in order:
        if k in counts.index or k in ("linked", "deceased", "ineligible", "attrited"):
            acc[k] = int(counts.get(k, 0))
    acc["followed"] = int(acc["linked"] + counts.get(f"followed, no {wvar} weight", 0))
    # codebook: one row per concept and wave
    cbs = []
    for y in ws:
        cb = loaded[y].codebook.copy()
        cb = cb[~cb["concept"].isin(["weight", "strata", "psu"])]
        cb["concept"] = [panel_column(c, y) for c in cb["concept"]]
        cbs.append(cb)
    codebook = pd.concat(cbs, ignore_index=True)
    bprov = loaded[ws[0]].provenance
    years_txt = " -> ".join(str(y) for y in ws)
    prov = OrderedDict(
        survey=name, wave=years_txt, file=bprov.get("file"), sha256=bprov.get("sha256"),
        rows_kept=int(len(wide)), loader="load_panel",
        population=bprov.get("population"),
        panel=OrderedDict(
            waves=ws, baseline=ws[0], id_variable="yearid" if name == "gss_panel20" else "firstid",
            weight_variable=wvar, weight_wave=wyear,
            weight_default=weight is None,
            design=f"strata and PSUs of the baseline wave ({ws[0]}), nested; weight {wvar}",
            accounting=dict(acc), status_rule=rule,
            naming="<concept>@<year>",
            waves_provenance={str(y): loaded[y].provenance for y in ws}))
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust",
            "notes": f"linked panel {years_txt}: baseline strata/PSUs, panel weight {wvar}"}
    _note_single_psu_strata(prov, wide, spec)
    return PanelData(name, wide, codebook, dict(prov), spec, waves=ws, status=st)


def write_example_long(path) -> str:
    """Write a 6-person GSS-long-layout Stata file (for examples and tests); returns the path.

    Persons 1, 2, 4 are interviewed in 2006, 2008 and 2010 (``wtpannr123`` 1.5, 0.5, 1.0);
    person 3 died before 2010, persons 5 and 6 were not re-interviewed.

    Examples
    --------
    >>> import tempfile, os
    >>> write_example_long(os.path.join(tempfile.mkdtemp(), "p.dta")).endswith("p.dta")
    True
    """
    import pyreadstat

    rows = []
    re_ = "Selected, Eligible, and Reinterviewed"
    nr = "Selected, Eligible, but not Reinterviewed"
    dead = "Selected, but not Eligible and not Reinterviewd Because r Was Deceased"
    # id, w12, w123, [(year, panstat, health, socrel, age, sex) per wave]
    spec: list[tuple[int, float | None, float | None, list[tuple]]] = [
        (1, 1.2, 1.5,
         [(2006, "", 2, 1, 30, 1), (2008, re_, 2, 2, 32, 1), (2010, re_, 3, 2, 34, 1)]),
        (2, 0.8, 0.5,
         [(2006, "", 1, 3, 50, 2), (2008, re_, 1, 3, 52, 2), (2010, re_, 2, 4, 54, 2)]),
        (3, 1.0, None,
         [(2006, "", 2, 7, 70, 2), (2008, re_, 3, 7, 72, 2), (None, dead, None, None, None, None)]),
        (4, 1.0, 1.0,
         [(2006, "", 4, 2, 40, 1), (2008, re_, 4, 2, 42, 1), (2010, re_, 4, 1, 44, 1)]),
        (5, None, None,
         [(2006, "", 1, 1, 25, 1), (None, nr, None, None, None, None),
          (None, "Attrited", None, None, None, None)]),
        (6, 1.0, None,
         [(2006, "", 3, 5, 60, 2), (2008, re_, 3, 5, 62, 2), (None, nr, None, None, None, None)]),
    ]
    for pid, w12, w123, ws in spec:
        for k, (yr, ps, h, soc, age, sex) in enumerate(ws, start=1):
            rows.append({"firstid": pid, "wave": k, "year": yr, "panstat": ps,
                         "vstrat": 100 + pid % 2, "vpsu": 1 + (pid // 2) % 2,
                         "wtpannr12": w12, "wtpannr123": w123, "wtpan12": w12, "wtpan123": w123,
                         "health": h, "socrel": soc, "socfrend": soc, "age": age, "sex": sex,
                         "marital": 1, "degree": 2, "region": 1})
    df = pd.DataFrame(rows)
    for c in df.columns:
        if c != "panstat":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    pyreadstat.write_dta(df, str(path), version=15)
    return str(path)


# ------------------------------------------------------------------------------ baseline sample
_KNOWN_ALIVE = ("linked", "ineligible")      # + "followed, no <w> weight"


def load_panel_baseline(name: str, path, waves: Sequence[int], weight: str | None = None, *,
                        panel_weight: str | None = None, columns: Sequence[str] | None = None,
                        cache: bool = True) -> PanelData:
    """Every person of a panel's baseline sample, followed or not: for attrition and mortality.

    One row per person interviewed at baseline (not only those followed, as in
    :func:`load_panel`), with the baseline wave's harmonised columns (``<concept>@<year>``),
    the later waves' columns for the persons linked (missing for the others), the follow-up
    status, and a mortality proxy. The design is the baseline wave's (strata, PSUs, nested)
    with a weight that covers the whole baseline sample, so that followed and lost persons can
    be compared and retention modelled (:func:`socialhealth.models.attrition`).

    Baseline weight:

    * ``gss_panel20``: the cross-sectional weight of the baseline interview, default family
      ``wtssnr`` (``wtssnr_1a`` for 2016, ``wtssnr_1b`` for 2018); ``"wtssall"``/``"wtss"``
      may be named. Every baseline respondent has it.
    * GSS long panels (2006-2010, 2008-2012, 2010-2014): the files carry no cross-sectional
      weight, and no weight covers every wave-1 respondent. The baseline sample is therefore
      the persons interviewed at waves 1 and 2, weighted by ``wtpannr12`` (default; or
      ``wtpan12``), followed up to wave 3: ``waves`` must end at wave 3. Deaths and losses
      between waves 1 and 2 are outside this sample (documented in ``provenance``).

    Parameters
    ----------
    name : {"gss_panel06", "gss_panel08", "gss_panel10", "gss_panel20"}
    path : str or path-like
        The panel file as distributed.
    waves : list of int
        As in :func:`load_panel`, baseline first; its last wave is the follow-up.
    weight : str, optional
        Baseline weight (see above).
    panel_weight : str, optional
        The panel weight of :func:`load_panel` (default as there), kept as column
        ``panel_weight`` on the linked rows (NaN elsewhere).
    columns : list of str, optional
        Source variables to add for every wave.
    cache : bool
        Passed to the single-wave loaders.

    Returns
    -------
    PanelData
        ``data``: design columns ``respondent_id, survey, country, baseline_year, weight,
        strata, psu``; ``panel_weight``; ``followup_status`` (as ``PanelData.status``:
        "linked", "followed, no <w> weight", "not selected for follow-up", "deceased",
        "ineligible", "attrited"); ``followed`` (True for "linked" and "followed, no <w>
        weight"); the mortality proxy ``died`` (True deceased, False known alive at the
        follow-up wave: followed or ineligible, missing when vital status is unknown:
        attrited, not selected), ``death_wave`` (the interview year of the wave at which the
        death was recorded) and ``followup_years`` (years from the baseline interview to the
        follow-up wave, for persons with known vital status; see Notes); then the
        ``<concept>@<year>`` columns. ``design``: baseline strata and PSUs, nested, baseline
        weight. ``provenance["panel"]`` as in :func:`load_panel` plus ``baseline_weight`` and
        ``baseline_sample``.

    Raises
    ------
    DatasetError, UnknownWaveError, SurveyFileError
        As :func:`load_panel`; long panels whose ``waves`` do not end at wave 3.

    Notes
    -----
    Mortality is a proxy: the GSS panels record only that a person selected for re-interview
    was not re-interviewed because they had died (``panstat``), not a date of death, and they
    are not linked to a death index. The time scale is time on study in years, measured in
    interview years: a death is placed at the follow-up wave that recorded it (the death fell
    somewhere between the person's last interview and that wave), survivors are censored at the
    follow-up wave. All persons therefore share one follow-up time (4 years for 2006-2010,
    2 for 2018-2020): a Cox model then estimates a hazard ratio over one interval (close to an
    odds ratio of death when deaths are rare) and the Kaplan-Meier curve has one step, the
    weighted share surviving. Persons whose vital status is unknown (attrited, not selected)
    have ``died`` and ``followup_years`` missing: they are outside the mortality analysis, and
    if their mortality differs the proxy is biased.

    Examples
    --------
    On generated data (:func:`write_example_long`; persons 1-4 and 6 were interviewed in 2006
    and 2008, person 3 died before 2010, person 6 was not re-interviewed):

    >>> import tempfile, os
    >>> from socialhealth import datasets
    >>> from socialhealth.datasets._panel import write_example_long
    >>> path = write_example_long(os.path.join(tempfile.mkdtemp(), "panel.dta"))
    >>> b = datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2010], cache=False)
    >>> print(b.data[["respondent_id", "weight", "followup_status", "followed", "died",
    ...               "followup_years", "poor_health@2010"]].to_string())
      respondent_id  weight followup_status  followed   died  followup_years  poor_health@2010
    0             1     1.2          linked      True  False             4.0              True
    1             2     0.8          linked      True  False             4.0             False
    2             3     1.0        deceased     False   True             4.0              <NA>
    3             4     1.0          linked      True  False             4.0              True
    4             6     1.0        attrited     False   <NA>             NaN              <NA>

    In R: the baseline wave's rows (``subset(long, wave == 1 & wtpannr12 > 0)``) merged with
    the linked rows (``all.x = TRUE``); ``svydesign(ids = ~vpsu, strata = ~vstrat, weights =
    ~wtpannr12, nest = TRUE, data = baseline)``.
    """
    from socialhealth.datasets import load as load_one

    if name not in PANELS:
        raise DatasetError(f"load_panel_baseline: {name!r} is not a linked-panel survey; choose "
                           f"one of {list(PANELS)}.")
    ws = _check_waves(name, waves)
    panel = load_panel(name, path, ws, weight=panel_weight, columns=columns, cache=cache)
    kw: dict[str, Any] = {"wave": ws[0], "cache": cache}
    if columns:
        kw["columns"] = list(columns)
    if name == "gss_panel20":
        fam = weight or "wtssnr"
        allw = _panel20_weights()
        fams = sorted({w.rsplit("_", 1)[0] for w in allw})
        if fam in allw and allw[fam] != ws[0]:
            raise DatasetError(f"weight={weight!r} is the {allw[fam]} wave's weight; the "
                               f"baseline ({ws[0]}) weight is one of "
                               f"{sorted(w for w, y in allw.items() if y == ws[0])}.")
        if fam not in allw and fam not in fams:
            raise DatasetError(f"weight={weight!r}: the baseline weight is a gss_panel20 weight "
                               f"family, one of {fams}.")
        kw["weight"] = fam.rsplit("_", 1)[0]
        sample_txt = f"every {ws[0]} respondent (the {ws[0]} cross-section)"
    else:
        years = _gss_long_years(name)
        if ws[-1] != years[2]:
            raise DatasetError(
                f"load_panel_baseline({name!r}): the long panels have no weight covering every "
                f"wave-1 respondent, so the baseline sample is the persons interviewed at waves "
                f"1 and 2 (weight wtpannr12) and the follow-up is wave 3: waves must end at "
                f"{years[2]}; got {ws}.")
        wv = weight or "wtpannr12"
        if wv not in ("wtpannr12", "wtpan12"):
            raise DatasetError(f"weight={weight!r}: for the GSS long panels the baseline weight is "
                               "'wtpannr12' (default) or 'wtpan12' (persons of waves 1 and 2).")
        kw["weight"] = wv
        sample_txt = (f"persons interviewed at waves 1 and 2 ({years[0]}, {years[1]}), weight "
                      f"{wv}; deaths and losses before {years[1]} are outside the sample")
    base = load_one(name, path, **kw)
    bw = base.provenance.get("weight_variable")
    bd = base.data
    if bd["respondent_id"].duplicated().any():
        raise DatasetError(f"{name} wave {ws[0]}: the person id is not unique.")
    rest = bd.drop(columns=[c for c in _DESIGN if c != "respondent_id"])
    rest = rest.rename(columns={c: panel_column(c, ws[0]) for c in rest.columns
                                if c != "respondent_id"})
    st = panel.status.set_index("respondent_id")["status"]
    ids = bd["respondent_id"]
    missing_status = ~ids.isin(st.index)
    if missing_status.any():
        raise DatasetError(f"{name}: {int(missing_status.sum())} baseline respondents have no "
                           "follow-up status; please report this with the file's sha256.")
    status = st.reindex(ids).to_numpy(dtype=object)
    followed = np.array([s == "linked" or str(s).startswith("followed") for s in status])
    dead = status == "deceased"
    alive = followed | (status == "ineligible")
    died = pd.array(np.where(dead, True, False), dtype="boolean")
    died[~(dead | alive)] = pd.NA
    span = float(ws[-1] - ws[0])
    fu = np.where(dead | alive, span, np.nan)
    out = pd.DataFrame({
        "respondent_id": ids.to_numpy(), "survey": bd["survey"].to_numpy(),
        "country": bd["country"].to_numpy(), "baseline_year": bd["year"].to_numpy(),
        "weight": bd["weight"].to_numpy(dtype=float), "strata": bd["strata"].to_numpy(),
        "psu": bd["psu"].to_numpy()})
    pw = panel.data.set_index("respondent_id")["weight"]
    out["panel_weight"] = pw.reindex(out["respondent_id"]).to_numpy(dtype=float)
    out["followup_status"] = status
    out["followed"] = followed
    out["died"] = died
    out["death_wave"] = np.where(dead, float(ws[-1]), np.nan)
    out["followup_years"] = fu
    out = out.merge(rest, on="respondent_id", how="left", validate="one_to_one")
    later = [c for c in panel.data.columns if "@" in c and not c.endswith(f"@{ws[0]}")]
    out = out.merge(panel.data[["respondent_id", *later]], on="respondent_id", how="left",
                    validate="one_to_one")
    cb = base.codebook.copy()
    cb = cb[~cb["concept"].isin(["weight", "strata", "psu"])]
    cb["concept"] = [panel_column(c, ws[0]) for c in cb["concept"]]
    codebook = pd.concat([cb, panel.codebook[~panel.codebook["concept"].str.endswith(
        f"@{ws[0]}")]], ignore_index=True)
    prov = OrderedDict(panel.provenance)
    pprov = OrderedDict(prov["panel"])
    pprov.update(baseline_weight=bw, baseline_sample=sample_txt,
                 mortality=("proxy from panstat (deceased before the follow-up wave); time on "
                            f"study in interview years, {span:g} years for everyone with a known "
                            "vital status; no date of death, no death-index linkage"),
                 design=f"strata and PSUs of the baseline wave ({ws[0]}), nested; baseline "
                        f"weight {bw}")
    prov.update(rows_kept=int(len(out)), loader="load_panel_baseline", panel=pprov)
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust",
            "notes": f"baseline sample of {name} {ws[0]}: {sample_txt}"}
    _note_single_psu_strata(prov, out, spec)
    return PanelData(name, out, codebook, dict(prov), spec, waves=ws, status=panel.status)


def _note_single_psu_strata(prov: dict, data: pd.DataFrame, spec: dict) -> None:
    """Count the strata with one PSU in the linked rows (provenance ``single_psu_strata``) and
    say in ``notes`` what the design does with them."""
    from socialhealth.datasets._engine import single_psu_strata

    lonely = single_psu_strata(data, spec)
    if lonely is None:
        return
    prov["single_psu_strata"] = lonely
    notes = [n for n in prov.get("notes", []) if "have a single PSU" not in str(n)]
    prov["notes"] = notes + ([lonely["note"]] if lonely["count"] else [])


def mortality_followup(baseline: PanelData) -> PanelData:
    """The persons of a baseline sample with a known vital status, ready for survival models.

    A domain (``design.subset``) of :func:`load_panel_baseline`'s design: the persons whose
    ``died`` is known (dead, or known alive at the follow-up wave), with ``event`` (1 died,
    0 censored) and ``time`` (= ``followup_years``, see the Notes of
    :func:`load_panel_baseline` for the proxy and its time scale). The rest of the baseline
    sample keeps its place in the design, so standard errors are those of a domain.

    Parameters
    ----------
    baseline : PanelData
        From :func:`load_panel_baseline`.

    Returns
    -------
    PanelData
        The same data with ``time`` and ``event`` columns; ``design`` restricted to the persons
        with a known vital status. Use it with :func:`socialhealth.models.coxph` and
        :func:`socialhealth.models.kaplan_meier`.

    Raises
    ------
    DatasetError
        ``baseline`` lacks the ``died``/``followup_years`` columns, or nobody has a known vital
        status.

    Examples
    --------
    >>> import tempfile, os
    >>> from socialhealth import datasets, models
    >>> from socialhealth.datasets._panel import write_example_long
    >>> path = write_example_long(os.path.join(tempfile.mkdtemp(), "panel.dta"))
    >>> b = datasets.load_panel_baseline("gss_panel06", path, waves=[2006, 2010], cache=False)
    >>> m = datasets.mortality_followup(b)
    >>> len(m.design), m.data[["time", "event"]].sum().tolist()
    (4, [16.0, 1.0])
    >>> km = models.kaplan_meier(m.design, time="time", event="event")
    >>> round(float(km.to_frame()["surv"].iloc[-1]), 4)      # 1 - 1.0 / (1.2 + 0.8 + 1 + 1)
    0.75

    In R: ``dm <- subset(des, !is.na(died))``; ``svykm(Surv(followup_years, died) ~ 1, dm)``;
    ``svycoxph(Surv(followup_years, died) ~ x, dm)``.
    """
    need = {"died", "followup_years"}
    if not isinstance(baseline, PanelData) or not need <= set(baseline.data.columns):
        raise DatasetError("mortality_followup needs the baseline sample of a panel: "
                           "datasets.load_panel_baseline(name, path, waves).")
    d = baseline.data
    known = d["died"].notna().to_numpy() & d["followup_years"].notna().to_numpy()
    if not known.any():
        raise DatasetError("nobody in the baseline sample has a known vital status.")
    ev = d["died"].astype("Float64").astype(float).to_numpy()
    out = baseline.assign(time=d["followup_years"].to_numpy(dtype=float), event=ev)
    design = out.design.subset(known)
    res = PanelData(out.name, out.data, out.codebook, out.provenance, out.design_spec,
                    waves=baseline.waves, status=baseline.status)
    res.design = design
    return res
