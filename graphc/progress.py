"""A progress line for long compiles: what a terminal shows while Numba works.

Invariants: nothing is written unless the stream is a terminal and the work lasts
longer than `delay` seconds; the line is rewritten in place (`\\r`) and erased when
the work ends, so a terminal is left as it was; the thread is a daemon that never
outlives the `with` block.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def progress(
    label: str, stream: TextIO | None = None, delay: float = 1.0, every: float = 0.5
) -> Iterator[None]:
    """Shows `graphc: <label>... N s` on `stream` (stderr) while the block runs longer
    than `delay` seconds, updated every `every` seconds, erased at the end."""
    out = sys.stderr if stream is None else stream
    if not getattr(out, "isatty", lambda: False)():
        yield
        return
    done = threading.Event()
    started = time.perf_counter()
    shown = []

    def show() -> None:
        if done.wait(delay):
            return
        while not done.is_set():
            out.write(f"\rgraphc: {label}... {time.perf_counter() - started:.0f} s")
            out.flush()
            shown.append(True)
            done.wait(every)

    thread = threading.Thread(target=show, name="graphc-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown:
            out.write("\r\x1b[K")
            out.flush()
