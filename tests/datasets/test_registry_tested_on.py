"""registry.toml says, for every loader, what its tests read (a real file or generated
native-format files only); data/README.md's table and 'socialhealth datasets' say the same."""
from __future__ import annotations

import re
from pathlib import Path

from socialhealth import datasets
from socialhealth.datasets._registry import TESTED_ON, registry

README = Path(__file__).resolve().parents[2] / "data" / "README.md"
#: The state when this test was written (issue 12); changing it is a decision, not a refactor.
REAL = {"gss", "gss_panel06", "gss_panel10", "gss_panel20", "ess", "brfss"}
GENERATED_ONLY = {"nhis", "hrs", "ukhls", "bhps", "elsa", "opn", "cls"}


def test_every_entry_says_what_its_tests_read():
    for name, e in registry().items():
        value = e.get("tested_on", "")
        assert value.startswith(TESTED_ON), (name, value)
    reg = registry()
    assert {n for n in reg if reg[n]["tested_on"].startswith("real ")} == REAL
    assert {n for n in reg if reg[n]["tested_on"] == "generated native-format files only"} \
        == GENERATED_ONLY
    assert reg["gss"]["tested_on"] == "real file: GSS 2018 single-year release"
    assert reg["brfss"]["tested_on"] == "real rows: 2016, three states (TN, LA, RI)"
    assert "tested_on" in datasets.list().columns


def test_data_readme_table_matches_the_registry():
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `(\w+)` \|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")][-1]
    reg = registry()
    assert set(rows) == set(reg)
    for name, e in reg.items():
        assert rows[name] == e["tested_on"], name
