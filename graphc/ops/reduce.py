"""Reductions (sum, max, min, prod, mean, logsumexp, argmax/argmin) and the
broadcast/sum pair used to undo broadcasting in gradients.

Invariants: a reduction's `axis` attr is a sorted tuple of non-negative axes
when the input rank is known (None = all axes); outputs keep the input dtype
(NumPy's integer sum would widen to int64; we pass `dtype`). The gradient of
a reduction broadcasts the upstream gradient back with `broadcast_like`, so
unknown (batch) dims need no static size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError, ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, Reduction, checking, convert, defop, unbroadcast
from graphc.ops.dims import broadcast_equalities
from graphc.ops.elementwise import (
    add,
    cast,
    divide,
    equal,
    exp,
    floordiv,
    is_finite,
    log,
    ones_like,
    stop_gradient,
    where,
    zeros_like,
)
from graphc.ops.reshape import expand_dims, squeeze
from graphc.ops.state import constant, static_value
from graphc.types import (
    TensorType,
    as_dtype,
    as_index_dtype,
    as_ints,
    broadcast_shapes,
    is_compatible,
    normalize_axes,
    normalize_axis,
)


def _reduced_shape(shape: Any, axis: Any, keepdims: bool) -> Any:
    if shape is None:  # unknown rank: only a full reduction to a scalar has a known shape
        return () if axis is None and not keepdims else None
    axes = normalize_axes(axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_infer(x: TensorType, *, axis: Any, keepdims: bool) -> TensorType:
    if x.dtype.is_bool:
        raise DTypeError("cannot reduce a bool tensor; cast it first")
    return TensorType(_reduced_shape(x.shape, axis, keepdims), x.dtype)


def keep_dims(g: Node, node: Node) -> Node:
    """`g` (shaped like a reduction's output) reshaped to its keepdims form."""
    if node.attrs["keepdims"]:
        return g
    x = node.inputs[0]
    if x.type.shape is None:
        raise DTypeError(f"the gradient of '{node.op_name}' needs the input's rank")
    for ax in normalize_axes(node.attrs["axis"], len(x.type.shape)):
        g = expand_dims(g, ax)
    return g


def _sum_vjp(g: Node, n: Node) -> tuple[Node]:
    return (broadcast_like(keep_dims(g, n), n.inputs[0]),)


def _zero(dtype: np.dtype) -> Any:
    return 0


def _one(dtype: np.dtype) -> Any:
    return 1


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


SUM = Reduction("{acc} + {v}", _zero, sums=True)
PROD = Reduction("{acc} * {v}", _one)
# maximum(acc, v) and minimum(acc, v) as NumPy reduces: NaN wins, a tie (0.0 and -0.0)
# takes the later element
MAX = Reduction("({acc} if {acc} > {v} or {acc} != {acc} else {v})", _lowest)
MIN = Reduction("({acc} if {acc} < {v} or {acc} != {acc} else {v})", _highest)


def _np_sum(x: np.ndarray, axis: Any, keepdims: bool = False) -> np.ndarray:
    """NumPy's sum under the accumulation rule (graphc.ops), in x's dtype."""
    wide = SUM.accumulator(as_dtype(x.dtype)).np
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=wide).astype(x.dtype)


_sum = defop(
    "reduce_sum",
    "Sum",
    Fusion.REDUCTION,
    infer=_reduce_infer,
    numpy=lambda x, *, axis, keepdims: _np_sum(x, axis, keepdims),
    reduction=SUM,
    vjp=_sum_vjp,
    linear=(0,),
)


def _extreme_weights(n: Node) -> Node:
    """1/k at the k positions that attain the max (or min), else 0 (TF splits ties evenly)."""
    x = n.inputs[0]
    mask = cast(equal(x, broadcast_like(keep_dims(n, n), x)), x.dtype)
    return mask / _sum(mask, axis=n.attrs["axis"], keepdims=True)


def _weighted_vjp(g: Node, n: Node, weights: Node) -> tuple[Node]:
    """The vjp of a reduction whose local derivative is `weights` (x's shape)."""
    return (keep_dims(g, n) * weights,)


def _weighted_jvp(tangents: tuple, n: Node, weights: Node) -> Node:
    """The jvp of a reduction whose local derivative is `weights`: sum(t * weights)."""
    return _sum(tangents[0] * weights, axis=n.attrs["axis"], keepdims=n.attrs["keepdims"])


def _extreme_vjp(g: Node, n: Node) -> tuple[Node]:
    return _weighted_vjp(g, n, _extreme_weights(n))


def _extreme_jvp(tangents: tuple, n: Node) -> Node:
    return _weighted_jvp(tangents, n, _extreme_weights(n))


def _extreme(name: str, type_name: str, reduce: Any, reduction: Reduction) -> Any:
    """reduce_max / reduce_min: empty reductions give the dtype's lowest / highest value."""
    return defop(
        name,
        type_name,
        Fusion.REDUCTION,
        infer=_reduce_infer,
        numpy=lambda x, *, axis, keepdims: reduce(
            x, axis=axis, keepdims=keepdims, initial=reduction.identity(x.dtype)
        ),
        reduction=reduction,
        vjp=_extreme_vjp,
        jvp=_extreme_jvp,
    )


