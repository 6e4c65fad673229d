"""Messages show values from the data as plain values (``62``), never as numpy reprs.

numpy 2 writes ``repr(np.int64(62))`` as ``np.int64(62)``; a message that formats a stratum
label, a level or an example value taken from an array with ``!r`` shows that to the user.
Each test here builds one such message from numpy-typed data (int64 codes, integer-valued
float codes, booleans, categoricals) and checks the plain value in it; the conftest guard
(``tests/_support/message_watch.py``) watches the same messages for any ``np.int64(...)``.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from message_watch import FLOAT_TAIL, NUMPY_REPR

import socialhealth as sh
from socialhealth import errors, measures, models
from socialhealth._text import amount, plain, show, show_given, show_list
from socialhealth.tables.labels import level_label

NOISE = re.compile(r"np\.|numpy|dtype|Index\(|array\(|<NA>")


def plain_text(message: str) -> str:
    """The message, after checking that it has no numpy/pandas repr in it."""
    assert not NOISE.search(message), message
    return message


def strata_frame(codes=(62, 96, 17), dtype=np.int64) -> pd.DataFrame:
    """Three strata (codes as ``dtype``): two with 2 PSUs, the last with a single PSU."""
    a, b, c = codes
    return pd.DataFrame({
        "stratum": np.array([a] * 4 + [b] * 4 + [c] * 4, dtype=dtype),
        "psu": np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 5], dtype=np.int64),
        "w": np.array([1.0, 2.0, 1.5, 1.0, 2.0, 2.5, 1.0, 1.0, 3.0, 1.0, 2.0, 1.0]),
        "y": np.array([3.0, 4.0, 5.0, 2.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 2.0]),
        "g": np.array([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3], dtype=np.int64),
    })


# ------------------------------------------------------------------------- the formatter
def test_show_writes_numpy_scalars_as_plain_values():
    assert show(np.int64(62)) == "62"
    assert show(np.float64(62.0)) == "62"            # an integer-valued float code
    assert show(np.float64(0.5)) == "0.5"
    assert show(np.True_) == "True"
    assert show(np.str_("urban")) == "'urban'"
    assert show(np.str_("urban"), quote=False) == "urban"
    assert show((np.int64(1), np.str_("a"))) == "(1, 'a')"
    assert show(np.nan) == show(pd.NA) == show(None) == "missing"
    assert type(plain(np.int64(3))) is int and type(plain(np.float64(0.5))) is float


def test_show_keeps_dates_readable():
    # datetime64[ns].tolist() gives nanoseconds since 1970; the formatter gives the date
    days = np.array(["2021-03-01", "2021-03-02"], dtype="datetime64[ns]")
    assert show_list(days) == "2021-03-01, 2021-03-02"
    assert show_list(pd.Series(pd.to_datetime(["2021-03-01 10:30"]))) == "2021-03-01T10:30:00"
    assert show(np.datetime64("NaT")) == "missing"


def test_show_list_joins_and_limits():
    assert show_list(np.array([62, 96], dtype=np.int64)) == "62, 96"
    assert show_list(pd.Index([1.0, 2.5])) == "1, 2.5"
    assert show_list(pd.Categorical(["b", "a"])) == "'b', 'a'"
    assert show_list(range(12), limit=3) == "0, 1, 2, ... (12 in all)"
    assert show_list(range(3), limit=3) == "0, 1, 2"
    assert show_list("abc") == "'abc'"                # a string is one value, not letters


def test_floats_lose_their_arithmetic_tail():
    # written as a person writes them: 17-digit tails of a computation go, what a user typed stays
    assert show(0.1 + 0.2) == show_given(0.1 + 0.2) == "0.3"
    assert show(-(0.1 + 0.2)) == "-0.3"
    assert show(1 / 3) == show_given(np.float64(1 / 3)) == amount(1 / 3) == "0.333333"
    assert show(0.025) == show_given(0.025) == "0.025"
    assert show(1e-8) == "1e-08" and show(123.456789) == "123.456789"
    # from a million on, 12 significant digits (a total of 1234567.89 is not 1234568), and a
    # value just past a round limit does not read as the limit
    assert show(1234567.891234) == "1234567.89123"
    assert show(1234567.891234567) == "1234567.89123"
    assert show_given(1e6 + 1e-7) == "1000000 + 1e-07"
    # not a whole number: written as one with the rounding step, not as "2.0" (which a
    # message asking for a whole number, or refusing a value above 2, would contradict)
    assert show_given(2.0000000000000004) == "2 + 4.4e-16"
    assert show(float("inf")) == "inf"


def test_show_given_writes_tuples_lists_and_arrays_plainly():
    assert show_given((6.0, 4.0)) == "(6, 4)"
    assert show_given((np.float64(0.1) + np.float64(0.2), 1.5)) == "(0.3, 1.5)"
    assert show_given([np.int64(3), None]) == "[3, None]"
    assert show_given(np.linspace(0, 1, 4)) == "[0, 0.333333, 0.666667, 1]"
    assert show_given((2.5,)) == "(2.5,)"
    assert show_given(tuple(range(12))) == "(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all))"
    assert show_given("abc") == "'abc'"


def test_level_label_of_numpy_values():
    assert level_label(np.float64(62.0)) == "62"
    assert level_label(np.int64(3)) == "3"
    assert level_label(np.datetime64("2021-03-01")) == "2021-03-01"
    assert level_label(np.True_) == "Yes"


# ------------------------------------------------------------------------- the guard itself
def test_guard_catches_numpy_scalar_reprs_not_prose():
    assert NUMPY_REPR.search("e.g. np.int64(3), np.int64(4)")
    assert NUMPY_REPR.search("proportion np.float64(0.5)")
    assert NUMPY_REPR.search("level np.str_('a')")
    assert NUMPY_REPR.search("value np.True_ in the column")
    assert NUMPY_REPR.search(repr(np.uint8(7)))
    assert NUMPY_REPR.search(repr(np.datetime64("2021-03-01")))
    assert not NUMPY_REPR.search("the column has dtype np.int64, which cannot be averaged")
    assert not NUMPY_REPR.search("convert it with np.int64 (a whole number) first")
    assert not NUMPY_REPR.search("stratum 62 has a single PSU")


def test_guard_catches_float_tails_not_plain_numbers():
    assert FLOAT_TAIL.search("bandwidth must be positive, not 0.30000000000000004")
    assert FLOAT_TAIL.search(f"level {1 / 3}")
    assert not FLOAT_TAIL.search("bandwidth must be positive, not 0.3 (or 0.333333)")
    assert not FLOAT_TAIL.search("p= adds up to 0.9999999999, not 1; epsilon 1e-08")
    assert not FLOAT_TAIL.search("weights sum to 5,177,653")


# ------------------------------------------------------------------------- design building
def test_lonely_psu_error_names_plain_stratum_codes():
    d = sh.SurveyDesign(strata_frame(), weights="w", strata="stratum", psu="psu")
    with pytest.raises(errors.LonelyPSUError) as e:
        d.mean("y")
    msg = plain_text(str(e.value))
    assert msg.startswith("stratum 17 has only one PSU")


def test_lonely_psu_error_float_codes_read_as_whole_numbers():
    df = strata_frame(dtype=np.float64)
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    with pytest.raises(errors.LonelyPSUError) as e:
        d.mean("y")
    assert plain_text(str(e.value)).startswith("stratum 17 has only one PSU")


def test_nesting_error_examples_are_plain():
    df = strata_frame()
    df["psu"] = np.array([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4], dtype=np.float64)
    with pytest.raises(errors.NestingError) as e:
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    assert "(e.g. 1, 2)" in plain_text(str(e.value))


def test_fpc_not_constant_names_the_stratum():
    df = strata_frame()
    df["fpc"] = [10.0] * 4 + [20.0, 20.0, 21.0, 20.0] + [5.0] * 4
    with pytest.raises(errors.FPCError) as e:
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu", fpc="fpc")
    assert "not constant within stratum 96" in plain_text(str(e.value))


def test_non_positive_weight_minimum_is_plain():
    df = strata_frame()
    df.loc[3, "w"] = -1.5
    with pytest.raises(errors.WeightError) as e:
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    assert "(minimum -1.5)" in plain_text(str(e.value))


def test_probability_out_of_range_example_is_plain():
    df = strata_frame()
    df["p"] = 0.25
    df.loc[2, "p"] = 1.5
    with pytest.raises(errors.SocialHealthError) as e:
        sh.SurveyDesign(df, probs="p", strata="stratum", psu="psu")
    assert "(e.g. 1.5)" in plain_text(str(e.value))


# ------------------------------------------------------------------------- estimation
def test_var_warning_names_the_by_group_plainly():
    df = strata_frame()
    df["h"] = np.array([62] + [96] * 11, dtype=np.int64)
    d = sh.SurveyDesign(df, weights="w")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        d.var("y", by="h")
    texts = [str(r.message) for r in rec if issubclass(r.category, errors.SocialHealthWarning)]
    assert texts, "no warning about the one-row group"
    assert "the by-group h=62 has 1 row" in plain_text(texts[0])


def test_ttest_levels_are_plain():
    d = sh.SurveyDesign(strata_frame(), weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        d.ttest("y ~ g")
    assert "'g' has 3: 1, 2, 3" in plain_text(str(e.value))


def test_gofchisq_levels_are_plain():
    d = sh.SurveyDesign(strata_frame(), weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        d.gofchisq("g", p=[0.5, 0.5])
    assert "(1, 2, 3)" in plain_text(str(e.value))


def test_binomial_outcome_example_is_plain():
    df = strata_frame()
    df["yes"] = np.array([0, 1, 2, 0, 1, 0, 1, 0, 1, 0, 1, 0], dtype=np.int64)
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        d.glm("yes ~ y", family="binomial")
    assert "(e.g. 2)" in plain_text(str(e.value))


def test_post_stratify_cells_and_counts_are_plain():
    df = strata_frame()
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.DesignError) as e:
        d.post_stratify("stratum", {62: 100.0, 96: 200.0})
    assert "post-stratum cell(s) 17 of" in plain_text(str(e.value))
    with pytest.raises(errors.DesignError) as e:
        d.post_stratify("stratum", pd.Series({62: 100.0, 96: -2.0, 17: 50.0}))
    assert "population count for cell 96 is -2;" in plain_text(str(e.value))


def test_standardize_population_value_is_plain():
    d = sh.SurveyDesign(strata_frame(), weights="w")
    with pytest.raises(errors.DesignError) as e:
        d.standardize("y", by="g", population={1: 10.0, 2: 0.0, 3: 5.0})
    assert "standard population value for level 2 is 0;" in plain_text(str(e.value))


# ------------------------------------------------------------------------- replicate weights
def test_replicate_conversion_names_plain_strata():
    d = sh.SurveyDesign(strata_frame(), weights="w", strata="stratum", psu="psu")
    with pytest.raises(errors.SocialHealthError) as e:
        d.to_replicate("jkn")
    assert plain_text(str(e.value)).startswith("stratum 17 has a single PSU")
    with pytest.raises(errors.SocialHealthError) as e:
        d.to_replicate("bootstrap")
    assert plain_text(str(e.value)).startswith("stratum 17 has a single PSU")
    with pytest.raises(errors.SocialHealthError) as e:
        d.to_replicate("brr")
    assert "stratum 17 (1 PSUs)" in plain_text(str(e.value))


def test_twophase_subset_values_are_plain():
    df = strata_frame()
    df["in2"] = np.array([0, 1, 2] * 4, dtype=np.int64)
    with pytest.raises(errors.DesignError) as e:
        sh.TwoPhaseDesign(df, subset="in2", phase1_weights="w", method="approx")
    assert "values such as 0, 1, 2." in plain_text(str(e.value))


# ------------------------------------------------------------------------- models
def survival_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 40
    return pd.DataFrame({
        "time": rng.uniform(1, 10, n),
        "event": np.array([0, 1] * 19 + [2, 1], dtype=np.int64),
        "x": rng.normal(size=n),
        "w": rng.uniform(1, 2, n),
    })


def test_coxph_event_values_are_plain():
    d = sh.SurveyDesign(survival_frame(), weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        models.coxph(d, "time", "event", "x")
    assert "found values 2." in plain_text(str(e.value))


def test_kaplan_meier_event_values_are_plain():
    d = sh.SurveyDesign(survival_frame(), weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        models.kaplan_meier(d, "time", "event")
    assert "found values 2." in plain_text(str(e.value))


def exposure_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 90
    return pd.DataFrame({
        "exp": np.tile(np.array([1, 2, 3], dtype=np.int64), n // 3),
        "out": rng.integers(0, 2, n).astype(np.int64),
        "age": rng.normal(50, 10, n),
        "mod": np.repeat(np.array([62, 96], dtype=np.int64), n // 2),
        "w": rng.uniform(1, 2, n),
    })


def test_association_reference_levels_are_plain():
    d = sh.SurveyDesign(exposure_frame(), weights="w")
    with pytest.raises(errors.ModelError) as e:
        models.association(d, "exp", "out", categorical=True, reference=np.int64(7))
    msg = plain_text(str(e.value))
    assert "reference=7 is not a level of 'exp'" in msg and "levels: 1, 2, 3." in msg


def test_association_single_exposure_value_is_plain():
    df = exposure_frame()
    df["exp"] = np.int64(62)
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.ModelError) as e:
        models.association(d, "exp", "out", categorical=False)
    assert "has a single value (62)" in plain_text(str(e.value))


def test_interaction_stratum_level_is_plain():
    df = exposure_frame()
    df.loc[df["mod"] == 96, "exp"] = 2
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.ModelError) as e:
        models.interaction(d, "exp", "out", by="mod")
    assert "with mod = 96 " in plain_text(str(e.value))


def test_margins_reference_levels_are_plain():
    d = sh.SurveyDesign(exposure_frame(), weights="w")
    m = d.glm("out ~ C(exp) + age", family="binomial")
    with pytest.raises(errors.ModelError) as e:
        models.margins(m, "exp", reference=7)
    assert "is not among the levels 1, 2, 3." in plain_text(str(e.value))


def test_ordinal_two_levels_are_plain():
    d = sh.SurveyDesign(exposure_frame(), weights="w")
    with pytest.raises(errors.ModelError) as e:
        models.ordinal(d, "mod ~ age")
    assert "has 2 level(s) (62, 96)" in plain_text(str(e.value))


# ------------------------------------------------------------------------- measures
def test_kappa_single_category_is_plain():
    df = exposure_frame()
    df["r1"] = np.int64(62)
    df["r2"] = np.int64(62)
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.SocialHealthError) as e:
        measures.survey_kappa(d, "r1", "r2")
    assert "use a single category (62)" in plain_text(str(e.value))


def test_categorise_out_of_range_scores_are_plain():
    with pytest.raises(errors.SocialHealthError) as e:
        measures.categorise("ucla3", pd.Series(np.array([3.0, 5.0, 99.0, 99.0])), cutoff=6)
    assert re.search(r"scores outside the range \S+: 99\. ", plain_text(str(e.value)))


def test_quantile_by_group_label_is_plain():
    df = strata_frame()
    df["h"] = np.array([62.0] * 3 + [96.0] * 9)           # float group codes
    df.loc[df["h"] == 62.0, "y"] = np.nan
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.EstimationError) as e:
        d.quantile("y", by="h")
    assert "no non-missing values of 'y' in the by-group h=62;" in plain_text(str(e.value))


# ------------------------------------------------------------------------- arguments echoed back
# A message that refuses an argument writes it as the user gave it: 0.3 for 0.1 + 0.2 (not
# 0.30000000000000004), 0.333333 for 1/3, (0.3, 1.5) for a tuple (not (np.float64(0.3), 1.5)).
THIRD = np.float64(1 / 3)
POINT3 = np.float64(0.1) + np.float64(0.2)       # 0.30000000000000004, a numpy float


def plain_numbers(message: str) -> str:
    """The message, after checking it has no numpy repr and no long tail of digits."""
    plain_text(message)
    assert not re.search(r"\d{9,}", message), message
    return message


def refused(call, error=errors.SocialHealthError) -> str:
    with pytest.raises(error) as e:
        call()
    return plain_numbers(str(e.value))


@pytest.fixture(scope="module")
def api_design():
    return sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw", strata="stype",
                           fpc="fpc")


def test_scatter_arguments_are_echoed_plainly(api_design):
    import matplotlib.pyplot as plt

    d = api_design
    try:
        msg = refused(lambda: sh.plot.scatter(d, "api99", "api00", inches=-(0.1 + 0.2)))
        assert msg.endswith("inches must be a positive number, not -0.3.")
        msg = refused(lambda: sh.plot.scatter(d, "api99", "api00", style="transparent",
                                              alpha=(POINT3, 1.5)))
        assert msg.endswith("not (0.3, 1.5).")
        msg = refused(lambda: sh.plot.scatter(d, "api99", "api00", style="hex", xbins=THIRD))
        assert msg.endswith("xbins must be a whole number of at least 1, not 0.333333.")
        msg = refused(lambda: sh.plot.hist(d, "api00", breaks=[POINT3, "x"]))
        assert msg.endswith("sequence of numbers, not [0.3, 'x'].")
    finally:
        plt.close("all")


def test_coplot_arguments_are_echoed_plainly(api_design):
    import matplotlib.pyplot as plt

    d = api_design
    try:
        msg = refused(lambda: sh.plot.coplot(d, "api00", "api99", by="meals",
                                             number=np.float64(2.0)))
        assert msg.endswith("at least 1, not 2.0.")
        msg = refused(lambda: sh.plot.coplot(d, "api00", "api99", by="meals", overlap=1 + THIRD))
        assert msg.endswith("not 1.33333.")
        msg = refused(lambda: sh.plot.coplot(d, "api00", "api99", by="meals",
                                             style="transparent", alpha=(0.1 + 0.2, 2)))
        assert msg.endswith("not (0.3, 2).")
        msg = refused(lambda: sh.plot.coplot(d, "api00", "api99", by="meals", shape=-POINT3))
        assert msg.endswith("its width), not -0.3.")
        msg = refused(lambda: sh.plot.coplot(d, "api00", "api99", by="meals", columns=2.5))
        assert msg.endswith("at least 1, not 2.5.")
    finally:
        plt.close("all")


def test_biplot_arguments_are_echoed_plainly(api_design):
    import matplotlib.pyplot as plt

    pca = measures.survey_prcomp(api_design, ["api00", "meals", "ell"], scores=True)
    try:
        msg = refused(lambda: sh.plot.biplot(pca, choices=(THIRD, 2)))
        assert msg.endswith("got (0.333333, 2).")
        msg = refused(lambda: sh.plot.biplot(pca, scale=1 + THIRD))
        assert msg.endswith("scale must be a number from 0 to 1, not 1.33333.")
        msg = refused(lambda: sh.plot.biplot(pca, max_size=-POINT3))
        assert msg.endswith("max_size must be a positive number, not -0.3.")
    finally:
        plt.close("all")


def test_confidence_level_and_df_are_echoed_plainly():
    est = sh.SurveyDesign(strata_frame(), weights="w").mean("y")
    msg = refused(lambda: est.confint(level=1 + THIRD))
    assert "(e.g. 0.95), not 1.33333 (for 1.33333% pass level=0.0133333)." in msg
    msg = refused(lambda: est.confint(level=np.float64(95.0)))
    assert "not 95.0 (for 95% pass level=0.95)." in msg
    msg = refused(lambda: est.confint(df=-POINT3))
    assert msg.startswith("df must be > 0 (or float('inf') for normal quantiles), not -0.3;")


def test_design_arguments_are_echoed_plainly():
    d = sh.SurveyDesign(strata_frame(), weights="w")
    msg = refused(lambda: d.quantile("y", quantiles=[POINT3, 1 + THIRD]))
    assert msg.endswith("between 0 and 1, not [0.3, 1.33333].")
    msg = refused(lambda: d.gofchisq("g", p=[POINT3, -THIRD, 0.5]))
    assert msg.endswith("a finite number > 0, not [0.3, -0.333333, 0.5].")
    msg = refused(lambda: d.table("g", Ntotal=-POINT3))
    assert msg.endswith("a finite number > 0, not -0.3.")
    msg = refused(lambda: d.glm("y ~ g", tol=1 + THIRD))
    assert msg.endswith("tol must lie in (0, 1), not 1.33333.")
    msg = refused(lambda: d.rake([("g", {1: 10.0, 2: 10.0, 3: 10.0})], epsilon=-(0.1 + 0.2)))
    assert msg.endswith("got max_iter=10, epsilon=-0.3.")
    msg = refused(lambda: d.calibrate("~ g", [30.0, 60.0], bounds=(POINT3, 2, 3)))
    assert msg.endswith("per row; not (0.3, 2, 3).")
    msg = refused(lambda: d.calibrate("~ g", [30.0, 60.0], trim=("a", POINT3)))
    assert msg.endswith("with a < 1 < b, not ('a', 0.3).")


def test_cdf_suggests_plain_points():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=300) / 3, "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    msg = refused(lambda: d.cdf("y"))
    at = re.search(r"at=(\[[^\]]*\])", msg).group(1)
    assert len(eval(at)) == 3, msg                      # a list a user can paste


def test_measure_and_model_arguments_are_echoed_plainly():
    d = sh.SurveyDesign(exposure_frame(), weights="w")
    msg = refused(lambda: measures.survey_alpha(d, ["exp", "out", "age"], level=1 + THIRD))
    assert msg.startswith("level=1.33333 must be a number between 0 and 1")
    msg = refused(lambda: measures.categorise("ucla3", pd.Series([3.0, 5.0]), cutoff=POINT3 + 100))
    assert "cutoff=100.3 is outside the score range" in msg
    msg = refused(lambda: models.i2_from_q(-POINT3, 4))
    assert msg == "Q must be a non-negative number, got -0.3."
    msg = refused(lambda: sh.tables.describe(d, by="mod", variables=["age"], digits=np.float64(1.0)))
    assert msg.endswith("(decimal places), not 1.0.")


def test_values_from_the_data_lose_their_arithmetic_tail():
    df = strata_frame()
    df.loc[3, "w"] = -1 / 3
    with pytest.raises(errors.WeightError) as e:
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    assert "(minimum -0.333333)" in plain_numbers(str(e.value))
    df = strata_frame()
    df["p"] = 0.25
    df.loc[2, "p"] = 1 + 0.1 + 0.2                      # 1.3000000000000003
    with pytest.raises(errors.SocialHealthError) as e:
        sh.SurveyDesign(df, probs="p", strata="stratum", psu="psu")
    assert "(e.g. 1.3)" in plain_numbers(str(e.value))


def test_logrank_rho_gamma_are_echoed_plainly():
    d = sh.SurveyDesign(survival_frame().assign(event=lambda f: f["event"].clip(0, 1)),
                        weights="w")
    msg = refused(lambda: models.logrank(d, "time", "event", by="x", rho=-POINT3))
    assert msg.endswith("(got rho=-0.3, gamma=0).")


def test_scatter_jitter_is_echoed_plainly(api_design):
    import matplotlib.pyplot as plt

    try:
        msg = refused(lambda: sh.plot.scatter(api_design, "api99", "api00", style="subsample",
                                              jitter=(None, -POINT3)))
        assert msg.endswith("or False for none, not (None, -0.3).")
    finally:
        plt.close("all")


def test_a_value_just_beyond_a_whole_number_is_not_written_as_that_number():
    # a float one rounding step above 1 is not 1: a message refusing it must not read
    # "must lie in (0, 1] ... (e.g. 1)", nor "at least 3, got 3" for 3 - 4.4e-16
    for x, whole in ((1 + 2**-52, "1"), (1 - 2**-53, "1"), (3 - 2**-51, "3"),
                     (-(2 + 2**-51), "-2")):
        for text in (show(x), show_given(x), show_given(np.float64(x)), show_given((x, 0.5))):
            assert whole not in (text, text.removesuffix(".0"), text[1:].split(",")[0]), text
            assert not FLOAT_TAIL.search(text), text
    assert show(1 + 2**-52) == "1 + 2.2e-16" and show(1 - 2**-53) == "1 - 1.1e-16"
    assert show(0.1 + 0.2) == "0.3" and show(1 / 3) == "0.333333"      # tails still dropped
    df = strata_frame()
    df["p"] = 0.25
    df.loc[2, "p"] = 1 + 2**-52                        # e.g. a product of stage probabilities
    with pytest.raises(errors.SocialHealthError) as e:
        sh.SurveyDesign(df, probs="p", strata="stratum", psu="psu")
    assert "(e.g. 1 + 2.2e-16)" in str(e.value)
