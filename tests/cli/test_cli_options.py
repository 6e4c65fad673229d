"""The command line against the loaders, the outputs and the user's typing (issue 12).

Every keyword option a registered loader accepts has a command-line flag; library messages
name flags, not Python keywords; the output path is checked before any data are loaded;
--help lists the valid values with two examples; bad conditions are one-line errors.
"""
from __future__ import annotations

import inspect
import os
import re
import warnings
from pathlib import Path

import pytest

from socialhealth import cli
from socialhealth.datasets._registry import loader, registry

SRC = Path(cli.__file__).parent


def run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("socialhealth: error: "), err
    return lines[0]


def _accepted(fn) -> list[str]:
    """Keyword options of a loader; one that forwards **kwargs is followed to the function
    its docstring names (gss.load_panel06 -> load_panel_long)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        target = re.search(r":func:`~?([\w.]+)`", fn.__doc__).group(1).split(".")[-1]
        params = inspect.signature(fn.__globals__[target]).parameters
        assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    return [k for k, p in params.items() if k not in ("path", "name")
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _flags(parser, command: str) -> set[str]:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {o for a in sub._actions for o in a.option_strings}


def test_every_loader_option_has_a_flag():
    parser = cli.build_parser()
    flags = {c: _flags(parser, c) for c in ("report", "describe")}
    checked = 0
    for name in registry():
        fn = loader(name)
        options = _accepted(fn) + ([] if name == "demo" else ["year"])
        for opt in options:
            expected = "--no-cache" if opt == "cache" else "--" + opt.replace("_", "-")
            for command, have in flags.items():
                assert expected in have, f"{name}: option {opt} has no {expected} in {command}"
            checked += 1
    assert checked > 40


def test_messages_in_the_loaders_name_existing_flags():
    """'pass X=' in a loader message must be an option the command line has."""
    parser = cli.build_parser()
    have = _flags(parser, "report")
    named = set()
    for f in (SRC / "datasets").glob("*.py"):
        if f.name == "_fetch.py":        # datasets.fetch() is Python-only (no CLI command)
            continue
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"\b[Pp]ass\b([^.]{0,60})", text):
            named |= set(re.findall(r"\b(\w+)=", m.group(1)))
    assert {"sddf_path", "wave", "psu", "strata"} <= named
    for opt in named:
        assert cli.flag(opt) in have, opt
        assert cli.flag(opt) in cli.cli_spelling(f"Pass {opt}= to do it"), opt


def test_loader_options_reach_the_loader(monkeypatch, capsys, tmp_path):
    from socialhealth import datasets

    seen = {}

    def fake_load(name, path=None, **kwargs):
        seen.update(name=name, path=path, **kwargs)
        raise datasets.DatasetError("stop here")

    monkeypatch.setattr(datasets, "load", fake_load)
    sav, sddf = tmp_path / "ESS7GB.sav", tmp_path / "ESS7SDDF.sav"
    sav.write_bytes(b"x")
    sddf.write_bytes(b"x")
    rc, _, err = run(["describe", "--dataset", "ess", "--path", str(sav), "--wave", "7",
                      "--country", "GB", "--sddf-path", str(sddf), "--weight", "pspwght",
                      "--columns", "fltlnl, agea", "--no-cache"], capsys)
    assert rc == 1 and "stop here" in err
    assert seen == {"name": "ess", "path": str(sav), "wave": 7, "country": "GB",
                    "sddf_path": str(sddf), "weight": "pspwght",
                    "columns": ["fltlnl", "agea"], "cache": False}
    seen.clear()
    run(["describe", "--dataset", "opn", "--path", str(sav), "--variables",
         "lonely=MCZ_LONELY,weight=WT", "--psu", "p", "--strata", "s"], capsys)
    assert seen["variables"] == {"lonely": "MCZ_LONELY", "weight": "WT"}
    assert (seen["psu"], seen["strata"]) == ("p", "s")
    seen.clear()
    run(["describe", "--dataset", "demo", "--seed", "5", "--replicate"], capsys)
    assert seen == {"name": "demo", "path": None, "seed": 5, "replicate": True}


@pytest.mark.parametrize("argv, text", [
    (["--dataset", "ess", "--path", "x.sav", "--pool", "equal"],
     "--pool does not apply to ess; its loader options are --wave, --weight, --country, "
     "--sddf-path"),
    (["--dataset", "demo", "--country", "GB"], "--country does not apply to demo"),
    (["--dataset", "gss_panel20", "--path", "a.dta", "b.dta"], "takes one --path file"),
    (["--dataset", "demo", "--seed", "x"], "--seed needs a whole number"),
    (["--dataset", "opn", "--path", "a.sav", "--variables", "lonely"], "KEY=NAME pairs"),
])
def test_options_that_do_not_apply_are_usage_errors(argv, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for f in ("x.sav", "a.dta", "b.dta", "a.sav"):
        (tmp_path / f).write_bytes(b"x")
    rc, _, err = run(["describe", *argv], capsys)
    assert rc == 2
    assert text in one_line_error(err)


def test_python_spellings_become_flags():
    assert cli.cli_spelling("Pass sddf_path= to merge") == "Pass --sddf-path to merge"
    assert cli.cli_spelling("Pass psu= and strata= (both)") == "Pass --psu and --strata (both)"
    assert cli.cli_spelling("pass wave= (one of [8, 9])") == "pass --wave (one of [8, 9])"
    assert cli.cli_spelling("then load it with datasets.load('hrs', path='<your file>').") == \
        "then load it with --dataset hrs --path FILE."
    assert cli.cli_spelling("in R: svyglm(y ~ x, design = des)") == \
        "in R: svyglm(y ~ x, design = des)"                  # other keywords are left alone


def test_ess7_warning_names_the_flag(capsys, tmp_path, shared_data_dir):
    path = shared_data_dir / "ess" / "ESS7GB.sav"
    if not path.exists():
        pytest.skip("ESS7GB.sav not present")
    rc, out, err = run(["describe", "--dataset", "ess", "--path", str(path)], capsys)
    assert rc == 0
    assert "Pass --sddf-path to merge" in err and "sddf_path=" not in err
    # the codebook notes printed by describe use the flags too
    assert "sddf_path=" not in out and "columns=" not in out and "--columns" in out


# ----------------------------------------------------------------------------- output path
@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if the data are loaded: output checks must come first."""
    def boom(*a, **k):
        raise AssertionError("the data were loaded before the output path was checked")

    monkeypatch.setattr(cli, "_load", boom)


