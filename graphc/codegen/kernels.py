"""CPU emission of fused kernels: one loop nest computing a whole group of ops.

Inside the loop every member is a scalar local named after its node; members
that the rest of the graph needs are stored into arrays, and reductions of
the group's values ("sinks") accumulate in the same loop. Kernel inputs are
read with NumPy broadcasting (see `element`).
"""

from __future__ import annotations

from graphc.codegen.context import (
    Context,
    broadcast_dims,
    broadcast_index,
    element,
    np_dtype,
    scalar_expr,
    shape_text,
    stretched_axes,
)
from graphc.codegen.emitters import Reducing, emitter, out_index
from graphc.ir import Node
from graphc.ops import Fusion
from graphc.ops.fused import Kernel
from graphc.types import normalize_axes


def _sink(ctx: Context, member: Node, dims: list[str], outer: dict[int, Node]) -> Reducing:
    """A reduction inside a kernel (a "sink"), over the kernel's iteration space `dims`."""
    shape = member.inputs[0].type.shape
    if member.opdef.name == "sum_to_like":
        like = outer[id(member.inputs[1])].type.shape
        axes = stretched_axes(like, shape)  # summed: what broadcasting stretched
        target = lambda index: broadcast_index(like, index, shape)  # noqa: E731
        return Reducing(ctx, member, axes, dims, ctx.dims(outer[id(member.inputs[1])]), target)
    axes = normalize_axes(member.attrs["axis"], len(shape))
    keep = member.attrs["keepdims"]
    out_dims = [("1" if k in axes else d) for k, d in enumerate(dims) if keep or k not in axes]
    return Reducing(ctx, member, axes, dims, out_dims, lambda index: out_index(index, axes, keep))


# Kernels of at least this many elements run their outer loop with prange: on 2 cores a 10M
# element kernel ran 1.7-1.9x faster; below ~1e5 elements thread start-up costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 17
# Unknown sizes: a runtime check picks the loop, when the known part of the shape is this large
# (or the kernel is one flat unknown axis) - small batches of small layers stay serial.
GUARD_MIN_KNOWN = 4096


def _parallel_mode(kernel: Kernel, sinks: dict) -> str:
    """ "always", "guard" (decide at run time) or "no" (reductions would race)."""
    if sinks:
        return "no"
    known = 1
    for d in kernel.shape:
        known *= d or 1
    if None not in kernel.shape:
        return "always" if known >= PARALLEL_MIN_SIZE else "no"
    return "guard" if known >= GUARD_MIN_KNOWN or len(kernel.shape) == 1 else "no"


def _loop(
    ctx: Context,
    node: Node,
    kernel: Kernel,
    dims: list[str],
    outer: dict[int, Node],
    stored: dict[int, str],
    sinks: dict,
    in_place: tuple[str, int] | None,
    parallel: bool,
) -> None:
    """The kernel's loop nest: every member once per element, outputs stored, sinks updated."""
    inner = kernel.graph
    local: dict[int, str] = {}
    if parallel:
        ctx.parallel = True
    with ctx.loops(dims, parallel=parallel) as index:
        if in_place is not None:  # read the matmul's element before anything overwrites it
            param = inner.inputs[kernel.epilogue[0]]
            local[id(param)] = ctx.names.fresh(f"t_{node.inputs[kernel.epilogue[0]].op_name}")
            ctx.src(f"{local[id(param)]} = {in_place[0]}[{', '.join(index)}]")

        def value(x: Node) -> str:
            return (
                local[id(x)] if id(x) in local else element(ctx, outer[id(x)], index, kernel.shape)
            )

        for m in inner.nodes:
            if id(m) in outer:
                continue
            if id(m) in sinks:
                sinks[id(m)].update(index, value(m.inputs[0]))
                continue
            operands = [value(x) for x in m.inputs]
            broadcast = m.opdef.fusion is Fusion.BROADCAST  # a read: the operand, stretched
            expr = operands[0] if broadcast else scalar_expr(m, operands)
            local[id(m)] = ctx.names.fresh(f"t_{m.op_name}")
            ctx.src(f"{local[id(m)]} = {expr}  # {m.op_name}")
            if id(m) in stored:
                ctx.src(f"{stored[id(m)]}[{', '.join(index)}] = {local[id(m)]}")


@emitter("fused")
def _fused(ctx: Context, node: Node) -> None:
    kernel = node.attrs["kernel"]
    inner = kernel.graph
    outer = {id(p): x for p, x in zip(inner.inputs, node.inputs, strict=True)}
    dims = broadcast_dims(ctx, node.inputs, kernel.shape)
    stored = {}
    in_place = _in_place(ctx, node, kernel)
    for j, o in enumerate(inner.outputs):
        var = ctx.updates.get((id(node), j))
        if var is not None:
            stored[id(o)] = ctx.names.fresh(o.op_name)
            buffer = ctx.buffers[id(var)]
            ctx.src(f"{stored[id(o)]} = {buffer}  # {var.op_name}'s new value: written in place")
        elif o.opdef.fusion is not Fusion.REDUCTION:
            stored[id(o)] = ctx.names.fresh(o.op_name)
            if in_place is not None and j == in_place[1]:
                ctx.src(f"{stored[id(o)]} = {in_place[0]}  # the matmul epilogue: written in place")
            else:
                ctx.src(f"{stored[id(o)]} = np.empty({shape_text(dims)}, {np_dtype(o.dtype)})")
            ctx.checks.shaped(stored[id(o)], dims)
    sinks = {
        id(m): _sink(ctx, m, dims, outer) for m in inner.nodes if m.opdef.fusion is Fusion.REDUCTION
    }
    for sink in sinks.values():
        sink.start()
    mode = _parallel_mode(kernel, sinks) if ctx.allow_parallel else "no"
    if mode == "guard":
        with ctx.src.indent(f"if {' * '.join(dims)} >= {PARALLEL_MIN_SIZE}:  # big: both cores"):
            _loop(ctx, node, kernel, dims, outer, stored, sinks, in_place, parallel=True)
        with ctx.src.indent("else:"):
            _loop(ctx, node, kernel, dims, outer, stored, sinks, in_place, parallel=False)
    else:
        _loop(ctx, node, kernel, dims, outer, stored, sinks, in_place, parallel=mode == "always")
    values = [stored[id(o)] if id(o) in stored else sinks[id(o)].finish() for o in inner.outputs]
    ctx.kernels[id(node)] = values
    ctx.bind(node, "None")


def _in_place(ctx: Context, node: Node, kernel: Kernel) -> tuple[str, int] | None:
    """(matmul array, output position) when the kernel may overwrite its matmul input."""
    if kernel.epilogue is None:
        return None
    k, j = kernel.epilogue
    matmul = node.inputs[k]
    if id(matmul) in ctx.aliases or ctx.is_scalar(matmul) or (id(node), j) in ctx.updates:
        return None
    return ctx[matmul], j


@emitter("fused_output")
def _fused_output(ctx: Context, node: Node) -> None:
    in_place = ctx.updated_in_place(node) is not None  # a variable's buffer
    ctx.bind(node, ctx.kernels[id(node.inputs[0])][node.attrs["index"]], alias=in_place)
