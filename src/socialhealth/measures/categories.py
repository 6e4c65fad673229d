"""Labelled categories from scores: published cut-off sets or an explicit threshold."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from socialhealth._text import show_given, show_list
from socialhealth.errors import MeasureError
from socialhealth.measures.definitions import Band, Instrument, Scale, get_instrument

__all__ = ["categorise", "categorise_scale"]


def _bands_for(inst: Instrument, scale: Scale, cutoffs: str | None, cutoff: float | None,
               explicit: bool) -> tuple[tuple[Band, ...], str] | None:
    lo, hi = inst.scale_range(scale)
    if cutoffs is not None and cutoff is not None:
        raise MeasureError("pass either cutoffs=<name of a cut-off set> or cutoff=<number>, not "
                           "both.")
    if cutoff is not None:
        try:
            c = float(cutoff)
        except (TypeError, ValueError):
            raise MeasureError(f"cutoff must be a number, not {show_given(cutoff)}.") from None
        if not lo < c <= hi:
            raise MeasureError(
                f"{inst.key} {scale.name}: cutoff={show_given(cutoff)} is outside the score range "
                f"{lo:g}-{hi:g} "
                "(categories would be empty)."
            )
        labels = scale.threshold_labels or ("below cut-off", "at or above cut-off")
        return (Band(lo, c, labels[0]), Band(c, hi, labels[1])), f"cutoff {c:g}"
    if cutoffs is not None:
        cs = scale.cutoff_set(cutoffs)
        return cs.bands, cs.name
    if scale.default_cutoffs is not None:
        cs = scale.cutoff_set(scale.default_cutoffs)
        return cs.bands, cs.name
    if not explicit:
        return None
    if scale.no_cutoffs_reason:
        raise MeasureError(f"{inst.key} {scale.name}: no categories: {scale.no_cutoffs_reason}")
    unverified = [c.name for c in scale.cutoffs if not c.verified]
    if unverified:
        raise MeasureError(
            f"{inst.key} {scale.name}: the cut-offs {', '.join(map(repr, unverified))} are not "
            f"verified "
            "against the primary source, so none is applied by default. Pass "
            f"cutoffs={unverified[0]!r} to use them knowingly (and say so), or cutoff=<number>."
        )
    notes = " ".join(inst.uncertain)
    raise MeasureError(
        f"{inst.key} {scale.name}: the instrument has no published cut-off; pass cutoff=<number> "
        f"(score >= cutoff gets the upper label). {notes}"
    )


def _apply(inst: Instrument, scale: Scale, score: pd.Series, bands: tuple[Band, ...],
           name: str) -> pd.Series:
    lo, hi = inst.scale_range(scale)
    values = pd.to_numeric(score, errors="coerce")
    nonnum = score.notna() & values.isna()
    out_of_range = values.notna() & ((values < lo - 1e-9) | (values > hi + 1e-9))
    if nonnum.any() or out_of_range.any():
        bad = pd.unique(score[nonnum | out_of_range])
        raise MeasureError(
            f"{inst.key} {scale.name}: scores outside the range {lo:g}-{hi:g}: "
            f"{show_list(bad, limit=10)}. Categorise scores produced by measures.score() for "
            "this instrument and scale."
        )
    ordered = sorted(bands, key=lambda b: b.lower)
    lowers = np.array([b.lower for b in ordered])
    labels = [b.label for b in ordered]
    v = values.to_numpy(dtype=float)
    idx = np.searchsorted(lowers, v, side="right") - 1
    codes = np.where(np.isnan(v), -1, idx)
    cat = pd.Categorical.from_codes(codes, categories=labels, ordered=True)
    return pd.Series(cat, index=score.index, name=name)


def categorise_scale(inst: Instrument, scale: Scale, score: pd.Series, *, cutoffs: str
                     | None = None,
                     cutoff: float | None = None, explicit: bool = True,
                     name: str | None = None) -> pd.Series | None:
    """Categories of one scale's scores (None when the scale has no default and none was asked).

    A score in band ``lower <= score <= upper`` gets that band's label (ordered categorical);
    ``cutoff=c`` gives two bands, below ``c`` and at or above ``c``.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth.measures import get_instrument
    >>> inst = get_instrument("lsns6")      # Lubben et al. 2006: below 12 = at risk
    >>> categorise_scale(inst, inst.total, pd.Series([11.0, 12.0])).tolist()
    ['at risk of social isolation', 'not at risk']
    """
    found = _bands_for(inst, scale, cutoffs, cutoff, explicit)
    if found is None:
        return None
    bands, _ = found
    default_name = (f"{inst.key}_category" if scale is inst.total
                    else f"{inst.key}_{scale.name}_category")
    return _apply(inst, scale, score, bands, name or default_name)


def categorise(key: str, score: Any, *, scale: str | None = None, cutoffs: str | None = None,
               cutoff: float | None = None) -> pd.Series:
    """Labelled categories of instrument scores from published cut-offs (or an explicit threshold).

    Parameters
    ----------
    key : str
        Instrument key (see :func:`socialhealth.measures.list`).
    score : pandas.Series or array-like
        Scores on the instrument's scale, e.g. ``measures.score(...).score``.
    scale : str, optional
        ``None`` / ``"total"`` for the total score, or a subscale name (``"emotional"``...).
    cutoffs : str, optional
        Name of a cut-off set of the scale. Default: the scale's published set, if it has one.
        Unverified sets (e.g. ``"van_tilburg_1999"`` for DJG-11) are used only when named here.
    cutoff : float, optional
        A threshold of your own: scores below it get the scale's lower label, scores at or
        above it the upper label (e.g. ``cutoff=6`` for the UCLA-3 "6+" convention).

    Returns
    -------
    pandas.Series
        Ordered categorical with the band labels, aligned with ``score``; NaN stays NaN.

    Notes
    -----
    Band rule: a score falls in the band with the largest lower bound not above it, so prorated
    (non-integer) scores are placed between published integer bands by their lower bounds.
    Instruments with no published cut-off (UCLA-3, UCLA-20, Steptoe) raise unless ``cutoff``
    is given; Berkman-Syme raises unless ``cutoffs="loucks2006"`` (Loucks et al. 2006 levels)
    or ``cutoff`` is given: the 1979 four-level algorithm is not verified (see its docs).

    In R: ``cut(score, breaks = c(-Inf, lower_bounds[-1], Inf), right = FALSE, labels = ...)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import measures
    >>> measures.categorise("djg6", pd.Series([0, 3, 6])).tolist()
    ['not lonely', 'moderately lonely', 'severely lonely']
    """
    inst = get_instrument(key)
    sc = inst.scale(scale)
    if isinstance(score, pd.Series):
        s = score
    elif isinstance(score, (str, bytes, dict)) or np.ndim(score) != 1:
        raise MeasureError(f"categorise() takes the scores as a Series or a list of numbers "
                           f"(e.g. measures.score(...).score), not {show_given(score)}.")
    else:   # (text among the scores is reported by the range check, value by value)
        s = pd.Series(score if isinstance(score, np.ndarray) else list(score))
    out = categorise_scale(inst, sc, s, cutoffs=cutoffs, cutoff=cutoff, explicit=True)
    if out is None:  # pragma: no cover - explicit=True raises instead of returning None
        raise MeasureError(f"{key}: no categories could be formed.")
    return out