def test_output_is_an_existing_folder(capsys, tmp_path, no_loading):
    rc, _, err = run(["report", "--dataset", "demo", "--output", str(tmp_path)], capsys)
    assert rc == 2 and "is a folder" in one_line_error(err)


def test_output_folder_missing_or_a_file(capsys, tmp_path, no_loading):
    rc, _, err = run(["report", "--dataset", "demo", "--output",
                      str(tmp_path / "nope" / "r.html")], capsys)
    assert rc == 2 and "does not exist" in one_line_error(err)
    f = tmp_path / "file.txt"
    f.write_text("x")
    rc, _, err = run(["report", "--dataset", "demo", "--output", str(f / "r.html")], capsys)
    assert rc == 2 and "is not a folder" in one_line_error(err)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_output_in_a_read_only_folder(capsys, tmp_path, no_loading):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, _, err = run(["report", "--dataset", "demo", "--output", str(ro / "r.md")], capsys)
    finally:
        ro.chmod(0o755)
    assert rc == 2 and "cannot write to the output folder" in one_line_error(err)


def test_unwritable_folder_is_found_by_trying(capsys, tmp_path, no_loading, monkeypatch):
    """The check creates (and removes) a temporary file; an OSError there is the error."""
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    rc, _, err = run(["report", "--dataset", "demo", "--output", str(tmp_path / "r.md")], capsys)
    assert rc == 2 and "cannot write to the output folder" in one_line_error(err)
    assert "Permission denied" in err and list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- help
