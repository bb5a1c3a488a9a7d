"""`Source`: lines of Python text with an indentation context, and identifier naming.

Invariants: output is deterministic (no ids, no sets); identifiers are made
from node names (`dense/MatMul_1` -> `dense_MatMul_1`) and made unique with a
counter, never with `id()`.
"""

from __future__ import annotations

import contextlib
import keyword
import re
from collections.abc import Iterator


class Source:
    """A list of lines plus an indent level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._level = 0

    def __call__(self, line: str = "") -> None:
        self.lines.append("    " * self._level + line if line else "")

    @contextlib.contextmanager
    def indent(self, header: str | None = None) -> Iterator[None]:
        if header is not None:
            self(header)
        self._level += 1
        try:
            yield
        finally:
            self._level -= 1

    @contextlib.contextmanager
    def headed(self, comment: str) -> Iterator[None]:
        """Lines written inside come under `comment` (one `#` line per line of it), which is
        written only if they exist."""
        start, level = len(self.lines), self._level
        yield
        if len(self.lines) > start:
            self.lines[start:start] = ["    " * level + "# " + c for c in comment.split("\n")]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Names:
    """Unique Python identifiers derived from node names."""

    def __init__(self, reserved: tuple[str, ...] = ()) -> None:
        self._used: set[str] = set(reserved)

    def fresh(self, label: str) -> str:
        base = re.sub(r"\W", "_", label).strip("_") or "v"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = "n_" + base
        name, count = base, 1
        while name in self._used:
            name = f"{base}_{count}"
            count += 1
        self._used.add(name)
        return name
