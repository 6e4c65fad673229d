"""Section "Sample and design": who was interviewed and how the variance is estimated."""
from __future__ import annotations

import pandas as pd

from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.rcode import design_lines
from socialhealth.report.sections.trend import survey_years


def _title(name: str) -> str:
    try:
        from socialhealth.datasets import info

        return str(info(name).get("title", name))
    except Exception:  # noqa: BLE001 - a survey outside the registry keeps its name
        return name


def _variance_method(design, single_psu: bool = True) -> str:
    if getattr(design, "kind", "") == "replicate":
        n = getattr(design, "n_replicates", "?")
        mse = getattr(design, "mse", None)
        centre = ("" if mse is None else "; variance around the full-sample estimate (mse)"
                  if mse else "; variance around the mean of the replicates")
        return (f"replicate weights ({getattr(design, 'method', '?')}, {n} replicates, "
                f"scale {_num.general(getattr(design, 'scale', None))}{centre})")
    spec = getattr(design, "spec", {}) or {}
    if spec.get("psu") or spec.get("strata"):
        how = "Taylor series linearisation, first-stage PSUs treated as sampled with replacement"
        lonely = getattr(design, "lonely_psu", None)
        if spec.get("strata") and lonely and single_psu:   # none: no rule to name
            how += f"; single-PSU strata: {lonely}"
        return how
    return ("Taylor series linearisation, weights only (no strata or PSUs: respondents treated "
            "as sampled with replacement, so clustering is ignored)")


def _single_psu(ctx: Context, design) -> str:
    """How many strata of the analysed rows have one PSU and what the variance does with them
    ("" when none has)."""
    from socialhealth.datasets._engine import LONELY_PSU_RULES, single_psu_strata

    spec = dict(getattr(design, "spec", {}) or {})
    data = design.data.loc[design.in_subset]
    found = single_psu_strata(data, {**spec, "weights": None})
    if not found or not found["count"]:
        return ""
    rule = str(getattr(design, "lonely_psu", None) or found["lonely_psu"])
    return (f"{found['count']:,} of {found['strata']:,}; single-PSU rule \"{rule}\": for "
            f"each such stratum, {LONELY_PSU_RULES.get(rule, rule)}")


def _persons(data: pd.DataFrame, name: str) -> int | None:
    """The number of persons when the rows are several interviews of the same persons (a panel
    survey's long file with its waves pooled); None when each row is one respondent.

    Only for the panel surveys (``load_panel``'s): elsewhere a repeated id is not a person
    seen again (ESS ``idno`` repeats across countries and rounds)."""
    from socialhealth.datasets._panel import PANELS
    from socialhealth.datasets._panel_files import FILE_PANELS

    if name not in (*PANELS, *FILE_PANELS):
        return None
    ids = data["respondent_id"] if "respondent_id" in data.columns else None
    if ids is None or ids.isna().any() or not ids.duplicated().any():
        return None
    return int(ids.nunique())


def _file_text(f: dict) -> str:
    """A file as the table names it: "path (SHA-256 begins 0123456789ab)"."""
    sha = str(f.get("sha256") or "")
    return f"{f['file']}" + (f" (SHA-256 begins {sha[:12]})" if sha else "")


def _years(data: pd.DataFrame) -> str:
    if "year" not in data.columns or not data["year"].notna().any():
        return ""
    y = sorted(int(v) for v in pd.unique(data["year"].dropna()))
    return ", ".join(map(str, y)) if len(y) <= 4 else f"{y[0]}-{y[-1]} ({len(y)} years)"


def _codebook_population(name: str, wave) -> dict:
    """The codebook's ``[population]`` of survey ``name`` ({} when it has none)."""
    try:
        from socialhealth.datasets._codebook import load_codebook, population

        return population(load_codebook(name), wave)
    except Exception:  # noqa: BLE001 - a survey without a codebook (the mini test surveys)
        return {}


def _population(prov: dict, name: str = "") -> str:
    """The population the data describe (provenance ``population``, from the survey's codebook
    or registry entry, restricted by ``min_age=`` where used), as a noun phrase; "" if unknown.

    A load whose provenance lost the description (BRFSS files stacked or pooled) takes the
    survey's codebook description, so that the report never reads "The estimates describe ,
    restricted to those aged 50 and over"."""
    pop = prov.get("population") or {}
    desc = str(pop.get("description") or "").strip().rstrip(".")
    if (not desc or desc.startswith(",")) and name:
        base = _codebook_population(name, prov.get("wave"))
        desc = str(base.get("description") or "").strip().rstrip(".")
        declared, now = base.get("min_age"), pop.get("min_age")
        if desc and declared is not None and now is not None and int(now) > int(declared):
            phrase = f"aged {declared} and over"
            desc = (desc.replace(phrase, f"aged {now} and over") if phrase in desc
                    else f"{desc}, restricted to those aged {now} and over")
    if not desc or desc.startswith(","):
        return ""
    if pop.get("restricted_by"):
        age = pop.get("min_age")
        desc += (f"; respondents under {age} left out" if age is not None
                 else f"; restricted: {pop['restricted_by']}")
    return desc