_max = _extreme("reduce_max", "Max", np.max, MAX)
_min = _extreme("reduce_min", "Min", np.min, MIN)


def _prod_of_others(n: Node) -> Node:
    """d prod(x) / d x_i = product of the other elements, exact when x holds zeros."""
    x, axis = n.inputs[0], n.attrs["axis"]
    is_zero = equal(x, zeros_like(x))
    zeros = _sum(cast(is_zero, x.dtype), axis=axis, keepdims=True)
    nonzero_prod = broadcast_like(
        _prod(where(is_zero, ones_like(x), x), axis=axis, keepdims=True), x
    )
    one_zero = cast(equal(zeros, 1), x.dtype)
    no_zero = cast(equal(zeros, 0), x.dtype)
    safe_x = where(is_zero, ones_like(x), x)
    return where(is_zero, nonzero_prod * one_zero, nonzero_prod * no_zero / safe_x)


def _reduce_prod_vjp(g: Node, n: Node) -> tuple[Node]:
    return _weighted_vjp(g, n, _prod_of_others(n))


def _reduce_prod_jvp(tangents: tuple, n: Node) -> Node:
    return _weighted_jvp(tangents, n, _prod_of_others(n))


_prod = defop(
    "reduce_prod",
    "Prod",
    Fusion.REDUCTION,
    infer=_reduce_infer,
    numpy=lambda x, *, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
    reduction=PROD,
    vjp=_reduce_prod_vjp,
    jvp=_reduce_prod_jvp,
)


def _arg_infer(x: TensorType, *, axis: int, output_type: Any) -> TensorType:
    return TensorType(_reduced_shape(x.shape, axis, False), output_type)


_argmax = defop(
    "argmax",
    "ArgMax",
    Fusion.OPAQUE,
    infer=_arg_infer,
    numpy=lambda x, *, axis, output_type: np.argmax(x, axis=axis).astype(output_type.np),
    differentiable=False,
)
_argmin = defop(
    "argmin",
    "ArgMin",
    Fusion.OPAQUE,
    infer=_arg_infer,
    numpy=lambda x, *, axis, output_type: np.argmin(x, axis=axis).astype(output_type.np),
    differentiable=False,
)


# ---- broadcasting to / summing down to another tensor's shape ---------------------------
def _broadcast_like_infer(x: TensorType, like: TensorType) -> TensorType:
    # x may know a dim that `like` leaves unknown (a gradient of static shape [2, 1] for an
    # input of shape [None, 3]): the result still has `like`'s shape.
    out = broadcast_shapes(x.shape, like.shape)
    if like.shape is not None and not (out is None or is_compatible(like.shape, out)):
        raise ValueError(f"cannot broadcast {x} to {like}")
    return TensorType(like.shape, x.dtype)


def _sum_to_shape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1
    )
    return _np_sum(x, axes).reshape(shape)


def _broadcast_like_vjp(g: Node, n: Node) -> tuple[Node, None]:
    return unbroadcast(g, n.inputs[0]), None


broadcast_like = defop(
    "broadcast_like",
    "BroadcastLike",
    Fusion.BROADCAST,
    infer=_broadcast_like_infer,
    numpy=lambda x, like: np.broadcast_to(x, like.shape),
    vjp=_broadcast_like_vjp,
    linear=(0,),
)


def _sum_to_like_vjp(g: Node, n: Node) -> tuple[Node, None]:  # the transpose: broadcast back
    return (broadcast_like(g, n.inputs[0]), None)


sum_to_like = defop(
    "sum_to_like",
    "SumToLike",
    Fusion.REDUCTION,
    assumes=lambda n: broadcast_equalities(
        [(n.inputs[1], n.inputs[1].type.shape)],
        n.inputs[0].type.shape,
        [(n.inputs[0], n.inputs[0].type.shape)],
    ),
    infer=lambda x, like: TensorType(like.shape, x.dtype),
    reduction=SUM,
    numpy=lambda x, like: _sum_to_shape(x, like.shape),
    vjp=_sum_to_like_vjp,
    linear=(0,),
)
reduced_size = defop(
    "reduced_size",
    "ReducedSize",
    Fusion.OPAQUE,
    shape_only=True,
    infer=lambda x, *, axis, dtype: TensorType((), dtype),
    numpy=lambda x, *, axis, dtype: np.asarray(
        np.prod([x.shape[a] for a in (range(x.ndim) if axis is None else axis)]), dtype.np
    ),
    differentiable=False,
)


# ---- public builders --------------------------------------------------------------------
def _axis_attr(x: Node, axis: Any) -> Any:
    if isinstance(axis, Node):
        value = static_value(axis)
        if value is None:
            raise ShapeError(f"axis must be Python ints or a constant, got tensor '{axis.name}'")
        axis = value
    if x.type.shape is None:
        return None if axis is None else as_ints(axis, "axis")
    return normalize_axes(axis, len(x.type.shape))


