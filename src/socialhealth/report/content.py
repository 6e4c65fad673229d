"""Read ``content.toml``: default outcomes, nested models, comparators, published anchors."""
from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@lru_cache(maxsize=1)
def content() -> dict:
    """The parsed ``content.toml`` (outcomes, models, comparators, anchors)."""
    with resources.files("socialhealth.report").joinpath("content.toml").open("rb") as fh:
        return tomllib.load(fh)


def outcome_label(name: str) -> str:
    """Display name of an outcome (the column name when it has none)."""
    return content()["outcomes"].get(name, name.replace("_", " "))
