"""Scoring of loneliness and social-connection instruments from their published rules.

>>> import pandas as pd
>>> from socialhealth import measures
>>> measures.list().set_index("key").loc["ucla3", ["range", "cutoffs"]].tolist()
['3-9', 'total: none published (cutoff= parameter)']
>>> df = pd.DataFrame({"q1": [1, 2, 3, 3, 1], "q2": [1, 3, 3, None, 2], "q3": [2, 1, 3, 3, None]})
>>> s = measures.score("ucla3", df, items={"companionship": "q1", "left_out": "q2",
...                    "isolated": "q3"}, coding="1-3", missing="prorate")
>>> s.score.tolist()                       # one missing item: mean of the other two x 3
[4.0, 6.0, 9.0, 9.0, 4.5]
>>> measures.categorise("ucla3", s.score, cutoff=6).tolist()   # no published cut-off: say it
['not lonely', 'lonely', 'lonely', 'lonely', 'not lonely']
>>> measures.categorise("djg6", pd.Series([0, 3, 6])).tolist()
['not lonely', 'moderately lonely', 'severely lonely']
>>> import socialhealth as sh
>>> items = sh.datasets.load("demo").data[["ucla3_companionship", "ucla3_left_out",
...                                        "ucla3_isolated"]]
>>> r = measures.reliability(items, level=0.95)
>>> round(r.alpha, 3), tuple(round(x, 3) for x in r.ci), r.k
(0.797, (0.792, 0.802), 3)

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
from socialhealth.measures.catalogue import list_instruments as list  # noqa: A001, F401 - public
from socialhealth.measures.categories import categorise
from socialhealth.measures.definitions import Instrument, get_instrument, instrument_keys, register
from socialhealth.measures.network_index import berkman_syme_components
from socialhealth.measures._reliability import ReliabilityResult, reliability
from socialhealth.measures.scoring import ScoreResult, score
from socialhealth.measures._survey_alpha import SurveyAlphaResult, survey_alpha
from socialhealth.measures._survey_kappa import SurveyKappaResult, survey_kappa
from socialhealth.measures._survey_factor import (SurveyFactanalResult, SurveyPrcompResult,
                                                  survey_factanal, survey_prcomp)

# ``list`` is deliberately not in __all__: a star import must not shadow the built-in.
__all__ = [
    "Instrument",
    "ReliabilityResult",
    "ScoreResult",
    "SurveyAlphaResult",
    "SurveyFactanalResult",
    "SurveyKappaResult",
    "SurveyPrcompResult",
    "berkman_syme_components",
    "categorise",
    "describe",
    "get_instrument",
    "instrument_keys",
    "register",
    "reliability",
    "score",
    "survey_alpha",
    "survey_factanal",
    "survey_kappa",
    "survey_prcomp",
]

if __doc__ is not None:  # append every instrument's rules (python -OO strips docstrings)
    __doc__ += "\n\n" + "\n\n".join(get_instrument(k).doc for k in instrument_keys())
