"""Shape ops: reshape, transpose, broadcast_to, tile, pad, shape/size/rank,
fill/zeros/ones, range; expand_dims, squeeze and reshape_like are defined in
`graphc.ops.reshape` (below the reductions) and re-exported here.

Invariants: target shapes are static attrs (Python ints; one -1 allowed in
reshape); gradients that must restore an input's shape use `reshape_like`,
which takes the shape at run time, so unknown batch dims need no static size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import InvalidArgumentError, ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, checking, convert, convert_operands, defop, unbroadcast
from graphc.ops.elementwise import cast
from graphc.ops.index import strided_slice_spec
from graphc.ops.reduce import reduce_sum
from graphc.ops.reshape import expand_dims as expand_dims
from graphc.ops.reshape import reshape_back, reshape_op
from graphc.ops.reshape import reshape_like as reshape_like
from graphc.ops.reshape import squeeze as squeeze
from graphc.ops.state import constant, static_ints, static_value
from graphc.types import TensorType, as_dims, as_index_dtype, broadcast_shapes, int32


def _transpose_infer(x: TensorType, *, perm: tuple[int, ...]) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of the axes of {x}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_vjp(g: Node, n: Node) -> tuple[Node]:  # transpose back: the inverse permutation
    return (_transpose(g, perm=tuple(np.argsort(n.attrs["perm"]).tolist())),)


_transpose = defop(
    "transpose",
    "Transpose",
    Fusion.OPAQUE,
    infer=_transpose_infer,
    numpy=lambda x, *, perm: np.transpose(x, perm),
    vjp=_transpose_vjp,
    linear=(0,),
)


def _broadcast_to_infer(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if broadcast_shapes(x.shape, shape) != shape:
        raise ShapeError(f"cannot broadcast {x} to {list(shape)}")
    return TensorType(shape, x.dtype)


def _broadcast_to_vjp(g: Node, n: Node) -> tuple[Node]:  # sum over the broadcast axes
    return (unbroadcast(g, n.inputs[0]),)


_broadcast_to = defop(
    "broadcast_to",
    "BroadcastTo",
    Fusion.BROADCAST,
    infer=_broadcast_to_infer,
    numpy=lambda x, *, shape: np.broadcast_to(x, shape),
    vjp=_broadcast_to_vjp,
    linear=(0,),
)


def _tile_infer(x: TensorType, *, multiples: tuple[int, ...]) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    as_dims(multiples, "multiples")
    if len(multiples) != len(x.shape):
        raise ShapeError(f"tile multiples {list(multiples)} do not match the rank of {x}")
    return TensorType(
        tuple(None if d is None else d * m for d, m in zip(x.shape, multiples, strict=True)),
        x.dtype,
    )


def _tile_vjp(g: Node, n: Node) -> tuple[Node]:
    x, multiples = n.inputs[0], n.attrs["multiples"]
    if sum(d is None for d in x.type.shape) > 1:
        raise ShapeError(f"the gradient of tile '{n.op_name}' needs at most one unknown dim")
    split = [v for m, d in zip(multiples, x.type.shape, strict=True) for v in (m, d or -1)]
    summed = reduce_sum(reshape_op(g, shape=tuple(split)), axis=tuple(range(0, len(split), 2)))
    return (reshape_back(summed, x),)


_tile = defop(
    "tile",
    "Tile",
    Fusion.OPAQUE,
    infer=_tile_infer,
    numpy=lambda x, *, multiples: np.tile(x, multiples),
    vjp=_tile_vjp,
    linear=(0,),
)


def _pad_infer(x: TensorType, *, paddings: tuple, constant_values: float) -> TensorType:
    as_dims(paddings, "paddings")
    if x.shape is None or len(paddings) != len(x.shape):
        raise ShapeError(f"paddings {[list(p) for p in paddings]} do not match the rank of {x}")
    dims = tuple(
        None if d is None else d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True)
    )
    return TensorType(dims, x.dtype)


def _pad_vjp(g: Node, n: Node) -> tuple[Node]:
    spec = tuple(("s", a, -b if b else None, 1) for a, b in n.attrs["paddings"])
    return (strided_slice_spec(g, spec),)


def _pad_jvp(tangents: tuple, n: Node) -> Node | None:  # pad is affine: pad tangents with 0
    t = tangents[0]
    return None if t is None else _pad(t, paddings=n.attrs["paddings"], constant_values=0.0)


_pad = defop(
    "pad",
    "PadV2",
    Fusion.OPAQUE,
    infer=_pad_infer,
    numpy=lambda x, *, paddings, constant_values: np.pad(
        x, paddings, constant_values=np.asarray(constant_values, x.dtype)
    ),
    vjp=_pad_vjp,
    jvp=_pad_jvp,
)

_shape_op = defop(
    "shape",
    "Shape",
    Fusion.OPAQUE,
    shape_only=True,
    infer=lambda x, *, out_type: TensorType((None if x.shape is None else len(x.shape),), out_type),
    numpy=lambda x, *, out_type: np.asarray(x.shape, out_type.np),
    differentiable=False,
)
_size_op = defop(
    "size",
    "Size",
    Fusion.OPAQUE,
    shape_only=True,
    infer=lambda x, *, out_type: TensorType((), out_type),
    numpy=lambda x, *, out_type: np.asarray(x.size, out_type.np),
    differentiable=False,
)


def _fill_vjp(g: Node, n: Node) -> tuple[None, Node]:  # every element is `value`: sum g
    return (None, reduce_sum(g))


def _fill_numpy(dims: np.ndarray, value: np.ndarray, *, shape: Any) -> np.ndarray:
    for k, d in enumerate(dims):
        if d < 0:
            raise ValueError(f"dims[{k}] is {d}, a negative size")
    return np.full(tuple(dims), value, value.dtype)


_fill = defop(
    "fill",
    "Fill",
    Fusion.OPAQUE,
    infer=lambda dims, value, *, shape: TensorType(shape, value.dtype),
    numpy=_fill_numpy,
    vjp=_fill_vjp,
    linear=(1,),
)
_range = defop(
    "range",
    "Range",
    Fusion.OPAQUE,
    infer=lambda start, limit, delta: TensorType((None,), start.dtype),
    numpy=lambda start, limit, delta: np.arange(start, limit, delta, dtype=start.dtype),
    differentiable=False,
)


# ---- public builders --------------------------------------------------------------------
def reshape(tensor: Any, shape: Any, name: str | None = None) -> Node:
    """`tensor` with a new shape of the same size; one dim may be -1 (inferred)."""
    with checking("Reshape", name):
        return reshape_op(convert(tensor), shape=static_ints(shape, "shape"), name=name)


def transpose(a: Any, perm: Any = None, name: str | None = None) -> Node:
    """Permutes the axes (reverses them when `perm` is None)."""
    with checking("Transpose", name):
        x = convert(a)
        if perm is None:
            if x.type.shape is None:
                raise ShapeError("transpose without perm needs a known rank")
            perm = tuple(reversed(range(len(x.type.shape))))
        return _transpose(x, perm=static_ints(perm, "perm"), name=name)


def broadcast_to(input: Any, shape: Any, name: str | None = None) -> Node:
    """`input` broadcast to `shape` (NumPy rules)."""
    with checking("BroadcastTo", name):
        return _broadcast_to(
            convert(input), shape=as_dims(static_ints(shape, "shape"), "shape"), name=name
        )


def tile(input: Any, multiples: Any, name: str | None = None) -> Node:
    """Repeats `input` `multiples[i]` times along axis i."""
    with checking("Tile", name):
        return _tile(convert(input), multiples=static_ints(multiples, "multiples"), name=name)


def pad(
    tensor: Any,
    paddings: Any,
    mode: str = "CONSTANT",
    constant_values: Any = 0,
    name: str | None = None,
) -> Node:
    """Pads with `constant_values`; `paddings[i] = [before, after]` for axis i."""
    with checking("PadV2", name):
        if not isinstance(mode, str) or mode.upper() not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
            raise InvalidArgumentError(f"mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
        if mode.upper() != "CONSTANT":
            raise NotImplementedError(f"pad mode {mode!r}: only CONSTANT is supported")
        flat = static_ints(paddings, "paddings")
        layout = np.shape(static_value(paddings) if isinstance(paddings, Node) else paddings)
        if len(layout) != 2 or layout[1] != 2:
            raise ShapeError(f"paddings must be [[before, after], ...] per axis, got {paddings!r}")
        pairs = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
        x = convert(tensor)
        return _pad(x, paddings=pairs, constant_values=float(constant_values), name=name)


def shape(input: Any, name: str | None = None, out_type: Any = int32) -> Node:
    """The shape of `input` at run time, as a 1-D int32 (or int64) tensor."""
    with checking("Shape", name):
        out_type = as_index_dtype(out_type, "out_type")
    return _shape_op(convert(input), out_type=out_type, name=name)


def size(input: Any, name: str | None = None, out_type: Any = int32) -> Node:
    """The number of elements of `input` at run time (int32, or int64)."""
    with checking("Size", name):
        out_type = as_index_dtype(out_type, "out_type")
    return _size_op(convert(input), out_type=out_type, name=name)


def rank(input: Any, name: str | None = None) -> Node:
    """The rank of `input` (static, so a constant)."""
    x = convert(input)
    if x.type.shape is None:
        raise ShapeError("rank of a tensor of unknown rank")
    return constant(len(x.type.shape), dtype=int32, name=name or "Rank")


def fill(dims: Any, value: Any, name: str | None = None) -> Node:
    """A tensor of shape `dims` filled with `value` (a scalar)."""
    with checking("Fill", name):
        value = convert(value)
        if value.type.rank not in (0, None):
            raise ShapeError(f"value must be a scalar, got shape {list(value.shape)}")
        if isinstance(dims, Node) and static_value(dims) is None:
            length = dims.type.shape[0] if dims.type.shape else None
            shape = None if length is None else (None,) * length
            return _fill(dims, value, shape=shape, name=name)
        return broadcast_to(value, as_dims(static_ints(dims, "dims"), "dims"), name=name)


def zeros(shape: Any, dtype: Any = "float32", name: str | None = None) -> Node:
    """A tensor of zeros."""
    if isinstance(shape, Node) and static_value(shape) is None:
        return fill(shape, constant(0, dtype=dtype), name=name)
    with checking("Const", name or "zeros"):
        shape = as_dims(static_ints(shape, "shape"), "shape")
    return constant(0, dtype=dtype, shape=shape, name=name or "zeros")


def ones(shape: Any, dtype: Any = "float32", name: str | None = None) -> Node:
    """A tensor of ones."""
    if isinstance(shape, Node) and static_value(shape) is None:
        return fill(shape, constant(1, dtype=dtype), name=name)
    with checking("Const", name or "ones"):
        shape = as_dims(static_ints(shape, "shape"), "shape")
    return constant(1, dtype=dtype, shape=shape, name=name or "ones")


def range_(
    start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str | None = None
) -> Node:
    """TF1's `range`: [start, start + delta, ...) below `limit`, with TF's default dtypes."""
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    with checking("Range", name):
        _check_range(*args)
        if not any(isinstance(a, Node) for a in args):
            if dtype is None:
                dtype = "float32" if any(isinstance(a, float) for a in args) else "int32"
            return constant(np.arange(start, limit, delta), dtype=dtype, name=name or "range")
        nodes = convert_operands(*args, op_name="Range")
        if dtype is not None:
            nodes = tuple(cast(a, dtype) for a in nodes)
        return _range(*nodes, name=name)


def _check_range(start: Any, limit: Any, delta: Any) -> None:
    """TF's rules for the arguments known now: delta != 0, and it goes from start to limit."""
    known = [static_value(v) if isinstance(v, Node) else v for v in (start, limit, delta)]
    for what, v in zip(("start", "limit", "delta"), known, strict=True):
        if v is not None and (np.ndim(v) != 0 or not np.issubdtype(np.asarray(v).dtype, np.number)):
            raise InvalidArgumentError(f"{what} must be a number, got {v!r}")
    start, limit, delta = known
    if delta is not None and delta == 0:
        raise InvalidArgumentError("delta must not be 0, got delta 0")
    if None not in known and (limit - start) * delta < 0:
        raise InvalidArgumentError(f"delta {delta} never goes from start {start} to limit {limit}")
