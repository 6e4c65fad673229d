"""Parse and validate the sampling structure of a Taylor-linearisation design.

A design has one or more sampling stages. At each stage the sampling units (PSUs at stage 1,
SSUs within PSUs at stage 2, ...) are drawn within strata, possibly without replacement (a
finite population correction, fpc). This module turns the user's column names into integer
codes that the variance kernel (:mod:`socialhealth.design.taylor_variance`) works on:

* unit codes are made unique across the whole sample (a stage-2 unit is identified by its
  stage-1 unit and its own code, as R does with ``nest = TRUE`` at every stage below the first);
* strata at stage ``s > 1`` are nested in the stage ``s - 1`` unit;
* population sizes are per row; ``inf`` means "with replacement / no fpc".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show, show_given, show_list
from socialhealth.errors import (
    ArgumentError,
    DesignError,
    FPCError,
    MissingColumnError,
    NestingError,
    ProbabilityError,
    WeightError,
)

if TYPE_CHECKING:
    from socialhealth.design.pps import PPSVariance

LONELY_PSU_OPTIONS = ("fail", "remove", "adjust", "average", "certainty")


def check_lonely_psu(lonely_psu) -> None:
    """Raise :class:`~socialhealth.errors.DesignError` unless ``lonely_psu`` is one of
    :data:`LONELY_PSU_OPTIONS`.

    Examples
    --------
    >>> check_lonely_psu("adjust")
    """
    if not isinstance(lonely_psu, str) or lonely_psu not in LONELY_PSU_OPTIONS:
        raise DesignError(f"lonely_psu={show_given(lonely_psu)} is not one of "
                          f"{', '.join(LONELY_PSU_OPTIONS)} (as R's options(survey.lonely.psu=)); "
                          "the default is 'fail'.")


def check_flag(value, name: str, where: str = "SurveyDesign") -> bool:
    """Return ``value`` as a bool when it is ``True`` or ``False`` (Python or numpy bool);
    raise :class:`~socialhealth.errors.ArgumentError` for anything else.

    A string such as ``"yes"`` or ``"no"`` or the number 1 is refused: ``"no"`` is truthy in
    Python, so taking it silently would turn the option on.

    Examples
    --------
    >>> check_flag(np.True_, "nest")
    True
    >>> check_flag("no", "nest")
    Traceback (most recent call last):
    ...
    socialhealth.errors.ArgumentError: SurveyDesign: nest= must be True or False, not 'no' (a \
str). Pass nest=True or nest=False.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(
        f"{where}: {name}= must be True or False, not {show_given(value)} "
        f"(a {type(value).__name__}). "
        f"Pass {name}=True or {name}=False."
    )


@dataclass(frozen=True)
class Stage:
    """One sampling stage, as integer codes aligned with the data rows.

    Attributes
    ----------
    unit : int codes 0..G-1 of the sampling unit of each row (unique across the sample).
    stratum : int codes 0..H-1 of the stratum of each row at this stage (unique across the sample).
    unit_stratum : (G,) stratum code of each unit.
    n_units : (H,) number of sampled units in each stratum.
    pop_units : (H,) population number of units in each stratum (``inf`` = with replacement).
    parent_of_stratum : (H,) code of the enclosing unit of the previous stage (0 at stage 1).
    stratum_labels : (H,) original stratum labels (for messages).
    inclusion_prob : (G,) inclusion probability of each unit at a PPS stage, else ``None``.
    pps : :class:`~socialhealth.design.pps.PPSVariance` for the Overton, Hartley-Rao and
        joint-probability (Horvitz-Thompson / Yates-Grundy) variances, else ``None`` (Brewer
        uses ``inclusion_prob`` alone).
    """

    unit: np.ndarray
    stratum: np.ndarray
    unit_stratum: np.ndarray
    n_units: np.ndarray
    pop_units: np.ndarray
    parent_of_stratum: np.ndarray
    stratum_labels: np.ndarray
    inclusion_prob: np.ndarray | None = None   # per unit, for PPS (Brewer) designs
    pps: PPSVariance | None = None   # HT/YG variance of a PPS-WOR stage

    @property
    def n_strata(self) -> int:
        """Number of strata ``H`` at this stage."""
        return len(self.n_units)

    @property
    def n_psu(self) -> int:
        """Number of sampled units ``G`` at this stage (PSUs at stage 1)."""
        return len(self.unit_stratum)


