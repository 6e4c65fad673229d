"""Published pooled estimates that socialhealth's claims rest on, bundled with their citations.

Two package data files (``socialhealth/models/data/``):

``anchors.csv``
    One row per published estimate: the social-connection meta-analyses (Holt-Lunstad et al.
    2010 overall and Table 4; Holt-Lunstad et al. 2015; Valtorta et al. 2016; Rico-Uribe et al.
    2018; Wang et al. 2023; Naito et al. 2023; the ELSA cohort of Steptoe et al. 2013) and
    comparator risk factors for all-cause mortality (smoking: Gellert et al. 2012, Critchley &
    Capewell 2003; obesity: Flegal et al. 2013; physical activity: Nocon et al. 2008, Woodcock
    et al. 2011; alcohol: Zhao et al. 2023).  Every row carries its citation, DOI, the URL it
    was checked against, where in the paper it is (abstract, table) and a ``status``.

``holt_lunstad_2010_table1_PARTIAL_21_of_148.csv``
    The first 21 of the 148 rows (lnOR, SE) of Holt-Lunstad et al. 2010 Table 1, the only rows
    transcribed so far.  **Partial**: pooling them does not reproduce the published OR 1.50 and
    must never be presented as the full table (see :func:`hl2010_table1_partial`).

Columns of ``anchors.csv`` (see :func:`load`): ``source_key, kind, design, exposure, contrast,
subgroup, outcome, measure, estimate, ci_low, ci_high, ci_level, k, n, q, i2, direction,
adverse_rule, status, verified_via, location, source_url, citation, doi, year, note``.

Orientation (``direction``) differs between papers and must be read before comparing:

* ``"benefit of connection"`` - Holt-Lunstad 2010: OR > 1 = higher odds of *survival* with
  stronger relationships (deficit measures such as loneliness were inverted by the authors).
  For a binary outcome this number is also the odds ratio of *death* for weaker vs stronger
  relationships, so ``adverse_rule`` is ``"as published"``.
* ``"risk of deficit"`` - ratio > 1 = higher mortality with the deficit (isolation, loneliness).
* ``"risk of exposure"`` - ratio > 1 = higher mortality with the exposure (smoking, obesity,
  heavy drinking).
* ``"benefit of behaviour"`` - ratio < 1 = lower mortality with the behaviour (quitting smoking,
  physical activity); ``adverse_rule = "reciprocal"``: 1/ratio is the ratio for the adverse
  state (continued smoking, inactivity).  :func:`adverse_scale` applies these rules.

Values that could not be verified in a stored source are not bundled.  In particular the
comparator values plotted in Holt-Lunstad et al. 2010 **Figure 6** (smoking cessation, alcohol,
physical activity, BMI, ...) could not be read from a stored source and are **not** included
[U]; the comparators here come from the original meta-analyses, checked one by one.  The
Holt-Lunstad 2015 confidence intervals and k are unknown [U] and left empty.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from socialhealth.errors import ModelError

__all__ = ["REQUIRED_COLUMNS", "adverse_scale", "citations", "hl2010_table1_partial", "load"]

_DATA = "socialhealth.models.data"
_ANCHORS = "anchors.csv"
_HL2010_T1 = "holt_lunstad_2010_table1_PARTIAL_21_of_148.csv"
_KINDS = ("social", "comparator")

REQUIRED_COLUMNS = (
    "source_key", "kind", "design", "exposure", "contrast", "subgroup", "outcome", "measure",
    "estimate", "ci_low", "ci_high", "ci_level", "k", "n", "q", "i2", "direction",
    "adverse_rule", "status", "verified_via", "location", "source_url", "citation", "doi",
    "year", "note",
)
_NUMERIC = ("estimate", "ci_low", "ci_high", "ci_level", "k", "n", "q", "i2", "year")
_TEXT = tuple(c for c in REQUIRED_COLUMNS if c not in _NUMERIC)


def _read(name: str) -> pd.DataFrame:
    with resources.files(_DATA).joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, keep_default_na=False, na_values=[""], dtype=str)


def load(kind: str | None = None) -> pd.DataFrame:
    """Published pooled estimates (social connection and comparator risk factors).

    Parameters
    ----------
    kind : {None, "social", "comparator"}
        ``None`` (default) returns every row; ``"social"`` the loneliness / isolation /
        social-relationship estimates; ``"comparator"`` the comparator risk factors (smoking,
        obesity, physical activity, alcohol).

    Returns
    -------
    pandas.DataFrame
        One row per published estimate, columns :data:`REQUIRED_COLUMNS`.  ``estimate``,
        ``ci_low``, ``ci_high``, ``ci_level``, ``q``, ``i2`` are floats and ``k``, ``n``,
        ``year`` nullable integers; empty cells (e.g. Holt-Lunstad 2015 CIs, unknown) are
        missing, never invented.  Text columns are ``object`` dtype.

    Notes
    -----
    Rows are exactly as published (rounded to two decimals).  Read ``direction`` before
    comparing rows; :func:`adverse_scale` puts every row on the "adverse state vs favourable
    state" scale.  ``status`` is ``"verified"`` when the number was read in the cited source
    (``verified_via`` says how) and ``"[U]"`` otherwise.

    References
    ----------
    Holt-Lunstad J, Smith TB, Layton JB (2010). PLoS Med 7:e1000316; and the sources in
    :func:`citations`.

    Examples
    --------
    >>> from socialhealth.models import anchors
    >>> a = anchors.load("social")
    >>> row = a[(a.source_key == "holt-lunstad_2010") & (a.subgroup == "overall")].iloc[0]
    >>> float(row.estimate), float(row.ci_low), float(row.ci_high), int(row.k)
    (1.5, 1.42, 1.59, 148)

    In R there is no equivalent; the numbers are the published ones (e.g. the abstract of
    Holt-Lunstad et al. 2010: "OR = 1.50 (95% CI 1.42 to 1.59)").
    """
    if kind is not None and kind not in _KINDS:
        raise ModelError(f"unknown anchor kind {kind!r}; use None, 'social' or 'comparator'.")
    df = _read(_ANCHORS)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:  # a broken install, not a user error; still say what is wrong
        raise ModelError(f"bundled anchors.csv lacks columns {missing}; reinstall socialhealth.")
    out = pd.DataFrame(index=df.index)
    for col in REQUIRED_COLUMNS:
        if col in ("k", "n", "year"):
            out[col] = pd.to_numeric(df[col]).astype("Int64")
        elif col in _NUMERIC:
            out[col] = pd.to_numeric(df[col]).astype(float)
        else:
            out[col] = df[col].astype(object).where(df[col].notna(), None)
    if kind is not None:
        out = out[out["kind"] == kind].reset_index(drop=True)
    return out


def citations() -> pd.DataFrame:
    """One row per bundled source: source_key, citation, doi, year, kind, n_estimates, urls.

    Examples
    --------
    >>> from socialhealth.models import anchors
    >>> c = anchors.citations()
    >>> c.set_index("source_key").loc["naito_2023", "doi"]
    '10.1371/journal.pone.0280308'

    In R there is no equivalent.
    """
    df = load()
    rows = []
    for key, g in df.groupby("source_key", sort=False):
        rows.append(
            {
                "source_key": key,
                "citation": g["citation"].iloc[0],
                "doi": g["doi"].iloc[0],
                "year": g["year"].iloc[0],
                "kind": g["kind"].iloc[0],
                "n_estimates": len(g),
                "urls": "; ".join(dict.fromkeys(g["source_url"])),
            }
        )
    t1 = hl2010_table1_partial()
    rows.append(
        {
            "source_key": "holt-lunstad_2010_table1_partial",
            "citation": t1.attrs["citation"],
            "doi": t1.attrs["doi"],
            "year": 2010,
            "kind": "study-level (PARTIAL: 21 of 148 rows)",
            "n_estimates": len(t1),
            "urls": t1.attrs["source_url"],
        }
    )
    out = pd.DataFrame(rows)
    out["year"] = out["year"].astype("Int64")
    return out


def adverse_scale(df: pd.DataFrame | None = None) -> pd.DataFrame:
    r"""Add ratios for the adverse state vs the favourable state.

    Adds ``adverse_estimate``, ``adverse_ci_low``, ``adverse_ci_high``:

    * ``adverse_rule == "as published"``: unchanged;
    * ``adverse_rule == "reciprocal"``: :math:`1/\hat\theta`, with CI :math:`(1/U, 1/L)`.

    Only the orientation changes; the measures (OR, HR, RR, relative mortality) still differ
    and are not converted into one another.

    Parameters
    ----------
    df : DataFrame, optional
        Rows from :func:`load` (default: all anchors).

    Examples
    --------
    >>> from socialhealth.models import anchors
    >>> a = anchors.adverse_scale(anchors.load("comparator"))
    >>> r = a[(a.source_key == "nocon_2008") & (a.outcome == "all-cause mortality")].iloc[0]
    >>> [round(float(r[c]), 3) for c in ("adverse_estimate", "adverse_ci_low", "adverse_ci_high")]
    [1.493, 1.389, 1.587]
    """
    df = load() if df is None else df
    for col in ("estimate", "ci_low", "ci_high", "adverse_rule"):
        if col not in df.columns:
            raise ModelError(f"adverse_scale needs the anchors columns; {col!r} is missing.")
    bad = set(df["adverse_rule"].dropna()) - {"as published", "reciprocal"}
    if bad:
        raise ModelError(f"unknown adverse_rule value(s) {sorted(bad)}; expected 'as published' or "
                         f"'reciprocal'.")
    out = df.copy()
    recip = (out["adverse_rule"] == "reciprocal").to_numpy()
    est = out["estimate"].to_numpy(dtype=float)
    lo = out["ci_low"].to_numpy(dtype=float)
    hi = out["ci_high"].to_numpy(dtype=float)
    out["adverse_estimate"] = np.where(recip, 1.0 / est, est)
    out["adverse_ci_low"] = np.where(recip, 1.0 / hi, lo)
    out["adverse_ci_high"] = np.where(recip, 1.0 / lo, hi)
    return out


def hl2010_table1_partial() -> pd.DataFrame:
    """PARTIAL Holt-Lunstad et al. (2010) Table 1: lnOR and SE of the first 21 of 148 studies.

    **This is not the full table.**  Only the first 21 rows (alphabetical, Ahern 1990 to
    Cassileth 1988) were transcribed from the PMC table; the remaining 127 rows are missing.
    Pooling these rows is *not* a replication of the published OR 1.50 (1.42-1.59) and must
    not be reported as one.  ``df.attrs`` carries ``partial=True``, ``rows_available=21``,
    ``rows_in_published_table=148``, the citation, DOI and URL.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in the published table), ``study``, ``year``, ``ln_or``, ``se``
        (both rounded to two decimals in the paper).  ``ln_or > 0`` = benefit of stronger
        relationships (same orientation as the overall OR 1.50).

    Examples
    --------
    >>> from socialhealth.models import anchors
    >>> t = anchors.hl2010_table1_partial()
    >>> len(t), t.attrs["rows_in_published_table"], t.attrs["partial"]
    (21, 148, True)

    In R there is no equivalent; to pool the *complete* table when it is transcribed:
    ``metafor::rma(yi=ln_or, sei=se, method="DL")``.
    """
    df = _read(_HL2010_T1)
    out = pd.DataFrame(
        {
            "row": pd.to_numeric(df["row"]).astype(int),
            "study": df["study"].astype(object),
            "year": pd.to_numeric(df["year"]).astype(int),
            "ln_or": pd.to_numeric(df["ln_or"]).astype(float),
            "se": pd.to_numeric(df["se"]).astype(float),
        }
    )
    out.attrs.update(
        {
            "partial": True,
            "rows_available": len(out),
            "rows_in_published_table": 148,
            "description": "PARTIAL: first 21 of 148 rows of Holt-Lunstad et al. 2010 Table 1 "
            "(lnOR, SE); not the full table, do not pool as if complete.",
            "citation": "Holt-Lunstad J, Smith TB, Layton JB (2010). Social relationships and "
            "mortality risk: a meta-analytic review. PLoS Med 7(7):e1000316. Table 1.",
            "doi": "10.1371/journal.pmed.1000316",
            "source_url": "https://pmc.ncbi.nlm.nih.gov/articles/PMC2910600/table/pmed-1000316-t001",
            "verified_via": "transcribed in measures_and_datasets.md s3.1 [V-src]; not re-read "
            "here",
        }
    )
    return out
