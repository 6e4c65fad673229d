"""The engine's public extension API: what code outside socialhealth.design may use.

(a) An AST scan of every module of src/socialhealth outside ``socialhealth/design``: it fails
    on any access to a private member of the design engine -- an attribute ``x._name`` (or
    ``getattr(x, "_name")``) whose name is a private name defined in socialhealth/design, an
    attribute of a module imported from socialhealth.design, or an import of a private name or
    private module from socialhealth.design. Dunder names and a module's own private names
    used on ``self``/``cls`` are allowed. A self-check runs the scanner on synthetic offending
    and harmless snippets, so it cannot pass by scanning nothing.
(b) The worked "estimator in one file" of CONTRIBUTING.md (its code block is run here): a
    design-based geometric mean written only with the public API, checked against R
    (tests/fixtures/extension_api: svymean(~log(y)) + svycontrast(exp) on Taylor designs,
    withReplicates on replicate designs; R 4.2.2, survey 4.1-1).
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "socialhealth"
DESIGN = SRC / "design"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "extension_api"


# ----------------------------------------------------------------------------- the scanner
def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, class/module-level assignments and
    attributes stored on any object (``self._x = ...``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return {n for n in out if _private(n)}


def design_private_names() -> set[str]:
    """Every private name defined anywhere in socialhealth/design, plus its private modules."""
    names: set[str] = set()
    for path in DESIGN.rglob("*.py"):
        names |= _defined_private_names(ast.parse(path.read_text(encoding="utf-8")))
        if _private(path.stem):
            names.add(path.stem)
    return names


def _resolve(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


# The result protocol's documented subclass hooks (CONTRIBUTING.md, "Result protocol"): a
# result class outside design/ overrides and calls these by design, as sklearn's ``_more_tags``.
RESULT_PROTOCOL_HOOKS = frozenset({"_estimates", "_check", "_summary_text", "_label_columns",
                                   "_not_applicable", "_what"})


def scan_source(source: str, package: str, private_names: set[str],
                filename: str = "<src>") -> list[str]:
    """Offending accesses to the design engine's private members in one module's source.

    ``package`` is the module's package (``"socialhealth.models"``) to resolve relative
    imports. Returns ``"file:line: description"`` strings (empty: clean).
    """
    tree = ast.parse(source)
    own = _defined_private_names(tree)
    design_aliases: set[str] = set()
    found: list[str] = []

    def flag(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = _resolve(node.module, node.level, package)
            if mod == "socialhealth.design" or mod.startswith("socialhealth.design."):
                if any(_private(p) for p in mod.split(".")):
                    flag(node, f"import from private module {mod}")
                for a in node.names:
                    if _private(a.name):
                        flag(node, f"import of private name {a.name} from {mod}")
                    else:  # a design module, class or function: its private members too
                        design_aliases.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "socialhealth.design" or a.name.startswith("socialhealth.design."):
                    if any(_private(p) for p in a.name.split(".")):
                        flag(node, f"import of private module {a.name}")
                    if a.asname:
                        design_aliases.add(a.asname)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and node.attr not in RESULT_PROTOCOL_HOOKS):
            recv = node.value
            on_self = isinstance(recv, ast.Name) and recv.id in ("self", "cls")
            if isinstance(recv, ast.Name) and recv.id in design_aliases:
                flag(node, f"{recv.id}.{node.attr} (private member of a design module)")
            elif on_self:
                if node.attr in private_names and node.attr not in own:
                    flag(node, f"self.{node.attr} (inherited private design member)")
            elif node.attr in private_names:
                flag(node, f".{node.attr} (private design member)")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and _private(node.args[1].value)
              and node.args[1].value in private_names):
            flag(node, f"{node.func.id}(..., {node.args[1].value!r}) (private design member)")
    return found


def _modules_outside_design() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if DESIGN not in p.parents)


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1]) if parts[-1] != "__init__" else ".".join(parts[:-1])


PRIVATE = design_private_names()


def test_scanner_knows_the_engine_private_names():
    # the names the models used to reach for: the scan would be vacuous without them
    for name in ("_w", "_W", "_general_vcov", "_vcov_on_rows", "_restrict_to_rows",
                 "_with_weights", "_ratio_vcov", "_short_label", "_spec", "_irls", "_aliased",
                 "_codes", "_separation", "_offset"):
        assert name in PRIVATE, name
    files = _modules_outside_design()
    assert len(files) > 50
    assert SRC / "models" / "_coxph.py" in files and SRC / "report" / "rcode.py" in files


OFFENDING = {
    "w = design._w[rows]": 1,
    "V = self.design._general_vcov(theta, influence=f, refit=g)": 1,
    "d2 = res.design._with_weights(w)": 1,
    "from socialhealth.design.glm import _aliased": 1,
    "from socialhealth.design import _separation": 1,
    "from socialhealth.design._separation import cox_monotone": 1,
    "from ..design._separation import cox_monotone": 1,
    "import socialhealth.design._separation as sep": 1,
    "from socialhealth.design import glm as g\nfit = g._irls(1, 2)": 1,
    "n = getattr(design, '_W', None)": 1,
    "spec = getattr(design, '_spec', {})": 1,
    "class M(SurveyDesign):\n    def f(self):\n        return self._stages": 1,
}

HARMLESS = [
    "w = design.weights[rows]",
    "V = design.estimator_vcov(theta, influence=f, refit=g)",
    "from socialhealth.design.extension import aliased_columns",
    "class C:\n    def __init__(self):\n        self._w = 1\n"
    "    def f(self):\n        return self._w",
    "x = obj.__class__.__name__",
    "y = run._not_a_design_member_xyz",
    "from socialhealth.datasets._schema import schema",
]


@pytest.mark.parametrize("snippet,n", list(OFFENDING.items()))
def test_scanner_flags_offending_code(snippet, n):
    assert len(scan_source(snippet, "socialhealth.models", PRIVATE)) == n, snippet


@pytest.mark.parametrize("snippet", HARMLESS)
def test_scanner_passes_harmless_code(snippet):
    assert scan_source(snippet, "socialhealth.models", PRIVATE) == []


def test_no_module_outside_design_uses_private_design_members():
    found = []
    for path in _modules_outside_design():
        found += scan_source(path.read_text(encoding="utf-8"), _package_of(path), PRIVATE,
                             str(path.relative_to(SRC.parent)))
    assert not found, ("modules outside socialhealth.design use private members of the "
                       "design engine; use the public extension API (DesignBase.weights, "
                       "with_weights, restrict_to_rows, variance_from_influence, "
                       "with_replicates, estimator_vcov, model_vcov, totals_vcov, "
                       "socialhealth.design.extension):\n" + "\n".join(found))


# ----------------------------------------------------------------------------- (b) example
def _contributing_example() -> str:
    """The Python block of "Adding an estimator in one file" in CONTRIBUTING.md."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("### Adding an estimator in one file", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


