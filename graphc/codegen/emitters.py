"""CPU emitters of the non-elementwise ops, keyed by op name (elementwise ops use `expr`).

Each emitter writes the statements computing one node and binds its value in
the context. Arrays are produced C-contiguous with explicit loops (Numba
compiles loops much faster than array expressions, and slice assignment is a
multi-second compile); BLAS is used through `np.dot`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np

from graphc.codegen.cpu import (
    EMITTERS,
    Context,
    Emitter,
    broadcast_index,
    emitter,
    literal,
    np_dtype,
    shape_text,
)
from graphc.errors import GraphcError
from graphc.ir import Node
from graphc.types import normalize_axes


def map_loop(ctx: Context, node: Node, dims: list[str], source: Callable[[list[str]], str]) -> None:
    """out[index] = source(index) over every output element (a scalar node: one statement)."""
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {source([])}")
        return
    name = ctx.empty(node, dims)
    with ctx.loops(dims) as index:
        ctx.src(f"{name}[{', '.join(index)}] = {source(index)}")


def zeros_array(ctx: Context, node: Node, dims: list[str]) -> str:
    name = ctx.new(node)
    ctx.src(f"{name} = np.zeros({shape_text(dims)}, {np_dtype(node.dtype)})")
    return name


def element_at(ctx: Context, x: Node, index: list[str]) -> str:
    return ctx[x] if ctx.is_scalar(x) else f"{ctx[x]}[{', '.join(index)}]"


# ---- sources and state ------------------------------------------------------------------
@emitter("placeholder")
def _placeholder(ctx: Context, node: Node) -> None:
    raise GraphcError(f"placeholder '{node.name}' must be fed a value")


@emitter("const")
def _const(ctx: Context, node: Node) -> None:
    ctx.src(f"{ctx.new(node)} = {literal(node.attrs['value'].array, node.dtype)}")


@emitter("variable")
def _variable(ctx: Context, node: Node) -> None:
    buf = ctx.buffers[id(node)]
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {buf}[0]")
    else:
        ctx.bind(node, buf, alias=True)


@emitter("read_variable")
def _read_variable(ctx: Context, node: Node) -> None:
    var = node.inputs[0]
    for written, expr in reversed(ctx.writes):
        if written is var:
            ctx.bind(node, expr)
            return
    if id(var) not in ctx.value:
        _variable(ctx, var)
    ctx.bind(node, ctx[var], alias=id(var) in ctx.aliases)


@emitter("assign")
def _assign(ctx: Context, node: Node) -> None:
    value = node.inputs[1]
    if id(value) in ctx.aliases:  # never store a view of a buffer that another write may change
        ctx.src(f"{ctx.new(node)} = {ctx[value]}.copy()")
    else:
        ctx.bind(node, ctx[value])
    ctx.writes.append((node.inputs[0], ctx[node]))


@emitter("no_op")
def _no_op(ctx: Context, node: Node) -> None:
    ctx.bind(node, "None")


# ---- random -------------------------------------------------------------------------------
def _random_shape(ctx: Context, node: Node) -> str:
    static = node.attrs["static"]
    if static == ():
        return "(1,)"
    if None not in static:
        return shape_text([str(d) for d in static])
    s = ctx[node.inputs[0]]
    return shape_text([f"int({s}[{k}])" for k in range(len(static))])


def _draw(ctx: Context, node: Node, call: str) -> None:
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {call}[0]")
    else:
        ctx.src(f"{ctx.new(node)} = {call}")


def _float_draw(method: str) -> Emitter:
    def emit(ctx: Context, node: Node) -> None:
        rng, shape, dtype = ctx.buffers[id(node)], _random_shape(ctx, node), node.dtype
        if dtype.name in ("float32", "float64"):
            _draw(ctx, node, f"{rng}.{method}({shape}, {np_dtype(dtype)})")
        else:
            _draw(ctx, node, f"{rng}.{method}({shape}).astype({np_dtype(dtype)})")

    return emit


EMITTERS["random_uniform"] = _float_draw("random")
EMITTERS["random_standard_normal"] = _float_draw("standard_normal")


@emitter("truncated_normal")
def _truncated(ctx: Context, node: Node) -> None:
    rng, dtype = ctx.buffers[id(node)], node.dtype
    work = np_dtype(dtype) if dtype.name in ("float32", "float64") else "np.float64"
    name = ctx.names.fresh(f"{node.op_name}_draws")
    src = ctx.src
    src(f"{name} = {rng}.standard_normal({_random_shape(ctx, node)}, {work})")
    src(f"{name}_flat = {name}.reshape(-1)")
    with src.indent("while True:  # redraw values beyond two stddevs, in order, as NumPy"):
        src("bad = 0")
        with src.indent(f"for i in range({name}_flat.size):"):
            src(f"bad += abs({name}_flat[i]) > 2")
        with src.indent("if bad == 0:"):
            src("break")
        src(f"fresh = {rng}.standard_normal(bad, {work})")
        src("j = 0")
        with (
            src.indent(f"for i in range({name}_flat.size):"),
            src.indent(f"if abs({name}_flat[i]) > 2:"),
        ):
            src(f"{name}_flat[i] = fresh[j]")
            src("j += 1")
    value = f"{name}.astype({np_dtype(dtype)})" if work != np_dtype(dtype) else name
    src(f"{ctx.new(node)} = {value}{'[0]' if ctx.is_scalar(node) else ''}")


@emitter("random_uniform_int")
def _uniform_int(ctx: Context, node: Node) -> None:
    rng, a = ctx.buffers[id(node)], node.attrs
    shape = _random_shape(ctx, node)
    call = f"{rng}.integers({a['minval']}, {a['maxval']}, {shape}).astype({np_dtype(node.dtype)})"
    _draw(ctx, node, call)


# ---- reductions -------------------------------------------------------------------------------
REDUCE = {
    "reduce_sum": ("0", "{acc} + {v}"),
    "reduce_prod": ("1", "{acc} * {v}"),
    "reduce_max": ("lowest", "({v} if {v} > {acc} or {v} != {v} else {acc})"),
    "reduce_min": ("highest", "({v} if {v} < {acc} or {v} != {v} else {acc})"),
}


def reduction_init(ctx: Context, node: Node, kind: str) -> str:
    np_t = node.dtype.np
    if kind == "lowest":
        return literal(-np.inf if np_t.kind == "f" else np.iinfo(np_t).min, node.dtype)
    if kind == "highest":
        return literal(np.inf if np_t.kind == "f" else np.iinfo(np_t).max, node.dtype)
    return literal(int(kind), node.dtype)


def _reduced(ctx: Context, node: Node, x: Node) -> tuple[tuple[int, ...], bool]:
    axis = node.attrs["axis"]
    return normalize_axes(axis, len(x.type.shape)), node.attrs.get("keepdims", False)


def out_index(index: list[str], axes: tuple[int, ...], keep: bool) -> list[str]:
    """The output index of a reduction: reduced axes become 0 (keepdims) or vanish."""
    return ["0" if k in axes else i for k, i in enumerate(index) if keep or k not in axes]


def allocate_reduction(
    ctx: Context, node: Node, name: str, dims: list[str], extent: list[str]
) -> None:
    """The output array of a reduction over `extent`, filled with the identity only when
    that extent may be empty (otherwise the first reduced element initializes each entry)."""
    t = np_dtype(node.dtype)
    if all(d.isdigit() and int(d) > 0 for d in extent):
        ctx.src(f"{name} = np.empty({shape_text(dims)}, {t})")
        return
    identity = reduction_init(ctx, node, REDUCE.get(node.opdef.name, ("0",))[0])
    ctx.src(f"{name} = np.empty({shape_text(dims)}, {t})")
    with ctx.src.indent(
        f"if {' * '.join(extent) or '1'} == 0:  # an empty reduction: the identity"
    ):
        ctx.src(f"{name}_flat = {name}.reshape(-1)")
        with ctx.src.indent(f"for i in range({name}_flat.size):"):
            ctx.src(f"{name}_flat[i] = {identity}")


def first_reduced(index: list[str], axes: tuple[int, ...]) -> str:
    """The test "this is the first element reduced into its output position": every reduced
    index is 0. An index that is the literal 0 (an axis of extent 1, no loop) always is, so
    it is left out; "" when the test always holds."""
    return " and ".join(f"{index[a]} == 0" for a in axes if index[a] != "0")


def reduce_into(ctx: Context, target: str, combine: str, value: str, first: str) -> None:
    """target = value for the first reduced element (`first`, see `first_reduced`; "" for
    always), else combine(target, value)."""
    if not first:
        ctx.src(f"{target} = {value}")
        return
    with ctx.src.indent(f"if {first}:"):
        ctx.src(f"{target} = {value}")
    with ctx.src.indent("else:"):
        ctx.src(f"{target} = {combine.format(acc=target, v=value)}")


@emitter(*REDUCE)
def _reduce(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    _, combine = REDUCE[node.opdef.name]
    axes, keep = _reduced(ctx, node, x)
    in_dims = ctx.dims(x)
    if ctx.is_scalar(node):
        acc = ctx.names.fresh(f"acc_{node.op_name}")
        wide = node.opdef.name == "reduce_sum" and node.dtype.name in ("float16", "float32")
        start = "0.0" if wide else reduction_init(ctx, node, REDUCE[node.opdef.name][0])
        ctx.src(f"{acc} = {start}{'  # float32 sums accumulate in float64' if wide else ''}")
        with ctx.loops(in_dims) as index:
            ctx.src(f"{acc} = {combine.format(acc=acc, v=element_at(ctx, x, index))}")
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({acc})")
        return
    out_dims = [("1" if k in axes else d) for k, d in enumerate(in_dims) if keep or k not in axes]
    name = ctx.new(node)
    allocate_reduction(ctx, node, name, out_dims, [in_dims[a] for a in axes])
    with ctx.loops(in_dims) as index:
        target = f"{name}[{', '.join(out_index(index, axes, keep))}]"
        reduce_into(ctx, target, combine, element_at(ctx, x, index), first_reduced(index, axes))


@emitter("argmax", "argmin")
def _arg(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    axis = node.attrs["axis"]
    better = ">" if node.opdef.name == "argmax" else "<"
    out_dims = [d for k, d in enumerate(ctx.dims(x)) if k != axis] or ["1"]
    name = ctx.names.fresh(f"{node.op_name}_index")
    ctx.src(f"{name} = np.empty({shape_text(out_dims)}, {np_dtype(node.dtype)})")
    best = ctx.names.fresh(f"{node.op_name}_best")
    ctx.src(f"{best} = np.empty({shape_text(out_dims)}, {np_dtype(x.dtype)})")
    with ctx.loops(ctx.dims(x)) as index:
        at = ", ".join([i for k, i in enumerate(index) if k != axis] or ["0"])
        value = f"{ctx[x]}[{', '.join(index)}]"
        first = first_reduced(index, (axis,))  # "": an axis of extent 1, its only element wins
        with (
            ctx.src.indent(f"if {first} or {value} {better} {best}[{at}]:")
            if first
            else nullcontext()
        ):
            ctx.src(f"{best}[{at}] = {value}")
            ctx.src(f"{name}[{at}] = {index[axis]}")
    ctx.src(f"{ctx.new(node)} = {name}[0]" if ctx.is_scalar(node) else f"{ctx.new(node)} = {name}")


@emitter("sum_to_like")
def _sum_to_like(ctx: Context, node: Node) -> None:
    x, like = node.inputs
    if ctx.is_scalar(node):
        acc = ctx.names.fresh(f"acc_{node.op_name}")
        ctx.src(f"{acc} = {literal(0, node.dtype)}")
        with ctx.loops(ctx.dims(x)) as index:
            ctx.src(f"{acc} += {element_at(ctx, x, index)}")
        ctx.bind(node, acc)
        return
    name = zeros_array(ctx, node, ctx.dims(like))
    with ctx.loops(ctx.dims(x)) as index:
        target = broadcast_index(like.type.shape, index, x.type.shape)
        ctx.src(f"{name}[{', '.join(target)}] += {element_at(ctx, x, index)}")


@emitter("reduced_size")
def _reduced_size(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    axes = normalize_axes(node.attrs["axis"], len(x.type.shape))
    dims = [ctx.dims(x)[a] for a in axes] or ["1"]
    ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({' * '.join(dims)})")
