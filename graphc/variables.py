"""`Variable`: mutable state, usable as a tensor in every op (a read of its value).

`Variable` is one class, the variable's node type. As TF1's `tf.Variable` (whose
metaclass does the same), calling it creates a variable in the default graph;
`isinstance(v, Variable)` holds for every variable, whether made by `Variable`,
`get_variable` or an optimizer's slots.

Invariants: a Variable node reads the value from before the run; its
initializer is an `assign` of the initial value, built outside any
control-dependency context (TF1's init_scope); a variable is listed in the
graph's collections (`GraphKeys`): GLOBAL_VARIABLES by default (or the
`collections` given), plus TRAINABLE_VARIABLES when trainable. The collections
are the one registry: `global_variables()`, `local_variables()`,
`trainable_variables()` and the initializers read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphc.errors import InvalidArgumentError, ShapeError
from graphc.graph import GraphKeys, get_default_graph
from graphc.ir import SESSION, Node, Operation, topological_order
from graphc.ops import OpDef, convert, make_node
from graphc.ops.elementwise import cast, identity
from graphc.ops.state import assign_op, group, variable_op
from graphc.types import as_dtype

GLOBAL_VARIABLES = GraphKeys.GLOBAL_VARIABLES
TRAINABLE_VARIABLES = GraphKeys.TRAINABLE_VARIABLES


class _VariableMeta(type):
    """`Variable(initial_value, ...)` creates a variable; node construction passes through.

    Node construction (`make_node`, `dataclasses.replace` in passes) calls the class with
    the Node fields, an `OpDef` first; any other call is TF1's constructor.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if (args and isinstance(args[0], OpDef)) or "opdef" in kwargs:
            return super().__call__(*args, **kwargs)
        return _create(*args, **kwargs)


@dataclass(frozen=True, eq=False, slots=True, repr=False)
class Variable(Node, metaclass=_VariableMeta):
    """A variable: the Node fields plus trainability and its initial value.

    `Variable(initial_value=None, trainable=None, collections=None, validate_shape=True,
    caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
    import_scope=None, constraint=None, use_resource=None, synchronization=None,
    aggregation=None, shape=None)` takes TF1's arguments, in TF1's order. The initial
    value is an array, a Python value, a tensor or a callable returning one, of fully
    known shape. `trainable=None` means True. graphc keeps every variable on the host,
    so the device, resource and distribution arguments change nothing; `constraint` and
    `variable_def` are refused.
    """

    trainable: bool = True
    initial_value: Node | None = None

    @property
    def initializer(self) -> Operation:
        return self.graph.operation(self.graph.initializers[self])

    @property
    def device(self) -> str:
        return ""

    @property
    def constraint(self) -> None:
        return None

    def assign(
        self, value: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True
    ) -> Node | Operation:
        """Stores `value`; the result is the stored value (runs when fetched or depended on),
        or the assign op when `read_value` is False."""
        node = assign_op(self, convert(value, self.dtype), name=name or "Assign")
        return node if read_value else node.op

    def assign_add(
        self, delta: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True
    ) -> Node | Operation:
        """Stores the value plus `delta` (an op named "AssignAdd", as TF1's)."""
        return self.assign(self + convert(delta, self.dtype), None, name or "AssignAdd", read_value)

    def assign_sub(
        self, delta: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True
    ) -> Node | Operation:
        """Stores the value minus `delta` (an op named "AssignSub", as TF1's)."""
        return self.assign(self - convert(delta, self.dtype), None, name or "AssignSub", read_value)

    def value(self) -> Node:
        return self

    def read_value(self) -> Node:
        return identity(self, name="read")

    def initialized_value(self) -> Node:
        return self.initial_value

    def eval(self, session: Any = None, feed_dict: dict | None = None) -> Any:
        """The variable's value in `session` or the default session (TF1's Variable.eval
        takes the session first, unlike Tensor.eval)."""
        return (session or SESSION["default"]()).run(self, feed_dict)

    def load(self, value: Any, session: Any = None) -> None:
        """Sets the value directly in `session` (or the default session)."""
        (session or SESSION["default"]()).load_variable(self, value)

    def __repr__(self) -> str:
        return f"<graphc.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"


def _create(
    initial_value: Any = None,
    trainable: bool | None = None,
    collections: Any = None,
    validate_shape: bool = True,
    caching_device: Any = None,
    name: str | None = None,
    variable_def: Any = None,
    dtype: Any = None,
    expected_shape: Any = None,
    import_scope: Any = None,
    constraint: Any = None,
    use_resource: Any = None,
    synchronization: Any = None,
    aggregation: Any = None,
    shape: Any = None,
) -> Variable:
    """TF1's RefVariable constructor: checks, the variable node, its initializer, collections."""
    collections = _check_arguments(initial_value, collections, variable_def, constraint)
    trainable = True if trainable is None else bool(trainable)
    graph = get_default_graph()
    with graph.control_dependencies(None):  # TF1's init_scope
        var_name = graph.unique_name(name or "Variable")
        with graph.name_scope(var_name + "/"):
            init = _guarded(_initial_value(initial_value, dtype))
        _check_shape(var_name, init, shape)
        var = make_node(
            variable_op,
            (),
            {"dtype": init.dtype, "shape": init.type.shape},
            reserved_name=var_name,
            node_cls=Variable,
            trainable=trainable,
            initial_value=init,
        )
        with graph.name_scope(var_name + "/"):
            graph.initializers[var] = assign_op(var, init, name="Assign")
    if trainable and TRAINABLE_VARIABLES not in collections:
        collections = [*collections, TRAINABLE_VARIABLES]
    graph.add_to_collections(collections, var)
    return var


