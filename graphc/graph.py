"""`Graph`: the container ops are added to (TF1's graph), and the default-graph stack.

Invariants:
- Nodes are only ever appended, after their inputs, so `graph.nodes` (creation
  order) is a topological order, and op names are unique within a graph.
- A graph made by `Graph.from_outputs` (what passes take and return) is
  frozen: its node list is the DFS order from its outputs; adding to it raises.
- Name scopes and control-dependency contexts belong to the graph, as in TF1.
- Collections (`GraphKeys`) are the one registry of variables, losses and update ops:
  lists in insertion order, duplicates kept, as TF1's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from graphc.errors import GraphcError, InvalidArgumentError
from graphc.ir import Node, Operation, VerifyError, topological_order, user_site
from graphc.types import shape_str

if TYPE_CHECKING:
    import networkx as nx

_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


# The writer of saved graphs, put here by graphc.saved_graph when it is imported (it builds
# on this module, so this one cannot import it): `Graph.save` calls it.
WRITERS: dict[str, Callable[[Graph, Any], str]] = {}


class Graph:
    """A TF1-style graph: ops are added to the innermost default graph."""

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._names: dict[str, int] = {}
        self._scopes: list[str] = []
        self._control: list[tuple[Node, ...]] = []
        # the branches of tf.cond being built, innermost last (graphc.ops.control)
        self.branches: list[Any] = []
        self._operations: dict[int, Operation] = {}
        self.collections: dict[str, list[Any]] = {}
        self.initializers: dict[Node, Node] = {}  # variable -> its initializer (assign) node
        self.seed: int | None = None
        self.inputs: tuple[Node, ...] = ()
        self.outputs: tuple[Node, ...] = ()
        self.frozen = False

    # ---- construction --------------------------------------------------------------
    @classmethod
    def from_outputs(cls, outputs: Iterable[Node], inputs: Iterable[Node] = ()) -> Graph:
        """A frozen graph of what `outputs` need, cut at `inputs` (the form passes work on)."""
        graph = cls()
        graph.inputs, graph.outputs = tuple(inputs), tuple(outputs)
        graph._nodes = topological_order(graph.outputs, stop=graph.inputs)
        graph.frozen = True
        return graph

    def add(self, node: Node) -> Node:
        if self.frozen:
            raise GraphcError("cannot add ops to a frozen (optimized) graph")
        self._nodes.append(node)
        return node

    def unique_name(self, base: str, scoped: bool = True) -> str:
        """A fresh op name `scope/base`, `scope/base_1`, ... as TF1 makes them."""
        try:
            self.check_name(base)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{exc} (at {user_site()})") from None
        name = f"{self.scope_prefix()}{base}" if scoped else base
        count = self._names.get(name)
        if count is None:
            self._names[name] = 1
            return name
        while f"{name}_{count}" in self._names:
            count += 1
        self._names[name] = count + 1
        self._names[f"{name}_{count}"] = 1
        return f"{name}_{count}"

    def register_name(self, name: str) -> None:
        """Marks `name` as taken (a loaded op's), so `unique_name` never hands it out."""
        self._names.setdefault(name, 1)

    def save(self, path: Any) -> str:
        """Writes the graph to `path` (graphc.saved_graph: JSON structure and .npz
        constants in one file); `graphc.load_graph(path)` reads it back."""
        return WRITERS["graph"](self, path)

    @staticmethod
    def check_name(name: Any, what: str = "name") -> None:
        """InvalidArgumentError unless `name` is a name TF1 accepts for an op."""
        if not isinstance(name, str) or not _VALID_NAME.match(name):
            raise InvalidArgumentError(
                f"invalid {what} {name!r}: use letters, digits and '_.-/', "
                "starting with a letter, a digit or '.'"
            )

    def scope_prefix(self) -> str:
        return "".join(s + "/" for s in self._scopes)

    def name_scope(self, name: str | None) -> contextlib.AbstractContextManager[str]:
        """TF1's name scope: a reused scope name gets a suffix; a name ending in '/' re-enters."""
        if name not in (None, "") and not (isinstance(name, str) and name.endswith("/")):
            try:
                self.check_name(name, "name_scope name")
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"name_scope: {exc} (at {user_site()})") from None
        return self._name_scope(name)

    @contextlib.contextmanager
    def _name_scope(self, name: str | None) -> Iterator[str]:
        saved = self._scopes
        if name is None or name == "":
            self._scopes = []
        elif name.endswith("/"):
            self._scopes = [name[:-1]]
        else:  # the unique name minus the current prefix: "a/b" opens a/b/, not b/
            self._scopes = [*saved, self.unique_name(name)[len(self.scope_prefix()) :]]
        try:
            yield self.scope_prefix()
        finally:
            self._scopes = saved

    @contextlib.contextmanager
    def control_dependencies(self, ops: Iterable[Any] | None) -> Iterator[None]:
        """Ops created inside run after `ops`; `None` clears the outer contexts."""
        saved = self._control
        if ops is None:
            self._control = []
        else:
            self._control = [*saved, tuple(as_op_node(o) for o in ops)]
        try:
            yield
        finally:
            self._control = saved

    def current_control_inputs(self) -> tuple[Node, ...]:
        seen: dict[int, Node] = {}
        for group in self._control:
            for node in group:
                seen.setdefault(id(node), node)
        return tuple(seen.values())

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Makes this the default graph inside the `with` block."""
        enter_default(self)
        try:
            yield self
        finally:
            leave_default(self)

    def add_to_collection(self, name: Any, value: Any) -> None:
        """Appends `value` to collection `name` (a value added twice is listed twice, as TF1)."""
        self.collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        """Adds `value` once to each of `names` (a string names one collection)."""
        for name in _collection_names(names):
            self.add_to_collection(name, value)

    def get_collection(self, name: Any, scope: str | None = None) -> list[Any]:
        """A copy of collection `name`; with `scope`, only the items whose `.name` the regular
        expression `scope` matches at its start (items without a name are left out)."""
        items = list(self.collections.get(name, []))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [
            v for v in items if isinstance(getattr(v, "name", None), str) and pattern.match(v.name)
        ]

    def get_collection_ref(self, name: Any) -> list[Any]:
        """The list of collection `name` itself (created empty if missing): edits stick."""
        return self.collections.setdefault(name, [])

    def get_all_collection_keys(self) -> list[Any]:
        return [key for key, items in self.collections.items() if items]

    def clear_collection(self, name: Any) -> None:
        self.collections.pop(name, None)

    # ---- inspection ------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def dependencies(self, node: Node) -> tuple[Node, ...]:
        """The nodes `node` waits for here (none for an input: it is fed)."""
        if any(node is x for x in self.inputs):
            return ()
        return (*node.inputs, *node.control_inputs)

    def operation(self, node: Node) -> Operation:
        """The one `Operation` view of `node` (cached, so views compare by identity)."""
        view = self._operations.get(id(node))
        if view is None:
            view = self._operations[id(node)] = Operation(node)
        return view

    def get_operations(self) -> list[Operation]:
        """Every op, in a deterministic topological order."""
        return [node.graph.operation(node) for node in self._nodes]

    def get_operation_by_name(self, name: str) -> Operation:
        for node in self._nodes:
            if node.op_name == name:
                return node.graph.operation(node)
        raise KeyError(f"no op named {name!r} in this graph")

    def get_tensor_by_name(self, name: str) -> Node:
        op_name, _, index = name.partition(":")
        node = self.get_operation_by_name(op_name).node
        if index not in ("", "0") or node.type is None:
            raise KeyError(f"no tensor named {name!r} in this graph")
        return node

    def as_text(self) -> str:
        """One line per node, JAX style: `name: f32[?,3] = op[attrs] inputs ^control`."""
        sources = [n for n in self._nodes if _is_argument(n) or n in self.inputs]
        head = ", ".join(f"{n.op_name}: {n.type}" for n in sources)
        lines = [f"graph({head}) {{"]
        for n in self._nodes:
            if n not in sources:
                lines += _node_lines(n, "  ")
        if self.outputs:
            lines.append("  return " + " ".join(n.op_name for n in self.outputs))
        lines.append("}")
        return "\n".join(lines)

    __str__ = as_text

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as a networkx MultiDiGraph keyed by op name (data edges and control edges)."""
        import networkx as nx  # on first use: it costs `import graphc` 0.07 s otherwise

        g = nx.MultiDiGraph()
        for n in self._nodes:
            shape = None if n.type is None else n.type.shape
            dtype = None if n.type is None else n.type.dtype.name
            g.add_node(n.op_name, op=n.opdef.name, type=n.opdef.type_name, shape=shape, dtype=dtype)
            for i, x in enumerate(n.inputs):
                g.add_edge(x.op_name, n.op_name, index=i, control=False)
            for c in n.control_inputs:
                g.add_edge(c.op_name, n.op_name, control=True)
        return g

    def verify(self) -> None:
        """Checks the IR invariants; raises VerifyError naming the first broken node."""
        seen: set[int] = {id(n) for n in self.inputs}
        names: set[str] = set()
        for n in self._nodes:
            if n in self.inputs:
                names.add(n.op_name)
                continue  # fed: its value comes from outside, its inputs do not matter
            for x in (*n.inputs, *n.control_inputs):
                if id(x) not in seen:
                    raise VerifyError(f"'{n.op_name}' uses '{x.op_name}' before it is defined")
            if n.op_name in names:
                raise VerifyError(f"two nodes are named '{n.op_name}'")
            names.add(n.op_name)
            seen.add(id(n))
            _verify_type(n)

    def __repr__(self) -> str:
        return f"<graphc.Graph with {len(self._nodes)} ops>"


