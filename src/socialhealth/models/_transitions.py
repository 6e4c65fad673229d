r"""Design-based transition tables between two waves of a linked panel.

For a concept measured at two waves of a :class:`~socialhealth.datasets.PanelData`
(``<concept>@<from_wave>`` and ``<concept>@<to_wave>``), the persons with both answers are
cross-classified by their state at each wave. For each observed from -> to cell the table gives

* ``share``: the weighted share of all persons in that cell (``sum w [from=a, to=b] / sum w``),
  with R ``svyciprop`` intervals (default ``"logit"``) and the design degrees of freedom;
* ``row_share``: the transition probability ``P(to = b | from = a)``, the share of the persons
  in state ``a`` at ``from_wave`` who are in ``b`` at ``to_wave``: a domain proportion, each
  domain analysed as ``subset(design, from == a)`` (its own df), R ``svyciprop`` on that subset;
* ``n`` (persons) and ``weighted`` (sum of weights; R ``svytable(~from + to, design)``).

Persons missing either answer are left out with zero weight and keep their place in the design
(R ``subset(design, !is.na(from) & !is.na(to))``). Cells with no person are not listed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth.design.proportion import ProportionMethod
from socialhealth.design.result_protocol import Result
from socialhealth.errors import MissingColumnError, ModelError

__all__ = ["TransitionTable", "transitions"]

COLUMNS = ["from_state", "to_state", "n", "weighted", "share", "se", "ci_low", "ci_high",
           "row_share", "row_se", "row_ci_low", "row_ci_high", "df", "row_df"]


@dataclass
class TransitionTable(Result):
    """Result of :func:`transitions`.

    Result protocol: ``to_frame()`` and ``summary()``; ``coef()``, ``se()``, ``confint()``,
    ``vcov`` and ``float()`` do not apply (two estimates per cell: use ``to_frame()``).

    Attributes
    ----------
    table : one row per observed from -> to cell (see :meth:`to_frame`).
    concept, from_column, to_column, method, level, n : what was tabulated, on how many persons.

    Examples
    --------
    >>> import pandas as pd
    >>> t = TransitionTable(pd.DataFrame({"from_state": ["a", "a"], "to_state": ["a", "b"],
    ...     "share": [0.6, 0.2], "row_share": [0.75, 0.25]}), "x", "x@1", "x@2", "logit", 0.95, 4)
    >>> t.matrix("share").loc["a"].tolist()
    [0.6, 0.2]

    (:func:`transitions` builds it from a linked panel; see its example.)

    In R: ``svytable(~from + to, design)``; ``svyciprop(~I(from == a & to == b), design)``.
    """

    table: pd.DataFrame
    concept: str
    from_column: str
    to_column: str
    method: str
    level: float
    n: int
    levels: list | None = None

    _not_applicable = dict.fromkeys(
        ("coef", "se", "confint", "vcov", "float"),
        "each cell has two estimates (share and row_share, each with se and interval); read "
        "them from to_frame() or matrix().")

    def to_frame(self) -> pd.DataFrame:
        """Columns ``from_state, to_state, n, weighted, share, se, ci_low, ci_high, row_share,
        row_se, row_ci_low, row_ci_high, df, row_df``."""
        return self.table.copy()

    def matrix(self, value: str = "row_share") -> pd.DataFrame:
        """The table as a from x to matrix of ``value`` (default the transition probabilities).

        Examples
        --------
        >>> import pandas as pd
        >>> t = TransitionTable(pd.DataFrame({"from_state": ["a", "a"], "to_state": ["a", "b"],
        ...     "row_share": [0.75, 0.25]}), "x", "x@1", "x@2", "logit", 0.95, 4)
        >>> t.matrix().to_dict()
        {'a': {'a': 0.75}, 'b': {'a': 0.25}}
        """
        if value not in self.table.columns:
            raise ModelError(f"value={value!r} is not a column of the transition table; choose "
                             f"one of {list(self.table.columns)}.")
        m = self.table.pivot(index="from_state", columns="to_state", values=value)
        rows = list(dict.fromkeys(self.table["from_state"]))
        cols = [c for c in self.levels if c in set(m.columns)] if self.levels else list(m.columns)
        m = m.reindex(index=rows, columns=cols)
        m.index.name, m.columns.name = self.from_column, self.to_column
        return m

    def __repr__(self) -> str:
        lines = [f"Transitions of {self.concept}: {self.from_column} -> {self.to_column} "
                 f"({self.n} persons; {self.method} intervals)"]
        for r in self.table.itertuples(index=False):
            lines.append(f"  {r.from_state!s:>18} -> {r.to_state!s:<18} share {r.share:.3f} "
                         f"({r.ci_low:.3f}, {r.ci_high:.3f})  P(to|from) {r.row_share:.3f} "
                         f"({r.row_ci_low:.3f}, {r.row_ci_high:.3f})  n={r.n}")
        return "\n".join(lines)


def _labels(s: pd.Series) -> tuple[pd.Series, list]:
    """String labels of a column (missing kept) and its levels in their natural order."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in s.cat.categories]
    else:
        levels = sorted({str(v) for v in s.dropna()}, key=_order_key)
    lab = s.astype(object).where(s.notna()).map(lambda v: v if v is None or v is pd.NA
                                                  or (isinstance(v, float) and np.isnan(v))
                                                  else str(v))
    return lab.where(s.notna(), None), levels