def _check_arguments(
    initial_value: Any, collections: Any, variable_def: Any, constraint: Any
) -> list:
    """The collections as a list; InvalidArgumentError for what graphc does not take."""
    if variable_def is not None:
        raise InvalidArgumentError("Variable(variable_def=...) is not supported by graphc")
    if constraint is not None:
        raise InvalidArgumentError(
            "Variable(constraint=...) is not supported by graphc: apply the projection "
            "with an explicit assign after the training step"
        )
    if initial_value is None:
        raise InvalidArgumentError("initial_value must be specified.")
    if collections is None:
        return [GLOBAL_VARIABLES]
    if not isinstance(collections, list | tuple | set):
        raise InvalidArgumentError(
            "collections argument to Variable constructor must be a list, tuple, "
            f"or set. Got {collections!r} of type {type(collections).__name__}"
        )
    return list(collections)


def _initial_value(initial_value: Any, dtype: Any) -> Node:
    """The initial value as a node of `dtype` (a callable is called under "Initializer",
    as TF1 names it); a tensor of another dtype is cast."""
    target = as_dtype(dtype) if dtype is not None else None
    if callable(initial_value) and not isinstance(initial_value, Node):
        with get_default_graph().name_scope("Initializer"):
            initial_value = initial_value()
    init = convert(initial_value, target)
    if target is not None and init.dtype is not target:
        init = cast(init, target)
    return init


def _guarded(init: Node) -> Node:
    """`init` with every read of another variable replaced by that variable's initial value.

    TF1 guards initial values the same way (`_try_guard_against_uninitialized_dependencies`),
    so `Variable(zeros_like(w))` or `Variable(2 * w)` initialize in the same run as `w`.
    Pure ops on the way are rebuilt (in the new variable's name scope); a stateful op that
    reads a variable is left as it is. (TF1 reads `w` itself once `w` is initialized; the
    two differ only when `w` changed before the new variable is initialized.)
    """
    images: dict[int, Node] = {}
    for node in topological_order([init]):
        if isinstance(node, Variable) or node.opdef.name == "read_variable":
            var = node if isinstance(node, Variable) else node.inputs[0]
            if isinstance(var, Variable) and var.initial_value is not None:
                images[id(node)] = var.initial_value
        elif not node.opdef.stateful and any(id(x) in images for x in node.inputs):
            inputs = [images.get(id(x), x) for x in node.inputs]
            label = node.op_name.rsplit("/", 1)[-1]
            images[id(node)] = make_node(node.opdef, inputs, dict(node.attrs), name=label)
    return images.get(id(init), init)


def _check_shape(var_name: str, init: Node, shape: Any) -> None:
    if init.type.shape is None or None in init.type.shape:
        raise ShapeError(f"variable '{var_name}' needs an initial value of fully known shape")
    if shape is not None:
        dims = tuple(shape) if not isinstance(shape, int) else (shape,)
        if len(dims) != len(init.type.shape) or any(
            d is not None and d != k for d, k in zip(dims, init.type.shape, strict=True)
        ):
            raise ShapeError(
                f"variable '{var_name}': shape {list(dims)} does not fit the initial value's "
                f"shape {list(init.type.shape)}"
            )


# ---- the registry: collections -------------------------------------------------------------
def global_variables(scope: str | None = None) -> list[Variable]:
    """The default graph's GLOBAL_VARIABLES (those whose name `scope` matches, if given)."""
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def all_variables() -> list[Variable]:
    """Deprecated TF1 alias of global_variables."""
    return global_variables()


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    """Variables created with `collections=[GraphKeys.LOCAL_VARIABLES]` (or
    `get_local_variable`): per-session state that Saver leaves out, such as metrics."""
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list: Any, name: str = "init") -> Operation:
    """One op that runs the initializers of `var_list` (a no-op for an empty list)."""
    graph = get_default_graph()
    return group(*[graph.initializers[v] for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    """One op that initializes every global variable created so far."""
    return variables_initializer(global_variables())


def local_variables_initializer() -> Operation:
    """One op that initializes every local variable created so far."""
    return variables_initializer(local_variables())


def initialize_all_variables() -> Operation:
    """Deprecated TF1 alias of global_variables_initializer."""
    return global_variables_initializer()


def initialize_local_variables() -> Operation:
    """Deprecated TF1 alias of local_variables_initializer."""
    return local_variables_initializer()


# ---- TF1's state_ops functions ---------------------------------------------------------------
def _variable(ref: Any, op: str) -> Variable:
    if not isinstance(ref, Variable):
        what = f"tensor '{ref.name}'" if isinstance(ref, Node) else repr(ref)
        raise InvalidArgumentError(f"{op}: ref must be a variable, got {what}")
    return ref


def assign(
    ref: Any,
    value: Any,
    validate_shape: Any = None,
    use_locking: Any = None,
    name: str | None = None,
) -> Node:
    """Stores `value` in variable `ref` (op "Assign"); the result is the stored value.

    graphc variables keep their shape: a value of another shape raises ShapeError even
    with `validate_shape=False`.
    """
    return _variable(ref, "assign").assign(value, name=name)


def assign_add(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Node:
    """Stores `ref + value` in variable `ref` (op "AssignAdd")."""
    return _variable(ref, "assign_add").assign_add(value, name=name)


def assign_sub(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Node:
    """Stores `ref - value` in variable `ref` (op "AssignSub")."""
    return _variable(ref, "assign_sub").assign_sub(value, name=name)
