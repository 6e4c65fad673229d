"""Loglinear models of a survey contingency table (R ``svyloglin``) and the goodness-of-fit test
of a one-way table against known proportions (R ``svygofchisq``).

Loglinear models (Rao & Scott 1984; Lumley 2010, ch. 6)
    ``p`` are the estimated cell proportions of the full cross-classification of the model's
    factors (every combination of the levels present among the rows used, the first factor
    varying fastest) and ``V`` their design covariance (linearisation or replicates). A
    hierarchical loglinear model ``log pi = a + X theta`` (sum-to-zero "effect" coding of each
    factor, R's ``contr.sum``; interaction columns are products of main-effect columns) is
    fitted by pseudo-maximum likelihood: ``theta`` solves the Poisson (multinomial) likelihood
    equations ``X' (p - pi(theta)) = 0``. Its sandwich covariance is
    ``V_theta = A X~' V X~ A`` with ``A = (X~' P X~)^{-1}``, ``P = diag(pi) - pi pi'`` and
    ``X~`` the columns of ``X`` centred on their (unweighted) means.

Comparing nested models ``M0 < M1`` (Rao & Scott 1984, §4)
    With ``n`` the rows of the design (its subset), the working likelihood-ratio statistic is
    ``G^2 = 2 n sum_c p_c log(pi1_c / pi0_c)`` and the Pearson ("score") statistic
    ``X^2 = n sum_c (pi1_c - pi0_c)^2 / pi0_c``. ``W`` are the ``k`` columns of ``M1``'s terms
    that ``M0`` lacks, residualised on ``M0``'s columns by least squares weighted with
    ``P1 = diag(pi1) - pi1 pi1'``; the generalised design effects ``delta_1..delta_k`` are the
    eigenvalues of ``Delta = n (W' P_sat W)^{-1} (W' V W)``, ``P_sat = diag(p) - p p'``.
    p-values: ``"F"`` (default) ``P(F(nu, nu * degf) > G^2 / tr(Delta))`` with
    ``nu = tr(Delta)^2 / tr(Delta^2)`` and ``degf`` the design's degrees of freedom;
    ``"chisq"`` (first order) ``P(chi^2_k > k G^2 / tr(Delta))``; ``"saddlepoint"``
    ``P(sum_j delta_j chi^2_1 > G^2)`` by a saddlepoint approximation; the same with ``X^2``.

Goodness of fit to known proportions
    ``O_j`` are the estimated totals of the ``J`` levels, ``N = sum_j O_j``,
    ``E_j = p_j N``; ``X^2 = sum_j (O_j - E_j)^2 / E_j``. ``Lambda`` is the design covariance
    of the Pearson components ``z_j = (O_j - E_j) / sqrt(E_j)`` (delta method: ``N`` is
    estimated too), ``scale = tr(Lambda^2) / tr(Lambda)``, ``df = tr(Lambda)^2 / tr(Lambda^2)``
    and ``p = P(chi^2_df > X^2 / scale)`` (the Satterthwaite approximation to
    ``sum_j lambda_j chi^2_1``, ``lambda_j`` the eigenvalues of ``Lambda``).

References
----------
Rao JNK, Scott AJ (1981) The analysis of categorical data from complex sample surveys:
chi-squared tests for goodness of fit and independence in two-way tables. *JASA* 76:221-230.
Rao JNK, Scott AJ (1984) On chi-squared tests for multiway contingency tables with cell
proportions estimated from survey data. *Annals of Statistics* 12:46-60.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*, Wiley, ch. 6.
"""
from __future__ import annotations

import itertools
import re
from typing import Literal

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import show, show_given, show_list
from socialhealth.design.result_protocol import TEST_REASONS, Result, Summary
from socialhealth.design.structure import require_columns
from socialhealth.design.table import MAX_FACTOR_LEVELS, check_factor_levels
from socialhealth.errors import EstimationError, FormulaError

__all__ = ["loglin", "anova_loglin", "gofchisq", "LoglinModel", "LoglinAnova"]

LOGLIN_PVALUES = ("F", "chisq", "saddlepoint")