def build_sample(ctx: Context) -> Section:
    """Sample size, design structure, weight and variance method."""
    sec = Section("sample", "Sample and design")
    sd, d = ctx.sd, ctx.design
    data = d.data
    prov = dict(getattr(sd, "provenance", {}) or {})
    spec = dict(getattr(sd, "design_spec", {}) or {})
    in_design = d.in_subset
    from socialhealth.report._build import survey_edition

    rows = [("Survey", survey_edition(ctx.sd, _title(ctx.name))),
            ("Dataset (socialhealth name)", ctx.name)]
    population = _population(prov, str(getattr(sd, "name", "") or ""))
    if population:
        rows.append(("Population", population))
    if ctx.name == "demo":
        rows.append(("Data", "SYNTHETIC: generated by socialhealth.datasets.demo "
                             f"(seed {prov.get('seed', '?')}); not real people"))
    elif prov.get("file"):
        rows.append(("File", _file_text(prov)))
    elif prov.get("files") or prov.get("pooled"):   # several files (BRFSS states or years)
        files = [f for f in (prov.get("files") or prov.get("pooled") or [])
                 if isinstance(f, dict) and f.get("file")]
        if files:
            rows.append((f"Files ({len(files)})", "; ".join(_file_text(f) for f in files)))
    if prov.get("wave"):
        rows.append(("Wave", str(prov["wave"])))
    if _years(data):
        rows.append(("Year(s) of interview", _years(data)))
        sy = survey_years(data)
        if sy is not None:
            # interviews that ran into the next calendar year belong to their wave's survey
            # year (the trend goes by it): say so next to the interview years
            rows.append(("Survey year(s) (the trend's years)",
                         _years(pd.DataFrame({"year": sy[0]}))))
    if "country" in data.columns and data["country"].notna().any():
        rows.append(("Country", ", ".join(map(str, ctx.levels("country")))))
    persons = _persons(data, ctx.name)
    rows.append(("Respondents", f"{len(data):,}" if persons is None else
                 f"{persons:,} persons, {len(data):,} interviews (several waves)"))
    from socialhealth.cli import rows_accounting

    read = rows_accounting(prov)
    if read and prov.get("rows_dropped") and any(prov["rows_dropped"].values()):
        rows.append(("Rows of the file", read))
    if int(in_design.sum()) != len(data):
        rows.append(("Respondents with a positive weight", f"{int(in_design.sum()):,}"))
    # the exposure by its name, not its column; one that no respondent answered is "not
    # measured", not "0 answering, <everyone> missing"
    exp = ctx.exposure
    n_exp = (int((in_design & data[exp.column].notna().to_numpy()).sum())
             if exp.column in data.columns else 0)
    rows.append(("Exposure", exp.name if n_exp else f"{exp.name}: not measured in this survey"))
    if n_exp:
        rows.append(("Respondents answering the exposure", f"{n_exp:,}"))
        rows.append(("Respondents with the exposure missing (left out of its estimates)",
                     f"{int(in_design.sum()) - n_exp:,}"))
    clustered = bool(spec.get("psu") or spec.get("strata"))
    lonely = ""
    if getattr(d, "kind", "") != "replicate" and hasattr(d, "n_strata"):
        if clustered:
            rows.append(("Strata", f"{d.n_strata:,}"))
            rows.append(("Primary sampling units (PSUs)", f"{d.n_psu:,}"))
            lonely = _single_psu(ctx, d)
            if lonely:
                rows.append(("Strata with a single PSU", lonely))
        else:
            rows.append(("Strata / PSUs", "none in the file (weights only)"))
    degf = d.degf()
    rows.append(("Design degrees of freedom",     # 16,794 like the counts above, not 16794
                 f"{int(degf):,}" if _num.finite(degf) and float(degf).is_integer()
                 else _num.general(degf, 10)))
    weight = prov.get("weight_variable") or spec.get("weights") or "none (equal weights)"
    total = float(d.weights.sum())
    rows.append(("Weight", f"{weight} (sum {total:,.0f})" if _num.finite(total) and total >= 1000
                 else f"{weight} (sum {_num.general(total)})"))
    rows.append(("Variance method", _variance_method(d, single_psu=bool(lonely))))
    note = prov.get("design") or spec.get("notes")
    if note:
        note = str(note)
        rows.append(("Design note", note))       # whole: table cells wrap in every format
    sec.tables.append(ReportTable("Sample and design",
                                  pd.DataFrame(rows, columns=["item", "value"])))
    if getattr(d, "kind", "") == "replicate":
        how = "they come from the survey's replicate weights."
    elif clustered:
        how = "they take the stratification and clustering of the sample into account."
    else:
        how = ("this file has no strata or PSUs, so they treat respondents as sampled "
               "independently and are probably too small for a clustered sample.")
    if population:
        sec.text.append(f"The estimates describe {population}.")
    sec.text.append(
        "All estimates are weighted with the survey's analysis weight. Standard errors and 95% "
        "confidence intervals are design-based (t quantiles on the design degrees of freedom, "
        f"as in R's survey package): {how}")
    if persons is not None:
        sec.notes.append(
            f"The file holds several waves of the same persons ({persons:,} persons, "
            f"{len(data):,} interviews): the estimates pool the interviews, so a person counts "
            "once for each wave in which they were interviewed, and \"respondents\" in the "
            "tables are interviews. Load one wave (--wave) for estimates of persons, or link "
            "the waves (--waves) for the longitudinal section.")
    for w in prov.get("warnings", []) or []:
        sec.notes.append(str(w))
    sec.r_code += design_lines(d, ctx.r_data)
    return sec
