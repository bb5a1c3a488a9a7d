"""CPU emitters of the pooling ops (graphc.ops.pool): direct loops, no patch tensor.

Loops run over batch, output row and output column, then over the real (unpadded) rows
and columns of that window, with channels innermost (contiguous in NHWC). A window's
real part, rows [top, bottom) and columns [left, right) of the image, is computed once
per output row and once per output column, so padding is never visited and needs no
test per element.

Invariants: a window's maximum is its first maximum in row-major window order, a NaN
beating every number and the first NaN staying, exactly as the ops' NumPy semantics;
max_pool, max_pool_grad and max_pool_grad_grad share the one scan that finds it
(`_scan_max`), so the gradient goes where the forward value came from. A window of only
-inf (the dtype's lowest value) takes its first real element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from graphc.codegen.context import Context, literal, np_dtype
from graphc.codegen.emit_arrays import _window_geometry
from graphc.codegen.emitters import emitter
from graphc.ir import Node
from graphc.ops.reduce import MAX, SUM
from graphc.types import DType

Span = tuple[str, str, str, str]  # a window's real rows [top, bottom) and cols [left, right)


def _span(ctx: Context, node: Node, axis: int, index: str, pad: str, size: str) -> list[str]:
    """Emits the real part [first, end) of a window along image axis 0 (rows) or 1 (cols),
    the window at output position `index`; returns the two names."""
    k, s = node.attrs["ksize"][axis], node.attrs["strides"][axis]
    what = ("top", "bottom") if axis == 0 else ("left", "right")
    first, end = (ctx.names.fresh(w) for w in what)
    start = _start(index, s, pad)
    if node.attrs["padding"] == "VALID":  # the window lies inside the image
        ctx.src(f"{first} = {start}")
        ctx.src(f"{end} = {first} + {k}")
    else:
        ctx.src(f"{first} = max({start}, 0)")
        ctx.src(f"{end} = min({start} + {k}, {size})")
    return [first, end]


def _start(index: str, stride: int, pad: str) -> str:
    """The image position where the window at output `index` starts (maybe negative), as
    short text: `i1 * 2 - 1`, `i1`, `-1`."""
    base = "0" if index == "0" else index if stride == 1 else f"{index} * {stride}"
    pad = pad if pad.isdigit() else f"({pad})"
    if pad == "0":
        return base
    return f"-{pad}" if base == "0" else f"{base} - {pad}"


@contextmanager
def _windows(
    ctx: Context,
    node: Node,
    image: Node,
    scratch: Callable[[], object] = lambda: None,
    zeroed: str | None = None,
) -> Iterator[tuple[list[str], Span]]:
    """Loops over the windows (batch, out row, out col) of `node` over `image`; yields the
    output index (batch, row, col) and the window's real part. Before each image's windows
    its loop zeroes its image of the array `zeroed` (an image-shaped gradient the windows
    add into) and emits `scratch()`, the per-channel arrays it reuses. In a threaded
    program (graphc.codegen.context) the images are a prange: each writes only its own."""
    (oh, ow), (ph, pw), (h, w) = _window_geometry(ctx, node, image)
    with ctx.loops([ctx.dims(image)[0]], parallel=ctx.threaded) as (b,):
        if zeroed is not None:
            ctx.src(f"{zeroed}[{b}] = 0")
        scratch()
        with ctx.loops([oh]) as (i,):
            top, bottom = _span(ctx, node, 0, i, ph, h)
            with ctx.loops([ow]) as (j,):
                left, right = _span(ctx, node, 1, j, pw, w)
                yield [b, i, j], (top, bottom, left, right)


@contextmanager
def _elements(ctx: Context, span: Span) -> Iterator[tuple[str, str]]:
    """Loops over a window's real positions in row-major order; yields (row, col)."""
    top, bottom, left, right = span
    row, col = ctx.names.fresh("row"), ctx.names.fresh("col")
    with (
        ctx.src.indent(f"for {row} in range({top}, {bottom}):"),
        ctx.src.indent(f"for {col} in range({left}, {right}):"),
    ):
        yield row, col


def _beats(v: str, best: str, dtype: DType) -> str:
    """The test "v replaces the running max": strictly greater (the first max stays), or
    the first NaN (NaN beats every number)."""
    if not dtype.is_floating:
        return f"{v} > {best}"
    return f"{v} > {best} or ({v} != {v} and {best} == {best})"


def _scan_max(
    ctx: Context,
    node: Node,
    x: Node,
    at: tuple[list[str], Span],
    best: Callable[[str], str],
    where: tuple[str, str] | None = None,
) -> None:
    """Emits the scan of one window of x for each channel's first maximum, kept in
    `best(channel)`; its (row, col) goes to the scratch arrays `where`, when given. The
    position starts at the first real element, which keeps it unless another beats -inf."""
    (b, _, _), span = at
    lowest = literal(MAX.identity(x.dtype.np), x.dtype)
    channels = [ctx.dims(x)[3]]
    with ctx.loops(channels) as (ch,):
        ctx.src(f"{best(ch)} = {lowest}")
        if where is not None:
            ctx.src(f"{where[0]}[{ch}] = {span[0]}")
            ctx.src(f"{where[1]}[{ch}] = {span[2]}")
    with _elements(ctx, span) as (row, col), ctx.loops(channels) as (ch,):
        v = ctx.names.fresh("v")
        ctx.src(f"{v} = {ctx[x]}[{b}, {row}, {col}, {ch}]")
        with ctx.src.indent(f"if {_beats(v, best(ch), x.dtype)}:"):
            ctx.src(f"{best(ch)} = {v}")
            if where is not None:
                ctx.src(f"{where[0]}[{ch}] = {row}")
                ctx.src(f"{where[1]}[{ch}] = {col}")


