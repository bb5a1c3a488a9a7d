"""CPU emitters of linear algebra, shape, indexing and image ops (see emitters.py).

Arrays are produced C-contiguous with explicit loops; matmul uses BLAS through
`np.dot`, a transposed operand passed as its transposed view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from graphc.codegen.context import (
    Context,
    broadcast_index,
    calls_blas,
    element,
    literal,
    np_dtype,
    shape_text,
    unknown_dim,
)
from graphc.codegen.emitters import element_at, emitter, map_loop, zeros_array
from graphc.ir import Node
from graphc.ops.conv import _pads, out_size
from graphc.ops.index import _expand
from graphc.ops.linalg import matrix_product
from graphc.types import shape_str


# ---- linear algebra -------------------------------------------------------------------------
@emitter("matmul")
def _matmul(ctx: Context, node: Node) -> None:
    a, b = node.inputs
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    if len(node.type.shape) == 2 and node.dtype.is_floating:
        a_dims, b_dims = ctx.dims(a), ctx.dims(b)
        dims = [a_dims[1 if ta else 0], b_dims[0 if tb else 1]]
        if ctx.threaded and node.dtype.name in GEMMS and _large(node):
            _split_matmul(ctx, node, dims)
            return
        # A transposed operand is passed as its (Fortran-ordered) view: BLAS reads it
        # transposed. Measured on W1: 0.2 ms per step faster than copying it C-contiguous,
        # for 0.3 s more compile (each operand layout is one more np.dot specialization).
        left = f"{ctx[a]}.T" if ta else ctx[a]
        right = f"{ctx[b]}.T" if tb else ctx[b]
        name = ctx.new(node)
        ctx.src(f"{name} = np.dot({left}, {right})")
        ctx.checks.shaped(name, dims)
        return
    _matmul_loops(ctx, node, a, b, ta, tb)


# graphc.blas's product for each dtype BLAS has
GEMMS = {"float32": "gemm32", "float64": "gemm64"}
# A threaded product splits its output's columns when there are at least this many (and no
# fewer than rows): W4's dense layer (64 x 3136 @ 3136 x 1024) ran faster as two halves of
# 512 columns than of 32 rows. Otherwise it splits the rows.
SPLIT_COLUMNS = 512
# Products whose known sizes multiply to fewer (W4's 1024 -> 10 layer) run unsplit: BLAS on
# one thread takes a few microseconds for them.
SPLIT_MIN = 1 << 17


def _large(node: Node) -> bool:
    """Whether a product's known sizes (rows, columns and summed) make it worth splitting:
    each split is a prange, about 0.4 s more compile."""
    (a, _), ta = node.inputs, node.attrs["transpose_a"]
    known = [*node.type.shape, a.type.shape[0 if ta else 1]]
    return math.prod(d for d in known if d is not None) >= SPLIT_MIN


def _by_columns(rows: int | None, cols: int | None) -> bool:
    """Whether a threaded product of this static shape splits its columns."""
    return cols is not None and cols >= SPLIT_COLUMNS and (rows is None or cols >= rows)


def _split_matmul(ctx: Context, node: Node, dims: list[str]) -> None:
    """A 2-D matmul in a threaded program: each thread's BLAS call writes one block of
    rows or of columns of the product (graphc.blas.gemm on strided views, no copies)."""
    (a, b), rows, cols = node.inputs, node.type.shape[0], node.type.shape[1]
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    by_columns = _by_columns(rows, cols)
    name = ctx.empty(node, dims)
    size = dims[1] if by_columns else dims[0]
    parts = ctx.parts(size)
    gemm = GEMMS[node.dtype.name]
    with ctx.split(parts, size) as (_, lo, hi):
        left, right, out = ctx[a], ctx[b], name
        if by_columns:
            right = f"{right}[{lo}:{hi}]" if tb else f"{right}[:, {lo}:{hi}]"
            out = f"{name}[:, {lo}:{hi}]"
        else:
            left = f"{left}[:, {lo}:{hi}]" if ta else f"{left}[{lo}:{hi}]"
            out = f"{name}[{lo}:{hi}]"
        ctx.src(f"{gemm}({left}, {right}, {out}, {ta}, {tb}, 0.0)")


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
        else:  # a batch dim, broadcast
            dims.append(unknown_dim(ctx, (a, b), k, rank))
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
            ia = broadcast_index(a.type.shape[:-2], index[: rank - 2], batch_out)
            ib = broadcast_index(b.type.shape[:-2], index[: rank - 2], batch_out)
            ra_ = [index[-2], "k"][:: -1 if ta else 1]
            rb_ = ["k", index[-1]][:: -1 if tb else 1]
            ctx.src(f"{acc} += {ctx[a]}[{', '.join(ia + ra_)}] * {ctx[b]}[{', '.join(ib + rb_)}]")
        ctx.src(f"{name}[{', '.join(index)}] = {acc}")


def _einsum_by_dot(ctx: Context, node: Node, specs: list[str], out: str) -> bool:
    """Emits a two-operand einsum that is one matrix product as `np.dot` (BLAS) on
    reshaped views: no copies, the transposes passed as views as matmul does. Convolutions
    (`nhwijc,ijco->nhwo`) and both their gradients take this form."""
    if not calls_blas(node):
        return False
    free_a, summed, free_b, swapped = matrix_product(specs, out)
    size = {
        c: d
        for s, x in zip(specs, node.inputs, strict=True)
        for c, d in zip(s, ctx.dims(x), strict=True)
    }

    def product(letters: str) -> str:
        return " * ".join(size[c] for c in letters) or "1"

    def matrix(x: Node, spec: str, free: str, summed_rows: bool) -> str:
        """x as a matrix, summed letters as rows (`summed_rows`) or as columns."""
        k_first = spec.startswith(summed) and summed != spec
        rows, cols = (summed, free) if k_first else (free, summed)
        view = f"{ctx[x]}.reshape(({product(rows)}, {product(cols)}))"
        return view if k_first == summed_rows else f"{view}.T"

    a, b = node.inputs
    left, right = (
        (matrix(b, specs[1], free_b, False), matrix(a, specs[0], free_a, True))
        if swapped
        else (matrix(a, specs[0], free_a, False), matrix(b, specs[1], free_b, True))
    )
    dims = [size[c] for c in out]
    name = ctx.new(node)
    ctx.src(f"{name} = np.dot({left}, {right}).reshape({shape_text(dims)})")
    ctx.checks.shaped(name, dims)
    return True


@emitter("einsum")
def _einsum(ctx: Context, node: Node) -> None:
    """A matrix product through BLAS when it is one (`_einsum_by_dot`), else explicit
    loops: output indices outside, summed indices inside."""
    lhs, out = node.attrs["equation"].split("->")
    specs = lhs.split(",")
    if _einsum_by_dot(ctx, node, specs, out):
        return
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
                element_at(ctx, x, [index[c] for c in spec])
                for spec, x in zip(specs, node.inputs, strict=True)
            ]
            ctx.src(f"{acc} += {' * '.join(terms)}")
        if name is not None:
            ctx.src(f"{name}[{', '.join(out_index)}] = {acc}")
    if name is None:
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({acc})")


# ---- shape ------------------------------------------------------------------------------------
@emitter("broadcast_like", "broadcast_to")
def _broadcast(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    dims = ctx.dims(node.inputs[1]) if len(node.inputs) > 1 else [str(d) for d in node.type.shape]
    map_loop(ctx, node, dims, lambda index: element(ctx, x, index, node.type.shape))


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


def _reshape_always_fits(node: Node, x: Node) -> bool:
    """True when the reshape cannot fail at run time, so it needs no check: its dims are
    read off x itself (expand_dims, squeeze), every size is static, or x has one unknown
    dim and its known size is a multiple of the known part of a `reshape` shape with one
    -1 (then x's size always divides evenly: a batch reshaped to [-1, ...])."""
    if node.opdef.name in ("expand_dims", "squeeze"):
        return True
    if None not in x.type.shape and None not in node.type.shape:
        return True
    if node.opdef.name != "reshape" or list(x.type.shape).count(None) != 1:
        return False
    target = node.attrs["shape"]
    known = math.prod(d for d in target if d != -1)
    return -1 in target and math.prod(d for d in x.type.shape if d is not None) % known == 0


@emitter("reshape", "reshape_like", "expand_dims", "squeeze")
def _reshape(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    if ctx.is_scalar(node):
        ctx.src(f"{ctx.new(node)} = {ctx[x] if ctx.is_scalar(x) else ctx[x] + '.reshape(-1)[0]'}")
        return
    dims = _reshape_dims(ctx, node)
    shape = f"{shape_text(dims)}"
    if ctx.is_scalar(x):  # every dim is 1 (np.full would cost a compile of its own)
        name = ctx.new(node)
        ctx.src(f"{name} = np.empty({shape}, {np_dtype(node.dtype)})")
        ctx.src(f"{name}[{', '.join('0' for _ in dims)}] = {ctx[x]}")
        return
    size, new_size = ctx.size(x), " * ".join(dims)
    if not _reshape_always_fits(node, x):
        message = f"cannot reshape {{}} elements into shape {shape_str(node.type.shape)}"
        ctx.checks.require(ctx.src, node, f"{size} != {new_size}", message, [size])
    name = ctx.new(node)
    ctx.src(f"{name} = {ctx[x]}.reshape({shape})")
    ctx.checks.shaped(name, dims)
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
        return element_at(ctx, x, src)

    map_loop(ctx, node, [in_dims[p] for p in perm], source)


@emitter("tile")
def _tile(ctx: Context, node: Node) -> None:
    x, multiples = node.inputs[0], node.attrs["multiples"]
    dims = ctx.dims(x)
    out = [f"{d} * {m}" for d, m in zip(dims, multiples, strict=True)]
    map_loop(
        ctx,
        node,
        out,
        lambda index: element_at(ctx, x, [f"{i} % {d}" for i, d in zip(index, dims, strict=True)]),
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
        at = element_at(ctx, x, [f"{i} - {a}" for i, (a, _) in zip(index, pads, strict=True)])
        return f"({at} if {inside} else {fill})"

    map_loop(ctx, node, out, source)


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
    for k, d in enumerate(dims):
        ctx.checks.require(ctx.src, node, f"{d} < 0", f"dims[{k}] is {{}}, a negative size", [d])
    map_loop(ctx, node, dims, lambda index: ctx[value])


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
            at = str(idx % known if known else idx) if idx >= 0 or known else f"{d} + ({idx})"
            if known is None:  # checked like NumPy: -d <= idx < d
                ctx.checks.in_range(ctx.src, node, f"index (axis {axis - 1})", at, d)
            plan.append(("i", at, ""))
            continue
        if entry[0] == "x":  # exactly elements [start, stop): they must exist
            start, stop = entry[1:]
            if known is None:
                message = f"elements [{start}, {stop}) of axis {axis - 1} go past its size {{}}"
                ctx.checks.require(ctx.src, node, f"{d} < {stop}", message, [d])
            out_dims.append(str(stop - start))
            plan.append(("s", str(start), "1"))
        elif known is not None:
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
    map_loop(ctx, node, dims, lambda index: element_at(ctx, x, source(index)))


@emitter("strided_slice_grad")
def _strided_slice_grad(ctx: Context, node: Node) -> None:
    g, like = node.inputs
    dims, source = _slice_map(ctx, node, like)
    name = zeros_array(ctx, node, ctx.dims(like))
    with ctx.loops(dims) as index:
        ctx.src(f"{name}[{', '.join(source(index))}] = {element_at(ctx, g, index)}")


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
    ctx.src(f"{j} = {element_at(ctx, indices, index)}")
    ctx.checks.in_range(ctx.src, node, "index", j, bound)
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
    name = zeros_array(ctx, node, ctx.dims(like))
    with ctx.loops(ctx.dims(updates)) as index:
        j = _checked_index(ctx, node, indices, index[axis : axis + k], ctx.dims(like)[axis])
        target = [*index[:axis], j, *index[axis + k :]]
        ctx.src(f"{name}[{', '.join(target)}] += {element_at(ctx, updates, index)}")


@emitter("check_labels")
def _check_labels(ctx: Context, node: Node) -> None:
    labels, logits = node.inputs
    classes = ctx.dims(logits)[-1]
    with ctx.loops(ctx.dims(labels)) as index:
        ctx.checks.in_range(ctx.src, node, "label", element_at(ctx, labels, index), classes)
    ctx.bind(node, ctx[labels], alias=id(labels) in ctx.aliases)


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
        return f"({on} if {element_at(ctx, indices, rest)} == {index[axis]} else {off})"

    map_loop(ctx, node, dims, source)


# ---- images -----------------------------------------------------------------------------------
def _window_geometry(
    ctx: Context, node: Node, image: Node, ksize: tuple[int, int] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Output spatial dims, the top/left padding and the image's spatial dims, as source
    text, for windows of `ksize` (default: the node's `ksize` attr)."""
    a = node.attrs
    _, h, w, _ = image.type.shape
    hd, wd = ctx.dims(image)[1:3]
    outs, pads = [], []
    ksize = a["ksize"] if ksize is None else ksize
    for known, d, k, s in zip((h, w), (hd, wd), ksize, a["strides"], strict=True):
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
    name = ctx.empty(node, dims)
    with _window_rows(ctx, node, dims[:5], (ph, pw), (h, w)) as (i, rc, inside):
        with ctx.src.indent(f"if {inside}:"), ctx.loops(dims[5:]) as (ch,):
            ctx.src(f"{name}[{', '.join(i)}, {ch}] = {ctx[x]}[{i[0]}, {rc}, {ch}]")
        with ctx.src.indent("else:"), ctx.loops(dims[5:]) as (ch,):
            ctx.src(f"{name}[{', '.join(i)}, {ch}] = {fill}")


@contextmanager
def _window_rows(
    ctx: Context, node: Node, dims: list[str], pads: tuple[str, str], size: tuple[str, str]
) -> Iterator[tuple[list[str], str, str]]:
    """Loops over (batch, out row, out col, window row, window col) of a patches tensor;
    yields the index, the image position "row, col" it reads, and the test that the
    position is inside the image. The caller loops over channels (contiguous) inside, so
    the test runs once per window position, not once per element."""
    (sh, sw), (ph, pw), (h, w) = node.attrs["strides"], pads, size
    with ctx.loops(dims) as i:
        row, col = ctx.names.fresh("row"), ctx.names.fresh("col")
        ctx.src(f"{row} = {i[1]} * {sh} - {ph} + {i[3]}")
        ctx.src(f"{col} = {i[2]} * {sw} - {pw} + {i[4]}")
        yield i, f"{row}, {col}", f"0 <= {row} < {h} and 0 <= {col} < {w}"


@emitter("patches_to_image")
def _patches_to_image(ctx: Context, node: Node) -> None:
    p, like = node.inputs
    (_, _), (ph, pw), (h, w) = _window_geometry(ctx, node, like)
    name = zeros_array(ctx, node, ctx.dims(like))
    dims = ctx.dims(p)
    window = _window_rows(ctx, node, dims[:5], (ph, pw), (h, w))
    with (
        window as (i, rc, inside),
        ctx.src.indent(f"if {inside}:"),
        ctx.loops(dims[5:]) as (ch,),
    ):
        ctx.src(f"{name}[{i[0]}, {rc}, {ch}] += {ctx[p]}[{', '.join(i)}, {ch}]")


@emitter("in_top_k")
def _in_top_k(ctx: Context, node: Node) -> None:
    pred, targets = node.inputs
    rows, classes = ctx.dims(pred)
    name = ctx.empty(node, [rows])
    k = node.attrs["k"]
    with ctx.loops([rows]) as (b,):
        ctx.src(f"t = {ctx[targets]}[{b}]")
        with ctx.src.indent(f"if t < 0 or t >= {classes}:  # out of range: not in the top k"):
            ctx.src(f"{name}[{b}] = False")
        with ctx.src.indent("else:"):
            ctx.src(f"target = {ctx[pred]}[{b}, t]")
            ctx.src("above = 0")
            with ctx.src.indent(f"for c in range({classes}):"):
                ctx.src(f"above += {ctx[pred]}[{b}, c] > target")
            ctx.src(f"{name}[{b}] = above < {k} and math.isfinite(target)")
