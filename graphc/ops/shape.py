"""Shape ops: reshape, transpose, expand_dims, squeeze, broadcast_to, tile, pad,
shape/size/rank, fill/zeros/ones, range.

Invariants: target shapes are static attrs (Python ints; one -1 allowed in
reshape); gradients that must restore an input's shape use `reshape_like`,
which takes the shape at run time, so unknown batch dims need no static size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import ShapeError
from graphc.ir import Node
from graphc.ops import Kind, convert, defop, unbroadcast
from graphc.ops.reduce import reduce_sum
from graphc.ops.state import constant, static_value
from graphc.types import Shape, TensorType, as_dtype, broadcast_shapes, int32, normalize_axes


def _numel(shape: Shape) -> int | None:
    if shape is None or None in shape:
        return None
    return int(np.prod(shape, dtype=np.int64))


def _reshape_infer(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if sum(d == -1 for d in shape) > 1:
        raise ShapeError(f"reshape target {list(shape)} has more than one -1")
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    size = _numel(x.shape)
    if -1 not in shape:
        if size is not None and size != known:
            raise ShapeError(f"cannot reshape {x} ({size} elements) to {list(shape)}")
        return TensorType(tuple(shape), x.dtype)
    if size is None or known == 0:
        return TensorType(tuple(None if d == -1 else d for d in shape), x.dtype)
    if size % known:
        raise ShapeError(f"cannot reshape {x} ({size} elements) to {list(shape)}")
    return TensorType(tuple(size // known if d == -1 else d for d in shape), x.dtype)


def _reshape_vjp(g: Node, n: Node) -> tuple[Node]:
    return (_reshape_back(g, n.inputs[0]),)


def _reshape_back(g: Node, x: Node) -> Node:
    """g reshaped to x's shape: statically when at most one dim is unknown."""
    shape = x.type.shape
    if shape is not None and sum(d is None for d in shape) <= 1:
        return _reshape(g, shape=tuple(-1 if d is None else d for d in shape))
    return reshape_like(g, x)


_reshape = defop(
    "reshape",
    "Reshape",
    Kind.INJECTIVE,
    infer=_reshape_infer,
    numpy=lambda x, *, shape: x.reshape(shape),
    vjp=_reshape_vjp,
    linear=(0,),
)


def _reshape_like_vjp(g: Node, n: Node) -> tuple[Node, None]:  # reshape back; `like` gets none
    return (reshape_like(g, n.inputs[0]), None)


reshape_like = defop(
    "reshape_like",
    "ReshapeLike",
    Kind.INJECTIVE,
    infer=lambda x, like: TensorType(like.shape, x.dtype),
    numpy=lambda x, like: x.reshape(like.shape),
    vjp=_reshape_like_vjp,
    linear=(0,),
)


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
    Kind.INJECTIVE,
    infer=_transpose_infer,
    numpy=lambda x, *, perm: np.transpose(x, perm),
    vjp=_transpose_vjp,
    linear=(0,),
)


def _expand_infer(x: TensorType, *, axis: int) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    return TensorType((*x.shape[:axis], 1, *x.shape[axis:]), x.dtype)


def _expand_dims_vjp(g: Node, n: Node) -> tuple[Node]:  # squeeze the inserted axis back out
    return (_squeeze(g, axis=(n.attrs["axis"],)),)


_expand = defop(
    "expand_dims",
    "ExpandDims",
    Kind.INJECTIVE,
    infer=_expand_infer,
    numpy=lambda x, *, axis: np.expand_dims(x, axis),
    vjp=_expand_dims_vjp,
    linear=(0,),
)


def _squeeze_infer(x: TensorType, *, axis: tuple[int, ...]) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    for a in axis:
        if x.shape[a] not in (1, None):
            raise ShapeError(f"cannot squeeze axis {a} of size {x.shape[a]} in {x}")
    return TensorType(tuple(d for i, d in enumerate(x.shape) if i not in axis), x.dtype)


def _squeeze_vjp(g: Node, n: Node) -> tuple[Node]:  # reshape back to the input's shape
    return (reshape_like(g, n.inputs[0]),)


