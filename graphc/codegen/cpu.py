"""The Numba (CPU) code generator: a `Program` becomes one module with an `@njit` step.

It owns the CPU backend's table of emitters (`EMITTERS`, filled by the emitter
modules through `emitter`) and the driver `generate`; the emission context the
emitters share lives in `graphc.codegen.context`.

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
  variables use buffers of shape (1,). The one exception keeps both promises:
  an update kernel after the last statement that can raise, and after every
  other read of the variable, writes its new value straight into the buffer
  (graphc.codegen.updates).
- Values that alias a buffer, a feed or a constant are copied before being
  returned or stored, so callers never see later in-place writes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from contextlib import nullcontext

from graphc.codegen.context import (
    BLAS_CALLS,
    FASTMATH,
    HOST_CALLS,
    Context,
    Program,
    broadcast_dims,
    element,
    np_dtype,
    scalar_expr,
)
from graphc.codegen.source import Source
from graphc.codegen.updates import in_place_updates
from graphc.errors import GraphcError
from graphc.graph import node_line
from graphc.ir import Node
from graphc.ops import Fusion, assumed_equal
from graphc.schedule import Branch, Item

HEADER = "# graphc generated: {title} (do not edit)\n"
JIT = 'njit(cache=True, error_model="numpy", nogil=True)'
# A step with prange loops: Numba parallelizes those alone. Its other rewrites (NumPy calls
# and allocations as parallel loops, loop fusion) found nothing to gain in our loops and
# added 5 of W4's 26 s of compile.
PARALLEL = (
    '{"prange": True, "numpy": False, "fusion": False, "comprehension": False, '
    '"reduction": False, "setitem": False, "stencil": False, "inplace_binop": False}'
)


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


def generate(program: Program) -> tuple[str, dict[str, str]]:
    """The module source for `program` (imports, the store helper, and `step`), and the
    sites of its run-time checks (graphc.codegen.checks: message template -> user line).

    Emitted twice when a variable update can be written in place (graphc.codegen.updates):
    the first emission tells which nodes raise and which values are views of buffers."""
    ctx, groups, raising = _emit(program, {})
    updates = in_place_updates(program.order, program.fetches, raising, ctx.aliases)
    if updates:
        ctx, groups, _ = _emit(program, updates)
    out = Source()
    body = "\n".join(ctx.src.lines)
    fast = [name for name in FASTMATH if f"{name}(" in body]
    host_calls = sorted(name for name in HOST_CALLS if f"{name}(" in body)
    blas = [name for name in BLAS_CALLS if f"{name}(" in body]
    if ctx.threaded:  # the backend runs the step inside it (graphc.blas)
        blas.append("one_thread")
    _prelude(out, program.title, ctx.parallel, host_calls, fast + blas)
    out(f"@{JIT[:-1]}, parallel={PARALLEL})" if ctx.parallel else f"@{JIT}")
    _signature(out, groups)
    with out.indent():
        _docstring(out, program)
    out.lines.extend(ctx.checks.entry.lines)
    out.lines.extend(ctx.src.lines)
    return out.text(), ctx.checks.sites


def _emit(
    program: Program, updates: dict[tuple[int, int], Node]
) -> tuple[Context, list[list[str]], set[int]]:
    """The step's body in a fresh context, its argument groups, and the ids of the nodes
    whose code may raise."""
    ctx = Context(program, updates)
    groups = _arguments(ctx, program)
    ctx.src._level = 1
    raising: set[int] = set()
    _emit_items(ctx, program.blocks, raising)
    outs = _fetched_values(ctx, program)
    _write_back(ctx)
    ctx.src(f"return ({''.join(o + ', ' for o in outs)})")
    return ctx, groups, raising


def _emit_items(ctx: Context, items: tuple[Item, ...], raising: set[int]) -> None:
    """Emits nodes and branches in order; adds the ids of nodes whose code may raise."""
    for item in items:
        if isinstance(item, Branch):
            _emit_branch(ctx, item, raising)
            continue
        node = item
        if id(node) in ctx.value:
            continue
        start = len(ctx.src.lines)
        with ctx.src.headed(headline(node)):
            for eq in assumed_equal(node):
                ctx.checks.equal(ctx.src, node, eq, ctx.size_of(eq.a), ctx.size_of(eq.b))
            if node.opdef.fusion is Fusion.ELEMENTWISE:
                emit_elementwise(ctx, node)
            else:
                emitter_of(node)(ctx, node)
        if any(line.lstrip().startswith("raise ") for line in ctx.src.lines[start:]):
            raising.add(id(node))


def _emit_branch(ctx: Context, branch: Branch, raising: set[int]) -> None:
    """`if pred:` with the true side's code, `else:` with the false side's; each side
    ends by giving every merge the value of its input on that side. The comment above
    gives the merges' IR lines."""
    lines = "; ".join(node_line(m) for m in branch.merges)
    for line in _wrapped(f"tf.cond on {branch.pred.op_name}: {lines}", 92):
        ctx.src(f"# {line}")
    pred = ctx[branch.pred]
    names = [ctx.names.fresh(m.op_name) for m in branch.merges]
    for side, head, items in ((1, f"if {pred}:", branch.then), (2, "else:", branch.orelse)):
        with ctx.src.indent(head), ctx.branch(pred if side == 1 else f"not {pred}"):
            _emit_items(ctx, items, raising)
            for merge, name in zip(branch.merges, names, strict=True):
                value = merge.inputs[side]
                expr = ctx[value]
                if ctx.is_scalar(merge):  # one Numba type on both sides
                    expr = f"{np_dtype(merge.dtype)}({expr})"
                ctx.src(f"{name} = {expr}")
                if id(value) in ctx.aliases:
                    ctx.aliases.add(id(merge))
    for merge, name in zip(branch.merges, names, strict=True):
        ctx.bind(merge, name)


