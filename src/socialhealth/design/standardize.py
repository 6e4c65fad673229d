"""Direct (e.g. age) standardisation of domain estimates (R ``svystandardize``).

Epidemiologists compare prevalences between domains (countries, sexes, survey years) whose age
structures differ. Direct standardisation reweights every domain to the age distribution of one
*standard population*, so that ``design.standardize(...).mean("lonely", by="country")`` gives
age-standardised prevalences. As in R ``survey``, this is done by changing the weights, not by
averaging stratum-specific estimates: within each domain ``d`` of ``by`` the weights of the
units in level ``l`` of ``variables`` are multiplied by ``P_l / W_{d,l}``, where ``P_l`` is the
standard population share of ``l`` and ``W_{d,l}`` its weighted share in ``d``. The domain's
total weight is unchanged (it stays at its current estimate) and the weighted distribution of
``variables`` in the domain equals the standard population's. Any weighted mean in the domain
is then the directly standardised mean ``sum_l P_l ybar_{d,l}`` (Curtin & Klein 1995; Korn &
Graubard 1999).

Variance. The standardisation is a post-stratification to the domain x level cells with cell
totals ``N_d P_l`` treated as fixed (R: "similar to post-stratification, except that the totals
for the domains are fixed at the current estimates"). A Taylor design therefore carries the
post-stratum residualizer of :mod:`socialhealth.design.calibration` (influence values minus
their weighted cell means); a replicate design post-stratifies every replicate's weights to
the same fixed cell totals. Both reproduce R ``survey`` 4.1-1 (tests/design/fixtures/standardize).
"""
from __future__ import annotations

import functools
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import show
from socialhealth._deprecation import REMOVAL, warn_renamed
from socialhealth.design.calibration import _cells, _norm_key, post_stratify
from socialhealth.design.structure import as_list
from socialhealth.design.variables import categorical_levels
from socialhealth.errors import ArgumentError, DesignError, EstimationError, SocialHealthWarning

__all__ = ["standardize"]


def _show(key: tuple) -> str:
    """A level (or a tuple of levels, one per by variable) as text for a message."""
    return show(key[0] if len(key) == 1 else key)


def _population_shares(population, by: list[str], data: pd.DataFrame) -> dict[tuple, float]:
    """{by-level tuple: share} from a mapping/Series, a DataFrame or an unnamed sequence.

    Counts or shares are accepted; the result is normalised to sum to one.
    """
    if isinstance(population, pd.DataFrame):
        missing = [c for c in by if c not in population.columns]
        if missing:
            raise DesignError(
                f"the population table lacks the by column(s) {', '.join(map(repr, missing))}; it "
                "needs one column per by variable and one column of counts or shares ('Freq')."
            )
        if "Freq" in population.columns:
            value = "Freq"
        else:
            rest = [c for c in population.columns if c not in by]
            if len(rest) != 1:
                raise DesignError(
                    f"the population table has {len(rest)} column(s) besides {by} ({rest}); name "
                    "the column of standard population counts or shares 'Freq'."
                )
            value = rest[0]
        keys = [tuple(_norm_key(v) for v in row)
                for row in population[by].itertuples(index=False, name=None)]
        values = pd.to_numeric(population[value], errors="coerce").to_numpy(dtype=float)
    elif isinstance(population, (Mapping, pd.Series)):
        items = list(population.items())
        keys = [tuple(_norm_key(x) for x in (k if isinstance(k, tuple) else (k,))) for k,
                _ in items]
        bad = [k for k in keys if len(k) != len(by)]
        if bad:
            raise DesignError(
                f"population keys must be {'tuples of ' if len(by) > 1 else ''}{len(by)} value(s), "
                f"one per by variable {by}; got {_show(bad[0])}."
            )
        values = pd.to_numeric(pd.Series([v for _, v in items], dtype=object),
                               errors="coerce").to_numpy(dtype=float)
    elif isinstance(population, (Sequence, np.ndarray)) and not isinstance(population, str):
        values = np.asarray(population, dtype=float).ravel()
        # R matches an unnamed vector to the combinations of the by levels, first variable fastest
        levels = [[_norm_key(v) for v in categorical_levels(data[c])] for c in by]
        grid = pd.MultiIndex.from_product(levels[::-1]).tolist()
        keys = [tuple(reversed(k if isinstance(k, tuple) else (k,))) for k in grid]
        if len(values) != len(keys):
            raise DesignError(
                f"population has {len(values)} value(s) but {' x '.join(by)} has {len(keys)} "
                f"level combination(s) in the data ({', '.join(_show(k) for k in keys[:6])}"
                f"{', ...' if len(keys) > 6 else ''}); give one count or share per combination, "
                "or pass a dict/Series {level: count} to match them by name."
            )
    else:
        raise DesignError(
            "population must be a dict/Series {level: count or share}, a DataFrame with the by "
            f"column(s) and a 'Freq' column, or a sequence in level order; got "
            f"{type(population).__name__}."
        )
    if len(set(keys)) != len(keys):
        raise DesignError("the standard population lists a level more than once; give one value "
                          "per level.")
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DesignError(
            f"standard population value for level {_show(keys[i])} is {show(values[i])}; counts "
            "or shares must be positive numbers. Drop levels the standard population does not "
            "have from both the population and the sample (design.subset) instead."
        )
    shares = values / values.sum()
    return dict(zip(keys, shares, strict=True))


