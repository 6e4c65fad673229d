"""Declarative codebooks: read ``codebooks/<survey>.toml`` and apply its concept rules.

A codebook maps source variables onto the harmonised schema (``schema.toml``). Each
``[concepts.<column>]`` table has a ``rule`` and the fields that rule needs; ``{s}`` in a source
name is replaced by the wave's suffix (wide panels such as ``health_{s}`` -> ``health_2``).

Rules (examples: "Adding a loader" in the repository's CONTRIBUTING.md):

``map``          ``map = {"1" = "excellent", ...}``; several ``sources`` are first combined
                 with ``combine = "min"`` or ``"max"`` (on the codes). A row with an unanswered
                 source gets a value only when its answered codes already hold the extreme
                 code of ``map`` (the smallest for ``min``, the largest for ``max``), which
                 no other answer could change; otherwise it is missing. Codes absent from
                 ``map`` become missing and are counted in provenance ``unmapped_codes``.
                 ``map = "name"`` or ``"<codebook>:name"`` uses the table ``[maps.name]`` of this
                 or another codebook (one rule, written once, shared by several codebooks).
                 ``combine = "first"`` with ``maps = {source = {...} or "name", ...}``: each
                 source has its own map and a row takes the first source (in ``sources``
                 order) that has a mapped value (items asked in different years); sources
                 absent from the file are skipped.
``in``           boolean: True if the code is in ``true``; False if in ``false`` (or, without
                 ``false``, any other valid code); missing stays missing. ``missing_if =
                 {var = [codes]}`` also sets rows to missing where another source has one of
                 those codes (a multiple-choice list's "refusal"/"no answer" box).
``numeric``      the value as a number; ``valid = [lo, hi]`` sets values outside to missing
                 (counted in ``unmapped_codes``).
``label``        the file's value label of the code (the code itself when unlabelled), as a
                 string (e.g. ESS ``region`` "UKI" -> "London").
``product``      product of the sources (e.g. ESS ``pspwght * pweight``).
``bmi``          ``sources = [height_cm, weight_kg]`` -> kg / m^2; ``scale = [to_cm, to_kg]``
                 converts other units first (inches and pounds: ``[2.54, 0.45359237]``).
``custom``       ``function = "name"`` looked up in the survey module's ``CUSTOM_RULES``.
``not_measured`` an all-missing column with the codebook note saying why.

Common keys: ``sources``, ``labels`` (source labels, else taken from the file), ``notes``,
``waves`` (the waves where the rule applies; elsewhere the concept is not measured, with
``notes_other_waves``), ``optional`` (the source may be absent from a file; then not measured),
``otherwise = "<derived column>"`` (rows the rule leaves missing take the derived column, e.g.
the headline ``lonely`` from ``lonely_ucla3`` where no direct question was asked).

Derived columns (computed here for every survey when their inputs were measured and the codebook
does not define them): ``age_group`` from ``age``; ``poor_health`` = fair or poor;
``ucla3_score`` = sum of the three UCLA items (all three needed) and ``lonely_ucla3`` = score >= 6
(the common 6-9 convention; Hughes et al. 2004 publish no cut-off); ``obese`` = bmi >= 30.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Callable

import numpy as np
import pandas as pd

from socialhealth.errors import DatasetError
from socialhealth.measures.harmonised import (UCLA3_ITEM_COLUMNS, UCLA3_LONELY_CUTOFF,
                                              ucla3_columns, ucla3_lonely)
from socialhealth.datasets._schema import (age_band_bounds, age_group_levels, boolean,
                                           concept_columns, schema, tomllib, typed)

RULES = ("map", "in", "numeric", "label", "product", "bmi", "custom", "not_measured")
CODEBOOK_COLUMNS = ["concept", "source_variables", "rule", "labels", "notes", "measured"]
POPULATION_KEYS = ("min_age", "description")


@lru_cache(maxsize=None)
def _read(name: str) -> tuple[dict, str]:
    res = resources.files("socialhealth.datasets").joinpath("codebooks").joinpath(f"{name}.toml")
    if not res.is_file():
        raise DatasetError(f"no codebook file codebooks/{name}.toml in socialhealth.datasets")
    text = res.read_text("utf-8")
    return tomllib.loads(text), hashlib.sha256(text.encode()).hexdigest()[:16]


def load_codebook(name: str) -> dict:
    """The parsed codebook TOML ``codebooks/<name>.toml`` (validated).

    Examples
    --------
    >>> from socialhealth.datasets._codebook import load_codebook
    >>> load_codebook("ess")["concepts"]["lonely"]["rule"]
    'in'
    """
    cb, _ = _read(name)
    cb = _resolve_maps(cb, name)
    validate(cb, name)
    return cb


def _map_refs(cb: dict) -> list[str]:
    """Named map references (``map = "name"`` / ``"<codebook>:name"``) used by a codebook."""
    refs = []
    for spec in cb.get("concepts", {}).values():
        if isinstance(spec.get("map"), str):
            refs.append(spec["map"])
        refs.extend(v for v in spec.get("maps", {}).values() if isinstance(v, str))
    return refs


def _lookup_map(ref: str, name: str) -> dict:
    book, _, key = ref.rpartition(":")
    book = book or name
    maps = _read(book)[0].get("maps", {})
    if key not in maps:
        raise DatasetError(f"codebooks/{name}.toml refers to map {ref!r}, but "
                           f"codebooks/{book}.toml has no [maps.{key}] (it has {sorted(maps)})")
    return dict(maps[key])


def _resolve_maps(cb: dict, name: str) -> dict:
    """A copy of the codebook with named map references replaced by the maps they name."""
    if not _map_refs(cb):
        return cb
    out = dict(cb)
    out["concepts"] = {}
    for concept, spec in cb.get("concepts", {}).items():
        spec = dict(spec)
        if isinstance(spec.get("map"), str):
            spec["map_ref"] = spec["map"]
            spec["map"] = _lookup_map(spec["map"], name)
        if "maps" in spec:
            spec["maps"] = {k: (_lookup_map(v, name) if isinstance(v, str) else dict(v))
                            for k, v in spec["maps"].items()}
        out["concepts"][concept] = spec
    return out


def codebook_hash(name: str) -> str:
    """Short sha256 of the codebook file's text (part of the cache key and the provenance).

    The first 16 hex digits of the SHA-256 of ``codebooks/<name>.toml``.

    Examples
    --------
    >>> from socialhealth.datasets._codebook import codebook_hash
    >>> len(codebook_hash("gss"))
    16
    """
    own = _read(name)[1]
    others = sorted({r.rpartition(":")[0] for r in _map_refs(_read(name)[0])} - {"", name})
    if not others:
        return own
    text = own + "".join(_read(o)[1] for o in others)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def validate(cb: dict, name: str) -> None:
    """Check a codebook against the schema; raise DatasetError naming the problem."""
    sch = schema()
    ages = _declared_min_ages(cb, name)
    for concept, spec in cb.get("concepts", {}).items():
        where = f"codebooks/{name}.toml [concepts.{concept}]"
        if concept not in sch:
            raise DatasetError(f"{where}: {concept!r} is not a harmonised schema column")
        rule = spec.get("rule")
        if rule not in RULES:
            raise DatasetError(f"{where}: unknown rule {rule!r}; expected one of {RULES}")
        if rule == "map":
            levels = spec.get("levels") or sch[concept].get("levels") or []
            if concept == "age_group":   # any band of any minimum age the codebook declares
                levels = sorted({lv for a in ages for lv in age_group_levels(a)})
            kind = sch[concept]["kind"]
            tables = [spec.get("map", {}), *spec.get("maps", {}).values()]
            for _k, v in [kv for t in tables for kv in t.items()]:
                if kind in ("category", "ordered") and v not in levels:
                    raise DatasetError(f"{where}: map value {v!r} is not a level of {concept} "
                                       f"({levels})")
            if "maps" in spec and spec.get("combine") != "first":
                raise DatasetError(f"{where}: per-source maps need combine = \"first\"")
            if "maps" in spec and set(spec["maps"]) != set(spec["sources"]):
                raise DatasetError(f"{where}: maps must have one entry per source "
                                   f"{spec['sources']}")
        if rule not in ("not_measured", "custom") and not spec.get("sources"):
            raise DatasetError(f"{where}: rule {rule!r} needs sources = [...]")
        stray = [v for v in spec.get("missing_if", {}) if v not in spec.get("sources", [])]
        if stray:
            raise DatasetError(f"{where}: missing_if names {stray}, which must also be listed "
                               "in sources (so that the loader reads them)")


def _declared_min_ages(cb: dict, name: str) -> list[int]:
    """Every ``min_age`` of the codebook's ``[population]`` table (and its per-wave overrides);
    DatasetError when the table is missing or incomplete."""
    pop = cb.get("population")
    where = f"codebooks/{name}.toml [population]"
    if not isinstance(pop, dict):
        raise DatasetError(f"{where} is missing: every codebook declares the population its "
                           "sample represents (min_age = <years>, description = '...').")
    out = []
    for key, spec in [("", pop), *((f".waves.{w}", s) for w, s in pop.get("waves", {}).items())]:
        for k in POPULATION_KEYS:
            if key == "" and k not in spec:
                raise DatasetError(f"{where}{key} lacks {k!r}.")
        if "min_age" in spec:
            a = spec["min_age"]
            if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= 120:
                raise DatasetError(f"{where}{key}: min_age must be a whole number of years, "
                                   f"not {a!r}.")
            out.append(a)
    return out


def population(cb: dict, wave=None, country: str = "") -> dict:
    """The population a codebook's survey (wave) represents: ``{"min_age", "description",
    "notes"}`` from ``[population]``, with ``[population.waves.<wave>]`` overriding it for that
    wave. ``{country}`` in the text is replaced by ``country``.

    Parameters
    ----------
    cb : dict
        A parsed codebook (:func:`load_codebook`).
    wave : optional
        The wave (key of ``[population.waves]``); None = the survey as a whole.
    country : str
        Filled into ``{country}`` placeholders (ESS: the country codes of the file).

    Returns
    -------
    dict
        ``min_age`` (int), ``description`` (one noun phrase), ``notes`` (str).

    Examples
    --------
    >>> from socialhealth.datasets._codebook import load_codebook, population
    >>> population(load_codebook("ess"), country="GB")["min_age"]
    15
    """
    pop = dict(cb.get("population") or {})
    if "min_age" not in pop or "description" not in pop:
        raise DatasetError("the codebook has no [population] table with min_age and description.")
    waves = pop.pop("waves", {})
    if wave is not None and str(wave) in {str(w) for w in waves}:
        pop.update({k: v for w, spec in waves.items() if str(w) == str(wave)
                    for k, v in spec.items()})
    where = country or "the country of the file"
    return {"min_age": int(pop["min_age"]),
            "description": str(pop["description"]).replace("{country}", where),
            "notes": str(pop.get("notes", "")).replace("{country}", where)}


def _fmt(names, fmt: dict) -> list[str]:
    return [n.format(**fmt) for n in names]


def sources_needed(cb: dict, fmt: dict, wave, available: set[str]) -> tuple[list[str], list[str]]:
    """(source variables to read, required sources that are absent from the file)."""
    need, absent = [], []
    for spec in cb.get("concepts", {}).values():
        if not _applies(spec, wave) or spec["rule"] == "not_measured":
            continue
        for s in _fmt(spec.get("sources", []), fmt):
            if s in available:
                need.append(s)
            elif not spec.get("optional", False):
                absent.append(s)
    return list(dict.fromkeys(need)), list(dict.fromkeys(absent))


def _applies(spec: dict, wave) -> bool:
    waves = spec.get("waves")
    return waves is None or wave is None or str(wave) in [str(w) for w in waves]


def _labels_text(labels: dict | None) -> str:
    if not labels:
        return ""
    items = [(k, v) for k, v in labels.items() if not (isinstance(k, str) and k.startswith("."))]
    return "; ".join(f"{k} {v}" for k, v in items)


def _code_key(v) -> str:
    if isinstance(v, (float, np.floating, int, np.integer)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def absent_text(names: list[str]) -> str:
    """The note of a concept whose source variables the file lacks.

    >>> absent_text(["smoke"])
    'Its source variable smoke is not in this file.'
    >>> absent_text(["a", "b", "c"])
    'Its source variables a, b and c are not in this file.'
    """
    if len(names) == 1:
        return f"Its source variable {names[0]} is not in this file."
    return (f"Its source variables {', '.join(names[:-1])} and {names[-1]} are not in this "
            "file.")


def codes_text(codes) -> str:
    """Codes in words for a codebook rule: ``["3", "4"]`` -> ``"3 or 4"``; numbers in numeric
    order, a run of four or more consecutive integers as ``"1-6"``.

    >>> codes_text(["3", "4"]), codes_text([1, 2, 3, 4, 5, 6]), codes_text(["-9", "10", "9"])
    ('3 or 4', '1-6', '-9, 9 or 10')
    """
    def key(c: str):
        try:
            return (0, float(c), c)
        except ValueError:
            return (1, 0.0, c)

    items = sorted({_code_key(c) for c in codes}, key=key)
    words: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while (j + 1 < len(items) and key(items[j + 1])[0] == 0 and key(items[j])[0] == 0
               and float(items[j]).is_integer()
               and float(items[j + 1]) == float(items[j]) + 1):
            j += 1
        if j - i >= 3:
            words.append(f"{items[i]}-{items[j]}")
        else:
            words.extend(items[i:j + 1])
        i = j + 1
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def harmonise(df: pd.DataFrame, cb: dict, fmt: dict, wave, value_labels: dict,
              custom: dict[str, Callable] | None = None, context: dict | None = None,
              min_age: int | None = None):
    """Apply the codebook's concept rules to the rows of ``df`` (source columns).

    ``min_age`` is the population's minimum age (default: the codebook's ``[population]`` for
    ``wave``): the youngest ``age_group`` band starts there (:func:`age_group_levels`).

    Returns ``(frame, codebook_rows, unmapped)``: the harmonised concept columns (every schema
    concept, all-missing where not measured), one codebook row per concept, and
    ``{concept: {code: n}}`` for valid codes the rules could not place.
    """
    n = len(df)
    cols: dict[str, object] = {}
    rows: list[dict] = []
    unmapped: dict[str, dict[str, int]] = {}
    concepts = cb.get("concepts", {})
    if min_age is None:
        min_age = population(cb, wave)["min_age"]
    age_levels = age_group_levels(min_age)
    for concept in concept_columns():
        spec = concepts.get(concept)
        if spec is None:
            continue
        srcs = _fmt(spec.get("sources", []), fmt)
        labels = spec.get("labels") or " | ".join(
            filter(None, (_labels_text(value_labels.get(s)) for s in srcs)))
        if not _applies(spec, wave):
            rows.append(_row(concept, srcs, "not measured", labels,
                             spec.get("notes_other_waves", f"not measured in wave {wave}"), False))
            continue
        rule = spec["rule"]
        if rule == "not_measured":
            rows.append(_row(concept, srcs, "not measured", labels, spec.get("notes", ""), False))
            continue
        first = rule == "map" and spec.get("combine") == "first"
        per_src = None
        if first and any(s in df.columns for s in srcs):
            per_src = {f: spec["maps"][k] for f, k in zip(srcs, spec["sources"], strict=True)}
            srcs = [s for s in srcs if s in df.columns]
        if rule != "custom" and any(s not in df.columns for s in srcs):
            rows.append(_row(concept, srcs, "not measured", labels,
                             absent_text([s for s in srcs if s not in df.columns]) + " "
                             + spec.get("notes", ""), False))
            continue
        levels = spec.get("levels") or (age_levels if concept == "age_group" else None)
        handler = _RULE_HANDLERS.get(rule, _rule_custom)       # any other rule: custom
        out, text, bad = handler(_RuleInput(
            concept=concept, spec=spec, df=df, srcs=srcs, n=n, levels=levels, fmt=fmt,
            value_labels=value_labels, custom=custom, context=context, first=first,
            per_src=per_src))
        if bad:
            unmapped[concept] = dict(bad)
        cols[concept] = out
        if n and pd.isna(pd.Series(out)).all():
            rows.append(_row(concept, srcs, spec.get("rule_text", text), labels,
                             "NOT MEASURED HERE: the source variable(s) are present but missing "
                             "for every row kept (see provenance missing_codes, e.g. Stata .x 'not "
                             "available in this version' / .i 'inapplicable'). "
                             + spec.get("notes", ""), False))
            continue
        rows.append(_row(concept, srcs, spec.get("rule_text", text), labels, spec.get("notes", ""),
                         True))
    frame = pd.DataFrame(cols, index=df.index)
    frame, rows = _derive(frame, rows, n, min_age, unmapped)
    frame, rows = _otherwise(frame, rows, concepts, n, wave)
    # every schema concept exists, all-missing when not measured
    done = {r["concept"] for r in rows}
    for concept in concept_columns():
        if concept not in frame.columns:
            frame[concept] = typed(concept, None, n,
                                   age_levels if concept == "age_group" else None)
        if concept not in done:
            rows.append(_row(concept, [], "not measured", "",
                             "the survey (or this loader's codebook) has no item for this concept",
                             False))
    order = {c: i for i, c in enumerate(concept_columns())}
    rows.sort(key=lambda r: order[r["concept"]])
    return frame[concept_columns()], rows, unmapped


# ----------------------------------------------------------------------------- rule handlers
# One function per codebook ``rule``: each returns ``(column, rule text, unplaced codes)`` for
# one concept; :func:`harmonise` dispatches through ``_RULE_HANDLERS``.
@dataclass
class _RuleInput:
    """What a rule handler needs about one concept and the file."""

    concept: str
    spec: dict
    df: pd.DataFrame
    srcs: list[str]
    n: int
    levels: list | None
    fmt: dict
    value_labels: dict
    custom: dict[str, Callable] | None
    context: dict | None
    first: bool
    per_src: dict | None


def _rule_map(a: _RuleInput):
    concept, spec, df, srcs, n, levels = a.concept, a.spec, a.df, a.srcs, a.n, a.levels
    first, per_src = a.first, a.per_src
    bad: Counter = Counter()
    known_missing = {str(v) for v in spec.get("missing", [])}
    if first:
        # the caller sets per_src whenever a source column is present; with none, srcs is
        # empty and no map is looked up
        maps = per_src if per_src is not None else {}
        vals = pd.Series([None] * n, dtype=object)
        parts = []
        for s_ in srcs:
            m = {str(k): v for k, v in maps[s_].items()}
            keys, valid = _keys(_combine(df, [s_], None))
            got = keys.map(m)
            bad.update(k for k in keys[valid & got.isna().to_numpy()]
                       if k not in known_missing)
            vals = vals.where(vals.notna(), got)
            parts.append(f"{s_}: " + ", ".join(f"{k}→{v}" for k, v in m.items()))
        text = "first answered of " + "; ".join(parts)
    else:
        m = {str(k): v for k, v in spec["map"].items()}
        x = _combine(df, srcs, spec.get("combine"), m)
        keys, valid = _keys(x)
        vals = keys.map(m)
        bad.update(k for k in keys[valid & vals.isna().to_numpy()]
                   if k not in known_missing)
        text = ", ".join(f"{k}→{v}" for k, v in m.items())
        if len(srcs) > 1:
            how = spec.get("combine", "min")
            text = (f"{how} of ({', '.join(srcs)}; missing when one is unanswered, unless "
                    f"the answered code is already the {'smallest' if how == 'min' else 'largest'}"
                    "), then " + text)
        if spec.get("map_ref"):
            text += f" (shared map {spec['map_ref']})"
    miss_v = vals.isna().to_numpy()
    if schema()[concept]["kind"] == "bool":
        vals = vals.map(lambda v: bool(v))
    out = typed(concept, [None if u else v for u,
                          v in zip(miss_v, vals.tolist(), strict=True)], n,
                levels)
    if known_missing:
        text += f"; {codes_text(known_missing)} → missing"
    return out, text, bad


def _rule_in(a: _RuleInput):
    spec, df, srcs, fmt = a.spec, a.df, a.srcs, a.fmt
    bad: Counter = Counter()
    tr = {str(v) for v in spec["true"]}
    fa = {str(v) for v in spec.get("false", [])}
    known_missing = {str(v) for v in spec.get("missing", [])}
    keys, valid = _keys(df[srcs[0]])
    is_t = keys.isin(tr).to_numpy()
    is_f = (keys.isin(fa).to_numpy() if fa else valid
            & ~is_t) & ~keys.isin(known_missing).to_numpy()
    other = valid & ~is_t & ~is_f & ~keys.isin(known_missing).to_numpy()
    bad.update(keys[other])
    answered = is_t | is_f
    cond = spec.get("missing_if", {})
    for var, codes in cond.items():
        ck, _ = _keys(df[var.format(**fmt)])
        answered &= ~ck.isin({str(c) for c in codes}).to_numpy()
    out = boolean(is_t, answered)
    text = f"yes if {srcs[0]} is {codes_text(tr)}; no if " + (
        f"{codes_text(fa)}" if fa else "any other valid code")
    if known_missing:
        text += f"; {codes_text(known_missing)} → missing"
    if cond:
        text += "; missing when " + " or ".join(
            f"{var} is {codes_text(codes)}" for var, codes in cond.items())
    return out, text, bad


def _rule_numeric(a: _RuleInput):
    concept, spec, df, srcs, n = a.concept, a.spec, a.df, a.srcs, a.n
    bad: Counter = Counter()
    x = pd.to_numeric(df[srcs[0]], errors="coerce").to_numpy(dtype=float)
    text = f"{srcs[0]} as a number"
    if "valid" in spec:
        lo, hi = spec["valid"]
        outside = ~np.isnan(x) & ((x < lo) | (x > hi))
        bad.update(_code_key(v) for v in x[outside])
        x = np.where(outside, np.nan, x)
        text += f" (valid {lo}-{hi}; others missing)"
    out = typed(concept, x, n)
    return out, text, bad


def _rule_label(a: _RuleInput):
    concept, df, srcs, n = a.concept, a.df, a.srcs, a.n
    labs = a.value_labels.get(srcs[0], {})
    x = df[srcs[0]]
    vals = [None if pd.isna(v) else str(labs.get(v, labs.get(_num(v), _code_key(v))))
            for v in x]
    out = typed(concept, vals, n)
    text = f"value label of {srcs[0]}"
    return out, text, Counter()


def _rule_product(a: _RuleInput):
    concept, df, srcs, n = a.concept, a.df, a.srcs, a.n
    x = np.ones(n)
    for s in srcs:
        x = x * pd.to_numeric(df[s], errors="coerce").to_numpy(dtype=float)
    out = typed(concept, x, n)
    text = " × ".join(srcs)
    return out, text, Counter()


def _rule_bmi(a: _RuleInput):
    concept, spec, df, srcs, n = a.concept, a.spec, a.df, a.srcs, a.n
    to_cm, to_kg = spec.get("scale", [1.0, 1.0])
    h = pd.to_numeric(df[srcs[0]], errors="coerce").to_numpy(dtype=float) * to_cm / 100.0
    w = pd.to_numeric(df[srcs[1]], errors="coerce").to_numpy(dtype=float) * to_kg
    out = typed(concept, w / (h * h), n)
    text = (f"{srcs[1]} / ({srcs[0]}/100)^2" if [to_cm, to_kg] == [1.0, 1.0] else
            f"({srcs[1]} × {to_kg}) / ({srcs[0]} × {to_cm}/100)^2")
    return out, text, Counter()


def _rule_custom(a: _RuleInput):
    concept, spec, df, n, levels = a.concept, a.spec, a.df, a.n, a.levels
    fn = (a.custom or {}).get(spec.get("function", ""))
    if fn is None:
        raise DatasetError(f"codebook concept {concept}: custom function "
                           f"{spec.get('function')!r} is not defined by the loader")
    vals, text = fn(df, spec, a.fmt, a.context or {})
    out = typed(concept, vals, n, levels)
    return out, text, Counter()


_RULE_HANDLERS: dict[str, Callable[[_RuleInput], tuple]] = {
    "map": _rule_map, "in": _rule_in, "numeric": _rule_numeric, "label": _rule_label,
    "product": _rule_product, "bmi": _rule_bmi, "custom": _rule_custom,
}


def _keys(x) -> tuple[pd.Series, np.ndarray]:
    """Codes as strings ("1", "33", "UKI"), None where missing; and the non-missing mask."""
    s = pd.Series(np.asarray(x) if not isinstance(x, pd.Series) else x.to_numpy(), dtype=object) \
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f") else pd.Series(x)
    if s.dtype.kind == "f" or pd.api.types.is_numeric_dtype(s):
        f = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        valid = ~np.isnan(f)
        out = np.full(len(f), None, dtype=object)
        ints = valid & (f == np.round(f))
        out[ints] = f[ints].astype(np.int64).astype(str)
        rest = valid & ~ints
        out[rest] = f[rest].astype(str)
        return pd.Series(out, dtype=object), valid
    conv = pd.to_numeric(s, errors="coerce")
    if conv.notna().sum() == s.notna().sum() and s.notna().any() and not s.map(
            lambda v: isinstance(v, str)).any():
        return _keys(conv.to_numpy(dtype=float))
    valid = s.map(lambda v: not (v is None or v is pd.NA or (isinstance(v, float) and v != v))
                  ).to_numpy(dtype=bool)
    codes = np.where(valid, s.map(lambda v: _code_key(v) if not (v is None or v is pd.NA or (
        isinstance(v, float) and v != v)) else "").to_numpy(dtype=object), None)
    return pd.Series(codes, dtype=object), valid


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


def _combine(df: pd.DataFrame, srcs: list[str], how: str | None,
             mapping: dict | None = None) -> np.ndarray:
    """The sources' codes combined row by row: ``min`` (default) or ``max`` of the codes.

    With an unanswered source the combined code is unknown (the missing answer could be
    smaller / larger) unless the answered codes already hold the extreme code of ``mapping``
    (e.g. GSS socrel 1 "almost daily" with socfrend unanswered: the more frequent of the two
    is almost daily whatever socfrend is); otherwise the row is missing.
    """
    if len(srcs) == 1:
        s = df[srcs[0]]
        return s.to_numpy(dtype=object) if not pd.api.types.is_numeric_dtype(s) else s.to_numpy()
    arr = np.column_stack([pd.to_numeric(df[s], errors="coerce").to_numpy(dtype=float)
                           for s in srcs])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmax(arr, axis=1) if how == "max" else np.nanmin(arr, axis=1)
    codes = [f for f in (_num(k) for k in (mapping or {})) if isinstance(f, (int, float))]
    partial = np.isnan(arr).any(axis=1)
    extreme = (max(codes) if how == "max" else min(codes)) if codes else np.nan
    return np.where(partial & (out != extreme), np.nan, out)


def _row(concept, srcs, rule, labels, notes, measured) -> dict:
    return {"concept": concept, "source_variables": ", ".join(srcs), "rule": rule,
            "labels": labels, "notes": notes, "measured": bool(measured)}


def _measured(rows, concept) -> bool:
    return any(r["concept"] == concept and r["measured"] for r in rows)


def age_groups(age, min_age: int) -> tuple[pd.Categorical, int]:
    """``age`` (years) cut into the bands of :func:`age_group_levels` (``min_age``).

    Parameters
    ----------
    age : array-like of float
        Ages in years (NaN = missing).
    min_age : int
        The population's minimum age: the youngest band is ``"<min_age>-24"``.

    Returns
    -------
    tuple
        The ordered categorical, and the number of ages below ``min_age`` (left missing: they
        are outside the declared population, so no band label would be true for them).

    Examples
    --------
    >>> from socialhealth.datasets._codebook import age_groups
    >>> cat, below = age_groups([15, 24, 25, 80, float("nan")], 15)
    >>> list(cat), below
    (['15-24', '15-24', '25-34', '75+', nan], 0)
    """
    age = np.asarray(age, dtype=float)
    labels = age_group_levels(min_age)
    lows = np.array([age_band_bounds(lv)[0] for lv in labels])
    ok = ~np.isnan(age) & (age >= min_age)
    idx = np.searchsorted(lows, np.where(ok, age, min_age), side="right") - 1
    # numpy's stubs do not take None as a fill value; at run time it gives an object array
    vals = np.where(ok, np.asarray(labels, dtype=object)[idx], None)  # type: ignore[call-overload]
    below = int((~np.isnan(age) & (age < min_age)).sum())
    return pd.Categorical(vals, categories=labels, ordered=True), below


def _derive(frame: pd.DataFrame, rows: list[dict], n: int, min_age: int, unmapped: dict):
    have = {r["concept"] for r in rows}
    if "age_group" not in have and _measured(rows, "age"):
        frame["age_group"], below = age_groups(frame["age"].to_numpy(dtype=float), min_age)
        labels = age_group_levels(min_age)
        note = (f"derived; the youngest band starts at {min_age}, the minimum age of the "
                f"survey's population (codebook [population]); the bands from 25-34 up are "
                f"common to every survey.")
        if below:
            unmapped["age_group"] = {f"age below {min_age}": below}
            note += (f" {below} respondent(s) younger than {min_age} have no band (missing): "
                     f"they are outside the declared population.")
        rows.append(_row("age_group", ["age"], f"age cut into {', '.join(labels)}", "", note,
                         True))
    if "poor_health" not in have and _measured(rows, "self_rated_health"):
        srh = frame["self_rated_health"]
        frame["poor_health"] = boolean(srh.isin(["fair", "poor"]).to_numpy(),
                                       srh.notna().to_numpy())
        rows.append(_row("poor_health", ["self_rated_health"], "yes if fair or poor", "",
                         "derived from self_rated_health", True))
    # the UCLA-3 rule (sum of the three 1-3 items, all needed; lonely at 6 or more) is the
    # instrument's, in socialhealth.measures.harmonised
    items = list(UCLA3_ITEM_COLUMNS)
    if "ucla3_score" not in have and all(_measured(rows, c) for c in items):
        score = ucla3_columns(frame[items])["ucla3_score"].to_numpy(dtype=float)
        frame["ucla3_score"] = typed("ucla3_score", score, n)
        rows.append(_row("ucla3_score", items, "sum of the three items (3-9); missing if any "
                         "item is missing", "", "derived", True))
    if ("lonely_ucla3" not in have
        and ("ucla3_score" in frame.columns) and _measured(rows, "ucla3_score")):
        sc = frame["ucla3_score"].to_numpy(dtype=float, na_value=np.nan)
        lonely = ucla3_lonely(sc).to_numpy(dtype=bool, na_value=False)
        frame["lonely_ucla3"] = boolean(lonely, ~np.isnan(sc))
        rows.append(_row("lonely_ucla3", ["ucla3_score"],
                         f"yes if ucla3_score >= {UCLA3_LONELY_CUTOFF}", "",
                         "derived; 6-9 is a common convention, not a published cut-off "
                         "(Hughes et al. 2004 give none)", True))
    if "obese" not in have and _measured(rows, "bmi"):
        b = frame["bmi"].to_numpy(dtype=float)
        frame["obese"] = boolean(b >= 30, ~np.isnan(b))
        rows.append(_row("obese", ["bmi"], "yes if bmi >= 30", "", "derived (WHO cut-off)", True))
    # derived concepts that could not be derived say which of their inputs the file lacks
    have = {r["concept"] for r in rows}
    for concept, inputs in _DERIVED_FROM.items():
        if concept in have:
            continue
        lacking = [c for c in inputs if not _measured(rows, c)]
        if lacking:
            rows.append(_row(concept, [], "not measured", "",
                             f"derived from {', '.join(inputs)}; not computed because "
                             f"{', '.join(lacking)} {'is' if len(lacking) == 1 else 'are'} not "
                             "measured in this file (see those concepts' notes)", False))
    return frame, rows


# derived concept -> the concepts it is computed from (in ``_derive``)
_DERIVED_FROM = {
    "age_group": ["age"],
    "poor_health": ["self_rated_health"],
    "ucla3_score": ["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"],
    "lonely_ucla3": ["ucla3_score"],
    "obese": ["bmi"],
}


def _otherwise(frame: pd.DataFrame, rows: list[dict], concepts: dict, n: int, wave):
    """``otherwise = "<derived column>"``: rows the concept's own rule leaves missing (or all
    rows, when its sources are absent) take the derived column's value."""
    for concept, spec in concepts.items():
        alt = spec.get("otherwise")
        if not alt or not _applies(spec, wave) or not _measured(rows, alt):
            continue
        i = next(k for k, r in enumerate(rows) if r["concept"] == concept)
        own = frame[concept] if concept in frame.columns else pd.Series([pd.NA] * n,
                                                                        index=frame.index)
        fill = own.isna().to_numpy() & frame[alt].notna().to_numpy()
        if not fill.any():
            continue
        vals = own.astype(object).where(~fill, frame[alt].astype(object))
        frame[concept] = typed(concept, [None if pd.isna(v) else v for v in vals], n)
        r = rows[i]
        took = int(fill.sum())
        base = r["rule"] if r["measured"] else "no direct item in this file"
        rows[i] = _row(concept, [s for s in [r["source_variables"], alt] if s],
                       f"{base}; otherwise {alt} ({took} rows)", r["labels"],
                       spec.get("notes", ""), True)
    return frame, rows


def codebook_frame(rows: list[dict]) -> pd.DataFrame:
    """Codebook rows as the DataFrame ``SurveyData.codebook`` (columns CODEBOOK_COLUMNS)."""
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)
