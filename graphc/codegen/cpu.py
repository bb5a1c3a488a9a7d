"""The Numba (CPU) emitter: a program of nodes becomes one `@njit` step function.

Invariants of the generated code:
- One statement (or loop nest) per node, named after the node. A node that emits
  code gets a comment above it: its IR line, or for a fused kernel the list of
  ops it computes; nodes that only bind a name (variables, kernel outputs,
  no-ops) get none. The same program always gives the same bytes.
- `step` takes one argument per line, grouped (feeds, variable buffers,
  constants, random generators), and its docstring names what it fetches.
- A loop of static extent 1 is not written: its index is the literal 0.
- Rank-0 tensors are scalar locals; every other value is a C-contiguous array.
- Variables arrive as buffers and are only written at the very end, after
  every other statement, so all reads see the values from before the run and
  an exception raised mid-step leaves every variable unchanged. Rank-0
  variables use buffers of shape (1,).
- Values that alias a buffer, a feed or a constant are copied before being
  returned or stored, so callers never see later in-place writes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from graphc.codegen.source import Names, Source
from graphc.errors import GraphcError
from graphc.graph import node_line
from graphc.ir import Node
from graphc.ops import Fusion
from graphc.types import DType

HEADER = "# graphc generated: {title} (do not edit)\n"
JIT = 'njit(cache=True, error_model="numpy", nogil=True)'


@dataclass
class Program:
    """What one step computes: nodes in order, the arguments, fetches and variable writes."""

    order: list[Node]
    feeds: list[Node]
    fetches: list[Node]
    title: str = "step"
    variables: list[Node] = field(default_factory=list)
    consts: list[Node] = field(default_factory=list)
    randoms: list[Node] = field(default_factory=list)
    # The caller's targets as it named them (before passes), True for an op run only for its
    # effects: the step's docstring lists them. Empty: the fetches are listed instead.
    targets: list[tuple[Node, bool]] = field(default_factory=list)


def np_dtype(dtype: DType) -> str:
    return f"np.{dtype.np_name}"


def shape_text(dims: list[str]) -> str:
    """A shape tuple as source text: `(n, 3)`, `(3,)`, `()`."""
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def literal(value: np.ndarray | float | int | bool, dtype: DType) -> str:
    """A scalar of `dtype` as source text that evaluates to exactly that scalar.

    Floats are first converted to `dtype`, then written with the fewest digits that
    round-trip in it: `np.float32(0.9)`, not the digits of its float64 widening.
    """
    v = np.asarray(value).item()
    if dtype.is_bool:
        return repr(bool(v))
    if dtype.is_integer:
        return f"{np_dtype(dtype)}({int(v)})"
    return f"{np_dtype(dtype)}({float_text(dtype.np.type(v))})"


def float_text(x: np.floating) -> str:
    """The shortest decimal that parses back to `x` bit for bit in x's own dtype.

    Laid out as Python's float repr (positional for 1e-4 <= |x| < 1e16, else scientific),
    and independent of NumPy's print options. Infinities and NaN are spelled through `np`;
    a NaN keeps its sign through `math.copysign` (Numba drops it from `-np.nan`), not its
    payload bits. Parsing the text as a float64 and rounding that to float32 gives back
    `x`: float64 has more than twice float32's precision, so the double rounding is exact.
    """
    if np.isnan(x):
        return "math.copysign(np.nan, -1.0)" if np.signbit(x) else "np.nan"
    if np.isinf(x):
        return "-np.inf" if x < 0 else "np.inf"
    if x == 0 or 1e-4 <= abs(x) < 1e16:
        return np.format_float_positional(x, unique=True, trim="0")
    return np.format_float_scientific(x, unique=True, trim="-")


class Context:
    """Emission state: the source, identifiers and value expressions of emitted nodes."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.src = Source()
        self.names = Names(("np", "math", "njit", "step", "_store"))
        self.value: dict[int, str] = {}  # node id -> expression of its value
        self.aliases: set[int] = set()  # nodes whose array may be a buffer, feed or constant
        self.writes: list[tuple[Node, str]] = []
        self.buffers: dict[int, str] = {}  # variable id -> its buffer argument
        self.kernels: dict[int, list[str]] = {}  # fused node id -> its output values
        self.parallel = False  # set when a kernel uses prange: the step needs parallel=True
        # OpenBLAS worker threads keep spinning after each np.dot and fight Numba's workers for
        # the 2 cores: parallel kernels made the W1 MLP step 5x slower (1.6 -> 8.4 ms). So
        # programs that call BLAS keep every loop serial.
        self.allow_parallel = not any(n.opdef.name == "matmul" for n in program.order)
        self._loop_depth = 0

    # ---- values ---------------------------------------------------------------------
    def __getitem__(self, node: Node) -> str:
        return self.value[id(node)]

    def bind(self, node: Node, expr: str, alias: bool = False) -> None:
        self.value[id(node)] = expr
        if alias:
            self.aliases.add(id(node))

    def new(self, node: Node) -> str:
        """A fresh identifier for `node`, bound as its value."""
        name = self.names.fresh(node.op_name)
        self.bind(node, name)
        return name

    @staticmethod
    def is_scalar(node: Node) -> bool:
        return node.type.shape == ()

    def dims(self, node: Node) -> list[str]:
        """Each dim of `node` as source text: a literal, or read off its array."""
        return [
            str(d) if d is not None else f"{self[node]}.shape[{k}]"
            for k, d in enumerate(node.type.shape)
        ]

    def size(self, node: Node) -> str:
        return " * ".join(self.dims(node)) or "1"

    def empty(self, node: Node, dims: list[str]) -> str:
        name = self.new(node)
        self.src(f"{name} = np.empty({shape_text(dims)}, {np_dtype(node.dtype)})")
        return name

    # ---- loops ----------------------------------------------------------------------
    @contextmanager
    def loops(self, dims: list[str], parallel: bool = False) -> Iterator[list[str]]:
        """Nested loops over `dims` (the outer one a prange when `parallel`); yields indices.

        An axis of static extent 1 (its dim text is "1") gets no loop and the index "0";
        the loops that are written are numbered from the enclosing depth without gaps.
        """
        index: list[str] = []
        entered = 0
        try:
            for k, dim in enumerate(dims):
                if dim == "1":
                    index.append("0")
                    continue
                name = f"i{self._loop_depth}"
                loop = "prange" if parallel and k == 0 else "range"
                self.src(f"for {name} in {loop}({dim}):")
                self.src._level += 1
                self._loop_depth += 1
                entered += 1
                index.append(name)
            yield index
        finally:
            self.src._level -= entered
            self._loop_depth -= entered


