"""``import socialhealth`` stays light: heavy dependencies load only when their part is used.

Each check runs a fresh interpreter (the test process has imported everything already) and
looks at ``sys.modules``; nothing here measures time.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "reportlab", "svglib", "docx", "formulaic", "statsmodels", "scipy.stats")


def loaded_after(code: str) -> list[str]:
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_socialhealth_loads_no_heavy_dependency():
    assert loaded_after("import socialhealth") == []


@pytest.mark.parametrize("code", [
    "import socialhealth as sh; sh.SurveyDesign; sh.ReplicateDesign",
    "import socialhealth as sh; sh.datasets",
    "import socialhealth.design",
])
def test_design_engine_and_loaders_load_no_plotting_or_report_library(code):
    loaded = loaded_after(code)
    for name in ("matplotlib", "reportlab", "svglib", "docx", "formulaic", "statsmodels"):
        assert name not in loaded, f"{code!r} imported {name}"


def test_a_mean_on_a_design_loads_no_plotting_library_nor_scipy_stats():
    loaded = loaded_after(
        "import socialhealth as sh\n"
        "d = sh.SurveyDesign(sh.datasets.load_example('apistrat'), weights='pw', strata='stype')\n"
        "d.mean('api00'); d.proportion('sch.wide')")
    assert loaded == []


def test_plot_and_report_still_load_on_first_use():
    loaded = loaded_after("import socialhealth as sh; sh.plot.forest; sh.report.build")
    assert "matplotlib" in loaded


def test_a_mean_loads_no_scipy_until_an_interval_or_p_value_is_asked_for():
    # issue 14: the point estimate and its standard error need numpy and pandas only; the t
    # quantile of the interval and a t-test's p-value load scipy.special (~14 MB), never
    # scipy.stats (~45 MB)
    probe = ("import json, sys\n"
             "import socialhealth as sh\n"
             "d = sh.SurveyDesign(sh.datasets.load_example('apistrat'), weights='pw', "
             "strata='stype')\n"
             "m = d.mean('api00'); m.estimate, m.se\n"
             "before = sorted(k for k in sys.modules if k == 'scipy' or k.startswith('scipy.'))\n"
             "m.to_frame(); d.ttest('api00', by='sch.wide').to_frame()\n"
             "print(json.dumps([before, 'scipy.special' in sys.modules, "
             "'scipy.stats' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    before, special_after, stats_after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == []
    assert special_after and not stats_after
