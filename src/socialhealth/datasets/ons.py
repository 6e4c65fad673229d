"""ONS Opinions and Lifestyle Survey (OPN) and Community Life Survey (CLS) loaders.

Both carry the ONS recommended loneliness measures: the direct question "How often do you feel
lonely?" (Often/always, Some of the time, Occasionally, Hardly ever, Never) and the UCLA-3 items
with ONS labels. **Microdata variable names, codes and access routes are unverified [U]**: the
codebooks (``codebooks/opn.toml``, ``codebooks/cls.toml``) hold placeholder names that must be
checked against the documentation of the file you obtained and replaced with ``variables=``,
e.g. ``load_opn(path, variables={"lonely": "MCZ_LONELY", "weight": "WT"})``. The codebook rows
and ``provenance["variables"]`` say which names were used.

Licensed / secure access: without ``path`` a :class:`~socialhealth.errors.LicensedDataError`
says where to apply. Design: weights only (design variables [U]), with a
:class:`~socialhealth.datasets.DesignFallbackWarning`. In R: ``svydesign(ids=~1, weights=~wt)``.
"""
from __future__ import annotations

from typing import Sequence


from socialhealth.errors import UnknownWaveError
from socialhealth.datasets import _engine
from socialhealth.datasets._codebook import codebook_hash, load_codebook
from socialhealth.datasets._readers import Source
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets._loader_steps import (_licensed, _resolve_variables, _UserDesign,
                                                 _wrap_missing)
from socialhealth.datasets._loader_steps import code_strings, require_columns

LOADER_VERSION = 1
_TITLES = {"opn": "The ONS Opinions and Lifestyle Survey", "cls": "The Community Life Survey"}


def _load(name: str, path, *, wave, variables, psu, strata, columns, cache) -> SurveyData:
    cb = load_codebook(name)
    _UserDesign.check(name.upper(), psu, strata)
    sv = cb["survey"]
    if path is None:
        raise _licensed(name, _TITLES[name], sv["access"],
                       f"datasets.load({name!r}, path='<your file>.sav', variables={{...}})")
    first, last = sv["first_year"], sv["last_year"]
    if wave is not None and not first <= int(wave) <= last:
        raise UnknownWaveError(f"the {name.upper()} codebook covers {first}-{last} [U]; "
                               f"got wave={wave!r}.")

    def prepare(src: Source) -> _engine.Plan:
        names, used = _resolve_variables(cb, src.columns, overrides=variables)
        idv, wv = names["id"], names["weight"]
        require_columns(src, [idv, wv], f"{name.upper()} ({_TITLES[name]})",
                 "Its variable names are unverified in socialhealth [U]: if your file names the "
                 "id or weight differently, pass variables={'id': ..., 'weight': ...}. ")
        _wrap_missing(src, negative=True, skip=(idv,))
        ud = _UserDesign(name.upper(), src, wv, psu, strata, cb["design"]["notes"])

        def design(df):
            n = len(df)
            return {"respondent_id": code_strings(df[idv]),
                    "wave": [None if wave is None else str(wave)] * n,
                    "year": [None if wave is None else int(wave)] * n,
                    "weight": df[wv].to_numpy(dtype=float), **ud.columns(df, code_strings)}

        return _engine.Plan(
            codebook_name=name, codebook=cb, fmt=names, wave=wave, read=[idv, wv] + ud.read,
            select=ud.select, design=design, design_spec=ud.spec, country="GB",
            notes=[ud.message], warnings=[ud.warning] if ud.warning else [],
            extra_provenance={"weight_variable": wv, "variables": used,
                              "variables_unverified": True, "design_variables": ud.provenance})

    return _engine.run(name, path, {"wave": wave, "variables": sorted((variables or {}).items()),
                                    "psu": psu, "strata": strata},
                       prepare, loader_version=LOADER_VERSION, columns=columns, cache=cache,
                       extra_key=(codebook_hash(name),))


def load_opn(path=None, *, wave: int | None = None, variables: dict | None = None,
             psu: str | None = None, strata: str | None = None,
             columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load an ONS Opinions and Lifestyle Survey microdata file (names [U], configurable).

    Parameters
    ----------
    path : str or path-like
        The OPN file you obtained (.sav, .dta, .csv or .zip). Required: OPN microdata are
        secure/licensed [U route]; without it a LicensedDataError says where to apply.
    wave : int, optional
        Survey year (2016-2025 [U]); recorded as ``wave``/``year``.
    variables : dict, optional
        Replace the codebook's placeholder names, keyed ``id``, ``weight``, ``age``, ``sex``,
        ``lonely``, ``ucla_companionship``, ``ucla_left_out``, ``ucla_isolated``; e.g.
        ``{"lonely": "MCZ_LONELY"}``. Matching is case-insensitive.
    psu, strata : str, optional
        Your file's design variables, both or neither (the official ones are unverified here).
        Given, the design is ``SurveyDesign(weights, strata, psu, nest=True,
        lonely_psu="adjust")`` and rows with a missing PSU or stratum are dropped and counted;
        otherwise it is weights-only, with a warning.
    columns : list of str, optional
        Source variables to add under their own names.
    cache : bool
        Use the Parquet cache (default True).

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight")`` (weights only); ``lonely`` = "often/always" on the
        direct question (the ONS headline). In R ``svymean(~lonely, svydesign(ids=~1,
        weights=~wt))``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("opn")["access"]           # from the UK Data Service, under licence
    'licensed'
    >>> # needs the file:
    >>> sd = datasets.load("opn", path="opn_2023.sav", wave=2023,
    ...                    variables={"lonely": "MCZ_LONELY", "weight": "WT"})  # doctest: +SKIP

    ``sd.design.proportion("lonely")`` then gives the weighted prevalence.
    """
    return _load("opn", path, wave=wave, variables=variables, psu=psu, strata=strata,
                 columns=columns, cache=cache)


def load_cls(path=None, *, wave: int | None = None, variables: dict | None = None,
             psu: str | None = None, strata: str | None = None,
             columns: Sequence[str] | None = None, cache: bool = True) -> SurveyData:
    """Load a Community Life Survey (England) microdata file (names [U], configurable).

    Parameters
    ----------
    path : str or path-like
        The CLS file from the UK Data Service [U route]. Required (licensed).
    wave : int, optional
        First year of the survey year (2013 = 2013/14 ... 2024 [U]).
    variables, psu, strata, columns, cache
        As in :func:`load_opn`.

    Returns
    -------
    SurveyData
        ``SurveyDesign(weights="weight")`` (weights only).

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("cls")["access"]
    'licensed'
    >>> # needs the file:
    >>> sd = datasets.load("cls", path="cls_2023_24.sav", wave=2023,
    ...                    variables={"weight": "<your weight>"})  # doctest: +SKIP
    """
    return _load("cls", path, wave=wave, variables=variables, psu=psu, strata=strata,
                 columns=columns, cache=cache)
