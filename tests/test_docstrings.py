"""Every public function, class and method of socialhealth has a docstring.

Public = every module of the package whose dotted path has no component starting with "_",
and in each such module every name that does not start with "_" (plus the names in its
``__all__``) bound to a function or class *defined in socialhealth* (re-exported numpy/pandas
objects are not ours to document). For a public class, its public methods and properties
defined in the class body are checked too.

The user-facing verbs are held to more: an ``Examples`` section (or a ``>>>`` example) and,
where R has the same computation, the R call it matches ("In R: ...").

Names whose docstring is missing in files whose authors were still working when this test was
written are listed in ``ALLOWED_MISSING`` with the reason; they are reported as xfail (run
``pytest -rx tests/test_docstrings.py`` to list them) until someone documents them, after
which they simply pass and should be removed from the list.
"""
from __future__ import annotations

import doctest
import functools
import importlib
import inspect
import pkgutil
import re

import pytest

import socialhealth



# qualified name (module.qualname) -> why it may still lack a docstring
ALLOWED_MISSING: dict[str, str] = {
}


# doctest name (module.qualname) -> why its examples may still fail
ALLOWED_DOCTEST_FAILURES: dict[str, str] = {
}


# ----------------------------------------------------------------------------- collection

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


def _public_modules() -> list[str]:
    names = ["socialhealth"]
    for info in pkgutil.walk_packages(socialhealth.__path__, "socialhealth."):
        if _is_public_module(info.name):
            names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _public_modules()


def _ours(obj) -> bool:
    return (inspect.isfunction(obj) or inspect.isclass(obj)) and str(
        getattr(obj, "__module__", "")).startswith("socialhealth")


def _collect() -> dict[str, object]:
    """qualified name -> object (function, class, method/property function, or module)."""
    found: dict[str, object] = {}
    for modname in PUBLIC_MODULES:
        mod = importlib.import_module(modname)
        found[modname] = mod
        names = {n for n in vars(mod) if not n.startswith("_")} | set(getattr(mod, "__all__", ()))
        for name in sorted(names):
            obj = getattr(mod, name, None)
            if not _ours(obj):
                continue
            key = f"{obj.__module__}.{obj.__qualname__}"
            found[key] = obj
            if not inspect.isclass(obj):
                continue
            for attr, raw in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(raw, (staticmethod, classmethod)):
                    member = raw.__func__
                elif isinstance(raw, property):
                    member = raw.fget
                elif isinstance(raw, functools.cached_property):
                    member = raw.func
                elif inspect.isfunction(raw):
                    member = raw
                elif hasattr(type(raw), "__get__") and not inspect.isclass(raw) and callable(
                        getattr(obj, attr, None)):
                    member = getattr(obj, attr)  # method descriptors (design verb delegates)
                else:
                    continue
                found[f"{key}.{attr}"] = member
    return found


OBJECTS = _collect()


def _own_doc(obj) -> str:
    """The object's own docstring (not inherited, not the dataclass/namedtuple placeholder)."""
    doc = (obj.__doc__ or "").strip()
    if inspect.isclass(obj) and re.fullmatch(rf"{re.escape(obj.__name__)}\(.*\)", doc, re.S):
        return ""  # dataclasses and namedtuples invent "Name(field, ...)" when undocumented
    return doc


# ----------------------------------------------------------------------------- tests
def test_walk_found_the_package():
    # a guard against the walk silently finding nothing (e.g. a broken import path)
    for mod in ("socialhealth.design.base", "socialhealth.models._meta",
                "socialhealth.measures.scoring", "socialhealth.datasets.gss",
                "socialhealth.plot._forest"):
        assert mod in PUBLIC_MODULES
    for name in ("socialhealth.design.base.DesignBase.mean",
                 "socialhealth.design.base.DesignBase.proportion",
                 "socialhealth.models._coxph.coxph", "socialhealth.datasets.load"):
        assert name in OBJECTS
    assert len(OBJECTS) > 300


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_public_object_has_docstring(name):
    doc = _own_doc(OBJECTS[name])
    if not doc and name in ALLOWED_MISSING:
        pytest.xfail(f"{name} has no docstring: {ALLOWED_MISSING[name]}")
    assert doc, (f"{name} is public but has no docstring; add a numpy-style docstring "
                 "(what it computes, formula/rule, references, example, 'In R: ...').")


def test_allow_list_names_exist():
    # an allow-listed name that no longer exists is a typo or a stale entry
    stale = sorted(set(ALLOWED_MISSING) - set(OBJECTS))
    assert not stale, f"remove from ALLOWED_MISSING (no such public name): {stale}"


# user-facing verbs: (attribute path, needs an "In R" line)
_DESIGN_VERBS_R = ["mean", "total", "ratio", "var", "proportion", "quantile", "ttest", "chisq", "ranktest",
                   "glm", "subset", "assign", "post_stratify", "rake", "calibrate", "degf"]
