"""One vocabulary (CONTRIBUTING.md, "Vocabulary"): ``level``, ``max_iter``, ``by``, ``wave`` and
``"linearisation"`` everywhere.

* Every renamed parameter: the new name works, the old one still works for one release with a
  DeprecationWarning that names the new spelling and gives the same numbers, and giving both is
  an :class:`~socialhealth.errors.ArgumentError`.
* A scan of the public API (every public module, the names it exports, the methods of its
  classes) fails if a public callable still has a parameter with an old name outside the
  deprecated-alias mechanism of ``socialhealth._deprecation``.

The numbers themselves are checked against R elsewhere; here the old spelling must give exactly
what the new one gives.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import datasets, measures, models, plot
from socialhealth.errors import ArgumentError, DataNotCachedError, DatasetError, ModelError

# parameter names that must not appear in a public signature any more
OLD_NAMES = {"ci_level", "maxiter", "maxit", "over", "hue", "group", "control"}


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def apistrat():
    df = datasets.load_example("apistrat")
    return sh.SurveyDesign(df, weights="pw", strata="stype", fpc="fpc")


@pytest.fixture(scope="module")
def apiclus1():
    df = datasets.load_example("apiclus1")
    return sh.SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")


@pytest.fixture(scope="module")
def nhanes():
    df = datasets.load_example("nhanes")
    return sh.SurveyDesign(df, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True)


def _old(match):
    """pytest.warns for a DeprecationWarning whose message names the new spelling."""
    return pytest.warns(DeprecationWarning, match=match)


def _frame_equal(a, b):
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)


# ----------------------------------------------------------------------------- max_iter
def test_glm_max_iter(apistrat):
    f = "api00 ~ ell + meals"
    new = apistrat.glm(f, family="poisson", max_iter=50)
    with _old("use max_iter="):
        old = apistrat.glm(f, family="poisson", maxiter=50)
    np.testing.assert_array_equal(new.params.to_numpy(), old.params.to_numpy())
    np.testing.assert_array_equal(new.bse.to_numpy(), old.bse.to_numpy())
    with pytest.raises(ArgumentError, match="max_iter"):
        apistrat.glm(f, family="poisson", max_iter=50, maxiter=50)


def test_calibrate_max_iter(apistrat):
    totals = {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018}
    new = apistrat.calibrate("~stype", totals, calfun="raking", max_iter=30)
    with _old("use max_iter="):
        old = apistrat.calibrate("~stype", totals, calfun="raking", maxit=30)
    np.testing.assert_array_equal(new.weights, old.weights)
    _frame_equal(new.mean("api00"), old.mean("api00"))
    with pytest.raises(ArgumentError):
        apistrat.calibrate("~stype", totals, max_iter=30, maxit=30)


def test_rake_max_iter_and_epsilon(apiclus1):
    margins = [("stype", {"E": 4421, "H": 755, "M": 1018}),
               ("sch.wide", {"No": 1182, "Yes": 5012})]
    new = apiclus1.rake(margins, max_iter=20, epsilon=1e-8)
    with _old("max_iter=..., epsilon=..."):
        old = apiclus1.rake(margins, control={"maxit": 20, "epsilon": 1e-8})
    with _old("max_iter=..., epsilon=..."):        # the old third positional argument
        pos = apiclus1.rake(margins, {"maxit": 20, "epsilon": 1e-8})
    np.testing.assert_array_equal(new.weights, old.weights)
    np.testing.assert_array_equal(new.weights, pos.weights)
    _frame_equal(new.mean("api00"), old.mean("api00"))
    with pytest.raises(ArgumentError, match="max_iter"):
        apiclus1.rake(margins, max_iter=20, control={"maxit": 20})
    # a limit of one sweep is what R's control = list(maxit = 1) means: not converged
    with pytest.raises(sh.errors.ConvergenceError):
        apiclus1.rake(margins, max_iter=1, epsilon=1e-12)


# ----------------------------------------------------------------------------- by
def test_standardize_by(nhanes):
    pop = [55901, 77670, 72816, 45364]
    new = nhanes.standardize("agecat", by="race", population=pop)
    with _old("domains by="):               # the pre-0.2 call: by = standardised, over = domains
        old_kw = nhanes.standardize(by="agecat", over="race", population=pop)
    with _old("use by="):
        old_over = nhanes.standardize("agecat", over="race", population=pop)
    positional = nhanes.standardize("agecat", "race", population=pop)   # same in both versions
    for other in (old_kw, old_over, positional):
        np.testing.assert_array_equal(new.weights, other.weights)
        _frame_equal(new.mean("HI_CHOL", by="race"), other.mean("HI_CHOL", by="race"))
    with pytest.raises(ArgumentError, match="by="):
        nhanes.standardize("agecat", by="race", over="race", population=pop)


def test_logrank_by():
    df = pd.DataFrame({"t": [1., 2, 3, 4, 5, 6], "s": [1, 1, 0, 1, 1, 0],
                       "g": [0, 1, 0, 1, 0, 1], "w": [1., 2, 1, 3, 1, 2]})
    d = sh.SurveyDesign(df, weights="w")
    new = models.logrank(d, "t", "s", by="g")
    with _old("use by="):
        old = models.logrank(d, "t", "s", group="g")
    pd.testing.assert_frame_equal(new.to_frame(), old.to_frame(), check_exact=True)
    with pytest.raises(ArgumentError):
        models.logrank(d, "t", "s", by="g", group="g")


def _grouped_table():
    return pd.DataFrame({"year": [2016, 2018, 2016, 2018], "country": ["GB", "GB", "US", "US"],
                         "term": "lonely", "level": None, "estimate": [0.1, 0.2, 0.3, 0.4],
                         "ci_low": [0.05, 0.15, 0.25, 0.35], "ci_high": [0.15, 0.25, 0.35, 0.45]})


def _drawn(ax):
    lines = [(ln.get_label(), ln.get_xydata().tolist()) for ln in ax.get_lines()]
    bars = [(p.get_x(), p.get_height()) for p in ax.patches]
    legend = ax.get_legend()
    return lines, bars, legend.get_title().get_text() if legend else None


@pytest.mark.parametrize("fn, old, frame_kw", [
    ("trend", "group", dict(x="year")),
    ("prevalence", "hue", dict(x="year")),
    ("forest", "group", dict(label="year", scale="linear")),
])
def test_plots_by(fn, old, frame_kw):
    import matplotlib.pyplot as plt

    draw = getattr(plot, fn)
    new = draw(_grouped_table(), by="country", **frame_kw)
    with _old("use by="):
        was = draw(_grouped_table(), **{old: "country"}, **frame_kw)
    assert _drawn(new) == _drawn(was)
    assert _drawn(new)[2] == "Country"
    with pytest.raises(ArgumentError):
        draw(_grouped_table(), by="country", **{old: "country"}, **frame_kw)
    plt.close("all")


def test_survival_plot_by():
    import matplotlib.pyplot as plt

    km = pd.DataFrame({"arm": ["a", "a", "b", "b"], "time": [1., 2, 1, 3],
                       "surv": [0.9, 0.8, 0.95, 0.7]})
    new = plot.survival(km, by="arm")
    with _old("use by="):
        was = plot.survival(km, group="arm")
    assert _drawn(new) == _drawn(was)
    plt.close("all")


# ----------------------------------------------------------------------------- level
def test_reliability_level():
    rng = np.random.default_rng(15)
    base = rng.normal(size=300)
    items = pd.DataFrame({f"q{i}": base + rng.normal(size=300) for i in range(4)})
    new = measures.reliability(items, level=0.9)
    with _old("use level="):
        old = measures.reliability(items, ci=0.9)
    assert new.ci == old.ci and new.level == old.level == 0.9
    # Feldt interval by hand: 1 - (1 - alpha) F_{1-g/2} to 1 - (1 - alpha) F_{g/2}, g = 0.1
    from scipy import stats
    n, k = 300, 4
    lo = 1 - (1 - new.alpha) * stats.f.ppf(0.95, n - 1, (n - 1) * (k - 1))
    hi = 1 - (1 - new.alpha) * stats.f.ppf(0.05, n - 1, (n - 1) * (k - 1))
    assert new.ci == pytest.approx((lo, hi), rel=1e-12)
    with _old("use .level"):
        assert new.ci_level == 0.9
    with pytest.raises(ArgumentError):
        measures.reliability(items, level=0.9, ci=0.9)


def test_meta_input_level():
    # published 90% CIs of two odds ratios
    lo, hi = np.array([1.1, 0.9]), np.array([1.9, 1.6])
    new = models.meta(np.sqrt(lo * hi), ci_low=lo, ci_high=hi, ratio=True, input_level=0.9,
                      method="fe")
    with _old("use input_level="):
        old = models.meta(np.sqrt(lo * hi), ci_low=lo, ci_high=hi, ratio=True, ci_level=0.9,
                          method="fe")
    pd.testing.assert_frame_equal(new.to_frame(), old.to_frame(), check_exact=True)
    # the SE of each study by hand: (log hi - log lo) / (2 z_0.95)
    from scipy import stats
    se = (np.log(hi) - np.log(lo)) / (2 * stats.norm.ppf(0.95))
    w = 1 / se**2
    pooled = np.sum(w * np.log(np.sqrt(lo * hi))) / w.sum()
    assert new.estimate == pytest.approx(pooled, rel=1e-12)
    with pytest.raises(ArgumentError):
        models.meta(np.sqrt(lo * hi), ci_low=lo, ci_high=hi, ratio=True, input_level=0.9,
                    ci_level=0.9)


def test_estimate_level_attribute(apistrat):
    p = apistrat.proportion("sch.wide", level=0.9)
    assert p.level == 0.9
    with _old("use .level"):
        assert p.ci_level == 0.9


def test_quantile_ci_is_a_switch_not_a_level(apistrat):
    with pytest.raises(sh.errors.EstimationError, match="level="):
        apistrat.quantile("api00", 0.5, ci=0.9)
    off = apistrat.quantile("api00", 0.5, ci=False).to_frame()
    assert off["ci_low"].isna().all()


# ----------------------------------------------------------------------------- linearisation
def test_margins_linearisation_and_average_over(apistrat):
    m = apistrat.glm("api00 ~ C(stype) + ell")
    new = models.margins(m, "stype", variance="linearisation", average_over="design")
    with _old("variance='linearisation'"):
        old_value = models.margins(m, "stype", variance="linearization", average_over="design")
    with _old("use average_over="):
        old_name = models.margins(m, "stype", over="design")
    pd.testing.assert_frame_equal(new.to_frame(), old_value.to_frame(), check_exact=True)
    pd.testing.assert_frame_equal(new.to_frame(), old_name.to_frame(), check_exact=True)
    assert new.variance == "linearisation" and "linearisation" in repr(new)
    with _old("use .average_over"):
        assert new.over == "design"
    with pytest.raises(ArgumentError):
        models.margins(m, "stype", average_over="model", over="model")


def test_attrition_linearisation_spelling():
    with _old("variance='linearisation'"):
        with pytest.raises(ModelError, match="baseline sample"):
            models.attrition(None, ["age_group"], variance="linearization")


# ----------------------------------------------------------------------------- wave
def test_fetch_and_load_wave(monkeypatch, tmp_path):
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(tmp_path / "cache"))
    from socialhealth.datasets._fetch import cached_file

    assert cached_file("brfss", wave=2023) is None
    with _old("use wave="):
        assert cached_file("brfss", year=2023) is None
    # ESS is not an open download: the same refusal with either spelling
    with pytest.raises(DatasetError, match="not an open download"):
        datasets.fetch("ess", wave=7)
    with _old("use wave="), pytest.raises(DatasetError, match="not an open download"):
        datasets.fetch("ess", year=7)
    with pytest.raises(ArgumentError):
        datasets.fetch("brfss", wave=2023, year=2023)
    # load(): wave= picks the fetched file of that year (none here)
    with pytest.raises(DataNotCachedError, match=r"fetch\('brfss', wave=2023\)"):
        datasets.load("brfss", wave=2023)
    with _old("use wave="), pytest.raises(DataNotCachedError, match="wave=2023"):
        datasets.load("brfss", year=2023)
    with pytest.raises(ArgumentError):
        datasets.load("brfss", wave=2023, year=2023)


def test_panel_column_wave():
    p = datasets.PanelData("x", pd.DataFrame({"lonely@2016": [True, False]}), pd.DataFrame(),
                           {}, {}, waves=[2016, 2020])
    assert p.column("lonely", wave=2016).tolist() == [True, False]
    with _old("use wave="):
        assert p.column("lonely", year=2016).tolist() == [True, False]


def test_cli_year_is_a_hidden_deprecated_alias(monkeypatch, tmp_path, capsys):
    from socialhealth import cli

    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(tmp_path / "cache"))
    code = cli.main(["describe", "--dataset", "brfss", "--year", "2023"])
    err = capsys.readouterr().err
    assert "--year is deprecated" in err and "use --wave" in err
    assert code == 1 and "--wave 2023" in err        # the same not-cached message as --wave
    code = cli.main(["describe", "--dataset", "brfss", "--wave", "2023", "--year", "2023"])
    assert code == 2 and "give only --wave" in capsys.readouterr().err
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["describe"]
    assert "--year" not in sub.format_help()


# ----------------------------------------------------------------------------- helper
def test_renamed_parameter_helper():
    from socialhealth._deprecation import renamed_parameter

    @renamed_parameter("alpha", "level", since="0.2.0", transform=lambda a: 1 - a)
    def f(x, level=0.95):
        return level

    assert f(1, level=0.9) == 0.9
    assert f(1, 0.8) == 0.8
    with _old(r"f\(alpha=...\) is deprecated since socialhealth 0.2.0; use level="):
        assert f(1, alpha=0.1) == pytest.approx(0.9, abs=1e-15)
    with pytest.raises(ArgumentError, match="both level= and its deprecated spelling alpha="):
        f(1, 0.9, alpha=0.1)                            # new one given by position
    assert list(inspect.signature(f).parameters) == ["x", "level"]
    assert f.__deprecated_parameters__ == {"alpha": "level"}


# ----------------------------------------------------------------------------- signature scan

def _is_public_module(name: str) -> bool:
    """No "_" component, or the private module that implements a public function of its package
    (``socialhealth.models._meta`` holds ``socialhealth.models.meta``)."""
    parts = name.split(".")
    private = [p for p in parts if p.startswith("_")]
    if not private:
        return True
    if len(private) > 1 or not parts[-1].startswith("_") or parts[-1].startswith("__"):
        return False
    parent = importlib.import_module(".".join(parts[:-1]))
    public = getattr(parent, parts[-1][1:], None)
    return getattr(public, "__module__", None) == name


def _public_callables():
    names = ["socialhealth"]
    for info in pkgutil.walk_packages(sh.__path__, "socialhealth."):
        if _is_public_module(info.name):
            names.append(info.name)
    found = {}
    for modname in sorted(names):
        mod = importlib.import_module(modname)
        exported = {n for n in vars(mod) if not n.startswith("_")} | set(getattr(mod, "__all__",
                                                                                 ()))
        for name in sorted(exported):
            obj = getattr(mod, name, None)
            if not ((inspect.isfunction(obj) or inspect.isclass(obj))
                    and str(getattr(obj, "__module__", "")).startswith("socialhealth")):
                continue
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
            if inspect.isclass(obj):
                for attr, raw in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    member = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
                    if inspect.isfunction(member):
                        found[f"{obj.__module__}.{obj.__qualname__}.{attr}"] = member
    # the verbs of a design delegate to module functions (design.glm -> design.glm.glm, ...)
    return found


PUBLIC = _public_callables()


def test_scan_finds_the_public_api():
    assert len(PUBLIC) > 300
    for key in ("socialhealth.design.glm.glm", "socialhealth.datasets._fetch.fetch",
                "socialhealth.plot._prevalence.prevalence", "socialhealth.models._meta.meta",
                "socialhealth.design.taylor.SurveyDesign.__init__"):
        assert key in PUBLIC


def test_no_public_parameter_has_an_old_name():
    bad = []
    for key, obj in PUBLIC.items():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        bad += [f"{key}({p})" for p in params if p in OLD_NAMES]
    assert not bad, ("old spellings in public signatures; rename them and keep the old keyword "
                     f"with socialhealth._deprecation.renamed_parameter: {bad}")


def test_fetch_and_load_speak_of_waves():
    for fn in (datasets.fetch, datasets.load):
        assert "year" not in inspect.signature(fn).parameters


def test_ci_is_only_ever_a_switch():
    """``ci`` never holds a level: a public ``ci`` parameter defaults to True or False."""
    for key, obj in PUBLIC.items():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        p = params.get("ci")
        if p is not None and p.default is not inspect.Parameter.empty:
            assert isinstance(p.default, bool), f"{key}: ci={p.default!r} (use level=)"


def test_old_spellings_are_registered_as_deprecated_aliases():
    expected = {
        sh.design.glm.glm: {"maxiter": "max_iter"},
        sh.design.calibration.calibrate: {"maxit": "max_iter"},
        models.logrank: {"group": "by"},
        models.meta: {"ci_level": "input_level"},
        models.margins: {"over": "average_over"},
        measures.reliability: {"ci": "level"},
        datasets.fetch: {"year": "wave"},
        plot.prevalence: {"hue": "by"},
        plot.trend: {"group": "by"},
        plot.forest: {"group": "by"},
        plot.survival: {"group": "by"},
    }
    for fn, renamed in expected.items():
        assert fn.__deprecated_parameters__ == renamed, fn


def test_no_deprecation_warnings_from_the_new_spellings(apistrat):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        apistrat.glm("api00 ~ ell", max_iter=25)
        apistrat.proportion("sch.wide", level=0.9).to_frame()


def test_deprecations_name_a_version_that_exists():
    """Regression: every deprecation said "deprecated since socialhealth 0.2.0" in version 0.1.0."""
    import re
    from pathlib import Path

    from packaging.version import Version

    src = Path(sh.__file__).parent
    current = Version(sh.__version__)
    found = []
    for path in src.rglob("*.py"):
        text = path.read_text("utf-8")
        found += re.findall(r"since=\"(\d+\.\d+\.\d+)\"", text)
        found += re.findall(r"deprecated since socialhealth (\d+\.\d+\.\d+)", text)
        found += re.findall(r"warn_renamed\([^)]*?\"(\d+\.\d+\.\d+)\"", text)
        found += re.findall(r"renamed_value\([^)]*?\"(\d+\.\d+\.\d+)\"\)", text)
    assert len(found) >= 15
    assert all(Version(v) <= current for v in found), sorted(set(found))