def _tf1_axis(axis: Any, keepdims: bool, reduction_indices: Any, keep_dims: Any) -> tuple:
    """(axis, keepdims) from TF1's arguments and their deprecated spellings."""
    axis = reduction_indices if axis is None else axis
    return axis, bool(keepdims if keep_dims is None else keep_dims)


def _reducer(op: Any, doc: str) -> Any:
    def builder(
        input_tensor: Any,
        axis: Any = None,
        keepdims: bool = False,
        name: str | None = None,
        reduction_indices: Any = None,
        keep_dims: bool | None = None,
    ) -> Node:
        with checking(op.type_name, name):
            x = convert(input_tensor)
            axis, keep = _tf1_axis(axis, keepdims, reduction_indices, keep_dims)
            return op(x, axis=_axis_attr(x, axis), keepdims=keep, name=name)

    builder.__name__, builder.__doc__ = op.name, doc
    return builder


reduce_sum = _reducer(_sum, "Sum over `axis` (int, tuple, negative, or None for all).")
reduce_max = _reducer(_max, "Maximum over `axis`; the gradient is split evenly among ties.")
reduce_min = _reducer(_min, "Minimum over `axis`; the gradient is split evenly among ties.")
reduce_prod = _reducer(_prod, "Product over `axis`; gradients are exact with zeros too.")


def count_of(x: Node, axis: Any) -> Node:
    """The number of elements reduced over `axis`, as a scalar of x's dtype."""
    shape = x.type.shape
    axes = range(len(shape)) if shape is not None and axis is None else axis
    if shape is not None and all(shape[a] is not None for a in axes):
        return constant(np.prod([shape[a] for a in axes]), dtype=x.dtype)
    return reduced_size(x, axis=axis, dtype=x.dtype)


def reduce_mean(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool = False,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Node:
    """Mean over `axis` (integer tensors use floor division, as TF1 does for non-negatives).

    Integers narrower than int64 are summed in int64 and the mean cast back (it lies
    between their smallest and largest value), so an integer mean never wraps where
    TF1's sum in the input's dtype does.
    """
    with checking("Mean", name):  # the axes, named after the mean rather than its sum
        x = convert(input_tensor)
        _axis_attr(x, _tf1_axis(axis, keepdims, reduction_indices, keep_dims)[0])
    narrow = x.dtype.is_integer and x.dtype.size < 8
    wide = cast(x, "int64") if narrow else x
    total = reduce_sum(wide, axis, keepdims, None, reduction_indices, keep_dims)
    count = count_of(wide, total.attrs["axis"])
    if narrow:
        return cast(floordiv(total, count), x.dtype, name=name or "Mean")
    return (divide if x.dtype.is_floating else floordiv)(total, count, name=name or "Mean")


def reduce_logsumexp(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool = False,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Node:
    """log(sum(exp(x))) computed stably (shifted by the max; all -inf gives -inf)."""
    x = convert(input_tensor)
    axis, keep = _tf1_axis(axis, keepdims, reduction_indices, keep_dims)
    with checking("ReduceLogSumExp", name):
        _axis_attr(x, axis)
    m = stop_gradient(reduce_max(x, axis, keepdims=True))
    m = where(is_finite(m), m, zeros_like(m))
    log_sum = log(reduce_sum(exp(x - m), axis, keepdims=True))
    if keep:
        return add(log_sum, m, name=name)
    out = log_sum + m
    return squeeze(out, axis=_axis_attr(x, axis), name=name)


def _arg(op: Any, doc: str) -> Any:
    def builder(
        input: Any,
        axis: int | None = None,
        name: str | None = None,
        output_type: Any = "int64",
        dimension: int | None = None,
    ) -> Node:
        with checking(op.type_name, name):
            x = convert(input)
            axis = dimension if axis is None else axis
            axis = normalize_axis(0 if axis is None else axis, x.type.rank)
            out = as_index_dtype(output_type, "output_type")
            return op(x, axis=axis, output_type=out, name=name)

    builder.__name__, builder.__doc__ = op.name, doc
    return builder


argmax = _arg(_argmax, "Index of the largest value along `axis` (int64 by default).")
argmin = _arg(_argmin, "Index of the smallest value along `axis` (int64 by default).")


def arg_max(
    input: Any, dimension: Any, output_type: Any = "int64", name: str | None = None
) -> Node:
    """TF1's `tf.arg_max`: `argmax` along `dimension`, with TF1's argument order."""
    return argmax(input, axis=dimension, name=name, output_type=output_type)


def arg_min(
    input: Any, dimension: Any, output_type: Any = "int64", name: str | None = None
) -> Node:
    """TF1's `tf.arg_min`: `argmin` along `dimension`, with TF1's argument order."""
    return argmin(input, axis=dimension, name=name, output_type=output_type)
