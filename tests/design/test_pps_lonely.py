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


@pytest.mark.parametrize("option", ["adjust", "average"])
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
