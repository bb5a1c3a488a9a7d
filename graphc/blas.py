"""Matrix products on strided views, by BLAS: `gemm32`/`gemm64` for compiled steps, and
`one_thread()`, which keeps that BLAS on the calling thread while a step runs.

Numba's `np.dot` takes contiguous arrays only (it copies any other view first) and cannot
accumulate into its output. A compiled step that splits its products between threads
needs both: a block of rows or columns of a matrix is a view with a row stride, and a
filter gradient sums its tiles' products. So these call the same BLAS Numba's `np.dot`
calls (SciPy's `cython_blas`: the library NumPy-based code already loads) directly.

Invariants:
- `gemm32(a, b, c, trans_a, trans_b, beta)` sets `c = op(a) @ op(b) + beta * c`, where
  op transposes when asked; every matrix is 2-D with elements adjacent along its last
  axis (any row stride at least its width), as NumPy's row-major views are. Shapes that
  make no product, or other layouts, raise ValueError before BLAS reads anything.
- `one_thread()` sets that library's thread count to 1 for the `with` block and restores
  it after, also when the block raises. Where the library is not OpenBLAS (or its thread
  count cannot be set) `threads_settable()` is False and `one_thread()` does nothing: a
  threaded step still computes the same, only slower (BLAS's threads and Numba's then
  share the cores).
- `every_blas_on_one_thread()` does the same for every OpenBLAS the process loaded
  (NumPy's too; found through Linux's /proc/self/maps, nothing elsewhere): a fast start
  interprets a step that way while another process compiles it.

The compiled step imports this module (`from graphc.blas import gemm32`), and an exported
step ships it as it is: it imports nothing from graphc.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator
from functools import cache

import numpy as np
from numba import njit, types

__all__ = ["every_blas_on_one_thread", "gemm32", "gemm64", "one_thread", "threads_settable"]


def _capsule_address(name: str) -> int:
    """The address of `scipy.linalg.cython_blas`'s function `name`."""
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule)))


@njit(cache=True, nogil=True)
def _adjacent(x, size):  # type: ignore[no-untyped-def]
    """Whether BLAS can read matrix x by rows: adjacent elements, rows forward (or empty)."""
    return x.size == 0 or ((x.shape[1] <= 1 or x.strides[1] == size) and x.strides[0] >= 0)


