"""Op definitions: `OpDef` and the facts on it, `defop()`, `REGISTRY` and node construction.

One op = one definition. `defop` takes, in one place, an op's shape/dtype rule
(`infer`), its NumPy semantics (`numpy`, the oracle), its derivative (either
`partials` for elementwise ops, giving both reverse and forward mode, or
`vjp` plus `jvp`, or `linear=True` plus `vjp`), its scalar code snippet
(`expr`, elementwise ops), and the facts passes and code generators read: its
`fusion` role, its `reduction` (how it combines elements), flags
(`commutative`, `effectful`, `random`, `shape_only`, `reshape`, `kernel_only`,
`product`)
and `assumes`, the run-time size equalities it relies on (`graphc.ops.dims`,
checked by every executor through `assumed_equal`). Passes and backends read
these attributes, never tables of op names. It rejects missing or contradictory
facets. This module imports only `graphc.ops.dims` of its package.

The accumulation rule (`Reduction.accumulator`), in one place for every executor:
sums of float16/float32 values accumulate in float64 and round to the output dtype
once, at the end; every other reduction accumulates in its output dtype (max and
min are exact; products and integer sums wrap or round as TF's do).

It sits below the op modules and imports none of them: the few ops it
builds itself (a variable read in `make_node`, the sums of `unbroadcast`) it looks
up in `REGISTRY` by name, and `convert` builds constants and stacks lists holding
tensors with the builders that `graphc.ops.state` and `graphc.ops.index` put in
`BUILDERS`.

Invariants: every node is built by `make_node`, which converts Python values
to constants, infers the type (raising ShapeError/DTypeError that name the op
and the user's file:line), applies the graph's control-dependency context,
and gives the node a unique name. Builders check the arguments `infer` cannot
see (Python values they turn into attrs or constants) inside `checking`, which
names their errors the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphc.errors import DTypeError, GraphcError, GraphMismatchError, ShapeError
from graphc.graph import get_default_graph
from graphc.ir import Attrs, Node, Operation, user_site
from graphc.ops.dims import Equal, broadcast_equalities, elementwise_equalities
from graphc.types import DType, TensorType, as_dtype


class Fusion(enum.Enum):
    """An op's role in elementwise fusion (`passes.fuse`) and in fused kernels."""

    ELEMENTWISE = "elementwise"  # out[i] = expr(in[i]), inputs broadcast: joins a kernel
    BROADCAST = "broadcast"  # out[i] = in[map(i)], a broadcast read: joins a kernel
    REDUCTION = "reduction"  # combines elements (see `reduction`): ends a kernel as its sink
    OPAQUE = "opaque"  # anything else (matmul, data movement, sources, state): never fused


@dataclass(frozen=True)
class Reduction:
    """How a reduction combines elements, shared by the reference and every backend.

    `combine` is a scalar snippet of `{acc}` (the running value) and `{v}` (the next
    element); `identity(np_dtype)` is the value of an empty reduction.
    """

    combine: str
    identity: Callable[[np.dtype], Any]
    sums: bool = False  # a sum: float16/float32 values accumulate in float64

    def accumulator(self, dtype: DType) -> DType:
        """The dtype the running value is kept in (the module's accumulation rule)."""
        if self.sums and dtype.name in ("float16", "float32"):
            return as_dtype("float64")
        return dtype


