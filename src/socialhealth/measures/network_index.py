"""Berkman-Syme components from the raw Berkman-Breslow (PhenX) network items
(Loucks et al. 2006)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from socialhealth._text import show_list
from socialhealth.errors import ItemCodeError, MeasureError

__all__ = ["berkman_syme_components"]

# The PhenX "Social Networks" protocol (Berkman & Breslow 1983 items) codes, and the component
# rule of Loucks et al. (2006) as quoted with that protocol. Codes listed here are the only
# valid answers; 9 ("unknown") becomes missing; anything else raises.
_RULES: dict[str, dict[str, Any]] = {
    "married": {"codes": (0, 1), "unknown": (9,), "yes": lambda v: v == 1,
                "text": "married: 0 no, 1 yes"},
    "close_friends": {"codes": (0, 1, 2, 3, 4), "unknown": (9,), "yes": None,
                      "text": "close friends: 0 none, 1 '1 or 2', 2 '3 to 5', 3 '6 to 9', 4 '10 or "
                      "more'"},
    "close_relatives": {"codes": (0, 1, 2, 3, 4), "unknown": (9,), "yes": None,
                        "text": "close relatives: 0 none, 1 '1 or 2', 2 '3 to 5', 3 '6 to 9', 4 "
                        "'10 or more'"},
    "groups": {"codes": (0, 1), "unknown": (9,), "yes": lambda v: v == 1,
               "text": "takes part in any group (senior centre, social/work, religious-connected, "
                       "self-help, charity, public service or community group): 0 no, 1 yes"},
    "religious_attendance": {"codes": (0, 1, 2, 3, 4, 5), "unknown": (9,), "yes": lambda v: v >= 3,
                             "text": "religious meetings or services: 0 never or almost never, 1 "
                                     "once or twice a year, 2 every few months, 3 once or twice a "
                                     "month, 4 once a week, 5 more than once a week"},
}
LOUCKS_2006 = ("Loucks EB, Sullivan LM, D'Agostino RB, Larson MG, Berkman LF, Benjamin EJ. Social "
               "networks and inflammatory markers in the Framingham Heart Study. J Biosoc Sci "
               "2006;38(6):835-842; rule as quoted with the PhenX Toolkit protocol of the Berkman "
               "& Breslow (1983) items")


def _checked(data: pd.DataFrame, item: str, column: str) -> pd.Series:
    if column not in data.columns:
        raise MeasureError(
            f"berkman_syme_components: column {column!r} (item {item!r}) is not in the data. "
            f"Pass {item}=<column name>; columns available: {list(data.columns)[:20]}."
        )
    rule = _RULES[item]
    raw = data[column]
    values = pd.to_numeric(raw, errors="coerce")
    nonnum = raw.notna() & values.isna()
    allowed = set(rule["codes"]) | set(rule["unknown"])
    bad = values.notna() & ~values.isin(list(allowed))
    if nonnum.any() or bad.any():
        shown = show_list(pd.unique(raw[nonnum | bad]), limit=10)
        raise ItemCodeError(
            f"berkman_syme_components: item {item!r} (column {column!r}) has values {shown} "
            f"outside its codes ({rule['text']}; 9 unknown). Recode the column to these codes "
            f"first."
        )
    return values.where(~values.isin(list(rule["unknown"])))


def berkman_syme_components(
    data: pd.DataFrame,
    *,
    married: str = "married",
    close_friends: str = "close_friends",
    close_relatives: str = "close_relatives",
    groups: str = "groups",
    religious_attendance: str = "religious_attendance",
    rule: str = "loucks2006",
) -> pd.DataFrame:
    """The four Berkman-Syme component indicators from the raw Berkman-Breslow network items.

    Builds the input of ``measures.score("berkman_syme", ..., coding="indicators")`` from the
    five items of the PhenX "Social Networks" protocol (Berkman & Breslow 1983), with the rule
    of Loucks et al. (2006, Framingham Heart Study):

    * ``married`` = 1 if married (item code 1);
    * ``sociability`` = 0 if the respondent has 0-2 close friends AND 0-2 close relatives
      (codes 0 "none" or 1 "1 or 2" on both items), else 1;
    * ``groups`` = 1 if they take part in any group (code 1);
    * ``church`` = 1 if they attend religious meetings or services once or twice a month or
      more often (codes 3-5).

    The score is the number of components (0-4). Loucks et al. grouped it into four levels,
    0-1 (most isolated), 2, 3 and 4 (most integrated): ``measures.categorise("berkman_syme",
    score, cutoffs="loucks2006")``. This is Loucks' published scoring, NOT the original
    Berkman & Syme (1979) level algorithm, which weights intimate ties more heavily and is not
    implemented (it could not be verified from the primary text).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    married, close_friends, close_relatives, groups, religious_attendance : str
        Column names of the five items, coded as in the PhenX protocol (listed in Notes); code
        9 "unknown" becomes missing. Any other value raises
        :class:`~socialhealth.errors.ItemCodeError`.
    rule : {"loucks2006"}
        The component rule. Only Loucks et al. (2006) is built in.

    Returns
    -------
    pandas.DataFrame
        Columns ``married``, ``sociability``, ``church``, ``groups`` (0/1 floats, NaN where an
        input item is missing or unknown; ``sociability`` is known as soon as either count
        item is above "1 or 2"), aligned with ``data.index``.

    Notes
    -----
    Item codes (PhenX protocol): close friends / close relatives "people that you feel at ease
    with, can talk to about private matters": 0 none, 1 "1 or 2", 2 "3 to 5", 3 "6 to 9",
    4 "10 or more"; groups: 0 no, 1 yes; religious meetings or services: 0 never or almost
    never, 1 once or twice a year, 2 every few months, 3 once or twice a month, 4 once a week,
    5 more than once a week; 9 unknown on every item.

    The rule was checked against a secondary copy of the PhenX protocol's scoring text (not
    against Loucks et al. 2006 itself), so its cut-off set ``loucks2006`` is marked unverified
    and is applied only when named.

    References
    ----------
    Loucks EB et al. Social networks and inflammatory markers in the Framingham Heart Study.
    J Biosoc Sci 2006;38:835-842. Berkman LF, Breslow L. Health and Ways of Living: The Alameda
    County Study. Oxford University Press, 1983. Berkman LF, Syme SL. Am J Epidemiol
    1979;109:186-204.

    In R (no package computes it)::

        sociability <- as.integer(!(friends %in% 0:1 & relatives %in% 0:1))
        church <- as.integer(relig >= 3); sni <- married + sociability + groups + church

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import measures
    >>> raw = pd.DataFrame({"married": [0, 1], "close_friends": [1, 3], "close_relatives": [0, 1],
    ...                     "groups": [0, 1], "religious_attendance": [2, 4]})
    >>> comp = measures.berkman_syme_components(raw)
    >>> s = measures.score("berkman_syme", comp, coding="indicators")
    >>> s.score.tolist()
    [0.0, 4.0]
    >>> measures.categorise("berkman_syme", s.score, cutoffs="loucks2006").tolist()
    ['0-1 components (most isolated)', '4 components (most integrated)']
    """
    if rule != "loucks2006":
        raise MeasureError(f"berkman_syme_components: unknown rule {rule!r}; the only rule built "
                           f"in is 'loucks2006'.")
    if not isinstance(data, pd.DataFrame):
        raise MeasureError("berkman_syme_components: data must be a pandas DataFrame.")
    cols = {"married": married, "close_friends": close_friends, "close_relatives": close_relatives,
            "groups": groups, "religious_attendance": religious_attendance}
    v = {item: _checked(data, item, col) for item, col in cols.items()}

    def indicator(item: str) -> pd.Series:
        x = v[item]
        return pd.Series(np.where(x.isna(), np.nan, _RULES[item]["yes"](x).astype(float)),
                         index=data.index)

    f, r = v["close_friends"], v["close_relatives"]
    many = (f >= 2) | (r >= 2)                        # NaN compares False
    known_few = (f <= 1) & (r <= 1)                   # both answered and both at most "1 or 2"
    sociability = np.where(many, 1.0, np.where(known_few, 0.0, np.nan))
    return pd.DataFrame({
        "married": indicator("married"),
        "sociability": pd.Series(sociability, index=data.index),
        "church": indicator("religious_attendance"),
        "groups": indicator("groups"),
    }, index=data.index)