@pytest.mark.parametrize("command, values", [
    ("report", ["logit", "likelihood", "asin", "beta", "mean", "xlogit",   # --ci-method
                "html, md, pdf, docx",                                      # --format
                "poor_health", "depression", "died",                        # --outcomes
                "gss_panel20", "ess", "brfss", "demo",                      # --dataset
                "--sddf-path", "--country", "--weight", "--psu", "--strata"]),
    ("describe", ["gss_panel20", "ess", "demo", "--sddf-path", "--wave"]),
    ("datasets", []),
])
def test_help_lists_values_and_two_examples(command, values, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for v in values:
        assert v in out, v
    examples = out.split("examples:", 1)[1]
    assert examples.count(f"socialhealth {command}") >= 2


# ----------------------------------------------------------------------------- conditions
@pytest.mark.parametrize("exposure, text", [
    ("sex==Fem", "'female', 'male'"),
    ("ucla3_score>=nan", "observed 3 to 9"),
    ("ucla3_score==high", "observed 3 to 9"),
    ("ucla3_score>=100", "true for none"),
])
def test_bad_conditions_are_one_line_errors(exposure, text, capsys, tmp_path):
    out = tmp_path / "r.md"
    rc, _, err = run(["report", "--dataset", "demo", "--exposure", exposure, "--output",
                      str(out)], capsys)
    assert rc == 1
    assert text in one_line_error(err)
    assert not out.exists()
    rc, _, err = run(["report", "--dataset", "demo", "--outcomes", f"depression,{exposure}",
                      "--output", str(out)], capsys)
    assert rc == 1 and text in one_line_error(err)


def test_ess_country_is_checked_against_the_file(capsys, shared_data_dir):
    path = shared_data_dir / "ess" / "ESS7GB.sav"
    if not path.exists():
        pytest.skip("ESS7GB.sav not present")
    from socialhealth import datasets

    rc, _, err = run(["describe", "--dataset", "ess", "--path", str(path), "--country", "XX",
                      "--no-cache"], capsys)
    errors = "\n".join(ln for ln in err.splitlines() if "warning:" not in ln)
    assert rc == 1 and "holds no respondents of country 'XX'; its cntry codes: ['GB']" in \
        one_line_error(errors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the weights-only design warning of round 7
        plain = datasets.load("ess", path=path, cache=False)
        lower = datasets.load("ess", path=path, country="gb", cache=False)   # unambiguous case
    assert len(lower.data) == len(plain.data) > 0


def test_conditions_on_real_files_with_missing_values(capsys, tmp_path, shared_data_dir):
    """The 'boolean value of NA is ambiguous' crash of issue 12, on the real files."""
    gss = shared_data_dir / "gss" / "gss_panel20.dta"
    ess = shared_data_dir / "ess" / "ESS7GB.sav"
    if not (gss.exists() and ess.exists()):
        pytest.skip("gss_panel20.dta / ESS7GB.sav not present")
    out = tmp_path / "r.md"
    rc, _, err = run(["report", "--dataset", "gss_panel20", "--path", str(gss), "--wave",
                      "2020", "--exposure", "ucla3_isolated==often", "--output", str(out)],
                     capsys)
    assert rc == 1
    line = one_line_error(err)
    assert "3 = often" in line and "'ucla3_isolated>=3'" in line and "TypeError" not in line
    for spec in ("lonely==yes", "lonely==True"):
        rc, _, err = run(["report", "--dataset", "ess", "--path", str(ess), "--exposure", spec,
                          "--outcomes", "poor_health", "--output", str(out)], capsys)
        assert rc == 0, err
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "",
                      out.read_text(encoding="utf-8"))
        assert "with the exposure missing are left out" in text
        assert not re.search(r"(?<![A-Za-z])nan(?![A-Za-z])", text, re.I)


def _ess7_without_design(path: Path, n: int = 240) -> Path:
    """An ESS round-7 style SPSS file with no psu/stratum (those are in the SDDF file)."""
    import numpy as np
    import pandas as pd
    import pyreadstat

    rng = np.random.default_rng(7)
    df = pd.DataFrame({
        "idno": np.arange(1, n + 1), "cntry": ["GB"] * n, "essround": [7] * n,
        "pspwght": rng.uniform(0.5, 2.0, n), "pweight": [2.0] * n, "dweight": [1.0] * n,
        "fltlnl": rng.integers(1, 5, n), "sclmeet": rng.integers(1, 8, n),
        "inprdsc": rng.integers(0, 7, n), "health": rng.integers(1, 6, n),
        "agea": rng.integers(16, 90, n), "gndr": rng.integers(1, 3, n),
        "hhmmb": rng.integers(1, 6, n), "inwyys": [2014] * n,
    })
    pyreadstat.write_sav(df, str(path), missing_ranges={"fltlnl": [7, 8, 9]})
    return path


def test_report_made_by_the_cli_names_flags_in_its_notes(tmp_path, capsys, monkeypatch):
    # the ESS design note tells the reader to merge the SDDF file: in a report written by the
    # command line it must name the flag (--sddf-path), as the printed warning does, not the
    # Python keyword; a report built in Python keeps the keyword
    monkeypatch.chdir(tmp_path)
    sav = _ess7_without_design(tmp_path / "ESS7GB.sav")
    rc, _, err = run(["report", "--dataset", "ess", "--path", str(sav), "--output", "r.md"],
                     capsys)
    assert rc == 0, err
    text = (tmp_path / "r.md").read_text()
    assert "Pass --sddf-path to merge" in text
    assert "sddf_path=" not in text

    from socialhealth import datasets, report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = report.build(datasets.load("ess", path=sav, cache=False))
    notes = [n for s in rep.sections for n in s.notes]
    assert any("Pass sddf_path= to merge" in n for n in notes)