def _order_key(v: str):
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def transitions(panel, concept: str, from_wave: int, to_wave: int,
                method: ProportionMethod = "logit",
                level: float = 0.95) -> TransitionTable:
    r"""Weighted from -> to transition table of ``concept`` between two waves, with CIs.

    Parameters
    ----------
    panel : PanelData
        From :func:`socialhealth.datasets.load_panel`.
    concept : str
        A concept measured at both waves (``"self_rated_health"``, ``"poor_health"``,
        ``"contact_in_person"``): the columns ``<concept>@<from_wave>`` and
        ``<concept>@<to_wave>``.
    from_wave, to_wave : int
        Interview years.
    method : str
        Interval for the shares, as in :meth:`SurveyDesign.proportion` (default ``"logit"``,
        R ``svyciprop``'s default).
    level : float
        Confidence level.

    Returns
    -------
    TransitionTable
        ``.to_frame()``: one row per observed cell, see the module docstring; ``.matrix()``.

    Raises
    ------
    MissingColumnError
        The concept is not in the panel at one of the waves.
    ModelError
        No person answered at both waves.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from socialhealth import models
    >>> from socialhealth.datasets import PanelData
    >>> data = pd.DataFrame({"weight": [1.0, 1, 2, 2, 1, 1, 1, 3], "strata": ["s"] * 8,
    ...     "psu": ["1", "2", "3", "4", "1", "2", "3", "4"],
    ...     "lonely@2016": [True, True, False, False, False, True, False, None],
    ...     "lonely@2020": [True, False, False, False, True, True, False, True]})
    >>> panel = PanelData("x", data, pd.DataFrame(), {}, {"weights": "weight",
    ...     "strata": "strata", "psu": "psu"}, waves=[2016, 2020])
    >>> t = models.transitions(panel, "lonely", 2016, 2020)
    >>> t.to_frame()[["from_state", "to_state", "n", "weighted", "share", "row_share"]]
      from_state to_state  n  weighted     share  row_share
    0      False    False  3       5.0  0.555556   0.833333
    1      False     True  1       1.0  0.111111   0.166667
    2       True    False  1       1.0  0.111111   0.333333
    3       True     True  2       2.0  0.222222   0.666667

    Shares by hand: 9 weight units on the 7 persons answering both times; False -> False holds
    weights 2 + 2 + 1 = 5 (5/9), and 5 of the 6 units in False at 2016 stay False (0.833).

    In R: ``d <- subset(design, !is.na(from) & !is.na(to))``; ``svytable(~from + to, d)``;
    ``svyciprop(~I(from == "False" & to == "False"), d)``; ``svyciprop(~I(to == "False"),
    subset(d, from == "False"))``.
    """
    from socialhealth.models._prospective import require_panel

    require_panel(panel, "transitions")
    data = panel.data
    a, b = f"{concept}@{int(from_wave)}", f"{concept}@{int(to_wave)}"
    missing = [c for c in (a, b) if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, "the linked panel")
    fa, lev_a = _labels(data[a])
    fb, lev_b = _labels(data[b])
    ok = (fa.notna() & fb.notna()).to_numpy()
    design = panel.design
    ok = ok & np.asarray(design.in_subset, bool)
    if not ok.any():
        raise ModelError(f"no person answered {concept} at both {from_wave} and {to_wave}.")
    cell = (fa.astype(object) + " -> " + fb.astype(object)).where(ok, None)
    work = design.assign(from_state=fa.where(ok, None), to_state=fb.where(ok, None),
                         transition=cell).subset(ok)
    joint = work.proportion("transition", method=method, level=level).to_frame()
    cond = work.proportion("to_state", method=method, level=level, by="from_state").to_frame()
    w = np.asarray(design.weights, float)
    rows = []
    for fr in lev_a:
        for to in lev_b:
            sel = ok & (fa == fr).to_numpy() & (fb == to).to_numpy()
            if not sel.any():
                continue
            j = joint[joint["level"] == f"{fr} -> {to}"].iloc[0]
            c = cond[(cond["from_state"] == fr) & (cond["level"] == to)].iloc[0]
            rows.append({"from_state": fr, "to_state": to, "n": int(sel.sum()),
                         "weighted": float(w[sel].sum()), "share": j["estimate"], "se": j["se"],
                         "ci_low": j["ci_low"], "ci_high": j["ci_high"],
                         "row_share": c["estimate"], "row_se": c["se"], "row_ci_low": c["ci_low"],
                         "row_ci_high": c["ci_high"], "df": j["df"], "row_df": c["df"]})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return TransitionTable(table=table, concept=concept, from_column=a, to_column=b,
                           method=method, level=level, n=int(ok.sum()),
                           levels=list(dict.fromkeys([*lev_a, *lev_b])))
