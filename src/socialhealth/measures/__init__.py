"""Scoring of loneliness and social-connection instruments from their published rules.

>>> from socialhealth import measures
>>> measures.list()                                                    # doctest: +SKIP
>>> s = measures.score("ucla3", df, items={"companionship": "q1", "left_out": "q2",
...                    "isolated": "q3"}, coding="1-3", missing="prorate")  # doctest: +SKIP
>>> s.score, s.category                                                # doctest: +SKIP
>>> measures.categorise("djg6", s.score)                               # doctest: +SKIP
>>> measures.reliability(df[["q1", "q2", "q3"]], ci=0.95)              # doctest: +SKIP

Every instrument is a declarative TOML definition in ``socialhealth/measures/instruments/``
(items, canonical codes, reverse keys, dichotomisation, scales, missing-item rules, cut-offs,
codings, citation) scored by one generic engine (:mod:`socialhealth.measures.scoring`). Codes
outside the coding, the wrong items or an unknown coding raise errors that name the item and
the bad values; nothing is silently set missing or clipped. Adding an instrument = adding a
TOML file.

Unverified rules are never applied silently: the UCLA-3 and UCLA-20 have no official cut-off
(pass ``cutoff=``), the DJG-11 cut-offs are opt-in by name, the LSNS-6 subscale cut-off and
DSSI recodes are the user's explicit choice, and the Berkman-Syme four-level index of the 1979
paper is not computed (only the component count; :func:`berkman_syme_components` builds the
components from the raw Berkman-Breslow items with the rule of Loucks et al. 2006, whose four
levels are the opt-in cut-off set ``loucks2006``). The instrument catalogue follows.
"""
from __future__ import annotations

from socialhealth.measures.catalogue import describe
from socialhealth.measures.catalogue import list_instruments as list  # noqa: A001
from socialhealth.measures.categories import categorise
from socialhealth.measures.definitions import Instrument, get_instrument, instrument_keys, register
from socialhealth.measures.network_index import berkman_syme_components
from socialhealth.measures.reliability import ReliabilityResult, reliability
from socialhealth.measures.scoring import ScoreResult, score

# ``list`` is deliberately not in __all__: a star import must not shadow the built-in.
__all__ = [
    "Instrument",
    "ReliabilityResult",
    "ScoreResult",
    "berkman_syme_components",
    "categorise",
    "describe",
    "get_instrument",
    "instrument_keys",
    "register",
    "reliability",
    "score",
]

if __doc__ is not None:  # append every instrument's rules (python -OO strips docstrings)
    __doc__ += "\n\n" + "\n\n".join(get_instrument(k).doc for k in instrument_keys())
