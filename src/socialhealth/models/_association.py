r"""Nested (cumulatively adjusted) exposure-outcome models on survey data.

The standard epidemiological table: the association of an exposure (loneliness, isolation) with
an outcome, unadjusted and then adjusted for successive blocks of confounders, each model a
survey-weighted GLM (:meth:`socialhealth.design.SurveyDesign.glm`, R ``svyglm``).

Measures
--------
=========  ==========================================  =====================================
measure    model                                       estimate
=========  ==========================================  =====================================
``"or"``   binomial (quasibinomial), logit link        odds ratio ``exp(b)``
``"pr"``   binomial, log link (log-binomial)           prevalence ratio ``exp(b)``
           fallback: poisson (quasipoisson), log link  (Zou 2004 "modified Poisson")
``"rd"``   binomial, identity link                     risk difference ``b``
           fallback: predictive margins of a logit     difference of predictive margins
           model (Graubard & Korn 1999)
``"coef"`` gaussian, identity link                     difference in means ``b`` (per unit
                                                       of a numeric exposure)
``"rr"``   poisson (quasipoisson), log link            rate ratio ``exp(b)``
=========  ==========================================  =====================================

``family=`` picks the model by family instead (``"gaussian"`` -> ``coef``, ``"binomial"`` ->
``or``, ``"poisson"`` -> ``rr``). With neither ``measure=`` nor ``family=`` the family is
chosen from the outcome: a boolean or 0/1 outcome (among the rows used) gives ``binomial``
(odds ratios), any other numeric outcome ``gaussian`` (differences in means); the result says
which (``family``, ``family_chosen``, and the printed header).

Intervals are Wald intervals on the link scale with the model's residual design degrees of
freedom, ``b +- t(0.975, df) se`` (``df = degf(design) + 1 - p``, R ``confint(svyglm)``), then
exponentiated for ratios; the p-value is the design-based t test. Each row equals the
corresponding row of ``design.glm(...).to_frame(exponentiate=...)`` for the same model.

Log- and identity-link binomial models are not canonical: Fisher scoring converges linearly
there, and IRLS's stopping rule (relative change in deviance below ``tol``) can stop while the
coefficients are still ~1e-7 (relative) from the maximum. Those models are therefore refitted
from their own coefficients until the coefficients settle (to 1e-13), so the estimates are the
maximum-likelihood estimates whatever the path (R: ``svyglm(..., start = coef(m))`` repeated).

Log-binomial models often fail to converge (fitted probabilities above 1); with
``pr_fallback=True`` (default) the prevalence ratio is then estimated with a log-link
quasi-Poisson model, whose sandwich (design-based) variance is valid for a binary outcome
(Zou 2004), and the ``note`` column says so. Identity-link binomial models for risk differences
fail for the same reason; the fallback is the difference of predictive margins from the
logistic model (:func:`socialhealth.models.margins`).

Missing values
--------------
``complete_cases=True`` (default, what epidemiologists expect of nested models): every model
is fitted on the rows with no missing value in the outcome, exposure or *any* adjustment
variable, so ``n`` is the same in every row and estimates are comparable across models.
``complete_cases=False``: each model uses its available cases (R's default ``na.omit`` per
model), so ``n`` may shrink as adjustment is added. Either way rows left out keep their place
in the design (domain estimation: zero weight, full PSU structure).

References
----------
Lumley T (2010) *Complex Surveys*, Wiley, ch. 5-6. Binder DA (1983) Int Stat Rev 51:279-292.
Zou G (2004) A modified Poisson regression approach to prospective studies with binary data.
*Am J Epidemiol* 159:702-706.
Graubard BI, Korn EL (1999) Predictive margins with survey data. *Biometrics* 55:652-659.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import re
import warnings
from dataclasses import dataclass, field
import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given, show_list
from socialhealth.design.formula import formula_variables
from socialhealth.design.result_protocol import Result, analysis_scale
from socialhealth.design.structure import check_flag
from socialhealth.errors import (
    ConvergenceError,
    ConvergenceWarning,
    MissingColumnError,
    ModelError,
    SeparationError,
    SocialHealthError,
    SocialHealthWarning,
)

if TYPE_CHECKING:
    from socialhealth.design.glm import SurveyGLMResult

__all__ = ["AssociationTable", "association", "MEASURES", "FAMILY_MEASURES", "exposure_term",
           "adjust_blocks"]

# measure -> (family, link, exponentiate, label)
MEASURES = {
    "or": ("binomial", "logit", True, "odds ratio"),
    "pr": ("binomial", "log", True, "prevalence ratio"),
    "rd": ("binomial", "identity", False, "risk difference"),
    "coef": ("gaussian", "identity", False, "difference in means"),
    "rr": ("poisson", "log", True, "rate ratio"),
}
# family -> measures it can give (the first is its default)
FAMILY_MEASURES = {"binomial": ("or", "pr", "rd"), "gaussian": ("coef",), "poisson": ("rr",)}

TABLE_COLUMNS = ["model", "model_label", "adjusted_for", "term", "level", "estimate", "se",
                 "ci_low", "ci_high", "p", "n", "df", "measure", "family", "link", "note"]


# ----------------------------------------------------------------------------- helpers
def _is_categorical(s: pd.Series) -> bool:
    return bool(isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s)
                or pd.api.types.is_string_dtype(s))


_ADJUST_HELP = ("adjust= takes the column names of the confounders: one name or formula "
                "text ('age + sex'), a list of names (['age', 'sex']) or a list of such lists "
                "(one block of confounders per model)")


def check_names(**names) -> None:
    """Refuse an exposure/outcome/modifier that is not one column name (a string).

    Examples
    --------
    >>> check_names(exposure="lonely", outcome="poor_health")   # no error
    """
    for arg, value in names.items():
        if not isinstance(value, str):
            raise ModelError(
                f"{arg}= takes one column name (a string), not {show_given(value)}"
                + ("; fit one model per exposure, or put the others in adjust=."
                   if isinstance(value, (list, tuple)) else "."))


def exposure_term(data: pd.DataFrame, exposure: str, categorical: bool | None = None,
                  reference=None) -> str:
    """The formula term for an exposure column.

    Numeric and boolean columns enter as they are (one coefficient: per unit, or 1 vs 0);
    string/categorical columns (or ``categorical=True``) as ``C(x)`` with treatment contrasts,
    the reference being the first level (sorted, or the first category) unless ``reference=``.
    A term already written as a formula expression (``"C(x)"``, ``"I(x >= 2)"``) is kept.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"lonely": [0, 1], "grp": ["a", "b"]})
    >>> (exposure_term(df, "lonely"), exposure_term(df, "grp"),
    ...  exposure_term(df, "grp", reference="b"))
    ('lonely', 'C(grp)', "C(grp, contr.treatment('b'))")

    In R: ``factor(grp)`` / ``relevel(factor(grp), ref = "b")`` in the ``svyglm`` formula.
    """
    if exposure not in data.columns:
        if "(" in exposure:
            return exposure
        raise MissingColumnError([exposure], data.columns, "the design data (exposure)")
    cat = _is_categorical(data[exposure]) if categorical is None else bool(categorical)
    name = exposure if re.match(r"^[A-Za-z_][A-Za-z_0-9]*$", exposure) else f"`{exposure}`"
    if cat and reference is not None:
        s = data[exposure]
        levels = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                  else list(pd.unique(s.dropna())))
        if not is_choice(reference, levels):
            raise ModelError(f"reference={show_given(reference)} is not a level of {exposure!r}; "
                             f"levels: {show_list(levels)}.")
    if not cat:
        if reference is not None:
            raise ModelError(f"reference= applies to a categorical exposure; {exposure!r} is "
                             f"numeric "
                             "(pass categorical=True to treat its values as categories).")
        return name
    if reference is None:
        return f"C({name})"
    return f"C({name}, contr.treatment({reference!r}))"


def adjust_blocks(adjust) -> list[list[str]]:
    """Normalise ``adjust`` to a list of blocks (lists of terms).

    ``None`` -> no adjustment; ``["age", "sex"]`` -> one block; ``[["age", "sex"], ["educ"]]``
    -> two cumulative blocks. A block may also be one string ``"age + C(sex)"``.

    Examples
    --------
    >>> adjust_blocks([["age", "sex"], "educ + C(region)"])
    [['age', 'sex'], ['educ', 'C(region)']]
    >>> adjust_blocks(["age", "sex"]), adjust_blocks(None)
    ([['age', 'sex']], [])
    """
    if adjust is None:
        return []
    if isinstance(adjust, str):
        return [[t.strip() for t in adjust.split("+") if t.strip()]]
    if not isinstance(adjust, Iterable) or isinstance(adjust, pd.Series):
        raise ModelError(_ADJUST_HELP + f", not {show_given(adjust)}.")
    items = list(adjust)
    if not items:
        return []
    if all(isinstance(a, str) for a in items):
        return [list(items)]
    blocks = []
    for b in items:
        if isinstance(b, str):
            blocks.append([t.strip() for t in b.split("+") if t.strip()])
        elif isinstance(b, Iterable) and all(isinstance(t, str) for t in b):
            blocks.append([str(t) for t in b])
        else:
            raise ModelError(_ADJUST_HELP + f", not {show_given(adjust)}.")
    return blocks


def _check_adjust(blocks, data) -> None:
    for i, block in enumerate(blocks, start=1):
        for term in block:
            if term in data.columns:
                continue
            bare = re.match(r"^[A-Za-z_][A-Za-z_0-9]*$", term)
            if bare:
                raise MissingColumnError([term], data.columns,
                                         f"the design data (adjustment block {i}: "
                                         f"{', '.join(block)})")


def _level_of(coef_name: str) -> str | None:
    m = re.search(r"\[(?:T\.)?(.*)\]$", coef_name)
    return m.group(1) if m else None


def _model_label(k: int, blocks) -> str:
    if k == 0:
        return "unadjusted"
    from socialhealth.tables.labels import term_words

    return "+ " + ", ".join(term_words(c) for c in blocks[k - 1])


# ----------------------------------------------------------------------------- result
@dataclass
class AssociationTable(Result):
    """Result of :func:`association`: one row per (model, exposure level).

    Result protocol: ``coef()``, ``se()`` and ``confint(level=)`` on the link scale (log odds
    ratio, log prevalence/rate ratio, difference), indexed by (model, term); the table shows
    ratios as their ``exp()``; ``float()`` is the table's estimate of a one-row table; ``vcov``
    does not apply (one model per row: ``models[i].vcov``).

    Attributes
    ----------
    table : the tidy table (see :meth:`to_frame`).
    models : the fitted survey GLMs, unadjusted first (``SurveyGLMResult``; ``None`` where a
        margins fallback replaced the model).
    formulas : the model formulas.
    exposure, outcome, measure, complete_cases, notes.
    family : the GLM family of the models (``"binomial"``, ``"gaussian"``, ``"poisson"``).
    family_chosen : how it was chosen (given, implied by ``measure``, or read off the outcome).
    estimate_label : what the estimates are (``"odds ratio"``, ``"difference in means"``,
        ``"rate ratio"``, ...).

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> t = models.association(sd.design, exposure="lonely", outcome="poor_health",
    ...                        adjust=[["age", "sex"], ["education"]], measure="or")
    >>> for f in t.formulas:
    ...     print(f)
    poor_health ~ lonely
    poor_health ~ lonely + age + sex
    poor_health ~ lonely + age + sex + education
    >>> len(t.models), t.measure
    (3, 'or')

    In R: one ``svyglm(poor_health ~ lonely + ..., design, family = quasibinomial())`` per row
    block, ``exp(cbind(coef(m), confint(m, df = degf(design))))``.
    """

    table: pd.DataFrame
    models: list
    formulas: list[str]
    exposure: str
    outcome: str
    measure: str
    complete_cases: bool
    notes: list[str] = field(default_factory=list)
    family: str = ""
    family_chosen: str = ""
    level: float = 0.95
    #: R's condition for the complete cases the models share (``!is.na(x) & ...``), or None
    #: when every row of the design was complete
    r_complete_cases: str | None = None

    _not_applicable = {"vcov": "the rows come from separate models; use models[i].vcov."}

    @property
    def r_code(self) -> list[str]:
        """The R lines that fit the models, on the R design object ``design``: with complete
        cases, ``design_cc <- subset(design, !is.na(...) & ...)`` first (the rows every model
        uses), then one ``svyglm`` per model (none for a margins fallback row).

        Examples
        --------
        >>> import socialhealth as sh
        >>> t = association(sh.datasets.load("demo").design, "lonely", "bmi", adjust=["age"])
        >>> for line in t.r_code:
        ...     print(line)
        design_cc <- subset(design, !is.na(age) & !is.na(lonely) & !is.na(bmi))
        svyglm(bmi ~ lonely, design = design_cc)
        svyglm(bmi ~ lonely + age, design = design_cc)
        """
        calls = [m.r_call for m in self.models if m is not None and m.r_call]
        if self.r_complete_cases is None:
            return calls
        return ([f"design_cc <- subset(design, {self.r_complete_cases})"]
                + [c.replace("design = design", "design = design_cc", 1) for c in calls])

    def _estimates(self, level: float) -> pd.DataFrame:
        # the protocol's confint(): link scale, as coef() and se()
        t = self.table
        out = analysis_scale(range(len(t)), t["estimate"], t["se"], t["ci_low"], t["ci_high"],
                             t["link"].isin(["logit", "log"]).to_numpy(), t["df"], level,
                             self.level)
        out.index = self._index()
        return out

    @property
    def estimate_label(self) -> str:
        """What the ``estimate`` column holds: ``"odds ratio"``, ``"difference in means"``, ..."""
        return MEASURES[self.measure][3]

    def _index(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_arrays([[int(k) for k in self.table["model"]],
                                          [str(t) for t in self.table["term"]]],
                                         names=["model", "term"])

    def coef(self) -> pd.Series:
        """The exposure coefficients on the model's link scale (log odds ratio, log rate ratio,
        difference in means), indexed by (model, term) (R ``coef(m)`` of each model).

        Examples
        --------
        >>> import socialhealth as sh
        >>> t = association(sh.datasets.load("demo").design, "lonely", "bmi")
        >>> t.coef().round(3).tolist(), t.se().round(3).tolist(), round(float(t), 3)
        ([0.704], [0.222], 0.704)

        In R: ``coef(m)["lonelyTRUE"]`` and ``SE(m)["lonelyTRUE"]`` for each model ``m``.
        """
        est = self.table["estimate"].to_numpy(dtype=float)
        logged = self.table["link"].isin(["logit", "log"]).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(logged, np.log(est), est)
        return pd.Series(b, index=self._index(), name="estimate")

    def se(self) -> pd.Series:
        """Standard errors of :meth:`coef` (link scale), indexed by (model, term) (R ``SE(m)``)."""
        return pd.Series(self.table["se"].to_numpy(dtype=float), index=self._index(), name="se")

    def __float__(self) -> float:
        """The estimate (as in the table: odds ratio, difference in means, ...) of a table with
        a single row, e.g. one model and a binary exposure; an error otherwise."""
        from socialhealth.design.results import one_value

        return one_value(pd.Series(self.table["estimate"].to_numpy(dtype=float),
                                   index=self._index()),
                         "estimate")

    def to_frame(self) -> pd.DataFrame:
        """Columns: ``model`` (0 = unadjusted), ``model_label``, ``adjusted_for``, ``term``,
        ``level`` (exposure level for a categorical exposure), ``estimate``, ``se`` (link
        scale), ``ci_low``, ``ci_high``, ``p``, ``n`` (rows used), ``df`` (residual design
        df), ``measure``, ``family``, ``link``, ``note``."""
        return self.table.copy()

    def __repr__(self) -> str:
        label = MEASURES[self.measure][3]
        lines = [f"Association of {self.exposure} with {self.outcome} ({label}; "
                 f"{'complete cases' if self.complete_cases else 'available cases per model'})"]
        if self.family_chosen:
            lines.append(f"Family: {self.family_chosen}")
        t = self.table
        for r in t.itertuples(index=False):
            lv = (f" [{r.level}]" if r.level is not None
                  and not (isinstance(r.level, float) and np.isnan(r.level)) else "")
            lines.append(f"  {r.model_label:<40}{lv:<14}{r.estimate:>9.3f} ({r.ci_low:.3f}, "
                         f"{r.ci_high:.3f})  p={r.p:.3g}  n={r.n}")
        for n in self.notes:
            lines.append(f"Note: {n}")
        code = self.r_code
        if code:
            lines.append("In R:")
            lines += [f"  {c}" for c in code]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- fitting
def _rows(res, k, label, adjusted_for, x_cols, measure, fam, link, note, expo, level):
    """The exposure rows of one fitted model: exactly ``res.to_frame(exponentiate=...)``."""
    tab = res.to_frame(exponentiate=expo, level=level)
    tab = tab[tab["term"].isin(x_cols)]
    return pd.DataFrame({
        "model": k, "model_label": label, "adjusted_for": adjusted_for,
        "term": tab["term"].to_numpy(), "level": [_level_of(t) for t in tab["term"]],
        "estimate": tab["estimate"].to_numpy(), "se": tab["se"].to_numpy(),
        "ci_low": tab["ci_low"].to_numpy(), "ci_high": tab["ci_high"].to_numpy(),
        "p": tab["p"].to_numpy(), "n": res.nobs, "df": tab["df"].to_numpy(),
        "measure": measure, "family": fam, "link": link, "note": note,
    })


def association(
    design,
    exposure: str,
    outcome: str,
    adjust=None,
    measure: Literal["or", "pr", "rd", "coef", "rr"] | None = None,
    complete_cases: bool = True,
    categorical: bool | None = None,
    reference=None,
    pr_fallback: bool = True,
    level: float = 0.95,
    family: str | None = None,
    tol: float | None = None,
) -> AssociationTable:
    r"""Exposure-outcome association, unadjusted and with cumulative adjustment blocks.

    Fits ``outcome ~ exposure``, then ``outcome ~ exposure + block1``, ``... + block1 +
    block2`` ... as survey-weighted GLMs and returns the exposure coefficient(s) of every model
    as a tidy table (see the module docstring for the measures, intervals and missing-value
    rule).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design restricts to a domain).
    exposure : exposure column (numeric/boolean: one coefficient; string/categorical: one row
        per non-reference level) or a formula term such as ``"I(isolation >= 2)"``.
    outcome : outcome column (0/1 or boolean for ``or``/``pr``/``rd``; numeric for ``coef``;
        counts for ``rr``) or an expression such as ``"I(health >= 3)"``.
    adjust : list of blocks
        e.g. ``[["age", "sex"], ["education", "income_quintile"], ["lives_alone"]]``; a flat
        list is one block. Terms may be formula terms
        (``"C(education)"``, ``"np.log(income)"``). String columns are categorical.
    measure : ``"or"`` | ``"pr"`` | ``"rd"`` | ``"coef"`` | ``"rr"``, optional. Default:
        the default measure of ``family`` (or of the family chosen from the outcome).
    complete_cases : bool, default True
        True: all models on the same complete-case rows; False: each model on its own
        available cases.
    categorical, reference : treat the exposure as categorical / choose its reference level.
    pr_fallback : for ``pr``/``rd``, fall back (with a warning and a ``note``) when the
        log-/identity-link binomial model fails; False raises instead.
    level : confidence level.
    family : {"gaussian", "binomial", "poisson"}, optional
        ``"gaussian"`` (difference in means), ``"binomial"`` (odds ratio; or
        ``measure="pr"``/``"rd"``) or ``"poisson"`` (rate ratio). Default: chosen from the
        outcome, boolean or 0/1 -> binomial, otherwise gaussian (said in ``family_chosen``).
    tol : IRLS convergence tolerance passed to each ``design.glm`` (default: its own, 1e-12).

    Returns
    -------
    AssociationTable
        ``.to_frame()``: one row per model (per non-reference exposure level): ``model``,
        ``model_label``, ``adjusted_for``, ``term``, ``level``, ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``p``, ``n``, ``df``, ``measure``, ``family``, ``link``,
        ``note``; ``.models`` the fitted GLMs; ``.family``, ``.family_chosen``,
        ``.estimate_label``.

    Raises
    ------
    MissingColumnError / FormulaError : exposure, outcome or an adjustment variable not in the
        data. ModelError : unknown measure or family, or the two disagree; a binary measure
        for an outcome that is not 0/1; the exposure has a single level among the rows used.
        SeparationError / ConvergenceError : from the model that failed, naming it.

    References
    ----------
    Lumley (2010) *Complex Surveys*, ch. 5-6; Zou (2004) Am J Epidemiol 159:702-706;
    Graubard & Korn (1999) Biometrics 55:652-659.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> t = models.association(sd.design, exposure="lonely", outcome="poor_health",
    ...                        adjust=[["age", "sex"], ["education", "income_quintile"]],
    ...                        measure="or")
    >>> print(t.to_frame()[["model_label", "estimate", "ci_low", "ci_high", "n"]]
    ...       .round(3).to_string())
                        model_label  estimate  ci_low  ci_high      n
    0                    unadjusted     2.237   1.899    2.636  17483
    1                    + age, sex     2.440   2.067    2.880  17483
    2  + education, income quintile     2.414   2.043    2.854  17483
    >>> pr = models.association(sd.design, exposure="lonely", outcome="poor_health",
    ...                         adjust=["age", "sex"], measure="pr")     # prevalence ratios
    >>> print(pr.to_frame()[["model_label", "estimate", "ci_low", "ci_high"]].round(3).to_string())
      model_label  estimate  ci_low  ci_high
    0  unadjusted     1.849   1.668    2.049
    1  + age, sex     1.841   1.679    2.019

    A continuous outcome gets a gaussian model (differences in means) without being asked:

    >>> import socialhealth as sh
    >>> demo = sh.datasets.load("demo").design
    >>> t = association(demo, exposure="lonely", outcome="bmi", adjust=["age"])
    >>> t.family, t.estimate_label
    ('gaussian', 'difference in means')

    In R: ``svyglm(poor_health ~ lonely + age + sex, design, family = quasibinomial())`` for
    each model, ``exp(cbind(coef(m), confint(m, ddf = m$df.residual)))``;
    ``svyglm(bmi ~ lonely + age, design)`` (gaussian); ``family = quasipoisson()`` (rate ratios).
    """
    from socialhealth.design.results import check_level

    level = check_level(level, ModelError)
    check_names(exposure=exposure, outcome=outcome)
    complete_cases = check_flag(complete_cases, "complete_cases", "association()")
    pr_fallback = check_flag(pr_fallback, "pr_fallback", "association()")
    if categorical is not None:
        categorical = check_flag(categorical, "categorical", "association()")
    if measure is not None and (not isinstance(measure, str) or measure not in MEASURES):
        raise ModelError(f"measure={show_given(measure)} is not one of {', '.join(MEASURES)} "
                         "(or = odds ratio, pr = prevalence ratio, rd = risk difference, "
                         "coef = difference in means, rr = rate ratio).")
    if family is not None:
        key = str(family).lower()
        key = {"quasibinomial": "binomial", "logistic": "binomial", "quasipoisson": "poisson",
               "normal": "gaussian", "linear": "gaussian"}.get(key, key)
        if key not in FAMILY_MEASURES:
            raise ModelError(f"family={show_given(family)} is not one of 'gaussian' (difference "
                             "in means), 'binomial' (odds ratio) or 'poisson' (rate ratio).")
        if measure is not None and measure not in FAMILY_MEASURES[key]:
            raise ModelError(
                f"measure={measure!r} does not go with family={family!r} (a {key} model gives "
                f"{', '.join(repr(m) for m in FAMILY_MEASURES[key])}); give one of the two.")
        family = key
    data = design.data
    if outcome not in data.columns and "(" not in outcome:
        raise MissingColumnError([outcome], data.columns, "the design data (outcome)")
    blocks = adjust_blocks(adjust)
    _check_adjust(blocks, data)
    x_term = exposure_term(data, exposure, categorical, reference)
    y_term = outcome if (outcome in data.columns
                         and re.match(r"^[A-Za-z_][A-Za-z_0-9]*$",
                                      outcome)) or "(" in outcome else f"`{outcome}`"
    formulas = []
    terms_so_far: list[str] = []
    for k in range(len(blocks) + 1):
        if k:
            terms_so_far = terms_so_far + [t for t in blocks[k - 1] if t not in terms_so_far]
        formulas.append(f"{y_term} ~ " + " + ".join([x_term] + terms_so_far))
    # variables of the largest model (checks every name, raises FormulaError naming unknowns)
    all_vars = formula_variables(formulas[-1], data)
    work = design
    r_complete = None
    if complete_cases:
        ok = data[all_vars].notna().all(axis=1).to_numpy() & design.in_subset
        if not ok.any():
            raise ModelError(
                f"no row of the design has complete data on {', '.join(all_vars)}; use "
                "complete_cases=False or fewer adjustment variables.")
        if ok.sum() < design.in_subset.sum():
            work = design.subset(ok)
            r_complete = " & ".join(f"!is.na({_r_name(v)})" for v in all_vars)
    chosen, family_chosen = _choose_measure(work, outcome, y_term, measure, family)
    family, link, expo, _ = MEASURES[chosen]
    _check_exposure_levels(work, exposure, x_term, data)
    rows: list[pd.DataFrame] = []
    models: list[SurveyGLMResult | None] = []
    notes: list[str] = []
    fit_kw = {} if tol is None else {"tol": tol}
    for k, formula in enumerate(formulas):
        label = _model_label(k, blocks)
        adjusted_for = ", ".join(t for b in blocks[:k] for t in b)
        fam_k, link_k, note = family, link, ""
        try:
            res = work.glm(formula, family=fam_k, link=link_k,
                           start=_start(work, formula, fam_k, link_k), **fit_kw)
            res = to_maximum(work, res, fit_kw)
        except (ConvergenceError, ModelError) as exc:
            if isinstance(exc, SeparationError) and chosen in ("or", "coef", "rr"):
                raise SeparationError(f"model {k} ({label}; {formula}): {exc}") from exc
            if chosen == "pr" and pr_fallback:
                fam_k, link_k = "poisson", "log"
                note = ("log-binomial model failed to converge "
                        f"({_brief(exc)}); prevalence ratio from a log-link quasi-Poisson "
                        "model with design-based (sandwich) variance (Zou 2004)")
                warnings.warn(f"model {k} ({label}): {note}.", SocialHealthWarning,
                              stacklevel=user_stacklevel())
                try:
                    res = work.glm(formula, family=fam_k, link=link_k, **fit_kw)
                except SocialHealthError as exc2:
                    raise type(exc2)(f"model {k} ({label}; {formula}), modified Poisson fallback: "
                                     f"{exc2}") from exc2
            elif chosen == "rd" and pr_fallback:
                rows.append(_rd_by_margins(work, formula, x_term, exposure, k, label, adjusted_for,
                                           exc))
                models.append(None)
                notes.append(rows[-1]["note"].iloc[0])
                warnings.warn(f"model {k} ({label}): {rows[-1]['note'].iloc[0]}.",
                              SocialHealthWarning, stacklevel=user_stacklevel())
                continue
            else:
                if isinstance(exc, MissingColumnError):
                    raise
                raise type(exc)(f"model {k} ({label}; {formula}): {exc}") from exc
        x_cols = _exposure_columns(res, x_term)
        no_df = _no_df_note(res)
        if no_df:
            note = f"{note}; {no_df}" if note else no_df
            warnings.warn(f"model {k} ({label}): {no_df}.", SocialHealthWarning,
                          stacklevel=user_stacklevel())
        rows.append(_rows(res, k, label, adjusted_for, x_cols, chosen, fam_k, link_k, note, expo,
                          level))
        models.append(res)
        if note:
            notes.append(f"model {k}: {note}")
    table = pd.concat(rows, ignore_index=True)[TABLE_COLUMNS]
    table["level"] = table["level"].astype(object).where(table["level"].notna(), None)
    return AssociationTable(table=table, models=models, formulas=formulas, exposure=exposure,
                            outcome=outcome, measure=chosen, complete_cases=complete_cases,
                            notes=notes, family=family, family_chosen=family_chosen,
                            level=level, r_complete_cases=r_complete)


def _r_name(name: str) -> str:
    """A column name as R writes it (backticked unless syntactic)."""
    return name if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", name) else f"`{name}`"


def _choose_measure(design, outcome: str, y_term: str, measure, family) -> tuple[str, str]:
    """The measure to fit and a sentence saying how the family was chosen.

    ``measure`` and ``family`` as given (None or checked values). Without either, the outcome
    decides: boolean or 0/1 among the rows used -> binomial (odds ratio), else gaussian.
    """
    from socialhealth.design.formula import model_frame

    y = model_frame(design.data, f"{y_term} ~ 1", design.in_subset).y
    binary = bool(len(y)) and bool(np.all((y == 0) | (y == 1)))
    if measure is None and family is None:
        if binary:
            return "or", (f"binomial (odds ratios), chosen because the outcome {outcome!r} is 0/1; "
                          "pass family= to choose another")
        return "coef", (f"gaussian (differences in means), chosen because the outcome {outcome!r} "
                        "is not 0/1; pass family='binomial' for a 0/1 outcome or "
                        "family='poisson' for counts")
    if measure is None:
        measure = FAMILY_MEASURES[family][0]
        how = f"{family} (family={family!r} given)"
    else:
        how = f"{MEASURES[measure][0]} (implied by measure={measure!r})"
    if MEASURES[measure][0] == "binomial" and not (len(y) and np.all((y >= 0) & (y <= 1))):
        lo, hi = (float(np.min(y)), float(np.max(y))) if len(y) else (np.nan, np.nan)
        raise ModelError(
            f"measure={measure!r} needs a 0/1 (or boolean, or proportion) outcome, but {outcome!r} "
            f"takes values from {lo:g} to {hi:g}; use family='gaussian' (difference in means) or "
            f"family='poisson' (rate ratio for counts), or an indicator such as "
            f"'I({outcome} >= cut)'.")
    return measure, how


def _no_df_note(res) -> str:
    """A note for a model without residual design degrees of freedom (``df <= 0``: at least
    as many coefficients as the design has degrees of freedom), whose t intervals and p-values
    are undefined (NaN; R's ``confint``/``pt`` give NaN as well); empty otherwise."""
    df = float(res.df_resid)
    if df > 0:
        return ""
    p = len(res.params)
    return (f"no residual design degrees of freedom (df = {df:g}: {p} coefficients and "
            f"{df + p - 1:g} design df), so the interval and p-value are undefined (NaN); use "
            "fewer adjustment terms or a design with more PSUs")


def _brief(exc: Exception, limit: int = 120) -> str:
    """Exception class and the start of its message, for notes and warnings."""
    msg = str(exc).split(". ")[0]
    return f"{type(exc).__name__}: {msg[:limit]}{'...' if len(msg) > limit else ''}"


def _start(design, formula: str, family: str, link: str):
    """Starting values for identity-link binomial models (R needs them too): the weighted
    mean outcome as intercept, zero slopes. Other models use the engine's default start (a
    linear model needs none: its fit is closed-form, and a start would only be noise in its
    printed R call).

    The mean is summed exactly (``math.fsum``), so the start, and the ``start = c(...)``
    printed in the R call, do not depend on how BLAS splits a sum between threads."""
    if link != "identity" or family not in ("binomial", "quasibinomial"):
        return None
    import math

    from socialhealth.design.formula import model_frame

    mf = model_frame(design.data, formula, design.in_subset)
    w = np.asarray(design.weights[mf.rows], dtype=float)
    start = np.zeros(mf.X.shape[1])
    if "Intercept" in mf.columns:
        y = np.asarray(mf.y, dtype=float)
        start[mf.columns.index("Intercept")] = math.fsum(w * y) / math.fsum(w)
    return start


def to_maximum(design, res, fit_kw: dict, settle: float = 1e-13, max_refits: int = 200):
    """The fit ``res`` taken to the maximum of the likelihood, for the non-canonical binomial
    links (log, identity); other models are returned as they are.

    IRLS on a non-canonical link is Fisher scoring, which converges linearly; its stopping rule
    (relative change in deviance) can stop with the coefficients ~1e-7 (relative) short of the
    maximum, and where the path differs (R needs ``start=`` for a log-binomial model where
    socialhealth starts from ``mustart``) the two stop at different points. Refitting from the
    converged coefficients until they change by less than ``settle`` (relative, floor 1e-3)
    reaches the maximum whatever the path; the final ``design.glm`` from there gives the
    sandwich at the maximum. In R: ``m <- svyglm(..., start = coef(m))`` until
    ``coef(m)`` settles.
    """
    if res.family != "binomial" or res.link not in ("log", "identity"):
        return res
    from socialhealth.design.extension import fit_glm
    from socialhealth.models._attrition import _design_matrix

    X = _design_matrix(res)
    y = np.asarray(res.frame.y, dtype=float)
    w = np.asarray(design.weights, dtype=float)[res.frame.rows]
    b = res.params.to_numpy()
    change = np.inf
    for _ in range(max_refits):
        fit = fit_glm(X, y, w, res.family, res.link, start=b, names=res.names,
                      tol=fit_kw.get("tol", 1e-12))
        change = float(np.max(np.abs(fit.beta - b) / np.maximum(np.abs(b), 1e-3)))
        b = np.asarray(fit.beta, dtype=float)
        if change < settle:
            break
    else:
        warnings.warn(
            f"the {res.link}-binomial model {res.formula!r} did not settle at the maximum of "
            f"the likelihood after {max_refits} refits (last relative change in a coefficient "
            f"{change:.1e}, wanted < {settle:.0e}): its estimates may differ from R's in the "
            "digits beyond that change. A log/identity-binomial fit near the boundary (fitted "
            "probabilities near 1, or near 0 or 1 for identity) converges slowly; consider "
            "measure='or' (logistic) or robust Poisson for prevalence ratios.",
            ConvergenceWarning, stacklevel=user_stacklevel())
    return design.glm(res.formula, family=res.family, link=res.link, start=b, **fit_kw)


def _exposure_columns(res, x_term: str) -> list[str]:
    key = x_term.replace(" ", "").replace("`", "")
    for t, idx in res.frame.terms.items():
        if t.replace(" ", "").replace("`", "") == key:
            return [res.names[i] for i in idx]
    # formulaic may print the term slightly differently: fall back to name prefix
    cols = [n for n in res.names if n.replace(" ", "").replace("`", "").startswith(key)]
    if not cols:
        raise ModelError(f"could not find the exposure term {x_term!r} among the model terms "
                         f"{list(res.frame.terms)}.")
    return cols


def _check_exposure_levels(design, exposure, x_term, data) -> None:
    if exposure not in data.columns:
        return
    vals = data.loc[design.in_subset, exposure].dropna()
    uniq = pd.unique(vals)
    if len(uniq) < 2:
        shown = show(uniq[0]) if len(uniq) else "none"
        raise ModelError(
            f"the exposure {exposure!r} has a single value ({shown}) among the rows used "
            f"({len(vals)} rows in the design's subset with non-missing values); an association "
            "cannot be estimated in this domain."
        )


def _rd_by_margins(design, formula, x_term, exposure, k, label, adjusted_for, exc):
    """Risk difference as a difference of predictive margins of the logistic model."""
    from socialhealth.models._margins import margins

    res = design.glm(formula, family="binomial", link="logit")
    mg = margins(res, exposure)
    d = mg.to_frame()
    d = d[d["kind"] == "difference"]
    note = (f"identity-link binomial model failed ({_brief(exc)}); risk difference = "
            "difference of predictive margins from the logistic model (Graubard & Korn 1999)")
    return pd.DataFrame({
        "model": k, "model_label": label, "adjusted_for": adjusted_for,
        "term": [f"{x_term}[{lv}]" if lv is not None else x_term for lv in d["level"]],
        "level": d["level"].to_numpy(),
        "estimate": d["estimate"].to_numpy(), "se": d["se"].to_numpy(),
        "ci_low": d["ci_low"].to_numpy(), "ci_high": d["ci_high"].to_numpy(),
        "p": d["p"].to_numpy(), "n": res.nobs, "df": d["df"].to_numpy(),
        "measure": "rd", "family": "binomial", "link": "logit (margins)", "note": note,
    })
