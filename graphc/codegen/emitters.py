"""CPU emitters of the non-elementwise ops, keyed by op name (elementwise ops use `expr`).

Each emitter writes the statements computing one node and binds its value in
the context. Arrays are produced C-contiguous with explicit loops (Numba
compiles loops much faster than array expressions, and slice assignment is a
multi-second compile); BLAS is used through `np.dot` on contiguous operands.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from graphc.codegen.cpu import Context, element, literal, np_dtype, shape_text
from graphc.errors import GraphcError
from graphc.ir import Node
from graphc.ops.conv import _pads, out_size
from graphc.ops.index import _expand
from graphc.types import normalize_axes

Emitter = Callable[[Context, Node], None]
EMITTERS: dict[str, Emitter] = {}


def emitter(*names: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for name in names:
            EMITTERS[name] = fn
        return fn

    return register


def _map(ctx: Context, node: Node, dims: list[str], source: Callable[[list[str]], str]) -> None:
    """out[index] = source(index) over every output element (a scalar node: one statement)."""
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {source([])}")
        return
    name = ctx.empty(node, dims)
    with ctx.loops(dims) as index:
        ctx.src(f"{name}[{', '.join(index)}] = {source(index)}")


def _zeros(ctx: Context, node: Node, dims: list[str]) -> str:
    name = ctx.new(node)
    ctx.src(f"{name} = np.zeros({shape_text(dims)}, {np_dtype(node.dtype)})")
    return name


def _at(ctx: Context, x: Node, index: list[str]) -> str:
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


# ---- linear algebra -------------------------------------------------------------------------
def _contiguous_t(ctx: Context, x: Node, transpose: bool, label: str) -> str:
    if not transpose:
        return ctx[x]
    name = ctx.names.fresh(label)
    ctx.src(f"{name} = np.ascontiguousarray({ctx[x]}.T)")
    return name


@emitter("matmul")
def _matmul(ctx: Context, node: Node) -> None:
    a, b = node.inputs
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    if len(node.type.shape) == 2 and node.dtype.is_floating:
        left = _contiguous_t(ctx, a, ta, f"{node.op_name}_a")
        right = _contiguous_t(ctx, b, tb, f"{node.op_name}_b")
        ctx.src(f"{ctx.new(node)} = np.dot({left}, {right})")
        return
    _matmul_loops(ctx, node, a, b, ta, tb)


def _matmul_dims(ctx: Context, node: Node) -> list[str]:
    (a, b), rank = node.inputs, len(node.type.shape)
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    ra, rb = len(a.type.shape), len(b.type.shape)
    dims = []
    for k, d in enumerate(node.type.shape):
        if d is not None:
            dims.append(str(d))
        elif k == rank - 2:
            dims.append(f"{ctx[a]}.shape[{ra - 1 if ta else ra - 2}]")
        elif k == rank - 1:
            dims.append(f"{ctx[b]}.shape[{rb - 2 if tb else rb - 1}]")
        else:
            x = a if k - (rank - ra) >= 0 and a.type.shape[k - (rank - ra)] is None else b
            dims.append(f"{ctx[x]}.shape[{k - (rank - len(x.type.shape))}]")
    return dims


def _matmul_loops(ctx: Context, node: Node, a: Node, b: Node, ta: bool, tb: bool) -> None:
    """Batched or integer matmul as explicit loops (batch dims broadcast)."""
    dims = _matmul_dims(ctx, node)
    rank, ra = len(node.type.shape), len(a.type.shape)
    k_dim = f"{ctx[a]}.shape[{ra - 2 if ta else ra - 1}]"
    name = ctx.empty(node, dims)
    batch_out = node.type.shape[:-2]
    with ctx.loops(dims) as index:
        acc = ctx.names.fresh("acc")
        ctx.src(f"{acc} = {literal(0, node.dtype)}")
        with ctx.src.indent(f"for k in range({k_dim}):"):
            ia = _batch_index(a, index[: rank - 2], batch_out)
            ib = _batch_index(b, index[: rank - 2], batch_out)
            ra_ = [index[-2], "k"][:: -1 if ta else 1]
            rb_ = ["k", index[-1]][:: -1 if tb else 1]
            ctx.src(f"{acc} += {ctx[a]}[{', '.join(ia + ra_)}] * {ctx[b]}[{', '.join(ib + rb_)}]")
        ctx.src(f"{name}[{', '.join(index)}] = {acc}")


def _batch_index(x: Node, batch_index: list[str], batch_out: tuple) -> list[str]:
    batch = x.type.shape[:-2]
    offset = len(batch_out) - len(batch)
    return [
        "0" if d == 1 and batch_out[j + offset] != 1 else batch_index[j + offset]
        for j, d in enumerate(batch)
    ]


@emitter("einsum")
def _einsum(ctx: Context, node: Node) -> None:
    """Explicit loops: output indices outside, summed indices inside."""
    lhs, out = node.attrs["equation"].split("->")
    specs = lhs.split(",")
    size: dict[str, str] = {}
    for spec, x in zip(specs, node.inputs, strict=True):
        for c, d in zip(spec, ctx.dims(x), strict=True):
            size.setdefault(c, d)
    summed = [c for c in dict.fromkeys("".join(specs)) if c not in out]
    name = None if ctx.is_scalar(node) else ctx.empty(node, [size[c] for c in out])
    with ctx.loops([size[c] for c in out]) as out_index:
        acc = ctx.names.fresh("acc")
        ctx.src(f"{acc} = {literal(0, node.dtype)}")
        with ctx.loops([size[c] for c in summed]) as sum_index:
            index = dict(zip(out + "".join(summed), out_index + sum_index, strict=True))
            terms = [
                _at(ctx, x, [index[c] for c in spec])
                for spec, x in zip(specs, node.inputs, strict=True)
            ]
            ctx.src(f"{acc} += {' * '.join(terms)}")
        if name is not None:
            ctx.src(f"{name}[{', '.join(out_index)}] = {acc}")
    if name is None:
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({acc})")


# ---- reductions -------------------------------------------------------------------------------
_REDUCE = {
    "reduce_sum": ("0", "{acc} + {v}"),
    "reduce_prod": ("1", "{acc} * {v}"),
    "reduce_max": ("lowest", "({v} if {v} > {acc} or {v} != {v} else {acc})"),
    "reduce_min": ("highest", "({v} if {v} < {acc} or {v} != {v} else {acc})"),
}


def _init(ctx: Context, node: Node, kind: str) -> str:
    np_t = node.dtype.np
    if kind == "lowest":
        return literal(-np.inf if np_t.kind == "f" else np.iinfo(np_t).min, node.dtype)
    if kind == "highest":
        return literal(np.inf if np_t.kind == "f" else np.iinfo(np_t).max, node.dtype)
    return literal(int(kind), node.dtype)


def _reduced(ctx: Context, node: Node, x: Node) -> tuple[tuple[int, ...], bool]:
    axis = node.attrs["axis"]
    return normalize_axes(axis, len(x.type.shape)), node.attrs.get("keepdims", False)


def _out_index(index: list[str], axes: tuple[int, ...], keep: bool) -> list[str]:
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
    identity = _init(ctx, node, _REDUCE.get(node.opdef.name, ("0",))[0])
    with ctx.src.indent(
        f"if {' * '.join(extent) or '1'} == 0:  # an empty reduction: the identity"
    ):
        ctx.src(f"{name} = np.full({shape_text(dims)}, {identity}, {t})")
    with ctx.src.indent("else:"):
        ctx.src(f"{name} = np.empty({shape_text(dims)}, {t})")


def reduce_into(ctx: Context, target: str, combine: str, value: str, first: str) -> None:
    """target = value for the first reduced element, else combine(target, value)."""
    if not first:
        ctx.src(f"{target} = {value}")
        return
    with ctx.src.indent(f"if {first}:"):
        ctx.src(f"{target} = {value}")
    with ctx.src.indent("else:"):
        ctx.src(f"{target} = {combine.format(acc=target, v=value)}")


@emitter(*_REDUCE)
def _reduce(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    _, combine = _REDUCE[node.opdef.name]
    axes, keep = _reduced(ctx, node, x)
    in_dims = ctx.dims(x)
    if ctx.is_scalar(node):
        acc = ctx.names.fresh("acc")
        wide = node.opdef.name == "reduce_sum" and node.dtype.name in ("float16", "float32")
        start = "0.0" if wide else _init(ctx, node, _REDUCE[node.opdef.name][0])
        ctx.src(f"{acc} = {start}{'  # float32 sums accumulate in float64' if wide else ''}")
        with ctx.loops(in_dims) as index:
            ctx.src(f"{acc} = {combine.format(acc=acc, v=_at(ctx, x, index))}")
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({acc})")
        return
    out_dims = [("1" if k in axes else d) for k, d in enumerate(in_dims) if keep or k not in axes]
    name = ctx.new(node)
    allocate_reduction(ctx, node, name, out_dims, [in_dims[a] for a in axes])
    with ctx.loops(in_dims) as index:
        target = f"{name}[{', '.join(_out_index(index, axes, keep))}]"
        first = " and ".join(f"{index[a]} == 0" for a in axes)
        reduce_into(ctx, target, combine, _at(ctx, x, index), first)


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
        with ctx.src.indent(
            f"if {index[axis]} == 0 or {ctx[x]}[{', '.join(index)}] {better} {best}[{at}]:"
        ):
            ctx.src(f"{best}[{at}] = {ctx[x]}[{', '.join(index)}]")
            ctx.src(f"{name}[{at}] = {index[axis]}")
    ctx.src(f"{ctx.new(node)} = {name}[0]" if ctx.is_scalar(node) else f"{ctx.new(node)} = {name}")


@emitter("sum_to_like")
def _sum_to_like(ctx: Context, node: Node) -> None:
    x, like = node.inputs
    offset = len(x.type.shape) - len(like.type.shape)

    def target_index(index: list[str]) -> list[str]:
        return [
            "0" if d == 1 and x.type.shape[j + offset] != 1 else index[j + offset]
            for j, d in enumerate(like.type.shape)
        ]

    if ctx.is_scalar(node):
        acc = ctx.names.fresh("acc")
        ctx.src(f"{acc} = {literal(0, node.dtype)}")
        with ctx.loops(ctx.dims(x)) as index:
            ctx.src(f"{acc} += {_at(ctx, x, index)}")
        ctx.bind(node, acc)
        return
    name = _zeros(ctx, node, ctx.dims(like))
    with ctx.loops(ctx.dims(x)) as index:
        ctx.src(f"{name}[{', '.join(target_index(index))}] += {_at(ctx, x, index)}")


@emitter("reduced_size")
def _reduced_size(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    axes = normalize_axes(node.attrs["axis"], len(x.type.shape))
    dims = [ctx.dims(x)[a] for a in axes] or ["1"]
    ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({' * '.join(dims)})")


# ---- shape ------------------------------------------------------------------------------------
@emitter("broadcast_like", "broadcast_to")
def _broadcast(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    dims = ctx.dims(node.inputs[1]) if len(node.inputs) > 1 else [str(d) for d in node.type.shape]
    _map(ctx, node, dims, lambda index: element(ctx, x, index, node.type.shape))


def _reshape_dims(ctx: Context, node: Node) -> list[str]:
    x = node.inputs[0]
    op = node.opdef.name
    if op == "reshape_like":
        return ctx.dims(node.inputs[1])
    if op == "expand_dims":
        dims = ctx.dims(x)
        return [*dims[: node.attrs["axis"]], "1", *dims[node.attrs["axis"] :]]
    if op == "squeeze":
        return [d for k, d in enumerate(ctx.dims(x)) if k not in node.attrs["axis"]]
    known = math.prod(d for d in node.attrs["shape"] if d != -1)
    return [str(s) if s is not None else f"{ctx.size(x)} // {known}" for s in node.type.shape]


@emitter("reshape", "reshape_like", "expand_dims", "squeeze")
def _reshape(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {ctx[x] if ctx.is_scalar(x) else ctx[x] + '.reshape(-1)[0]'}")
        return
    dims = _reshape_dims(ctx, node)
    shape = f"{shape_text(dims)}"
    if ctx.is_scalar(x):
        ctx.src(f"{ctx.new(node)} = np.full({shape}, {ctx[x]})")
        return
    ctx.src(f"{ctx.new(node)} = {ctx[x]}.reshape({shape})")
    if id(x) in ctx.aliases:
        ctx.aliases.add(id(node))


@emitter("transpose")
def _transpose(ctx: Context, node: Node) -> None:
    x, perm = node.inputs[0], node.attrs["perm"]
    in_dims = ctx.dims(x)

    def source(index: list[str]) -> str:
        src = [""] * len(perm)
        for k, p in enumerate(perm):
            src[p] = index[k]
        return _at(ctx, x, src)

    _map(ctx, node, [in_dims[p] for p in perm], source)


@emitter("tile")
def _tile(ctx: Context, node: Node) -> None:
    x, multiples = node.inputs[0], node.attrs["multiples"]
    dims = ctx.dims(x)
    out = [f"{d} * {m}" for d, m in zip(dims, multiples, strict=True)]
    _map(
        ctx,
        node,
        out,
        lambda index: _at(ctx, x, [f"{i} % {d}" for i, d in zip(index, dims, strict=True)]),
    )


@emitter("pad")
def _pad(ctx: Context, node: Node) -> None:
    x, pads = node.inputs[0], node.attrs["paddings"]
    dims = ctx.dims(x)
    out = [f"{d} + {a + b}" for d, (a, b) in zip(dims, pads, strict=True)]
    fill = literal(node.attrs["constant_values"], node.dtype)

    def source(index: list[str]) -> str:
        inside = " and ".join(
            f"{a} <= {i} < {a} + {d}" for i, d, (a, _) in zip(index, dims, pads, strict=True)
        )
        at = _at(ctx, x, [f"{i} - {a}" for i, (a, _) in zip(index, pads, strict=True)])
        return f"({at} if {inside} else {fill})"

    _map(ctx, node, out, source)


@emitter("shape")
def _shape(ctx: Context, node: Node) -> None:
    dims = ctx.dims(node.inputs[0])
    t = np_dtype(node.dtype)
    if not dims:
        ctx.src(f"{ctx.new(node)} = np.zeros(0, {t})")
    else:
        ctx.src(f"{ctx.new(node)} = np.array({shape_text(dims)}, {t})")


@emitter("size")
def _size(ctx: Context, node: Node) -> None:
    ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({ctx.size(node.inputs[0])})")


@emitter("fill")
def _fill(ctx: Context, node: Node) -> None:
    dims_arr, value = node.inputs
    dims = [f"int({ctx[dims_arr]}[{k}])" for k in range(len(node.type.shape))]
    _map(ctx, node, dims, lambda index: ctx[value])


@emitter("range")
def _range(ctx: Context, node: Node) -> None:
    start, limit, delta = (ctx[x] for x in node.inputs)
    t = np_dtype(node.dtype)
    ctx.src(f"{ctx.new(node)} = np.arange({start}, {limit}, {delta}).astype({t})")


# ---- indexing ---------------------------------------------------------------------------------
def _slice_map(
    ctx: Context, node: Node, x: Node
) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    """Output dims of x[spec] and the map from an output index to x's index."""
    spec = _expand(node.attrs["spec"], len(x.type.shape))
    dims, static = ctx.dims(x), x.type.shape
    out_dims: list[str] = []
    plan: list[tuple[str, str, str]] = []  # per input axis: (kind, start or index, step)
    axis = 0
    for entry in spec:
        if entry[0] == "n":
            out_dims.append("1")
            plan.append(("n", "", ""))
            continue
        d, known = dims[axis], static[axis]
        axis += 1
        if entry[0] == "i":
            idx = entry[1]
            plan.append(
                (
                    "i",
                    str(idx % known if known else idx) if idx >= 0 or known else f"{d} + ({idx})",
                    "",
                )
            )
            continue
        if known is not None:
            start, stop, step = slice(*entry[1:]).indices(known)
            out_dims.append(str(len(range(start, stop, step))))
            plan.append(("s", str(start), str(step)))
        else:
            bounds = ctx.names.fresh(f"{node.op_name}_axis{axis - 1}")
            ctx.src(f"{bounds} = slice({entry[1]}, {entry[2]}, {entry[3]}).indices({d})")
            out_dims.append(f"len(range({bounds}[0], {bounds}[1], {bounds}[2]))")
            plan.append(("s", f"{bounds}[0]", f"{bounds}[2]"))

    def source(index: list[str]) -> list[str]:
        out, at = [], 0
        for kind, start, step in plan:
            if kind == "n":
                at += 1
            elif kind == "i":
                out.append(start)
            else:
                out.append(f"{start} + {step} * {index[at]}")
                at += 1
        return out

    return out_dims, source


