"""Taylor-linearisation survey designs (R ``svydesign``)."""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable, Literal

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import amount, show, show_given, show_list
from socialhealth.design.base import DesignBase
from socialhealth.design.structure import (
    as_list,
    check_column_arguments,
    check_flag,
    check_lonely_psu,
    check_data_frame,
    design_frame,
    build_stages,
    design_weights,
    numeric_column,
    require_columns,
    weights_from_fpc,
)
from socialhealth.design.pps import (
    HartleyRao,
    JointInclusion,
    PPSVariance,
    joint_dcheck,
    method_label,
    resolve_pps,
)
from socialhealth.design.taylor_variance import DomainColumns, taylor_vcov
from socialhealth.errors import DesignError, ProbabilityError


class SurveyDesign(DesignBase):
    """A complex survey design analysed by Taylor linearisation (R ``svydesign``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent. Never drop rows for a subpopulation before building the
        design: use :meth:`subset` afterwards.
    weights : str, optional
        Sampling (analysis) weight column. Must be positive and non-missing. Stored as R
        stores it, ``1 / (1 / w)`` (R keeps ``prob = 1 / w``): equal to ``w`` up to an ulp.
    strata : str or list of str, optional
        Stratum column (one per stage; later stages are nested in the enclosing unit).
    psu : str or list of str, optional
        Cluster columns, one per sampling stage (``["dnum", "snum"]`` for two stages). Omit for
        element sampling (each row its own PSU, R ``id = ~1``).
    fpc : str or list of str, optional
        Finite population correction per stage: the population number of units in the stratum
        (> 1) or the sampling fraction (<= 1). With ``pps="brewer"``, the PSU inclusion
        probabilities. Without weights, weights are implied by the fpcs (as R).
    probs : str or list of str, optional
        Selection probabilities instead of weights (weights = 1 / product over stages).
    nest : bool, default False
        PSU codes are only unique within strata (PSU 1, 2 in every stratum). Without
        ``nest=True`` a PSU code found in two strata raises
        :class:`~socialhealth.errors.NestingError`.
    lonely_psu : {"fail", "remove", "adjust", "average", "certainty"}, default "fail"
        What to do with strata that have a single PSU (R ``options(survey.lonely.psu=)``):
        see :mod:`socialhealth.design.taylor_variance`.
    pps : {None, "brewer", "overton", "hartley-rao"}, HR(...) or ppsmat(...)
        Probability-proportional-to-size sampling without replacement (PPS WOR) at the first
        stage, with the inclusion probabilities ``pi_i`` in ``fpc=`` (or ``probs=``):

        * ``"brewer"``: Brewer's approximation (R ``pps = "brewer"``; Brewer 2002), also for
          multistage designs (later stages weighted by ``pi_i``);
        * ``"overton"``: Overton's (1985) approximation of the joint probabilities
          (R ``pps = "overton"``);
        * ``"hartley-rao"`` / ``sh.design.HR(psum)``: Hartley & Rao's (1962) approximation,
          ``psum`` = population sum of ``pi_k^2`` over the sample size, estimated when omitted
          (R ``pps = HR()`` / ``HR(psum)``);
        * ``sh.design.ppsmat(joint)``: the exact Horvitz-Thompson (1952) variance from the joint
          inclusion probabilities (R ``pps = ppsmat(jointprob)``).

        The last three are one-stage only, take the weights from ``1 / pi_i`` (no
        ``weights=``) and ignore ``lonely_psu`` (a stratum with one PSU adds the HT term
        ``(1 - pi_i) x_i^2``), as R does. Formulas: :mod:`socialhealth.design.pps`.
        Means, totals, ratios, domains, glm, quantiles, variances, t-tests, chi-squared tests
        and tables of these designs are checked against R survey 4.1-1.
    variance : {"HT", "YG"}, default "HT"
        With ``pps="overton"``, ``HR`` or ``ppsmat``: the Horvitz-Thompson form or the
        Sen-Yates-Grundy form (Yates & Grundy 1953) of the variance (R ``variance =``).
    adjust_domain_lonely : bool, default False
        Also treat strata where a domain has a single PSU as lonely (R
        ``options(survey.adjust.domain.lonely = TRUE)``).
    ultimate_cluster : bool, default False
        Use the first stage only for the variance (R ``options(survey.ultimate.cluster = TRUE)``).

    Notes
    -----
    Variance formulas: :mod:`socialhealth.design.taylor_variance` (Wolter 2007; Lumley 2010).
    Degrees of freedom: number of PSUs minus number of strata, counted over the rows of the
    current subset (R ``degf``).

    **The design's data.** As R's ``svydesign`` keeps its own copy of the data, the design
    keeps its own frame, ``design.data``: a shallow copy of ``data``, so no values are copied
    when the design is defined (about 3 KB for a million rows). With pandas copy-on-write
    (always on in pandas >= 3; ``pd.options.mode.copy_on_write = True`` in pandas 2) later
    edits of your frame do not reach the design: after ``df.loc[:10, "y"] = 0`` the design's
    means, totals and models still use the values it was defined with (pandas then copies
    the edited column in your frame), and weights, strata and PSUs always stay as defined.
    Without copy-on-write (pandas 2 by default) columns added to or dropped from your frame
    do not reach the design, but an in-place edit of a value does; define the design again
    after editing the data, or give it ``df.copy()`` (which doubles the memory). Designs made
    from it (``subset``, ``post_stratify``, ``calibrate``, ``to_replicate``) share its frame;
    :class:`~socialhealth.ReplicateDesign` and :class:`~socialhealth.TwoPhaseDesign` keep theirs
    the same way.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> dstrat = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> dstrat
    Stratified element survey design (Taylor linearisation)
      rows: 200
      strata: 3, PSUs: 200, degrees of freedom: 197
      weights: pw, sum 6,194
      fpc: fpc; lonely_psu: fail (no stratum has a single PSU, so it does not apply)
      In R: svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = df)
    >>> dstrat.mean("api00")
    Survey mean: Stratified element survey design (Taylor linearisation)
     term level  estimate      se  ci_low  ci_high  df
    api00  None   655.678 6.69374 642.478  668.879 197
    200 rows used; CIs: t with design df
    In R: svymean(~api00, design, na.rm = TRUE)

    Two-stage cluster sample (weights implied by the fpcs) and a stratified cluster sample
    whose PSU codes repeat across strata:

    >>> apiclus2 = sh.datasets.load_example("apiclus2")
    >>> dclus2 = sh.SurveyDesign(apiclus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    >>> print(dclus2.mean("api00").to_frame()[["term", "estimate", "se"]].round(2).to_string())
        term  estimate    se
    0  api00    672.75  6.41
    >>> nhanes = sh.datasets.load_example("nhanes")
    >>> dnhanes = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
    ...                           nest=True)
    >>> dnhanes.n_strata, dnhanes.n_psu, dnhanes.degf()
    (15, 31, 16.0)

    In R: ``svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)``;
    ``svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)``;
    ``svydesign(id = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE,
    data = nhanes)``.
    """

    kind = "taylor"

    def __init__(
        self,
        data: pd.DataFrame,
        weights: str | None = None,
        strata: str | list[str] | None = None,
        psu: str | list[str] | None = None,
        fpc: str | list[str] | None = None,
        probs: str | list[str] | None = None,
        nest: bool = False,
        lonely_psu: Literal["fail", "remove", "adjust", "average", "certainty"] = "fail",
        pps=None,
        adjust_domain_lonely: bool = False,
        ultimate_cluster: bool = False,
        variance: str = "HT",
    ) -> None:
        check_data_frame(data, "SurveyDesign")
        data = design_frame(data)     # its own frame, as R (see design_frame)
        check_column_arguments(weights=weights, strata=strata, psu=psu, fpc=fpc, probs=probs)
        if weights is not None and not isinstance(weights, (str, int, np.integer)):
            raise DesignError(f"weights= takes one column name (the analysis weight), not "
                              f"{weights!r}; for weights over stages give probs= per stage.")
        check_lonely_psu(lonely_psu)
        nest = check_flag(nest, "nest")
        adjust_domain_lonely = check_flag(adjust_domain_lonely, "adjust_domain_lonely")
        ultimate_cluster = check_flag(ultimate_cluster, "ultimate_cluster")
        spec = resolve_pps(pps)
        if not is_choice(variance, ("HT", "YG")):
            raise DesignError(f"variance={show_given(variance)} is not one of 'HT' "
                              "(Horvitz-Thompson) or 'YG' (Yates-Grundy).")
        if variance == "YG" and spec in (None, "brewer"):
            raise DesignError(
                "variance='YG' (Yates-Grundy) needs pps='overton', pps=sh.design.HR(...) or "
                "pps=sh.design.ppsmat(...); R also refuses it for other designs (\"Only "
                "variance='HT' supported for this design\")."
            )
        if spec == "brewer" and not fpc:
            raise DesignError("pps='brewer' needs fpc= holding the PSU inclusion probabilities.")
        psu_l, strata_l, fpc_l, probs_l = (as_list(psu), as_list(strata), as_list(fpc),
                                           as_list(probs))
        exact = spec is not None and spec != "brewer"
        if exact:
            _check_exact_pps_arguments(spec, weights, psu_l, fpc_l, probs_l)
        cols = [c for c in [weights, *psu_l, *strata_l, *fpc_l, *probs_l] if c is not None]
        require_columns(data, cols, "the data passed to SurveyDesign")
        if len(data) == 0:
            raise DesignError("the data frame has no rows; a design needs at least one respondent.")
        self.data = data
        self._stages = build_stages(data, psu_l, strata_l, fpc_l, nest,
                                    None if spec is None else
                                    spec if isinstance(spec, str) else spec.r_code())
        w = design_weights(data, weights, probs_l)
        if w is not None and weights is not None:
            # R keeps prob = 1 / w and analyses with weights 1 / prob, which differ from w by
            # an ulp in about one value in five; the same doubles here, so that exact ties of
            # the weighted CDF (quantiles of equal-weight samples) are decided as in R
            w = 1.0 / (1.0 / w)
        if w is None:
            w = weights_from_fpc(self._stages)
        if exact:
            self._stages[0] = _exact_pps_stage(data, self._stages[0], spec, variance,
                                               fpc_l, probs_l)
        self._weights_given = w is not None
        self._w = np.ones(len(data)) if w is None else np.asarray(w, dtype=float)
        self.lonely_psu = lonely_psu
        self.adjust_domain_lonely = adjust_domain_lonely
        self.ultimate_cluster = ultimate_cluster
        self._cache: dict = {}
        self._calibrations: tuple = ()   # objects with .residualize(Z) -> Z (calibration.py)
        self.variance = variance
        self._spec = dict(weights=weights, strata=strata_l, psu=psu_l, fpc=fpc_l, probs=probs_l,
                          nest=nest, pps=spec)

    # ------------------------------------------------------------------ hooks
    def _variance_of(self, Z: np.ndarray | DomainColumns, rows=None) -> np.ndarray:
        # calibrated designs (post-stratification, raking, GREG) replace the influence values
        # by their residuals from the calibration model before the design variance
        # (Deville & Sarndal 1992; R svyrecvar's postStrata step)
        # calibrate(stage=1) residuals apply below their stage only (taylor_vcov's
        # stage_residuals); the others to every stage
        if self._calibrations and isinstance(Z, DomainColumns):
            Z = Z.dense()
        later = [c for c in self._calibrations if getattr(c, "stage", 0)]
        for cal in self._calibrations:
            if not getattr(cal, "stage", 0):
                Z = cal.residualize(Z)
        return taylor_vcov(Z, self._stages, self.lonely_psu, self.adjust_domain_lonely,
                           self.ultimate_cluster, rows, stage_residuals=later)

    def _domain_ratio_vcov(self, num, den, theta):
        # ratios of separate domains (DesignBase._ratio_estimate(domains=True))
        return self._ratio_vcov(num, den, theta, domains=True)

    def _ratio_vcov(self, num, den, theta, domains: bool = False):
        w = self._w
        if den is None:
            Z = w[:, None] * num
            bad = np.zeros(num.shape[1], dtype=bool)
        else:
            D = np.einsum("i,ij->j", w, den) if den.ndim == 2 else w @ den   # no BLAS threads
            bad = ~(np.abs(D) > 0) | ~np.isfinite(theta)
            with np.errstate(divide="ignore", invalid="ignore"):
                # in place, elementwise as w (num - theta den) / D
                Z = num - np.where(bad, 0.0, theta) * den
                Z *= w[:, None]
                Z /= np.where(bad, 1.0, D)
            Z[:, bad] = 0.0
            if domains and self._lonely_rows_matter():
                # the rows of each ratio (its domain): those with a denominator or numerator
                return self._variance_of(Z, rows=(den != 0) | (num != 0))
        return self._variance_of(Z)

    def _domain_vcov(self, theta, vals, dcodes, n_domains, totals_den, all_rows=False):
        w = self._w
        k = vals.shape[1]
        # all_rows: every row in the one domain, so no per-row domain bookkeeping
        ok = np.broadcast_to(True, dcodes.shape) if all_rows else dcodes >= 0
        all_ok = all_rows or bool(ok.all())
        # z = w (vals - theta_d) / N_d on the rows of domain d, 0 elsewhere; computed in place
        # (one n x k temporary), elementwise in the same order as w * (vals - th) / den
        wu = w if all_ok else np.where(ok, w, 0.0)
        if totals_den is None:
            z = wu[:, None] * vals
        elif n_domains == 1:
            th = float(np.nan_to_num(np.asarray(theta, dtype=float)).reshape(-1)[0]) if k == 1 \
                else np.nan_to_num(np.asarray(theta, dtype=float))
            den = float(totals_den[0]) if totals_den[0] > 0 else 1.0
            z = vals - th
            z *= wu[:, None]
            if all_ok:
                # one domain holding every row: plain influence columns, and the 1/N factor
                # applied to the covariance (k x k) instead of to the n influence values (equal
                # up to rounding)
                return self._variance_of(self._all_rows(z)) / (den * den)
            z /= den
        else:
            # per-domain arrays (th / den above are scalars)
            th_d = np.nan_to_num(np.asarray(theta, dtype=float).reshape(n_domains, k))
            den_d = np.where(totals_den > 0, totals_den, 1.0)
            idx = np.where(ok, dcodes, 0)
            z = vals - th_d[idx]
            z *= wu[:, None]
            z /= den_d[idx][:, None]
        if all_ok and n_domains == 1:
            return self._variance_of(self._all_rows(z))
        if not all_ok:
            z[~ok] = 0.0
        return self._variance_of(DomainColumns(z, dcodes, n_domains))

    def _lonely_rows_matter(self) -> bool:
        # lonely_psu="average" and "fail" look at the strata holding rows of the estimate,
        # whatever their values (a stratum whose rows are all 0 still counts, as in R)
        return self.lonely_psu in ("average", "fail") and any(
            (st.n_units == 1).any() for st in self._stages)

    def _all_rows(self, z: np.ndarray):
        # every row is used: mark them all when single-unit strata make it matter
        if not self._lonely_rows_matter():
            return z
        return DomainColumns(z, np.zeros(len(z), dtype=np.int64), 1)

    def _general_vcov(self, theta, influence: Callable[[], np.ndarray] | None,
                      refit=None) -> np.ndarray:
        if influence is None:   # not reached: every caller on a Taylor design gives influence
            raise DesignError("a Taylor design needs the influence values of the estimate.")
        # influence.rows(): the rows used by each column (domains), where single-PSU strata
        # make it matter (see _lonely_rows_matter)
        rows = getattr(influence, "rows", None)
        if rows is not None and self._lonely_rows_matter():
            return self._variance_of(influence(), rows=rows())
        return self._variance_of(influence())

    def _r_keeps_rows(self) -> bool:
        # R's `[.survey.design2` keeps the rows of calibrated designs (postStratify, rake,
        # calibrate) and `[.pps` those of PPS designs (pps=), giving them prob = Inf
        return bool(self._calibrations) or self._spec.get("pps") is not None

    def _with_weights(self, w, data=None):
        new = copy.copy(self)
        new._cache = {}
        new._w = np.asarray(w, dtype=float)
        if data is not None:
            new.data = data
        return new

    # ------------------------------------------------------------------ information
    @property
    def stages(self):
        """Sampling structure (integer codes per stage)."""
        return self._stages

    def _counts(self) -> tuple[int, int]:
        def count():
            st = self._stages[0]
            active = self.in_subset
            units = np.bincount(st.unit[active] if not active.all() else st.unit,
                                minlength=st.n_psu) > 0
            strata = np.bincount(st.unit_stratum[units.nonzero()[0]], minlength=st.n_strata) > 0
            return (int(strata.sum()), int(units.sum()))
        return self._cached("counts", count)

    @property
    def n_strata(self) -> int:
        """First-stage strata with at least one row in the subset."""
        return self._counts()[0]

    @property
    def n_psu(self) -> int:
        """First-stage PSUs with at least one row in the subset."""
        return self._counts()[1]

    def degf(self) -> float:
        """Design degrees of freedom: PSUs minus strata among rows of the subset (R ``degf``).

        ``df = #PSUs - #strata`` counting first-stage units and strata with at least one row in
        the subset (Korn & Graubard 1999, *Analysis of Health Surveys*; Lumley 2010). Used for
        t-based confidence intervals and tests.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> d.degf()                                  # 15 PSUs in 1 stratum
        14.0
        >>> d.subset(d.data.stype == "H").degf()      # PSUs with a high school
        7.0

        In R: ``degf(dclus1)``; ``degf(subset(dclus1, stype == "H"))``.
        """
        return float(self.n_psu - self.n_strata)

    def single_psu_strata(self) -> list:
        """Labels of first-stage strata with a single sampled PSU."""
        st = self._stages[0]
        return list(st.stratum_labels[st.n_units == 1])

    def r_code(self, data_name: str = "df") -> str:
        """The R ``svydesign`` call that builds the same design."""
        s = self._spec
        ids = " + ".join(s["psu"]) if s["psu"] else "1"
        parts = [f"id = ~{ids}"]
        if s["strata"]:
            parts.append("strata = ~" + " + ".join(s["strata"]))
        if s["weights"]:
            parts.append(f"weights = ~{s['weights']}")
        if s["probs"]:
            parts.append("probs = ~" + " + ".join(s["probs"]))
        if s["fpc"]:
            parts.append("fpc = ~" + " + ".join(s["fpc"]))
        if s["nest"]:
            parts.append("nest = TRUE")
        if isinstance(s["pps"], (HartleyRao, JointInclusion)):
            parts.append(f"pps = {s['pps'].r_code()}")
        elif s["pps"]:
            parts.append(f'pps = "{s["pps"]}"')
        if self.variance != "HT":
            parts.append(f'variance = "{self.variance}"')
        parts.append(f"data = {data_name}")
        code = f"svydesign({', '.join(parts)})"
        opts = []
        if self.lonely_psu != "fail":
            opts.append(f'survey.lonely.psu = "{self.lonely_psu}"')
        if self.adjust_domain_lonely:
            opts.append("survey.adjust.domain.lonely = TRUE")
        if self.ultimate_cluster:
            opts.append("survey.ultimate.cluster = TRUE")
        if opts:
            code = f"options({', '.join(opts)}); " + code
        return self._r_wrap(code, data_name)

    def describe(self) -> str:
        """Text description: design type, rows, strata, PSUs, degrees of freedom, weights.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> print(d.subset('stype != "E"').describe())  # doctest: +ELLIPSIS
        Stratified element survey design (Taylor linearisation)
          rows: 200 (100 in subset)
          strata: 2, PSUs: 100, degrees of freedom: 98
          weights: pw, sum 1,773
          fpc: fpc; lonely_psu: fail (no stratum has a single PSU, so it does not apply)
          In R: subset(svydesign(id = ~1, strata = ~stype, ...), stype != "E")

        In R: ``print(design)`` / ``summary(design)``.
        """
        st = self._stages
        kind = []
        if self._spec["strata"]:
            kind.append("stratified")
        kind.append(f"{len(st)}-stage cluster" if self._spec["psu"] else "element")
        if self._spec["pps"] is not None:
            kind.append(f"PPS ({method_label(self._spec['pps'])}"
                        + (", Yates-Grundy)" if self.variance == "YG" else ")"))
        lines = [
            f"{' '.join(kind).capitalize()} survey design (Taylor linearisation)",
            f"  rows: {amount(self.n)}"
            + (f" ({amount(len(self))} in subset)" if len(self) < self.n else ""),
            f"  strata: {amount(self.n_strata)}, PSUs: {amount(self.n_psu)}, degrees of freedom: "
            f"{amount(self.degf())}",
            "  weights: "
            + str(self._spec['weights']
                  or ('1/' + '*'.join(self._spec['probs']) if self._spec['probs']
                      else ('implied by fpc' if self._weights_given else 'none (equal)')))
            + f", sum {amount(self._w.sum())}",
            f"  fpc: {', '.join(self._spec['fpc']) or 'none (with replacement)'}; "
            + self._lonely_psu_text(),
            f"  In R: {self.r_code()}",
        ]
        return "\n".join(lines)

    def _lonely_psu_text(self) -> str:
        # the single-PSU rule acts only on strata with one sampled PSU: say whether any has one
        n_single = len(self.single_psu_strata())
        if n_single == 0:
            return (f"lonely_psu: {self.lonely_psu} (no stratum has a single PSU, so it does "
                    "not apply)")
        return (f"lonely_psu: {self.lonely_psu} ({n_single} "
                + ("stratum has" if n_single == 1 else "strata have") + " a single PSU)")

    # ------------------------------------------------------------------ public extension API
    @property
    def spec(self) -> dict:
        """The columns and options the design was built with (a copy).

        Keys: ``weights`` (column name or None), ``strata``, ``psu``, ``fpc``, ``probs`` (lists
        of column names, empty when not given), ``nest`` and ``pps``.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc").spec["psu"]
        ['dnum']

        In R: ``design$call``.
        """
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self._spec.items()}

    @property
    def weights_column(self) -> str | None:
        """Name of the weight column (None: weights from ``probs``/``fpc`` or equal weights)."""
        return self._spec["weights"]

    def to_replicate(self, method: Literal["jk1", "jkn", "brr", "fay", "bootstrap",
                                           "subbootstrap", "mrbbootstrap"] = "jkn",
                     **options):
        """Replicate-weight version of this design (R ``as.svrepdesign``).

        Builds jackknife (``"jk1"``, ``"jkn"``), balanced repeated replication (``"brr"``,
        ``"fay"``) or bootstrap (``"bootstrap"``, ``"subbootstrap"``) replicate weights from the
        strata and PSUs, or Preston's multistage rescaled bootstrap (``"mrbbootstrap"``, which
        resamples every stage and needs the fpc of every stage); formulas, options and
        references (Wolter 2007; Rao & Wu 1988; Preston 2009; Lumley 2010, §2.5) in
        :func:`socialhealth.design.replicate_weights.as_replicate`.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> r = d.to_replicate("jk1")
        >>> r
        Replicate-weight survey design (jk1, 15 replicates)
          rows: 119
          scale: 0.914839; rscales: 1; mse: False; degrees of freedom: 14
          weights: pw, sum 6,005.53
        >>> r.mean("api00")
        Survey mean: Replicate-weight survey design (jk1, 15 replicates)
         term level  estimate      se  ci_low  ci_high  df
        api00  None   656.706 16.9668 620.316  693.096  14
        119 rows used; CIs: t with design df
        In R: svymean(~api00, design, na.rm = TRUE)

        In R: ``as.svrepdesign(dclus1, type = "JK1")``;
        ``as.svrepdesign(dclus2, type = "mrbbootstrap", replicates = 50)`` is
        ``d2.to_replicate("mrbbootstrap", replicates=50, seed=1)`` (the draws differ from R's).
        """
        from socialhealth.design.replicate_weights import as_replicate

        return as_replicate(self, method, **options)


