"""Reductions of truth values: `reduce_any`, `reduce_all`, and `count_nonzero` built on them
and on `reduce_sum`.

Invariants: `reduce_any` and `reduce_all` take and give bool tensors only (TF1's Any and All
take no numbers), with the axis rules of every reduction (graphc.ops.reduce): an empty
reduction is False for any and True for all, as NumPy's. They have no gradient.
`count_nonzero` counts in int64 (NaN counts: it is not zero) and returns `dtype`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError
from graphc.ir import Node
from graphc.ops import Fusion, Reduction, checking, convert, defop
from graphc.ops.elementwise import cast, not_equal
from graphc.ops.reduce import _axis_attr, _reduced_shape, _reducer, _tf1_axis, reduce_sum
from graphc.types import TensorType, as_dtype, int64


def _truth_infer(x: TensorType, *, axis: Any, keepdims: bool) -> TensorType:
    if not x.dtype.is_bool:
        raise DTypeError(f"needs a bool tensor, got {x.dtype.name} (compare it, or cast it)")
    return TensorType(_reduced_shape(x.shape, axis, keepdims), x.dtype)


def _false(dtype: np.dtype) -> bool:
    return False


def _true(dtype: np.dtype) -> bool:
    return True


ANY = Reduction("({acc} or {v})", _false)
ALL = Reduction("({acc} and {v})", _true)

_any = defop(
    "reduce_any",
    "Any",
    Fusion.REDUCTION,
    infer=_truth_infer,
    numpy=lambda x, *, axis, keepdims: np.any(x, axis=axis, keepdims=keepdims),
    reduction=ANY,
    differentiable=False,
)
_all = defop(
    "reduce_all",
    "All",
    Fusion.REDUCTION,
    infer=_truth_infer,
    numpy=lambda x, *, axis, keepdims: np.all(x, axis=axis, keepdims=keepdims),
    reduction=ALL,
    differentiable=False,
)

reduce_any = _reducer(_any, "True where any element over `axis` is True (False if none).")
reduce_all = _reducer(_all, "True where every element over `axis` is True (True if none).")


def count_nonzero(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    dtype: Any = int64,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Node:
    """The number of elements over `axis` that are not zero (not False), as TF1: counted in
    int64, then cast to `dtype`."""
    with checking("count_nonzero", name):
        x = convert(input_tensor)
        dtype = as_dtype(dtype)
        axis, keep = _tf1_axis(axis, bool(keepdims), reduction_indices, keep_dims)
        _axis_attr(x, axis)
    counts = reduce_sum(cast(not_equal(x, 0), int64), axis, keep)
    return cast(counts, dtype, name=name)