def as_list(value) -> list:
    """A column argument as a list: ``None`` -> ``[]``, a scalar/string -> ``[value]``.

    Examples
    --------
    >>> as_list("age"), as_list(["age", "sex"]), as_list(None)
    (['age'], ['age', 'sex'], [])
    """
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def require_columns(data: pd.DataFrame, columns, where: str = "the data") -> None:
    """Raise :class:`~socialhealth.errors.MissingColumnError` naming every absent column.

    The message lists close matches among ``data.columns`` and says where the columns were
    looked for (``where``).

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"age": [1]}), ["age"])   # no error
    """
    for c in columns:
        try:
            hash(c)
        except TypeError:
            raise ArgumentError(
                f"a column name must be a string (or a list of strings), not a "
                f"{type(c).__name__} ({show_given(c)}); e.g. design.mean('age') or mean(['age', "
                "'bmi'])."
            ) from None
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, where=where)


def copy_on_write() -> bool:
    """Whether pandas copy-on-write is on (always in pandas >= 3, opt-in in pandas 2 with
    ``pd.options.mode.copy_on_write = True``): column arrays handed out, and frames sharing
    blocks, are then untouched by later in-place edits of another frame.

    Examples
    --------
    >>> isinstance(copy_on_write(), bool)
    True
    """
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return bool(pd.get_option("mode.copy_on_write") is True)


def design_frame(data: pd.DataFrame) -> pd.DataFrame:
    """The data frame a design keeps: a shallow copy of ``data`` (no values are copied).

    R's ``svydesign`` keeps its own copy of the data, so editing the data frame afterwards
    does not change the design's estimates. With pandas copy-on-write (pandas >= 3, or
    ``pd.options.mode.copy_on_write = True`` in pandas 2) the shallow copy gives the same:
    both frames share the columns until one of them is edited, and the edited frame then
    copies the block it changes, so an in-place edit of the user's frame
    (``df.loc[:10, "y"] = 0``) leaves the design's columns as they were. Without
    copy-on-write (pandas 2 by default) the shallow copy shares the values: columns added to
    or dropped from the user's frame do not reach the design, but an in-place edit of a
    value does; the values are not copied either way, which would double the memory of a
    large survey (pass ``df.copy()`` to get R's behaviour there).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0]})
    >>> kept = design_frame(df)
    >>> kept is df, list(kept.columns)
    (False, ['y'])
    """
    return data.copy(deep=False)


def check_data_frame(data, where: str = "SurveyDesign") -> None:
    """Refuse data a design cannot address by column name: not a DataFrame, MultiIndex
    columns, or duplicated column names (``data["y"]`` would be a DataFrame, not a column).

    Examples
    --------
    >>> import pandas as pd
    >>> check_data_frame(pd.DataFrame({"y": [1.0]}))   # no error
    """
    if not isinstance(data, pd.DataFrame):
        raise DesignError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    if isinstance(data.columns, pd.MultiIndex):
        raise DesignError(
            f"{where} needs one level of column names, but the data frame has MultiIndex columns "
            f"(e.g. {data.columns[0]!r}); flatten them first, e.g. "
            "df.columns = ['_'.join(map(str, c)).strip('_') for c in df.columns]."
        )
    dup = data.columns[data.columns.duplicated()]
    if len(dup):
        names = ", ".join(map(repr, pd.unique(np.asarray(dup, dtype=object))[:5]))
        raise DesignError(
            f"the data frame has duplicated column name(s) {names}; each column must have a unique "
            "name. Rename or drop the copies first, e.g. df = df.loc[:, ~df.columns.duplicated()]."
        )


def check_column_arguments(**arguments) -> None:
    """Design arguments that name columns must be column names (str), not arrays or Series.

    Examples
    --------
    >>> check_column_arguments(weights="pw", psu=["dnum"])   # no error
    """
    for arg, value in arguments.items():
        for v in as_list(value):
            if v is not None and not isinstance(v, (str, int, np.integer)):
                raise DesignError(
                    f"{arg}= takes column name(s) of the data frame, not a {type(v).__name__}; "
                    f"add the values as a column first (df = df.assign(my_{arg}=values)) and pass "
                    f"{arg}='my_{arg}'."
                )