def stretched_axes(shape: tuple, out_shape: tuple) -> tuple[int, ...]:
    """The axes of `out_shape` that broadcasting `shape` to it (NumPy rules) adds at the
    front or stretches from size 1: the codegen's one statement of that rule."""
    offset = len(out_shape) - len(shape)
    stretched = (j + offset for j, d in enumerate(shape) if d == 1 and out_shape[j + offset] != 1)
    return (*range(offset), *stretched)


def broadcast_index(shape: tuple, index: list[str], out_shape: tuple) -> list[str]:
    """The index into an array of `shape` broadcast to `out_shape`, given the index into
    `out_shape`: the axes broadcasting added are dropped, stretched ones read position 0."""
    offset = len(out_shape) - len(shape)
    stretched = stretched_axes(shape, out_shape)
    return ["0" if k in stretched else index[k] for k in range(offset, len(out_shape))]


def element(ctx: Context, x: Node, index: list[str], out_shape: tuple) -> str:
    """x's element at output `index` under NumPy broadcasting (static, see graphc.types)."""
    if ctx.is_scalar(x):
        return ctx[x]
    return f"{ctx[x]}[{', '.join(broadcast_index(x.type.shape, index, out_shape))}]"


def unknown_dim(ctx: Context, inputs: tuple[Node, ...] | list[Node], k: int, rank: int) -> str:
    """Axis `k` of a broadcast result of `rank`, whose size is unknown statically, read off
    the first input (aligned at the right) whose matching axis is unknown too."""
    for x in inputs:
        j = k - (rank - len(x.type.shape))
        if j >= 0 and x.type.shape[j] is None:
            return f"{ctx[x]}.shape[{j}]"
    raise ValueError(f"no input gives the size of axis {k}")