_squeeze = defop(
    "squeeze",
    "Squeeze",
    Kind.INJECTIVE,
    infer=_squeeze_infer,
    numpy=lambda x, *, axis: np.squeeze(x, axis=axis),
    vjp=_squeeze_vjp,
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
    Kind.BROADCAST,
    infer=_broadcast_to_infer,
    numpy=lambda x, *, shape: np.broadcast_to(x, shape),
    vjp=_broadcast_to_vjp,
    linear=(0,),
)


def _tile_infer(x: TensorType, *, multiples: tuple[int, ...]) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
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
    summed = reduce_sum(_reshape(g, shape=tuple(split)), axis=tuple(range(0, len(split), 2)))
    return (_reshape_back(summed, x),)


_tile = defop(
    "tile",
    "Tile",
    Kind.BROADCAST,
    infer=_tile_infer,
    numpy=lambda x, *, multiples: np.tile(x, multiples),
    vjp=_tile_vjp,
    linear=(0,),
)


def _pad_infer(x: TensorType, *, paddings: tuple, constant_values: float) -> TensorType:
    if x.shape is None or len(paddings) != len(x.shape):
        raise ShapeError(f"paddings {list(paddings)} do not match the rank of {x}")
    dims = tuple(
        None if d is None else d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True)
    )
    return TensorType(dims, x.dtype)


def _pad_vjp(g: Node, n: Node) -> tuple[Node]:
    from graphc.ops.index import strided_slice_spec

    spec = tuple(("s", a, -b if b else None, 1) for a, b in n.attrs["paddings"])
    return (strided_slice_spec(g, spec),)


def _pad_jvp(tangents: tuple, n: Node) -> Node | None:  # pad is affine: pad tangents with 0
    t = tangents[0]
    return None if t is None else _pad(t, paddings=n.attrs["paddings"], constant_values=0.0)


_pad = defop(
    "pad",
    "PadV2",
    Kind.INJECTIVE,
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
    Kind.OPAQUE,
    infer=lambda x, *, out_type: TensorType((None if x.shape is None else len(x.shape),), out_type),
    numpy=lambda x, *, out_type: np.asarray(x.shape, out_type.np),
    differentiable=False,
)
_size_op = defop(
    "size",
    "Size",
    Kind.OPAQUE,
    infer=lambda x, *, out_type: TensorType((), out_type),
    numpy=lambda x, *, out_type: np.asarray(x.size, out_type.np),
    differentiable=False,
)


def _fill_vjp(g: Node, n: Node) -> tuple[None, Node]:  # every element is `value`: sum g
    return (None, reduce_sum(g))


_fill = defop(
    "fill",
    "Fill",
    Kind.BROADCAST,
    infer=lambda dims, value, *, shape: TensorType(shape, value.dtype),
    numpy=lambda dims, value, *, shape: np.full(tuple(dims), value, value.dtype),
    vjp=_fill_vjp,
    linear=(1,),
)
_range = defop(
    "range",
    "Range",
    Kind.OPAQUE,
    infer=lambda start, limit, delta: TensorType((None,), start.dtype),
    numpy=lambda start, limit, delta: np.arange(start, limit, delta, dtype=start.dtype),
    differentiable=False,
)


# ---- public builders --------------------------------------------------------------------
def _static_ints(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, Node):
        array = static_value(value)
        if array is None:
            raise ShapeError(f"{what} must be known when the graph is built (Python ints)")
        value = array
    return tuple(int(v) for v in np.asarray(value).ravel().tolist())


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Node:
    """`tensor` with a new shape of the same size; one dim may be -1 (inferred)."""
    return _reshape(convert(tensor), shape=_static_ints(shape, "reshape's shape"), name=name)


def transpose(a: Any, perm: Any = None, name: str | None = None) -> Node:
    """Permutes the axes (reverses them when `perm` is None)."""
    x = convert(a)
    if perm is None:
        if x.type.shape is None:
            raise ShapeError("transpose without perm needs a known rank")
        perm = tuple(reversed(range(len(x.type.shape))))
    return _transpose(x, perm=_static_ints(perm, "perm"), name=name)


def expand_dims(input: Any, axis: int, name: str | None = None) -> Node:
    """Inserts a size-1 axis at `axis` (negative counts from the end of the new rank)."""
    x = convert(input)
    if x.type.shape is not None:
        axis = normalize_axes(axis, len(x.type.shape) + 1)[0]
    return _expand(x, axis=int(axis), name=name)