@emitter("strided_slice")
def _strided_slice(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    dims, source = _slice_map(ctx, node, x)
    _map(ctx, node, dims, lambda index: _at(ctx, x, source(index)))


@emitter("strided_slice_grad")
def _strided_slice_grad(ctx: Context, node: Node) -> None:
    g, like = node.inputs
    dims, source = _slice_map(ctx, node, like)
    name = _zeros(ctx, node, ctx.dims(like))
    with ctx.loops(dims) as index:
        ctx.src(f"{name}[{', '.join(source(index))}] = {_at(ctx, g, index)}")


@emitter("concat")
def _concat(ctx: Context, node: Node) -> None:
    axis = node.attrs["axis"]
    first = ctx.dims(node.inputs[0])
    sizes = [ctx.dims(x)[axis] for x in node.inputs]
    dims = [*first[:axis], " + ".join(sizes), *first[axis + 1 :]]
    name = ctx.empty(node, dims)
    offset = "0"
    for x, size in zip(node.inputs, sizes, strict=True):
        with ctx.loops(ctx.dims(x)) as index:
            target = [f"{offset} + {i}" if k == axis else i for k, i in enumerate(index)]
            ctx.src(f"{name}[{', '.join(target)}] = {ctx[x]}[{', '.join(index)}]")
        offset = size if offset == "0" else f"{offset} + {size}"


def _checked_index(ctx: Context, node: Node, indices: Node, index: list[str], bound: str) -> str:
    j = ctx.names.fresh("j")
    ctx.src(f"{j} = {_at(ctx, indices, index)}")
    with ctx.src.indent(f"if {j} < 0 or {j} >= {bound}:"):
        ctx.src(
            f"raise IndexError(\"{node.opdef.type_name} '{node.op_name}': index out of range\")"
        )
    return j


@emitter("gather")
def _gather(ctx: Context, node: Node) -> None:
    params, indices = node.inputs
    axis, k = node.attrs["axis"], len(indices.type.shape)
    pdims = ctx.dims(params)
    dims = [*pdims[:axis], *ctx.dims(indices), *pdims[axis + 1 :]]
    if ctx.is_scalar(node):
        j = _checked_index(ctx, node, indices, [], pdims[0])
        ctx.src(f"{ctx.new(node)} = {ctx[params]}[{j}]")
        return
    name = ctx.empty(node, dims)
    with ctx.loops(dims) as index:
        j = _checked_index(ctx, node, indices, index[axis : axis + k], pdims[axis])
        src = [*index[:axis], j, *index[axis + k :]]
        ctx.src(f"{name}[{', '.join(index)}] = {ctx[params]}[{', '.join(src)}]")


@emitter("scatter_add_like")
def _scatter_add(ctx: Context, node: Node) -> None:
    updates, indices, like = node.inputs
    axis, k = node.attrs["axis"], len(indices.type.shape)
    name = _zeros(ctx, node, ctx.dims(like))
    with ctx.loops(ctx.dims(updates)) as index:
        j = _checked_index(ctx, node, indices, index[axis : axis + k], ctx.dims(like)[axis])
        target = [*index[:axis], j, *index[axis + k :]]
        ctx.src(f"{name}[{', '.join(target)}] += {_at(ctx, updates, index)}")


@emitter("one_hot")
def _one_hot(ctx: Context, node: Node) -> None:
    indices = node.inputs[0]
    a = node.attrs
    rank = len(node.type.shape)
    axis = a["axis"] % rank
    dims = ctx.dims(indices)
    dims = [*dims[:axis], str(a["depth"]), *dims[axis:]]
    on, off = literal(a["on"], node.dtype), literal(a["off"], node.dtype)

    def source(index: list[str]) -> str:
        rest = index[:axis] + index[axis + 1 :]
        return f"({on} if {_at(ctx, indices, rest)} == {index[axis]} else {off})"

    _map(ctx, node, dims, source)


# ---- images -----------------------------------------------------------------------------------
def _window_geometry(
    ctx: Context, node: Node, image: Node
) -> tuple[list[str], list[str], list[str]]:
    """Output spatial dims and the top/left padding, as source text."""
    a = node.attrs
    _, h, w, _ = image.type.shape
    hd, wd = ctx.dims(image)[1:3]
    outs, pads = [], []
    for known, d, k, s in zip((h, w), (hd, wd), a["ksize"], a["strides"], strict=True):
        if known is not None:
            o = out_size(known, k, s, a["padding"])
            outs.append(str(o))
            pads.append(str(_pads(known, k, s, a["padding"])[0]))
        elif a["padding"] == "SAME":
            outs.append(f"(-(-{d} // {s}))")
            pads.append(f"max((-(-{d} // {s}) - 1) * {s} + {k} - {d}, 0) // 2")
        else:
            outs.append(f"(-(-({d} - {k} + 1) // {s}))")
            pads.append("0")
    return outs, pads, [hd, wd]


@emitter("extract_patches")
def _extract_patches(ctx: Context, node: Node) -> None:
    x, a = node.inputs[0], node.attrs
    (oh, ow), (ph, pw), (h, w) = _window_geometry(ctx, node, x)
    xd = ctx.dims(x)
    dims = [xd[0], oh, ow, str(a["ksize"][0]), str(a["ksize"][1]), xd[3]]
    fill = literal(a["pad_value"], node.dtype)
    (sh, sw) = a["strides"]

    def source(i: list[str]) -> str:
        r, c = f"{i[1]} * {sh} - {ph} + {i[3]}", f"{i[2]} * {sw} - {pw} + {i[4]}"
        inside = f"0 <= {r} < {h} and 0 <= {c} < {w}"
        return f"({ctx[x]}[{i[0]}, {r}, {c}, {i[5]}] if {inside} else {fill})"

    _map(ctx, node, dims, source)


@emitter("patches_to_image")
def _patches_to_image(ctx: Context, node: Node) -> None:
    p, like = node.inputs
    (_, _), (ph, pw), (h, w) = _window_geometry(ctx, node, like)
    (sh, sw) = node.attrs["strides"]
    name = _zeros(ctx, node, ctx.dims(like))
    with ctx.loops(ctx.dims(p)) as i:
        r, c = f"{i[1]} * {sh} - {ph} + {i[3]}", f"{i[2]} * {sw} - {pw} + {i[4]}"
        with ctx.src.indent(f"if 0 <= {r} < {h} and 0 <= {c} < {w}:"):
            ctx.src(f"{name}[{i[0]}, {r}, {c}, {i[5]}] += {ctx[p]}[{', '.join(i)}]")


@emitter("in_top_k")
def _in_top_k(ctx: Context, node: Node) -> None:
    pred, targets = node.inputs
    rows, classes = ctx.dims(pred)
    name = ctx.empty(node, [rows])
    k = node.attrs["k"]
    with ctx.loops([rows]) as (b,):
        ctx.src(f"target = {ctx[pred]}[{b}, {ctx[targets]}[{b}]]")
        ctx.src("above = 0")
        with ctx.src.indent(f"for c in range({classes}):"):
            ctx.src(f"above += {ctx[pred]}[{b}, c] > target")
        ctx.src(f"{name}[{b}] = above < {k} and math.isfinite(target)")
