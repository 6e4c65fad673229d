"""Coverage of design-based 95% confidence intervals under repeated sampling.

A synthetic finite population (20 strata x 40 PSUs x 30-90 persons, with PSU effects) is
sampled 500 times by a stratified two-stage design: 6 PSUs per stratum by simple random sampling
without replacement, then 12 persons per sampled PSU, again without replacement. Each sample is
analysed with ``SurveyDesign(psu=[psu, person], strata=stratum, fpc=[N_psu, N_person])`` and the
share of 95% t intervals (design df = 120 - 20 = 100) that contain the finite-population value is
counted for a mean, a proportion and a logistic regression slope. The census values come from
plain numpy and statsmodels on the whole population, not from socialhealth.

Issue 3 asks for coverage between 93% and 97% for each. The seed was fixed once, before the
first run, and is not tuned.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import socialhealth as sh

SEED = 20261123
N_SAMPLES = 500


def make_population(rng):
    H, M = 20, 40
    rows = []
    for h in range(H):
        stratum_effect = rng.normal(0, 0.5)
        for j in range(M):
            size = int(rng.integers(30, 91))
            u = rng.normal(0, 0.4)
            x = rng.normal(0, 1, size) + u
            y = 50 + 4 * stratum_effect + 6 * u + 3 * x + rng.normal(0, 5, size)
            eta = -1.0 + 0.6 * x + stratum_effect + u
            z = rng.random(size) < 1 / (1 + np.exp(-eta))
            rows.append(pd.DataFrame({
                "stratum": h, "psu": h * 1000 + j, "person": np.arange(size),
                "N_person": size, "N_psu": M, "x": x, "y": y, "z": z.astype(float),
            }))
    return pd.concat(rows, ignore_index=True)


def draw_sample(pop, psu_index, psu_members, rng, n_psu=6, m=12):
    """Stratified two-stage SRSWOR sample: n_psu PSUs per stratum, m persons per PSU."""
    parts = []
    for psus in psu_index.values():
        for p in rng.choice(psus, n_psu, replace=False):
            parts.append(rng.choice(psu_members[p], m, replace=False))
    return pop.loc[np.concatenate(parts)].reset_index(drop=True)


@pytest.mark.slow
def test_confidence_intervals_cover_the_census_values():
    rng = np.random.default_rng(SEED)
    pop = make_population(rng)
    psu_members = {p: pop.index.to_numpy()[idx] for p, idx in pop.groupby("psu").indices.items()}
    psu_index = {h: g["psu"].unique() for h, g in pop.groupby("stratum")}
    true_mean = pop["y"].mean()
    true_prop = pop["z"].mean()
    census = sm.GLM(pop["z"], sm.add_constant(pop[["x"]]), family=sm.families.Binomial()).fit()
    true_slope = census.params["x"]

    hits = {"mean": 0, "proportion": 0, "slope": 0}
    for _ in range(N_SAMPLES):
        s = draw_sample(pop, psu_index, psu_members, rng)
        d = sh.SurveyDesign(s, strata="stratum", psu=["psu", "person"], fpc=["N_psu", "N_person"])
        assert d.degf() == 100
        m = d.mean("y").to_frame().iloc[0]
        hits["mean"] += m.ci_low <= true_mean <= m.ci_high
        p = d.mean("z").to_frame().iloc[0]
        hits["proportion"] += p.ci_low <= true_prop <= p.ci_high
        fit = d.glm("z ~ x", family="binomial")
        lo, hi = fit.conf_int().loc["x"]
        hits["slope"] += lo <= true_slope <= hi
    coverage = {k: v / N_SAMPLES for k, v in hits.items()}
    for name, c in coverage.items():
        assert 0.93 <= c <= 0.97, f"coverage of the {name} CI is {c:.3f} ({coverage})"