def _pooled_dims(ctx: Context, node: Node, image: Node) -> list[str]:
    (oh, ow), _, _ = _window_geometry(ctx, node, image)
    dims = ctx.dims(image)
    return [dims[0], oh, ow, dims[3]]


def _scratch(ctx: Context, name: str, length: str, dtype: str) -> None:
    """A per-channel array the loops over one image's windows reuse for every window."""
    ctx.src(f"{name} = np.empty({length}, {dtype})")


@emitter("max_pool")
def _max_pool(ctx: Context, node: Node) -> None:
    """The running max of each window lives in the output itself."""
    x = node.inputs[0]
    out = ctx.empty(node, _pooled_dims(ctx, node, x))
    with _windows(ctx, node, x) as at:
        _scan_max(ctx, node, x, at, lambda ch: f"{out}[{', '.join(at[0])}, {ch}]")


@contextmanager
def _scan_positions(
    ctx: Context, node: Node, x: Node, zeroed: str | None = None
) -> Iterator[tuple[list[str], str, str]]:
    """For each window of x: its output index and, per channel, the scratch arrays of its
    first maximum's row and col (the caller loops over channels). `zeroed`: as `_windows`."""
    channels = ctx.dims(x)[3]
    best, rows, cols = (ctx.names.fresh(f"{node.op_name}_{w}") for w in ("best", "rows", "cols"))

    def scratch() -> None:
        _scratch(ctx, best, channels, np_dtype(x.dtype))
        _scratch(ctx, rows, channels, "np.int64")
        _scratch(ctx, cols, channels, "np.int64")

    with _windows(ctx, node, x, scratch, zeroed) as at:
        _scan_max(ctx, node, x, at, lambda ch: f"{best}[{ch}]", (rows, cols))
        yield at[0], rows, cols


@emitter("max_pool_grad")
def _max_pool_grad(ctx: Context, node: Node) -> None:
    """Each window's g added at its first maximum (windows may overlap)."""
    x, g = node.inputs
    out = ctx.empty(node, ctx.dims(x))
    with (
        _scan_positions(ctx, node, x, zeroed=out) as ((b, i, j), rows, cols),
        ctx.loops([ctx.dims(x)[3]]) as (ch,),
    ):
        at = f"{b}, {rows}[{ch}], {cols}[{ch}], {ch}"
        ctx.src(f"{out}[{at}] += {ctx[g]}[{b}, {i}, {j}, {ch}]")


@emitter("max_pool_grad_grad")
def _max_pool_grad_grad(ctx: Context, node: Node) -> None:
    """Each window's t at its first maximum."""
    x, t = node.inputs
    out = ctx.empty(node, _pooled_dims(ctx, node, x))
    with (
        _scan_positions(ctx, node, x) as ((b, i, j), rows, cols),
        ctx.loops([ctx.dims(x)[3]]) as (ch,),
    ):
        at = f"{b}, {rows}[{ch}], {cols}[{ch}], {ch}"
        ctx.src(f"{out}[{b}, {i}, {j}, {ch}] = {ctx[t]}[{at}]")


def _count(ctx: Context, node: Node, span: Span, dtype: str) -> str:
    """Emits the number of real elements of a window, as `dtype`."""
    top, bottom, left, right = span
    count = ctx.names.fresh("count")
    ctx.src(f"{count} = {dtype}(({bottom} - {top}) * ({right} - {left}))")
    return count


@emitter("avg_pool")
def _avg_pool(ctx: Context, node: Node) -> None:
    """Window sums kept per channel in the accumulation dtype (graphc.ops: float64 for
    float16/float32), divided by the count of real elements and rounded once."""
    x = node.inputs[0]
    channels = [ctx.dims(x)[3]]
    wide = np_dtype(SUM.accumulator(node.dtype))
    total = ctx.names.fresh(f"{node.op_name}_total")
    out = ctx.empty(node, _pooled_dims(ctx, node, x))
    scratch = lambda: _scratch(ctx, total, channels[0], wide)  # noqa: E731
    with _windows(ctx, node, x, scratch) as ((b, i, j), span):
        with ctx.loops(channels) as (ch,):
            ctx.src(f"{total}[{ch}] = 0")
        with _elements(ctx, span) as (row, col), ctx.loops(channels) as (ch,):
            ctx.src(f"{total}[{ch}] += {ctx[x]}[{b}, {row}, {col}, {ch}]")
        count = _count(ctx, node, span, wide)
        with ctx.loops(channels) as (ch,):
            mean = f"{total}[{ch}] / {count}"
            ctx.src(f"{out}[{b}, {i}, {j}, {ch}] = {np_dtype(node.dtype)}({mean})")


@emitter("avg_pool_grad")
def _avg_pool_grad(ctx: Context, node: Node) -> None:
    """Each window's g / count added at each of its real positions."""
    g, like = node.inputs
    out = ctx.empty(node, ctx.dims(like))
    channels = [ctx.dims(like)[3]]
    with _windows(ctx, node, like, zeroed=out) as ((b, i, j), span):
        count = _count(ctx, node, span, np_dtype(node.dtype))
        with _elements(ctx, span) as (row, col), ctx.loops(channels) as (ch,):
            ctx.src(f"{out}[{b}, {row}, {col}, {ch}] += {ctx[g]}[{b}, {i}, {j}, {ch}] / {count}")
