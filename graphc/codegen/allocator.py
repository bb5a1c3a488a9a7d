"""Heap settings for compiled steps: temporaries come from the heap, not fresh pages.

A compiled step allocates its intermediate arrays with malloc and frees them
all when it returns. glibc serves blocks above its mmap threshold (128 KiB at
start, raised dynamically later) with fresh `mmap`s, and gives the top of the
heap back to the kernel (trims it) once more than its trim threshold (128 KiB)
is free there. Either way the next step's arrays land on pages the kernel must
map and zero again, one fault per 4 KiB: the W1 MLP step ran at 2.7-3.9 ms in
processes where its 800 KiB temporaries were mapped each step and 1.3 ms where
the heap served them, and the W4 CNN step (about 90 MB of fresh pages a step,
23,000 faults) went from 63 to 31 ms once the heap kept them. So, as TF's and
JAX's own allocators keep freed memory for reuse, the thresholds are raised
once: blocks up to 64 MiB come from the heap, and up to `retained()` bytes
(1 GiB, or an eighth of physical memory if less) may stay free in it.
`GRAPHC_MALLOPT=0` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
_done: list[bool] = []


def retained() -> int:
    """Free heap memory glibc may keep for reuse: 1 GiB, or an eighth of RAM if less."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    return min(1 << 30, physical // 8)


def tune_allocator() -> bool:
    """Raises glibc's mmap and trim thresholds once per process; True if they were set."""
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux") and os.environ.get("GRAPHC_MALLOPT", "1") != "0":
        try:
            mallopt = ctypes.CDLL(None).mallopt
            mapped = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
            ok = bool(mallopt(M_TRIM_THRESHOLD, retained())) and mapped
        except (OSError, AttributeError):  # not glibc (musl, macOS): keep the defaults
            ok = False
    _done.append(ok)
    return ok