# ----------------------------------------------------------------------------- formulas
_TOKEN = re.compile(r"\s*(?:([A-Za-z_.][A-Za-z0-9_.]*)|(\d+)|(.))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:       # only trailing blanks are left
            break
        pos = m.end()
        if m.group(1) is not None:
            out.append(("name", m.group(1)))
        elif m.group(2) is not None:
            out.append(("int", m.group(2)))
        elif m.group(3).strip():
            out.append(("op", m.group(3)))
    return out


class _Parser:
    """Recursive-descent parser of R model formulas made of ``+ - * : ^ ( ) .`` and names.

    A value is an ordered list of terms, each a frozenset of variable names.
    """

    def __init__(self, text: str, dot: list | None):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.dot = dot

    def parse_vars(self) -> list:
        """Variable names in order of appearance (those of ``.`` where it stands)."""
        out = []
        for kind, val in self.toks:
            if kind == "name" and val == "." and self.dot:
                out += [v for t in self.dot for v in sorted(t)]
            elif kind == "name" and val != ".":
                out.append(val)
        return out

    def error(self, why: str):
        raise FormulaError(
            f"cannot read the loglinear formula {self.text!r}: {why}. Write it as R does, "
            "e.g. '~a + b + c', '~(a + b + c)^2' or '~a*b + c'.")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self) -> list:
        if self.peek() != ("op", "~"):
            self.error("it must start with '~' (a one-sided formula)")
        self.take()
        terms = self.expr()
        if self.i != len(self.toks):
            self.error(f"unexpected {self.peek()[1]!r}")
        return terms

    def expr(self) -> list:
        terms = list(self.product())
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            rhs = self.product()
            if op == "+":
                terms += [t for t in rhs if t not in terms]
            else:
                terms = [t for t in terms if t not in rhs]
        return terms

    def product(self) -> list:
        terms = self.power()
        while self.peek() in (("op", ":"), ("op", "*")):
            op = self.take()[1]
            rhs = self.power()
            inter = _unique([a | b for a in terms for b in rhs])
            terms = inter if op == ":" else _unique(terms + rhs + inter)
        return terms

    def power(self) -> list:
        terms = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            kind, val = self.take()
            if kind != "int" or int(val) < 1:
                self.error("'^' must be followed by a whole number such as 2")
            out = list(terms)
            for _ in range(int(val) - 1):
                out = _unique(out + [a | b for a in out for b in terms])
            terms = out
        return terms

    def atom(self) -> list:
        kind, val = self.take()
        if kind == "name" and val == ".":
            if self.dot is None:
                self.error("'.' (the current model) only works in update()")
                return []   # pragma: no cover - error() raises
            return list(self.dot)
        if kind == "name":
            return [frozenset([val])]
        if (kind, val) == ("op", "("):
            terms = self.expr()
            if self.take() != ("op", ")"):
                self.error("a '(' is not closed")
            return terms
        if kind == "int" and val == "1":
            return []
        self.error("expected a variable name" if kind is None else f"unexpected {val!r}")
        return []   # pragma: no cover - error() raises


def _unique(terms: list) -> list:
    out = []
    for t in terms:
        if t not in out:
            out.append(t)
    return out


def _parse_formula(formula, dot=None) -> tuple[list, list]:
    """Terms (frozensets, R's order: by degree, then appearance) and variables (appearance)."""
    if not isinstance(formula, str):
        raise FormulaError(f"the loglinear model needs a formula string such as '~a + b', not "
                           f"{formula!r}.")
    text = formula.strip()
    if "~" in text and not text.startswith("~"):
        raise FormulaError(f"the loglinear formula {formula!r} must be one-sided ('~a + b + c'): "
                           "the response is the table of cell proportions itself.")
    terms = _Parser(text, dot).parse()
    variables = []
    for t in _Parser(text, dot).parse_vars():
        if t not in variables:
            variables.append(t)
    terms = sorted(terms, key=len)     # stable: appearance order within a degree
    return terms, variables


# ----------------------------------------------------------------------------- the table
def _cell_table(design, variables: list, what: str, max_levels=None):
    """Cell of every row in the full cross-classification (-1: a factor missing, or outside
    the subset) and the levels: ``(key, levels)``; the first variable varies fastest in the
    cell index (R's ``interaction()`` and ``expand.grid`` order)."""
    from socialhealth.design.hypothesis import _codes

    require_columns(design.data, variables, "the design data")
    inside = design.in_subset
    used = inside.copy()
    for v in variables:
        c, _ = _codes(design.data[v], inside)
        used &= c >= 0
    if not used.any():
        raise EstimationError(f"no rows of the design with {', '.join(map(repr, variables))} all "
                              f"observed; {what} needs at least one.")
    key = np.zeros(len(used), dtype=np.int64)
    levels = []
    stride = 1
    for v in variables:
        c, lev = _codes(design.data[v], used)
        check_factor_levels(v, design.data[v], len(lev), max_levels, what)
        if len(lev) < 2:
            raise EstimationError(
                f"{v!r} has {len(lev)} level among the rows used; every factor of {what} needs "
                "at least 2 levels. Leave it out of the formula.")
        key += np.where(used, c, 0) * stride
        levels.append(lev)
        stride *= len(lev)
    return np.where(used, key, -1), levels


def cell_estimate(design, key: np.ndarray, n_cells: int, proportions: bool):
    """Estimated totals (``proportions=False``) or proportions of the cells ``key``
    (``0..n_cells-1``; -1 for a row in no cell), and their design covariance: the same as
    ``design._ratio_estimate(M, den)`` with ``M`` the (n x C) cell indicators and ``den``
    (proportions) the indicator of the rows in a cell, without building ``M``.

    Taylor designs: the covariance ``V_T`` of the cell totals from the influence values
    ``w_i`` stored by cell (:class:`~socialhealth.design.taylor_variance.DomainColumns`),
    then for proportions ``p = T / N`` the delta method ``J V_T J'`` with
    ``J = (I - p 1') / N`` (the linearised ratio's influence values are ``J`` applied to those
    of the totals, so the two agree up to rounding). Replicate designs: the replicate totals
    ``W' M`` in row blocks, and the replicates' own proportions. Designs where the influence
    values are not handled linearly column by column (calibrated, PPS, ``lonely_psu=
    "average"``, two-phase) build ``M`` as before.
    """
    from socialhealth.design.base import _nan_where_undefined
    from socialhealth.design.taylor_variance import DomainColumns

    kind = getattr(design, "kind", None)
    stages = getattr(design, "_stages", None) or []
    sparse_taylor = (kind == "taylor" and not design._calibrations
                     and design.lonely_psu != "average"
                     and all(getattr(st, "pps", None) is None for st in stages))
    ok = key >= 0
    if not (sparse_taylor or kind == "replicate"):
        M = np.zeros((len(key), n_cells))
        M[np.flatnonzero(ok), key[ok]] = 1.0
        den = (np.repeat(ok.astype(float)[:, None], n_cells, axis=1) if proportions
               else None)
        theta, V = design._ratio_estimate(M, den)
        return np.asarray(theta, dtype=float), np.asarray(V, dtype=float)
    w = np.asarray(design._w, dtype=float)
    T = np.bincount(key[ok], weights=w[ok], minlength=n_cells).astype(float)
    N = T.sum()
    theta = T / N if proportions else T
    if kind == "replicate":
        reps = design._cell_replicate_totals(key, n_cells)
        if proportions:
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = reps / reps.sum(axis=1, keepdims=True)
        V = design._rep_vcov(theta, reps)
    else:
        V = design._variance_of(DomainColumns(w[:, None], key, n_cells))
        if proportions:
            J = (np.eye(n_cells) - theta[:, None]) / N
            V = J @ V @ J.T
    return theta, _nan_where_undefined(np.asarray(V, dtype=float), theta)


