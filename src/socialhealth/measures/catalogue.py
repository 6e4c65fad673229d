"""The instrument catalogue: ``measures.list()`` and ``measures.describe()``."""
from __future__ import annotations

import pandas as pd

from socialhealth.measures.definitions import get_instrument, instrument_keys

__all__ = ["describe", "list_instruments"]


def _cutoff_text(inst) -> str:
    parts = []
    for s in inst.scales:
        for c in s.cutoffs:
            bands = ", ".join(f"{b.lower:g}-{b.upper:g} {b.label}" for b in c.bands)
            tag = "" if c.verified else " [unverified; opt-in]"
            default = "" if c.name == s.default_cutoffs else " (by name)"
            parts.append(f"{s.name} {c.name}{default}: {bands}{tag}")
        if not s.cutoffs and s is inst.total:
            parts.append("total: none published"
                         + (" (cutoff= parameter)" if s.threshold_labels else ""))
    return "; ".join(parts)


def list_instruments() -> pd.DataFrame:
    """The instruments socialhealth can score, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``key, name, items, range, direction, cutoffs, reference``: ``items`` is the
        number of items, ``range`` the total score's range (``"3-9"``), ``cutoffs`` a summary of
        the published cut-off sets ("[unverified; opt-in]" marks sets used only by name).

    Notes
    -----
    Each row comes from a TOML definition in ``socialhealth/measures/instruments/``; the full
    rules are in ``measures.describe(key)``. In R, ``lonelyr`` lists similar scoring keys.

    Examples
    --------
    >>> from socialhealth import measures
    >>> "ucla3" in set(measures.list()["key"])
    True
    """
    rows = []
    for key in instrument_keys():
        inst = get_instrument(key)
        lo, hi = inst.scale_range(inst.total)
        rows.append(
            {
                "key": key,
                "name": inst.name,
                "items": len(inst.items),
                "range": f"{lo:g}-{hi:g}",
                "direction": inst.direction,
                "cutoffs": _cutoff_text(inst),
                "reference": inst.reference,
            }
        )
    return pd.DataFrame(rows, columns=["key", "name", "items", "range", "direction", "cutoffs",
                                       "reference"])


def describe(key: str) -> str:
    """Full scoring documentation of one instrument: items, codes, reverse keys, codings,
    scales, missing-item rules, cut-offs, unverified points and citation.

    Examples
    --------
    >>> from socialhealth import measures
    >>> print(measures.describe("ucla3"))          # doctest: +ELLIPSIS
    ucla3: UCLA 3-item Loneliness Scale ...
    """
    return get_instrument(key).doc
