"""Footnote markers shared by the table builders: one letter per distinct footnote text."""
from __future__ import annotations

import string

__all__ = ["Markers"]


class Markers:
    """Assigns ``a``, ``b``, ``c``, ... to footnote texts in order of first use.

    Examples
    --------
    >>> m = Markers()
    >>> m("Rao-Scott F test"), m("t-test"), m("Rao-Scott F test")
    ('a', 'b', 'a')
    >>> m.notes
    {'a': 'Rao-Scott F test', 'b': 't-test'}
    """

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}
        self._by_text: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        """The marker of ``text`` (a new letter the first time it is seen)."""
        if text not in self._by_text:
            i = len(self._by_text)
            letters = string.ascii_lowercase
            mark = letters[i % 26] * (i // 26 + 1)
            self._by_text[text] = mark
            self.notes[mark] = text
        return self._by_text[text]