def broadcast_dims(ctx: Context, inputs: tuple[Node, ...], shape: tuple) -> list[str]:
    """The dims of a broadcast result of static `shape` computed from `inputs`."""
    return [
        str(d) if d is not None else unknown_dim(ctx, inputs, k, len(shape))
        for k, d in enumerate(shape)
    ]


def scalar_expr(node: Node, operands: list[str]) -> str:
    """The op's scalar snippet applied to operand expressions."""
    op = node.opdef
    expr = op.expr_float32 if op.expr_float32 and node.dtype.name == "float32" else op.expr
    return expr.format(*operands, **node.attrs)


Emitter = Callable[[Context, Node], None]

# op name -> the emitter of a non-elementwise op. Filled when graphc.codegen imports the
# emitter modules (emitters, kernels, emit_arrays), which build on this one.
EMITTERS: dict[str, Emitter] = {}


def emitter(*names: str) -> Callable[[Emitter], Emitter]:
    """Registers the decorated function as the emitter of the ops `names`."""

    def register(fn: Emitter) -> Emitter:
        for name in names:
            EMITTERS[name] = fn
        return fn

    return register


def emitter_of(node: Node) -> Emitter:
    """The CPU emitter of a node's op; raises naming the op when there is none (an op
    defined after the backend was created, without an emitter)."""
    fn = EMITTERS.get(node.opdef.name)
    if fn is None:
        raise GraphcError(f"op {node.opdef.name} has no cpu emitter (node '{node.op_name}')")
    return fn


def emit_elementwise(ctx: Context, node: Node) -> None:
    """One loop nest (or one scalar statement) computing an elementwise node."""
    if ctx.is_scalar(node):
        expr = scalar_expr(node, [ctx[x] for x in node.inputs])
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({expr})")
        return
    dims = broadcast_dims(ctx, node.inputs, node.type.shape)
    name = ctx.empty(node, dims)
    with ctx.loops(dims) as index:
        operands = [element(ctx, x, index, node.type.shape) for x in node.inputs]
        ctx.src(f"{name}[{', '.join(index)}] = {scalar_expr(node, operands)}")


def generate(program: Program) -> str:
    """The module source for `program`: imports, the store helper, and `step`."""
    ctx = Context(program)
    groups = _arguments(ctx, program)
    ctx.src._level = 1
    for node in program.order:
        if id(node) in ctx.value:
            continue
        with ctx.src.headed(headline(node)):
            if node.opdef.fusion is Fusion.ELEMENTWISE:
                emit_elementwise(ctx, node)
            else:
                emitter_of(node)(ctx, node)
    outs = _fetched_values(ctx, program)
    _write_back(ctx)
    ctx.src(f"return ({''.join(o + ', ' for o in outs)})")
    out = Source()
    _prelude(out, program.title, ctx.parallel)
    out(f"@{JIT[:-1]}, parallel=True)" if ctx.parallel else f"@{JIT}")
    _signature(out, groups)
    with out.indent():
        _docstring(out, program)
    out.lines.extend(ctx.src.lines)
    return out.text()


def headline(node: Node) -> str:
    """The comment above the code of `node`: its IR line, or what a fused kernel computes."""
    if node.opdef.name != "fused":
        return node_line(node)
    kernel = node.attrs["kernel"]
    head = f"kernel {kernel.name} ({len(kernel.ops)} ops, one loop): {', '.join(kernel.ops)}"
    return "\n".join(_wrapped(head, 92))


