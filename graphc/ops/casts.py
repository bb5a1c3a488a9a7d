"""TF1's conversion shorthands (`to_float`, `to_double`, `to_int32`, `to_int64`) and
`saturate_cast`, all built on `cast`.

Invariants: a shorthand returns its input itself when it already has the dtype (as TF1's
`cast` does, whatever the name), else one Cast op named as TF1 names it ("ToFloat",
"ToDouble", "ToInt32", "ToInt64", then "ToFloat_1", ...). `saturate_cast` clamps to the
range of the target dtype before casting, with bounds that are values of the input
dtype inside that range, so the cast itself never overflows; NaN becomes 0 in an
integer or bool dtype, and infinities the nearest bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphc.ir import Node
from graphc.ops import checking, convert
from graphc.ops.elementwise import cast, is_nan, maximum, minimum, where, zeros_like
from graphc.types import DType, as_dtype, float32, float64, int32, int64


def _shorthand(dtype: DType, public: str, op_name: str) -> Callable[..., Node]:
    def builder(x: Any, name: str = op_name) -> Node:
        with checking("Cast", name):
            x = convert(x)
        return x if x.dtype is dtype else cast(x, dtype, name=name)

    builder.__name__ = public
    builder.__doc__ = f'`x` as {dtype.name}: TF1\'s `tf.{public}`, a Cast op named "{op_name}".'
    return builder


to_float = _shorthand(float32, "to_float", "ToFloat")
to_double = _shorthand(float64, "to_double", "ToDouble")
to_int32 = _shorthand(int32, "to_int32", "ToInt32")
to_int64 = _shorthand(int64, "to_int64", "ToInt64")


def _bound(limit: float, source: DType, lower: bool) -> Any:
    """The value of `source` nearest `limit` (a limit of the target dtype) on its inner
    side: float32(2**31 - 1) rounds up to 2**31, so the upper bound becomes the float
    below; a limit past the source's finite range becomes that range's end."""
    if not source.is_floating:
        return source.np.type(limit)
    limit = min(max(limit, source.min), source.max)
    value = source.np.type(limit)
    if (float(value) < limit) if lower else (float(value) > limit):  # exact in Python
        value = np.nextafter(value, source.np.type(np.inf if lower else -np.inf))
    return value


def saturate_cast(value: Any, dtype: Any, name: str | None = None) -> Node:
    """`value` cast to `dtype` after clamping it to the range `dtype` can hold (TF1's
    `tf.saturate_cast`): 300.0 to uint8 is 255, -1 to uint8 is 0, 1e300 to float32 is
    float32's largest value; NaN to an integer or bool dtype is 0."""
    with checking("saturate_cast", name):
        x, target = convert(value), as_dtype(dtype)
    source = x.dtype
    to_integer = source.is_floating and not target.is_floating  # infinities must clamp too
    if to_integer:
        x = where(is_nan(x), zeros_like(x), x)
    if to_integer or source.min < target.min:
        x = maximum(x, _bound(target.min, source, lower=True))
    if to_integer or source.max > target.max:
        x = minimum(x, _bound(target.max, source, lower=False))
    return cast(x, target, name=name or "saturate_cast")
