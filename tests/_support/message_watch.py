"""Watch the package's error and warning messages for numpy scalar reprs and float tails.

numpy 2 prints a scalar as ``np.int64(62)``; a message built with ``repr()`` or ``!r`` of a
value taken from an array shows that to the user instead of ``62``. A float written with
``repr()``, ``!r`` or plain ``{value}`` shows ``0.30000000000000004`` for ``0.1 + 0.2`` or
``0.3333333333333333`` for ``1 / 3``; messages write ``0.3`` and ``0.333333``
(``socialhealth._text.show`` / ``show_given``). ``watch_messages()`` wraps
the ``__init__`` of the package's base error and warning classes so that every message built
during the tests is checked; ``tests/conftest.py`` fails the test that produced one.
"""
from __future__ import annotations

import re

# a scalar's repr is a call, np.int64(62) or np.str_('a'), except numpy 2's booleans: np.True_,
# np.False_. Prose about a type ("dtype np.int64", "np.int64 (a whole number)") does not match.
NUMPY_REPR = re.compile(r"\bnp\.(?:(?:u?int|float|complex|str_|bool|bytes_|datetime64|timedelta64"
                        r"|longdouble|clongdouble)\w*\(|True_\b|False_\b)")
# a float with all its digits: twelve or more decimals (a person writes 0.3, not
# 0.30000000000000004; 0.333333, not 0.3333333333333333)
FLOAT_TAIL = re.compile(r"\d\.\d{12,}")
numpy_reprs_seen: list[str] = []
_watched: set[type] = set()


def _wrap(cls: type) -> None:
    original = cls.__init__

    def __init__(self, *args, **kwargs):
        for a in args:
            if isinstance(a, str) and (NUMPY_REPR.search(a) or FLOAT_TAIL.search(a)):
                numpy_reprs_seen.append(f"{type(self).__name__}: {a}")
        original(self, *args, **kwargs)

    cls.__init__ = __init__


def watch_messages() -> None:
    """Check every socialhealth error and warning message built from now on (idempotent)."""
    from socialhealth import errors

    for cls in (errors.SocialHealthError, errors.SocialHealthWarning):
        if cls not in _watched:
            _wrap(cls)
            _watched.add(cls)
