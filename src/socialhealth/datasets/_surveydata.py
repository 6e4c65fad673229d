"""SurveyData: a harmonised table, its design, codebook and provenance."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from socialhealth.errors import DesignError


@dataclass
class SurveyData:
    """A loaded survey in the harmonised schema.

    Attributes
    ----------
    name : str
        Registry name (``"gss_panel20"``, ``"ess"``, ...).
    data : pandas.DataFrame
        Harmonised columns (``schema.toml``) followed by the source columns requested with
        ``columns=`` under their source names.
    codebook : pandas.DataFrame
        One row per harmonised concept: ``concept, source_variables, rule, labels, notes,
        measured``; concepts the survey lacks have ``measured=False`` and say why.
    provenance : dict
        ``file``, ``sha256``, ``reader``, ``columns_read``, ``rows_read``, ``rows_kept``,
        ``rows_dropped`` ({reason: n}), ``missing_codes`` ({var: {code: n}}), ``unmapped_codes``,
        ``design`` notes, ``loader`` and ``loader_version``, ``cache`` ("hit"/"miss"/"off").
    design_spec : dict
        Keyword arguments for :class:`socialhealth.SurveyDesign` (or ``ReplicateDesign`` when
        ``kind == "replicate"``), applied to ``data``.

    Examples
    --------
    >>> from socialhealth import datasets
    >>> sd = datasets.load("demo")
    >>> sd.name, sd.design_spec["psu"], sd.design_spec["strata"]
    ('demo', 'psu', 'strata')
    >>> sd.data[["age_group", "sex", "lonely"]].head(3)
      age_group     sex  lonely
    0     65-74    male   False
    1     16-24  female   False
    2     45-54    male   False
    >>> sd.provenance["loader"], sd.provenance["rows_read"]
    ('demo', 19602)
    >>> est = sd.design.proportion("lonely")
    >>> round(float(est.estimate.iloc[0]), 4)
    0.0708
    """

    name: str
    data: pd.DataFrame
    codebook: pd.DataFrame
    provenance: dict
    design_spec: dict
    _design: Any = field(default=None, repr=False)

    @property
    def design(self):
        """The survey's recommended design, built on first use.

        ``SurveyDesign(data, weights="weight", strata="strata", psu="psu", nest=True,
        lonely_psu="adjust")`` for the GSS and ESS (weights only where the file has no design
        variables); in R: ``svydesign(ids=~psu, strata=~strata, weights=~weight, nest=TRUE)``
        with ``options(survey.lonely.psu="adjust")``.
        """
        if self._design is None:
            spec = dict(self.design_spec)
            kind = spec.pop("kind", "linearisation")
            spec.pop("notes", None)
            try:
                import socialhealth as sh

                cls = sh.ReplicateDesign if kind == "replicate" else sh.SurveyDesign
            except (ImportError, AttributeError) as e:
                raise DesignError(
                    "the design engine (socialhealth.design) is not available in this "
                    f"installation ({e}); use sd.data and sd.design_spec directly.") from None
            self._design = cls(self.data, **spec)
        return self._design

    @design.setter
    def design(self, value: Any) -> None:
        """Replace the design with one built on the same rows (e.g. ``sd.design.assign(...)``)."""
        data = getattr(value, "data", None)
        if not isinstance(data, pd.DataFrame) or not hasattr(value, "degf"):
            raise DesignError(
                f"sd.design must be a socialhealth SurveyDesign or ReplicateDesign, not "
                f"{type(value).__name__}.")
        if len(data) != len(self.data) or not data.index.equals(self.data.index):
            raise DesignError(
                f"the new design has {len(data)} rows but this survey has {len(self.data)} (or a "
                f"different "
                "index): a SurveyData's design must keep every row. Use design.subset(...) for "
                "domains instead of dropping rows.")
        self._design = value

    def assign(self, **columns: Any) -> "SurveyData":
        """A new SurveyData with columns added to (or replaced in) its data and its design.

        Each value is an array, a Series aligned with ``data`` or a callable of the data frame,
        as in :meth:`pandas.DataFrame.assign`. The design keeps its structure (weights, strata,
        PSUs, calibrations, domain); the provenance records the added columns under
        ``"assigned_columns"``.

        In R: ``update(design, newvar = ...)``.

        Examples
        --------
        >>> from socialhealth import datasets
        >>> sd = datasets.load("demo")
        >>> sd2 = sd.assign(older=lambda d: d["age"] >= 65)
        >>> "older" in sd2.data and "older" in sd2.design.data
        True
        """
        data = self.data.assign(**columns)
        design = None
        if self._design is not None:
            design = self._design.assign(**{c: data[c] for c in columns})
        provenance = dict(self.provenance)
        provenance["assigned_columns"] = list(dict.fromkeys(
            list(provenance.get("assigned_columns", [])) + list(columns)))
        return replace(self, data=data, provenance=provenance, _design=design)

    def concept_summary(self) -> pd.DataFrame:
        """What the file gave, one row per harmonised concept.

        Columns ``concept, measured, source_variables, rule, n_answered, n_missing,
        missing_by_code, unmapped_codes, notes``: ``n_answered``/``n_missing`` count the rows
        kept; ``missing_by_code`` gives the survey's missing-value codes of the source variables
        (``{variable: {code: n}}``, counted over the rows read); ``unmapped_codes`` the codes
        that the codebook does not map (``{code: n}``, normally empty). This is the table that
        ``socialhealth describe`` prints.

        Examples
        --------
        >>> from socialhealth import datasets
        >>> cs = datasets.load("demo").concept_summary()
        >>> print(cs.query("concept == 'lonely'")[["concept", "n_answered", "n_missing"]]
        ...       .to_string(index=False))
        concept  n_answered  n_missing
         lonely       19281        321
        """
        from socialhealth.datasets._concepts import summary

        return summary(self)

    def __repr__(self) -> str:
        p = self.provenance
        measured = int(self.codebook["measured"].sum()) if len(self.codebook) else 0
        # wave and file only when there is one (no "wave=None, file=None" for the demo)
        wave = f", wave={p['wave']!r}" if p.get("wave") is not None else ""
        file = f", file={p['file']!r}" if p.get("file") is not None else ""
        return (f"SurveyData({self.name!r}{wave}, rows={len(self.data)}, "
                f"concepts measured={measured}/{len(self.codebook)}{file})")
