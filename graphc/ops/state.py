"""Source and state ops: placeholders, constants, variables, assignment, no_op.

Invariants: a `variable` node is a read of the variable's value from before
the run; a `read_variable` node (made automatically for reads created inside
`control_dependencies`) reads the value after its control inputs ran;
`assign` stores its value and outputs it. Stateful ops' NumPy facet takes the
executor's run context first: `numpy(ctx, node, *arrays)`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError, ShapeError
from graphc.graph import as_op_node
from graphc.ir import ConstValue, Node
from graphc.ops import BUILDERS, Fusion, checking, convert, defop, graph_of, to_array
from graphc.ops.dims import same_dims
from graphc.ops.reshape import reshape_back
from graphc.types import Shape, TensorType, as_dims, as_dtype, as_ints, check_size, shape_str


def _placeholder_numpy(ctx: Any, node: Node) -> np.ndarray:
    raise InvalidArgumentError(f"placeholder '{node.name}' must be fed a value")


placeholder_op = defop(
    "placeholder",
    "Placeholder",
    Fusion.OPAQUE,
    infer=lambda *, dtype, shape: TensorType(shape, dtype),
    numpy=_placeholder_numpy,
    differentiable=False,
    stateful=True,
    is_source=True,
)

const = defop(
    "const",
    "Const",
    Fusion.OPAQUE,
    infer=lambda *, value: TensorType(value.array.shape, as_dtype(value.array.dtype)),
    numpy=lambda *, value: value.array,
    differentiable=False,
    is_source=True,
)


def _variable_numpy(ctx: Any, node: Node) -> np.ndarray:
    return ctx.read_snapshot(node)


variable_op = defop(
    "variable",
    "VariableV2",
    Fusion.OPAQUE,
    infer=lambda *, dtype, shape: TensorType(shape, dtype),
    numpy=_variable_numpy,
    differentiable=False,
    stateful=True,
    is_source=True,
)


def _ref_type(ref: TensorType, *rest: TensorType) -> TensorType:
    return ref


read_variable = defop(
    "read_variable",
    "ReadVariableOp",
    Fusion.OPAQUE,
    infer=_ref_type,
    numpy=lambda ctx, node, _ref: ctx.read_current(node.inputs[0]),
    differentiable=False,
    stateful=True,
    takes_ref=True,
)


def _assign_infer(ref: TensorType, value: TensorType) -> TensorType:
    if ref.dtype is not value.dtype:
        raise DTypeError(f"cannot assign {value.dtype.name} to a {ref.dtype.name} variable")
    if value.shape is not None and ref.shape is not None:
        ok = len(value.shape) == len(ref.shape) and all(
            a is None or b is None or a == b for a, b in zip(value.shape, ref.shape, strict=True)
        )
        if not ok:
            raise ShapeError(
                f"cannot assign a value of shape {shape_str(value.shape)} "
                f"to a variable of shape {shape_str(ref.shape)}"
            )
    return ref


def _assign_numpy(ctx: Any, node: Node, _ref: Any, value: np.ndarray) -> np.ndarray:
    ctx.write(node.inputs[0], value)
    return value


assign_op = defop(
    "assign",
    "Assign",
    Fusion.OPAQUE,
    infer=_assign_infer,
    numpy=_assign_numpy,
    differentiable=False,
    stateful=True,
    takes_ref=True,
    effectful=True,
    assumes=lambda n: same_dims([((n.inputs[1], k), (n.inputs[0], k)) for k in range(n.type.rank)]),
)

no_op_def = defop(
    "no_op",
    "NoOp",
    Fusion.OPAQUE,
    infer=lambda: None,
    numpy=lambda ctx, node: None,
    differentiable=False,
    stateful=True,
)


def _with_default_infer(x: TensorType, *, shape: Shape) -> TensorType:
    """TF1's PlaceholderWithDefault: the output has `shape`, which the default must fit."""
    fits = (
        shape is None
        or x.shape is None
        or (
            len(shape) == len(x.shape)
            and all(a is None or b is None or a == b for a, b in zip(shape, x.shape, strict=True))
        )
    )
    if not fits:
        raise ShapeError(
            f"the default value's shape {shape_str(x.shape)} does not fit shape {shape_str(shape)}"
        )
    return TensorType(shape, x.dtype)


