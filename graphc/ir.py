"""The IR: immutable nodes, graphs of them, a text form, and `verify()`.

Invariants:
- A `Node` is immutable and identity-hashed: two placeholders of one shape
  stay distinct; CSE is an explicit pass.
- Every node has at most one output; its static `type` is inferred when it is
  created (`None` for nodes that only order side effects, such as `no_op`).
- `graph.nodes` is a deterministic topological order: the creation order for
  a graph built by user code (inputs always exist before their users), and an
  iterative depth-first post-order from the outputs for graphs built by passes.
- No code here iterates over a set, so text and order are reproducible.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from graphc.errors import GraphcError
from graphc.types import DType, StaticShape, TensorType, check_compatible, shape_str

if TYPE_CHECKING:
    from graphc.graph import Graph
    from graphc.ops import OpDef

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PASSES_DIR = os.path.join(os.path.dirname(_PACKAGE_DIR), "passes")
_LIBRARY_DIRS = (_PACKAGE_DIR + os.sep, _PASSES_DIR + os.sep, os.path.dirname(np.__file__))

# Filled by graphc.ops.elementwise: operator name -> builder, used by Node's dunders.
OPERATORS: dict[str, Callable[..., Node]] = {}

# Filled by graphc.session: "default" -> a function returning the default session (or
# raising). The session sits above this layer, so Node.eval and Operation.run reach it here.
SESSION: dict[str, Callable[[], Any]] = {}


class VerifyError(GraphcError):
    """A graph that breaks an IR invariant."""


def user_site() -> str:
    """The file:line of the innermost caller outside graphc (where the user built an op)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class Attrs(dict):
    """A frozen, hashable dict of op attributes (values must be hashable)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("node attributes are immutable")

    __setitem__ = __delitem__ = update = pop = clear = setdefault = _readonly  # type: ignore


class ConstValue:
    """A constant array as a hashable attribute: equal when dtype, shape and bytes are."""

    __slots__ = ("_hash", "array")

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.array(array, copy=True)
        self.array.setflags(write=False)
        self._hash = hash((self.array.dtype.str, self.array.shape, self.array.tobytes()))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConstValue)
            and self._hash == other._hash
            and self.array.dtype == other.array.dtype
            and self.array.shape == other.array.shape
            and bool(np.array_equal(self.array, other.array, equal_nan=True))
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        a = self.array
        if a.size <= 6:
            return np.array2string(a, separator=",").replace("\n", "").replace(" ", "")
        return f"<{a.dtype.name}{list(a.shape)}>"


def _operator(name: str, swap: bool = False) -> Callable[..., Node]:
    def method(self: Node, other: Any) -> Node:
        fn = OPERATORS[name]
        return fn(other, self) if swap else fn(self, other)

    method.__name__ = f"__{'r' if swap else ''}{name}__"
    return method


def _unary(name: str) -> Callable[[Node], Node]:
    def method(self: Node) -> Node:
        return OPERATORS[name](self)

    return method


@dataclass(frozen=True, eq=False, slots=True, repr=False)
class Node:
    """One operation and its single output tensor (users see it as a `Tensor`)."""

    opdef: OpDef
    inputs: tuple[Node, ...]
    attrs: Attrs
    type: TensorType | None
    op_name: str
    graph: Graph = field(repr=False)
    control_inputs: tuple[Node, ...] = ()
    site: str = ""
    origin: tuple[str, ...] = ()  # names of the user's nodes this one stands for

    # ---- the TF1 Tensor interface -------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.op_name}:0"

    @property
    def shape(self) -> StaticShape | None:
        return (
            None if self.type is None or self.type.shape is None else StaticShape(self.type.shape)
        )

    def get_shape(self) -> StaticShape | None:
        return self.shape

    def set_shape(self, shape: Any) -> None:
        """TF1's set_shape: merges `shape` into what is known of this tensor's shape.

        Ops created afterwards see the refined shape (ops created before keep theirs, as
        in TF1). Only a placeholder's shape can be refined here (every other tensor's
        shape follows from its op: reshape it instead); a shape that contradicts the
        known one raises ShapeError (TF1: ValueError) naming both."""
        given = None if shape is None else tuple(None if d in (None, -1) else int(d) for d in shape)
        check_compatible(self.type.shape, given, f"set_shape of '{self.name}'")
        if given is None or self.type.shape == given:
            return
        known = self.type.shape or (None,) * len(given)
        merged = tuple(d if d is not None else g for d, g in zip(known, given, strict=True))
        if merged == self.type.shape:
            return
        if self.opdef.name != "placeholder":
            raise GraphcError(
                f"set_shape cannot refine '{self.name}' ({self.opdef.type_name}) from "
                f"{shape_str(self.type.shape)} to {shape_str(merged)}: graphc refines only "
                "placeholders; use tf.reshape"
            )
        object.__setattr__(self, "attrs", Attrs({**self.attrs, "shape": merged}))
        object.__setattr__(self, "type", TensorType(merged, self.type.dtype))

    @property
    def dtype(self) -> DType:
        if self.type is None:
            raise TypeError(f"op '{self.op_name}' has no output tensor")
        return self.type.dtype

    @property
    def op(self) -> Operation:
        """The TF1 Operation that produces this tensor."""
        return self.graph.operation(self)

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> Any:
        """Runs this tensor in `session` or the default session (TF1's `Tensor.eval`)."""
        return (session or SESSION["default"]()).run(self, feed_dict)

    def __repr__(self) -> str:
        if self.type is None:
            return f"<graphc.Operation '{self.op_name}' type={self.opdef.type_name}>"
        return f"<graphc.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __bool__(self) -> bool:
        raise TypeError(
            f"using tensor '{self.name}' as a Python bool is not allowed: the graph has no "
            "values yet; use graphc.where or graphc.equal"
        )

    def __iter__(self) -> Iterator[Node]:
        raise TypeError(f"tensor '{self.name}' is not iterable; use graphc.unstack or indexing")

    __array_ufunc__ = None  # make NumPy scalars and arrays defer to our reflected operators
    __add__, __radd__ = _operator("add"), _operator("add", True)
    __sub__, __rsub__ = _operator("subtract"), _operator("subtract", True)
    __mul__, __rmul__ = _operator("multiply"), _operator("multiply", True)
    __truediv__, __rtruediv__ = _operator("divide"), _operator("divide", True)
    __floordiv__, __rfloordiv__ = _operator("floordiv"), _operator("floordiv", True)
    __mod__, __rmod__ = _operator("mod"), _operator("mod", True)
    __pow__, __rpow__ = _operator("pow"), _operator("pow", True)
    __matmul__, __rmatmul__ = _operator("matmul"), _operator("matmul", True)
    __and__, __rand__ = _operator("logical_and"), _operator("logical_and", True)
    __or__, __ror__ = _operator("logical_or"), _operator("logical_or", True)
    __lt__, __le__ = _operator("less"), _operator("less_equal")
    __gt__, __ge__ = _operator("greater"), _operator("greater_equal")
    __neg__, __abs__, __invert__ = _unary("negative"), _unary("abs"), _unary("logical_not")
    # `==` stays identity, as in TF1 (use graphc.equal); keep the identity hash.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __getitem__(self, index: Any) -> Node:
        return OPERATORS["getitem"](self, index)


class Operation:
    """The TF1 `Operation` view of a node: name, type, inputs, outputs, control inputs."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    name = property(lambda self: self.node.op_name)
    type = property(lambda self: self.node.opdef.type_name)
    graph = property(lambda self: self.node.graph)
    inputs = property(lambda self: list(self.node.inputs))
    outputs = property(lambda self: [] if self.node.type is None else [self.node])
    control_inputs = property(lambda self: [n.graph.operation(n) for n in self.node.control_inputs])

    def get_attr(self, name: str) -> Any:
        return self.node.attrs[name]

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        """Runs this op in `session` or the default session (TF1's `Operation.run`)."""
        (session or SESSION["default"]()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<graphc.Operation '{self.name}' type={self.type}>"


def topological_order(outputs: Iterable[Node], stop: Iterable[Node] = ()) -> list[Node]:
    """Nodes reachable from `outputs` (through inputs and control inputs), inputs first.

    Traversal does not go past a node in `stop` (it is included, its inputs are not).
    Deterministic: an iterative DFS in input order.
    """
    stopped = {id(n) for n in stop}
    seen: set[int] = set()
    order: list[Node] = []
    for root in outputs:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack: list[tuple[Node, Iterator[Node]]] = [(root, _preds(root, stopped))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                order.append(node)
            elif id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append((nxt, _preds(nxt, stopped)))
    return order


def _preds(node: Node, stopped: set[int]) -> Iterator[Node]:
    if id(node) in stopped:
        return iter(())
    return iter((*node.inputs, *node.control_inputs))
