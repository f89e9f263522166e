"""Running a documentation page's examples: a plugin's docs are part of it, and its tests
execute them (``docs/plugin-authors.md``, "Testing")."""

from __future__ import annotations

import re


def fenced_blocks(text: str, language: str) -> list[re.Match[str]]:
    """The Markdown code blocks fenced as ```` ```language ````; ``group(1)`` is the code."""
    return list(re.finditer(rf"^```{re.escape(language)}\n(.*?)^```$", text, re.M | re.S))


def as_script(text: str, language: str = "python") -> str:
    """The page's ``language`` blocks as one script in page order. Every other line is
    blank, so a traceback's line numbers are the page's line numbers."""
    lines = [""] * (text.count("\n") + 1)
    for block in fenced_blocks(text, language):
        first = text.count("\n", 0, block.start(1))
        for offset, line in enumerate(block.group(1).splitlines()):
            lines[first + offset] = line
    return "\n".join(lines)
