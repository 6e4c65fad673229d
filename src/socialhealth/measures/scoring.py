"""The generic scoring engine: recode -> reverse -> dichotomise -> sum/prorate -> categories.

Every instrument is scored by the same steps from its definition
(:mod:`socialhealth.measures.definitions`):

1. **recode** each item's raw codes to the instrument's canonical codes with the ``coding``
   (unknown raw codes raise :class:`~socialhealth.errors.ItemCodeError`);
2. **reverse** reverse-keyed items: ``x -> min(codes) + max(codes) - x``;
3. **dichotomise** where the instrument says so (De Jong Gierveld): 1 if the code is at least
   the item's ``dichotomise_at``, else 0;
4. **combine** each scale's items by the missing-item rule (below);
5. **categorise** with the scale's published cut-offs, or a threshold the user gives.

Missing-item rules (``k`` items in the scale, ``a`` answered, ``m`` the minimum):

``"complete"``  score = sum if ``a == k``, else missing.
``"prorate"``   score = mean of the answered items x ``k`` if ``a >= m``, else missing
                (prorated scores need not be integers).
``"available"`` score = sum of the answered items if ``a >= m``, else missing (the De Jong
                Gierveld manual's rule for the 6-item total: at most one missing item).
``"none"``      score = sum of the answered items whenever ``a >= 1``. Dangerous: a missing
                item then counts as zero, which biases scores down; socialhealth warns when it
                happens.

``"available"`` and ``"none"`` count a missing item as zero. That is the lowest answer of
items scored from 0 (De Jong Gierveld's dichotomised items, LSNS-6, indicators), but below the
lowest answer of items scored from 1 (UCLA-3, UCLA-20, GSS, DSSI): there a row with a missing
item gets a total on a lower range (two UCLA-3 items answered "hardly ever" sum to 2, below the
scale's 3-9). Such totals are returned, but not categorised: asking for categories of them
raises :class:`~socialhealth.errors.MeasureError` (the cut-offs refer to the full range); use
``"prorate"`` or ``"complete"``.

``m`` is the scale's published minimum (``min_answered`` in its definition; where the manual
gives none, the definition says which convention it uses, or there is none and you must pass
``min_answered=``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given, show_list
from socialhealth.design.result_protocol import Result
from socialhealth.errors import (
    ItemCodeError,
    ItemCountError,
    MeasureError,
    MissingColumnError,
    SocialHealthWarning,
)
from socialhealth.measures.categories import categorise_scale
from socialhealth.measures.codings import recode, resolve_coding
from socialhealth.measures.definitions import MISSING_RULES, Instrument, Scale, get_instrument

__all__ = ["ScoreResult", "score"]


@dataclass(frozen=True, kw_only=True)
class ScoreResult(Result):
    """What :func:`score` returns.

    Result protocol: ``to_frame()`` and ``summary()``; ``coef()``, ``se()``, ``confint()``,
    ``vcov`` and ``float()`` do not apply (per-respondent scores, not estimates).

    Attributes
    ----------
    key : str
        Instrument key.
    score : pandas.Series
        Total score (``<prefix>_score``), aligned with the input's index; NaN where the
        missing-item rule leaves it undefined.
    category : pandas.Series or None
        Labelled total-score category (ordered categorical, ``<prefix>_category``) when the
        instrument has a published default cut-off or one was asked for; else None.
    subscales : pandas.DataFrame
        One column per subscale (named by subscale, e.g. ``emotional``); empty when none.
    subscale_categories : pandas.DataFrame
        Categories of subscales that have published default cut-offs.
    n_items_answered : pandas.Series
        Number of total-score items answered (after the coding's missing codes).
    items : pandas.DataFrame
        The scored items (recoded, reversed, dichotomised) named by instrument item.
    missing : dict
        The missing-item rule and minimum used for each scale.
    coding : dict
        The coding used for each item.
    survey : object or None
        The SurveyData-like object the columns were added to (when one was passed).

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import measures
    >>> df = pd.DataFrame({"q1": [1, 3], "q2": [1, 2], "q3": [2, 3]})
    >>> s = measures.score("ucla3", df, items={"companionship": "q1", "left_out": "q2",
    ...                    "isolated": "q3"}, coding="1-3")
    >>> s.score.tolist()          # sums of the three 1-3 items (Hughes et al. 2004)
    [4.0, 8.0]
    """

    key: str
    prefix: str
    score: pd.Series
    category: pd.Series | None
    subscales: pd.DataFrame
    subscale_categories: pd.DataFrame
    n_items_answered: pd.Series
    items: pd.DataFrame
    missing: dict[str, tuple[str, int | None]]
    coding: dict[str, str]
    survey: Any = field(default=None, repr=False)

    _not_applicable = dict.fromkeys(
        ("coef", "se", "confint", "vcov", "float"),
        "scores are one value per respondent, not estimates; use to_frame(), or estimate "
        "their mean with a survey design (design.mean(...)).")

    def __repr__(self) -> str:
        n = len(self.score)
        scored = int(self.score.notna().sum())
        subs = f", subscales={list(self.subscales.columns)}" if len(self.subscales.columns) else ""
        rules = ", ".join(f"{k}: {r}" + (f" (>= {m})" if r in ("prorate", "available") else "")
                          for k, (r, m) in self.missing.items())
        return (f"ScoreResult({self.key!r}, rows={n}, scored={scored}, "
                f"mean={self.score.mean():.3f}{subs}, missing rules: {rules})")

    def to_frame(self) -> pd.DataFrame:
        """All results as columns ``<prefix>_score``, ``<prefix>_<subscale>``,
        ``<prefix>_category``, ``<prefix>_<subscale>_category``, ``<prefix>_n_answered``."""
        p = self.prefix
        cols: dict[str, pd.Series] = {f"{p}_score": self.score}
        for c in self.subscales.columns:
            cols[f"{p}_{c}"] = self.subscales[c]
        if self.category is not None:
            cols[f"{p}_category"] = self.category
        for c in self.subscale_categories.columns:
            cols[f"{p}_{c}_category"] = self.subscale_categories[c]
        cols[f"{p}_n_answered"] = self.n_items_answered
        return pd.DataFrame({k: v.rename(k) for k, v in cols.items()}, index=self.score.index)


def _item_columns(inst: Instrument, items: Any, columns: Any) -> dict[str, str]:
    names = list(inst.item_names)
    if items is None:
        prefixed = [f"{inst.key}_{n}" for n in names]
        if not all(n in columns for n in names) and all(p in columns for p in prefixed):
            # harmonised schema, e.g. ucla3_companionship
            return dict(zip(names, prefixed, strict=True))
        return {n: n for n in names}
    if isinstance(items, Mapping):
        unknown = [k for k in items if k not in names]
        missing = [n for n in names if n not in items]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if unknown:
                parts.append(f"unknown {unknown}")
            raise ItemCountError(
                f"{inst.key} has {len(names)} items {names}; items= is {'; '.join(parts)}. "
                "Map every instrument item to a column: items={item: column}."
            )
        return {n: items[n] for n in names}
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ItemCountError(
            f"{inst.key}: items= must be a dict {{item: column}} or a list of {len(names)} columns "
            f"in the order {names}."
        )
    if len(items) != len(names):
        raise ItemCountError(
            f"{inst.key} has {len(names)} items ({names}) but {len(items)} columns were given: "
            f"{list(items)}. Pass one column per item, in that order, or a dict {{item: column}}."
        )
    return dict(zip(names, items, strict=True))


def _resolve_missing(inst: Instrument, scale: Scale, missing: Any,
                     min_answered: Any) -> tuple[str, int | None]:
    if isinstance(missing, Mapping):
        rule = missing.get(scale.name, scale.default_missing)
    else:
        rule = scale.default_missing if missing is None else missing
    if not is_choice(rule, MISSING_RULES):
        raise MeasureError(f"missing={show_given(rule)} is not a missing-item rule; use one of "
                           f"{show_list(MISSING_RULES)}.")
    k = len(scale.items)
    if isinstance(min_answered, Mapping):
        given = min_answered.get(scale.name)
    else:
        given = min_answered if scale is inst.total else None
    m = scale.min_answered if given is None else given
    implied = {"complete": k, "none": 1}.get(rule)
    if given is not None:
        _check_min_answered(inst, scale, given)
        if implied is not None and given != implied:
            # (a min_answered with a rule that ignores it would score otherwise than asked)
            raise MeasureError(
                f"{inst.key} {scale.name}: min_answered={show_given(given)} needs "
                f"missing='prorate' or 'available'; it is scored with missing={rule!r} "
                f"({'every item answered' if rule == 'complete' else 'any item answered'}). "
                f"Pass missing='prorate' with it, or leave min_answered out.")
    if implied is not None:
        return rule, implied
    if m is None:
        raise MeasureError(
            f"{inst.key} {scale.name}: no published rule says how many of its {k} items must be "
            f"answered for missing={rule!r}; pass min_answered=<number> (or {{{scale.name!r}: n}}) "
            "and report the rule, or use missing='complete'."
        )
    _check_min_answered(inst, scale, m)
    return rule, int(m)


def _check_min_answered(inst: Instrument, scale: Scale, m: Any) -> None:
    k = len(scale.items)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= k:
        raise MeasureError(
            f"{inst.key} {scale.name}: min_answered must be a whole number from 1 to {k}, not "
            f"{show_given(m)}."
        )


def _combine(values: np.ndarray, rule: str, m: int) -> tuple[np.ndarray, np.ndarray]:
    answered = np.sum(~np.isnan(values), axis=1)
    k = values.shape[1]
    total = np.nansum(values, axis=1)
    ok = answered >= m
    if rule == "complete":
        out = np.where(answered == k, total, np.nan)
    elif rule == "prorate":
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(ok, total / np.maximum(answered, 1) * k, np.nan)
    else:  # available, none
        out = np.where(ok, total, np.nan)
    return out, answered


def _attach(survey: Any, frame: pd.DataFrame) -> None:
    data = survey.data
    if not frame.index.equals(data.index):  # pragma: no cover - computed from survey.data
        raise MeasureError("internal: scores are not aligned with the survey's data.")
    replaced = [c for c in frame.columns if c in data.columns]
    if replaced:
        warnings.warn(
            f"score() replaced existing survey column(s) {replaced}; pass prefix= to keep both.",
            SocialHealthWarning,
            stacklevel=user_stacklevel(),
        )
    cols = {c: frame[c] for c in frame.columns}
    new_design = survey.design.assign(**cols)
    try:
        survey.design = new_design        # SurveyData checks that the rows are the same
        survey.data = data.assign(**cols)
    except AttributeError:
        raise MeasureError(
            "cannot attach the scores to this survey object: its data or design cannot be "
            "replaced. Score survey.data instead and call "
            "survey.design.assign(**result.to_frame())."
        ) from None


def _data_frame_of(data: Any) -> tuple[Any, pd.DataFrame]:
    """``(survey or None, the item DataFrame)`` of a DataFrame or SurveyData-like ``data``."""
    survey = None
    if isinstance(data, pd.DataFrame):
        df = data
    elif hasattr(data, "data") and isinstance(data.data, pd.DataFrame) and hasattr(data, "design"):
        survey = data
        df = data.data
    else:
        raise MeasureError(
            "score() needs a pandas DataFrame or a SurveyData-like object (with .data and "
            f".design); got {type(data).__name__}."
        )
    return survey, df


def _checked_item_columns(inst: Instrument, items: Any, df: pd.DataFrame, missing: Any,
                          min_answered: Any) -> dict[str, str]:
    """``{item: column}``, checked: columns present, one per item, known scale names."""
    cols = _item_columns(inst, items, df.columns)
    absent = [c for c in cols.values() if c not in df.columns]
    if absent:
        raise MissingColumnError(absent, available=list(df.columns), where="the data")
    twice = [c for c in dict.fromkeys(cols.values()) if (df.columns == c).sum() > 1]
    if twice:
        raise ItemCountError(
            f"{inst.key}: the data has more than one column named {', '.join(map(repr, twice))}; "
            "rename or drop the copies (df.loc[:, ~df.columns.duplicated()]) so each item has one "
            "column."
        )
    dup = pd.Series(list(cols.values()))
    if dup.duplicated().any():
        raise ItemCountError(
            f"{inst.key}: the same column is given for several items: "
            f"{sorted(set(dup[dup.duplicated()]))}. Each item needs its own column."
        )
    scale_names = [sc.name for sc in inst.scales]
    for arg, val in (("missing", missing), ("min_answered", min_answered)):
        if isinstance(val, Mapping):
            unknown = [k for k in val if k not in scale_names]
            if unknown:
                raise MeasureError(
                    f"{inst.key}: {arg}= names unknown scale(s) {unknown}; its scales are "
                    f"{scale_names}."
                )
    return cols


def _scored_items(inst: Instrument, cols: dict[str, str], df: pd.DataFrame,
                  codings: dict) -> pd.DataFrame:
    """Item values recoded to canonical codes, reversed and dichotomised (one column each)."""
    scored: dict[str, np.ndarray] = {}
    errors = []
    for it in inst.items:
        try:
            v = recode(inst, it, cols[it.name], df[cols[it.name]], codings[it.name])
        except MeasureError as exc:
            errors.append(str(exc))
            continue
        if it.reverse:
            v = it.reverse_code(v)
        if it.dichotomise_at is not None:
            v = np.where(np.isnan(v), np.nan, (v >= it.dichotomise_at).astype(float))
        scored[it.name] = v
    if errors:
        raise ItemCodeError("\n".join(errors))
    item_frame = pd.DataFrame(scored, index=df.index)
    return item_frame


def _check_categorisable(inst: Instrument, scale: Scale, rule: tuple[str, int | None]) -> None:
    """Refuse categories of sums of answered items where a missing item scores below the range.

    Under ``"available"`` / ``"none"`` a missing item counts as 0; for items scored from 1 that
    puts a partly answered row on a lower range than the cut-offs refer to.
    """
    name, m = rule
    k = len(scale.items)
    if name not in ("available", "none") or (m is not None and m >= k):
        return
    lowest = min(inst.item(n).scored_range[0] for n in scale.items)
    if lowest <= 0:
        return
    lo, hi = inst.scale_range(scale)
    raise MeasureError(
        f"{inst.key} {scale.name}: no categories for missing={name!r}: it sums only the answered "
        f"items, and these items score from {lowest:g}, so a row with a missing item gets a "
        f"total below the {lo:g}-{hi:g} range the cut-offs refer to (the missing item counts as "
        "0). Use missing='prorate' (mean of the answered items x the number of items) or "
        "'complete', or leave out cutoff=/cutoffs= and categorise the scores yourself."
    )


def _subscales(inst: Instrument, results: dict[str, pd.Series],
               index: pd.Index, used: dict[str, tuple[str, int | None]],
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The subscale scores and their published categories (where a scale has them)."""
    subs = pd.DataFrame({sc.name: results[sc.name] for sc in inst.scales[1:]}, index=index)
    subcats = {}
    for sc in inst.scales[1:]:
        if sc.default_cutoffs is not None:
            _check_categorisable(inst, sc, used[sc.name])
        c = categorise_scale(inst, sc, results[sc.name], explicit=False, name=sc.name)
        if c is not None:
            subcats[sc.name] = c
    subcat_frame = pd.DataFrame(subcats, index=index)
    return subs, subcat_frame


def score(
    key: str,
    data: Any,
    items: Mapping[str, str] | Sequence[str] | None = None,
    *,
    coding: str | Mapping[Any, Any] | None = None,
    missing: str | Mapping[str, str] | None = None,
    neutral: Any = None,
    min_answered: int | Mapping[str, int] | None = None,
    cutoffs: str | None = None,
    cutoff: float | None = None,
    prefix: str | None = None,
) -> ScoreResult:
    """Score a loneliness / social-connection instrument from its published rules.

    Parameters
    ----------
    key : str
        Instrument key: ``ucla3``, ``ucla20``, ``djg11``, ``djg6``, ``ons_direct``,
        ``ons_measures``, ``cesd_lonely``, ``cesd8_lonely``, ``lsns6``, ``berkman_syme``,
        ``steptoe_isolation``, ``dssi``, ``brfss_sdhisolt``, ``brfss_sdlonely``,
        ``gss_lonely_5pt``, ``gss_lonely_5pt_2item`` (``measures.list()``; rules in
        ``measures.describe(key)``).
    data : pandas.DataFrame or SurveyData-like
        Item responses. A SurveyData-like object (with ``.data`` and a ``.design`` that has
        ``.assign(**columns)``) gets the result columns added **in place** to its ``data`` and
        ``design`` (a new design object replaces the old one), so
        ``sd.design.mean("ucla3_score")`` works straight away. Existing columns of the same
        name are replaced with a warning (use ``prefix=`` to keep both).
    items : dict or list, optional
        ``{instrument_item: column}`` (item names in ``measures.describe(key)``), or a list of
        columns in the instrument's item order. Default: columns named like the items, or,
        failing that, ``<key>_<item>`` as in the harmonised schema (``ucla3_companionship``...).
    coding : str or dict
        Required. How the raw codes map to the instrument's canonical codes: a preset name
        (``"1-3"``, ``"0-2"``, ``"hrs-often-first"``, ``"3-point"``, ``"5-point-yes-first"``,
        ``"brfss"``, ...), an explicit ``{raw: canonical}`` dict (``None`` = missing), or
        ``{item: preset_or_dict}`` for items with different answer sets.
    missing : {"complete", "prorate", "available", "none"} or dict, optional
        Missing-item rule (see the module docs); default: each scale's rule from its manual.
    neutral : optional
        Raw code of the neutral answer ("more or less"); required for De Jong Gierveld and
        checked against the coding.
    min_answered : int or dict, optional
        Override the minimum number of answered items for ``prorate`` / ``available`` (an int
        applies to the total; a dict ``{scale: n}`` to named scales). Needed where no rule is
        published (LSNS-6, DSSI, DJG-11).
    cutoffs, cutoff : optional
        Total-score categories: a named cut-off set, or a threshold of your own (see
        :func:`categorise`). Default: the published set where one exists, else no category.
    prefix : str, optional
        Column prefix for ``to_frame()`` and SurveyData columns (default: ``key``).

    Returns
    -------
    ScoreResult
        ``.score``, ``.category``, ``.subscales``, ``.n_items_answered``, ``.items``,
        ``.to_frame()``.

    Raises
    ------
    socialhealth.errors.ItemCodeError
        A raw code the coding does not allow (names the item, column and bad values).
    socialhealth.errors.ItemCountError
        Wrong number or names of items.
    socialhealth.errors.CodingError
        Unknown coding, missing coding, or a neutral code that does not match the coding.
    socialhealth.errors.MissingColumnError
        A named column is not in the data.
    socialhealth.errors.MeasureError
        Among others: categories asked for scores summed under ``missing="available"`` or
        ``"none"`` on a scale whose items score from 1 (UCLA-3, UCLA-20, GSS, DSSI), where a
        row with a missing item falls below the range the cut-offs refer to.

    Notes
    -----
    Steps: recode -> reverse (``min + max - x``) -> dichotomise (DJG) -> combine by the missing
    rule -> categorise. Scores are floats; prorated scores may be non-integer.

    In R (for comparison): ``rowSums(items)`` after the same recodes (``complete``),
    ``rowMeans(items, na.rm=TRUE) * k`` (``prorate``); the De Jong Gierveld manual's SPSS
    ``COUNT`` syntax for ``djg6``; ``lonelyr`` offers similar keys.

    References
    ----------
    Each instrument's citation is in ``measures.describe(key)`` and ``measures.list()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import measures
    >>> df = pd.DataFrame({"q1": [1, 3, 2], "q2": [1, 3, None], "q3": [2, 3, 2]})
    >>> s = measures.score("ucla3", df, items={"companionship": "q1", "left_out": "q2",
    ...                    "isolated": "q3"}, coding="1-3", missing="prorate")
    >>> s.score.tolist()
    [4.0, 9.0, 6.0]
    """
    inst = get_instrument(key)
    survey, df = _data_frame_of(data)
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise MeasureError(f"prefix must be a non-empty string, not {show_given(prefix)}.")
    prefix = prefix or inst.key
    cols = _checked_item_columns(inst, items, df, missing, min_answered)
    codings = resolve_coding(inst, coding, neutral)

    item_frame = _scored_items(inst, cols, df, codings)

    results: dict[str, pd.Series] = {}
    used: dict[str, tuple[str, int | None]] = {}
    answered_total = None
    for sc in inst.scales:
        rule, m = _resolve_missing(inst, sc, missing, min_answered)
        values = item_frame[list(sc.items)].to_numpy(dtype=float)
        out, answered = _combine(values, rule, m if m is not None else len(sc.items))
        if rule == "none":
            partial = (answered > 0) & (answered < len(sc.items))
            if partial.any():
                warnings.warn(
                    f"{inst.key} {sc.name}: missing='none' summed answered items only in "
                    f"{int(partial.sum())} row(s) with missing items; their scores are biased "
                    "down. Prefer the manual's rule (the default) or 'prorate'.",
                    SocialHealthWarning,
                    stacklevel=user_stacklevel(),
                )
        results[sc.name] = pd.Series(out, index=df.index)
        used[sc.name] = (rule, m)
        if sc is inst.total:
            answered_total = pd.Series(answered, index=df.index, name=f"{prefix}_n_answered")

    total = results[inst.total.name].rename(f"{prefix}_score")
    if cutoffs is not None or cutoff is not None or inst.total.default_cutoffs is not None:
        _check_categorisable(inst, inst.total, used[inst.total.name])
    category = categorise_scale(inst, inst.total, total, cutoffs=cutoffs, cutoff=cutoff,
                                explicit=cutoffs is not None or cutoff is not None,
                                name=f"{prefix}_category")
    subs, subcat_frame = _subscales(inst, results, df.index, used)
    result = ScoreResult(
        key=inst.key,
        prefix=prefix,
        score=total,
        category=category,
        subscales=subs,
        subscale_categories=subcat_frame,
        n_items_answered=answered_total if answered_total is not None else pd.Series(dtype=float),
        items=item_frame,
        missing=used,
        coding={n: c.label for n, c in codings.items()},
        survey=survey,
    )
    if survey is not None:
        _attach(survey, result.to_frame())
    return result
