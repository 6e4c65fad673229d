"""The report built on the small committed survey ``tests/report/fixtures/mini_survey.csv``
(shared by the report word and output-format tests; importable as ``mini_report``)."""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

import socialhealth as sh
from socialhealth.datasets import SurveyData

MINI = Path(__file__).resolve().parents[1] / "report" / "fixtures" / "mini_survey.csv"
YES_NO = ["lonely", "depression", "poor_health", "smoker", "obese", "physically_inactive"]


def mini_report(drop=(), exposure="lonely", codebook_rows=()):
    """``sh.report.build`` of the mini survey without the columns ``drop``, outcome
    depression, warnings silenced; ``codebook_rows`` are ``(concept, source_variables, rule,
    labels, notes, measured)`` tuples of its codebook (none by default)."""
    df = pd.read_csv(MINI, dtype={c: "boolean" for c in YES_NO})
    df = df.drop(columns=list(drop))
    cb = pd.DataFrame(list(codebook_rows), columns=["concept", "source_variables", "rule",
                                                    "labels", "notes", "measured"])
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.report.build(SurveyData("mini", df, cb, {}, spec), outcomes=["depression"],
                               exposure=exposure)
