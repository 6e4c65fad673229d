"""The dataset registry (``registry.toml``): names, metadata, loaders, files."""
from __future__ import annotations

import difflib
import importlib
from functools import lru_cache
from importlib import resources

from socialhealth.errors import UnknownDatasetError
from socialhealth.datasets._schema import tomllib

FIELDS = ["name", "title", "country", "years", "access", "url", "licence", "citation",
          "loneliness_items", "loader_status", "tested_on"]
#: How ``tested_on`` may start (registry.toml, checked by the tests).
TESTED_ON = ("real file: ", "real files: ", "real rows: ", "generated native-format files only",
             "untested: ", "synthetic by design")


@lru_cache(maxsize=None)
def registry() -> dict[str, dict]:
    """``{name: entry}`` in file order.

    Examples
    --------
    >>> from socialhealth.datasets._registry import registry
    >>> list(registry())[:2]
    ['gss', 'gss_panel06']
    """
    text = resources.files("socialhealth.datasets").joinpath("registry.toml").read_text("utf-8")
    return tomllib.loads(text)


def entry(name: str) -> dict:
    """The registry entry of ``name``; UnknownDatasetError (with suggestions) otherwise.

    Examples
    --------
    >>> from socialhealth.datasets._registry import entry
    >>> entry("ess")["access"]
    'registration'
    """
    reg = registry()
    if name not in reg:
        close = difflib.get_close_matches(str(name), list(reg), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}.{hint} Registered: {', '.join(reg)} "
            f"(see socialhealth.datasets.list()).")
    return {"name": name, **reg[name]}


def loader(name: str):
    """The loader function of ``name``, or None if not implemented yet."""
    spec = entry(name).get("loader", "")
    if not spec:
        return None
    module, func = spec.split(":")
    try:
        mod = importlib.import_module(f"socialhealth.datasets.{module}")
        return getattr(mod, func)
    except (ImportError, AttributeError) as e:
        from socialhealth.errors import LoaderNotImplementedError

        raise LoaderNotImplementedError(
            f"the {name} loader is registered as {spec!r} but cannot be imported ({e}): it is "
            f"not implemented yet in this installation.") from None


def status(name: str) -> str:
    """"available" when the loader imports, else "not implemented yet"."""
    from socialhealth.errors import LoaderNotImplementedError

    try:
        return "available" if loader(name) is not None else "not implemented yet"
    except LoaderNotImplementedError:
        return "not implemented yet"
