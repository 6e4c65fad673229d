"""The socialhealth command line: one-line errors with the right exit status, subcommands."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from socialhealth import cli


def run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("socialhealth: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("argv, status, text", [
    (["report", "--dataset", "nope"], 1, "unknown dataset 'nope'"),
    (["report", "--dataset", "ess"], 1, "--dataset ess --path FILE"),   # licensed: needs a file
    (["report", "--dataset", "gss_panel20"], 1, "or pass --path FILE"),  # open but not cached
    (["report", "--dataset", "demo", "--format", "odt"], 2, "invalid choice: 'odt'"),
    (["report", "--dataset", "demo", "--output", "x.odt"], 2, "cannot tell the format"),
    (["report", "--dataset", "demo", "--path", "x.csv"], 2, "takes no --path"),
    (["report", "--dataset", "demo", "--wave", "2020"], 2, "has no waves"),
    (["report", "--dataset", "demo", "--output", "/no/such/dir/r.html"], 2, "does not exist"),
    (["report"], 2, "required: --dataset"),
    ([], 2, "choose a command"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["describe", "--dataset", "ess", "--path", "/no/such/file.sav"], 1, "file not found"),
])
def test_errors_are_one_line(argv, status, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(argv, capsys)
    assert rc == status
    assert text in one_line_error(err)


def test_unknown_outcome_and_exposure(capsys, tmp_path):
    rc, _, err = run(["report", "--dataset", "demo", "--outcomes", "depresion",
                      "--output", str(tmp_path / "r.html")], capsys)
    assert rc == 1
    line = one_line_error(err)
    assert "unknown outcome 'depresion'" in line and "depression" in line
    rc, _, err = run(["report", "--dataset", "demo", "--exposure", "age",
                      "--output", str(tmp_path / "r.html")], capsys)
    assert rc == 1 and "not binary" in one_line_error(err)
    assert not (tmp_path / "r.html").exists()


def test_debug_shows_the_traceback():
    proc = subprocess.run([sys.executable, "-m", "socialhealth", "--debug", "report",
                           "--dataset", "nope"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "UnknownDatasetError" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "socialhealth", "report", "--dataset", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_datasets_lists_the_registry(capsys):
    rc, out, err = run(["datasets"], capsys)
    assert rc == 0 and err == ""
    for name in ("demo", "gss_panel20", "ess", "brfss"):
        assert name in out
    assert "loader: available" in out and "tests: real file" in out
    assert "..." not in out.replace("Did you mean", "")           # nothing cut off
    flat = " ".join(out.split())
    from socialhealth.datasets._registry import registry

    for name, e in registry().items():   # full title, years and tested_on of every survey
        for key in ("title", "years", "tested_on"):
            assert " ".join(str(e[key]).split()) in flat, (name, key)


def test_describe_demo(capsys):
    rc, out, _ = run(["describe", "--dataset", "demo"], capsys)
    assert rc == 0
    assert "strata: 180" in out
    assert "per harmonised concept" in out
    # per concept: answered / missing among the rows kept (demo: 19281 of 19602 answer lonely)
    assert "lonely: 19,281 answered, 321 missing" in out
    assert "among the 19,602 rows kept" in out
    assert "concept(s) not accounted for" not in out


def test_report_demo_markdown(capsys, tmp_path):
    out_file = tmp_path / "demo.md"
    rc, out, err = run(["report", "--dataset", "demo", "--output", str(out_file)], capsys)
    assert rc == 0, err
    assert "6 of 6 sections filled" in out
    text = out_file.read_text(encoding="utf-8")
    assert text.startswith("# Loneliness") and "## Methods and R code" in text


def test_report_real_ess9_says_what_is_skipped(capsys, tmp_path, shared_data_dir):
    path = shared_data_dir / "ess" / "ESS9GB.sav"
    if not path.exists():
        pytest.skip("ESS9GB.sav not present")
    rc, out, err = run(["report", "--dataset", "ess", "--path", str(path),
                        "--output", str(tmp_path / "ess.html")], capsys)
    assert rc == 0, err
    assert "2 of 6 sections filled" in out and "fltlnl" in out
    # the four sections skipped for the same reason are listed together, the reason said once
    assert "skipped 4 sections for one reason:" in out
    for title in ("Prevalence of loneliness", "Trend over years",
                  "Loneliness and health: nested adjusted odds ratios"):
        assert f"    - {title}\n" in out
    assert out.count("its source variable fltlnl is not in this file") == 1
    assert (tmp_path / "ess.html").exists()


def test_progress_bar_only_on_a_terminal():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    s = TTY()
    p = cli.Progress(total=4, stream=s)
    p("loading")
    p("models")
    p.close()
    assert "[############------------] 2/4" in s.getvalue() and "models" in s.getvalue()
    quiet = io.StringIO()
    q = cli.Progress(total=4, stream=quiet)
    q("loading")
    q.close()
    assert quiet.getvalue() == ""


def test_describe_starts_with_words_not_a_repr(capsys):
    """Regression: ``socialhealth describe`` began with the object's repr
    ("SurveyData('demo', rows=19602, concepts measured=37/39)")."""
    from socialhealth.cli import main

    assert main(["describe", "--dataset", "demo"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "Synthetic demo survey (demo): 19,602 rows, 37 of 39 harmonised concepts measured"


def test_describe_says_yes_no_for_codes_mapped_to_a_yes_no_column(capsys, monkeypatch):
    """Regression: ``describe`` printed codebook maps to yes/no columns as Python booleans
    ("rule: first answered of hlpdown: 1→True, ..., 7→False")."""
    from socialhealth.datasets import SurveyData

    real = SurveyData.concept_summary

    def summary(self):
        out = real(self)
        out.loc[out["concept"] == "lonely", "rule"] = "first answered of hlpdown: 1→True, 7→ False"
        return out

    monkeypatch.setattr(SurveyData, "concept_summary", summary)
    rc, out, _ = run(["describe", "--dataset", "demo"], capsys)
    assert rc == 0
    assert "rule: first answered of hlpdown: 1→yes, 7→no" in out
    assert "True" not in out and "False" not in out