def _same_numbers(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` equal up to rounding: the table of the same design computed twice (a
    replicate design's cell totals come from a multithreaded BLAS product, whose last bits
    can differ between calls, which made a bitwise comparison refuse the anova of two models
    of the same design now and then)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = float(np.nanmax(np.abs(a), initial=0.0)) if a.size else 0.0
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale,
                                                   equal_nan=True))


def _cell_codes(levels: list) -> np.ndarray:
    """Level codes of every cell (rows: cells, first variable fastest; columns: variables)."""
    sizes = [len(lev) for lev in levels]
    cells = np.arange(int(np.prod(sizes)))
    out = np.empty((len(cells), len(sizes)), dtype=np.int64)
    for j, s in enumerate(sizes):
        out[:, j] = cells % s
        cells = cells // s
    return out


def _model_matrix(terms: list, variables: list, levels: list):
    """Columns (no intercept) and names of the sum-to-zero coded terms, R's ``contr.sum``."""
    codes = _cell_codes(levels)
    cols, names, owner = [], [], []
    for t in terms:
        tv = [v for v in variables if v in t]
        per_var = []
        for v in tv:
            j = variables.index(v)
            L = len(levels[j])
            c = codes[:, j]
            per_var.append([(np.where(c == a, 1.0, 0.0) - np.where(c == L - 1, 1.0, 0.0),
                             f"{v}{a + 1}") for a in range(L - 1)])
        # first variable of the term varies fastest (R's column order)
        for combo in itertools.product(*reversed(per_var)):
            combo = tuple(reversed(combo))
            col = np.ones(len(codes))
            for x, _ in combo:
                col = col * x
            cols.append(col)
            names.append(":".join(nm for _, nm in combo))
            owner.append(t)
    X = np.column_stack(cols) if cols else np.zeros((len(codes), 0))
    return X, names, owner


def _term_label(term, variables) -> str:
    return ":".join(v for v in variables if v in term)


def _check_hierarchical(terms: list, variables: list, formula: str) -> None:
    for t in terms:
        for sub in itertools.combinations(sorted(t), len(t) - 1):
            if sub and frozenset(sub) not in terms:
                lower = _term_label(frozenset(sub), variables)
                raise FormulaError(
                    f"the loglinear model {formula!r} is not hierarchical: it has "
                    f"{_term_label(t, variables)!r} without {lower!r}. "
                    "Add the lower-order term (a*b gives a + b + a:b).")


def _check_margins(p: np.ndarray, terms: list, variables: list, levels: list) -> None:
    """An empty margin the model fits has no (finite) maximum likelihood estimate."""
    codes = _cell_codes(levels)
    for t in terms:
        idx = [variables.index(v) for v in variables if v in t]
        sizes = [len(levels[j]) for j in idx]
        key = np.zeros(len(p), dtype=np.int64)
        stride = 1
        for j, s in zip(idx, sizes, strict=True):
            key += codes[:, j] * stride
            stride *= s
        marg = np.bincount(key, weights=p, minlength=stride)
        if np.any(marg <= 0):
            e = int(np.flatnonzero(marg <= 0)[0])
            combo = []
            for j, s in zip(idx, sizes, strict=True):
                combo.append(f"{variables[j]}={show(levels[j][e % s])}")
                e //= s
            raise EstimationError(
                f"the cell {', '.join(combo)} of the term {_term_label(t, variables)!r} has "
                "estimated proportion 0, so the loglinear model has no finite estimates (the "
                "fitted proportion would have to be 0, a coefficient minus infinity). Drop the "
                "term, merge sparse levels or restrict the data.")


def _fit(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Fitted cell proportions of the Poisson/multinomial loglinear model ``log pi = a + X b``
    at the maximum of ``sum_c p_c log pi_c`` (Newton-Raphson with step halving)."""
    from socialhealth.errors import ConvergenceError

    Z = np.column_stack([np.ones(len(p)), X])
    beta = np.linalg.lstsq(Z, np.log(p + 0.1 / len(p)), rcond=None)[0]

    def loglik(b):
        eta = Z @ b
        return float(p @ eta - np.exp(eta).sum())

    ll = loglik(beta)
    for _ in range(200):
        mu = np.exp(Z @ beta)
        grad = Z.T @ (p - mu)
        H = Z.T @ (mu[:, None] * Z)
        step = np.linalg.solve(H, grad)
        t = 1.0
        while True:
            new = beta + t * step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-15 * abs(ll) or t < 1e-10:
                break
            t /= 2
        beta, ll = new, ll_new
        if (np.max(np.abs(t * step)) < 1e-13 * max(1.0, np.max(np.abs(beta)))
                or np.max(np.abs(grad)) < 1e-15):
            # the step or the score (proportions: of order 1) at rounding level
            break
    else:
        raise ConvergenceError("the loglinear model did not converge in 200 Newton steps.")
    pi = np.exp(Z @ beta)
    return pi / pi.sum()


def _inv(A: np.ndarray, what: str) -> np.ndarray:
    if A.size and not 1.0 / np.linalg.cond(A, 1) >= np.finfo(float).eps:
        raise EstimationError(
            f"{what} is singular (R fails with 'system is computationally singular' here): "
            "a fitted cell proportion is 0 or the table's cells are linearly dependent. Merge "
            "sparse levels or drop terms.")
    return np.linalg.inv(A)


def _centre(X: np.ndarray) -> np.ndarray:
    return X - X.mean(axis=0, keepdims=True)


# ----------------------------------------------------------------------------- results
class LoglinModel(Result):
    """A loglinear model fitted to a survey table (R ``svyloglin``); see :func:`loglin`.

    Attributes
    ----------
    formula : str
        The model formula (``"~a + b + a:b"``, terms in R's order).
    terms : list of str
        The model's terms.
    variables : list of str
        The factors of the table, in the order of the cell index.
    levels : dict
        The levels of each factor (those present among the rows used).
    vcov : pandas.DataFrame
        Design-based covariance of the coefficients (R ``vcov()``).
    n : int
        Rows of the design (its subset), R's ``n``.
    """

    _what = "coefficient"

    def __init__(self, design, terms, variables, levels, p, V, r_call):
        self._design = design
        self._terms = terms
        self.variables = variables
        self.levels = dict(zip(variables, levels, strict=True))
        self._levels = levels
        self.prob_table = p
        self.prob_vcov = V
        # R: nrow(model.frame(design)), the rows its design object holds (rows missing a
        # factor included); only the printed deviance and score statistics depend on it
        self.n = int(np.count_nonzero(design._r_rows()))
        self.df_null = float(design.degf())
        self.r_call = r_call
        #: the design in the R call: ``design``, or ``update(design, x = factor(x, levels =
        #: c(...)))`` for text factors whose level order is not R's sorted one
        self.r_design = "design"
        self.design_label = design._short_label()
        self.terms = [_term_label(t, variables) for t in terms]
        self.formula = "~" + (" + ".join(self.terms) if self.terms else "1")
        _check_margins(p, terms, variables, levels)
        X, names, _ = _model_matrix(terms, variables, levels)
        self._X = X
        self.fitted_proportions = _fit(X, p)
        pi = self.fitted_proportions
        Xc = _centre(X)
        A = _inv(Xc.T @ ((np.diag(pi) - np.outer(pi, pi)) @ Xc),
                 "the information matrix of the loglinear model")
        Vt = A @ (Xc.T @ V @ Xc) @ A
        # a coefficient whose variance is 0 (a margin fixed by the design: the strata of a
        # stratified sample with fpc) comes out as +-1e-18 of rounding error; a negative one
        # read as NaN SE with numpy's "invalid value in sqrt". Both are 0 (R prints its
        # rounding noise, SEs of 2e-9)
        d = np.diag(Vt)
        rounding = np.abs(d) < 1e-10 * max(float(np.abs(d).max(initial=0.0)), 1e-300)
        Vt[np.flatnonzero(rounding), np.flatnonzero(rounding)] = 0.0
        Z = np.column_stack([np.ones(len(p)), X])
        coef = np.linalg.lstsq(Z, np.log(pi), rcond=None)[0][1:]
        self._coef = pd.Series(coef, index=names, name="estimate")
        self.vcov = pd.DataFrame(Vt, index=names, columns=names)

    # ------------------------------------------------------------------ protocol
    def to_frame(self) -> pd.DataFrame:
        """Coefficients with design-based standard errors, z, normal p and 95% interval
        (R ``summary(svyloglin(...))`` and ``confint()``)."""
        from scipy import stats

        est = self._coef.to_numpy()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / se
        q = stats.norm.ppf(0.975)
        return pd.DataFrame({"term": list(self._coef.index), "estimate": est, "se": se,
                             "statistic": z, "p": 2 * stats.norm.sf(np.abs(z)),
                             "ci_low": est - q * se, "ci_high": est + q * se})

    def __repr__(self) -> str:
        lines = [f"Loglinear model {self.formula}: {self.design_label}"]
        with pd.option_context("display.width", 120, "display.float_format",
                               "{:.6g}".format):
            lines.append(self.to_frame().to_string(index=False))
        lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)

    def summary(self) -> Summary:
        """Text summary (coefficients, se, z, p) with ``_repr_html_``."""
        return Summary(repr(self), frame=self.to_frame())

    # ------------------------------------------------------------------ R methods
    def deviance(self) -> float:
        """Working deviance of the model against the saturated one,
        ``2 n sum_c p_c log(p_c / pi_c)`` (R ``deviance()``)."""
        p, pi = self.prob_table, self.fitted_proportions
        pos = p > 0
        return float(2 * self.n * np.sum(p[pos] * np.log(p[pos] / pi[pos])))

    def degf(self) -> int:
        """Residual degrees of freedom: cells - coefficients - 1 (R ``degf()``)."""
        return len(self.prob_table) - len(self._coef) - 1

    def fitted(self) -> pd.DataFrame:
        """The table: each cell's levels, estimated proportion ``p`` and fitted ``pi``."""
        codes = _cell_codes(self._levels)
        frame: dict = {v: [self._levels[j][c] for c in codes[:, j]]
                       for j, v in enumerate(self.variables)}
        frame["p"] = self.prob_table
        frame["fitted"] = self.fitted_proportions
        return pd.DataFrame(frame)

    def update(self, formula: str) -> LoglinModel:
        """The model with other terms, on the same table (R ``update(model, ~. + a:b)``);
        ``.`` stands for the current terms."""
        terms, variables = _parse_formula(formula, dot=self._terms)
        extra = [v for v in variables if v not in self.variables]
        if extra:
            raise FormulaError(
                f"update({formula!r}) names {', '.join(map(repr, extra))}, not a factor of this "
                f"table ({', '.join(self.variables)}); fit a new model with design.loglin().")
        _check_hierarchical(terms, self.variables, formula)
        out = LoglinModel(self._design, terms, self.variables, self._levels, self.prob_table,
                          self.prob_vcov, f"update({self.r_call}, {formula.strip()})")
        out.r_design = self.r_design
        return out

    def anova(self, other: LoglinModel,
              pval: Literal["F", "chisq", "saddlepoint"] = "F",
              r_compatible: bool = True) -> LoglinAnova:
        """Test of this model against a nested one (R ``anova(model, other)``); see
        :func:`anova_loglin`."""
        return anova_loglin(self, other, pval=pval, r_compatible=r_compatible)


class LoglinAnova(Result):
    """Rao-Scott comparison of two nested loglinear models (R ``anova(m0, m1)``); see
    :func:`anova_loglin`.

    ``to_frame()`` has one row for the working likelihood ratio ("deviance") and one for the
    Pearson ("score") statistic: statistic, df (``k``), ndf and ddf of the F reference, the
    p-value chosen by ``pval``, and p_F, p_chisq, p_saddlepoint. ``design_effects`` are the
    eigenvalues of ``Delta``.
    """

    _not_applicable = TEST_REASONS

    def __init__(self, table, design_effects, pval, r_call, small, large):
        self.table = table
        self.design_effects = design_effects
        self.pval = pval
        self.r_call = r_call
        self.models = (small, large)

    def to_frame(self) -> pd.DataFrame:
        """The two-row test table as a copy."""
        return self.table.copy()

    def __repr__(self) -> str:
        s, b = self.models
        lines = [f"Analysis of deviance: {s.formula} against {b.formula} "
                 f"(Rao-Scott, p-value: {self.pval})"]
        with pd.option_context("display.width", 120, "display.float_format",
                               "{:.6g}".format):
            lines.append(self.table.to_string(index=False))
        lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- verbs
def loglin(design, formula: str, max_levels: int | None = MAX_FACTOR_LEVELS) -> LoglinModel:
    """Loglinear model of the cross-classification of survey factors (R ``svyloglin``).

    The model ``log pi = a + X theta`` is fitted to the estimated cell proportions ``p`` of the
    table of every factor in the formula by pseudo-maximum likelihood (``X' (p - pi) = 0``), with
    sum-to-zero coding of each factor (R's ``contr.sum``: coefficient ``a1`` is the effect of
    the first level, the last level's is minus the sum of the others). The coefficients'
    design-based covariance is the sandwich ``V_theta = A X~' V X~ A`` with
    ``A = (X~' (diag(pi) - pi pi') X~)^{-1}``, ``V`` the design covariance of ``p`` and ``X~``
    the centred columns (Rao & Scott 1984; Lumley 2010 ch. 6). Formulas in
    :mod:`socialhealth.design.loglin`. Rows missing any factor are left out (domain
    estimation); each factor's levels are those present among the rows used, sorted (or in
    category order).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula : str
        One-sided hierarchical formula: ``"~a + b + c"`` (independence),
        ``"~(a + b + c)^2"`` (all two-way interactions), ``"~a*b + c"``.
    max_levels : int or None, default 100
        Refuse (:class:`~socialhealth.errors.ArgumentError`) a numeric factor with more
        distinct values than this among the rows used (a measurement, not codes): cut it into
        categories first. ``None``: no limit (R ``svyloglin`` takes any number of levels).

    Returns
    -------
    LoglinModel
        ``coef()``, ``se()``, ``vcov``, ``confint(level=)``, ``to_frame()``, ``deviance()``,
        ``degf()``, ``fitted()``, ``update("~. + a:b")`` and ``anova(other)``.

    Raises
    ------
    ArgumentError
        A numeric factor with more than ``max_levels`` distinct values.
    FormulaError
        A two-sided or unreadable formula, or a non-hierarchical one (``a:b`` without ``a``).
    EstimationError
        An unknown column, a factor with one level, or an estimated proportion 0 in a margin
        the model fits (no finite estimate exists; R returns huge coefficients instead).

    References
    ----------
    Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60. Lumley T (2010) *Complex
    Surveys*, Wiley, ch. 6.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> m1 = d.loglin("~stype + sch.wide + awards")
    >>> m2 = m1.update("~. + stype:sch.wide")
    >>> print(m2.to_frame()[["term", "estimate", "se"]].round(6).to_string(index=False))
                term  estimate       se
              stype1  1.012803 0.166821
              stype2 -0.569230 0.165963
           sch.wide1 -0.594922 0.152486
             awards1 -0.397901 0.126843
    stype1:sch.wide1 -0.216889 0.209266
    stype2:sch.wide1  0.517847 0.246462
    >>> res = m1.anova(m2)                   # R: Deviance= 5.617526 p= 0.1350996
    >>> print(res.to_frame()[["test", "statistic", "p"]].round(6).to_string(index=False))
        test  statistic        p
    deviance   5.617526 0.135100
       score   6.787444 0.094954
    >>> round(float(m1.anova(m2, pval="saddlepoint").to_frame()["p"].iloc[0]), 6)  # R 0.1082482
    0.108248

    (R 4.2, survey 4.1-1, on this data set written to CSV: the same coefficients and standard
    errors to the digits shown.)

    In R: ``m1 <- svyloglin(~stype + sch.wide + awards, dclus1)``;
    ``m2 <- update(m1, ~. + stype:sch.wide)``; ``coef(m2)``; ``vcov(m2)``; ``anova(m1, m2)``.
    """
    terms, variables = _parse_formula(formula)
    if not variables:
        raise FormulaError(f"the loglinear formula {formula!r} names no factor.")
    _check_hierarchical(terms, variables, formula)
    key, levels = _cell_table(design, variables, "a loglinear model", max_levels)
    p, V = cell_estimate(design, key, int(np.prod([len(lev) for lev in levels])), True)
    # text factors in our level order (R's factor() sorts them, and the coefficients are the
    # effects of all levels but the last)
    from socialhealth.design.extension import r_factor

    recode = [f"{v if re.fullmatch(r'[A-Za-z.][A-Za-z0-9._]*', v) else f'`{v}`'} = "
              f"{r_factor(v, lev)}" for v, lev in zip(variables, levels, strict=True)
              if "levels = " in r_factor(v, lev)]
    des = f"update(design, {', '.join(recode)})" if recode else "design"
    model = LoglinModel(design, terms, variables, levels, p, V,
                        f"svyloglin({formula.strip()}, {des})")
    model.r_design = des
    return model


def anova_loglin(model0: LoglinModel, model1: LoglinModel,
                 pval: Literal["F", "chisq", "saddlepoint"] = "F",
                 r_compatible: bool = True) -> LoglinAnova:
    """Rao-Scott test of a loglinear model against a larger one that contains it
    (R ``anova(m0, m1)``).

    The smaller model (fewer coefficients) is the null. Statistics (``n`` rows of the design,
    ``p`` the estimated, ``pi0``/``pi1`` the fitted cell proportions):
    ``G^2 = 2 n sum_c p_c log(pi1_c / pi0_c)`` (R's "Deviance") and
    ``X^2 = n sum_c (pi1_c - pi0_c)^2 / pi0_c`` (R's "Score"). With ``W`` the ``k`` columns of
    the extra terms residualised on the smaller model's columns (least squares weighted by
    ``diag(pi1) - pi1 pi1'``), ``Delta = n (W' (diag(p) - p p') W)^{-1} W' V W`` and
    ``nu = tr(Delta)^2 / sum_ij Delta_ij^2`` (R's; see Notes). ``pval="F"``:
    ``P(F(nu, nu * degf) > stat / tr(Delta))`` with ``degf`` the design's degrees of freedom;
    ``"chisq"``: ``P(chi^2_k > k stat / tr(Delta))``; ``"saddlepoint"``:
    ``P(sum_j delta_j chi^2_1 > stat)`` with ``delta_j`` the eigenvalues of ``Delta``
    (saddlepoint approximation; R's fallback to the Satterthwaite value near the centre). All
    three are in the table (``p_F``, ``p_chisq``, ``p_saddlepoint``); ``p`` is the one chosen.

    Parameters
    ----------
    model0, model1 : LoglinModel
        Two models of the same table (same design and factors), one containing the other's
        terms.
    pval : {"F", "chisq", "saddlepoint"}
        The p-value reported in ``p`` (R ``print(anova(m0, m1), pval = )``).
    r_compatible : bool, default True
        True: R survey 4.1-1's numbers (see Notes). False: the basis-invariant versions,
        ``nu = tr(Delta)^2 / tr(Delta^2)`` and the eigenvalues of ``Delta`` for both
        saddlepoint p-values (equal to R's whenever ``Delta`` is symmetric, e.g. ``k = 1``).

    Returns
    -------
    LoglinAnova
        ``to_frame()`` rows ``deviance`` and ``score``: test, statistic, df, ndf, ddf, p,
        p_F, p_chisq, p_saddlepoint; ``design_effects`` the eigenvalues of ``Delta``.

    Raises
    ------
    EstimationError
        Models of different tables, models that are not nested, or equal models.

    Notes
    -----
    ``Delta`` is not symmetric, and R survey 4.1-1 (matched by default) uses two quantities
    that depend on the coding of the extra terms rather than only on the design effects:
    ``nu`` of the F reference divides by the sum of the squared entries of ``Delta``
    (``tr(Delta Delta')``) where Rao & Scott's second-order correction has
    ``tr(Delta^2) = sum_j delta_j^2``, and the score statistic's saddlepoint p-value uses
    ``eigen(Delta, symmetric = TRUE)``, the eigenvalues of the symmetric matrix built from the
    lower triangle of ``Delta`` (the deviance's uses the eigenvalues of ``Delta``). With
    ``r_compatible=False`` both use the design effects themselves. The first-order
    (``"chisq"``) p-values are the same either way. R's ``pval = "lincom"`` (Davies'
    integration, package CompQuadForm) is not offered.

    References
    ----------
    Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60. Lumley T (2010) *Complex
    Surveys*, Wiley, ch. 6.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> m0 = d.loglin("~stype + sch.wide")
    >>> m1 = d.loglin("~stype * sch.wide")
    >>> res = sh.design.anova_loglin(m0, m1)
    >>> res.to_frame()[["test", "df"]].values.tolist()
    [['deviance', 2.0], ['score', 2.0]]

    In R: ``anova(svyloglin(~stype + sch.wide, dstrat), svyloglin(~stype * sch.wide, dstrat))``
    and ``print(..., pval = "saddlepoint")``.
    """
    from scipy import stats

    from socialhealth.design.lincomb import pchisqsum

    if not is_choice(pval, LOGLIN_PVALUES):
        raise EstimationError(f"pval={show_given(pval)} is not one of {', '.join(LOGLIN_PVALUES)}.")
    if not isinstance(r_compatible, (bool, np.bool_)):
        raise EstimationError(f"r_compatible= must be True or False, not "
                              f"{show_given(r_compatible)}.")
    for m in (model0, model1):
        if not isinstance(m, LoglinModel):
            raise EstimationError(f"anova of loglinear models needs two LoglinModel results "
                                  f"(design.loglin(...)), not {type(m).__name__}.")
    if len(model1._coef) < len(model0._coef):
        model0, model1 = model1, model0
    if (model0.variables != model1.variables or model0.n != model1.n
            or model0.prob_table.shape != model1.prob_table.shape
            or not _same_numbers(model0.prob_table, model1.prob_table)
            or not _same_numbers(model0.prob_vcov, model1.prob_vcov)):
        raise EstimationError(
            "the two loglinear models are not fitted to the same table (same design and the "
            "same factors in the same order); fit the second with model.update(...).")
    small, large = set(model0._terms), set(model1._terms)
    if not small < large:
        raise EstimationError(
            f"the models {model0.formula} and {model1.formula} are not nested (or are equal): "
            "the Rao-Scott test compares a model with a larger one that has all its terms.")
    n = model1.n
    p, V = model1.prob_table, model1.prob_vcov
    pi0, pi1 = model0.fitted_proportions, model1.fitted_proportions
    X1 = _centre(model0._X)
    _, _, owner = _model_matrix(model1._terms, model1.variables, model1._levels)
    extra = [j for j, t in enumerate(owner) if t not in small]
    X2 = _centre(model1._X[:, extra])
    P1 = np.diag(pi1) - np.outer(pi1, pi1)
    if X1.shape[1]:
        W = X2 - X1 @ (_inv(X1.T @ P1 @ X1, "the information matrix of the smaller model")
                       @ (X1.T @ P1 @ X2))
    else:
        W = X2
    Psat = np.diag(p) - np.outer(p, p)
    Delta = n * (_inv(W.T @ Psat @ W, "the multinomial covariance of the extra terms")
                 @ (W.T @ V @ W))
    k = W.shape[1]
    tr1 = float(np.trace(Delta))
    # R survey 4.1-1: sum of the squared entries of Delta (tr(Delta Delta')), where the
    # basis-invariant second moment of the design effects is tr(Delta^2) = sum delta_j^2
    tr2 = float(np.sum(Delta * Delta)) if r_compatible else float(np.trace(Delta @ Delta))
    if not tr1 > 0:
        raise EstimationError(
            "the design variance of the table is 0 or undefined (NaN), so the Rao-Scott "
            "correction is undefined; there is no sampling error to test.")
    deltas = np.sort(np.linalg.eigvals(Delta).real)[::-1]
    nu = tr1**2 / tr2
    df_null = model1.df_null
    pos = p > 0
    dev = float(2 * n * np.sum(p[pos] * np.log(pi1[pos] / pi0[pos])))
    score = float(n * np.sum((pi1 - pi0) ** 2 / pi0))
    rows = []
    # R survey 4.1-1 takes the score statistic's saddlepoint weights from
    # eigen(Delta, symmetric = TRUE), the eigenvalues of the symmetric matrix with Delta's
    # lower triangle; the deviance's are the eigenvalues of Delta itself
    lower = np.tril(Delta) + np.tril(Delta, -1).T
    weights = {"deviance": deltas,
               "score": np.linalg.eigvalsh(lower)[::-1] if r_compatible else deltas}
    for name, stat in (("deviance", dev), ("score", score)):
        a = weights[name]
        # a design effect 0 up to rounding (V of lower rank than k: few PSUs) adds 0 x chi2_1
        a = a[np.abs(a) > 1e-12 * np.max(np.abs(a))]
        p_f = float(stats.f.sf(stat / tr1, nu, df_null * nu)) if df_null > 0 else np.nan
        p_c = float(stats.chi2.sf(stat * k / tr1, k))
        p_s = pchisqsum(stat, np.ones(len(a)), a, method="saddlepoint")
        chosen = {"F": p_f, "chisq": p_c, "saddlepoint": p_s}[pval]
        rows.append({"test": name, "statistic": stat, "df": float(k), "ndf": nu,
                     "ddf": df_null * nu, "p": chosen, "p_F": p_f, "p_chisq": p_c,
                     "p_saddlepoint": p_s})
    des = model1.r_design
    call = f"anova(svyloglin({model0.formula}, {des}), svyloglin({model1.formula}, {des}))"
    if pval != "F":
        call = f"print({call}, pval = \"{pval}\")"
    return LoglinAnova(pd.DataFrame(rows), deltas, pval, call, model0, model1)


def gofchisq(design, variable: str, p) -> object:
    """Design-based goodness-of-fit test of a categorical variable to known proportions
    (R ``svygofchisq``).

    ``O_j`` are the estimated population totals of the ``J`` levels (rows missing the variable
    left out), ``N = sum_j O_j`` and ``E_j = p_j N``. The statistic is Pearson's
    ``X^2 = sum_j (O_j - E_j)^2 / E_j``. Its reference distribution is that of
    ``sum_j lambda_j chi^2_1`` with ``lambda_j`` the eigenvalues of ``Lambda``, the design
    covariance of ``z_j = (O_j - E_j) / sqrt(E_j)`` (delta method, with ``N`` estimated:
    ``dz_j / dO_i = (1[i = j] - p_j) / sqrt(E_j) - z_j p_j / (2 E_j)``), approximated
    (Satterthwaite; Rao & Scott 1981) by ``scale * chi^2_df`` with
    ``scale = tr(Lambda^2) / tr(Lambda)`` and ``df = tr(Lambda)^2 / tr(Lambda^2)``:
    ``p = P(chi^2_df > X^2 / scale)``.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        A categorical column (``"x"`` or ``"~x"``). Its levels: categories in order for a
        pandas ``Categorical`` (all of them), else the sorted distinct values of the data.
    p : sequence of float
        The known proportions, one per level in that order, each > 0, adding up to 1.

    Returns
    -------
    TestResult
        ``to_frame()`` columns: statistic (``X^2``, R's "X-squared"), scale, df, p; ``extra``
        has ``levels``, ``observed``, ``expected`` and ``lambda`` (the eigenvalues).

    Raises
    ------
    EstimationError
        Unknown column, ``p`` of the wrong length, not positive or not adding up to 1 (R
        rescales such a ``p`` silently; divide by its sum yourself to do the same).

    References
    ----------
    Rao JNK, Scott AJ (1981) The analysis of categorical data from complex sample surveys.
    *JASA* 76:221-230.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> res = d.gofchisq("stype", [0.6, 0.2, 0.2])
    >>> print(res.to_frame().round(4).to_string(index=False))
     statistic  scale     df      p
      394.6861  48.82 1.6088 0.0111
    >>> res.extra["levels"]
    ['E', 'H', 'M']

    R (this data set written to CSV): ``X-squared = 394.69, scale = 48.8200, df = 1.6088,
    p-value = 0.01108``.

    In R: ``svygofchisq(~stype, c(0.6, 0.2, 0.2), dclus1)``.
    """
    from scipy import stats

    from socialhealth.design.hypothesis import TestResult
    from socialhealth.design.table import _levels_and_codes

    if not isinstance(variable, str):
        raise EstimationError("gofchisq takes one column name (or '~x'), not "
                              f"{show_given(variable)}.")
    name = variable.strip().lstrip("~").strip()
    if not name or any(ch in name for ch in "+*:"):
        raise EstimationError(f"gofchisq tests one variable; {variable!r} is not a single "
                              "column name.")
    require_columns(design.data, [name], "the design data")
    levels, codes = _levels_and_codes(design.data[name])
    try:
        pv = np.asarray(p, dtype=float).ravel()
    except (TypeError, ValueError):
        raise EstimationError(f"p= must be a sequence of numbers (one per level), not "
                              f"{show_given(p)}.") from None
    J = len(levels)
    if J < 2:
        raise EstimationError(f"{name!r} has {J} level; a goodness-of-fit test needs at least 2.")
    if len(pv) != J:
        raise EstimationError(
            f"p= has {len(pv)} proportions but {name!r} has {J} levels "
            f"({show_list(levels)}); give one proportion per level, in that order.")
    if not np.all(np.isfinite(pv)) or np.any(pv <= 0):
        raise EstimationError(f"every proportion in p= must be a finite number > 0, not "
                              f"{show_given(pv.tolist())}.")
    if abs(pv.sum() - 1) > 1e-8:
        raise EstimationError(
            f"the proportions in p= add up to {pv.sum():.10g}, not 1; divide them by their sum "
            "(R's svygofchisq rescales them silently).")
    pv = pv / pv.sum()
    used = design.in_subset & (codes >= 0)
    if not used.any():
        raise EstimationError(f"no rows of the design with {name!r} observed.")
    obs, v_obs = cell_estimate(design, np.where(used, codes, -1), J, False)
    N = obs.sum()
    E = pv * N
    X2 = float(np.sum((obs - E) ** 2 / E))
    z = (obs - E) / np.sqrt(E)
    Jac = (np.eye(J) - pv[:, None]) / np.sqrt(E)[:, None] - (z * pv / (2 * E))[:, None]
    Lam = Jac @ v_obs @ Jac.T
    t1 = float(np.trace(Lam))
    t2 = float(np.sum(Lam * Lam.T))
    if not t1 > 0:
        raise EstimationError(
            f"the design variance of the table of {name!r} is 0 or undefined (NaN), so the "
            "Rao-Scott correction is undefined; there is no sampling error to test.")
    scale, df = t2 / t1, t1**2 / t2
    pval = float(stats.chi2.sf(X2 / scale, df))
    table = pd.DataFrame({"statistic": [X2], "scale": [scale], "df": [df], "p": [pval]})
    return TestResult(table, "Design-based chi-squared test for given probabilities",
                      f"svygofchisq(~{name}, c({', '.join(f'{x:g}' for x in pv)}), design, "
                      "na.rm = TRUE)",
                      design._short_label(),
                      {"levels": list(levels), "observed": obs, "expected": E,
                       "lambda": np.sort(np.linalg.eigvalsh((Lam + Lam.T) / 2))[::-1]})
