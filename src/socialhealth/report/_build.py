"""Build a :class:`~socialhealth.report.document.Report` from a loaded survey."""
from __future__ import annotations

import datetime as _dt
import re
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.design.proportion import METHODS as PROPORTION_METHODS
from socialhealth.design.proportion import ProportionMethod
from socialhealth.errors import ReportError, SocialHealthError, SocialHealthWarning
from socialhealth.report import exposure as _exposure
from socialhealth.report.content import content
from socialhealth.report.context import Context, ensure_binary
from socialhealth.report.document import Report, Section
from socialhealth.report.sections.association import build_association
from socialhealth.report.sections.longitudinal import build_longitudinal
from socialhealth.report.sections.methods import build_methods
from socialhealth.report.sections.prevalence import build_prevalence
from socialhealth.report.sections.risk_factors import build_risk_factors
from socialhealth.report.sections.sample import build_sample
from socialhealth.report.sections.trend import build_trend

SECTIONS = (
    ("sample", build_sample),
    ("prevalence", build_prevalence),
    ("trend", build_trend),
    ("association", build_association),
    ("risk_factors", build_risk_factors),
)
CI_METHODS = PROPORTION_METHODS   # ci_method= takes the interval methods of proportion()
MAX_WARNINGS = 5


_FILE_NOTE = re.compile(r"\s*\((?:[^()]*\b(?:file|files|release|releases|wide|long)\b[^()]*)\)")


def survey_edition(sd, title: str) -> str:
    """The survey as a title names it: which round, wave or years of it the data are.

    ``"European Social Survey round 7, GB"``, ``"General Social Survey 2016-2020 panel, 2020
    wave"``, ``"Behavioral Risk Factor Surveillance System, 2022"``: the registry title without
    its note on file formats, then the ESS round (from the data's ``essround`` or the file
    name), the panel wave, or the interview years; the single country when there is one. The
    demo keeps its title.

    Examples
    --------
    >>> class S: pass
    >>> s = S(); s.name = "gss_panel20"; s.provenance = {"wave": 2020}; s.data = None
    >>> survey_edition(s, "General Social Survey 2016-2020 panel (wide)")
    'General Social Survey 2016-2020 panel, 2020 wave'

    Years that the title already names are not repeated:

    >>> import pandas as pd
    >>> s.name, s.provenance = "gss_panel06", {}
    >>> s.data = pd.DataFrame({"year": [2006, 2008, 2010]})
    >>> survey_edition(s, "General Social Survey 2006-2010 panel (long)")
    'General Social Survey 2006-2010 panel'
    """
    name = str(getattr(sd, "name", ""))
    if name == "demo":
        return title
    prov = dict(getattr(sd, "provenance", {}) or {})
    data: Any = getattr(sd, "data", None)
    cols = set(getattr(data, "columns", []))
    base = _FILE_NOTE.sub("", str(title)).strip()
    wave = prov.get("wave") if prov.get("wave") is not None else \
        (prov.get("options", {}) or {}).get("wave")
    parts = []
    if name == "ess":
        rnd = None
        if "essround" in cols:
            vals = pd.unique(data["essround"].dropna())
            rnd = ", ".join(str(int(v)) for v in sorted(vals)) if 0 < len(vals) <= 3 else None
        if rnd is None:
            m = re.search(r"ESS(\d{1,2})", str(prov.get("file") or ""), re.I)
            rnd = m.group(1) if m else None
        if rnd:
            base += f" round {rnd}"
    if wave is not None and name != "ess":
        parts.append(f"{wave} wave" if "panel" in base.lower() or name.startswith("gss_panel")
                     else str(wave))
    elif name != "ess" and "year" in cols:
        years = sorted(int(y) for y in pd.unique(data["year"].dropna()))
        span = "" if not years else str(years[0]) if len(years) == 1 else \
            f"{years[0]}-{years[-1]}"
        if span and span not in base:    # "... 2006-2010 panel", not "... panel, 2006-2010"
            parts.append(span)
    if "country" in cols:
        countries = pd.unique(data["country"].dropna().astype(str))
        if len(countries) == 1 and str(countries[0]) not in base:
            parts.append(str(countries[0]))
    return ", ".join([base, *parts])