@dataclass(frozen=True, eq=False)
class OpDef:
    """Everything graphc knows about one op."""

    name: str
    type_name: str
    fusion: Fusion
    infer: Callable[..., TensorType | None]
    numpy: Callable[..., Any]
    vjp: Callable[[Node, Node], tuple[Node | None, ...]] | None = None
    jvp: Callable[[tuple[Node | None, ...], Node], Node | None] | None = None
    partials: Callable[[Node], tuple[Node | None, ...]] | None = None
    expr: str | None = None
    differentiable: bool = True
    linear: tuple[int, ...] | bool = ()  # inputs it is linear in (True: all); jvp = the op
    stateful: bool = False  # numpy takes (ctx, node, *arrays); never folded or merged
    takes_ref: bool = False  # first input is a variable reference, not a read
    takes_tuple: bool = False  # its input is a fused node's tuple of values
    is_source: bool = False
    reduction: Reduction | None = None  # set exactly for Fusion.REDUCTION ops
    commutative: bool = False  # binary op whose operands may swap (CSE compares them as a set)
    effectful: bool = False  # runs for its effect (a write, a draw): never removed or merged
    random: bool = False  # draws from a generator the session keeps per op (also effectful)
    shape_only: bool = False  # reads only its input's shape: a constant when that is static
    reshape: bool = False  # the same elements in the same order, in another shape
    kernel_only: bool = False  # appears only inside fused kernels (no emitter of its own)
    # its result is always a fresh array of its own (a product: matmul, einsum, conv), so
    # the elementwise kernel reading it alone may write its output there (an epilogue)
    product: bool = False
    # the run-time size equalities it assumes (graphc.ops.dims); elementwise and broadcast
    # ops need none: they share the broadcasting rule
    assumes: Callable[[Node], list[Equal]] | None = None
    expr_float32: str | None = None  # a faster float32 `expr` (its error stated where defined)
    # (expr, bound): a still faster float32 `expr` valid while |input| < bound; a fused
    # kernel uses it, counts inputs beyond, and computes again with `expr_float32` if any
    near: tuple[str, float] | None = None

    def __call__(self, *inputs: Any, name: str | None = None, **attrs: Any) -> Node:
        return make_node(self, inputs, attrs, name)

    def __repr__(self) -> str:
        return f"<OpDef {self.name}>"


REGISTRY: dict[str, OpDef] = {}

# Builders this layer needs from the op modules above it, filled as they are imported:
# "constant" (graphc.ops.state) and "stack" (graphc.ops.index), for `convert`.
BUILDERS: dict[str, Callable[..., Node]] = {}


def defop(
    name: str, type_name: str, fusion: Fusion, infer: Callable, numpy: Callable, **facets: Any
) -> OpDef:
    """Registers an op; raises if a facet it needs is missing or facets contradict."""
    op = OpDef(name, type_name, fusion, infer, numpy, **facets)
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is defined twice")
    if op.differentiable and op.partials is None and op.vjp is None:
        raise ValueError(f"op {name!r} is differentiable but has neither partials nor vjp")
    if op.differentiable and op.partials is None and op.jvp is None and not op.linear:
        raise ValueError(f"op {name!r} has a vjp but no jvp (forward mode)")
    if fusion is Fusion.ELEMENTWISE and op.expr is None:
        raise ValueError(f"elementwise op {name!r} needs a scalar expr for codegen")
    if (fusion is Fusion.REDUCTION) != (op.reduction is not None):
        raise ValueError(f"op {name!r}: a reduction role and a `reduction` come together")
    if op.random and not (op.effectful and op.stateful):
        raise ValueError(f"random op {name!r} must be effectful and stateful")
    REGISTRY[name] = op
    return op


def assumed_equal(node: Node) -> list[Equal]:
    """The run-time size equalities `node` assumes (graphc.ops.dims): its op's `assumes`
    facet, else the broadcasting rule for elementwise and broadcast ops, else none."""
    op = node.opdef
    if op.assumes is not None:
        return op.assumes(node)
    if node.type is None or node.type.shape is None or not node.inputs:
        return []
    if op.fusion is Fusion.ELEMENTWISE:
        return elementwise_equalities(node)
    if op.fusion is Fusion.BROADCAST:
        x = node.inputs[0]
        sources = [(like, like.type.shape) for like in node.inputs[1:2]]
        return broadcast_equalities([(x, x.type.shape)], node.type.shape, sources)
    return []


