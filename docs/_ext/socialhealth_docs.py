"""Sphinx extension: survey pages generated from the package's own registry and codebooks.

At every build (``builder-inited``) this writes

* ``surveys/index.rst`` and ``surveys/<name>.rst``, one page per survey registered in
  ``socialhealth/datasets/registry.toml``; the tables on those pages are built by the
  directives below straight from ``registry.toml`` and ``codebooks/<codebook>.toml`` as the
  installed package reads them, so the pages cannot drift from the code;
* ``notebooks/*.ipynb``, copies of the repository's ``notebooks/`` (rendered, not executed).

Generated files are git-ignored (``docs/.gitignore``) and rewritten only when their text
changes (so incremental builds stay incremental).
"""
from __future__ import annotations

import ast
import importlib
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

from socialhealth.datasets._codebook import load_codebook
from socialhealth.datasets._registry import registry

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent

#: top-level codebook tables rendered as a concept table (the others as key/value tables)
SKIP_TABLES = ("concepts", "maps")


# --------------------------------------------------------------------------- text formatting
def _fmt(value) -> str:
    """A TOML value as compact text."""
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mapping(m: dict) -> str:
    return "; ".join(f"{k} \u2192 {v}" for k, v in m.items())


def coding(spec: dict) -> str:
    """How a concept's source codes become the harmonised value (one cell of the table)."""
    rule = spec.get("rule", "")
    parts: list[str] = []
    if spec.get("combine"):
        parts.append(f"combine sources: {spec['combine']}")
    if rule == "map" or (not rule and "map" in spec):
        if "map" in spec:
            ref = f"(shared map {spec['map_ref']}) " if spec.get("map_ref") else ""
            parts.append(ref + _mapping(spec["map"]))
        for src, m in spec.get("maps", {}).items():
            parts.append(f"{src}: {_mapping(m)}")
    elif rule == "in":
        parts.append(f"true if code in {_fmt(spec.get('true', []))}")
        parts.append(f"false if in {_fmt(spec['false'])}" if "false" in spec
                     else "false for any other valid code")
    elif rule == "numeric":
        parts.append(f"valid range {_fmt(spec['valid'])}" if "valid" in spec else "as a number")
    elif rule == "bmi":
        parts.append("kg / m\u00b2" + (f", unit scale {_fmt(spec['scale'])}" if "scale" in spec
                                       else ""))
    elif rule == "custom":
        parts.append(f"function {spec.get('function', '')} (the loader's CUSTOM_RULES)")
    elif rule == "product":
        parts.append("product of the sources")
    elif rule == "label":
        parts.append("the file's value label")
    if spec.get("levels"):
        parts.append(f"levels {_fmt(spec['levels'])}")
    if spec.get("missing_if"):
        parts.append(f"missing if {_fmt(spec['missing_if'])}")
    if spec.get("missing"):
        parts.append(f"missing codes {_fmt(spec['missing'])}")
    if spec.get("otherwise"):
        parts.append(f"otherwise {spec['otherwise']}")
    return "; ".join(parts)


def when(spec: dict) -> str:
    if spec.get("years"):
        return ", ".join(str(y) for y in spec["years"])
    if spec.get("waves"):
        return "waves " + ", ".join(str(w) for w in spec["waves"])
    return ""


def _notes(spec: dict) -> str:
    text = spec.get("notes", "")
    if spec.get("notes_other_waves"):
        text += (" " if text else "") + "Other waves: " + spec["notes_other_waves"]
    if spec.get("optional"):
        text += (" " if text else "") + "(Optional: not measured when absent from the file.)"
    return text


# --------------------------------------------------------------------------- docutils helpers
def _cell(content) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, nodes.Node):
        entry += nodes.paragraph("", "", content)
    else:
        entry += nodes.paragraph(text=str(content))
    return entry


def table(headers: list[str], rows: list[list], widths: list[int], classes=()) -> nodes.table:
    tbl = nodes.table(classes=["socialhealth-table", *classes])
    group = nodes.tgroup(cols=len(headers))
    tbl += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    if any(headers):
        head = nodes.thead()
        row = nodes.row()
        for h in headers:
            row += _cell(h)
        head += row
        group += head
    body = nodes.tbody()
    for r in rows:
        row = nodes.row()
        for c in r:
            row += _cell(c)
        body += row
    group += body
    return tbl


def _literal(text: str) -> nodes.literal:
    return nodes.literal(text=text)


def _doc_link(docname: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=docname,
                                refexplicit=True, refwarn=True)
    ref += nodes.inline(text=text)
    return ref


def _loader_target(entry: dict) -> str:
    spec = entry.get("loader", "")
    if not spec:
        return ""
    module, func = spec.split(":")
    return f"socialhealth.datasets.{module}.{func}"


