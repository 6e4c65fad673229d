"""Resolve a user's ``coding=`` argument into one raw -> canonical map per item, and apply it.

A coding is a named preset of the instrument (``"1-3"``, ``"hrs-often-first"``, ``"brfss"``...),
an explicit dict ``{raw_code: canonical_code}`` (``None`` or NaN as the canonical code marks a
raw code as missing), or a dict ``{item_name: preset_or_dict}`` giving each item its own coding.
Raw codes that the coding does not know are errors, never NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from socialhealth._text import show, show_list
from socialhealth.errors import CodingError, ItemCodeError
from socialhealth.measures.definitions import Instrument, Item

__all__ = ["ItemCoding", "resolve_coding", "recode"]


@dataclass(frozen=True)
class ItemCoding:
    """The coding of one item: map (raw -> canonical), raw codes meaning missing, a label.

    Built by :func:`resolve_coding`; applied by :func:`recode`.

    Examples
    --------
    >>> ItemCoding({0: 1.0, 1: 2.0, 2: 3.0}, frozenset({9}), "0-2").mapping[2]
    3.0
    """

    mapping: dict[Any, float]
    missing: frozenset[Any]
    label: str


def _is_nan(v: Any) -> bool:
    try:
        return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
    except TypeError:  # pragma: no cover - exotic objects
        return False


def _explicit(inst: Instrument, item: Item, raw: Mapping[Any, Any], label: str) -> ItemCoding:
    mapping: dict[Any, float] = {}
    missing: set[Any] = set()
    bad = []
    for k, v in raw.items():
        if _is_nan(v):
            missing.add(k)
            continue
        try:
            fv = float(v)
        except (TypeError, ValueError):
            bad.append(v)
            continue
        if fv not in item.codes:
            bad.append(v)
            continue
        mapping[k] = fv
    if bad:
        raise CodingError(
            f"{inst.key}: coding for item {item.name!r} maps onto {bad!r}, which are not canonical "
            f"codes of the item (canonical codes: {list(_fmt_codes(item))}). Map each raw code to "
            "one of those, or to None for missing."
        )
    if not mapping:
        raise CodingError(f"{inst.key}: the coding for item {item.name!r} maps no raw code to a "
                          f"score.")
    return ItemCoding(mapping, frozenset(missing), label)


def _fmt_codes(item: Item):
    for c, lab in zip(item.codes, item.labels or [""] * len(item.codes), strict=False):
        yield f"{c:g} {lab}".strip()


def _preset(inst: Instrument, item: Item, name: str) -> ItemCoding:
    c = inst.coding(name)
    if c.applies_to and item.name not in c.applies_to:
        raise CodingError(
            f"{inst.key}: coding {name!r} is for item(s) {', '.join(c.applies_to)}, not "
            f"{item.name!r}. "
            "Pass one coding per item, e.g. coding={item: preset}."
        )
    mapping = {k: v for k, v in c.mapping if not math.isnan(v)}
    missing = frozenset([k for k, v in c.mapping if math.isnan(v)] + list(c.missing))
    return ItemCoding(mapping, missing, name)


def resolve_coding(inst: Instrument, coding: Any, neutral: Any = None) -> dict[str, ItemCoding]:
    """One :class:`ItemCoding` per item of ``inst`` from the user's ``coding`` (and ``neutral``).

    ``coding`` is the name of one of the instrument's codings, an explicit dict
    ``{raw: canonical}``, or a dict ``{item: coding}``; it is never assumed (None raises
    ``CodingError`` listing the known codings).

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> resolve_coding(get_instrument("ucla3"), "0-2")["companionship"].mapping
    {0: 1.0, 1: 2.0, 2: 3.0}
    """
    names = inst.item_names
    if coding is None:
        raise CodingError(
            f"{inst.key}: pass coding= (how your raw codes map to the instrument's codes); "
            f"never assumed. Known codings: {', '.join(repr(c.name) for c in inst.codings)}, "
            "or an explicit dict {raw_code: canonical_code}. See measures.describe("
            f"{inst.key!r})."
        )
    out: dict[str, ItemCoding] = {}
    if isinstance(coding, str):
        c = inst.coding(coding)
        if c.applies_to and set(c.applies_to) != set(names):
            raise CodingError(
                f"{inst.key}: coding {coding!r} applies only to item(s) {', '.join(c.applies_to)}; "
                "the items use different answer sets, so pass one coding per item: "
                "coding={" + ", ".join(f"{n!r}: ..." for n in names) + "}."
            )
        for it in inst.items:
            out[it.name] = _preset(inst, it, coding)
    elif isinstance(coding, Mapping):
        keys = list(coding)
        per_item = bool(keys) and all(isinstance(k, str) and k in names for k in keys)
        if per_item:
            missing = [n for n in names if n not in coding]
            if missing:
                raise CodingError(
                    f"{inst.key}: a per-item coding must cover every item; missing {missing}."
                )
            for it in inst.items:
                spec = coding[it.name]
                if isinstance(spec, str):
                    out[it.name] = _preset(inst, it, spec)
                elif isinstance(spec, Mapping):
                    out[it.name] = _explicit(inst, it, spec, "explicit")
                else:
                    raise CodingError(
                        f"{inst.key}: coding for item {it.name!r} must be a preset name or a dict, "
                        f"not {type(spec).__name__}."
                    )
        else:
            for it in inst.items:
                out[it.name] = _explicit(inst, it, coding, "explicit")
    else:
        raise CodingError(
            f"{inst.key}: coding must be a preset name, a dict {{raw: canonical}} or a dict "
            f"{{item: coding}}, not {type(coding).__name__}."
        )
    _check_neutral(inst, out, coding, neutral)
    return out


def _check_neutral(inst: Instrument, codings: dict[str, ItemCoding], coding: Any,
                   neutral: Any) -> None:
    if not inst.requires_neutral:
        if neutral is not None:
            raise CodingError(
                f"{inst.key}: neutral= is only used by instruments whose neutral answer needs an "
                "explicit code (De Jong Gierveld); leave it out."
            )
        return
    target = inst.neutral_canonical
    if neutral is None:
        hints = "; ".join(f"{c.name!r}: neutral={c.neutral!r}" for c in inst.codings
                          if c.neutral is not None)
        raise CodingError(
            f"{inst.key}: pass neutral=<raw code of 'more or less'> explicitly: it counts as "
            f"lonely on "
            "every item, and its code differs between codings (2 on a 3-point coding, 3 on a "
            f"5-point coding; {hints})."
        )
    for name, ic in codings.items():
        neutral_raw = [k for k, v in ic.mapping.items() if v == target]
        if len(neutral_raw) != 1 or neutral_raw[0] != neutral:
            raise CodingError(
                f"{inst.key}: neutral={neutral!r} does not match coding {ic.label!r} for item "
                f"{name!r}, which maps raw code(s) {neutral_raw!r} to 'more or less'. Check "
                "which code your data use for 'more or less' and pass the matching coding."
            )


def recode(inst: Instrument, item: Item, column: str, values: pd.Series,
           ic: ItemCoding) -> np.ndarray:
    """Raw values -> canonical float codes (NaN = missing); unknown raw codes raise ItemCodeError.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth.measures import get_instrument
    >>> inst = get_instrument("ucla3")
    >>> ic = resolve_coding(inst, "0-2")["companionship"]
    >>> recode(inst, inst.item("companionship"), "q1", pd.Series([0, 2, None]), ic)
    array([ 1.,  3., nan])
    """
    obj = values.astype(object)
    codes, uniques = pd.factorize(obj, use_na_sentinel=True)
    canonical = np.full(len(uniques) + 1, np.nan)  # last slot: missing (code -1)
    bad: list[Any] = []
    for j, u in enumerate(uniques):
        if _is_nan(u):
            continue
        try:
            if u in ic.mapping:
                canonical[j] = ic.mapping[u]
                continue
            if u in ic.missing:
                continue
        except TypeError:  # unhashable
            pass
        bad.append(u)
    if bad:
        counts = obj[obj.isin(bad)].value_counts()
        shown = ", ".join(f"{show(v)} ({n} row{'s' if n != 1 else ''})" for v, n in counts.items())
        raise ItemCodeError(
            f"{inst.key}: item {item.name!r} (column {column!r}) has codes that coding "
            f"{ic.label!r} does not allow: {shown}. Allowed raw codes: "
            f"{show_list(sorted(ic.mapping, key=str))}"
            + (f"; missing codes: {show_list(sorted(ic.missing, key=str))}" if ic.missing else "")
            + ". Set refusals/don't knows to missing first (or map them to None in an explicit "
            "coding dict) and check that the coding matches the data."
        )
    return canonical[np.where(codes < 0, len(uniques), codes)]