def _old_standardize_names(func):
    """Accept the pre-0.2 keywords: ``by=`` (standardising variables) and ``over=`` (domains).

    Until 0.2, as in R's ``svystandardize``, ``by`` named the standardising variables and ``over``
    the domains. A call without ``variables`` that gives ``by=`` is such an old call: its ``by``
    is read as ``variables`` and its ``over`` as ``by``, with a DeprecationWarning. Positional
    calls (``standardize("agecat", "race", ...)``) mean the same in both versions.
    """

    @functools.wraps(func)
    def wrapper(design, *args, **kwargs):
        old_over = "over" in kwargs
        over = kwargs.pop("over", None)
        has_variables = bool(args) or "variables" in kwargs
        if not has_variables and "by" in kwargs:
            kwargs["variables"] = kwargs.pop("by")
            if old_over:
                kwargs["by"] = over
            warnings.warn(
                "standardize(by=..., over=...) is deprecated since socialhealth 0.1.0: the "
                "standardising variables are now variables= (or the first argument) and the "
                "domains by=, e.g. standardize('agecat', by='race', population=...) "
                f"(the old names will be removed after {REMOVAL}).",
                DeprecationWarning, stacklevel=user_stacklevel())
        elif old_over:
            if "by" in kwargs or len(args) > 1:
                raise ArgumentError("standardize() got both by= and its deprecated spelling "
                                    "over=; give only by= (the domains).")
            kwargs["by"] = over
            warn_renamed("standardize", "over", "by", "0.1.0")
        return func(design, *args, **kwargs)

    # read by socialhealth._deprecation (mypy does not model attributes set on a function)
    wrapper.__deprecated_parameters__ = {  # type: ignore[attr-defined]
        "over": "by", "by (as the first argument)": "variables"}
    return wrapper


