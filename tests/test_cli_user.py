"""What a user sees from the command line: rows the loader dropped, and the README's panel
command filling the longitudinal section (real file; skipped without ../shared)."""
from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

from socialhealth import cli, datasets, report
from socialhealth.datasets._panel import write_example_long

README = Path(__file__).resolve().parents[1] / "README.md"
DROPPED = ("rows of the file: 18 read, 3 kept; dropped: other waves 12; no wtpannr123 weight "
           "(persons interviewed in all three waves, non-response adjusted) 3")


def test_describe_counts_the_rows_the_loader_dropped(tmp_path, capsys):
    # write_example_long: 6 persons x 3 waves = 18 rows; wave 2006: 6 rows (12 other waves);
    # wtpannr123 only for persons 1, 2, 4 -> 3 dropped, 3 kept
    path = write_example_long(tmp_path / "p.dta")
    rc = cli.main(["describe", "--dataset", "gss_panel06", "--path", str(path), "--wave", "2006",
                   "--no-cache"])
    out = capsys.readouterr().out
    assert rc == 0
    assert DROPPED in out
    assert "note: 1 of 2 strata have a single PSU" in out


def test_report_sample_table_counts_the_rows_the_loader_dropped(tmp_path):
    path = write_example_long(tmp_path / "p.dta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = report.build(datasets.load("gss_panel06", path=path, wave=2006, cache=False))
    shown = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert "rows of the file: " + shown["Rows of the file"] == DROPPED
    demo = report.build(datasets.load("demo"))     # nothing dropped: no such row
    assert "Rows of the file" not in set(demo["sample"].tables[0].frame["item"])


def test_readme_panel_command_fills_the_longitudinal_section(shared_data_dir, tmp_path):
    f = shared_data_dir / "gss" / "gss_panel06_long.dta.zip"
    if not f.exists():
        pytest.skip("gss_panel06_long.dta.zip not available")
    text = README.read_text(encoding="utf-8").replace("\n", " ")
    m = re.search(r"`(socialhealth report --dataset gss_panel06 [^`]*)`", text)
    assert m, "README lost its gss_panel06 report command"
    argv = shlex.split(m.group(1))[1:]
    argv[argv.index("--path") + 1] = str(f)
    out = tmp_path / "p06.md"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main([*argv, "--format", "md", "--output", str(out)]) == 0
    md = out.read_text()
    assert "over time: linked panel" in md
    head = md.split("over time: linked panel", 1)[1][:400]
    assert "Skipped" not in head, head
