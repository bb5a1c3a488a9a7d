"""CPU emission of fused kernels: one loop nest computing a whole group of ops.

Inside the loop every member is a scalar local named after its node; members
that the rest of the graph needs are stored into arrays, and reductions of
the group's values ("sinks") accumulate in the same loop. Kernel inputs are
read with NumPy broadcasting (see `element`).
"""

from __future__ import annotations

from collections.abc import Callable

from graphc.codegen.context import (
    Context,
    broadcast_dims,
    broadcast_index,
    element,
    narrowed,
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


Reader = Callable[[Node, list[str]], str]  # (kernel input, loop index) -> its element


def _loop(
    ctx: Context,
    node: Node,
    kernel: Kernel,
    dims: list[str],
    read: Reader,
    stored: dict[int, str],
    sinks: dict,
    in_place: tuple[str, int] | None,
    parallel: bool,
    far: str | None = None,
) -> None:
    """The kernel's loop nest: every member once per element, outputs stored (into the
    arrays `stored` names), sinks updated. With `far` (a counter's name), members with a
    `near` expression use it and count their inputs beyond its bound."""
    inner = kernel.graph
    outer = {id(p): x for p, x in zip(inner.inputs, node.inputs, strict=True)}
    local: dict[int, str] = {}
    with ctx.loops(dims, parallel=parallel) as index:
        if in_place is not None:  # read the product's element before anything overwrites it
            k = kernel.epilogue[0]
            local[id(inner.inputs[k])] = ctx.names.fresh(f"t_{node.inputs[k].op_name}")
            ctx.src(f"{local[id(inner.inputs[k])]} = {read(node.inputs[k], index)}")

        def value(x: Node) -> str:
            return local[id(x)] if id(x) in local else read(outer[id(x)], index)

        beyond: list[str] = []  # near-range inputs' tests (one update: a prange reduction)

        for m in inner.nodes:
            if id(m) in outer:
                continue
            if id(m) in sinks:
                sinks[id(m)].update(index, value(m.inputs[0]))
                continue
            operands = [value(x) for x in m.inputs]
            broadcast = m.opdef.fusion is Fusion.BROADCAST  # a read: the operand, stretched
            expr = operands[0] if broadcast else narrowed(scalar_expr(m, operands), m.dtype)
            if far is not None and _nears(m):
                expr, bound = m.opdef.near[0].format(*operands), m.opdef.near[1]
                beyond.append(f"(abs({operands[0]}) >= {bound})")
            local[id(m)] = ctx.names.fresh(f"t_{m.op_name}")
            ctx.src(f"{local[id(m)]} = {expr}  # {m.op_name}")
            if id(m) in stored:
                ctx.src(f"{stored[id(m)]}[{', '.join(index)}] = {local[id(m)]}")
        if beyond:
            ctx.src(f"{far} += {' | '.join(beyond)}")


def _nears(member: Node) -> bool:
    """Whether a kernel member has a faster float32 form valid near 0 (sin, cos)."""
    return member.opdef.near is not None and member.dtype.name == "float32"


def axis_groups(kernel_shape: tuple, inputs: list[Node]) -> list[list[int]]:
    """The kernel's axes as few loops need them: consecutive axes share one loop when
    every array input reads both in full or stretches both (so its elements along them
    are contiguous, or not read); axes of static extent 1 need no loop and are left out."""
    arrays = [x.type.shape for x in inputs if x.type.shape != ()]

    def reads(k: int) -> tuple[bool, ...]:
        return tuple(k not in stretched_axes(shape, kernel_shape) for shape in arrays)

    groups: list[list[int]] = []
    for k, d in enumerate(kernel_shape):
        if d == 1:
            continue
        if groups and reads(groups[-1][-1]) == reads(k):
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def _collapsed(
    ctx: Context,
    node: Node,
    dims: list[str],
    groups: list[list[int]],
    stored: dict[int, str],
    written_into: dict[str, str],
) -> tuple[list[str], Reader]:
    """Views of the kernel's arrays with merged axes (C-contiguous reshapes, no copies):
    the loop dims, and the reader of the inputs. Replaces `stored` by the outputs' views.
    `written_into`: output arrays that are another array (an input) written in place;
    they share its view."""
    shape = node.attrs["kernel"].shape
    merged = [" * ".join(dims[k] for k in g) for g in groups]
    made: dict[tuple[str, str], str] = {}

    def view(array: str, own: list[str], full: list[int]) -> str:
        shaped = shape_text([merged[g] for g in full])
        if shaped == shape_text(own):
            return array
        base = written_into.get(array, array)
        if (base, shaped) not in made:
            made[base, shaped] = ctx.names.fresh(f"{base}_view")
            ctx.src(f"{made[base, shaped]} = {base}.reshape({shaped})")
        return made[base, shaped]

    for key, array in stored.items():
        stored[key] = view(array, dims, list(range(len(groups))))
    views: dict[int, tuple[str, list[int]]] = {}
    for x in dict.fromkeys(node.inputs):
        if not ctx.is_scalar(x):
            stretched = stretched_axes(x.type.shape, shape)
            full = [j for j, g in enumerate(groups) if g[0] not in stretched]
            views[id(x)] = (view(ctx[x], ctx.dims(x), full) if full else ctx[x], full)

    def read(x: Node, index: list[str]) -> str:
        if ctx.is_scalar(x):
            return ctx[x]
        array, full = views[id(x)]
        at = [index[j] for j in full] if full else ["0"] * len(x.type.shape)
        return f"{array}[{', '.join(at)}]"

    return merged, read


@emitter("fused")
def _fused(ctx: Context, node: Node) -> None:
    kernel = node.attrs["kernel"]
    inner = kernel.graph
    outer = {id(p): x for p, x in zip(inner.inputs, node.inputs, strict=True)}
    dims = broadcast_dims(ctx, node.inputs, kernel.shape)
    stored: dict[int, str] = {}
    written_into: dict[str, str] = {}  # output array -> the input array it is
    in_place = _in_place(ctx, node, kernel)
    for j, o in enumerate(inner.outputs):
        var = ctx.updates.get((id(node), j))
        if var is not None:
            stored[id(o)] = ctx.names.fresh(o.op_name)
            written_into[stored[id(o)]] = buffer = ctx.buffers[id(var)]
            ctx.src(f"{stored[id(o)]} = {buffer}  # {var.op_name}'s new value: written in place")
        elif o.opdef.fusion is not Fusion.REDUCTION:
            stored[id(o)] = ctx.names.fresh(o.op_name)
            if in_place is not None and j == in_place[1]:
                written_into[stored[id(o)]] = in_place[0]
                ctx.src(f"{stored[id(o)]} = {in_place[0]}  # the epilogue: written in place")
            else:
                ctx.src(f"{stored[id(o)]} = np.empty({shape_text(dims)}, {np_dtype(o.dtype)})")
            ctx.checks.shaped(stored[id(o)], dims)
    sinks = {
        id(m): _sink(ctx, m, dims, outer) for m in inner.nodes if m.opdef.fusion is Fusion.REDUCTION
    }
    for sink in sinks.values():
        sink.start()
    arrays = dict(stored)
    groups = axis_groups(kernel.shape, list(node.inputs))
    if not sinks and len(groups) < sum(d != 1 for d in kernel.shape):
        dims, read = _collapsed(ctx, node, dims, groups, stored, written_into)
    else:
        read = lambda x, index: element(ctx, x, index, kernel.shape)  # noqa: E731
    mode = _parallel_mode(kernel, sinks) if ctx.allow_parallel else "no"
    # sin and cos by their faster near-range forms, then the whole kernel again (once) if an
    # input was beyond: only where a second pass reads what the first read
    again = not sinks and not written_into and any(_nears(m) for m in inner.nodes)
    far = ctx.names.fresh(f"far_{node.op_name}") if again else None
    if far is not None:
        ctx.src(f"{far} = 0  # inputs of sin or cos beyond their near range")
    loop = (ctx, node, kernel, dims, read, stored, sinks, in_place)
    if mode == "guard":
        with ctx.src.indent(f"if {' * '.join(dims)} >= {PARALLEL_MIN_SIZE}:  # big: both cores"):
            _loop(*loop, parallel=True, far=far)
        with ctx.src.indent("else:"):
            _loop(*loop, parallel=False, far=far)
    else:
        _loop(*loop, parallel=mode == "always", far=far)
    if far is not None:
        with ctx.src.indent(f"if {far}:  # exactly, over the whole float32 range"):
            _loop(*loop, parallel=False)
    values = [arrays[id(o)] if id(o) in arrays else sinks[id(o)].finish() for o in inner.outputs]
    ctx.kernels[id(node)] = values
    ctx.bind(node, "None")


def _in_place(ctx: Context, node: Node, kernel: Kernel) -> tuple[str, int] | None:
    """(product array, output position) when the kernel may overwrite its matmul or einsum
    input (passes.fuse sets the epilogue)."""
    if kernel.epilogue is None:
        return None
    k, j = kernel.epilogue
    product = node.inputs[k]
    if id(product) in ctx.aliases or ctx.is_scalar(product) or (id(node), j) in ctx.updates:
        return None
    return ctx[product], j


@emitter("fused_output")
def _fused_output(ctx: Context, node: Node) -> None:
    in_place = ctx.updated_in_place(node) is not None  # a variable's buffer
    ctx.bind(node, ctx.kernels[id(node.inputs[0])][node.attrs["index"]], alias=in_place)