def _verify_type(n: Node) -> None:
    if not n.opdef.takes_tuple and any(x.type is None for x in n.inputs):
        raise VerifyError(f"'{n.op_name}' takes an op without output as a data input")
    try:
        expected = n.opdef.infer(*(x.type for x in n.inputs), **n.attrs)
    except Exception as exc:
        raise VerifyError(f"'{n.op_name}' ({n.opdef.name}): {exc}") from exc
    if expected != n.type:
        raise VerifyError(f"'{n.op_name}' ({n.opdef.name}) has type {n.type}, inferred {expected}")


def _is_argument(n: Node) -> bool:
    """Placeholders and variables: the values a graph takes from outside."""
    return n.opdef.name in ("placeholder", "variable")


def _node_lines(n: Node, indent: str) -> list[str]:
    """A node's line; a fused node also lists its kernel's ops, indented, in braces."""
    if n.opdef.name != "fused":
        return [indent + node_line(n)]
    kernel = n.attrs["kernel"]
    lines = [f"{indent}{node_line(n)} {{  # {len(kernel.ops)} ops in one loop"]
    for m in kernel.graph.nodes:
        if m.opdef.name != "kernel_param":
            lines.append(f"{indent}    {node_line(m)}")
    return [*lines, indent + "}"]


def node_line(n: Node) -> str:
    attrs = ", ".join(f"{k}={v!r}" for k, v in sorted(n.attrs.items()))
    op = f"{n.opdef.name}[{attrs}]" if attrs else n.opdef.name
    args = " ".join(x.op_name for x in n.inputs)
    ctrl = " ".join("^" + c.op_name for c in n.control_inputs)
    rhs = " ".join(part for part in (op, args, ctrl) if part)
    ty = "()" if n.type is None else f"{n.type.dtype.short}{shape_str(n.type.shape)}"
    return f"{n.op_name}: {ty} = {rhs}"


