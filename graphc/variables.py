"""`Variable`: mutable state, usable as a tensor in every op (a read of its value).

Invariants: a Variable node reads the value from before the run; its
initializer is an `assign` of the initial value; variables are collected in
the graph's "variables" and "trainable_variables" collections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphc.errors import ShapeError
from graphc.graph import get_default_graph
from graphc.ir import SESSION, Node, Operation
from graphc.ops import convert, make_node
from graphc.ops.elementwise import cast, identity
from graphc.ops.state import assign_op, group, variable_op
from graphc.types import as_dtype

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"


@dataclass(frozen=True, eq=False, slots=True, repr=False)
class VariableNode(Node):
    """A variable's node: the Node fields plus trainability and its initial value."""

    trainable: bool = True
    initial_value: Node | None = None

    @property
    def initializer(self) -> Operation:
        return self.graph.operation(self.graph.initializers[self])

    def assign(self, value: Any, name: str | None = None) -> Node:
        """Stores `value`; the result is the stored value (runs when fetched or depended on)."""
        return assign_op(self, convert(value, self.dtype), name=name or "Assign")

    def assign_add(self, delta: Any, name: str | None = None) -> Node:
        return self.assign(self + convert(delta, self.dtype), name=name or "AssignAdd")

    def assign_sub(self, delta: Any, name: str | None = None) -> Node:
        return self.assign(self - convert(delta, self.dtype), name=name or "AssignSub")

    def value(self) -> Node:
        return self

    def read_value(self) -> Node:
        return identity(self, name="read")

    def initialized_value(self) -> Node:
        return self.initial_value

    def load(self, value: Any, session: Any = None) -> None:
        """Sets the value directly in `session` (or the default session)."""
        (session or SESSION["default"]()).load_variable(self, value)


def Variable(
    initial_value: Any,
    trainable: bool = True,
    name: str | None = None,
    dtype: Any = None,
    collections: Any = None,
) -> VariableNode:
    """A variable with an initial value (array, Python value, tensor or callable)."""
    graph = get_default_graph()
    if callable(initial_value):
        initial_value = initial_value()
    var_name = graph.unique_name(name or "Variable")
    with graph.name_scope(var_name + "/"):
        init = convert(initial_value, as_dtype(dtype) if dtype is not None else None)
        if dtype is not None and init.dtype is not as_dtype(dtype):
            init = cast(init, dtype)
    if init.type.shape is None or None in init.type.shape:
        raise ShapeError(f"variable '{var_name}' needs an initial value of fully known shape")
    with graph.control_dependencies(None):
        var = make_node(
            variable_op,
            (),
            {"dtype": init.dtype, "shape": init.type.shape},
            reserved_name=var_name,
            node_cls=VariableNode,
            trainable=trainable,
            initial_value=init,
        )
    with graph.name_scope(var_name + "/"), graph.control_dependencies(None):
        graph.initializers[var] = assign_op(var, init, name="Assign")
    for key in collections or [GLOBAL_VARIABLES]:
        graph.add_to_collection(key, var)
    if trainable:
        graph.add_to_collection(TRAINABLE_VARIABLES, var)
    return var


def global_variables() -> list[VariableNode]:
    return get_default_graph().get_collection(GLOBAL_VARIABLES)


def trainable_variables() -> list[VariableNode]:
    return get_default_graph().get_collection(TRAINABLE_VARIABLES)


def variables_initializer(var_list: list[VariableNode], name: str = "init") -> Operation:
    """One op that runs the initializers of `var_list`."""
    graph = get_default_graph()
    return group(*[graph.initializers[v] for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    """One op that initializes every variable created so far."""
    return variables_initializer(global_variables())


def initialize_all_variables() -> Operation:
    """Deprecated TF1 alias of global_variables_initializer."""
    return global_variables_initializer()
