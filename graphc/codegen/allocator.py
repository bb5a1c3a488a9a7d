"""Heap settings for compiled steps: temporaries come from the heap, not fresh mappings.

A compiled step allocates its intermediate arrays with NumPy's allocator
(malloc). glibc serves blocks above its mmap threshold (128 KiB at start,
raised dynamically later) with fresh `mmap`s, which the kernel zero-fills page
by page on first touch, then unmaps at free: the W1 MLP step ran at 2.7-3.9 ms
in processes where its 800 KiB temporaries were mapped each step and 1.3 ms
where the heap served them. Raising the threshold once (as TF and JAX avoid
the issue with their own allocators) makes the fast case the only one.
`GRAPHC_MALLOPT=0` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 64 << 20  # blocks up to 64 MiB come from the heap, and 64 MiB may stay free in it
_done: list[bool] = []


def tune_allocator() -> bool:
    """Raises glibc's mmap and trim thresholds once per process; True if they were set."""
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux") and os.environ.get("GRAPHC_MALLOPT", "1") != "0":
        try:
            mallopt = ctypes.CDLL(None).mallopt
            ok = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(
                mallopt(M_TRIM_THRESHOLD, THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc (musl, macOS): keep the defaults
            ok = False
    _done.append(ok)
    return ok
