"""Where a warning should point: the first caller outside the socialhealth package."""
from __future__ import annotations

import os
import sys
from types import FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` called by the caller of this function that
    names the first frame outside socialhealth (the user's line), however many of the
    package's own wrappers are in between."""
    level = 1
    frame: FrameType | None = sys._getframe(1)           # the function that will call warnings.warn
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level
