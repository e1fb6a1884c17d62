"""What a ``datawharf`` command printed, read as a test needs it."""

from __future__ import annotations

import re

# The one stderr line every command (but serve) starts with: where it works (cli/common.py).
TARGET_LINE = re.compile(r"\Adatawharf: (?:home|server) [^\n]+\n")


def after_target_line(stderr: str) -> str:
    """stderr without its leading "datawharf: home ..." / "datawharf: server ..." line, when there is one
    (a command refused before it opens anything has none)."""
    return TARGET_LINE.sub("", stderr, count=1)
