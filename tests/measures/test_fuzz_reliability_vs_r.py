"""Differential ("fuzz") tests of measures.reliability() against R psych 2.2.9 on 52 seeded
synthetic item sets.

Fixture: ``fixtures/fuzz_measures/fuzz_reliability.json``, written by
``fixtures/fuzz_measures/make_fuzz_reliability.R`` (seed 20261207; 2-20 items, 20-2000 rows,
Likert 1-4 / 1-5 / 0-3 and continuous items, MCAR missing items, a negatively loading item,
near-singular and exactly singular sets, near-duplicate items, a constant item). The data are in
the fixture (round-tripped through JSON before R analyses them, so both sides see the same
doubles); R works on the complete rows, as reliability() documents (listwise).

Tolerances:

* 1e-8 (absolute) -- the closed forms: alpha, standardised alpha, ase, the Feldt and Duhachek
  intervals, item-rest correlations, alpha if dropped, item means and SDs (observed ~1e-15).
* 1e-8 -- omega total and the loadings against the tight one-factor fit written in the R script
  itself (not psych): the minres criterion sum_{i<j} (r_ij - l_i l_j)^2 minimised to machine
  precision (optim BFGS reltol 1e-16 + Newton for the unrestricted fit; L-BFGS-B with factr = 0
  for psych's bounded parametrisation). Observed agreement ~1e-10.
* 1e-5 (omega) / 1e-4 (loadings) -- against psych::omega(nfactors = 1, fm = "minres") itself
  where no bound is active. psych minimises with optim L-BFGS-B at its default factr = 1e7, i.e.
  it stops when the objective changes by less than ~2e-9 relative; the objective is quadratic
  near the optimum, so the loadings are only accurate to about the square root of that
  (1e-5 to 1e-4); observed: at most 4.4e-6 on omega and 2.5e-5 on a loading (set01, set03),
  where psych's loadings are exactly as far (to 1e-8) from the tight R fit as from
  socialhealth's, which the test checks. psych's residual sum of squares at its own loadings is
  larger than the tight one's in every set (``ssr_psych > ssr_bounded`` in the fixture), so the
  gap is psych's early stop, not a different criterion.
* Heywood cases (``psych_bound_active``): psych keeps every uniqueness >= 0.005; its early stop
  then leaves omega 2e-4 to 2e-3 from the bounded optimum (the criterion is flat along the
  boundary). There socialhealth is checked at 1e-8 against the tight bounded fit, and against
  psych by the criterion itself: its residual sum of squares must not exceed psych's.

Expected differences from psych (documented, checked another way):

* psych::omega's default ``flip = TRUE`` reverses items with a negative g loading before
  summing the correlation matrix; reliability() does not reverse anything (like alpha with
  ``check.keys = FALSE``): its omega matches ``flip = FALSE``, and after reversing those items
  (max + min - x) it matches psych's default.
* An exactly singular correlation matrix (an item = the sum of the others): reliability() gives
  omega NaN with a warning (documented); psych fits it anyway.
* A constant item: reliability() raises EstimationError (alpha is undefined); psych::alpha
  returns numbers with warnings.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import EstimationError, SocialHealthWarning

FIX = Path(__file__).parent / "fixtures" / "fuzz_measures" / "fuzz_reliability.json"
SETS = json.loads(FIX.read_text())["sets"]
CLOSED = 1e-8
TIGHT = 1e-8
PSYCH_OMEGA = 1e-5
PSYCH_LOADING = 1e-4


def _data(s: dict) -> pd.DataFrame:
    return pd.DataFrame({c: np.array([np.nan if v is None else v for v in vals], dtype=float)
                         for c, vals in s["data"].items()})


def _fit(s: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        return measures.reliability(_data(s))


def _ssr(r: np.ndarray, load: np.ndarray) -> float:
    e = r - np.outer(load, load)
    return float(np.sum(e[np.triu_indices(len(load), 1)] ** 2))


def _ids(sets):
    return [f"{s['label']}-k{s['k']}-n{s['n']}-{s['spec']['type']}" for s in sets]


FITTABLE = [s for s in SETS if not s.get("constant_item")]


def _exactly_singular(s: dict) -> bool:   # a Likert item set to the exact sum of the others
    return bool(s["spec"].get("near_singular")) and s["spec"]["type"] != "continuous"


OMEGA = [s for s in FITTABLE if "omega_bounded" in s and not _exactly_singular(s)]
INTERIOR = [s for s in OMEGA if not s["psych_bound_active"]]
BOUNDED = [s for s in OMEGA if s["psych_bound_active"]]


def test_fixture_covers_the_cases_the_brief_asks_for():
    specs = [s["spec"] for s in SETS]
    assert 40 <= len(SETS) <= 60
    assert {sp["type"] for sp in specs} == {"1-4", "1-5", "0-3", "continuous"}
    assert min(s["k"] for s in SETS) == 2 and max(s["k"] for s in SETS) == 20
    assert min(sp["n"] for sp in specs) == 20 and max(sp["n"] for sp in specs) == 2000
    assert sum(s["n_dropped"] > 0 for s in SETS) >= 10
    for flag in ("negative", "near_singular", "duplicate", "constant"):
        assert any(sp.get(flag) for sp in specs), flag
    assert len(BOUNDED) >= 3 and len(INTERIOR) >= 35


@pytest.mark.parametrize("s", FITTABLE, ids=_ids(FITTABLE))
def test_closed_forms_match_psych_alpha(s):
    res = _fit(s)
    assert (res.n, res.k, res.n_dropped) == (s["n"], s["k"], s["n_dropped"])
    assert res.alpha == pytest.approx(s["raw_alpha"], abs=CLOSED)
    assert res.std_alpha == pytest.approx(s["std_alpha"], abs=CLOSED)
    assert res.ase == pytest.approx(s["ase"], abs=CLOSED)
    assert res.feldt_ci == pytest.approx((s["feldt_lower"], s["feldt_upper"]), abs=CLOSED)
    assert res.duhachek_ci == pytest.approx((s["duhachek_lower"], s["duhachek_upper"]),
                                            abs=CLOSED)
    items = res.items.set_index("item")
    for name in s["r_drop"]:
        assert items.loc[name, "item_rest_r"] == pytest.approx(s["r_drop"][name], abs=CLOSED)
        assert items.loc[name, "mean"] == pytest.approx(s["item_mean"][name], abs=CLOSED)
        assert items.loc[name, "sd"] == pytest.approx(s["item_sd"][name], abs=CLOSED)
        if s["k"] > 2:
            assert items.loc[name, "alpha_if_dropped"] == pytest.approx(
                s["alpha_if_dropped"][name], abs=CLOSED)
        else:
            assert np.isnan(items.loc[name, "alpha_if_dropped"])
    if s["k"] == 2:
        assert np.isnan(res.omega_total) and res.loadings.empty


@pytest.mark.parametrize("s", FITTABLE, ids=_ids(FITTABLE))
def test_intervals_at_90_percent_match_psych(s):
    x = _data(s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        feldt = measures.reliability(x, level=0.9)
        duh = measures.reliability(x, level=0.9, ci_method="duhachek")
    feldt90 = (s["feldt90_lower"], s["feldt90_upper"])
    duh90 = (s["duhachek90_lower"], s["duhachek90_upper"])
    assert feldt.ci == pytest.approx(feldt90, abs=CLOSED)
    assert duh.ci == pytest.approx(duh90, abs=CLOSED)
    # confint(level=) of a 95% result recomputes the chosen method's interval
    res = _fit(s)
    ci = res.confint(level=0.9).loc["alpha"]
    assert tuple(ci) == pytest.approx(feldt90, abs=CLOSED)


@pytest.mark.parametrize("s", OMEGA, ids=_ids(OMEGA))
def test_omega_matches_the_tight_minres_fit_written_in_r(s):
    res = _fit(s)
    assert res.omega_total == pytest.approx(s["omega_bounded"], abs=TIGHT)
    np.testing.assert_allclose(res.loadings.to_numpy(), s["loadings_bounded"], rtol=0, atol=TIGHT)
    if not s["psych_bound_active"]:   # no bound: the bounded and the unrestricted fit coincide
        assert res.omega_total == pytest.approx(s["omega_uls"], abs=TIGHT)
    assert ("Heywood case" in " ".join(res.notes)) == s["psych_bound_active"]


@pytest.mark.parametrize("s", INTERIOR, ids=_ids(INTERIOR))
def test_omega_matches_psych_omega_within_its_optimiser_tolerance(s):
    res = _fit(s)
    assert res.omega_total == pytest.approx(s["omega_total_noflip"], abs=PSYCH_OMEGA)
    np.testing.assert_allclose(res.loadings.to_numpy(), s["loadings_noflip"], rtol=0,
                               atol=PSYCH_LOADING)
    # the gap to psych is psych's own: its distance from the tight R fit, to 1e-8
    psych_error = np.asarray(s["loadings_noflip"]) - np.asarray(s["loadings_bounded"])
    np.testing.assert_allclose(res.loadings.to_numpy() - s["loadings_noflip"], -psych_error,
                               rtol=0, atol=TIGHT)
    assert s["ssr_psych"] >= s["ssr_bounded"]


@pytest.mark.parametrize("s", BOUNDED, ids=_ids(BOUNDED))
def test_heywood_cases_are_fitted_with_psychs_bound_and_fit_at_least_as_well(s):
    # Regression: the unrestricted fit was returned (omega 1.414 for set32, 1.480 for set35:
    # above 1), where psych::omega keeps every uniqueness >= 0.005 (omega 0.573, 0.593).
    res = _fit(s)
    assert 0 <= res.omega_total <= 1
    r = np.corrcoef(_data(s).dropna().to_numpy(), rowvar=False)
    assert _ssr(r, res.loadings.to_numpy()) <= s["ssr_psych"]
    assert _ssr(r, res.loadings.to_numpy()) == pytest.approx(s["ssr_bounded"], rel=1e-9, abs=1e-15)
    assert abs(res.omega_total - s["omega_total_noflip"]) < 3e-3   # psych's early stop, see top


def test_heywood_three_items_regression():
    # exact one-factor fit of three items: loading_1^2 = r12 r13 / r23 > 1 here
    s = next(s for s in SETS if s["label"] == "set32")
    r = np.corrcoef(_data(s).to_numpy(), rowvar=False)
    lam1_sq = r[0, 1] * r[0, 2] / r[1, 2]
    lam2_sq = r[0, 1] * r[1, 2] / r[0, 2]
    lam3_sq = r[0, 2] * r[1, 2] / r[0, 1]
    assert max(lam1_sq, lam2_sq, lam3_sq) > 1                      # the data are a Heywood case
    unrestricted = 1 - (3 - lam1_sq - lam2_sq - lam3_sq) / r.sum()
    assert unrestricted > 1.4                                      # what was returned before
    res = _fit(s)
    assert res.omega_total == pytest.approx(s["omega_bounded"], abs=TIGHT)
    assert res.omega_total < 0.6


NEGATIVE = [s for s in OMEGA
            if abs(s["omega_total"] - s["omega_total_noflip"]) > 1e-6]


@pytest.mark.parametrize("s", NEGATIVE, ids=_ids(NEGATIVE))
def test_psych_flips_negative_items_socialhealth_does_not(s):
    assert len(NEGATIVE) >= 3
    res = _fit(s)
    assert res.omega_total == pytest.approx(s["omega_total_noflip"], abs=PSYCH_OMEGA)
    g = np.asarray(s["loadings"])          # psych's flip=TRUE g loadings (after reversing)
    # the items psych reversed are those whose (unflipped) loading is negative
    flipped = list(res.loadings[res.loadings < 0].index)
    assert flipped
    x = _data(s)
    for c in flipped:
        x[c] = x[c].max() + x[c].min() - x[c]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        rev = measures.reliability(x)
    assert rev.omega_total == pytest.approx(s["omega_total"], abs=PSYCH_OMEGA)
    np.testing.assert_allclose(rev.loadings.to_numpy(), np.abs(g), atol=PSYCH_LOADING)


def test_exactly_singular_set_gives_nan_omega_where_psych_fits_anyway():
    singular = [s for s in FITTABLE if _exactly_singular(s)]
    assert singular
    for s in singular:
        with pytest.warns(SocialHealthWarning, match="linearly dependent"):
            res = measures.reliability(_data(s))
        assert np.isnan(res.omega_total)
        assert np.isfinite(s["omega_total"])               # psych returns a number


def test_singular_warning_points_at_the_callers_line():
    # Regression: the warning was attributed to socialhealth/_deprecation.py (the decorator
    # around reliability()), not to the line that called reliability().
    s = next(s for s in FITTABLE if _exactly_singular(s))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        measures.reliability(_data(s))
    ours = [w for w in caught if issubclass(w.category, SocialHealthWarning)]
    assert ours and all(w.filename == __file__ for w in ours), [w.filename for w in ours]


def test_constant_item_raises_where_psych_returns_numbers():
    s = next(s for s in SETS if s.get("constant_item"))
    with pytest.raises(EstimationError, match="do not vary"):
        measures.reliability(_data(s))