VERBS: list[tuple[str, bool]] = (
    [(f"design.SurveyDesign.{v}", True) for v in _DESIGN_VERBS_R + ["to_replicate"]]
    + [(f"design.ReplicateDesign.{v}", True) for v in _DESIGN_VERBS_R]
    + [(f"models.{v}", True) for v in ["association", "interaction", "margins", "coxph",
                                        "survreg", "logrank",
                                        "ordinal", "multinomial", "meta", "mi_combine",
                                        "compare_risk_factors"]]
    + [(f"measures.{v}", True) for v in ["reliability", "score", "categorise"]]
    + [("datasets.load", True), ("datasets.fetch", False), ("datasets.list", False)]
    + [(f"tables.{v}", True) for v in ["describe", "regression"]]
)


def _resolve(path: str):
    obj = socialhealth
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _has_example(doc: str) -> bool:
    return bool(re.search(r"^\s*Examples\s*\n\s*-{3,}", doc, re.M)) or ">>>" in doc


@pytest.mark.parametrize("path,needs_r", VERBS, ids=[p for p, _ in VERBS])
def test_verb_has_example_and_r_call(path, needs_r):
    doc = inspect.getdoc(_resolve(path)) or ""
    assert doc, f"socialhealth.{path} has no docstring"
    assert _has_example(doc), f"socialhealth.{path}: no Examples section / >>> example"
    if needs_r:
        assert "In R" in doc, f"socialhealth.{path}: does not name the R call it matches ('In R: ...')"


def test_design_verbs_show_the_real_documentation():
    # the delegating verbs in design/base.py must expose the implementing function's docstring
    from socialhealth.design import calibration, hypothesis, proportion, quantile

    targets = {"proportion": proportion.proportion, "quantile": quantile.quantile,
               "ttest": hypothesis.ttest, "chisq": hypothesis.chisq,
               "post_stratify": calibration.post_stratify, "rake": calibration.rake,
               "calibrate": calibration.calibrate}
    from socialhealth.design import ReplicateDesign, SurveyDesign

    for cls in (SurveyDesign, ReplicateDesign):
        for name, func in targets.items():
            assert getattr(cls, name).__doc__ == func.__doc__, f"{cls.__name__}.{name}"


# ----------------------------------------------------------------------------- loaders, instruments
def test_every_loader_has_an_example():
    # "every loader has a docstring example": each registered loader that imports
    from socialhealth.datasets import _registry
    from socialhealth.errors import LoaderNotImplementedError

    missing = []
    for name in _registry.registry():
        try:
            fn = _registry.loader(name)
        except LoaderNotImplementedError:
            continue
        if fn is None:
            continue
        if not _has_example(inspect.getdoc(fn) or ""):
            missing.append(f"{name} ({fn.__module__}.{fn.__qualname__})")
    assert not missing, f"loaders without an Examples section / >>> example: {missing}"


def test_every_instrument_documents_items_coding_reverse_keys_cutoffs_citation():
    from socialhealth import measures

    for key in measures.instrument_keys():
        inst = measures.get_instrument(key)
        doc = inst.doc
        for section in ("Items (number, name, canonical codes):", "Scales:",
                        "Codings (raw -> canonical):", "Reference: "):
            assert section in doc, f"{key}: documentation lacks {section!r}"
        assert inst.reference.strip(), f"{key}: no citation"
        for item in inst.items:  # every reverse-keyed item is marked, no other item is
            pattern = rf"\s*{item.number} {re.escape(item.name)} "
            line = next(ln for ln in doc.splitlines() if re.match(pattern, ln))
            assert ("[REVERSE KEYED]" in line) == item.reverse, f"{key}: reverse key of {item.name}"
        for scale in inst.scales:  # every published cut-off set is listed with its band labels
            for cset in scale.cutoffs:
                assert f"cut-offs '{cset.name}'" in doc, f"{key}: cut-off set {cset.name!r} missing"
                for band in cset.bands:
                    assert band.label in doc, f"{key}: cut-off band {band.label!r} not documented"
        assert doc in (measures.__doc__ or doc), f"{key}: not in the measures module docstring"


# ----------------------------------------------------------------------------- examples run
ALL_MODULES = ["socialhealth"] + sorted(
    m.name for m in pkgutil.walk_packages(socialhealth.__path__, "socialhealth."))


@pytest.mark.parametrize("modname", ALL_MODULES)
def test_docstring_examples_run(modname, tmp_path, monkeypatch):
    """Every docstring example that is not marked ``# doctest: +SKIP`` gives the shown output."""
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(tmp_path / "cache"))
    mod = importlib.import_module(modname)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failed, allowed = [], []
    for test in finder.find(mod, modname):
        if not test.examples:
            continue
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=True)
        if result.failed:
            (allowed if test.name in ALLOWED_DOCTEST_FAILURES else failed).append(
                (test.name, "".join(out)))
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:  # pragma: no cover
        pass
    assert not failed, "docstring examples fail:\n" + "\n".join(text for _, text in failed)
    if allowed:
        pytest.xfail("; ".join(f"{name}: {ALLOWED_DOCTEST_FAILURES[name]}" for name, _ in allowed))