def _with_default_vjp(g: Node, n: Node) -> tuple[Node]:  # as TF1: the gradient passes through
    return (reshape_back(g, n.inputs[0]),)  # restores the default's static shape


placeholder_with_default_op = defop(
    "placeholder_with_default",
    "PlaceholderWithDefault",
    Fusion.OPAQUE,
    infer=_with_default_infer,
    numpy=lambda x, *, shape: x,
    vjp=_with_default_vjp,
    linear=True,
)


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Node:
    """`input` unless fed: a placeholder whose static `shape` may be looser than `input`'s
    (None dims, or None for an unknown rank), so a feed may have another batch size."""
    with checking("PlaceholderWithDefault", name):
        static: Shape = None if shape is None else tuple(_dim(d) for d in _as_dims(shape))
        value = convert(input)
    return placeholder_with_default_op(value, shape=static, name=name or "PlaceholderWithDefault")


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Node:
    """An input fed at run time; `None` dims are unknown, `shape=None` an unknown rank."""
    with checking("Placeholder", name):
        static: Shape = None if shape is None else tuple(_dim(d) for d in _as_dims(shape))
        dtype = as_dtype(dtype)
    return placeholder_op(dtype=dtype, shape=static, name=name or "Placeholder")


def _as_dims(shape: Any) -> tuple:
    return (shape,) if np.ndim(shape) == 0 else tuple(shape)


def _dim(d: Any) -> int | None:
    if d is None or (isinstance(d, int | np.integer) and d == -1):
        return None
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0:
        raise ShapeError(f"shape has an invalid dimension {d!r} (ints >= 0, or None)")
    return int(d)


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str | None = None) -> Node:
    """A constant tensor; with `shape`, a scalar `value` is broadcast (TF1's fill behaviour)."""
    with checking("Const", name or "Const"):
        array = _constant_array(value, dtype, shape)
    return const(value=ConstValue(array), name=name or "Const")


def _constant_array(value: Any, dtype: Any, shape: Any) -> np.ndarray:
    try:
        array = to_array(value, dtype)
    except DTypeError:
        raise
    except (ValueError, TypeError) as exc:  # ragged lists, values NumPy cannot convert
        raise InvalidArgumentError(f"value {_short(value)} is not an array: {exc}") from None
    if shape is None:
        return array
    shape = as_dims(shape, "shape")
    if array.size == 1:
        check_size(shape, "shape", array.itemsize)
        try:
            return np.full(shape, array.reshape(()), dtype=array.dtype)
        except MemoryError:
            raise ShapeError(f"shape {list(shape)} is too large to allocate") from None
    if array.size == math.prod(shape):
        return array.reshape(shape)
    raise ShapeError(f"a value of {array.size} elements cannot have shape {list(shape)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


BUILDERS["constant"] = constant


def no_op(name: str | None = None) -> Any:
    """An op that does nothing; useful with control dependencies."""
    node = no_op_def(name=name or "NoOp")
    return node.graph.operation(node)


def group(*inputs: Any, name: str | None = None) -> Any:
    """An op that runs all `inputs` (ops or tensors) and outputs nothing."""
    nodes = [as_op_node(x) for x in _flatten(inputs)]
    graph = graph_of(nodes)
    with graph.as_default(), graph.control_dependencies(nodes):
        return no_op(name=name or "group_deps")


def _flatten(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list | tuple):
            out += _flatten(v)
        elif v is not None:
            out.append(v)
    return out


def static_value(node: Node) -> np.ndarray | None:
    """The value of a Const node, else None (used for shape arguments given as tensors)."""
    return node.attrs["value"].array if node.opdef is const else None


def static_ints(value: Any, what: str) -> tuple[int, ...]:
    """Integers given as Python values, a constant tensor, or a list of both (ShapeError
    naming `what` for a tensor whose value is only known at run time)."""
    if isinstance(value, Node):
        array = static_value(value)
        if array is None:
            raise ShapeError(f"{what} must be known when the graph is built, got '{value.name}'")
        value = array
    if isinstance(value, list | tuple):
        value = [static_value(v) if isinstance(v, Node) else v for v in value]
        if any(v is None for v in value):
            raise ShapeError(f"{what} must be known when the graph is built")
    return as_ints(value, what)