def _prelude(out: Source, title: str, parallel: bool) -> None:
    """The module header, imports and the `_store` helper."""
    out(HEADER.format(title=title).rstrip())
    out("import math")
    out()
    out("import numpy as np")
    out("from numba import njit, prange" if parallel else "from numba import njit")
    out()
    out()
    out(f"@{JIT}")
    with out.indent("def _store(dst, src):"):
        out('"""Copies src into dst (flat, C-contiguous): the end-of-step variable writes."""')
        with out.indent("for i in range(src.size):"):
            out("dst[i] = src[i]")
    out()
    out()


# The comment above each group of step's arguments, in argument order.
ARGUMENT_GROUPS = (
    "feeds",
    "variables (updated in place at the end of the step)",
    "constants",
    "random generator states",
)


def _signature(out: Source, groups: list[list[str]]) -> None:
    """`def step(` with one argument per line, each non-empty group under its comment."""
    if not any(groups):
        out("def step():")
        return
    with out.indent("def step("):
        for title, names in zip(ARGUMENT_GROUPS, groups, strict=True):
            if names:
                out(f"# {title}")
            for name in names:
                out(f"{name},")
    out("):")


def _docstring(out: Source, program: Program) -> None:
    """What the step computes, by the names in the caller's graph."""
    targets = program.targets or [(n, False) for n in program.fetches]
    fetched = [_described(n) for n, is_op in targets if not is_op]
    run = [f"{n.op_name} ({n.opdef.type_name})" for n, is_op in targets if is_op]
    lines = [
        ("Fetches: ", ", ".join(fetched) or "nothing"),
        ("Runs for its effects: ", ", ".join(run)),
        ("Feeds: ", ", ".join(_described(n) for n in program.feeds) or "none"),
    ]
    out('"""One step: what it fetches and runs, named as in the graph the caller built.')
    out()
    for label, text in lines:
        if text:
            for line in _wrapped(label + text, 92):
                out(line)
    out('"""')


def _wrapped(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns (longer only for one long name), broken
    at spaces, continuation lines indented by four."""
    return textwrap.wrap(
        text, width, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
    )


def _described(node: Node) -> str:
    """A tensor as the docstring names it: `x f32[?,4]`."""
    return f"{node.op_name} {node.type}"


def _arguments(ctx: Context, program: Program) -> list[list[str]]:
    """Binds feeds, variable buffers, array constants and generators to argument names;
    returns the names in those four groups (see ARGUMENT_GROUPS)."""
    feeds = [ctx.new(node) for node in program.feeds]
    buffers = [ctx.names.fresh(f"{var.op_name}_buffer") for var in program.variables]
    consts = [ctx.new(node) for node in program.consts]
    rngs = [ctx.names.fresh(f"{node.op_name}_rng") for node in program.randoms]
    ctx.aliases.update(id(node) for node in [*program.feeds, *program.consts])
    for node, name in zip([*program.variables, *program.randoms], buffers + rngs, strict=True):
        ctx.buffers[id(node)] = name
    return [feeds, buffers, consts, rngs]


def _write_back(ctx: Context) -> None:
    if ctx.writes:
        ctx.src("# variable writes, after every read of this step")
    for var, expr in ctx.writes:
        buf = ctx.buffers[id(var)]
        if var.type.shape == ():
            ctx.src(f"{buf}[0] = {expr}")
        else:
            ctx.src(f"_store({buf}.reshape(-1), {expr}.reshape(-1))")


def _fetched_values(ctx: Context, program: Program) -> list[str]:
    """The fetches' expressions. A fetch that aliases a buffer (a variable, a feed, a
    constant) is copied here, before the variable writes: a run's reads see the values
    from before the run."""
    outs = []
    for node in program.fetches:
        expr = ctx[node]
        if id(node) in ctx.aliases and ctx.writes:
            name = ctx.names.fresh(f"{node.op_name}_value")
            ctx.src(f"{name} = {expr if ctx.is_scalar(node) else expr + '.copy()'}")
            expr = name
        elif id(node) in ctx.aliases and not ctx.is_scalar(node):
            expr = f"{expr}.copy()"
        outs.append(expr)
    return outs
