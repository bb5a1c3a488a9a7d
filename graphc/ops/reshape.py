"""Reshaping ops: reshape, reshape_like, expand_dims, squeeze (same elements, new shape).

They sit below the reductions, whose gradients restore reduced axes with
`expand_dims`, and below `graphc.ops.shape`, which re-exports them.

Invariants: target shapes are static attrs (Python ints; one -1 allowed in
reshape); gradients that must restore an input's shape use `reshape_like`,
which takes the shape at run time, so unknown batch dims need no static size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, checking, convert, defop
from graphc.types import Shape, TensorType, as_dims, normalize_axes, normalize_axis


def _numel(shape: Shape) -> int | None:
    if shape is None or None in shape:
        return None
    return int(np.prod(shape, dtype=np.int64))


def _reshape_infer(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    as_dims(shape, "shape", lowest=-1)
    if sum(d == -1 for d in shape) > 1:
        raise ShapeError(f"shape {list(shape)} has more than one -1")
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    size = _numel(x.shape)
    if -1 in shape and known == 0 and size is not None:
        raise ShapeError(f"shape {list(shape)}: -1 is ambiguous next to a 0 dim")
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
    return (reshape_back(g, n.inputs[0]),)


def reshape_back(g: Node, x: Node) -> Node:
    """`g` reshaped to x's shape: statically when at most one dim is unknown."""
    shape = x.type.shape
    if shape is not None and sum(d is None for d in shape) <= 1:
        return reshape_op(g, shape=tuple(-1 if d is None else d for d in shape))
    return reshape_like(g, x)


reshape_op = defop(
    "reshape",
    "Reshape",
    Fusion.OPAQUE,
    reshape=True,
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
    Fusion.OPAQUE,
    reshape=True,
    infer=lambda x, like: TensorType(like.shape, x.dtype),
    numpy=lambda x, like: x.reshape(like.shape),
    vjp=_reshape_like_vjp,
    linear=(0,),
)


def _expand_infer(x: TensorType, *, axis: int) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    return TensorType((*x.shape[:axis], 1, *x.shape[axis:]), x.dtype)


def _expand_dims_vjp(g: Node, n: Node) -> tuple[Node]:  # squeeze the inserted axis back out
    return (squeeze_op(g, axis=(n.attrs["axis"],)),)


expand_dims_op = defop(
    "expand_dims",
    "ExpandDims",
    Fusion.OPAQUE,
    reshape=True,
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


squeeze_op = defop(
    "squeeze",
    "Squeeze",
    Fusion.OPAQUE,
    reshape=True,
    infer=_squeeze_infer,
    numpy=lambda x, *, axis: np.squeeze(x, axis=axis),
    vjp=_squeeze_vjp,
    linear=(0,),
)


def expand_dims(input: Any, axis: int, name: str | None = None) -> Node:
    """Inserts a size-1 axis at `axis` (negative counts from the end of the new rank)."""
    with checking("ExpandDims", name):
        x = convert(input)
        rank = None if x.type.rank is None else x.type.rank + 1
        return expand_dims_op(x, axis=normalize_axis(axis, rank), name=name)


def squeeze(input: Any, axis: Any = None, name: str | None = None) -> Node:
    """Removes size-1 axes (`axis=None`: every statically size-1 axis)."""
    with checking("Squeeze", name):
        x = convert(input)
        if x.type.shape is None:
            raise ShapeError("squeeze needs a known rank")
        if axis is None:
            axes = tuple(i for i, d in enumerate(x.type.shape) if d == 1)
        else:
            axes = normalize_axes(axis, len(x.type.shape))
        return squeeze_op(x, axis=axes, name=name)
