"""measures.reliability() against R psych::alpha / psych::omega and pingouin.

Expected numbers come from tests/measures/fixtures/reliability_reference.json, written by
tests/measures/fixtures/make_reliability_reference.R (R 4.2.2, psych 2.2.9) from the committed
generated_items.csv and, for the real-data sets, from the files in ../shared/data (only R's
summary numbers are committed; the real-data tests skip when the files are absent).

Tolerances: alpha, standardised alpha, the Feldt and Duhachek intervals, item-rest correlations,
alpha-if-dropped and item SDs are closed-form, so they must agree to 1e-10. Omega total comes
from an iterative minres fit; psych stops its optimiser (optim) with loadings accurate to about
1e-6 (even for three items, where the one-factor fit is exact), so omega and the loadings are
compared at 1e-5 (omega) and 2e-5 (loadings).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import measures
from socialhealth.errors import EstimationError, MeasureError

FIX = Path(__file__).parent / "fixtures"
REF = json.loads((FIX / "reliability_reference.json").read_text())["sets"]
CLOSED = 1e-10


def _generated() -> pd.DataFrame:
    g = pd.read_csv(FIX / "generated_items.csv")
    g["item6"] = 5 - g["item6"]  # worded the other way (the R script does the same)
    return g


def _gss(shared_data_dir: Path) -> pd.DataFrame:
    pyreadstat = pytest.importorskip("pyreadstat")
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip(f"{path} not found")
    df, _ = pyreadstat.read_dta(str(path), usecols=["lonely1_2", "lonely2_2"])
    return df[["lonely1_2", "lonely2_2"]]


def _ess(shared_data_dir: Path, name: str, items: list[str]) -> pd.DataFrame:
    pyreadstat = pytest.importorskip("pyreadstat")
    path = shared_data_dir / "ess" / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    df, _ = pyreadstat.read_sav(str(path), usecols=items)  # user-missing 7/8/9... -> NaN
    return df[items]


def _check_against_r(res, ref: dict) -> None:
    assert res.n == ref["n"]
    assert res.k == ref["k"]
    assert res.alpha == pytest.approx(ref["raw_alpha"], abs=CLOSED)
    assert res.std_alpha == pytest.approx(ref["std_alpha"], abs=CLOSED)
    assert res.ase == pytest.approx(ref["ase"], abs=CLOSED)
    assert res.feldt_ci[0] == pytest.approx(ref["feldt_lower"], abs=CLOSED)
    assert res.feldt_ci[1] == pytest.approx(ref["feldt_upper"], abs=CLOSED)
    assert res.duhachek_ci[0] == pytest.approx(ref["duhachek_lower"], abs=CLOSED)
    assert res.duhachek_ci[1] == pytest.approx(ref["duhachek_upper"], abs=CLOSED)
    assert res.ci == res.feldt_ci  # the default interval is Feldt's
    items = res.items.set_index("item")
    for name, r in ref["r_drop"].items():
        assert items.loc[name, "item_rest_r"] == pytest.approx(r, abs=CLOSED)
        assert items.loc[name, "sd"] == pytest.approx(ref["item_sd"][name], abs=CLOSED)
        assert items.loc[name, "mean"] == pytest.approx(ref["item_mean"][name], abs=CLOSED)
    if ref["k"] > 2:
        for name, a in ref["alpha_if_dropped"].items():
            assert items.loc[name, "alpha_if_dropped"] == pytest.approx(a, abs=CLOSED)
    if "omega_total" in ref:
        assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-5)
        for name, lam in ref["loadings"].items():
            assert res.loadings[name] == pytest.approx(lam, abs=2e-5)
    else:
        assert np.isnan(res.omega_total)


def test_generated_matches_psych():
    res = measures.reliability(_generated(), level=0.95)
    _check_against_r(res, REF["generated"])
    assert res.n_dropped == 400 - REF["generated"]["n"]


@pytest.mark.realdata
def test_gss_2020_loneliness_matches_psych(shared_data_dir):
    res = measures.reliability(_gss(shared_data_dir))
    _check_against_r(res, REF["gss_2020_lonely"])
    assert any("not identified" in n for n in res.notes)


@pytest.mark.realdata
def test_ess9_social_items_match_psych(shared_data_dir):
    res = measures.reliability(_ess(shared_data_dir, "ESS9GB.sav", ["sclmeet", "inprdsc", "sclact"]))
    _check_against_r(res, REF["ess9_social"])


@pytest.mark.realdata
def test_ess7_cesd8_matches_psych(shared_data_dir):
    items = REF["ess7_cesd8"]["items"]
    df = _ess(shared_data_dir, "ESS7GB.sav", items)
    df["wrhpp"] = 5 - df["wrhpp"]
    df["enjlf"] = 5 - df["enjlf"]
    _check_against_r(measures.reliability(df), REF["ess7_cesd8"])


def test_alpha_and_ci_match_pingouin():
    pg = pytest.importorskip("pingouin")
    g = _generated()
    a, _ = pg.cronbach_alpha(g, nan_policy="listwise", ci=0.95)
    res = measures.reliability(g)
    assert res.alpha == pytest.approx(a, abs=1e-12)
    # pingouin takes the Feldt degrees of freedom from the row count *before* listwise deletion,
    # so compare intervals on complete rows only; it rounds the interval to 3 decimals.
    complete = g.dropna()
    a2, ci = pg.cronbach_alpha(complete, ci=0.95)
    res2 = measures.reliability(complete)
    assert res2.alpha == pytest.approx(a2, abs=1e-12)
    assert res2.feldt_ci[0] == pytest.approx(ci[0], abs=5e-4)
    assert res2.feldt_ci[1] == pytest.approx(ci[1], abs=5e-4)


def test_hand_computed_three_items():
    # x = (a, b, c) over 5 rows; covariances by hand (n - 1 = 4): var(a) = 5.2/4 = 1.3,
    # var(b) = 7.2/4 = 1.8, var(c) = 7.2/4 = 1.8, cov(a,b) = 5.2/4 = 1.3, cov(a,c) = 4.8/4 = 1.2,
    # cov(b,c) = 5.8/4 = 1.45 -> trace 4.9, sum of C = 4.9 + 2 * 3.95 = 12.8
    # alpha = 3/2 * (1 - 4.9/12.8) = 0.92578125
    x = pd.DataFrame({"a": [1, 2, 3, 4, 2], "b": [1, 3, 3, 4, 1], "c": [2, 2, 4, 4, 1]})
    res = measures.reliability(x)
    assert res.alpha == pytest.approx(0.92578125, abs=1e-12)
    # three items: one-factor fit is exact, lambda_a^2 = r_ab r_ac / r_bc
    r = x.corr().to_numpy()
    lam2 = np.array([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2], r[0, 2] * r[1, 2] / r[0, 1]])
    assert res.omega_total == pytest.approx(1 - np.sum(1 - lam2) / r.sum(), abs=1e-9)


def test_feldt_interval_at_90_percent_matches_psych_alpha_ci():
    # psych::alpha.ci(alpha, n.obs, n.var, p.val = 0.10)
    ref = REF["generated"]
    res = measures.reliability(_generated(), level=0.90)
    assert res.ci[0] == pytest.approx(ref["feldt90_lower"], abs=CLOSED)
    assert res.ci[1] == pytest.approx(ref["feldt90_upper"], abs=CLOSED)


def test_duhachek_interval_selectable():
    res = measures.reliability(_generated(), level=0.9, ci_method="duhachek")
    assert res.ci == res.duhachek_ci
    assert res.level == 0.9
    frame = res.to_frame()
    assert list(frame.columns) == ["statistic", "estimate", "ci_low", "ci_high", "method", "n", "k"]
    assert frame.loc[frame.statistic == "alpha", "method"].item() == "duhachek"


def test_negative_item_is_flagged():
    g = pd.read_csv(FIX / "generated_items.csv")  # item6 not reversed
    res = measures.reliability(g)
    assert any("item6" in n and "reverse" in n for n in res.notes)


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (pd.DataFrame({"a": [1, 2, 3]}), MeasureError, "at least two items"),
        (pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}), MeasureError, "not numeric"),
        (pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 2, 2]}), EstimationError, "do not vary"),
        (pd.DataFrame({"a": [1, np.nan, 3], "b": [1, 2, np.nan]}), EstimationError, "complete rows"),
    ],
)
def test_bad_input_raises(bad, exc, match):
    with pytest.raises(exc, match=match):
        measures.reliability(bad)


def test_bad_options_raise():
    g = _generated()
    with pytest.raises(MeasureError, match="ci_method"):
        measures.reliability(g, ci_method="boot")
    with pytest.raises(MeasureError, match="level must be"):
        measures.reliability(g, level=95)
    with pytest.raises(MeasureError, match="DataFrame"):
        measures.reliability(g.to_numpy())


def test_too_few_rows_for_omega_gives_nan_with_warning():
    # 3 complete rows, 3 items: the correlation matrix has rank n - 1 = 2 < k = 3, and the
    # one-factor fit degenerated (omega was 2562.9 for these rows, 1002 in the report)
    x = pd.DataFrame({"a": [3, 5, 5], "b": [3, 1, 5], "c": [4, 1, 2]})
    with pytest.warns(UserWarning, match="more rows than items"):
        res = measures.reliability(x)
    assert np.isnan(res.omega_total) and res.loadings.empty
    assert any("omega total not computed" in n for n in res.notes)
    # alpha is still defined; by hand (n - 1 = 2) for a = (1, 2, 3), b = (1, 3, 2),
    # c = (2, 3, 3): var 1, 1, 1/3; every covariance 0.5 -> trace 7/3, sum 7/3 + 3 = 16/3,
    # alpha = 3/2 (1 - 7/16) = 27/32
    y = pd.DataFrame({"a": [1, 2, 3], "b": [1, 3, 2], "c": [2, 3, 3]})
    with pytest.warns(UserWarning, match="3 complete rows for 3 items"):
        res = measures.reliability(y)
    assert res.alpha == pytest.approx(27 / 32, abs=1e-12)
    assert np.isnan(res.omega_total)


def test_linearly_dependent_items_give_nan_omega():
    # c = a + b exactly: singular correlation matrix even with many rows
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(size=50)
    x = pd.DataFrame({"a": a, "b": b, "c": a + b, "d": a - b + rng.normal(size=50)})
    with pytest.warns(UserWarning, match="linearly dependent"):
        res = measures.reliability(x)
    assert np.isnan(res.omega_total)
