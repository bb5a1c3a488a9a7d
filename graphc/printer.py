"""What print ops write at run time: `emit`, which both targets call (the compiled step
from an `objmode` block), so they print the same bytes.

It imports nothing from graphc, so an exported step (graphc.export) ships this file as
it is. `tf.Print`'s `first_n` counts per op name in a process (TF1 counts per session).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

STREAMS = {"stderr": lambda: sys.stderr, "stdout": lambda: sys.stdout}
_RUNS: dict[str, int] = {}  # times each tf.Print op (by name) has printed in this process


def emit(
    key: str, first_n: int, summarize: int, style: str, stream: str, parts: tuple, *values: Any
) -> None:
    """Writes one line for a print op (`parts`: literal text, None where a value goes)."""
    if first_n >= 0:
        runs = _RUNS.get(key, 0)
        if runs >= first_n:
            return
        _RUNS[key] = runs + 1
    it = iter(values)
    text = "".join(p if p is not None else _format(next(it), summarize, style) for p in parts)
    out = STREAMS[stream]()
    out.write(text)
    out.flush()


def _format(value: Any, summarize: int, style: str) -> str:
    array = np.asarray(value)
    if style == "v1":  # tf.Print: the first `summarize` values, flat
        flat = array.reshape(-1)
        shown = " ".join(f"{v:g}" if array.dtype.kind == "f" else str(v) for v in flat[:summarize])
        return f"[{shown}{'...' if flat.size > summarize else ''}]"
    if array.ndim == 0:
        return str(array)
    return np.array2string(array, threshold=2 * summarize, edgeitems=summarize, separator=" ")