def _codes(values: pd.Series | np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(values)
    if s.isna().any():
        bad = int(s.isna().sum())
        raise DesignError(
            f"{what} has {bad} missing value(s); every row of a design needs a {what}. "
            "Drop those rows before building the design, or fill the code in."
        )
    codes, uniques = _factorize_sorted(
        s.to_numpy() if not isinstance(s.dtype, pd.CategoricalDtype) else s)
    return codes, np.asarray(uniques)


def _factorize_sorted(values) -> tuple[np.ndarray, np.ndarray]:
    """Like ``pandas.factorize(values, sort=True)`` but O(n): hash-factorize, then rank only the
    unique values (pandas' sort=True sorts all n rows)."""
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques)
    try:
        order = np.argsort(uniques, kind="stable")
    except TypeError:                     # mixed types: order by their text
        order = np.argsort(uniques.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def combine_codes(*codes: np.ndarray) -> np.ndarray:
    """Integer codes of the combination of several integer code vectors (sorted order).

    Examples
    --------
    >>> import numpy as np
    >>> combine_codes(np.array([0, 0, 1, 1]), np.array([1, 0, 1, 1]))
    array([1, 0, 2, 2])
    """
    if len(codes) == 1:
        return np.asarray(codes[0], dtype=np.int64)
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        c = np.asarray(c, dtype=np.int64)
        key = key * (int(c.max()) + 1 if len(c) else 1) + c
    inv, _ = _factorize_sorted(key)      # hash-based, O(n); numbered in sorted key order
    return inv


def numeric_column(data: pd.DataFrame, column: str, what: str, error=DesignError) -> np.ndarray:
    """A column as a float array (NaN for missing), refusing values that are not numbers.

    Booleans become 0/1; strings that parse as numbers are converted; any other string raises
    ``error`` (default :class:`~socialhealth.errors.DesignError`) naming the column, an example
    value and the number of bad rows.

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_column(pd.DataFrame({"w": ["1.5", "2"]}), "w", "weight")
    array([1.5, 2. ])
    """
    s = data[column]
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        converted = pd.to_numeric(s, errors="coerce")
        bad = converted.isna() & s.notna()
        if bad.any():
            example = s[bad].iloc[0]
            raise error(
                f"{what} column {column!r} is not numeric (e.g. value {show(example)} in "
                f"{int(bad.sum())} row(s)); convert it to numbers first."
            )
        s = converted
    return s.to_numpy(dtype=float, na_value=np.nan)


def design_weights(
    data: pd.DataFrame,
    weights: str | None,
    probs: list[str],
) -> np.ndarray | None:
    """Sampling weights from ``weights=`` or ``probs=`` (product over stages), validated.

    ``w_i = 1 / prod_s pi_si`` when selection probabilities are given (R ``svydesign(probs=)``);
    ``None`` when neither is given.

    Examples
    --------
    >>> import pandas as pd
    >>> design_weights(pd.DataFrame({"p1": [0.5, 0.25], "p2": [0.5, 1.0]}), None, ["p1", "p2"])
    array([4., 4.])
    """
    if weights is not None and probs:
        raise DesignError("give either weights= or probs=, not both (weights = 1/probs).")
    if weights is not None:
        w = numeric_column(data, weights, "weight", WeightError)
        check_weights(w, weights)
        return w
    if probs:
        p = np.ones(len(data))
        for col in probs:
            pc = numeric_column(data, col, "probability", ProbabilityError)
            if np.isnan(pc).any():
                raise ProbabilityError(
                    f"probability column {col!r} has {int(np.isnan(pc).sum())} missing value(s)."
                )
            bad = (pc <= 0) | (pc > 1)
            if bad.any():
                raise ProbabilityError(
                    f"probabilities in {col!r} must lie in (0, 1]; {int(bad.sum())} row(s) do not "
                    f"(e.g. {show(pc[bad][0])}). Selection probabilities are not weights: pass "
                    "weights= instead if these are weights."
                )
            p = p * pc
        return 1.0 / p
    return None


def check_weights(w: np.ndarray, name: str) -> None:
    """Validate sampling weights: no rows, missing, infinite or non-positive weights raise.

    Survey weights must be finite and ``> 0``; subpopulations are handled with
    ``design.subset()`` (zero weight outside the domain), never with zero input weights.
    Raises :class:`~socialhealth.errors.WeightError` (or ``DesignError`` for no rows).

    Examples
    --------
    >>> import numpy as np
    >>> check_weights(np.array([1.0, 2.5]), "w")   # valid: no error
    """
    if len(w) == 0:
        raise DesignError("the data frame has no rows; a design needs at least one respondent.")
    nan = np.isnan(w)
    if nan.all():
        raise WeightError(
            f"weight column {name!r} is missing for every row. Choose another weight variable "
            "(loaders list the alternatives) or check that the right wave/year was selected."
        )
    if nan.any():
        raise WeightError(
            f"weight column {name!r} is missing for {int(nan.sum())} of {len(w)} rows. Drop "
            "those rows first (they are not part of the weighted sample), e.g. "
            f"df = df[df[{name!r}].notna()]."
        )
    if np.isinf(w).any():
        raise WeightError(f"weight column {name!r} has infinite values; check the weights.")
    nonpos = w <= 0
    if nonpos.any():
        raise WeightError(
            f"weight column {name!r} has {int(nonpos.sum())} non-positive value(s) (minimum "
            f"{show(w.min())}). Survey weights must be positive: drop rows that are out of the "
            "sample, and use design.subset(...) for subpopulations instead of zero weights."
        )


def build_stages(
    data: pd.DataFrame,
    psu: list[str],
    strata: list[str],
    fpc: list[str],
    nest: bool,
    pps: str | None = None,
) -> list[Stage]:
    """Integer structure of every stage, validated (see module docstring).

    One :class:`Stage` per column of ``psu`` (one element stage when ``psu`` is empty), with
    the strata and fpc of that stage; ``nest=True`` makes PSU labels unique within strata (R
    ``nest = TRUE``). Raises ``DesignError``/``NestingError``/``FPCError`` with what to fix.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"psu": [1, 2, 1, 2], "st": ["a", "a", "b", "b"]})
    >>> st = build_stages(df, ["psu"], ["st"], [], nest=True)[0]
    >>> st.n_strata, st.n_psu
    (2, 4)

    In R: ``svydesign(ids = ~psu, strata = ~st, nest = TRUE, data = df)``.
    """
    n = len(data)
    n_stages = max(len(psu), 1)
    if len(strata) > n_stages:
        raise DesignError(
            f"{len(strata)} strata columns for {n_stages} stage(s): give at most one strata "
            "column per stage of psu=."
        )
    if fpc and len(fpc) > n_stages:
        raise DesignError(
            f"{len(fpc)} fpc columns for {n_stages} stage(s): give one fpc column per stage."
        )
    stages: list[Stage] = []
    parent = np.zeros(n, dtype=np.int64)
    # R's as.fpc looks at the fpcs of all stages together: 1 everywhere is refused; 1 at one
    # stage with fractions at another is a fraction of 1 (every unit of that stage sampled);
    # 1 at one stage with population sizes (> 1) at another is a population of 1 unit
    given = [_fpc_values(data, c) for c in fpc if c is not None]
    one_means = ("ambiguous" if all(np.all(f == 1) for f in given) else
                 "size" if any(np.any(f > 1) for f in given) else "fraction")
    for s in range(n_stages):
        # stratum codes (nested in the parent unit from stage 2 on)
        raw_stratum, raw_labels = _stage_strata(data, strata, s)
        # (stage 1: no parent, the codes are already numbered in sorted order)
        stratum = raw_stratum if s == 0 else combine_codes(parent, raw_stratum)
        # unit codes
        if s < len(psu) and psu[s] is not None:
            raw_unit, _ = _codes(data[psu[s]], f"PSU ({psu[s]!r})" if s == 0
                                 else f"stage-{s + 1} unit ({psu[s]!r})")
        else:
            raw_unit = np.arange(n, dtype=np.int64)  # each row its own unit (ids = ~1)
        if s == 0 and not nest and s < len(strata) and strata[s] is not None and s < len(psu):
            _check_psu_in_one_stratum(data, psu, strata, raw_unit, stratum)
        unit = combine_codes(stratum, raw_unit) if (nest or s > 0) else combine_codes(raw_unit)
        # unit -> stratum, strata sizes
        n_units_total = int(unit.max()) + 1
        unit_stratum = np.zeros(n_units_total, dtype=np.int64)
        unit_stratum[unit] = stratum
        n_strata = int(stratum.max()) + 1
        n_units = np.bincount(unit_stratum, minlength=n_strata).astype(float)
        parent_of_stratum = np.zeros(n_strata, dtype=np.int64)
        parent_of_stratum[stratum] = parent
        # each stratum's label: that of its raw code (integer scatter, no per-row objects)
        raw_of_stratum = np.zeros(n_strata, dtype=np.int64)
        raw_of_stratum[stratum] = raw_stratum
        labels_of_stratum = np.empty(n_strata, dtype=object)
        labels_of_stratum[:] = raw_labels[raw_of_stratum]
        # population sizes
        pop = np.full(n_strata, np.inf)
        inclusion = None
        if s < len(fpc) and fpc[s] is not None:
            f = _fpc_values(data, fpc[s])
            if pps is not None and s == 0:
                inclusion = _pps_inclusion(f, fpc[s], pps, unit, n_units_total)
            else:
                pop = _stratum_population(f, fpc[s], stratum, n_strata, n_units,
                                          labels_of_stratum, one_means)
        stages.append(
            Stage(
                unit=unit,
                stratum=stratum,
                unit_stratum=unit_stratum,
                n_units=n_units,
                pop_units=pop,
                parent_of_stratum=parent_of_stratum,
                stratum_labels=labels_of_stratum,
                inclusion_prob=inclusion,
            )
        )
        parent = unit
    return stages




# --------------------------------------------------------------------- steps of build_stages()
def _stage_strata(data: pd.DataFrame, strata: list[str], s: int):
    """Raw stratum codes of stage ``s`` (0.., in sorted order of the values) and the label of
    each code."""
    n = len(data)
    if s < len(strata) and strata[s] is not None:
        return _codes(data[strata[s]], f"stratum ({strata[s]!r})")
    return np.zeros(n, dtype=np.int64), np.array(["(all)"], dtype=object)


def _check_psu_in_one_stratum(data, psu, strata, raw_unit, stratum) -> None:
    """Without nest=True a PSU code may not appear in two strata (NestingError)."""
    # a PSU code may not appear in two strata unless nest=True
    # distinct (PSU code, stratum) pairs by hashing; a code with two pairs is split
    # each PSU code gets the stratum of one of its rows; a row in another stratum splits it
    # (two integer passes, no hashing)
    of_unit = np.zeros(int(raw_unit.max()) + 1, dtype=np.int64)
    of_unit[raw_unit] = stratum
    elsewhere = of_unit[raw_unit] != stratum
    split = np.unique(raw_unit[elsewhere]) if elsewhere.any() else np.empty(0, dtype=np.int64)
    if len(split):
        bad_units = split[:5]
        examples = pd.unique(np.asarray(data[psu[0]])[np.isin(raw_unit, bad_units)])[:5]
        raise NestingError(
            f"PSU codes of {psu[0]!r} appear in more than one stratum of {strata[0]!r} "
            f"(e.g. {show_list(examples)}). If PSU codes are only unique within "
            "strata (PSU 1, 2 in every stratum), pass nest=True."
        )


def _fpc_values(data: pd.DataFrame, col: str) -> np.ndarray:
    """The fpc column as floats: no missing, all positive (FPCError)."""
    f = numeric_column(data, col, "fpc", FPCError)
    if np.isnan(f).any():
        raise FPCError(f"fpc column {col!r} has {int(np.isnan(f).sum())} missing "
                       f"value(s).")
    if (f <= 0).any():
        raise FPCError(f"fpc column {col!r} has non-positive values; give population "
                       "sizes (> 1) or sampling fractions in (0, 1].")
    return f


def _pps_inclusion(f, col, pps, unit, n_units_total) -> np.ndarray:
    """PPS without replacement: each PSU's inclusion probability from the fpc column."""
    # PPS without replacement: fpc holds each PSU's inclusion probability
    if (f > 1).any():
        raise ProbabilityError(
            f"with pps={pps!r}, fpc {col!r} must hold inclusion probabilities in "
            f"(0, 1]."
        )
    inclusion = np.zeros(n_units_total)
    inclusion[unit] = f
    per_unit = pd.Series(f).groupby(unit).nunique()
    if (per_unit > 1).any():
        raise FPCError(f"inclusion probabilities in {col!r} vary within a PSU.")
    return inclusion


def _stratum_population(f, col, stratum, n_strata, n_units, labels_of_stratum,
                        one_means: str = "ambiguous") -> np.ndarray:
    """Population size of every stratum from an fpc of sizes or sampling fractions.

    ``one_means``: how a stage whose fpc is 1 in every stratum is read, from the fpcs of all
    stages (R's ``as.fpc``): ``"ambiguous"`` (1 at every stage: refused), ``"fraction"`` (the
    other stages give fractions) or ``"size"`` (another stage gives population sizes)."""
    per_stratum = pd.Series(f).groupby(stratum).agg(["min", "max"])
    if (per_stratum["min"] != per_stratum["max"]).any():
        h = int(per_stratum.index[
            (per_stratum["min"] != per_stratum["max"]).to_numpy()][0])
        raise FPCError(
            f"fpc {col!r} is not constant within stratum {show(labels_of_stratum[h])}; "
            "it must be the stratum's population size (or sampling fraction)."
        )
    fh = per_stratum["min"].reindex(range(n_strata)).to_numpy()
    if (fh == 1).all() and (n_units > 1).any() and one_means == "ambiguous":
        # R's svydesign stops here too ("Must have all fpc>=1 or all fpc<=1"): 1
        # everywhere (every stage) is either a census (fraction 1, SE 0) or a column of ones
        # meant as "no fpc"
        raise FPCError(
            f"fpc {col!r} is 1 in every stratum, which is ambiguous: a sampling "
            "fraction of 1 (a census: every standard error 0) or a population of 1 "
            "unit. To sample with replacement leave fpc= out; for a census give the "
            "population sizes (the number of units in each stratum)."
        )
    if (fh == 1).all() and one_means == "size":
        pop = fh                      # populations of 1 unit (R: ">100% sampling" below)
    elif (fh <= 1).all():
        pop = n_units / fh            # sampling fractions -> population sizes
    elif (fh > 1).all() or (fh >= 1).all():
        pop = fh
    else:
        raise FPCError(
            f"fpc {col!r} mixes fractions (<= 1) and population sizes (> 1); use "
            f"one."
        )
    small = pop < n_units - 1e-8
    if small.any():
        h = int(np.flatnonzero(small)[0])
        raise FPCError(
            f"fpc {col!r} says stratum {show(labels_of_stratum[h])} has {pop[h]:g} "
            f"units in the population but {int(n_units[h])} were sampled. The fpc must "
            "be the population size (number of units in the stratum), not smaller than "
            "the sample." + (" Here 1 is read as a population size, as R does, because "
                             "another stage's fpc gives population sizes; for a census of "
                             "this stage give its population sizes." if one_means == "size"
                             and (fh == 1).all() else "")
        )
    return pop


def weights_from_fpc(stages: list[Stage]) -> np.ndarray | None:
    """Weights implied by the fpcs, as R does: the product over stages of ``N_h / n_h``, or of
    ``1 / pi_i`` at a PPS stage whose fpc holds inclusion probabilities.

    ``None`` when some stage has no fpc (sampling with replacement).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"psu": [1, 2, 3], "N": [30, 30, 30]})
    >>> weights_from_fpc(build_stages(df, ["psu"], [], ["N"], nest=False))
    array([10., 10., 10.])

    In R: ``svydesign(ids = ~psu, fpc = ~N, data = df)`` without ``weights=``.
    """
    if all(st.inclusion_prob is None for st in stages):
        # R's arithmetic: prob = prod_s 1 / (N_s / n_s), weights 1 / prob (the same doubles
        # as R, so that exact ties of the weighted CDF are decided as in R)
        if not all(np.isfinite(st.pop_units).all() for st in stages):
            return None
        prob = np.ones(len(stages[0].unit))
        for st in stages:
            prob = prob * (1.0 / (st.pop_units / st.n_units))[st.stratum]
        return 1.0 / prob
    w = np.ones(len(stages[0].unit))
    for st in stages:
        if st.inclusion_prob is not None:
            w = w / st.inclusion_prob[st.unit]
        elif np.isfinite(st.pop_units).all():
            w = w * (st.pop_units / st.n_units)[st.stratum]
        else:
            return None
    return w
