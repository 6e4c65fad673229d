"""National Health Interview Survey (NCHS) loader: the Sample Adult file, 2019-2024.

Reads ``adultYYcsv.zip`` as downloaded (or the ``adultYY.csv`` inside). Codebook:
``codebooks/nhis.toml``; its variable names and codes were checked against NCHS's 2021 and
2024 Sample Adult Stata input programs (variable and value labels) and can still be replaced
with ``variables={"lonely": "<NAME>"}``.

* Missing codes 7 refused, 8 not ascertained, 9 don't know (97/98/99 for two-digit items, as in
  NCHS's value labels) become missing and are counted per variable and code; blank cells are
  counted as ``"blank"``.
* Loneliness only in 2024, social support July 2020 - December 2021 and 2024: other years get
  "not measured" codebook rows and all-missing columns (never silently).
* Design: ``WTFA_A``, strata ``PSTRAT``, PSU ``PPSU`` (numbered within strata: ``nest=True``),
  ``lonely_psu="adjust"``. In R (asdfree)::

      svydesign(ids = ~ppsu, strata = ~pstrat, weights = ~wtfa_a, nest = TRUE, data = adult24)
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Sequence

import numpy as np

from socialhealth._stack import user_stacklevel
from socialhealth.errors import SocialHealthWarning, SurveyFileError, UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import _unusable_weight, _resolve_variables, _wrap_missing
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1


def _direction_checks(df, names: dict, weight: str, cb: dict, out: dict, notes: list,
                      data_warnings: list | None = None) -> None:
    """Plausibility check of the answer-code order of the 5-point frequency items.

    For each ``[direction_checks.<key>]`` of nhis.toml whose variable is in the file: among valid
    answers 1-5 (at least ``min_n`` rows), the weighted share of the code expected to be rare must
    not exceed that of the code expected to be common; otherwise the codes probably run the other
    way and the harmonised indicator would be inverted: a SocialHealthWarning says so (kept in
    ``provenance["notes"]``) and ``provenance["code_direction_checks"]`` records the shares.
    """
    spec = cb.get("direction_checks", {})
    min_n = int(spec.get("min_n", 200))
    wt = df[weight].to_numpy(dtype=float)
    for key, chk in spec.items():
        if not isinstance(chk, dict) or names.get(key) not in df.columns:
            continue
        var = names[key]
        x = df[var].to_numpy(dtype=float)
        ok = np.isin(x, [1.0, 2.0, 3.0, 4.0, 5.0]) & np.isfinite(wt)
        n = int(ok.sum())
        rec = {"variable": var, "n": n, "rare_code": chk["rare"], "common_code": chk["common"]}
        if n < min_n or wt[ok].sum() <= 0:
            out[key] = {**rec, "checked": False, "reason": f"fewer than {min_n} valid answers"}
            continue
        tot = wt[ok].sum()
        rare = float(wt[ok & (x == chk["rare"])].sum() / tot)
        common = float(wt[ok & (x == chk["common"])].sum() / tot)
        good = rare <= common
        out[key] = {**rec, "checked": True, "share_rare": round(rare, 4),
                    "share_common": round(common, 4), "plausible": good}
        if not good:
            msg = (f"{var}: code {chk['rare']} (expected rare) holds {rare:.1%} of the weighted "
                   f"answers and code {chk['common']} (expected common) {common:.1%}: the answer "
                   f"codes seem to run the other way in this file, which would invert the "
                   f"harmonised '{chk.get('concept', key)}' indicator. Check the NHIS "
                   f"codebook of this year ({chk['basis']}).")
            notes.append(msg)
            if data_warnings is None:
                warnings.warn(msg, SocialHealthWarning, stacklevel=user_stacklevel())
            else:        # the plan warns on every load, from the file or from the cache
                data_warnings.append(msg)


def load_nhis(path, *, wave: int | None = None, variables: dict | None = None,
              columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load one NHIS Sample Adult file (2019-2024) in the harmonised schema.

    Parameters
    ----------
    path : str or path-like
        ``adult24csv.zip`` from the NCHS FTP site, or the ``adult24.csv`` inside it.
    wave : int, optional
        The survey year the file must hold (checked against ``SRVY_YR``); None accepts the
        file's year. Years outside 2019-2024 raise :class:`~socialhealth.errors.UnknownWaveError`.
    variables : dict, optional
        Replace codebook variable names, keyed by the codebook's ``[variables]`` keys (e.g.
        ``{"lonely": "LONELY_A", "support": "SUPPORT_A"}``, the NCHS names) for a file whose
        names differ.
    columns : list of str, optional
        Source variables to add under their own names.
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")``; in R ``svydesign(ids=~ppsu, strata=~pstrat, weights=~wtfa_a,
        nest=TRUE)``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> [f["name"] for f in datasets.info("nhis")["files"]][-1]    # open download (CDC)
    'adult24csv.zip'
    >>> sd = datasets.load("nhis", path="adult24csv.zip")   # needs the CDC file  # doctest: +SKIP

    ``sd.design.proportion("lonely", by="age_group")`` then gives the prevalence by age.
    """
    cb = load_codebook("nhis")
    first, last = cb["years"]["first"], cb["years"]["last"]
    if wave is not None and not first <= int(wave) <= last:
        raise UnknownWaveError(f"the NHIS codebook covers {first}-{last} (2019 redesign onward); "
                               f"got wave={wave!r}.")
    state: dict = {}

    def prepare(src: Source) -> _engine.Plan:
        names, used = _resolve_variables(cb, src.columns, overrides=variables)
        req = [names[k] for k in ("id", "year", "weight", "strata", "psu")]
        require_columns(src, req, "NHIS Sample Adult")
        codes = {}
        for g, spec in cb["missing"].items():
            if g != "meanings":
                for k in spec["keys"]:
                    codes[names[k]] = list(spec["codes"])
        _wrap_missing(src, codes)
        peek = src.read([names["year"]]).data[names["year"]].to_numpy(dtype=float)
        yrs = sorted(set(peek[~np.isnan(peek)].astype(int).tolist()))
        if len(yrs) != 1:
            raise SurveyFileError(f"{src.path}: SRVY_YR holds {yrs[:5]}; pass one NHIS annual "
                                  f"Sample Adult file.")
        year = yrs[0]
        if wave is not None and year != int(wave):
            raise SurveyFileError(f"{src.path} is the NHIS {year} file, not {wave}.")
        if not first <= year <= last:
            raise UnknownWaveError(f"{src.path} holds NHIS {year}; the codebook covers "
                                   f"{first}-{last}.")
        state["year"] = year
        w, s, p = names["weight"], names["strata"], names["psu"]
        direction: dict = {}
        notes: list[str] = []
        data_warnings: list[str] = []

        def select(df):
            reasons = OrderedDict()
            bad = _unusable_weight(df, w)
            reasons[f"zero or missing weight {w}"] = int(bad.sum())
            nod = ~bad & (np.isnan(df[s].to_numpy(dtype=float))
                          | np.isnan(df[p].to_numpy(dtype=float)))
            reasons[f"no {s}/{p}"] = int(nod.sum())
            return ~bad & ~nod, reasons

        def design(df):
            n = len(df)
            _direction_checks(df, names, w, cb, direction, notes, data_warnings)
            return {"respondent_id": [f"{year}-{i}" for i in code_strings(df[names["id"]])],
                    "wave": [str(year)] * n, "year": [year] * n,
                    "weight": df[w].to_numpy(dtype=float),
                    "strata": code_strings(df[s]), "psu": code_strings(df[p])}

        return _engine.Plan(
            codebook_name="nhis", codebook=cb, fmt=names, wave=year, read=req, select=select,
            design=design,
            design_spec={"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
                         "lonely_psu": "adjust", "notes": cb["design"]["notes"]},
            country="US", notes=notes, data_warnings=data_warnings,
            extra_provenance={"weight_variable": w, "variables": used,
                              "code_direction_checks": direction,
                              "missing_code_meanings": dict(cb["missing"]["meanings"])})

    return _engine.run("nhis", path, {"wave": wave, "variables": sorted((variables or {}).items())},
                       prepare, loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(codebook_hash("nhis"),))