def _schema_concepts() -> list[str]:
    try:
        from socialhealth.datasets._schema import concept_columns

        return list(concept_columns())
    except Exception:  # noqa: BLE001 - the schema is optional for a SurveyData-like object
        return []


def build(
    sd,
    exposure: str = "lonely",
    outcomes: Sequence[str] | str | None = None,
    *,
    ci_method: ProportionMethod = "logit",
    title: str | None = None,
    progress: Callable[[str], None] | None = None,
    panel=None,
) -> Report:
    """Build the loneliness-and-health report of one survey.

    Sections (each ``"ok"`` or ``"skipped: <reason>"``, decided from what the survey measures):
    sample and design; prevalence of the exposure overall and by age group, sex and country
    (95% CIs); trend over years; nested adjusted odds ratios of health outcomes on the exposure
    (table and forest plot); the exposure next to smoking, obesity and inactivity, with
    published pooled estimates; methods with the R ``survey`` code giving the same numbers.

    Parameters
    ----------
    sd : SurveyData
        From :func:`socialhealth.datasets.load` (anything with ``.data``, ``.design``,
        ``.codebook``, ``.provenance``, ``.name``).
    exposure : str
        A yes/no column (default ``"lonely"``, the survey's headline loneliness indicator) or
        a condition such as ``"ucla3_isolated>=3"`` (see :mod:`socialhealth.report.exposure`).
    outcomes : list of str or comma-separated str, optional
        Yes/no health outcomes (default: the schema's health outcomes the survey measures:
        poor_health, depression, anxiety, hypertension, heart_disease, stroke, diabetes, died).
    ci_method : str
        Interval method of the proportions (R ``svyciprop`` ``method=``), default ``"logit"``.
    title : str, optional
    progress : callable, optional
        Called with a short message before each step (the command line draws a progress bar).
    panel : PanelData, optional
        A linked panel of the same survey (:func:`socialhealth.datasets.load_panel`): adds the
        section "longitudinal" after the associations, with prospective odds ratios (exposure at
        the first wave, each outcome at the last, adjusted as the association section and for
        the outcome at the first wave) and the exposure's transition table; skipped, saying
        why, when the panel lacks the exposure at either wave
        (``socialhealth.report.sections.longitudinal``).

    Returns
    -------
    Report
        ``report["prevalence"].tables[0].frame`` etc.; ``report.to_html(path)``,
        ``to_markdown(path)``, ``to_pdf(path)``.

    Raises
    ------
    ReportError
        Unknown exposure or outcome names, non-binary exposure/outcome, unknown ``ci_method``.
        A concept the survey does not measure is *not* an error: its sections are skipped and
        say why.

    Notes
    -----
    Every number comes from the design engine: the overall prevalence equals
    ``sd.design.proportion("lonely", method="logit")``; the odds ratios are those of
    ``socialhealth.models.association(..., measure="or")`` on the complete cases, i.e.
    ``sd.design.subset(complete).glm("y ~ lonely + ...", family="binomial")``. In R: the
    methods section lists the ``svydesign`` / ``svyciprop`` / ``svyby`` / ``svyglm`` calls.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import socialhealth as sh
    >>> rep = sh.report.build(sh.datasets.load("demo"), outcomes=["poor_health", "depression"])
    >>> print(rep.status[["key", "status"]].to_string())
                key status
    0        sample     ok
    1    prevalence     ok
    2         trend     ok
    3   association     ok
    4  risk_factors     ok
    5       methods     ok
    >>> rep.meta["outcomes"]
    ['poor_health', 'depression']
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     md = rep.to_markdown(Path(tmp) / "report.md")
    >>> md.splitlines()[0]
    '# Loneliness, social connection and health: Synthetic demo survey (generated, not real data)'
    """
    for attr in ("data", "design"):
        if not hasattr(sd, attr):
            raise ReportError(f"build() needs a loaded survey (socialhealth.datasets.load(...)); "
                              f"the object given has no .{attr}.")
    if not is_choice(ci_method, CI_METHODS):
        raise ReportError(f"unknown ci_method {show_given(ci_method)}; use one of "
                          f"{', '.join(CI_METHODS)}.")
    exp = _exposure.parse(exposure)
    design = sd.design
    ctx = Context(sd=sd, design=design, exposure=exp, outcomes=[], ci_method=ci_method,
                  progress=progress)
    schema = set(_schema_concepts())
    if exp.source not in schema:
        ctx.require_known(exp.source, "exposure")
    if not ctx.why_not(exp.source):
        exp, derived = _exposure.derive(exp, design.data, design.in_subset)
        if derived is not None:
            ctx.design = design.assign(**{exp.column: derived})
        ctx.exposure = exp
        if exp.note:
            warnings.warn(f"exposure {exp.spec!r}: {exp.note}", SocialHealthWarning,
                          stacklevel=user_stacklevel())
    if not ctx.why_not(exp.column):
        ensure_binary(ctx, exp.column, "exposure")
        exp.n_missing = _exposure.check_both_sides(ctx.data[exp.column], ctx.design.in_subset,
                                                   exp.spec, "exposure")

    if outcomes is None:
        outs = list(content()["outcomes"])
    else:
        outs = [o.strip() for o in (outcomes.split(",") if isinstance(outcomes, str) else outcomes)]
        outs = [o for o in outs if o]
        if not outs:
            raise ReportError("no outcomes given; name at least one, e.g. outcomes=['depression'].")
        parsed = []
        for o in outs:
            oc = _exposure.parse(o)
            if oc.source not in schema:
                ctx.require_known(oc.source, "outcome")
            if oc.condition is not None and not ctx.why_not(oc.source):
                oc, derived = _exposure.derive(oc, ctx.data, ctx.design.in_subset, "outcome")
                ctx.design = ctx.design.assign(**{oc.column: derived})
                _exposure.check_both_sides(derived, ctx.design.in_subset, oc.spec, "outcome")
                ctx.derived.append(oc)
                if oc.note:
                    warnings.warn(f"outcome {oc.spec!r}: {oc.note}", SocialHealthWarning,
                                  stacklevel=user_stacklevel())
            if not ctx.why_not(oc.column):
                ensure_binary(ctx, oc.column, "outcome")
            parsed.append(oc.column)
        outs = list(dict.fromkeys(parsed))
    if exp.column in outs:
        raise ReportError(f"{exp.column!r} is both the exposure and an outcome; choose other "
                          f"outcomes.")
    ctx.outcomes = outs

    synthetic = getattr(sd, "name", "") == "demo"
    try:
        from socialhealth.datasets import info

        survey_title = info(sd.name).get("title", sd.name)
    except Exception:  # noqa: BLE001
        survey_title = str(getattr(sd, "name", "survey"))
    survey_title = survey_edition(sd, survey_title)
    if title is None:
        title = f"Loneliness, social connection and health: {survey_title}"
        if synthetic and "synthetic" not in title.lower():
            title += " (SYNTHETIC demo data)"
    sections: list[Section] = []
    plan = list(SECTIONS)
    if panel is not None:
        ctx.shared["panel"] = panel
        plan.insert([k for k, _ in plan].index("association") + 1,
                    ("longitudinal", build_longitudinal))
    for i, (key, fn) in enumerate(plan):
        ctx.step(f"{key} ({i + 1}/{len(plan) + 1})")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SocialHealthWarning)
            try:
                sec = fn(ctx)
            except (SocialHealthError, np.linalg.LinAlgError, FloatingPointError) as e:
                # a survey too thin for a section (e.g. an empty domain) loses that section only
                sec = Section(key, key.replace("_", " ").capitalize())
                sec.skip(f"could not be estimated: {e}")
        msgs = list(dict.fromkeys(str(w.message) for w in caught
                                  if issubclass(w.category, SocialHealthWarning)))
        sec.notes += [f"Warning: {m}" for m in msgs[:MAX_WARNINGS]]
        sections.append(sec)
    ctx.step(f"methods ({len(plan) + 1}/{len(plan) + 1})")
    sections.append(build_methods(ctx, sections))
    from socialhealth import __version__

    prov = dict(getattr(sd, "provenance", {}) or {})
    meta = {"created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "socialhealth": __version__, "dataset": getattr(sd, "name", ""),
            "survey_title": survey_title, "exposure": exp.spec, "outcomes": outs,
            "ci_method": ci_method, "file": prov.get("file"), "wave": prov.get("wave")}
    if panel is not None:
        meta["panel_waves"] = list(getattr(panel, "waves", []) or [])
    return Report(title=title, dataset=str(getattr(sd, "name", "")), synthetic=synthetic,
                  sections=sections, meta=meta)