def graph_of(values: Sequence[Any]) -> Any:
    """The one graph of the nodes among `values` (the default graph if none are nodes)."""
    graph = None
    for v in values:
        if isinstance(v, Node | Operation):
            g = v.graph
            if graph is not None and g is not graph:
                raise GraphMismatchError(
                    f"'{v.name}' belongs to another graph than the other inputs of this op"
                )
            graph = g
    return get_default_graph() if graph is None else graph


def make_node(
    op: OpDef,
    inputs: Sequence[Any],
    attrs: dict | None = None,
    name: str | None = None,
    node_cls: type[Node] = Node,
    reserved_name: str | None = None,
    **fields: Any,
) -> Node:
    """Creates, checks, names and adds a node to the graph of its inputs."""
    graph = graph_of(inputs)
    site = user_site()
    nodes = tuple(_as_input(x, op, site) for x in inputs)
    attrs = Attrs(attrs or {})
    label = name if name is not None else op.type_name
    try:
        graph.check_name(label)
        ty = op.infer(*(x.type for x in nodes), **attrs)
    except (GraphcError, ValueError) as exc:
        raise located(exc, op.type_name, label, graph, site) from None
    control = () if op.is_source else graph.current_control_inputs()
    if control and not op.takes_ref and any(x.opdef.name == "variable" for x in nodes):
        read = REGISTRY["read_variable"]  # a read ordered after the context's ops
        nodes = tuple(read(x) if x.opdef.name == "variable" else x for x in nodes)
    if graph.branches:  # inside a tf.cond branch: read outside tensors through switches
        nodes = graph.branches[-1].inputs(op, nodes)
    op_name = reserved_name or graph.unique_name(label)
    node = node_cls(op, nodes, attrs, ty, op_name, graph, control, site, **fields)
    for branch in graph.branches:
        branch.created.add(id(node))
    return graph.add(node)


def located(exc: Exception, type_name: str, label: Any, graph: Any, site: str) -> Exception:
    """`exc` as a graphc error naming the op (`Sum 'scope/name'`) and the user's file:line.

    An error that already names them (it carries `site`) is returned as it is, unless it
    comes from another op built on the same line (the parts of a composite such as
    softmax_cross_entropy_with_logits): the composite is then named first. A bare
    ValueError becomes a ShapeError (bad static arguments are shapes, axes or sizes).
    """
    inner = getattr(exc, "site", None)
    if inner is not None and (inner != site or exc.type_name == type_name):
        return exc
    # an op a composite builds on the same user line: name the op the user called first
    text = exc.text if inner is not None else str(exc)
    cls = type(exc) if isinstance(exc, GraphcError) else ShapeError
    out = cls(f"{type_name} '{graph.scope_prefix()}{label}': {text} (at {site})")
    out.site, out.type_name, out.text = site, type_name, text  # type: ignore[attr-defined]
    return out


class checking:
    """Names the errors of a builder's own checks as `make_node` names those of `infer`.

    For what `infer` cannot see: Python arguments a builder turns into attrs or constants.
    (A class, not a generator: `user_site` then finds the user's frame, not contextlib's.)
    """

    def __init__(self, type_name: str, name: Any = None) -> None:
        self.type_name = type_name
        self.label = name if isinstance(name, str) and name else type_name

    def __enter__(self) -> None:
        self.site = user_site()

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, GraphcError | ValueError):
            graph = get_default_graph()
            raise located(exc, self.type_name, self.label, graph, self.site) from None


def _as_input(x: Any, op: OpDef, site: str) -> Node:
    if isinstance(x, Node):
        if x.type is None:
            raise GraphcError(f"{op.type_name}: op '{x.op_name}' has no output (at {site})")
        return x
    if isinstance(x, Operation):
        raise GraphcError(f"{op.type_name}: '{x.name}' is an op, not a tensor (at {site})")
    raise TypeError(f"{op.type_name}: internal error, unconverted input {x!r}")