EXAMPLE = _contributing_example()
_namespace: dict = {"__name__": "contributing_example"}
with contextlib.redirect_stdout(io.StringIO()) as _printed:
    exec(compile(EXAMPLE, "CONTRIBUTING.md", "exec"), _namespace)  # noqa: S102 - our own docs
geometric_mean = _namespace["geometric_mean"]


def test_the_example_uses_only_the_public_api():
    assert scan_source(EXAMPLE, "socialhealth.models", PRIVATE) == []
    assert "design.model_vcov" in EXAMPLE and "import socialhealth" in EXAMPLE
    # the block runs and prints the Taylor and the jackknife result
    assert len(_printed.getvalue().splitlines()) == 2


@pytest.fixture(scope="module")
def geomean_reference():
    return json.loads((FIXTURES / "geomean_reference.json").read_text())


def _designs():
    clus1 = sh.datasets.load_example("apiclus1")
    strat = sh.datasets.load_example("apistrat")
    dclus1 = sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc")
    dstrat = sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    pop = pd.DataFrame({"stype": ["E", "H", "M"], "Freq": [4421, 755, 1018]})
    return {
        "taylor_clus1_api00": (dclus1, "api00"),
        "taylor_clus1_avged": (dclus1, "avg.ed"),
        "taylor_strat_E_api00": (dstrat.subset(dstrat.data.stype == "E"), "api00"),
        "taylor_poststrat_api00": (dclus1.post_stratify("stype", pop), "api00"),
        "jk1_clus1_api00": (dclus1.to_replicate("jk1"), "api00"),
        "jk1_clus1_avged": (dclus1.to_replicate("jk1"), "avg.ed"),
        "jkn_strat_api00": (dstrat.to_replicate("jkn"), "api00"),
    }


@pytest.mark.parametrize("case", list(_designs()))
def test_geometric_mean_matches_r(case, geomean_reference):
    design, column = _designs()[case]
    ref = geomean_reference[case]
    est, se, df = geometric_mean(design, column)
    assert est == pytest.approx(ref["estimate"], rel=1e-10)
    assert se == pytest.approx(ref["se"], rel=1e-8)
    assert df == ref["degf"]


