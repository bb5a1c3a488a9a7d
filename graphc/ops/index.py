"""Indexing and data movement: strided slices (Python indexing), concat/stack/split,
gather with its scatter-add transpose, one_hot.

Invariants: a slice is described by a static `spec`, a tuple of entries
("s", start, stop, step) | ("i", index) | ("n",) for a new axis | ("e",) for
an ellipsis, applied exactly as NumPy basic indexing, plus ("x", start, stop):
exactly the elements [start, stop), which must exist (what `split` and `slice`
take, as TF1 does: a run where they do not raises instead of clipping). Each
linear op here has its transpose as another op here, so gradients of gradients
exist.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError, ShapeError
from graphc.ir import OPERATORS, Node
from graphc.ops import BUILDERS, Fusion, checking, convert, convert_operands, defop, same_dtype
from graphc.ops.dims import Equal, broadcast_equalities, same_dims
from graphc.ops.elementwise import identity
from graphc.ops.reshape import expand_dims
from graphc.ops.state import static_ints, static_value
from graphc.types import (
    TensorType,
    as_dims,
    as_dtype,
    as_int,
    as_ints,
    check_compatible,
    check_slice,
    equal_parts,
    float32,
    normalize_axis,
    split_sizes,
)

Spec = tuple[tuple[Any, ...], ...]
_FULL = ("s", None, None, 1)


def _numpy_index(spec: Spec) -> tuple:
    table = {
        "s": lambda e: builtins.slice(*e[1:]),
        "x": lambda e: builtins.slice(*e[1:]),
        "i": lambda e: e[1],
        "n": lambda e: None,
        "e": lambda e: Ellipsis,
    }
    return tuple(table[e[0]](e) for e in spec)


def _expand(spec: Spec, rank: int) -> Spec:
    """The spec with its ellipsis (or the implicit trailing one) replaced by full slices."""
    used = sum(e[0] in "six" for e in spec)
    if used > rank:
        raise ShapeError(f"too many indices ({used}) for a tensor of rank {rank}")
    fill = (_FULL,) * (rank - used)
    if not any(e[0] == "e" for e in spec):
        return spec + fill
    at = next(i for i, e in enumerate(spec) if e[0] == "e")
    return spec[:at] + fill + tuple(e for e in spec[at + 1 :] if e[0] != "e")


def _slice_infer(x: TensorType, *, spec: Spec) -> TensorType:
    if x.shape is None:
        return TensorType(None, x.dtype)
    out: list[int | None] = []
    dims = iter(x.shape)
    for entry in _expand(spec, len(x.shape)):
        if entry[0] == "n":
            out.append(1)
            continue
        d = next(dims)
        if entry[0] == "i" and d is not None and not -d <= entry[1] < d:
            raise ShapeError(f"index {entry[1]} is out of bounds for a dim of size {d}")
        if entry[0] == "s":
            out.append(
                None if d is None else len(builtins.range(*builtins.slice(*entry[1:]).indices(d)))
            )
        if entry[0] == "x":
            if d is not None and entry[2] > d:
                raise ShapeError(f"elements [{entry[1]}, {entry[2]}) go past a dim of size {d}")
            out.append(entry[2] - entry[1])
    return TensorType(tuple(out), x.dtype)


def _slice_numpy(x: np.ndarray, *, spec: Spec) -> np.ndarray:
    """x[spec]; an exact range ("x", as split and slice make) must lie inside its axis."""
    axes = (e for e in _expand(spec, x.ndim) if e[0] != "n")
    for entry, d in zip(axes, x.shape, strict=True):
        if entry[0] == "x" and entry[2] > d:
            raise IndexError(f"elements [{entry[1]}, {entry[2]}) go past a dim of size {d}")
    return x[_numpy_index(spec)]


def _slice_grad_numpy(g: np.ndarray, like: np.ndarray, *, spec: Spec) -> np.ndarray:
    out = np.zeros(like.shape, g.dtype)
    out[_numpy_index(spec)] = g
    return out


def _strided_slice_vjp(g: Node, n: Node) -> tuple[Node]:  # g scattered into zeros like x
    return (_slice_grad(g, n.inputs[0], spec=n.attrs["spec"]),)


_strided_slice = defop(
    "strided_slice",
    "StridedSlice",
    Fusion.OPAQUE,
    infer=_slice_infer,
    numpy=_slice_numpy,
    vjp=_strided_slice_vjp,
    linear=(0,),
)


def _strided_slice_grad_vjp(g: Node, n: Node) -> tuple[Node, None]:  # the transpose: slice g
    return (_strided_slice(g, spec=n.attrs["spec"]), None)


_slice_grad = defop(
    "strided_slice_grad",
    "StridedSliceGrad",
    Fusion.OPAQUE,
    infer=lambda g, like, *, spec: TensorType(like.shape, g.dtype),
    numpy=_slice_grad_numpy,
    vjp=_strided_slice_grad_vjp,
    linear=(0,),
)


def strided_slice_spec(x: Node, spec: Spec, name: str | None = None) -> Node:
    return _strided_slice(x, spec=spec, name=name)


def _index_entry(item: Any) -> tuple[Any, ...]:
    if item is None:
        return ("n",)
    if item is Ellipsis:
        return ("e",)
    if isinstance(item, builtins.slice):
        return ("s", *(_static_int(v) for v in (item.start, item.stop, item.step or 1)))
    return ("i", _static_int(item))


def _static_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, Node):
        value = static_value(v)
        if value is None or value.ndim:
            raise DTypeError(f"index {v.name} must be a constant scalar; use graphc.gather")
        v = value
    if not isinstance(v, int | np.integer) and not (isinstance(v, np.ndarray) and v.ndim == 0):
        raise DTypeError(f"only integers, slices, None and ... are valid indices, got {v!r}")
    return int(v)


def getitem(x: Node, index: Any) -> Node:
    """x[index] with NumPy basic indexing: ints, slices, None (new axis) and ellipsis."""
    items = index if isinstance(index, tuple) else (index,)
    with checking("StridedSlice"):
        spec = tuple(_index_entry(i) for i in items)
    return _strided_slice(x, spec=spec, name="strided_slice")


OPERATORS["getitem"] = getitem


# ---- concat / stack / split ---------------------------------------------------------------
def _concat_infer(*xs: TensorType, axis: int) -> TensorType:
    dtype = same_dtype(*xs)
    if any(x.shape is None for x in xs):
        return TensorType(None, dtype)
    if len({len(x.shape) for x in xs}) != 1:
        raise ShapeError(f"concat of tensors of different ranks: {', '.join(map(str, xs))}")
    out: list[int | None] = []
    for i, dims in enumerate(zip(*(x.shape for x in xs), strict=True)):
        if i == axis:
            out.append(None if None in dims else sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ShapeError(f"concat: dim {i} differs: {', '.join(map(str, xs))}")
        out.append(known.pop() if known else None)
    return TensorType(tuple(out), dtype)


def _concat_vjp(g: Node, n: Node) -> tuple[Node, ...]:
    axis, grads, start = n.attrs["axis"], [], 0
    for x in n.inputs:
        size = x.type.shape[axis]
        if size is None:
            raise ShapeError(f"the gradient of concat '{n.op_name}' needs static sizes on its axis")
        spec = (_FULL,) * axis + (("s", start, start + size, 1),)
        grads.append(_strided_slice(g, spec=spec))
        start += size
    return tuple(grads)


def _concat_assumes(n: Node) -> list[Equal]:
    """Every axis but the joined one has one size in all inputs."""
    axis = n.attrs["axis"]
    if n.type.shape is None or any(x.type.shape is None for x in n.inputs):
        return []
    masked = [
        (x, tuple(1 if k == axis else d for k, d in enumerate(x.type.shape))) for x in n.inputs
    ]
    return broadcast_equalities(
        masked, tuple(1 if k == axis else d for k, d in enumerate(n.type.shape))
    )


_concat = defop(
    "concat",
    "ConcatV2",
    Fusion.OPAQUE,
    infer=_concat_infer,
    numpy=lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp=_concat_vjp,
    linear=True,
    assumes=_concat_assumes,
)


def concat(values: list[Any], axis: int, name: str | None = None) -> Node:
    """Joins tensors along an existing axis."""
    with checking("ConcatV2", name):
        values = [values] if isinstance(values, Node) else values  # TF1 takes a lone tensor
        nodes = convert_operands(*_nonempty(values), op_name="ConcatV2")
        axis = normalize_axis(axis, nodes[0].type.rank)
        if len(nodes) == 1:
            return identity(nodes[0], name=name)
        return _concat(*nodes, axis=axis, name=name)


def _nonempty(values: Any) -> list[Any]:
    """`values`, a non-empty list of tensors (a lone tensor is not a list)."""
    if not isinstance(values, list | tuple):
        raise InvalidArgumentError(f"values must be a list of tensors, got {values!r}")
    if not values:
        raise InvalidArgumentError("values [] is empty: it needs at least one tensor")
    return list(values)


def stack(values: list[Any], axis: int = 0, name: str | None = None) -> Node:
    """Joins tensors of one shape along a new axis."""
    with checking("Pack", name):
        nodes = convert_operands(*_nonempty(values), op_name="Pack")
        rank = nodes[0].type.rank
        axis = normalize_axis(axis, None if rank is None else rank + 1)
        return concat([expand_dims(v, axis) for v in nodes], axis=axis, name=name or "stack")


BUILDERS["stack"] = stack


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str | None = None) -> list:
    """Splits a tensor into a list along `axis`, removing that axis."""
    with checking("Unpack", name):
        x = convert(value)
        if x.type.rank is None:
            raise ShapeError("unstack needs a known rank")
        axis = normalize_axis(axis, x.type.rank)
        size = x.type.shape[axis]
        num = size if num is None else as_int(num, "num")
        if num is None:
            raise ShapeError("unstack needs a static size along its axis (or num=)")
        if size is not None and num != size:
            raise ShapeError(f"num {num} does not match the size {size} of axis {axis}")
    return [
        _strided_slice(x, spec=(_FULL,) * axis + (("i", i),), name=name or "unstack")
        for i in builtins.range(num)
    ]


def split(value: Any, num_or_size_splits: Any, axis: int = 0, name: str | None = None) -> list:
    """Splits along `axis` into equal parts (an int) or parts of the given sizes."""
    by_num = np.ndim(num_or_size_splits) == 0
    with checking("Split" if by_num else "SplitV", name):
        x = convert(value)
        if x.type.rank is None:
            raise ShapeError("split needs a known rank")
        axis = normalize_axis(axis, x.type.rank)
        total = x.type.shape[axis]
        if by_num:
            sizes = equal_parts(as_int(num_or_size_splits, "num_or_size_splits"), total)
        else:
            sizes = split_sizes(as_ints(num_or_size_splits, "size_splits"), total)
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    return [
        _strided_slice(x, spec=(_FULL,) * axis + (("x", a, a + s),), name=name or "split")
        for a, s in zip(starts, sizes, strict=True)
    ]


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> Node:
    """input_[begin[i] : begin[i] + size[i]] on each axis; size -1 means to the end."""
    with checking("Slice", name):
        x = convert(input_)
        begin = as_dims(static_ints(begin, "begin"), "begin")
        size = as_dims(static_ints(size, "size"), "size", lowest=-1)
        check_slice(x.type.shape, begin, size)
    spec = tuple(
        ("s", b, None, 1) if s == -1 else ("x", b, b + s) for b, s in zip(begin, size, strict=True)
    )
    return _strided_slice(x, spec=spec, name=name or "Slice")


# ---- gather / scatter-add ----------------------------------------------------------------
def _gather_infer(params: TensorType, indices: TensorType, *, axis: int) -> TensorType:
    if not indices.dtype.is_integer:
        raise DTypeError(f"gather indices must be integers, got {indices.dtype.name}")
    if params.shape is None or indices.shape is None:
        return TensorType(None, params.dtype)
    return TensorType(params.shape[:axis] + indices.shape + params.shape[axis + 1 :], params.dtype)


def _scatter_add_numpy(
    updates: np.ndarray, indices: np.ndarray, like: np.ndarray, *, axis: int
) -> np.ndarray:
    out = np.zeros(like.shape, updates.dtype)
    k = indices.ndim
    moved = np.moveaxis(updates, list(builtins.range(axis, axis + k)), list(builtins.range(k)))
    np.add.at(np.moveaxis(out, axis, 0), _in_range(indices, like.shape[axis], "index"), moved)
    return out


def _gather_vjp(g: Node, n: Node) -> tuple[Node, None]:  # scatter-add g at the indices
    return (_scatter_add(g, n.inputs[1], n.inputs[0], axis=n.attrs["axis"]), None)


def _in_range(values: np.ndarray, bound: int, what: str) -> np.ndarray:
    """`values` if all are in [0, bound), else IndexError naming the first that is not
    (TF1 raises where NumPy would wrap a negative index)."""
    bad = (values < 0) | (values >= bound)
    if np.any(bad):
        raise IndexError(f"{what} {values[bad].flat[0]} is not in [0, {bound})")
    return values


_gather = defop(
    "gather",
    "GatherV2",
    Fusion.OPAQUE,
    infer=_gather_infer,
    numpy=lambda params, indices, *, axis: np.take(
        params, _in_range(indices, params.shape[axis], "index"), axis=axis
    ),
    vjp=_gather_vjp,
    linear=(0,),
)


def _scatter_add_like_vjp(g: Node, n: Node) -> tuple[Node, None, None]:  # the transpose: gather
    return (_gather(g, n.inputs[1], axis=n.attrs["axis"]), None, None)


_scatter_add = defop(
    "scatter_add_like",
    "ScatterAddLike",
    Fusion.OPAQUE,
    infer=lambda u, i, like, *, axis: TensorType(like.shape, u.dtype),
    numpy=_scatter_add_numpy,
    vjp=_scatter_add_like_vjp,
    linear=(0,),
)


def _check_labels_infer(labels: TensorType, logits: TensorType) -> TensorType:
    if not labels.dtype.is_integer:
        raise DTypeError(f"labels must be integers, got {labels.dtype.name}")
    if logits.shape is None:
        return labels
    if labels.shape is None:  # TF1: labels have logits' shape without the class axis
        return TensorType(logits.shape[:-1], labels.dtype)
    check_compatible(labels.shape, logits.shape[:-1], "labels and logits[:-1]")
    return labels


def _check_labels_assumes(n: Node) -> list[Equal]:
    labels, logits = n.inputs
    if labels.type.shape is None or logits.type.shape is None:
        return []
    return same_dims([((labels, k), (logits, k)) for k in range(len(labels.type.shape))])


def _labels_numpy(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    if labels.shape != logits.shape[:-1]:
        raise InvalidArgumentError(
            f"labels of shape {list(labels.shape)} do not match logits of shape "
            f"{list(logits.shape)} without its last axis"
        )
    return _in_range(labels, logits.shape[-1], "label")


# `labels` itself, after checking at run time what TF1's SparseSoftmaxCrossEntropyWithLogits
# checks: one label per row of logits, each in [0, classes) (one_hot alone gives zeros)
check_labels = defop(
    "check_labels",
    "CheckLabels",
    Fusion.OPAQUE,
    infer=_check_labels_infer,
    numpy=lambda labels, logits: _labels_numpy(labels, logits),
    differentiable=False,
    effectful=True,  # it may raise: never folded, merged or dropped for an unused result
    assumes=_check_labels_assumes,
)


def gather(params: Any, indices: Any, axis: int = 0, name: str | None = None) -> Node:
    """params[..., indices, ...] along `axis` (NumPy's take); out-of-range indices raise."""
    with checking("GatherV2", name):
        p, i = convert(params), convert(indices)
        axis = normalize_axis(axis, p.type.rank)
        _check_indices(i, None if p.type.shape is None else p.type.shape[axis], axis)
        return _gather(p, i, axis=axis, name=name)


def _check_indices(indices: Node, size: int | None, axis: int) -> None:
    """Constant indices must fall in [0, size) when the axis' size is known (TF on CPU)."""
    value = static_value(indices)
    if size is None or value is None or not value.size or value.dtype.kind not in "iu":
        return
    bad = value[(value < 0) | (value >= size)]
    if bad.size:
        raise InvalidArgumentError(
            f"indices {bad.ravel()[0]} is out of range [0, {size}) for axis {axis}"
        )


def _one_hot_numpy(
    indices: np.ndarray, *, depth: int, on: float, off: float, axis: int, dtype: Any
) -> np.ndarray:
    hot = indices[..., None] == np.arange(depth)
    out = np.where(hot, np.asarray(on, dtype.np), np.asarray(off, dtype.np))
    return np.moveaxis(out, -1, axis)


def _one_hot_infer(
    indices: TensorType, *, depth: int, on: float, off: float, axis: int, dtype: Any
) -> TensorType:
    if not indices.dtype.is_integer:
        raise DTypeError(f"one_hot indices must be integers, got {indices.dtype.name}")
    if indices.shape is None:
        return TensorType(None, dtype)
    shape = list(indices.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, depth)
    return TensorType(tuple(shape), dtype)


_one_hot = defop(
    "one_hot",
    "OneHot",
    Fusion.OPAQUE,
    infer=_one_hot_infer,
    numpy=_one_hot_numpy,
    differentiable=False,
)


def one_hot(
    indices: Any,
    depth: int,
    on_value: Any = None,
    off_value: Any = None,
    axis: int = -1,
    dtype: Any = None,
    name: str | None = None,
) -> Node:
    """Rows of `on_value` at `indices` and `off_value` elsewhere (out-of-range: all off)."""
    with checking("OneHot", name):
        dtype = as_dtype(dtype) if dtype is not None else float32
        on = 1.0 if on_value is None else float(on_value)
        off = 0.0 if off_value is None else float(off_value)
        x = convert(indices)
        depth = as_dims(as_int(depth, "depth"), "depth")[0]
        axis = as_int(axis, "axis")
        rank = x.type.rank
        if axis < -1 or (rank is not None and axis > rank):
            raise ShapeError(f"axis {axis} must be -1 or between 0 and the indices' rank {rank}")
        return _one_hot(x, depth=depth, on=on, off=off, axis=axis, dtype=dtype, name=name)
