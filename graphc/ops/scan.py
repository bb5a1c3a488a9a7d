"""Scans: `cumsum`, the running sum along one axis (TF1's Cumsum).

Invariants: the output has the input's shape and dtype; `axis` is a non-negative int
when the rank is known. `exclusive` leaves each element out of its own sum (the first
output is 0), `reverse` sums from the end. Sums follow the accumulation rule of
graphc.ops (`Reduction.accumulator`): float16/float32 running sums are kept in float64
and each output rounded once; integers wrap in their own dtype, as NumPy's. The scan is
linear, and its transpose is the scan in the other direction (TF1's Cumsum gradient).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError, ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, checking, convert, defop
from graphc.ops.reduce import SUM
from graphc.ops.state import static_ints
from graphc.types import TensorType, as_dtype, normalize_axis


def _cumsum_infer(x: TensorType, *, axis: int, exclusive: bool, reverse: bool) -> TensorType:
    if x.dtype.is_bool:
        raise DTypeError("cannot sum a bool tensor; cast it first")
    if x.rank == 0:
        raise ShapeError("needs a tensor of rank at least 1, got a scalar")
    return x


def _np_cumsum(x: np.ndarray, *, axis: int, exclusive: bool, reverse: bool) -> np.ndarray:
    """NumPy's cumsum under the accumulation rule, in x's dtype."""
    wide = SUM.accumulator(as_dtype(x.dtype)).np
    flipped = np.flip(x, axis) if reverse else x
    sums = np.cumsum(flipped, axis=axis, dtype=wide)
    if exclusive:  # shift by one along the axis: out[0] = 0, out[i] = sums[i - 1]
        sums = np.concatenate([np.zeros_like(np.take(sums, [0], axis)), sums], axis)
        sums = np.take(sums, np.arange(x.shape[axis]), axis)
    out = np.flip(sums, axis) if reverse else sums
    return out.astype(x.dtype)


def _cumsum_vjp(g: Node, n: Node) -> tuple[Node]:
    # y = A x with A the (strictly, if exclusive) lower-triangular ones along the axis; the
    # transpose A^T is upper-triangular: the same scan run from the other end
    a = n.attrs
    return (_cumsum(g, axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"]),)


_cumsum = defop(
    "cumsum",
    "Cumsum",
    Fusion.OPAQUE,
    infer=_cumsum_infer,
    numpy=_np_cumsum,
    vjp=_cumsum_vjp,
    linear=True,
)


def cumsum(
    x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None
) -> Node:
    """The running sum of `x` along `axis` (TF1's `tf.cumsum`).

    `cumsum([a, b, c])` is `[a, a + b, a + b + c]`; with `exclusive=True`,
    `[0, a, a + b]`; with `reverse=True`, `[a + b + c, b + c, c]`.
    """
    with checking("Cumsum", name):
        x = convert(x)
        if x.type.rank == 0:
            raise ShapeError("needs a tensor of rank at least 1, got a scalar")
        axis = static_ints(axis, "axis") if isinstance(axis, Node) else axis
        axis = normalize_axis(axis, x.type.rank)
    return _cumsum(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse), name=name)