def test_geometric_mean_by_hand_on_a_tiny_design():
    # two strata of two PSUs, with replacement: V = sum_h n_h/(n_h-1) sum_k (z_hk - zbar_h)^2
    df = pd.DataFrame({"st": [1, 1, 2, 2], "y": [1.0, 4.0, 2.0, 8.0], "w": [1.0, 1.0, 2.0, 2.0]})
    d = sh.SurveyDesign(df, weights="w", strata="st")
    logy, w = np.log(df.y.to_numpy()), df.w.to_numpy()
    g = np.exp((w @ logy) / w.sum())
    z = g * w * (logy - np.log(g)) / w.sum()
    var = 2 * ((z[0] - z[:2].mean()) ** 2 + (z[1] - z[:2].mean()) ** 2) \
        + 2 * ((z[2] - z[2:].mean()) ** 2 + (z[3] - z[2:].mean()) ** 2)
    est, se, _ = geometric_mean(d, "y")
    assert est == pytest.approx(np.exp((np.log(1) + np.log(4) + 2 * np.log(2) + 2 * np.log(8))
                                       / 6), rel=1e-12)
    assert se == pytest.approx(np.sqrt(var), rel=1e-12)


# ----------------------------------------------------------------------------- API contracts
def _dclus1():
    return sh.SurveyDesign(sh.datasets.load_example("apiclus1"), weights="pw", psu="dnum",
                           fpc="fpc")


def test_variance_from_influence_is_the_mean_variance_and_refuses_replicates(geomean_reference):
    d = _dclus1()
    y, w = d.data.api00.to_numpy(float), d.weights
    m = w @ y / w.sum()
    z = w * (y - m) / w.sum()
    se_r = geomean_reference["svymean_clus1_api00_se"]  # R: SE(svymean(~api00, dclus1))
    V = d.variance_from_influence(z)
    assert np.sqrt(V[0, 0]) == pytest.approx(float(d.mean("api00").se.iloc[0]), rel=1e-12)
    assert np.sqrt(V[0, 0]) == pytest.approx(se_r, rel=1e-10)
    rows = np.flatnonzero(z != 0)
    assert np.allclose(d.variance_from_influence(z[rows], rows=rows), V, rtol=1e-12)
    with pytest.raises(DesignError, match="replicate-weight design"):
        d.to_replicate("jk1").variance_from_influence(z)
    with pytest.raises(DesignError, match="rows"):
        d.variance_from_influence(z[:10])


def test_with_replicates_matches_the_replicate_mean_and_refuses_taylor():
    d = _dclus1()
    r = d.to_replicate("jk1")
    y = r.data.api00.to_numpy(float)
    theta, V = r.with_replicates(lambda w: w @ y / w.sum())
    est = r.mean("api00")
    assert theta[0] == pytest.approx(float(est.estimate.iloc[0]), rel=1e-12)
    assert np.sqrt(V[0, 0]) == pytest.approx(float(est.se.iloc[0]), rel=1e-12)
    with pytest.raises(DesignError, match="to_replicate"):
        d.with_replicates(lambda w: w @ y / w.sum())


def test_with_weights_and_restrict_to_rows_keep_the_design():
    d = _dclus1()
    e = d.data.stype.to_numpy() == "E"
    sub = d.subset(e)
    via_w = d.with_weights(np.where(e, d.weights, 0.0))
    via_rows = d.restrict_to_rows(np.flatnonzero(e))
    for other in (via_w, via_rows):
        assert other.degf() == sub.degf()
        assert float(other.mean("api00").se.iloc[0]) == float(sub.mean("api00").se.iloc[0])
    assert d.restrict_to_rows(np.arange(d.n)) is d
    with pytest.raises(DesignError, match="one weight per row"):
        d.with_weights(np.ones(3))


def test_totals_vcov_is_the_total_variance(geomean_reference):
    d = _dclus1()
    V = d.totals_vcov(d.data[["enroll"]].to_numpy(float))
    assert np.sqrt(V[0, 0]) == pytest.approx(geomean_reference["svytotal_clus1_enroll_se"],
                                             rel=1e-10)
    assert np.sqrt(V[0, 0]) == pytest.approx(float(d.total("enroll").se.iloc[0]), rel=1e-12)
    r = d.to_replicate("jk1")
    V = r.totals_vcov(r.data.enroll.to_numpy(float))
    assert np.sqrt(V[0, 0]) == pytest.approx(float(r.total("enroll").se.iloc[0]), rel=1e-12)


def test_public_description_properties():
    d = _dclus1()
    assert d.label == d.describe().splitlines()[0]
    assert d.spec["psu"] == ["dnum"] and d.weights_column == "pw"
    d.spec["psu"].append("x")                      # a copy: the design is unchanged
    assert d.spec["psu"] == ["dnum"]
    r = d.to_replicate("jk1")
    assert r.replicate_columns is None