@_old_standardize_names
def standardize(design, variables, by=None, *, population, excluding_missing=None):
    """Directly standardise domains to a standard population (R ``svystandardize``).

    Within each domain ``d`` of ``by`` (the whole sample if ``by`` is None) the weight of
    unit ``i`` in level ``l`` of ``variables`` becomes

        w_i* = w_i * P_l / W_{d,l},     W_{d,l} = sum_{j in d, l} w_j / sum_{j in d} w_j,

    where ``P_l`` is the standard population share of ``l`` (counts are normalised to shares)
    and ``W_{d,l}`` the weighted share of ``l`` in domain ``d``. The domain total ``N_d`` is
    unchanged and the weighted distribution of ``variables`` in ``d`` equals ``P``, so a weighted
    mean in ``d`` is the directly standardised mean ``sum_l P_l ybar_{d,l}``. Domain estimates must
    use the same ``by`` variables (or finer ones) as ``by=`` of the estimator.

    The standard errors treat the standardisation as a post-stratification to the fixed cell
    totals ``N_d P_l`` (Taylor: influence values are replaced by their residuals from the
    weighted over x by cell means; replicate designs: every replicate is post-stratified to
    the same cell totals), which is what R does. A standard-population level with no
    respondents in a domain is left out of that domain (its share is not redistributed, so the
    domain total becomes ``N_d (1 - P_l)``; means are unaffected), with a
    :class:`~socialhealth.errors.SocialHealthWarning`, as R's "Some strata absent from sample:
    ignored".

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variables : str or list of str
        Variable(s) whose distribution is standardised (e.g. the age group; R's ``by =``).
        Several columns are cross-classified.
    by : str or list of str, optional
        Domains within which the standardisation is done (e.g. country, sex; R's ``over =``).
        None: the whole sample (R ``over = ~1``). Until 0.2 these two were called ``by`` and
        ``over``, as in R; the old keywords still work, with a DeprecationWarning.
    population : dict, Series, DataFrame or sequence (keyword only)
        The standard population: counts or shares per level of ``variables`` (normalised to
        shares). A mapping ``{level: value}`` (``{(level1, level2): value}`` for several
        columns), a DataFrame with the ``variables`` column(s) and a ``Freq`` (or single value)
        column, or an unnamed sequence in the order of the levels (categories, else sorted
        values; first variable varying fastest, as R).
    excluding_missing : str or list of str, optional
        Rows with a missing value in these columns (typically the outcome) are left out
        (zero weight) *before* the domain totals and shares are computed, so the
        standardisation is exact for the rows that the estimate uses (R ``excluding.missing``).
        Without it, rows missing the outcome take part in ``W_{d,l}`` and the available-case
        estimate is only approximately standardised. The returned design keeps those rows
        with zero weight (R drops them).

    Returns
    -------
    A new design of the same kind with the standardised weights.

    Raises
    ------
    DesignError
        A level present among the respondents but not in ``population``, a non-positive or
        missing population value, a population of the wrong length/shape, missing values in
        ``variables``/``by`` among the respondents, or a column named in both ``variables`` and
        ``by``.
    MissingColumnError
        A ``variables``, ``by`` or ``excluding_missing`` column is not in the data.

    References
    ----------
    Curtin LR, Klein RJ (1995) Direct standardization (age-adjusted death rates). Healthy
    People 2000 Statistical Notes no. 6, National Center for Health Statistics.
    Korn EL, Graubard BI (1999) *Analysis of Health Surveys*, Wiley (direct standardisation
    of survey estimates). Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*,
    Wiley, ch. 7 (post-stratification). National Center for Health Statistics, NHANES
    tutorials: age standardisation.

    Examples
    --------
    >>> import socialhealth as sh
    >>> nhanes = sh.datasets.load_example("nhanes")
    >>> d = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
    ...                     nest=True)
    >>> popage = [55901, 77670, 72816, 45364]          # standard population, agecat order
    >>> std = d.standardize("agecat", by="race", population=popage,
    ...                     excluding_missing="HI_CHOL")
    >>> cols = ["race", "estimate", "se"]
    >>> print(d.mean("HI_CHOL", by="race").to_frame()[cols].round(4).to_string())   # crude
       race  estimate      se
    0     1    0.0719  0.0118
    1     2    0.1298  0.0134
    2     3    0.1076  0.0227
    3     4    0.0889  0.0258
    >>> print(std.mean("HI_CHOL", by="race").to_frame()[cols].round(4).to_string())  # standardised
       race  estimate      se
    0     1    0.0654  0.0087
    1     2    0.1187  0.0125
    2     3    0.0963  0.0218
    3     4    0.0816  0.0247

    Adults only, with the standard population as a mapping:

    >>> stdpop = {"(19,39]": 77670, "(39,59]": 72816, "(59,Inf]": 45364}
    >>> adults = d.subset(d.data.agecat != "(0,19]")
    >>> std = adults.standardize("agecat", by="race", population=stdpop,
    ...                          excluding_missing="HI_CHOL")
    >>> print(std.mean("HI_CHOL", by="race").to_frame()[cols].round(4).to_string())
       race  estimate      se
    0     1    0.0779  0.0107
    1     2    0.1439  0.0173
    2     3    0.0960  0.0256
    3     4    0.0914  0.0284

    In R: ``svystandardize(design, by = ~agecat, over = ~race, population = popage,
    excluding.missing = ~HI_CHOL)``; ``svyby(~HI_CHOL, ~race, stdes, svymean)``.
    """
    by_cols = [str(c) for c in as_list(variables)]          # standardised (R's by)
    over_cols = [str(c) for c in as_list(by)] if by is not None else []   # domains (R's over)
    excl_cols = ([str(c) for c in as_list(excluding_missing)] if excluding_missing is not None
                 else [])
    if not by_cols:
        raise DesignError("name the variable(s) to standardise in variables= (e.g. "
                          "variables='age_group').")
    both = sorted(set(by_cols) & set(over_cols))
    if both:
        raise DesignError(
            f"column(s) {', '.join(map(repr, both))} are in both variables= and by=; variables "
            "are standardised (age), by names the domains compared (country)."
        )
    design._check_columns([*by_cols, *over_cols, *excl_cols])
    if excl_cols:
        keep = ~design.data[excl_cols].isna().any(axis=1).to_numpy()
        design = design.subset(keep)
    active = design.in_subset
    cols = [*over_cols, *by_cols]
    na = design.data[cols].isna().any(axis=1).to_numpy() & active
    if na.any():
        raise DesignError(
            f"{int(na.sum())} respondent(s) have a missing value in {', '.join(map(repr, cols))}; "
            "every respondent needs a level and a domain. Recode the missing values, or leave "
            "those rows out first with design.subset(...) (or excluding_missing=)."
        )
    shares = _population_shares(population, by_cols, design.data)

    codes, cells = _cells(design, cols)
    k = len(over_cols)
    cell_w = np.bincount(codes[codes >= 0], weights=design.weights[codes >= 0],
                         minlength=len(cells))
    by_keys = [c[k:] for c in cells]
    not_in_pop = list(dict.fromkeys(b for b in by_keys if b not in shares))
    if not_in_pop:
        raise DesignError(
            f"level(s) {', '.join(_show(b) for b in not_in_pop)} of {' x '.join(by_cols)} "
            "occur in the sample but not in the standard population; add them to population=, or "
            "leave those respondents out first with design.subset(...)."
        )
    domains = list(dict.fromkeys(c[:k] for c in cells))
    dom_total = {d: 0.0 for d in domains}
    for c, t in zip(cells, cell_w, strict=True):
        dom_total[c[:k]] += t
    present = set(cells)
    absent = [(d, b) for d in domains for b in shares if d + b not in present]
    if absent:
        shown = "; ".join(
            (f"{_show(b)} in "
             + ", ".join(f"{c}={show(v)}" for c, v in zip(over_cols, d, strict=True))
             if k else _show(b))
            for d, b in absent[:6])
        warnings.warn(
            f"{len(absent)} standard-population level(s) have no respondents in a domain and are "
            f"left out of it ({shown}{'; ...' if len(absent) > 6 else ''}); that domain's weights "
            "then sum to less than its estimated size (means are not affected). R: 'Some strata "
            "absent from sample: ignored'.",
            SocialHealthWarning,
            stacklevel=user_stacklevel(),
        )
    targets = {c: dom_total[c[:k]] * shares[c[k:]] for c in cells}
    try:
        return post_stratify(design, cols, targets)
    except EstimationError as e:
        # a replicate without weight in a cell (the cell's rows lie in the PSUs it drops);
        # R stops there too, on NaN replicate weights
        within = f" within a domain of {' x '.join(over_cols)}" if over_cols else ""
        raise EstimationError(
            f"standardize(): {e} A cell is a level of {' x '.join(by_cols)}{within}; merge "
            "sparse levels (or domains) so that every cell has respondents in several PSUs."
        ) from e
