"""Small synthetic example data sets with survey designs, for examples, tutorials and tests.

The files (``<name>.csv.gz`` in this folder) are written by ``make_examples.py`` (same folder,
numpy only, ``SEED = 20261414``). They are synthetic: modelled on the *structure* of the
example data of R's ``survey`` package (same column names, types, factor levels and kind of
sampling design) but every value is drawn from made-up distributions. Licence: the same as
socialhealth (MIT).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from socialhealth.errors import DatasetError

__all__ = ["load_example", "list_examples"]

_HERE = Path(__file__).resolve().parent

_EXAMPLES: dict[str, str] = {
    "apipop": "frame of 6194 schools (stype E 4421 / H 755 / M 1018) in 757 districts (dnum) "
              "of 57 counties (cnum, cname); no design columns",
    "apisrs": "simple random sample of 200 schools: pw = 6194/200, fpc = 6194",
    "apistrat": "stratified sample by stype (100 E, 50 H, 50 M): pw = N_h/n_h, fpc = N_h",
    "apiclus1": "one-stage cluster sample of 15 of the 757 districts, all their schools: "
                "psu dnum, pw = 757/15, fpc = 757",
    "apiclus2": "two-stage sample: 40 districts (fpc1 = 757), up to 5 schools in each "
                "(fpc2 = schools in the district; one-school districts are certainty units); "
                "enroll missing for 5 schools",
    "nhanes": "3000 people, 15 strata (SDMVSTRA 75-89) with 2 PSUs (SDMVPSU) each and 3 in "
              "stratum 86; weight WTMEC2YR; HI_CHOL 0/1 with missing values; race 1-4; "
              "agecat; RIAGENDR 1/2",
    "scd": "6 rows: ESA (area 1-3), ambulance (1/2), arrests, alive; for user-supplied BRR "
           "replicate weights",
}


def list_examples() -> pd.DataFrame:
    """The example data sets that :func:`load_example` returns, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``name`` and ``description`` (what the rows are and the design columns).

    Examples
    --------
    >>> from socialhealth import datasets
    >>> list(datasets.list_examples()["name"])
    ['apipop', 'apisrs', 'apistrat', 'apiclus1', 'apiclus2', 'nhanes', 'scd']
    """
    return pd.DataFrame({"name": list(_EXAMPLES), "description": list(_EXAMPLES.values())})


def load_example(name: str) -> pd.DataFrame:
    """A synthetic example data set with its sampling-design columns, as a DataFrame.

    Origin: synthetic data written by ``socialhealth/datasets/examples/make_examples.py``
    (numpy only, seed ``20261414``), modelled on the structure of the example data sets of
    R's ``survey`` package (``apipop``, ``apisrs``, ``apistrat``, ``apiclus1``, ``apiclus2``,
    ``nhanes``, ``scd``): the same column names, types and factor levels and the same kind of
    design (strata, clusters, finite population corrections, weights), but no value is taken
    from the R data; the numbers are made up. Estimates from these data therefore differ from
    the ones printed in R's help pages. Licence: the same as socialhealth (MIT).

    Parameters
    ----------
    name : str
        One of ``apipop, apisrs, apistrat, apiclus1, apiclus2, nhanes, scd`` (see
        :func:`list_examples`).

    Returns
    -------
    pandas.DataFrame
        Factor columns are text (``stype`` ``"E"/"H"/"M"``; ``sch.wide``, ``comp.imp``,
        ``both``, ``awards`` ``"No"/"Yes"``; ``agecat`` ``"(0,19]"``, ``"(19,39]"``,
        ``"(39,59]"``, ``"(59,Inf]"``); missing values are NaN. Column names keep R's dots
        (``sch.wide``, ``api.stu``): quote them with backticks in formulas.

    Raises
    ------
    DatasetError
        ``name`` is not one of the example data sets.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> apistrat.groupby("stype").size().to_dict()
    {'E': 100, 'H': 50, 'M': 50}
    >>> d = sh.SurveyDesign(apistrat, strata="stype", weights="pw", fpc="fpc")
    >>> round(float(apistrat["pw"].sum()))
    6194

    In R (survey): ``svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc,
    data = apistrat)`` with ``apistrat <- read.csv(<the same file>)``.
    """
    if not isinstance(name, str) or name not in _EXAMPLES:
        raise DatasetError(f"no example data set called {name!r}; the example data sets are "
                           f"{', '.join(_EXAMPLES)} (see socialhealth.datasets.list_examples())")
    return pd.read_csv(_HERE / f"{name}.csv.gz")


def example_path(name: str) -> Path:
    """Path of the gzipped CSV file behind :func:`load_example` (for R or other tools).

    Examples
    --------
    >>> from socialhealth.datasets.examples import example_path
    >>> example_path("nhanes").name
    'nhanes.csv.gz'
    """
    if not isinstance(name, str) or name not in _EXAMPLES:
        raise DatasetError(f"no example data set called {name!r}; the example data sets are "
                           f"{', '.join(_EXAMPLES)}")
    return _HERE / f"{name}.csv.gz"
