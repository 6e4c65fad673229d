"""A single-PSU stratum in a PPS (Brewer) stage is never handled silently."""
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import errors


@pytest.fixture
def pps_sample():
    # stratum "a": 3 PSUs, stratum "b": 1 PSU (lonely); inclusion probabilities per PSU
    return pd.DataFrame({"h": ["a", "a", "a", "b"], "p": [0.2, 0.4, 0.3, 0.5],
                         "y": [3.0, 5.0, 4.0, 6.0]})


def test_fail_raises_and_names_the_stratum(pps_sample):
    d = sh.SurveyDesign(pps_sample, strata="h", fpc="p", pps="brewer")
    with pytest.raises(errors.LonelyPSUError, match="'b'"):
        d.total("y")


@pytest.mark.parametrize("option", ["average"])
def test_unverified_options_raise(pps_sample, option):
    d = sh.SurveyDesign(pps_sample, strata="h", fpc="p", pps="brewer", lonely_psu=option)
    with pytest.raises(errors.DesignError, match="PPS"):
        d.total("y")


@pytest.mark.parametrize("option", ["remove", "certainty"])
def test_remove_gives_the_other_strata_only(pps_sample, option):
    d = sh.SurveyDesign(pps_sample, strata="h", fpc="p", pps="brewer", lonely_psu=option)
    se = d.total("y").table["se"][0]
    # Brewer: n/(n-1) sum (1 - pi_i)(t_i - tbar)^2 over stratum a only, t_i = y_i / pi_i
    t = np.array([3 / 0.2, 5 / 0.4, 4 / 0.3])
    v = 3 / 2 * np.sum((1 - np.array([0.2, 0.4, 0.3])) * (t - t.mean()) ** 2)
    assert se == pytest.approx(np.sqrt(v), rel=1e-12)


def test_adjust_centres_the_lonely_psu_at_zero_as_r(pps_sample):
    # Found by the fuzz cases 6 and 15 of test_fuzz_pps_twophase_vs_r.py: socialhealth refused
    # lonely_psu="adjust" in a Brewer stage; R gives the lonely PSU's total centred at 0 with
    # scale 1 - pi (case 6: R SE of the total 266.5066). Here: stratum a as in the test above,
    # plus (1 - 0.5) (6 / 0.5)^2 = 72 for the lonely stratum b.
    # R 4.2 / survey 4.1-1: options(survey.lonely.psu = "adjust"); svytotal(~y, svydesign(
    # id = ~1, strata = ~h, fpc = ~p, pps = "brewer", data = df)): SE 8.68947319717625
    # (svymean: 0.499930008268439)
    d = sh.SurveyDesign(pps_sample, strata="h", fpc="p", pps="brewer", lonely_psu="adjust")
    t = np.array([3 / 0.2, 5 / 0.4, 4 / 0.3])
    v = 3 / 2 * np.sum((1 - np.array([0.2, 0.4, 0.3])) * (t - t.mean()) ** 2) + 0.5 * 12.0 ** 2
    se = d.total("y").table["se"][0]
    assert se == pytest.approx(np.sqrt(v), rel=1e-12)
    assert se == pytest.approx(8.68947319717625, rel=1e-12)
    assert d.mean("y").table["se"][0] == pytest.approx(0.499930008268439, rel=1e-10)
