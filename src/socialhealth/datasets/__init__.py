"""Survey datasets in one harmonised schema.

>>> from socialhealth import datasets
>>> surveys = datasets.list()
>>> surveys.set_index("name").loc[["gss_panel20", "ess", "demo"], "access"].tolist()
['open', 'registration', 'open']
>>> sd = datasets.load("demo")                       # synthetic: no file needed
>>> sd.data.shape, type(sd.design).__name__, sd.provenance["rows_kept"]
((19602, 105), 'SurveyDesign', 19602)
>>> bool(sd.codebook.set_index("concept").loc["lonely", "measured"])
True
>>> # a real survey: the file as distributed, here the GSS 2016-2020 panel from gss.norc.org
>>> sd = datasets.load("gss_panel20", path="gss_panel20.dta", wave=2020)  # doctest: +SKIP
>>> # linked panels need the GSS panel file (not shipped):
>>> p = datasets.load_panel("gss_panel06", path="gss_panel06_long.dta.zip",
...                         waves=[2006, 2010])                       # doctest: +SKIP

Linked panels (:func:`load_panel`): one row per person followed, each harmonised column per
wave named ``<concept>@<year>`` (``poor_health@2010``).

Open surveys can also be downloaded into the cache first: ``datasets.fetch("brfss",
wave=2023)``, then ``datasets.load("brfss", wave=2023)``.

Registry: ``registry.toml``; codebooks: ``codebooks/<survey>.toml``; schema: ``schema.toml``;
how to add a survey: "Adding a loader" in the repository's ``CONTRIBUTING.md``.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from socialhealth._deprecation import warn_renamed
from socialhealth.errors import (ArgumentError, DataNotCachedError, DatasetError, LicensedDataError,
                                 LoaderNotImplementedError)
from socialhealth.errors import DesignFallbackWarning
from socialhealth.datasets._fetch import cached_file, fetch
from socialhealth.datasets import _registry
from socialhealth.datasets._registry import FIELDS, entry, registry  # noqa: F401 - public name
from socialhealth.datasets._registry import loader as _loader
from socialhealth.datasets._surveydata import SurveyData
from socialhealth.datasets.examples import list_examples, load_example
from socialhealth.datasets._panel import (PanelData, load_panel, load_panel_baseline,
                                          mortality_followup)
from socialhealth.datasets._read_parquet import read_parquet

__all__ = ["list", "load", "load_panel", "load_panel_baseline", "mortality_followup", "fetch",
           "info", "SurveyData", "PanelData",
           "DesignFallbackWarning", "load_example", "list_examples", "read_parquet"]


def list() -> pd.DataFrame:  # noqa: A001 - the documented public name
    """All registered surveys, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, title, country, years, access, url, licence, citation,
        loneliness_items, loader_status`` (``"available"`` or ``"not implemented yet"``),
        ``tested_on`` (what the loader's tests read: a real file, or generated native-format
        files only).

    Examples
    --------
    >>> from socialhealth import datasets
    >>> "gss_panel20" in set(datasets.list()["name"])
    True
    """
    rows = []
    for name, e in _registry.registry().items():
        row = {k: e.get(k, "") for k in FIELDS if k != "name"}
        row["loader_status"] = _registry.status(name)
        rows.append({"name": name, **row})
    return pd.DataFrame(rows, columns=FIELDS)


def info(name: str) -> dict:
    """The full registry entry of ``name`` (files and checksums included).

    Examples
    --------
    >>> from socialhealth import datasets
    >>> datasets.info("ess")["access"]
    'registration'
    """
    return entry(name)


def load(name: str, path: str | Path | Sequence[str | Path] | None = None, *,
         min_age: int | None = None, **kwargs) -> SurveyData:
    """Load a registered survey into the harmonised schema.

    Parameters
    ----------
    name : str
        Registry name (see :func:`list`): ``gss``, ``gss_panel06``, ``gss_panel08``,
        ``gss_panel10``, ``gss_panel20``, ``ess``, ``brfss``, ``nhis``, ``hrs``, ``ukhls``,
        ``bhps``, ``elsa``, ``opn``, ``cls``, ``demo``.
    path : str or path-like, or a list of them, optional
        The survey file as distributed (.dta, .sav, .xpt, .csv or the agency's .zip); BRFSS
        takes a list of yearly files to pool. For open
        surveys it may be omitted when the file was fetched into the cache with :func:`fetch`.
    min_age : int, optional
        Keep only respondents aged ``min_age`` and over (e.g. ``min_age=18`` for adults in the
        ESS, whose samples are 15+). The others, and (when ``min_age`` is above the survey's
        own minimum age) rows with a missing age, are dropped before the design is built and
        counted in ``provenance["rows_dropped"]`` with the reason; the youngest ``age_group``
        band is relabelled (``"15-24"`` -> ``"18-24"``) and ``provenance["population"]``
        describes the restricted population. In R: ``svydesign(..., data = subset(df, age >=
        18))``; for a domain estimate on the full design use ``sd.design.subset(...)``.
    **kwargs
        Passed to the survey's loader: ``wave=`` (year, round), ``columns=`` (source variables
        to keep), ``weight=``, ``cache=``, and survey-specific options (ESS ``sddf_path=``,
        ``country=``; demo ``seed=``, ``replicate=``). Without ``path``, ``wave=`` also picks
        the fetched file of that survey year (as :func:`fetch`'s ``wave=``; until 0.2
        ``year=``, which still works with a DeprecationWarning).

    Returns
    -------
    SurveyData
        ``.data`` (harmonised columns + requested source columns), ``.design`` (the survey's
        recommended design), ``.codebook``, ``.provenance`` (``population``: the minimum age
        and a description of the population the sample represents, from the codebook).

    Raises
    ------
    UnknownDatasetError, LoaderNotImplementedError, LicensedDataError, DataNotCachedError,
    SurveyFileError, UnknownWaveError
        Each message says what to do.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> sd = datasets.load("demo")
    >>> est = sd.design.proportion("lonely")
    >>> print(est.to_frame()[["term", "estimate", "ci_low", "ci_high"]].round(4).to_string())
         term  estimate  ci_low  ci_high
    0  lonely    0.0708  0.0661   0.0758
    >>> # the same on a real survey file (here ESS round 7, UK; free registration at ESS)
    >>> sd = datasets.load("ess", path="ESS7GB.sav")          # doctest: +SKIP
    >>> adults = datasets.load("ess", path="ESS7GB.sav", min_age=18)   # doctest: +SKIP
    >>> adults.provenance["rows_dropped"]["aged under 18 (min_age=18)"]  # doctest: +SKIP
    37

    In R: ``haven::read_dta(path)`` / ``haven::read_sav(path)`` followed by the survey's
    ``svydesign(...)`` call (each loader's docstring gives it; for a Taylor design also
    ``sd.design.r_code()``).
    """
    e = entry(name)
    fn = _loader(name)
    if fn is None:
        raise LoaderNotImplementedError(
            f"the {name} loader is not implemented yet ({e.get('title')}). The survey is "
            f"registered (datasets.info({name!r}) lists its files, licence and citation), but "
            f"socialhealth cannot read it yet; read the file with pyreadstat/pandas meanwhile.")
    if "year" in kwargs:                      # deprecated spelling of wave= (until 0.2)
        if "wave" in kwargs:
            raise ArgumentError(f"datasets.load({name!r}) got both wave= and its deprecated "
                                "spelling year=; give only wave=.")
        warn_renamed("datasets.load", "year", "wave", "0.1.0")
        kwargs["wave"] = kwargs.pop("year")
    _check_options(name, fn, kwargs)
    if min_age is not None:
        from socialhealth.datasets._population import restrict_age

        return restrict_age(load(name, path, **kwargs), min_age)
    if name == "demo":
        if path is not None:
            raise DatasetError("the demo dataset is generated by socialhealth; it takes no path= "
                               "(call datasets.load('demo')).")
        return fn(**kwargs)
    wave = kwargs.get("wave")
    if path is None:
        access = e.get("access")
        if access != "open":
            raise LicensedDataError(
                f"{name} ({e.get('title')}) is not an open download (access: {access}; "
                f"{e.get('licence')}). Register / apply at {e.get('url')}, download the file, "
                f"then load it with datasets.load({name!r}, path='<your file>').")
        by_year = wave is not None and any(str(f.get("year")) == str(wave)
                                           for f in e.get("files", []))
        path = cached_file(name, wave if by_year else None)
        if path is None:
            fetchable = [f for f in e.get("files", []) if f.get("url")]
            how = (f"run datasets.fetch({name!r}" + (f", wave={wave}" if by_year else "")
                   + ") first" if fetchable else f"download it from {e.get('url')}")
            raise DataNotCachedError(
                f"no {name} file in the local cache ({_cached_dir(name)}): {how}, or pass "
                f"path='<file>' to datasets.load({name!r}, ...).")
    return fn(path, **kwargs)


def _check_options(name: str, fn: Any, kwargs: dict) -> None:
    """Unknown loader options raise a DatasetError that lists the accepted ones."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p in params if p != "path"]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise DatasetError(
            f"datasets.load({name!r}): unknown option(s) {unknown}; the {name} loader accepts "
            f"{accepted} (see help({fn.__module__}.{fn.__name__}) or datasets.info({name!r})).")


def _cached_dir(name: str) -> Path:
    from socialhealth.datasets._fetch import download_dir

    return download_dir(name)