def _gemm(dtype):  # type: ignore[no-untyped-def]
    """The njit function computing op(a) @ op(b) + beta * c into c, for `dtype`."""
    scalar = types.float32 if dtype == np.float32 else types.float64
    pointer = types.CPointer(scalar)
    # Numba's own wrapper of SciPy's cython_blas gemm (what its np.dot calls), linked by
    # name, so a cached step finds it again in the next process
    call = types.ExternalFunction(
        "numba_xxgemm",
        types.intc(
            *(types.char,) * 3,
            *(types.intp,) * 3,
            pointer,
            pointer,
            types.intp,
            pointer,
            types.intp,
            pointer,
            pointer,
            types.intp,
        ),
    )
    kind = ord("s" if dtype == np.float32 else "d")

    @njit(cache=True, nogil=True)
    def gemm(a, b, c, trans_a, trans_b, beta):  # type: ignore[no-untyped-def]
        # row-major C (m x n) = op(A) op(B) is column-major C' = op(B)' op(A)' in the
        # same memory: a row-major matrix read as column-major is its transpose
        m, n = c.shape
        k = a.shape[0] if trans_a else a.shape[1]
        rows_a = a.shape[1] if trans_a else a.shape[0]
        rows_b, cols_b = (b.shape[1], b.shape[0]) if trans_b else (b.shape[0], b.shape[1])
        if rows_a != m or cols_b != n or rows_b != k:
            raise ValueError("gemm: the shapes of a, b and c do not make a product")
        size = a.itemsize
        if not (_adjacent(a, size) and _adjacent(b, size) and _adjacent(c, size)):
            raise ValueError("gemm: a matrix's rows are not of adjacent elements")
        if m == 0 or n == 0:
            return
        if k == 0:  # no product: BLAS would leave c as beta * c
            for i in range(m):
                for j in range(n):
                    c[i, j] = c[i, j] * beta if beta != 0 else 0
            return
        factors = np.empty(2, dtype)
        factors[0] = 1
        factors[1] = beta
        call(
            kind,
            84 if trans_b else 78,  # "T" / "N"
            84 if trans_a else 78,
            n,
            m,
            k,
            factors[0:].ctypes,
            b.ctypes,
            max(b.strides[0] // size, b.shape[1], 1),
            a.ctypes,
            max(a.strides[0] // size, a.shape[1], 1),
            factors[1:].ctypes,
            c.ctypes,
            max(c.strides[0] // size, n, 1),
        )

    return gemm


gemm32 = _gemm(np.float32)
gemm64 = _gemm(np.float64)


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("fname", ctypes.c_char_p),
        ("fbase", ctypes.c_void_p),
        ("sname", ctypes.c_char_p),
        ("saddr", ctypes.c_void_p),
    ]


Threads = tuple[object, object]  # an OpenBLAS's (get, set) thread count functions


@cache
def _thread_functions() -> Threads | None:
    """OpenBLAS's (get, set) thread count of the library behind cython_blas's sgemm, or
    None where that library is not OpenBLAS or cannot be found. Looked up on first use:
    it imports SciPy, which a step's interpreted fast start (graphc.backends.cpu) does
    not need."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        info = _DlInfo()
        if not libc.dladdr(ctypes.c_void_p(_capsule_address("sgemm")), ctypes.byref(info)):
            return None
    except (OSError, AttributeError, ImportError, KeyError):
        return None
    return _library_threads(info.fname.decode())


@cache
def _library_threads(path: str) -> Threads | None:
    """The (get, set) thread count functions of the OpenBLAS at `path`, or None."""
    try:
        library = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("", "64_"):
            try:
                get = getattr(library, f"{prefix}_get_num_threads{suffix}")
                put = getattr(library, f"{prefix}_set_num_threads{suffix}")
            except AttributeError:
                continue
            get.restype, put.restype, put.argtypes = ctypes.c_int, None, [ctypes.c_int]
            return get, put
    return None


def _loaded_openblas() -> list[Threads]:
    """The thread count functions of every OpenBLAS this process has loaded (NumPy's and
    SciPy's are two), as Linux's /proc/self/maps lists them; none elsewhere."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(maxsplit=5)[-1].strip() for line in f if "openblas" in line}
    except OSError:
        return []
    found = (_library_threads(p) for p in sorted(paths) if p.startswith("/"))
    return [threads for threads in found if threads is not None]


def threads_settable() -> bool:
    """Whether `one_thread()` can keep BLAS on the calling thread."""
    return _thread_functions() is not None


def one_thread() -> contextlib.AbstractContextManager[None]:
    """BLAS runs on the calling thread inside the block: a step whose own threads split
    the products (one product per thread) must not have BLAS start threads of its own,
    which would spin on the same cores. The count is the library's, not the thread's:
    SciPy calls made meanwhile from other Python threads run on one thread too, and of two
    threaded steps run at once from two Python threads, the first to finish restores the
    count while the other runs (which then only runs slower)."""
    functions = _thread_functions()
    return _on_one_thread([] if functions is None else [functions])


def every_blas_on_one_thread() -> contextlib.AbstractContextManager[None]:
    """`one_thread` for every OpenBLAS loaded in the process, NumPy's included: NumPy
    code run meanwhile leaves the other cores to other processes."""
    return _on_one_thread(_loaded_openblas())


@contextlib.contextmanager
def _on_one_thread(libraries: list[Threads]) -> Iterator[None]:
    """Each library's count set to 1 for the block, and restored after (also on errors)."""
    before = [get() for get, _ in libraries]  # type: ignore[operator]
    changed = [(put, n) for (_, put), n in zip(libraries, before, strict=True) if n != 1]
    for put, _ in changed:
        put(1)  # type: ignore[operator]
    try:
        yield
    finally:
        for put, n in changed:
            put(n)  # type: ignore[operator]
