"""Linked panels from one file per wave (UKHLS, ELSA) or one wide file (RAND HRS).

:func:`socialhealth.datasets.load_panel` hands ``"ukhls"``, ``"elsa"`` and ``"hrs"`` to
:func:`load_file_panel`: each wave is loaded with the survey's single-wave loader (its codebook
rules unchanged) and the waves are joined on the person id the loader returns as
``respondent_id`` (UKHLS ``pidp``, ELSA ``idauniq``, HRS ``HHIDPN``). Waves are given and
columns named by **wave number** (``lonely_ucla3@9``, ``poor_health@11``): a UKHLS or ELSA wave
spans two calendar years, so the year would not name it.

Weights (``provenance["panel"]["weight_variable"]``):

* UKHLS: the last wave's longitudinal self-completion weight (codebook ``lw``, e.g.
  ``k_indscui_lw``), positive for the wave's respondents who answered at every earlier wave
  of the weight's base (Understanding Society User Guide; which earlier waves exactly [U]).
  A ``weight=`` is read at the last wave (``"xw"``, ``"lw"`` or a variable, with or without
  the prefix).
* ELSA: the codebook holds no longitudinal weight [U]; the default is the baseline wave's
  cross-sectional weight (``w{N}xwgt``), not adjusted for attrition: a
  :class:`~socialhealth.datasets.DesignFallbackWarning` says so; model attrition with
  :func:`socialhealth.models.attrition` or name a longitudinal weight of the last wave's file
  with ``weight=`` (e.g. ``"w9lwgt"`` [U]).
* HRS (RAND file): no longitudinal weight; the baseline wave's ``R{w}WTRESP`` (or
  ``weight="leave_behind"``: ``R{w}LBWGTR``), not attrition-adjusted, with the same warning.

The design is the baseline wave's (strata and PSUs, nested, ``lonely_psu="adjust"``; weights
only when the baseline loader has none, as ELSA). The waves' other loaders drop rows with a
zero or missing cross-sectional weight (see each wave's ``rows_dropped``); the row accounting
(``provenance["panel"]["accounting"]``) counts the baseline persons ``linked`` and, for those not
linked, the first later wave without a row (``"not in wave <w>"``).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth.errors import DatasetError, UnknownWaveError

FILE_PANELS = ("ukhls", "elsa", "hrs")
_ID = {"ukhls": "pidp", "elsa": "idauniq", "hrs": "HHIDPN"}
_DESIGN = ("respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu")


def _waves(name: str, waves) -> list[int]:
    from socialhealth.datasets._codebook import load_codebook

    from socialhealth.datasets._panel import ordered_waves

    ws = ordered_waves(name, waves, "wave numbers", "[9, 11]")
    known = sorted(int(k) for k in load_codebook(name)["waves"])
    bad = [w for w in ws if w not in known]
    if bad:
        raise UnknownWaveError(f"{name} waves are {known[0]}-{known[-1]} (wave numbers, not "
                               f"years); got {bad}.")
    return ws


def _paths(name: str, path, ws: list[int]) -> dict[int, Path]:
    """One file per wave: a {wave: file} dict, a list in the order of ``waves``, or a folder
    (UKHLS ``{prefix}indresp.dta/.sav``, ELSA ``wave_{w}_*``); HRS one RAND file."""
    from socialhealth.datasets._codebook import load_codebook

    if isinstance(path, dict):
        got = {int(k): Path(v) for k, v in path.items()}
        missing = [w for w in ws if w not in got]
        if missing:
            raise DatasetError(f"load_panel({name!r}): path= has no file for wave(s) {missing}.")
        return {w: got[w] for w in ws}
    if isinstance(path, (list, tuple)):
        if len(path) != len(ws):
            raise DatasetError(f"load_panel({name!r}): {len(path)} files for {len(ws)} waves; "
                               "give one file per wave, in the order of waves=.")
        return {w: Path(p) for w, p in zip(ws, path, strict=True)}
    if path is None:
        raise DatasetError(f"load_panel({name!r}): pass path= (the licensed files; see "
                           f"datasets.info({name!r})).")
    p = Path(path)
    if name == "hrs" or not p.is_dir():
        if name != "hrs":
            raise DatasetError(
                f"load_panel({name!r}): {p} is one file; {name.upper()} has one file per wave: "
                "pass the folder holding them, a list (one per wave) or {wave: file}.")
        return {w: p for w in ws}
    cb = load_codebook(name)
    out = {}
    for w in ws:
        if name == "ukhls":
            pre = cb["waves"][str(w)]["prefix"]
            found = [f for f in sorted(p.iterdir()) if f.name.lower() in
                     (f"{pre}indresp.dta", f"{pre}indresp.sav")]
        else:
            found = [f for f in sorted(p.iterdir()) if f.name.lower().startswith(f"wave_{w}_")
                     and f.suffix.lower() in (".dta", ".sav", ".tab")
                     and "elsa_data" in f.name.lower()]
        if len(found) != 1:
            raise DatasetError(
                f"load_panel({name!r}): {len(found)} files for wave {w} in {p} "
                f"({[f.name for f in found]}); pass {{wave: file}} instead.")
        out[w] = found[0]
    return out


def load_file_panel(name: str, path, waves, weight=None, *, columns=None, cache=True):
    """Link the waves of UKHLS, ELSA or the RAND HRS file (see the module docstring).

    Called by :func:`socialhealth.datasets.load_panel`; same arguments, waves as wave numbers.

    Parameters
    ----------
    name : {"ukhls", "elsa", "hrs"}
    path : folder, list of files, {wave: file}, or (HRS) the RAND file
    waves : list of int
        Wave numbers, baseline first.
    weight : str, optional
        See the module docstring.
    columns : list of str, optional
        Source variables added for every wave (``<variable>@<wave>``); each must be in every
        wave's file.
    cache : bool
        Passed to the single-wave loaders.

    Returns
    -------
    PanelData

    Examples
    --------
    On two generated HRS-like waves in one RAND-style file (wave 8 and 9; person 3 has no
    wave-9 interview):

    >>> import os, tempfile, warnings
    >>> import pandas as pd, pyreadstat
    >>> from socialhealth import datasets
    >>> f = os.path.join(tempfile.mkdtemp(), "randhrs.dta")
    >>> pyreadstat.write_dta(pd.DataFrame({"hhidpn": [1.0, 2, 3], "raestrat": [1.0, 1, 2],
    ...     "raehsamp": [1.0, 2, 1], "ragender": [1.0, 2, 1], "r8iwstat": [1.0, 1, 1],
    ...     "r9iwstat": [1.0, 1, 4], "r8wtresp": [100.0, 200, 300], "r9wtresp": [110.0, 190, 0],
    ...     "r8shlt": [1.0, 5, 3], "r9shlt": [2.0, 5, 4]}), f)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     p = datasets.load_panel("hrs", f, waves=[8, 9], cache=False)
    >>> p.data[["respondent_id", "weight", "poor_health@8", "poor_health@9"]]
      respondent_id  weight  poor_health@8  poor_health@9
    0             1   100.0          False          False
    1             2   200.0           True           True
    >>> p.provenance["panel"]["accounting"]
    {'baseline': 3, 'linked': 2, 'not in wave 9': 1}

    In R: ``merge(w8, w9, by = "hhidpn", suffixes = c("@8", "@9"))``; ``svydesign(ids =
    ~raehsamp, strata = ~raestrat, weights = ~r8wtresp, nest = TRUE, data = linked)``.
    """
    from socialhealth.datasets import DesignFallbackWarning, load as load_one
    from socialhealth.datasets._codebook import load_codebook
    from socialhealth.datasets._panel import PanelData, panel_column

    ws = _waves(name, waves)
    files = _paths(name, path, ws)
    cb = load_codebook(name)
    notes = []
    if name == "ukhls":
        wwave = ws[-1]
        wkw = {ws[-1]: weight or "lw"}
        if weight is None and "lw" not in cb["waves"][str(ws[-1])]:
            raise DatasetError(f"ukhls wave {ws[-1]} has no longitudinal weight; pass weight=.")
    elif name == "elsa":
        wwave = ws[0] if weight is None else ws[-1]
        wkw = {wwave: weight or "xw"}
    else:
        wwave = ws[0]
        wkw = {ws[0]: weight or "respondent"}
    if not (name == "ukhls" or (name == "elsa" and weight is not None)):
        msg = (f"{name} panel waves {ws}: weight of wave {wwave} ({wkw[wwave]!r}), a "
               "cross-sectional weight not adjusted for attrition between the waves [no "
               "longitudinal weight in the codebook]; see models.attrition for retention weights.")
        warnings.warn(msg, DesignFallbackWarning, stacklevel=user_stacklevel())
        notes.append(msg)
    loaded = {}
    for w in ws:
        kw = {"wave": w, "cache": cache}
        if w in wkw:
            kw["weight"] = wkw[w]
        if columns:
            kw["columns"] = list(columns)
        loaded[w] = load_one(name, files[w], **kw)
    wvar = loaded[wwave].provenance.get("weight_variable")
    base = loaded[ws[0]].data
    bspec = loaded[ws[0]].design_spec or {}
    has_design = (bspec.get("strata") == "strata" and bspec.get("psu") == "psu"
                  and "strata" in base.columns and "psu" in base.columns)
    design = pd.DataFrame({"respondent_id": base["respondent_id"], "survey": base["survey"],
                           "country": base["country"], "baseline_year": base["year"]})
    if has_design:
        design["strata"], design["psu"] = base["strata"], base["psu"]
    wide = design
    ids = {}
    for w in ws:
        d = loaded[w].data
        if d["respondent_id"].duplicated().any():
            raise DatasetError(f"{name} wave {w}: the person id {_ID[name]} is not unique; "
                               "cannot link.")
        ids[w] = set(d["respondent_id"])
        rest = d.drop(columns=[c for c in _DESIGN if c != "respondent_id" and c in d.columns])
        rest = rest.rename(columns={c: panel_column(c, w) for c in rest.columns
                                    if c != "respondent_id"})
        wide = wide.merge(rest, on="respondent_id", how="inner", validate="one_to_one")
    wseries = loaded[wwave].data.set_index("respondent_id")["weight"]
    wts = wseries.reindex(wide["respondent_id"]).to_numpy(dtype=float)
    wide.insert(4, "weight", wts)
    wide = wide.loc[wts > 0].reset_index(drop=True)
    # accounting: every baseline person linked or not in the first later wave lacking them
    status = []
    for pid in base["respondent_id"]:
        miss = [w for w in ws[1:] if pid not in ids[w]]
        status.append("linked" if not miss else f"not in wave {miss[0]}")
    st = pd.DataFrame({"respondent_id": base["respondent_id"].to_numpy(), "status": status})
    linked = set(wide["respondent_id"])
    if set(st.loc[st["status"] == "linked", "respondent_id"]) != linked:
        raise DatasetError(f"{name}: the row accounting does not match the join; please report.")
    acc = OrderedDict(baseline=int(len(st)), linked=int(len(linked)))
    for w in ws[1:]:
        acc[f"not in wave {w}"] = int((st["status"] == f"not in wave {w}").sum())
    if wwave != ws[0]:
        late = sorted(ids[wwave] - ids[ws[0]])
        acc["weighted but not in the baseline"] = len(late)
    cbs = []
    for w in ws:
        c = loaded[w].codebook.copy()
        c = c[~c["concept"].isin(["weight", "strata", "psu"])]
        c["concept"] = [panel_column(x, w) for x in c["concept"]]
        cbs.append(c)
    codebook = pd.concat(cbs, ignore_index=True)
    bprov = loaded[ws[0]].provenance
    waves_txt = " -> ".join(f"wave {w}" for w in ws)
    dtxt = ("strata and PSUs of the baseline wave, nested" if has_design
            else "weights only (the baseline loader has no strata/PSUs)")
    prov = OrderedDict(
        survey=name, wave=waves_txt, file=str(files[ws[0]]), sha256=bprov.get("sha256"),
        rows_kept=int(len(wide)), loader="load_panel", population=bprov.get("population"),
        panel=OrderedDict(
            waves=ws, baseline=ws[0], id_variable=_ID[name], weight_variable=wvar,
            weight_wave=wwave, weight_default=weight is None,
            design=f"{dtxt}; weight {wvar} (wave {wwave})", accounting=dict(acc),
            status_rule="linked = a row (interviewed, positive weight) at every wave and a "
                        f"positive {wvar}; otherwise the first later wave without a row",
            naming="<concept>@<wave number>", notes=notes,
            files={str(w): str(files[w]) for w in ws},
            waves_provenance={str(w): loaded[w].provenance for w in ws}))
    spec = ({"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
             "lonely_psu": "adjust"} if has_design else {"weights": "weight"})
    spec["notes"] = f"linked panel {waves_txt}: {dtxt}; weight {wvar}"
    return PanelData(name, wide, codebook, dict(prov), spec, waves=ws, status=st)