# --------------------------------------------------------------------------- directives
class SurveyIndex(SphinxDirective):
    """``.. socialhealth-survey-index::`` - one row per registered survey."""

    def run(self):
        rows = []
        for name, e in registry().items():
            rows.append([_doc_link(f"/surveys/{name}", name), e.get("title", ""),
                         e.get("country", ""), e.get("years", ""), e.get("access", ""),
                         e.get("tested_on", "")])
        return [table(["name", "survey", "country", "years", "access", "loader tested on"],
                      rows, [12, 34, 7, 14, 10, 30])]


class SurveyCodebook(SphinxDirective):
    """``.. socialhealth-survey:: <registry name>`` - registry entry and codebook tables."""

    required_arguments = 1
    option_spec = {"section": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        e = registry()[name]
        self.env.note_dependency(str(REPO / "src/socialhealth/datasets/registry.toml"))
        out: list[nodes.Node] = []
        fields = [("registry name", _literal(name))]
        for key in ("country", "years", "access", "licence", "url", "citation",
                    "loneliness_items", "tested_on", "notes"):
            value = e.get(key)
            if not value:
                continue
            if key == "url":
                value = nodes.reference(value, value, refuri=value)
            fields.append((key.replace("_", " "), value))
        target = _loader_target(e)
        if target:
            fields.append(("loader", _literal(target)))
        if isinstance(e.get("population"), dict):
            fields.append(("population", _fmt(e["population"])))
        fields.append(("load it", _literal(
            f'sh.datasets.load("{name}")' if name == "demo"
            else f'sh.datasets.load("{name}", path="<the file as distributed>")')))
        out.append(table(["", ""], [[k, v] for k, v in fields], [18, 82],
                         classes=["socialhealth-fields"]))
        files = e.get("files") or []
        if files:
            out.append(nodes.rubric(text="Known files"))
            out.append(table(["file", "year / wave", "bytes", "sha256", "note"],
                             [[f.get("name", ""), _fmt(f.get("year", f.get("wave", ""))),
                               _fmt(f.get("bytes", "")), f.get("sha256", "")[:16]
                               + ("..." if f.get("sha256") else ""), f.get("note", "")]
                              for f in files], [20, 8, 10, 16, 46]))
        book = e.get("codebook")
        if not book:
            out.append(nodes.paragraph(text=(
                "No codebook file: this survey is generated by socialhealth (or its loader "
                "reads no codebook); its columns are the harmonised schema.")))
            return out
        self.env.note_dependency(str(REPO / f"src/socialhealth/datasets/codebooks/{book}.toml"))
        cb = load_codebook(book)
        out.append(nodes.paragraph("", "", nodes.Text("Codebook: "),
                                   _literal(f"src/socialhealth/datasets/codebooks/{book}.toml")))
        out.append(nodes.rubric(text="Harmonised columns (codebook [concepts])"))
        out.append(concept_table(cb.get("concepts", {})))
        for key, value in cb.items():
            if key in SKIP_TABLES:
                continue
            out.append(nodes.rubric(text=f"[{key}]"))
            if isinstance(value, dict) and value and all(
                    isinstance(v, dict) and ("rule" in v or "sources" in v)
                    for v in value.values()):
                out.append(concept_table(value))
            elif isinstance(value, dict):
                out.append(table(["key", "value"], [[k, _fmt(v)] for k, v in value.items()],
                                 [22, 78]))
            else:
                out.append(nodes.paragraph(text=_fmt(value)))
        return out


def concept_table(concepts: dict) -> nodes.table:
    """One row per column: source variables, rule, coding, years, notes."""
    rows = [[_literal(c), ", ".join(s.get("sources", [])), s.get("rule", s.get("kind", "")),
             coding(s), when(s), _notes(s)] for c, s in concepts.items()]
    return table(["column", "source variables", "rule", "coding", "years / waves", "notes"],
                 rows, [14, 14, 8, 28, 8, 28], classes=["codebook"])


# --------------------------------------------------------------------------- page generation
def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text("utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def _title(text: str) -> str:
    for ch in "\\*`_|":
        text = text.replace(ch, "\\" + ch)
    return text


def survey_page(name: str, e: dict) -> str:
    title = _title(f"{name}: {e.get('title', name)}")
    target = _loader_target(e)
    text = [title, "=" * len(title), "",
            ".. This page is generated by docs/_ext/socialhealth_docs.py from registry.toml",
            "   and the survey's codebook at build time; do not edit it.", "",
            f".. socialhealth-survey:: {name}", ""]
    if target:
        text += ["Loader", "------", "", f".. autofunction:: {target}", ""]
    return "\n".join(text)


def generate(app) -> None:
    reg = registry()
    index = ["Surveys", "=======", "",
             "One page per survey registered in ``src/socialhealth/datasets/registry.toml``:",
             "what its loader maps, for which years, with the codebook table. The pages are",
             "generated from the registry and the codebook files at every build.", "",
             "Survey files are not shipped (licences): download the file from the provider "
             "and pass its path to :func:`socialhealth.datasets.load`. The harmonised "
             "columns are described in :doc:`/harmonised_schema`.", "",
             ".. socialhealth-survey-index::", "", ".. toctree::", "   :hidden:", ""]
    index += [f"   {name}" for name in reg] + [""]
    out = DOCS / "surveys"
    _write(out / "index.rst", "\n".join(index))
    for name, e in reg.items():
        _write(out / f"{name}.rst", survey_page(name, e))
    for stale in out.glob("*.rst"):
        if stale.stem not in reg and stale.stem != "index":
            stale.unlink()
    nb_out = DOCS / "notebooks"
    nb_out.mkdir(exist_ok=True)
    sources = sorted((REPO / "notebooks").glob("*.ipynb"))
    for nb in sources:
        dest = nb_out / nb.name
        if not dest.exists() or dest.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, dest)
    for stale in nb_out.glob("*.ipynb"):
        if stale.name not in {nb.name for nb in sources}:
            stale.unlink()


# --------------------------------------------------------------------------- references
_MISSING = object()


def _get(path: str):
    """The object the dotted ``path`` names (module, attribute, or a class's dataclass field /
    annotated attribute), or ``_MISSING``."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if hasattr(obj, name):
                obj = getattr(obj, name)
            elif isinstance(obj, type) and any(name in getattr(k, "__annotations__", {})
                                               for k in obj.__mro__):
                obj = None          # a declared instance attribute (dataclass field)
            else:
                return _MISSING
        return obj
    return _MISSING


def exists(path: str) -> bool:
    """Whether the dotted ``path`` names a module or an attribute reachable by import."""
    return _get(path) is not _MISSING


def resolve_internal(app, env, node, contnode):
    """Resolve a Python reference the documented pages do not define.

    Docstrings also point at internal modules and classes (``socialhealth.design.taylor_variance``,
    ``WaldCoefficients``) that have no page of their own. Such a reference is accepted only when
    the object exists in the installed package (looked up from the reference's module and class
    and from the object whose docstring holds it). It is then linked to the documented object
    when exactly one documented object ends with the same name (e.g.
    ``socialhealth.design.SurveyDesign.glm`` -> ``socialhealth.SurveyDesign.glm``), otherwise
    shown as code text. A reference to an object that does not exist stays unresolved, and
    nitpicky mode makes that a build error.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    modname, clsname = node.get("py:module"), node.get("py:class")
    candidates = [target, f"socialhealth.{target}"]
    if modname:
        candidates.append(f"{modname}.{target}")
        if clsname:
            candidates.append(f"{modname}.{clsname}.{target}")
    # the object whose docstring holds the reference: its parents and their modules
    where = re.search(r"docstring of ([\w.]+)", node.source or "")
    if where:
        parts = where.group(1).split(".")
        for i in range(len(parts), 1, -1):
            prefix = ".".join(parts[:i])
            candidates.append(f"{prefix}.{target}")
            module = getattr(_get(prefix), "__module__", None)
            if isinstance(module, str):
                candidates.append(f"{module}.{target}")
    if not any(c.startswith("socialhealth") and exists(c) for c in candidates):
        return None
    domain = env.get_domain("py")
    typ = node["reftype"]
    tail = ".".join(target.split(".")[-2:])
    if "." in tail:
        matches = [m for m in domain.find_obj(env, None, None, tail, typ, 1)
                   if m[0].endswith("." + tail)]
        if len(matches) == 1:
            node = node.deepcopy()
            node["reftarget"] = matches[0][0]
            return domain.resolve_xref(env, node["refdoc"], app.builder, typ, matches[0][0],
                                       node, contnode)
    return contnode


def measures_catalogue(app, what, name, obj, options, lines):
    """``socialhealth.measures.__doc__`` ends with every instrument's rules, appended as plain
    text at import time; show that part as a preformatted block after the written docstring."""
    if what != "module" or name != "socialhealth.measures":
        return
    source = Path(obj.__file__).read_text("utf-8")
    written = ast.get_docstring(ast.parse(source)) or ""
    n = len(written.splitlines())
    catalogue = lines[n:]
    while catalogue and not catalogue[0].strip():
        catalogue.pop(0)
    if not catalogue:
        return
    del lines[n:]
    lines += ["", ".. rubric:: Instrument catalogue", "",
              "Every instrument's items, coding and scoring rules (``get_instrument(key).doc``):",
              "", "::", ""] + ["    " + line for line in catalogue] + [""]


def setup(app):
    app.connect("autodoc-process-docstring", measures_catalogue)
    app.connect("missing-reference", resolve_internal)
    app.add_directive("socialhealth-survey", SurveyCodebook)
    app.add_directive("socialhealth-survey-index", SurveyIndex)
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