def squeeze(input: Any, axis: Any = None, name: str | None = None) -> Node:
    """Removes size-1 axes (`axis=None`: every statically size-1 axis)."""
    x = convert(input)
    if x.type.shape is None:
        raise ShapeError("squeeze needs a known rank")
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.type.shape) if d == 1)
    else:
        axes = normalize_axes(axis, len(x.type.shape))
    return _squeeze(x, axis=axes, name=name)


def broadcast_to(input: Any, shape: Any, name: str | None = None) -> Node:
    """`input` broadcast to `shape` (NumPy rules)."""
    return _broadcast_to(convert(input), shape=_static_ints(shape, "shape"), name=name)


def tile(input: Any, multiples: Any, name: str | None = None) -> Node:
    """Repeats `input` `multiples[i]` times along axis i."""
    return _tile(convert(input), multiples=_static_ints(multiples, "multiples"), name=name)


def pad(
    tensor: Any,
    paddings: Any,
    mode: str = "CONSTANT",
    constant_values: Any = 0,
    name: str | None = None,
) -> Node:
    """Pads with `constant_values`; `paddings[i] = [before, after]` for axis i."""
    if mode.upper() != "CONSTANT":
        raise NotImplementedError(f"pad mode {mode!r}: only CONSTANT is supported")
    flat = _static_ints(paddings, "paddings")
    pairs = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    x = convert(tensor)
    return _pad(x, paddings=pairs, constant_values=float(constant_values), name=name)


def shape(input: Any, name: str | None = None, out_type: Any = int32) -> Node:
    """The shape of `input` at run time, as a 1-D int32 tensor."""
    return _shape_op(convert(input), out_type=as_dtype(out_type), name=name)


def size(input: Any, name: str | None = None, out_type: Any = int32) -> Node:
    """The number of elements of `input` at run time."""
    return _size_op(convert(input), out_type=as_dtype(out_type), name=name)


def rank(input: Any, name: str | None = None) -> Node:
    """The rank of `input` (static, so a constant)."""
    x = convert(input)
    if x.type.shape is None:
        raise ShapeError("rank of a tensor of unknown rank")
    return constant(len(x.type.shape), dtype=int32, name=name or "Rank")


def fill(dims: Any, value: Any, name: str | None = None) -> Node:
    """A tensor of shape `dims` filled with `value` (a scalar)."""
    value = convert(value)
    if isinstance(dims, Node) and static_value(dims) is None:
        length = dims.type.shape[0] if dims.type.shape else None
        shape = None if length is None else (None,) * length
        return _fill(dims, value, shape=shape, name=name)
    return broadcast_to(value, _static_ints(dims, "dims"), name=name)


def zeros(shape: Any, dtype: Any = "float32", name: str | None = None) -> Node:
    """A tensor of zeros."""
    if isinstance(shape, Node) and static_value(shape) is None:
        return fill(shape, constant(0, dtype=dtype), name=name)
    return constant(0, dtype=dtype, shape=_static_ints(shape, "shape"), name=name or "zeros")


def ones(shape: Any, dtype: Any = "float32", name: str | None = None) -> Node:
    """A tensor of ones."""
    if isinstance(shape, Node) and static_value(shape) is None:
        return fill(shape, constant(1, dtype=dtype), name=name)
    return constant(1, dtype=dtype, shape=_static_ints(shape, "shape"), name=name or "ones")


def range_(
    start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str | None = None
) -> Node:
    """TF1's `range`: [start, start + delta, ...) below `limit`, with TF's default dtypes."""
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    if not any(isinstance(a, Node) for a in args):
        if dtype is None:
            dtype = "float32" if any(isinstance(a, float) for a in args) else "int32"
        return constant(np.arange(start, limit, delta), dtype=dtype, name=name or "range")
    from graphc.ops import convert_operands
    from graphc.ops.elementwise import cast

    nodes = convert_operands(*args, op_name="Range")
    if dtype is not None:
        nodes = tuple(cast(a, dtype) for a in nodes)
    return _range(*nodes, name=name)
