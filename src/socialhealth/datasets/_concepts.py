"""What a loaded file gave, concept by concept: answers, missing codes, unmapped codes, notes.

Used by :meth:`SurveyData.concept_summary`, ``socialhealth describe`` and the real-file
completeness check (:func:`concept_problems`).
"""
from __future__ import annotations

import pandas as pd

# The note the codebook engine writes for a schema concept that a codebook does not mention at
# all. It says nothing about *why* the survey lacks the item, so a file whose concept carries
# only this note has not been accounted for (see ``concept_problems``).
GENERIC_NOT_MEASURED = "the survey (or this loader's codebook) has no item for this concept"

SUMMARY_COLUMNS = ["concept", "measured", "source_variables", "rule", "n_answered", "n_missing",
                   "missing_by_code", "unmapped_codes", "notes"]


def _sources(text) -> list[str]:
    """Source variable names from the codebook's ``source_variables`` text."""
    if text is None or (isinstance(text, float) and text != text):
        return []
    if isinstance(text, (list, tuple)):
        return [str(t) for t in text]
    return [t.strip() for t in str(text).replace(";", ",").split(",") if t.strip()]


def summary(sd) -> pd.DataFrame:
    """One row per harmonised concept of ``sd`` (a :class:`SurveyData`).

    ``n_answered`` counts the rows kept with a value; ``n_missing`` the rows kept without one;
    ``missing_by_code`` merges the survey's missing-value codes of the concept's source
    variables (``{"var": {"code": n}}``, counted over the rows *read*, before rows without a
    weight were dropped: see ``provenance["rows_dropped"]``); ``unmapped_codes`` are codes of
    the file that the codebook does not map (``{code: n}``; should be empty).
    """
    prov = sd.provenance or {}
    missing = prov.get("missing_codes") or {}
    unmapped = prov.get("unmapped_codes") or {}
    rows = []
    n = len(sd.data)
    for _, r in sd.codebook.iterrows():
        concept = r["concept"]
        col = sd.data[concept] if concept in sd.data.columns else None
        answered = int(col.notna().sum()) if col is not None else 0
        srcs = _sources(r.get("source_variables"))
        by_code = {s: dict(missing[s]) for s in srcs if s in missing and missing[s]}
        rows.append({
            "concept": concept,
            "measured": bool(r.get("measured", True)),
            "source_variables": ", ".join(srcs),
            "rule": str(r.get("rule", "") or ""),
            "n_answered": answered,
            "n_missing": n - answered if col is not None else n,
            "missing_by_code": by_code,
            "unmapped_codes": dict(unmapped.get(concept, {}) or {}),
            "notes": str(r.get("notes", "") or ""),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def concept_problems(sd) -> list[str]:
    """Why a loaded file is not fully accounted for; an empty list when it is.

    A concept must either have answers, or be marked not measured with a reason that the
    survey's codebook gives (not the engine's generic note); and no code of the file may be left
    unmapped. This is the check that runs on every real file in the test suite.
    """
    out = []
    for _, r in summary(sd).iterrows():
        c = r["concept"]
        if r["unmapped_codes"]:
            out.append(f"{c}: codes in the file that the codebook does not map: "
                       f"{r['unmapped_codes']}")
        if r["n_answered"] > 0:
            continue
        if r["measured"]:
            out.append(f"{c}: marked measured but no row has an answer")
        elif not r["notes"].strip() or r["notes"].strip() == GENERIC_NOT_MEASURED:
            out.append(f"{c}: not measured, and the codebook does not say why for this wave")
    return out