def to_array(value: Any, dtype: Any = None) -> np.ndarray:
    """A Python or NumPy value as an array with TF's default dtypes (float32, int32; int64
    for Python ints beyond int32); DTypeError where `dtype` cannot hold the numbers."""
    if dtype is not None:
        target = as_dtype(dtype).np
        _check_fits(np.asarray(value), target)
        return np.asarray(value, dtype=target)
    array = np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, np.ndarray | np.generic):
        array = array.astype(np.float32)
    elif array.dtype == np.int64 and not isinstance(value, np.ndarray | np.generic):
        info = np.iinfo(np.int32)
        if not array.size or (info.min <= array.min() and array.max() <= info.max):
            array = array.astype(np.int32)
    as_dtype(array.dtype)  # raises TypeError for unsupported dtypes
    return array


def _check_fits(array: np.ndarray, target: np.dtype) -> None:
    """DTypeError for fractional or out-of-range numbers given for an integer dtype."""
    if target.kind not in "iu" or array.dtype.kind not in "fiu" or not array.size:
        return
    info = np.iinfo(target)
    with np.errstate(invalid="ignore"):
        whole = array.dtype.kind != "f" or bool(np.all(np.isfinite(array) & (array % 1 == 0)))
    if not whole or array.min() < info.min or array.max() > info.max:
        raise DTypeError(f"value {array.tolist()!r:.60} does not fit dtype {target.name}")


def convert(value: Any, dtype: DType | None = None, what: str = "value") -> Node:
    """TF1's convert_to_tensor: nodes pass through; Python/NumPy values become constants.

    With `dtype`, a Python value takes it if that loses nothing, else DTypeError.
    """
    if isinstance(value, Node):
        return value
    if isinstance(value, Operation):
        raise GraphcError(f"'{value.name}' is an op, not a tensor")
    if isinstance(value, list | tuple) and any(isinstance(v, Node) for v in value):
        return BUILDERS["stack"]([convert(v, dtype) for v in value])
    if dtype is None:
        return BUILDERS["constant"](value)
    array = np.asarray(value)
    cast = array.astype(dtype.np)
    with np.errstate(invalid="ignore"):
        same = np.array_equal(cast.astype(array.dtype), array, equal_nan=True)
    if not same and not (dtype.is_floating and array.dtype.kind in "fiub"):
        raise DTypeError(f"{what} {value!r} cannot be converted to {dtype.name} without loss")
    return BUILDERS["constant"](cast)


def convert_operands(*values: Any, op_name: str) -> tuple[Node, ...]:
    """Converts an op's operands: Python values take the dtype of the tensor operands."""
    dtype = next((v.dtype for v in values if isinstance(v, Node) and v.type is not None), None)
    with checking(op_name):
        return tuple(convert(v, dtype, what="operand") for v in values)


def same_dtype(*types: TensorType, op: str = "") -> DType:
    """The common dtype of `types`; DTypeError if they differ (graphc never promotes)."""
    dtypes = [t.dtype for t in types]
    if any(d is not dtypes[0] for d in dtypes):
        names = ", ".join(d.name for d in dtypes)
        raise DTypeError(f"operands have different dtypes ({names}); use graphc.cast")
    return dtypes[0]


def unbroadcast(g: Node, like: Node) -> Node:
    """Sums `g` over the axes broadcasting added, so it gets `like`'s shape (exactly).

    The sums are ops of graphc.ops.reduce, which builds on this module (so by name).
    """
    gs, xs = g.type.shape, like.type.shape
    if gs == xs:  # unknown dims count as equal (see graphc.types)
        return g
    if gs is None or xs is None:
        return REGISTRY["sum_to_like"](g, like)
    lead = len(gs) - len(xs)
    if lead:  # axes are sorted and non-negative, as reduce_sum would normalize them
        g = REGISTRY["reduce_sum"](g, axis=tuple(range(lead)), keepdims=False)
    ones = tuple(i for i, d in enumerate(xs) if d == 1 and gs[lead + i] != 1)
    return REGISTRY["reduce_sum"](g, axis=ones, keepdims=True) if ones else g
