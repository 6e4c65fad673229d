r"""Attrition in a linked panel: who was lost, and inverse probability of retention weights.

On the baseline sample of a panel (:func:`socialhealth.datasets.load_panel_baseline`: every
person interviewed at baseline, with ``followed`` and ``followup_status``), :func:`attrition`

1. compares the baseline characteristics of the persons followed with those lost
   (:func:`socialhealth.tables.describe` with ``by="followed"``: design-based shares and means
   with confidence intervals, a Rao-Scott F test or a design-based t test per row);
2. fits a design-based logistic model of retention on baseline covariates,
   ``logit P(followed) = x'b`` (``design.glm``, R ``svyglm(..., family = quasibinomial())``) in
   the domain of persons at risk of attrition (by default the persons followed or
   ``"attrited"``: persons not selected for follow-up, deceased or ineligible are neither), and
   forms the combined weight ``w_i / p_i`` for the persons followed (``w_i`` the baseline
   weight, ``p_i`` their fitted retention probability; Robins, Rotnitzky & Zhao 1995; Seaman
   & White 2013), reported with ``max/min`` and Kish's effective sample size
   ``(sum w)^2 / sum w^2``;
3. optionally fits a prospective model (:func:`socialhealth.models.prospective`) on the persons
   followed, side by side with the baseline weight only ("without") and with the combined
   weight ("with"), and with the file's own panel weight where there is one. Both columns use
   the same persons (followed, with complete retention covariates), so they differ only by the
   weighting.

Variance
--------
``variance="linearisation"`` (default; Stata's spelling ``"linearization"`` is accepted with a
DeprecationWarning): the design-based sandwich of each model with the
weights treated as known (R ``svyglm`` on a design whose weights are ``w / p``). This ignores
the estimation of ``p`` (usually conservative for the coefficients of the outcome model when
the retention model is correctly specified, but not guaranteed). A closed form that accounts for
the estimated weights is not part of R ``survey``. ``variance="replicate"`` instead converts the
baseline design to replicate weights (``design.to_replicate(method)``, R ``as.svrepdesign``),
and for each replicate re-estimates the retention model with the replicate's baseline weights,
recomputes ``w_r / p_r``, and refits the outcome model; the variance is the replicate variance
of the outcome coefficients (R: ``withReplicates(as.svrepdesign(des, type = "JKn"), fun)`` with
``fun`` doing both fits). Intervals are then ``b +- t(df) se`` with the model's residual df
``degf(replicate design) + 1 - p``.

On a panel whose design has replicate weights (a ``ReplicateDesign``), the linearised option
is the replicate variance with the weights treated as known (each replicate weight multiplied
by ``1 / p_i``), and ``variance="replicate"`` re-estimates with the design's own replicate
weights (``replicates=`` and ``replicate_options=`` are not used). Those refits are not defined
with negative replicate weights (ACS-style successive-difference replicates): then
``variance="replicate"`` raises :class:`~socialhealth.errors.ReplicateWeightsError` naming the
replicates (R's ``glm.fit`` would silently count them as 0), while the linearised option's
model fits count them as 0 as R's ``svyglm`` does, with an
:class:`~socialhealth.errors.RDifferenceWarning`.

References
----------
Robins JM, Rotnitzky A, Zhao LP (1995) Analysis of semiparametric regression models for repeated
outcomes in the presence of missing data. *JASA* 90:106-121.
Seaman SR, White IR (2013) Review of inverse probability weighting for dealing with missing
data. *Stat Methods Med Res* 22:278-295.
Kish L (1965) *Survey Sampling*, Wiley (effective sample size).
Lumley T (2010) *Complex Surveys*, Wiley, ch. 2 and 5.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth._deprecation import LINEARISATION_ALIASES, renamed_value
from socialhealth.design.result_protocol import Result
from socialhealth.errors import MissingColumnError, ModelError, SocialHealthError

if TYPE_CHECKING:
    from socialhealth.design.glm import SurveyGLMResult
    from socialhealth.tables.table import Table

__all__ = ["AttritionResult", "attrition", "weight_summary"]

_AT_RISK_DEFAULT = ("attrited",)


def weight_summary(w) -> dict:
    """Summary of positive weights: n, sum, min, max, ``max/min`` and Kish's effective n.

    ``n_eff = (sum w)^2 / sum w^2`` (Kish 1965); ``deff_w = n / n_eff = 1 + cv^2`` (the design
    effect from unequal weighting, with the population cv of the weights).

    Parameters
    ----------
    w : array of weights (zeros and NaN are ignored).

    Returns
    -------
    dict with ``n, sum, min, max, ratio, n_eff, deff_w``.

    Examples
    --------
    >>> s = weight_summary([1.0, 1.0, 2.0, 4.0])
    >>> s["ratio"], s["n_eff"]            # 4 / 1; 8^2 / 22
    (4.0, 2.909090909090909)

    In R: ``w <- weights(des)[weights(des) > 0]; max(w)/min(w); sum(w)^2/sum(w^2)``.
    """
    w = np.asarray(w, dtype=float)
    w = w[np.isfinite(w) & (w > 0)]
    if len(w) == 0:
        raise ModelError("weight_summary: no positive weight.")
    neff = float(w.sum() ** 2 / (w ** 2).sum())
    return {"n": int(len(w)), "sum": float(w.sum()), "min": float(w.min()),
            "max": float(w.max()), "ratio": float(w.max() / w.min()), "n_eff": neff,
            "deff_w": float(len(w) / neff)}


@dataclass(repr=False)
class AttritionResult(Result):
    """Result of :func:`attrition`.

    Result protocol: ``to_frame()`` and ``summary()``; ``coef()``, ``se()``, ``confint()``,
    ``vcov`` and ``float()`` do not apply (use ``retention_model``).

    Attributes
    ----------
    table : socialhealth.tables.Table
        Baseline characteristics, followed vs lost (``.to_frame()``, ``.to_markdown()``, ...).
    counts : dict
        Persons by follow-up status, and those at risk / followed / lost / excluded.
    retention_model : SurveyGLMResult
        The design-based logistic model of retention.
    retention : pandas.DataFrame
        One row per baseline person: ``respondent_id, at_risk, followed, p_retained,
        weight, ipw_weight`` (``ipw_weight = weight / p_retained`` for the persons followed
        with complete covariates, else NaN).
    weights : pandas.DataFrame
        :func:`weight_summary` of the baseline weight and the combined weight on the analysis
        persons (and of the panel weight when the data have one).
    outcome : pandas.DataFrame or None
        The prospective model's exposure rows side by side: ``weighting`` ("baseline weight",
        "baseline / P(retained)", "panel weight"), ``variance``, ``model_label``, ``term``,
        ``level``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``, ``n``, ``df``.
    notes : list of str

    Examples
    --------
    See :func:`attrition`.
    """

    table: Table
    counts: dict
    retention_model: SurveyGLMResult
    retention: pd.DataFrame
    weights: pd.DataFrame
    outcome: pd.DataFrame | None = None
    outcome_models: dict = field(default_factory=dict)
    covariates: list = field(default_factory=list)
    variance: str = "linearisation"
    notes: list = field(default_factory=list)

    _not_applicable = dict.fromkeys(
        ("coef", "se", "confint", "vcov", "float"),
        "an attrition result is a baseline comparison table, not a set of estimates; use "
        "to_frame(), or retention_model.coef() / .se() / .confint() for the retention model.")

    def to_frame(self) -> pd.DataFrame:
        """The baseline comparison table (``self.table.to_frame()``)."""
        return self.table.to_frame()

    def __repr__(self) -> str:
        from socialhealth.tables.labels import term_words

        c = self.counts
        lines = [f"Attrition: {c['followed']} followed, {c['lost']} lost of {c['at_risk']} at "
                 f"risk ({c['excluded']} excluded: {', '.join(c['excluded_statuses']) or '-'})",
                 "Retention model: logistic regression of being followed on "
                 + (", ".join(term_words(c) for c in self.covariates) or "nothing (intercept)")]
        w = self.weights.set_index("weight")
        for k in w.index:
            lines.append(f"  {k}: max/min {w.loc[k, 'ratio']:.3g}, Kish n_eff "
                         f"{w.loc[k, 'n_eff']:.1f} of {int(w.loc[k, 'n'])}")
        if self.outcome is not None:
            for r in self.outcome.itertuples(index=False):
                lines.append(f"  {r.weighting:<24} {r.model_label:<28} {r.estimate:8.3f} "
                             f"({r.ci_low:.3f}, {r.ci_high:.3f}) se={r.se:.4f} [{r.variance}]")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def _resolve_cov(data: pd.DataFrame, term: str, year: int | None) -> str:
    if term in data.columns:
        return term
    if year is None:
        raise MissingColumnError([term], data.columns, "the baseline sample (the panel names "
                                 "no baseline wave)")
    name = f"{term}@{int(year)}"
    if name not in data.columns:
        raise MissingColumnError([name], data.columns, f"the baseline sample ({term!r} at "
                                 f"baseline {year})")
    return name


def _q(name: str) -> str:
    from socialhealth.models._prospective import _q as q

    return q(name)


def attrition(panel, baseline, outcome_model: dict | None = None,
              lost=_AT_RISK_DEFAULT,
              variance: Literal["linearisation", "replicate"] = "linearisation",
              replicates: Literal["jk1", "jkn", "brr", "fay", "bootstrap",
                                  "subbootstrap", "mrbbootstrap"] = "jkn",
              replicate_options: dict | None = None,
              level: float = 0.95, tol: float = 1e-14):
    r"""Followed vs lost at baseline, inverse probability of retention weights, and their effect.

    See the module docstring (:mod:`socialhealth.models._attrition`) for the steps and the
    variance options.

    Parameters
    ----------
    panel : PanelData
        The baseline sample, :func:`socialhealth.datasets.load_panel_baseline` (columns
        ``followed``, ``followup_status``, ``weight`` the baseline weight, ``<concept>@<year>``).
    baseline : list of str
        Baseline covariates, concepts (taken at the baseline wave: ``"age_group"`` ->
        ``age_group@2016``) or full column names; rows of the table and predictors of the
        retention model (string/categorical columns as categories, booleans as 0/1).
    outcome_model : dict, optional
        Keyword arguments of :func:`socialhealth.models.prospective` (``exposure``,
        ``exposure_wave``, ``outcome``, ``outcome_wave``, ``adjust``, ...), fitted with and
        without the retention weights.
    lost : sequence of str
        Follow-up statuses counted as lost (default ``("attrited",)``); the persons at risk are
        those followed plus these. Add ``"deceased"`` to treat deaths as losses.
    variance : {"linearisation", "replicate"}
        Variance of the outcome models (see the module docstring). ``"linearization"``
        (Stata's spelling) is accepted, with a DeprecationWarning.
    replicates : str
        Replicate method for ``variance="replicate"`` (``"jkn"``, ``"jk1"``, ``"bootstrap"``,
        ...), as in ``design.to_replicate``; ``replicate_options`` are passed on (e.g.
        ``{"replicates": 200, "seed": 1}`` for the bootstrap).
    level : float
        Confidence level.
    tol : float
        IRLS tolerance of the models (as in :func:`prospective`).

    Returns
    -------
    AttritionResult

    Notes
    -----
    Persons followed but without the panel weight (status ``"followed, no <w> weight"``) count
    as retained in the retention model; :func:`~socialhealth.datasets.load_panel_baseline` has no
    later-wave answers for them, so the outcome models leave them out (complete cases). The GSS
    files have none.

    Raises
    ------
    ModelError
        Not a baseline sample, nobody lost or nobody followed, unknown variance option.
    MissingColumnError
        A covariate not in the baseline sample.
    ReplicateWeightsError
        ``variance="replicate"`` on a replicate-weight design with negative replicate weights.

    Examples
    --------
    A generated baseline sample of 600 persons in which older and isolated persons are more
    often lost (in real use ``panel = datasets.load_panel_baseline(...)``):

    >>> import numpy as np, pandas as pd
    >>> from socialhealth import models
    >>> from socialhealth.datasets import PanelData
    >>> rng = np.random.default_rng(5)
    >>> n = 600
    >>> old = rng.random(n) < 0.4
    >>> iso = rng.random(n) < 0.3
    >>> followed = rng.random(n) < 0.8 - 0.25 * old - 0.2 * iso
    >>> ph = rng.random(n) < 0.15 + 0.2 * iso + 0.15 * old
    >>> data = pd.DataFrame({"respondent_id": np.arange(n).astype(str),
    ...     "weight": rng.uniform(0.5, 2, n), "strata": np.repeat(["a", "b", "c"], n // 3),
    ...     "psu": np.tile(["1", "2", "3", "4"], n // 4),
    ...     "followed": followed, "followup_status": np.where(followed, "linked", "attrited"),
    ...     "older@2006": old, "isolated@2006": iso,
    ...     "poor_health@2010": pd.array(np.where(followed, ph, pd.NA), dtype="boolean")})
    >>> panel = PanelData("demo", data, pd.DataFrame(), {}, {"weights": "weight",
    ...     "strata": "strata", "psu": "psu", "nest": True}, waves=[2006, 2010])
    >>> a = models.attrition(panel, baseline=["older", "isolated"],
    ...     outcome_model=dict(exposure="isolated", exposure_wave=2006,
    ...                        outcome="poor_health", outcome_wave=2010,
    ...                        baseline_outcome=False))
    >>> a.counts["followed"], a.counts["lost"]
    (396, 204)
    >>> print(a.weights[["weight", "n", "ratio", "n_eff"]].round(2).to_string())
                       weight    n  ratio   n_eff
    0         baseline weight  396    3.9  350.81
    1  baseline / P(retained)  396    9.1  325.16
    >>> print(a.outcome[["weighting", "estimate", "ci_low", "ci_high"]].round(3).to_string())
                    weighting  estimate  ci_low  ci_high
    0         baseline weight     1.601   1.156    2.216
    1  baseline / P(retained)     1.707   1.134    2.570

    In R: ``des <- svydesign(ids = ~psu, strata = ~strata, weights = ~weight, nest = TRUE,
    data = baseline)``; ``svyby(~older, ~followed, des, svymean)`` and ``svychisq(~older +
    followed, des)``; ``m <- svyglm(followed ~ older + isolated, subset(des, at_risk), family =
    quasibinomial())``; ``baseline$ipw <- baseline$weight / predict(m, newdata = baseline, type
    = "response")``; refit the outcome model on ``subset(svydesign(..., weights = ~ipw),
    followed)``; replicate variance: ``withReplicates(as.svrepdesign(des, type = "JKn"),
    function(w, data) {...both fits with weights w...})``.
    """
    from socialhealth.datasets import PanelData
    from socialhealth.models._prospective import prospective
    from socialhealth.tables import describe

    variance = renamed_value("attrition", "variance", variance, LINEARISATION_ALIASES, "0.1.0")
    if not isinstance(panel, PanelData) or "followed" not in panel.data.columns:
        raise ModelError("attrition needs the baseline sample of a panel (every baseline "
                         "respondent, followed or not): datasets.load_panel_baseline(...).")
    if not is_choice(variance, ("linearisation", "replicate")):
        raise ModelError(f"variance={show_given(variance)}: choose 'linearisation' or 'replicate'.")
    data = panel.data
    year = int(panel.waves[0]) if panel.waves else None
    covs = [_resolve_cov(data, c, year) for c in (baseline if not isinstance(baseline, str)
                                                   else [baseline])]
    if not covs:
        raise ModelError("baseline=: give at least one baseline covariate.")
    status = (data["followup_status"].astype(str) if "followup_status" in data.columns
              else pd.Series(np.where(data["followed"], "linked", "attrited"), index=data.index))
    followed = data["followed"].fillna(False).to_numpy(dtype=bool)
    lost_m = status.isin(list(lost)).to_numpy() & ~followed
    at_risk = followed | lost_m
    if not followed.any() or not lost_m.any():
        raise ModelError(f"attrition: {int(followed.sum())} followed and {int(lost_m.sum())} "
                         f"lost (statuses {list(lost)}); both groups are needed.")
    counts: dict[str, Any] = {k: int(v) for k, v in status.value_counts().items()}
    excluded_statuses = sorted(set(status[~at_risk]))
    counts.update(at_risk=int(at_risk.sum()), followed=int(followed.sum()),
                  lost=int(lost_m.sum()), excluded=int((~at_risk).sum()),
                  excluded_statuses=excluded_statuses)
    design = panel.design
    # 1. baseline comparison
    # numpy's stubs do not take None as a fill value; at run time it gives an object array
    lost_lab = np.where(lost_m, "lost", None)  # type: ignore[call-overload]
    lab = pd.Series(np.where(followed, "followed", lost_lab), index=data.index, dtype=object)
    dz = design.assign(follow_up=lab).subset(at_risk)
    table = describe(dz, by="follow_up", variables=covs, level=level,
                     title="Baseline characteristics of persons followed and lost")
    # 2. retention model
    fcol = "retained_"
    rdata = {fcol: followed.astype(float)}
    terms = []
    for c in covs:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            rdata[c] = s.astype("Float64").astype(float)
        terms.append(_q(c))
    rdes = design.assign(**rdata).subset(at_risk)
    formula = f"{fcol} ~ " + " + ".join(terms)
    ret = rdes.glm(formula, family="binomial", tol=tol)
    ret = rdes.glm(formula, family="binomial", tol=tol, start=ret.params.to_numpy())
    p = np.full(len(data), np.nan)
    X_rows = ret.frame.rows
    p[X_rows] = _expit(_design_matrix(ret) @ ret.params.to_numpy())
    w0 = design.weights.copy()
    analysis = followed & np.isfinite(p)
    ipw = np.where(analysis, w0 / np.where(np.isfinite(p), p, 1.0), np.nan)
    retention = pd.DataFrame({"respondent_id": data.get("respondent_id", pd.Series(
        np.arange(len(data)))).to_numpy(), "at_risk": at_risk, "followed": followed,
        "p_retained": p, "weight": w0, "ipw_weight": ipw})
    summ = [{"weight": "baseline weight", **weight_summary(w0[analysis])},
            {"weight": "baseline / P(retained)", **weight_summary(ipw[analysis])}]
    has_pw = "panel_weight" in data.columns
    if has_pw:
        pw = data["panel_weight"].to_numpy(dtype=float)
        if np.isfinite(pw[analysis]).any():
            summ.append({"weight": "panel weight", **weight_summary(pw[analysis])})
    weights = pd.DataFrame(summ)
    own_replicates = getattr(design, "kind", "") == "replicate"
    rep_label = f"{design.method}, the design's own" if own_replicates else replicates
    notes = [f"retention model on {ret.nobs} of {int(at_risk.sum())} persons at risk "
             f"({ret.n_missing} with a missing covariate have no retention weight)",
             "linearised standard errors treat the combined weight as known"
             if variance == "linearisation" else
             f"replicate standard errors ({rep_label}): retention and outcome models refitted "
             "with every replicate's baseline weights"]
    # 3. outcome model with and without the retention weights
    outcome = None
    fitted = {}
    if outcome_model:
        rows_out = []
        weightings = [("baseline weight", np.where(analysis, w0, 0.0)),
                      ("baseline / P(retained)", np.where(analysis, ipw, 0.0))]
        if has_pw and np.isfinite(pw[analysis]).any():
            ok_pw = analysis & np.isfinite(pw) & (pw > 0)
            weightings.append(("panel weight", np.where(ok_pw, pw, 0.0)))
        rep = None
        if variance == "replicate":
            # a replicate-weight design brings its own replicates (it has no to_replicate)
            rep = design if own_replicates else design.to_replicate(
                replicates, **(replicate_options or {}))
        for name, w in weightings:
            sub = _reweighted(design, w)
            pan = PanelData(panel.name, data, panel.codebook, panel.provenance,
                            panel.design_spec, waves=panel.waves, status=panel.status)
            pan.design = sub
            kw = dict(outcome_model)
            kw.setdefault("tol", tol)
            kw.setdefault("level", level)
            t = prospective(pan, **kw)
            fitted[name] = t
            f = t.to_frame()
            f.insert(0, "weighting", name)
            f.insert(1, "variance", "replicate weights of the design (weights as known)"
                     if own_replicates else "linearisation (weights as known)")
            if rep is not None and name != "panel weight":
                f = _replicate_rows(f, t, rep, ret, rdes, analysis, ipw_name=name, level=level,
                                    tol=tol, replicates=rep_label)
            rows_out.append(f)
        outcome = pd.concat(rows_out, ignore_index=True)
    return AttritionResult(table=table, counts=counts, retention_model=ret,
                           retention=retention, weights=weights, outcome=outcome,
                           outcome_models=fitted, covariates=covs, variance=variance,
                           notes=notes)


def _reweighted(design, w: np.ndarray):
    """The design with analysis weights ``w``. On a replicate-weight design every replicate
    weight of a row is multiplied by the same factor ``w / (baseline weight)``
    (``ReplicateDesign.reweight``), so the replicate variance treats the new weights as known,
    as the sandwich does on a Taylor design (``with_weights`` alone would keep the baseline
    replicate weights)."""
    if getattr(design, "kind", "") == "replicate":
        return design.reweight(w)
    return design.with_weights(w)


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _design_matrix(res) -> np.ndarray:
    """The model matrix of a fitted design GLM on its rows (rebuilt if it was released)."""
    from socialhealth.design.formula import model_frame

    X = getattr(res.frame, "X", None)
    if X is None or X.shape[0] != len(res.frame.rows) or res.frame.X is None:
        mask = np.zeros(len(res.design.data), dtype=bool)
        mask[res.frame.rows] = True
        X = model_frame(res.design.data, res.formula, mask).X
    return np.asarray(X, dtype=float)


def _replicate_rows(f, table, rep, ret, rdes, analysis, ipw_name, level, tol, replicates):
    """Replace se/ci/p of the outcome rows by the replicate variance of the whole procedure."""
    from scipy import stats

    from socialhealth.design.extension import refuse_negative_replicate_weights
    from socialhealth.design.replicate_variance import replicate_vcov

    # the refits below are IRLS fits per replicate
    refuse_negative_replicate_weights(
        rep, None, "the attrition-weighted replicate refits", "the model refits of each "
        "replicate are not defined with negative weights (R's glm.fit would drop those rows).")
    W = rep.replicate_weights               # n x R, combined (include the baseline weight)
    Xr = _design_matrix(ret)
    rrows = ret.frame.rows
    out = f.copy()
    for k, res in enumerate(table.models):
        if res is None:
            continue
        m_rows = res.frame.rows
        in_model = np.zeros(len(res.design.data), dtype=bool)
        in_model[m_rows] = True
        theta = res.params.to_numpy()
        reps = []
        for r in range(W.shape[1]):
            try:
                reps.append(_one_replicate(W[:, r], r, res, ret, rdes, rrows, Xr, in_model,
                                           theta, ipw_name, tol))
            except SocialHealthError as exc:
                raise ModelError(
                    f"replicate variance ({replicates}): replicate {r + 1} of {W.shape[1]} "
                    f"cannot be fitted ({type(exc).__name__}: {exc}). With few persons per "
                    "category a resampled replicate can lose every outcome of a category: merge "
                    "sparse categories, use replicates='jkn', or variance='linearisation'."
                ) from exc
        V = replicate_vcov(theta, np.asarray(reps), rep.scale, rep.rscales, rep.mse)
        se_all = np.sqrt(np.diag(V))
        df = rep.degf() + 1 - len(theta)
        expo = bool((out.loc[out["model"] == k, "measure"].iloc[0]) in ("or", "pr", "rr"))
        for i in out.index[out["model"] == k]:
            j = list(res.params.index).index(out.loc[i, "term"])
            b, s = theta[j], se_all[j]
            q = stats.t.ppf(0.5 + level / 2, df)
            lo, hi = b - q * s, b + q * s
            out.loc[i, "se"] = s
            out.loc[i, "ci_low"] = np.exp(lo) if expo else lo
            out.loc[i, "ci_high"] = np.exp(hi) if expo else hi
            out.loc[i, "p"] = 2 * stats.t.sf(abs(b / s), df)
            out.loc[i, "df"] = df
            out.loc[i, "variance"] = f"replicate ({replicates}, {W.shape[1]} replicates)"
    return out


def _one_replicate(wr, r, res, ret, rdes, rrows, Xr, in_model, theta, ipw_name, tol):
    """Outcome coefficients with one replicate's baseline weights ``wr`` (retention refitted)."""
    if ipw_name == "baseline / P(retained)":
        rr = rdes.with_weights(np.where(rdes.in_subset, wr, 0.0)).glm(
            ret.formula, family="binomial", start=ret.params.to_numpy(), tol=tol)
        p_r = np.full(len(wr), np.nan)
        p_r[rrows] = _expit(Xr @ rr.params.to_numpy())
        w_new = np.where(in_model, wr / np.where(np.isfinite(p_r), p_r, 1.0), 0.0)
    else:
        w_new = np.where(in_model, wr, 0.0)
    if not (w_new > 0).any():
        raise ModelError(f"replicate {r + 1} leaves no person in the outcome model.")
    fr = res.design.with_weights(w_new).glm(res.formula, family=res.family, link=res.link,
                                             start=theta, tol=tol)
    return fr.params.to_numpy()