def headline(node: Node) -> str:
    """The comment above the code of `node`: its IR line, or what a fused kernel computes.
    A scalar constant's value is an argument, not in the source: its line omits it."""
    if node.opdef.name == "const" and node.type.shape == ():
        return f"{node.op_name}: {node.type.dtype.short}[] = const (a value the step is given)"
    if node.opdef.name != "fused":
        return node_line(node)
    kernel = node.attrs["kernel"]
    head = f"kernel {kernel.name} ({len(kernel.ops)} ops, one loop): {', '.join(kernel.ops)}"
    return "\n".join(_wrapped(head, 92))


# the names a step may import from graphc's modules that import nothing else of graphc
MODULE_NAMES = {"blas": (*BLAS_CALLS, "one_thread"), "fastmath": FASTMATH}


def _prelude(
    out: Source, title: str, parallel: bool, host_calls: list[str], imported: list[str]
) -> None:
    """The module header, imports (graphc.blas's and graphc.fastmath's functions the step
    calls, the Python functions it calls from objmode blocks) and the `_store` helper."""
    out(HEADER.format(title=title).rstrip())
    out("import math")
    out()
    out("import numpy as np")
    names = ["njit", *(["objmode"] if host_calls else []), *(["prange"] if parallel else [])]
    out(f"from numba import {', '.join(names)}")
    if host_calls or imported:
        out()
    for module in ("blas", "fastmath"):
        names = [name for name in imported if name in MODULE_NAMES[module]]
        if names:
            out(f"from graphc.{module} import {', '.join(names)}")
    for name in host_calls:
        out(HOST_CALLS[name])
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
    for name, nodes in program.scalar_groups():
        consts.append(ctx.names.fresh(name))
        ctx.slots.update((id(n), f"{consts[-1]}[{k}]") for k, n in enumerate(nodes))
    rngs = [ctx.names.fresh(f"{node.op_name}_rng") for node in program.randoms]
    ctx.aliases.update(id(node) for node in [*program.feeds, *program.consts])
    for node in program.feeds:  # their sizes are known on entry: checks of them run there
        ctx.checks.sizes.on_entry.update(d for d in ctx.dims(node) if not d.isdigit())
    for node, name in zip([*program.variables, *program.randoms], buffers + rngs, strict=True):
        ctx.buffers[id(node)] = name
    return [feeds, buffers, consts, rngs]


def _write_back(ctx: Context) -> None:
    if ctx.writes:
        ctx.src("# variable writes, after every read of this step")
    for var, expr, condition in ctx.writes:
        buf = ctx.buffers[id(var)]
        with ctx.src.indent(f"if {' and '.join(condition)}:") if condition else nullcontext():
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
