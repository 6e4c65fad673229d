r"""Prospective models on a linked panel: social connection at baseline, health later.

The longitudinal form of :func:`socialhealth.models.association`: on a
:class:`~socialhealth.datasets.PanelData` (``datasets.load_panel``, one row per person
followed, columns ``<concept>@<year>``), the outcome measured at a later wave is regressed on
the exposure measured at baseline, with nested adjustment blocks and, last, the outcome at
baseline (``baseline_outcome=True``), or on the persons free of the outcome at baseline only
(``incident=True``, a domain of the panel design). Every model is a survey-weighted GLM on the
panel design (baseline strata and PSUs, panel weight), so intervals are design-based and equal
R's ``svyglm`` on the linked rows.

References
----------
Lumley T (2010) *Complex Surveys*, Wiley, ch. 5-6 (svyglm, domains).
Holt-Lunstad J, Smith TB, Layton JB (2010) Social relationships and mortality risk: a
meta-analytic review. *PLoS Med* 7:e1000316 (prospective designs, baseline adjustment).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from socialhealth.errors import MissingColumnError, ModelError
from socialhealth.models._association import AssociationTable, adjust_blocks, association

if TYPE_CHECKING:
    from socialhealth.design.glm import SurveyGLMResult

__all__ = ["ProspectiveTable", "prospective"]

_FAMILY_MEASURE: dict[str, Literal["or", "coef"]] = {"binomial": "or", "quasibinomial": "or",
                                                     "gaussian": "coef"}


@dataclass(repr=False)
class ProspectiveTable(AssociationTable):
    """Result of :func:`prospective`: an :class:`AssociationTable` plus the panel columns used.

    Attributes
    ----------
    exposure_column, outcome_column : the ``<concept>@<year>`` columns modelled.
    baseline_outcome_column : the outcome at baseline (adjusted for, or the incident filter).
    incident : whether the models are restricted to persons free of the outcome at baseline.
    n_linked : persons in the linked panel; weight_variable : the panel weight.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from socialhealth import models
    >>> from socialhealth.datasets import PanelData
    >>> rng = np.random.default_rng(7)
    >>> x = rng.random(120) < 0.4
    >>> data = pd.DataFrame({"weight": 1.0, "strata": "s", "psu": np.tile(["1", "2", "3"], 40),
    ...     "x@2016": x, "y@2016": rng.random(120) < 0.3,
    ...     "y@2020": rng.random(120) < np.where(x, 0.5, 0.2)})
    >>> panel = PanelData("demo", data, pd.DataFrame(), {}, {"weights": "weight",
    ...     "strata": "strata", "psu": "psu"}, waves=[2016, 2020])
    >>> t = models.prospective(panel, "x", 2016, "y", 2020)
    >>> t.exposure_column, t.outcome_column, t.baseline_outcome_column
    ('x@2016', 'y@2020', 'y@2016')

    In R: ``svyglm(`poor_health@2010` ~ `contact_in_person@2006` + `poor_health@2006`, design,
    family = quasibinomial())`` on the linked rows.
    """

    exposure_column: str = ""
    outcome_column: str = ""
    baseline_outcome_column: str = ""
    incident: bool = False
    n_linked: int = 0
    weight_variable: str = ""
    r_formulas: list = field(default_factory=list)


def _q(name: str) -> str:
    """A column name as a formula term (backticks around names that are not identifiers)."""
    return name if re.match(r"^[A-Za-z_][A-Za-z_0-9]*$", name) else f"`{name}`"


def _resolve(data: pd.DataFrame, term: str, wave: int, what: str) -> str:
    """``term`` as a column of the linked panel: ``x`` -> ``x@<wave>``; ``x@2010`` kept;
    design columns (``weight``, ``strata``, ...) kept."""
    if "@" in term or term in data.columns:
        if term not in data.columns:
            raise MissingColumnError([term], data.columns, f"the linked panel ({what})")
        return term
    name = f"{term}@{int(wave)}"
    if name not in data.columns:
        raise MissingColumnError([name], data.columns, f"the linked panel ({what}; "
                                 f"{term!r} at wave {wave})")
    return name


def _not_measured(data: pd.DataFrame, col: str, what: str) -> None:
    if data[col].notna().sum() == 0:
        raise ModelError(f"{col} ({what}) has no answer on any linked row: the concept is not "
                         "measured at that wave. See panel.codebook for the waves that ask it.")


def require_panel(panel, what: str) -> None:
    """Refuse anything but a linked panel (``.data`` with ``column@wave`` names and ``.design``).

    Examples
    --------
    >>> import types
    >>> require_panel(types.SimpleNamespace(data=pd.DataFrame(), design=None), "prospective")
    """
    if not (hasattr(panel, "data") and hasattr(panel, "design")
            and isinstance(getattr(panel, "data", None), pd.DataFrame)):
        raise ModelError(
            f"{what} needs a linked panel from sh.datasets.load_panel(...) (columns "
            f"'concept@wave' and a .design), not a {type(panel).__name__}; for one wave use "
            "models.association(design, ...).")


def prospective(panel, exposure: str, exposure_wave: int, outcome: str, outcome_wave: int,
                adjust=None, baseline_outcome: bool = True, incident: bool = False,
                family: str | None = None,
                measure: Literal["or", "pr", "rd", "coef"] | None = None,
                complete_cases: bool = True, categorical: bool | None = None, reference=None,
                level: float = 0.95, tol: float = 1e-14) -> ProspectiveTable:
    r"""Baseline exposure and later outcome on a linked panel, as nested survey GLMs.

    Fits ``outcome@<outcome_wave> ~ exposure@<exposure_wave>``, then adds each adjustment
    block and finally (``baseline_outcome=True``) the outcome at the exposure wave
    ``outcome@<exposure_wave>``; with ``incident=True`` the models are fitted instead in the
    domain of persons free of the outcome at baseline (``outcome@<exposure_wave>`` False), the
    rest of the linked panel keeping its place in the design (R ``subset(design, ...)``). The
    table, intervals (``b +- t(df) se`` with the residual design df) and complete-case rule
    are those of :func:`socialhealth.models.association`.

    Parameters
    ----------
    panel : PanelData
        From :func:`socialhealth.datasets.load_panel`.
    exposure : str
        Concept (``"contact_in_person"``; the column ``contact_in_person@<exposure_wave>``) or a
        full column name ``"<concept>@<year>"``. Strings/categoricals give one row per
        non-reference level.
    exposure_wave : int
        Interview year of the exposure (the baseline); earlier than ``outcome_wave``.
    outcome : str
        Concept of the outcome (``"poor_health"``): the column ``<outcome>@<outcome_wave>``.
    outcome_wave : int
        Interview year of the outcome.
    adjust : list, optional
        Adjustment blocks as in :func:`association` (``[["age_group", "sex"], ["education"]]``);
        a bare concept is taken at the exposure wave (``age_group`` -> ``age_group@2006``),
        ``"<concept>@<year>"`` names another wave.
    baseline_outcome : bool
        Add the outcome at the exposure wave as the last adjustment block (default True;
        ignored when ``incident=True``).
    incident : bool
        Restrict to persons free of the outcome at baseline (a boolean outcome).
    family : {"binomial", "gaussian"}, optional
        Default from the outcome: boolean -> binomial (odds ratios), numeric -> gaussian.
    measure : {"or", "pr", "rd", "coef"}, optional
        As in :func:`association`; overrides ``family``.
    complete_cases, categorical, reference, level
        As in :func:`association`.
    tol : float
        IRLS tolerance on the relative change in deviance. The default 1e-14 runs the fit to
        convergence, so the design-based standard errors (whose bread uses the last
        iteration's working weights) are those of the maximum-likelihood estimate to about
        1e-12; the :func:`association` default (1e-12) can leave them ~1e-7 away. R: the same
        with ``control = glm.control(epsilon = 1e-13)`` and a refit from ``start = coef(m)``.

    Returns
    -------
    ProspectiveTable
        ``.to_frame()``: the columns of :meth:`AssociationTable.to_frame`; ``.models`` the
        fitted GLMs; the panel columns used and ``.r_formulas``.

    Raises
    ------
    MissingColumnError
        A concept is not in the panel at the wave asked for.
    ModelError
        ``exposure_wave`` not before ``outcome_wave``, a column with no answer on any linked
        row (not asked at that wave), ``incident=True`` with a non-boolean outcome.

    Examples
    --------
    On a generated panel of 400 persons (in real use ``panel = datasets.load_panel(...)``):

    >>> import numpy as np, pandas as pd
    >>> from socialhealth import models
    >>> from socialhealth.datasets import PanelData
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> iso = rng.random(n) < 0.3
    >>> ph06 = rng.random(n) < 0.2
    >>> ph10 = rng.random(n) < 0.15 + 0.15 * iso + 0.4 * ph06
    >>> data = pd.DataFrame({"respondent_id": np.arange(n).astype(str),
    ...     "weight": rng.uniform(0.5, 2, n), "strata": np.repeat(["a", "b"], n // 2),
    ...     "psu": np.tile(["1", "2", "3", "4"], n // 4),
    ...     "isolated@2006": iso, "poor_health@2006": ph06, "poor_health@2010": ph10,
    ...     "sex@2006": np.where(rng.random(n) < 0.5, "female", "male")})
    >>> panel = PanelData("demo", data, pd.DataFrame(), {}, {"weights": "weight",
    ...     "strata": "strata", "psu": "psu", "nest": True}, waves=[2006, 2010])
    >>> t = models.prospective(panel, exposure="isolated", exposure_wave=2006,
    ...                        outcome="poor_health", outcome_wave=2010, adjust=["sex"])
    >>> t.to_frame()[["model_label", "adjusted_for", "n"]]
                                   model_label                adjusted_for    n
    0                               unadjusted                              400
    1                             + sex (2006)                    sex@2006  400
    2  + fair or poor self-rated health (2006)  sex@2006, poor_health@2006  400
    >>> ti = models.prospective(panel, exposure="isolated", exposure_wave=2006,
    ...                         outcome="poor_health", outcome_wave=2010, incident=True)
    >>> ti.to_frame()["n"].tolist() == [int((~ph06).sum())]   # persons free of it at baseline
    True

    In R: ``des <- svydesign(ids = ~psu, strata = ~strata, weights = ~weight, nest = TRUE,
    data = linked)``; ``svyglm(`poor_health@2010` ~ `isolated@2006` + `sex@2006` +
    `poor_health@2006`, des, family = quasibinomial())``; incident: ``svyglm(... ,
    subset(des, !`poor_health@2006`))``.
    """
    require_panel(panel, "prospective")
    data = panel.data
    if int(exposure_wave) >= int(outcome_wave):
        raise ModelError(f"exposure_wave={exposure_wave} must be before outcome_wave="
                         f"{outcome_wave} for a prospective model.")
    x = _resolve(data, exposure, exposure_wave, "exposure")
    y = _resolve(data, outcome if "@" not in outcome
                 else outcome.split("@")[0] + f"@{outcome_wave}",
                 outcome_wave, "outcome")
    base_concept = y.split("@")[0]
    y0 = f"{base_concept}@{int(exposure_wave)}"
    _not_measured(data, x, "exposure")
    _not_measured(data, y, "outcome")
    blocks = []
    for b in adjust_blocks(adjust):
        blocks.append([_q(_resolve(data, t, exposure_wave, "adjustment")) if _is_name(t) else t
                       for t in b])
    y_is_bool = _is_boolean(data[y])
    if measure is None:
        if family is None:
            measure = "or" if y_is_bool else "coef"
        elif family in _FAMILY_MEASURE:
            measure = _FAMILY_MEASURE[family]
        else:
            raise ModelError(f"family={family!r}: choose 'binomial' (odds ratios) or 'gaussian' "
                             "(coefficients), or give measure= ('or', 'pr', 'rd', 'coef').")
    design = panel.design
    if incident or baseline_outcome:
        if y0 not in data.columns:
            raise MissingColumnError([y0], data.columns,
                                     "the linked panel (the outcome at baseline)")
        _not_measured(data, y0, "outcome at baseline; use baseline_outcome=False")
    if incident:
        if not y_is_bool:
            raise ModelError(f"incident=True needs a boolean outcome; {y} is {data[y].dtype}.")
        free = (data[y0].astype("boolean") == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
        if not free.any():
            raise ModelError(f"no linked person is free of {base_concept} at baseline ({y0}).")
        design = design.subset(free)
    elif baseline_outcome:
        blocks.append([_q(y0)])
    work = design
    if y_is_bool and measure in ("or", "pr", "rd"):
        # 0/1 response (R's logical response); missing stays missing
        work = design.assign(**{y: data[y].astype("Float64").astype(float)})
    tab = association(work, exposure=x, outcome=y, adjust=blocks, measure=measure,
                      complete_cases=complete_cases, categorical=categorical,
                      reference=reference, level=level, tol=tol)
    t, fitted = _polish(tab, level, tol)
    t = t.copy()
    t["model_label"] = [lbl.replace("`", "") for lbl in t["model_label"]]
    t["adjusted_for"] = [a.replace("`", "") for a in t["adjusted_for"]]
    pprov = (panel.provenance or {}).get("panel", {}) if isinstance(panel.provenance, dict) else {}
    notes = list(tab.notes)
    if incident:
        notes.append(f"incident: persons free of {base_concept} at baseline ({y0} False), "
                     f"{int(free.sum())} of {len(data)} linked")
    return ProspectiveTable(
        table=t, models=fitted, formulas=tab.formulas, exposure=x, outcome=y,
        measure=tab.measure, complete_cases=complete_cases, notes=notes,
        exposure_column=x, outcome_column=y, baseline_outcome_column=y0, incident=incident,
        n_linked=len(data), weight_variable=str(pprov.get("weight_variable", "")),
        r_formulas=list(tab.formulas), level=level)


def _polish(tab: AssociationTable, level: float, tol: float):
    """Refit every model once from its converged coefficients.

    IRLS stops on the change in deviance, which is quadratic in the last step, so the
    coefficients are converged but the working weights of the last iteration (the bread of the
    sandwich, R's glm convention) belong to the previous iterate, about sqrt(tol) away. One
    more pass started at the converged coefficients evaluates them there: the standard errors
    are then those of the maximum-likelihood estimate (R: ``svyglm(..., start = coef(m))``).
    """
    from socialhealth.models._association import MEASURES, _exposure_columns, _rows

    rows: list[pd.DataFrame] = []
    fitted: list[SurveyGLMResult | None] = []
    expo = MEASURES[tab.measure][2]
    for k, res in enumerate(tab.models):
        old = tab.table[tab.table["model"] == k]
        if res is None:          # a margins fallback: nothing to refit
            rows.append(old)
            fitted.append(None)
            continue
        new = res.design.glm(res.formula, family=res.family, link=res.link,
                             start=res.params.to_numpy(), tol=tol)
        x_cols = _exposure_columns(new, tab.formulas[k].split("~", 1)[1].split(" + ")[0].strip())
        r0 = old.iloc[0]
        rows.append(_rows(new, k, r0["model_label"], r0["adjusted_for"], x_cols, tab.measure,
                          r0["family"], r0["link"], r0["note"], expo, level))
        fitted.append(new)
    table = pd.concat(rows, ignore_index=True)[list(tab.table.columns)]
    table["level"] = table["level"].astype(object).where(table["level"].notna(), None)
    return table, fitted


def _is_name(term: str) -> bool:
    return bool(re.match(r"^[A-Za-z_][A-Za-z_0-9]*(@\d+)?$", term))


def _is_boolean(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    v = s.dropna()
    return len(v) > 0 and v.map(lambda a: isinstance(a, (bool, np.bool_))).all()
