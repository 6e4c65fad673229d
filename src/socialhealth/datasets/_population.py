"""The population a loaded survey describes, and the ``min_age=`` restriction of
:func:`socialhealth.datasets.load`.

Each codebook declares ``[population]`` (``min_age``, ``description``, per-wave overrides); the
engine copies it into ``SurveyData.provenance["population"]`` and starts the youngest
``age_group`` band at ``min_age``. :func:`restrict_age` keeps respondents aged ``min_age`` and
over, counts the others in the row accounting and relabels the youngest band.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.errors import DatasetError
from socialhealth.datasets._schema import age_band_bounds, age_group_levels
from socialhealth.datasets._surveydata import SurveyData


def restrict_age(sd: SurveyData, min_age: int) -> SurveyData:
    """Keep the respondents aged ``min_age`` and over; count the others in ``rows_dropped``.

    Rows younger than ``min_age``, and, when ``min_age`` is above the survey's own minimum age,
    rows whose age is missing (they cannot be shown to be in the restricted population; R's
    ``subset()`` drops them too), are dropped, each group under its own reason, so that
    ``rows_read == rows_kept + sum(rows_dropped.values())`` still holds. The youngest
    ``age_group`` band is relabelled (ESS ``"15-24"`` -> ``"18-24"`` for ``min_age=18``) and
    ``provenance["population"]`` says which population the data now describe.

    The rows are removed before the design is built: in R this is
    ``svydesign(..., data = subset(df, age >= 18))``. For a domain estimate that keeps the full
    design instead, use ``sd.design.subset(...)``.

    Parameters
    ----------
    sd : SurveyData
        A loaded survey whose ``age`` is measured.
    min_age : int
        Youngest age to keep (years, 0-120).

    Returns
    -------
    SurveyData
        A new SurveyData (the input is not changed).

    Raises
    ------
    DatasetError
        ``min_age`` is not a whole number of years, or the survey has no ``age``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> from socialhealth.datasets._population import restrict_age
    >>> sd = restrict_age(datasets.load("demo"), 18)
    >>> sd.data["age_group"].cat.categories[0], int(sd.data["age"].min())
    ('18-24', 18)
    """
    if isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer)) \
            or not 0 <= int(min_age) <= 120:
        raise DatasetError(f"min_age must be a whole number of years between 0 and 120 "
                           f"(e.g. min_age=18), not {show_given(min_age)}.")
    min_age = int(min_age)
    data = sd.data
    if "age" not in data.columns or not data["age"].notna().any():
        raise DatasetError(f"min_age={min_age}: {sd.name} has no age measured in this file or "
                           "wave, so respondents cannot be restricted by age.")
    prov = dict(sd.provenance)
    pop = dict(prov.get("population") or {})
    declared = int(pop.get("min_age", 0))
    age = data["age"].to_numpy(dtype=float)
    below = ~np.isnan(age) & (age < min_age)
    unknown = np.isnan(age) if min_age > declared else np.zeros(len(age), bool)
    keep = ~below & ~unknown
    dropped = dict(prov.get("rows_dropped") or {})
    for reason, n in ((f"aged under {min_age} (min_age={min_age})", int(below.sum())),
                      (f"age missing: cannot be shown to be aged {min_age} or over "
                       f"(min_age={min_age})", int(unknown.sum()))):
        if n:
            dropped[reason] = dropped.get(reason, 0) + n
    new = data.loc[keep].reset_index(drop=True)
    new_min = max(declared, min_age)
    cb = sd.codebook
    if "age_group" in new.columns and isinstance(new["age_group"].dtype, pd.CategoricalDtype) \
            and new_min != declared and len(new["age_group"].cat.categories):
        new["age_group"] = _relabel(new["age_group"], new_min)
        cb = cb.copy()
        at = cb["concept"] == "age_group"
        cb.loc[at, "notes"] = (cb.loc[at, "notes"].astype(str)
                               + f" Restricted with min_age={min_age}: the youngest band is now "
                               + f"{age_group_levels(new_min)[0]}.")
    if new_min != declared:
        desc = str(pop.get("description", ""))
        phrase = f"aged {declared} and over"
        pop["description"] = (desc.replace(phrase, f"aged {new_min} and over") if phrase in desc
                              else f"{desc}, restricted to those aged {new_min} and over")
        pop["declared_min_age"] = declared
        pop["min_age"] = new_min
    pop["restricted_by"] = f"min_age={min_age}"
    prov.update(rows_kept=int(keep.sum()), rows_dropped=dropped, population=pop)
    prov["options"] = {**dict(prov.get("options") or {}), "min_age": min_age}
    return replace(sd, data=new, codebook=cb, provenance=prov, _design=None)


def _relabel(cat: pd.Series, new_min: int) -> pd.Categorical:
    """Map the bands of ``cat`` onto ``age_group_levels(new_min)``: the band holding
    ``new_min`` becomes the new youngest band, bands wholly below it become missing."""
    levels = age_group_levels(new_min)
    mapping: dict[str, str | None] = {}
    for old in cat.cat.categories:
        lo, hi = age_band_bounds(old)
        if hi < new_min:
            mapping[old] = None
        elif lo < new_min:
            mapping[old] = levels[0]
        else:
            mapping[old] = old if old in levels else None
    vals = [None if pd.isna(v) else mapping[v] for v in cat.astype(object)]
    return pd.Categorical(vals, categories=levels, ordered=True)