def _check_exact_pps_arguments(spec, weights, psu, fpc, probs) -> None:
    """Arguments R accepts for pps='overton', HR() and ppsmat(), refused when R would ignore
    them or stop."""
    name = {"overton": "pps='overton'"}.get(spec) if isinstance(spec, str) else (
        "pps=HR(...)" if isinstance(spec, HartleyRao) else "pps=ppsmat(...)")
    if len(psu) > 1:
        raise DesignError(
            f"{name} is for one-stage designs; R stops too (\"Multistage PPS sampling not "
            "supported\"). Use pps='brewer' for a multistage design, or give the first-stage "
            "PSUs only (ultimate clusters)."
        )
    if weights is not None:
        raise DesignError(
            f"with {name} the weights are 1 / inclusion probability: give the probabilities in "
            "fpc= (or probs=) and leave weights= out (R ignores weights= here)."
        )
    if not fpc and not probs:
        raise ProbabilityError(
            f"{name} needs the PSU inclusion probabilities in fpc= (or probs=), e.g. "
            "SurveyDesign(df, fpc='p', pps='overton')."
        )
    if len(probs) > 1:
        raise DesignError(f"{name} takes one probs= column (one stage); got {len(probs)}.")


def _exact_pps_stage(data, stage, spec, variance, fpc, probs):
    """First stage with its :class:`~socialhealth.design.pps.PPSVariance` attached."""
    unit = stage.unit
    if probs:
        p_row = numeric_column(data, probs[0], "probability", ProbabilityError)
        pi = np.zeros(stage.n_psu)
        pi[unit] = p_row
        if np.any(np.abs(p_row - pi[unit]) > 1e-12 * np.abs(p_row)):
            raise ProbabilityError(f"inclusion probabilities in {probs[0]!r} vary within a PSU.")
        if stage.inclusion_prob is not None:
            diff = np.abs(stage.inclusion_prob - pi) > 1e-10 * pi
            if diff.any():
                raise ProbabilityError(
                    f"fpc {fpc[0]!r} and probs {probs[0]!r} give different inclusion "
                    "probabilities (R would use probs= and ignore fpc=); give one of them."
                )
    else:
        pi = stage.inclusion_prob
    h = stage.unit_stratum
    if isinstance(spec, JointInclusion):
        n_rows, k = len(unit), spec.joint.shape[0]
        if k == stage.n_psu:
            # PSU-level matrix in order of first appearance; PSU codes are in sorted order
            first = np.unique(unit, return_index=True)[1]
            order = np.argsort(first, kind="stable")      # order[j] = code of j-th PSU seen
            P = np.empty_like(spec.joint)
            P[np.ix_(order, order)] = spec.joint
            D = joint_dcheck(JointInclusion(P, spec.tolerance), pi)
            obj = PPSVariance(unit, pi, h, variance, dcheck=D)
        elif k == n_rows:
            same = unit[:, None] == unit[None, :] if stage.n_psu < n_rows else None
            D = joint_dcheck(spec, pi[unit], same_psu=same)
            obj = PPSVariance(np.arange(n_rows), pi[unit], h[unit], variance, dcheck=D)
        else:
            raise DesignError(
                f"the joint inclusion probability matrix is {k} x {k}, but the design has "
                f"{n_rows} rows and {stage.n_psu} PSUs: give one row and column per data row "
                "(as R's ppsmat) or per PSU (in order of first appearance)."
            )
    else:
        psum = None
        if isinstance(spec, HartleyRao) and spec.psum is not None:
            labels = stage.stratum_labels.tolist()   # plain values for the message
            if isinstance(spec.psum, dict) and stage.n_strata == 1 and len(spec.psum) == 1:
                psum = np.array(list(spec.psum.values()), dtype=float)
            elif isinstance(spec.psum, dict):
                missing = [lab for lab in labels if lab not in spec.psum]
                if missing:
                    raise DesignError(
                        f"HR(psum=) has no value for stratum {show(missing[0])}; give a dict with "
                        f"every stratum ({show_list(labels, limit=10)})."
                    )
                psum = np.array([spec.psum[lab] for lab in labels], dtype=float)
            elif stage.n_strata > 1:
                raise DesignError(
                    f"HR(psum={show_given(spec.psum)}) is one number but the design has "
                    f"{stage.n_strata} strata: give a dict {{stratum: psum}} (R: HR(psum, strata))."
                )
            else:
                psum = np.array([spec.psum])
        method = "overton" if spec == "overton" else "hr"
        obj = PPSVariance.structured(method, unit, pi, h, variance, psum)
    return dataclasses.replace(stage, inclusion_prob=pi, pps=obj)