def _collection_names(names: Any) -> list[Any]:
    """Collection names without repeats, in the order given (a string is one name)."""
    if isinstance(names, str):
        return [names]
    return list(dict.fromkeys(names))


class GraphKeys:
    """TF1's standard collection names (the keys of `Graph.collections`)."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = GLOBAL_VARIABLES  # TF1's deprecated alias
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    REGULARIZATION_LOSSES = "regularization_losses"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"


def as_op_node(value: Any) -> Node:
    """The node behind an Operation, a tensor, or a Variable (for control dependencies)."""
    if isinstance(value, Operation):
        return value.node
    if isinstance(value, Node):
        return value
    raise TypeError(f"expected an op or a tensor, got {type(value).__name__}")


_DEFAULT_STACK: list[Graph] = []
_GLOBAL_DEFAULT = [Graph()]


def get_default_graph() -> Graph:
    """The innermost `as_default()` graph, else the global default graph."""
    return _DEFAULT_STACK[-1] if _DEFAULT_STACK else _GLOBAL_DEFAULT[0]


def enter_default(graph: Graph) -> None:
    """Makes `graph` the default until `leave_default(graph)`, which need not nest with
    other `as_default` blocks (an InteractiveSession's graph stays default until closed)."""
    _DEFAULT_STACK.append(graph)


def leave_default(graph: Graph) -> None:
    """Undoes the innermost `enter_default(graph)` (a no-op when there is none)."""
    for i in range(len(_DEFAULT_STACK) - 1, -1, -1):
        if _DEFAULT_STACK[i] is graph:
            del _DEFAULT_STACK[i]
            return


def reset_default_graph() -> None:
    """Replaces the global default graph with a new, empty one (TF1 semantics)."""
    if _DEFAULT_STACK:
        raise GraphcError("reset_default_graph() called inside a graph.as_default() block")
    _GLOBAL_DEFAULT[0] = Graph()


def name_scope(name: str | None) -> contextlib.AbstractContextManager[str]:
    return get_default_graph().name_scope(name)


def control_dependencies(ops: Iterable[Any] | None) -> contextlib.AbstractContextManager[None]:
    return get_default_graph().control_dependencies(ops)


def get_collection(key: Any, scope: str | None = None) -> list[Any]:
    """The default graph's collection `key` (a copy), filtered by `scope` as in TF1."""
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: Any) -> list[Any]:
    """The default graph's collection `key` itself."""
    return get_default_graph().get_collection_ref(key)


def add_to_collection(name: Any, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)
