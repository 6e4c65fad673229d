"""Instrument definitions: frozen dataclasses loaded from the TOML files in ``instruments/``.

An instrument is data, not code: its items, canonical response codes, reverse keys, optional
dichotomisation, scales (total and subscales) with their missing-item rules and cut-offs, named
codings (how common raw codings map onto the canonical codes) and its citation. Adding an
instrument means adding one TOML file; :mod:`socialhealth.measures.scoring` scores any of them.
Users can add their own at run time with :func:`register`.

TOML fields (see ``instruments/djg6.toml`` for a full example)::

    key, name, short_name, reference, direction, description   # strings
    uncertain = ["..."]              # unverified points and conventions, shown in the docs
    requires_neutral = true          # optional: neutral= must be passed (De Jong Gierveld)
    neutral_canonical = 2            # the canonical code of the neutral answer
    dichotomise_at = 2               # optional: item scores 1 if (reversed) code >= this
    [codes]                          # default canonical codes of every item
    values = [1, 2, 3]; labels = ["...", "...", "..."]
    [[items]]                        # in questionnaire order
    name = "..."; text = "..."; reverse = false; number = 3; codes = {values=[...], labels=[...]}
    [scales.total]                   # the first scale is the total score; others are subscales
    label = "..."; items = [...]; range = [lo, hi]       # range is checked against the items
    default_missing = "complete"     # complete | prorate | available | none
    min_answered = 5; min_answered_source = "manual ..."  # omit when no rule is published
    default_cutoffs = "manual"       # optional: the set used when none is asked for
    threshold_labels = ["below", "at or above"]           # labels for cutoff=<number>
    no_cutoffs_reason = "..."        # optional: categorise() raises with this text
    [scales.total.cutoffs.manual]
    verified = true; source = "..."; bands = [[0, 1, "not lonely"], [2, 4, "..."]]
    [codings."3-point"]              # raw -> canonical; "NA" as canonical = missing
    description = "..."; map = [[1, 1], [2, 2], [3, 3]]; missing = [7, 9]
    applies_to = ["item", ...]       # optional; neutral = 2 (raw neutral code, DJG)
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from socialhealth._options import is_choice
from socialhealth._text import show_given, show_list
from socialhealth.errors import MeasureError

__all__ = [
    "Band",
    "Coding",
    "CutoffSet",
    "Instrument",
    "Item",
    "Scale",
    "get_instrument",
    "instrument_keys",
    "register",
]

MISSING_RULES = ("complete", "prorate", "available", "none")


@dataclass(frozen=True)
class Item:
    """One item: its name, canonical codes (and labels), whether it is reverse keyed.

    ``codes`` are the canonical response codes *before* reversal; reversal maps a code ``x`` to
    ``min(codes) + max(codes) - x``. ``dichotomise_at`` (if set) turns the reversed code into 1
    when it is at least that value and 0 otherwise.

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> lean_on = get_instrument("djg6").item("lean_on")     # a positively worded DJG item
    >>> lean_on.reverse, lean_on.reverse_code(1.0)
    (True, 3.0)
    """

    name: str
    number: int
    text: str
    codes: tuple[float, ...]
    labels: tuple[str, ...]
    reverse: bool
    dichotomise_at: float | None

    def reverse_code(self, x):
        """Reverse-key a canonical code (or array of codes): ``min(codes) + max(codes) - x``."""
        return min(self.codes) + max(self.codes) - x

    @property
    def scored_range(self) -> tuple[float, float]:
        """Smallest and largest value the item contributes to a scale."""
        if self.dichotomise_at is not None:
            return (0.0, 1.0)
        return (float(min(self.codes)), float(max(self.codes)))


@dataclass(frozen=True)
class Band:
    """A labelled score band ``lower <= score <= upper``.

    Examples
    --------
    >>> Band(0.0, 11.0, "at risk of social isolation").label    # LSNS-6, Lubben et al. 2006
    'at risk of social isolation'
    """

    lower: float
    upper: float
    label: str


@dataclass(frozen=True)
class CutoffSet:
    """A named set of score bands and where it comes from.

    ``verified`` says whether the bands were checked against the cited ``source``.

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> [b.label for b in get_instrument("djg6").total.cutoff_set("manual").bands]
    ['not lonely', 'moderately lonely', 'severely lonely']
    """

    name: str
    bands: tuple[Band, ...]
    verified: bool
    source: str


@dataclass(frozen=True)
class Scale:
    """A total or subscale: which items, how missing items are handled, cut-offs.

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> get_instrument("lsns6").scale("family").items
    ('family_see', 'family_talk', 'family_help')
    """

    name: str
    label: str
    items: tuple[str, ...]
    default_missing: str
    min_answered: int | None
    min_answered_source: str
    cutoffs: tuple[CutoffSet, ...]
    default_cutoffs: str | None
    threshold_labels: tuple[str, str] | None
    no_cutoffs_reason: str | None
    published_range: tuple[float, float] | None

    def cutoff_set(self, name: str) -> CutoffSet:
        """The cut-off set called ``name`` (e.g. ``"manual"``); raises ``MeasureError`` listing
        the sets.

        Examples
        --------
        >>> from socialhealth.measures import get_instrument
        >>> get_instrument("djg6").total.cutoff_set("manual").name
        'manual'
        """
        for c in self.cutoffs:
            if c.name == name:
                return c
        raise MeasureError(
            f"no cut-off set {show_given(name)} for scale {self.name!r}; available: "
            f"{', '.join(repr(c.name) for c in self.cutoffs) or 'none'}."
        )


@dataclass(frozen=True)
class Coding:
    """A named coding: raw code -> canonical code, the raw codes that mean missing.

    ``applies_to`` lists the items it is valid for (empty: all items).

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> get_instrument("ucla3").coding("hrs-often-first").as_dict()    # HRS: 1 = often
    {1: 3.0, 2: 2.0, 3: 1.0}
    """

    name: str
    description: str
    mapping: tuple[tuple[Any, float], ...]
    missing: tuple[Any, ...]
    applies_to: tuple[str, ...]
    neutral: Any = None

    def as_dict(self) -> dict[Any, float]:
        """The mapping raw code -> canonical code as a dict.

        Examples
        --------
        >>> from socialhealth.measures import get_instrument
        >>> get_instrument("ucla3").coding("1-3").as_dict()
        {1: 1.0, 2: 2.0, 3: 3.0}
        """
        return dict(self.mapping)


@dataclass(frozen=True)
class Instrument:
    """A scoring definition loaded from ``instruments/<key>.toml`` (see module docstring).

    ``doc`` renders it as text: items with their canonical codes and reverse keys, codings,
    scales with their missing-item rules and cut-offs, unverified conventions, and the citation.

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> get_instrument("ucla3").item_names
    ('companionship', 'left_out', 'isolated')
    """

    key: str
    name: str
    short_name: str
    reference: str
    direction: str
    description: str
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    codings: tuple[Coding, ...]
    requires_neutral: bool
    neutral_canonical: float | None
    uncertain: tuple[str, ...]

    # ------------------------------------------------------------------ look-ups
    @property
    def item_names(self) -> tuple[str, ...]:
        """Canonical item names in questionnaire order.

        Examples
        --------
        >>> from socialhealth.measures import get_instrument
        >>> get_instrument("ucla3").item_names
        ('companionship', 'left_out', 'isolated')
        """
        return tuple(i.name for i in self.items)

    def item(self, name: str) -> Item:
        """The item definition called ``name``; raises ``MeasureError`` listing the items."""
        for i in self.items:
            if i.name == name:
                return i
        raise MeasureError(f"{self.key} has no item {name!r}; its items are "
                           f"{list(self.item_names)}.")

    @property
    def total(self) -> Scale:
        """The total scale (the first scale of the definition)."""
        return self.scales[0]

    def scale(self, name: str | None) -> Scale:
        """The scale ``name`` (``None``, ``"total"`` or ``"score"``: the total); ``MeasureError``
        if unknown."""
        if name is None or is_choice(name, ("total", "score")):
            return self.total
        for s in self.scales:
            if is_choice(name, (s.name,)):
                return s
        raise MeasureError(
            f"{self.key} has no scale {show_given(name)}; its scales are "
            f"{show_list([s.name for s in self.scales])}."
        )

    def coding(self, name: str) -> Coding:
        """The named response coding (e.g. ``"1-3"``); ``CodingError`` listing the known codings."""
        for c in self.codings:
            if c.name == name:
                return c
        from socialhealth.errors import CodingError

        raise CodingError(
            f"unknown coding {name!r} for {self.key}; known codings: "
            f"{', '.join(repr(c.name) for c in self.codings)}, or pass an explicit dict "
            "{raw_code: canonical_code} (canonical codes: "
            f"{_codes_text(self.items[0])})."
        )

    def scale_range(self, scale: Scale) -> tuple[float, float]:
        """Range of the scale's score computed from its items' scored ranges."""
        lo = sum(self.item(n).scored_range[0] for n in scale.items)
        hi = sum(self.item(n).scored_range[1] for n in scale.items)
        return (lo, hi)

    # ------------------------------------------------------------------ documentation
    @property
    def doc(self) -> str:
        """Numpy-style text: items, codes, reverse keys, codings, scales, cut-offs, citation."""
        lines = [f"{self.key}: {self.name}", "-" * (len(self.key) + len(self.name) + 2)]
        if self.description:
            lines += [self.description.strip(), ""]
        lines.append(f"Direction: {self.direction}")
        lines.append("")
        lines.append("Items (number, name, canonical codes):")
        for it in self.items:
            rev = " [REVERSE KEYED]" if it.reverse else ""
            txt = f" - {it.text}" if it.text else ""
            dich = (f"; scored 1 if (reversed) code >= {it.dichotomise_at:g}" if it.dichotomise_at
                    else "")
            lines.append(f"  {it.number:>2} {it.name}{rev}{txt} [{_codes_text(it)}{dich}]")
        lines.append("")
        lines.append("Scales:")
        for s in self.scales:
            lo, hi = self.scale_range(s)
            ma = ("" if s.min_answered is None
                  else f"; prorate/available needs >= {s.min_answered} answered "
                  f"({s.min_answered_source})")
            lines.append(f"  {s.name}: {s.label}; items {', '.join(s.items)}; range {lo:g}-{hi:g}; "
                         f"default missing rule {s.default_missing!r}{ma}")
            for c in s.cutoffs:
                bands = "; ".join(f"{b.lower:g}-{b.upper:g} {b.label}" for b in c.bands)
                flag = "" if c.verified else " [UNVERIFIED: pass cutoffs=%r explicitly]" % c.name
                default = " (default)" if c.name == s.default_cutoffs else ""
                lines.append(f"    cut-offs {c.name!r}{default}: {bands}{flag}; source: {c.source}")
            if s.threshold_labels:
                lines.append(f"    cutoff=<number>: below -> {s.threshold_labels[0]!r}, at or "
                             f"above -> {s.threshold_labels[1]!r}")
            if s.no_cutoffs_reason:
                lines.append(f"    no categories: {s.no_cutoffs_reason}")
        lines.append("")
        lines.append("Codings (raw -> canonical):")
        for cod in self.codings:
            m = ", ".join(f"{k!r}->{_fmt(v)}" for k, v in cod.mapping)
            extra = f"; missing {list(cod.missing)}" if cod.missing else ""
            only = f"; items {', '.join(cod.applies_to)}" if cod.applies_to else ""
            neut = f"; neutral raw code {cod.neutral!r}" if cod.neutral is not None else ""
            lines.append(f"  {cod.name!r}: {cod.description} [{m}{extra}{only}{neut}]")
        if self.requires_neutral:
            lines.append("  neutral=<raw code of the neutral answer> is required.")
        if self.uncertain:
            lines.append("")
            lines.append("Unverified / conventions:")
            lines += [f"  - {u}" for u in self.uncertain]
        lines += ["", f"Reference: {self.reference}"]
        return "\n".join(lines)


def _fmt(v: float) -> str:
    return "NA" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


def _codes_text(item: Item) -> str:
    if item.labels:
        return ", ".join(f"{c:g} {lab}" for c, lab in zip(item.codes, item.labels, strict=False))
    return ", ".join(f"{c:g}" for c in item.codes)


# ---------------------------------------------------------------------------------- loading
def _load(raw: dict[str, Any], source: str) -> Instrument:
    try:
        key = raw["key"]
        default_codes = raw.get("codes", {})
        items = []
        for n, it in enumerate(raw["items"], start=1):
            codes = it.get("codes", default_codes)
            items.append(
                Item(
                    name=it["name"],
                    number=int(it.get("number", n)),
                    text=it.get("text", ""),
                    codes=tuple(float(c) for c in codes["values"]),
                    labels=tuple(codes.get("labels", ())),
                    reverse=bool(it.get("reverse", False)),
                    dichotomise_at=(float(it["dichotomise_at"]) if "dichotomise_at" in it
                                    else (float(raw["dichotomise_at"]) if "dichotomise_at" in raw
                                          else None)),
                )
            )
        scales = []
        for name, sc in raw["scales"].items():
            cutoffs = []
            for cname, cs in sc.get("cutoffs", {}).items():
                bands = tuple(Band(float(b[0]), float(b[1]), str(b[2])) for b in cs["bands"])
                cutoffs.append(CutoffSet(cname, bands, bool(cs.get("verified", False)),
                                         cs.get("source", "")))
            tl = sc.get("threshold_labels")
            pr = sc.get("range")
            scales.append(
                Scale(
                    name=name,
                    label=sc.get("label", name),
                    items=tuple(sc["items"]),
                    default_missing=sc.get("default_missing", "complete"),
                    min_answered=(int(sc["min_answered"]) if "min_answered" in sc else None),
                    min_answered_source=sc.get("min_answered_source", ""),
                    cutoffs=tuple(cutoffs),
                    default_cutoffs=sc.get("default_cutoffs"),
                    threshold_labels=(tuple(tl) if tl else None),
                    no_cutoffs_reason=sc.get("no_cutoffs_reason"),
                    published_range=(float(pr[0]), float(pr[1])) if pr else None,
                )
            )
        codings = []
        for cname, cd in raw.get("codings", {}).items():
            mapping = tuple(
                (a, (float("nan") if b == "NA" else float(b))) for a, b in cd["map"]
            )
            codings.append(
                Coding(
                    name=cname,
                    description=cd.get("description", ""),
                    mapping=mapping,
                    missing=tuple(cd.get("missing", ())),
                    applies_to=tuple(cd.get("applies_to", ())),
                    neutral=cd.get("neutral"),
                )
            )
        inst = Instrument(
            key=key,
            name=raw["name"],
            short_name=raw.get("short_name", key),
            reference=raw["reference"],
            direction=raw["direction"],
            description=raw.get("description", ""),
            items=tuple(items),
            scales=tuple(scales),
            codings=tuple(codings),
            requires_neutral=bool(raw.get("requires_neutral", False)),
            neutral_canonical=(float(raw["neutral_canonical"]) if "neutral_canonical" in raw
                               else None),
            uncertain=tuple(raw.get("uncertain", ())),
        )
    except KeyError as exc:  # a broken package data file, not user input
        raise MeasureError(f"instrument definition {source} lacks the field "
                           f"{exc.args[0]!r}.") from None
    _check(inst, source)
    return inst


def _check(inst: Instrument, source: str) -> None:
    names = set(inst.item_names)
    if len(names) != len(inst.items):
        raise MeasureError(f"{source}: duplicate item names.")
    for s in inst.scales:
        unknown = [i for i in s.items if i not in names]
        if unknown:
            raise MeasureError(f"{source}: scale {s.name!r} names unknown items {unknown}.")
        if s.default_missing not in MISSING_RULES:
            raise MeasureError(f"{source}: scale {s.name!r} has unknown missing rule "
                               f"{s.default_missing!r}.")
        if s.default_cutoffs is not None:
            s.cutoff_set(s.default_cutoffs)
        if s.published_range is not None and s.published_range != inst.scale_range(s):
            raise MeasureError(
                f"{source}: scale {s.name!r} published range {s.published_range} differs from "
                f"the range its items give {inst.scale_range(s)}."
            )
    for s in inst.scales:
        lo, hi = inst.scale_range(s)
        for cs in s.cutoffs:
            bands = sorted(cs.bands, key=lambda b: b.lower)
            if not bands or bands[0].lower != lo or bands[-1].upper != hi:
                raise MeasureError(
                    f"{source}: cut-off set {cs.name!r} of scale {s.name!r} must cover "
                    f"{lo:g}-{hi:g}."
                )
            for a, b in zip(bands, bands[1:], strict=False):
                if not a.lower <= a.upper < b.lower:
                    raise MeasureError(f"{source}: cut-off set {cs.name!r} has overlapping bands.")
    for c in inst.codings:
        bad = [a for a in c.applies_to if a not in names]
        if bad:
            raise MeasureError(f"{source}: coding {c.name!r} applies to unknown items {bad}.")
        for it in inst.items:
            if c.applies_to and it.name not in c.applies_to:
                continue
            wrong = [v for _, v in c.mapping if not math.isnan(v) and v not in it.codes]
            if wrong:
                raise MeasureError(
                    f"{source}: coding {c.name!r} maps onto {wrong}, not canonical codes of item "
                    f"{it.name!r} ({list(it.codes)})."
                )
        if inst.requires_neutral and c.neutral is not None:
            if dict(c.mapping).get(c.neutral) != inst.neutral_canonical:
                raise MeasureError(f"{source}: coding {c.name!r} neutral code does not map to "
                                   f"neutral.")


_USER: dict[str, Instrument] = {}


@lru_cache(maxsize=None)
def _shipped() -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    folder = resources.files("socialhealth.measures").joinpath("instruments")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            inst = _load(tomllib.loads(entry.read_text(encoding="utf-8")), entry.name)
            if inst.key in out:
                raise MeasureError(f"two instrument files define the key {inst.key!r}.")
            out[inst.key] = inst
    return out


def _all() -> dict[str, Instrument]:
    return {**_shipped(), **_USER}


def register(path: str | Any) -> Instrument:
    """Add an instrument from a TOML file of your own (same fields as the shipped ones).

    Parameters
    ----------
    path : str or path-like
        A TOML file laid out as described in this module's docstring.

    Returns
    -------
    Instrument
        The validated definition; ``measures.score(<its key>, ...)`` works from now on in
        this Python session.

    Raises
    ------
    socialhealth.errors.MeasureError
        The file lacks a field, is inconsistent (e.g. a range that its items do not give, a
        coding onto non-canonical codes), or its key is already taken.

    Examples
    --------
    A copy of a shipped definition under a new key (your own file is laid out the same way):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from socialhealth import measures
    >>> import socialhealth.measures.definitions as definitions
    >>> text = (Path(definitions.__file__).parent / "instruments" / "ucla3.toml").read_text()
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "my_scale.toml"
    >>> _ = path.write_text(text.replace('key = "ucla3"', 'key = "my_ucla3"', 1))
    >>> inst = measures.register(path)
    >>> inst.key, "my_ucla3" in measures.instrument_keys()
    ('my_ucla3', True)
    >>> import pandas as pd
    >>> answers = pd.DataFrame({"companionship": [1, 3], "left_out": [2, 3], "isolated": [3, 2]})
    >>> measures.score("my_ucla3", answers, coding="1-3").score.tolist()
    [6.0, 8.0]
    >>> del definitions._USER["my_ucla3"]; tmp.cleanup()   # (this example leaves no trace)
    """
    from pathlib import Path

    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MeasureError(f"cannot read instrument definition {p}: {exc}") from None
    inst = _load(raw, p.name)
    if inst.key in _all():
        raise MeasureError(f"an instrument with key {inst.key!r} already exists; choose another "
                           f"key.")
    _USER[inst.key] = inst
    return inst


def instrument_keys() -> list[str]:
    """Keys of every instrument shipped with socialhealth, sorted.

    Examples
    --------
    >>> from socialhealth.measures import instrument_keys
    >>> "ucla3" in instrument_keys()
    True
    """
    return sorted(_all())


def get_instrument(key: str) -> Instrument:
    """The :class:`Instrument` definition for ``key`` (e.g. ``"ucla3"``, ``"djg6"``).

    Raises
    ------
    socialhealth.errors.MeasureError
        If no instrument has that key (the message lists the keys and close matches).

    Examples
    --------
    >>> from socialhealth.measures import get_instrument
    >>> inst = get_instrument("lsns6")
    >>> inst.total.cutoff_set("lubben2006").bands[0]
    Band(lower=0.0, upper=11.0, label='at risk of social isolation')
    >>> print(inst.doc)            # items, codes, reverse keys, codings, cut-offs, citation
    lsns6: Lubben Social Network Scale, 6-item (LSNS-6)
    ...
    Reference: Lubben J, Blozik E, ...
    """
    table = _all()
    if not isinstance(key, str) or key not in table:
        import difflib

        close = difflib.get_close_matches(str(key), list(table), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise MeasureError(
            f"unknown instrument {show_given(key)}.{hint} Known instruments: "
            f"{', '.join(sorted(table))} (see socialhealth.measures.list())."
        )
    return table[key]
