"""CPU emitters of the convolution ops (graphc.ops.conv): Conv2D and its two gradients.

The batch is split into one contiguous block of images per thread (a prange; a program
that convolves is threaded, graphc.codegen.context), and each block is worked through in
tiles of images: the patches of a tile (about `TILE_ROWS` output positions, a few MiB
that stay in the cache) are written to the block's scratch buffer and multiplied with
the filters by BLAS on that thread (`np.dot` into a view of the output), and the input
gradient's patches are added back into the image tile by tile. So no patches tensor of
the whole batch is ever made (for W4's second layer that is 40 MB written and read back
per use), and each product is one GEMM of several hundred rows. The filter gradient keeps
one sum per block, which BLAS accumulates tile by tile (graphc.blas.gemm), then adds the
blocks' sums in order. A 1x1 filter at stride 1 needs no patches: the image itself is
the matrix.

Invariants: every tile writes only its own images' rows of the output; the filter
gradient's result depends on the number of threads only through the blocks' partial
sums; scratch buffers are allocated once per op, before the prange; patches outside the
image are zeros, as TF's SAME padding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from graphc.codegen.context import Context, literal, np_dtype
from graphc.codegen.emit_arrays import GEMMS, _window_geometry, _window_rows
from graphc.codegen.emitters import emitter, zeros_array
from graphc.ir import Node

# Output positions (rows of the patch matrix) per tile: measured on W4's 14x14x32 -> 64
# layer with each of 2 threads working through half the batch, tiles of 2, 4, 8 and 16
# images (196 rows each) took 3.9, 3.8, 3.9 and 4.5 ms (forward only); 400, 800 and 1600
# rows for the whole step, 21.9, 21.6 and 22.5 ms.
TILE_ROWS = 800


def _direct(node: Node, ksize: tuple[int, int]) -> bool:
    """A 1x1 filter at stride 1: every patch is one pixel, the image is the matrix."""
    return tuple(ksize) == (1, 1) and tuple(node.attrs["strides"]) == (1, 1)


class _Geometry:
    """The sizes of one convolution as source text."""

    def __init__(self, ctx: Context, node: Node, image: Node, filter_shape: tuple) -> None:
        kh, kw, cin, cout = filter_shape
        self.ksize = (kh, kw)
        (self.oh, self.ow), self.pads, self.size = _window_geometry(ctx, node, image, (kh, kw))
        self.n = ctx.dims(image)[0]
        self.k = str(kh * kw * cin)  # the length of one patch
        self.cin, self.cout = str(cin), str(cout)
        self.static = None not in image.type.shape[1:3]  # the window counts are literals

    def rows(self, images: str) -> str:
        return f"{images} * {self.oh} * {self.ow}"


def _tile_size(ctx: Context, node: Node, g: _Geometry) -> str:
    """Images per tile (a literal when the window counts are)."""
    if g.static:
        return str(max(TILE_ROWS // (int(g.oh) * int(g.ow)), 1))
    name = ctx.names.fresh(f"{node.op_name}_tile")
    ctx.src(f"{name} = max({TILE_ROWS} // ({g.oh} * {g.ow}), 1)  # images per tile")
    return name


class _Tile:
    """One tile of images inside the loops `_tiles` writes: its block (the thread's
    part), first image and image count."""

    def __init__(self, part: str, start: str, count: str) -> None:
        self.part, self.start, self.count = part, start, count

    def scratch(self, buffer: str) -> str:
        """The block's own slice of a buffer made by `_scratch`."""
        return f"{buffer}[{self.part}]"


@contextmanager
def _tiles(ctx: Context, g: _Geometry, tile: str, parts: str) -> Iterator[_Tile]:
    """The loop over tiles of images, inside a prange over `parts` blocks of the batch."""
    start, count = ctx.names.fresh("t0"), ctx.names.fresh("m")
    with (
        ctx.split(parts, g.n) as (part, lo, hi),
        ctx.src.indent(f"for {start} in range({lo}, {hi}, {tile}):"),
    ):
        ctx.src(f"{count} = min({tile}, {hi} - {start})")
        yield _Tile(part, start, count)


def _scratch(
    ctx: Context, node: Node, stem: str, parts: str, dims: list[str], zeros: bool = False
) -> str:
    """Emits a scratch buffer of `dims` for each block; returns its name."""
    buffer = ctx.names.fresh(f"{node.op_name}_{stem}")
    made = "np.zeros" if zeros else "np.empty"
    ctx.src(f"{buffer} = {made}(({parts}, {', '.join(dims)}), {np_dtype(node.dtype)})")
    return buffer


def _patches_buffer(ctx: Context, node: Node, g: _Geometry, tile: str, parts: str) -> str:
    """Emits the scratch buffers of one tile's patches; returns their name."""
    dims = [f"min({tile}, {g.n})", g.oh, g.ow, str(g.ksize[0]), str(g.ksize[1]), g.cin]
    return _scratch(ctx, node, "patches", parts, dims)


def _fill_patches(
    ctx: Context, node: Node, image: Node, g: _Geometry, buffer: str, start: str, count: str
) -> None:
    """Emits the loops writing the patches of images [start, start + count) to `buffer`."""
    dims = [count, g.oh, g.ow, str(g.ksize[0]), str(g.ksize[1])]
    with _window_rows(ctx, node, dims, g.pads, g.size) as (i, rc, inside):
        with ctx.src.indent(f"if {inside}:"), ctx.loops([g.cin]) as (ch,):
            ctx.src(f"{buffer}[{', '.join(i)}, {ch}] = {ctx[image]}[{start} + {i[0]}, {rc}, {ch}]")
        with ctx.src.indent("else:"), ctx.loops([g.cin]) as (ch,):
            ctx.src(f"{buffer}[{', '.join(i)}, {ch}] = {literal(0, node.dtype)}")


def _matrix(array: str, rows: str, cols: str) -> str:
    return f"{array}.reshape(({rows}, {cols}))"


def _tile_matrix(array: str, start: str, count: str, rows: str, cols: str) -> str:
    return _matrix(f"{array}[{start}:{start} + {count}]", rows, cols)


def _check_windows(ctx: Context, node: Node, dy: Node, g: _Geometry) -> None:
    """The output gradient's spatial sizes against the window counts, where they are known
    only at run time (static ones are checked when the graph is built)."""
    if g.static and None not in dy.type.shape[1:3]:
        return
    failed = f"{ctx[dy]}.shape[1] != {g.oh} or {ctx[dy]}.shape[2] != {g.ow}"
    message = "the output gradient has {}x{} positions but the windows are {}x{}"
    values = [f"{ctx[dy]}.shape[1]", f"{ctx[dy]}.shape[2]", g.oh, g.ow]
    ctx.checks.require(ctx.src, node, failed, message, values)


@emitter("conv2d")
def _conv2d(ctx: Context, node: Node) -> None:
    x, w = node.inputs
    g = _Geometry(ctx, node, x, w.type.shape)
    filters = _matrix(ctx[w], g.k, g.cout)
    name = ctx.empty(node, [g.n, g.oh, g.ow, g.cout])
    if _direct(node, g.ksize):
        rows = g.rows(g.n)
        ctx.src(f"np.dot({_matrix(ctx[x], rows, g.cin)}, {filters}, {_matrix(name, rows, g.cout)})")
        return
    tile, parts = _tile_size(ctx, node, g), ctx.parts(g.n)
    buffer = _patches_buffer(ctx, node, g, tile, parts)
    with _tiles(ctx, g, tile, parts) as t:
        patches = t.scratch(buffer)
        _fill_patches(ctx, node, x, g, patches, t.start, t.count)
        rows = g.rows(t.count)
        out = _tile_matrix(name, t.start, t.count, rows, g.cout)
        ctx.src(f"np.dot({_matrix(f'{patches}[:{t.count}]', rows, g.k)}, {filters}, {out})")


@emitter("conv2d_backprop_input")
def _conv2d_backprop_input(ctx: Context, node: Node) -> None:
    w, dy, like = node.inputs
    g = _Geometry(ctx, node, like, w.type.shape)
    _check_windows(ctx, node, dy, g)
    filters_t = f"{_matrix(ctx[w], g.k, g.cout)}.T"
    if _direct(node, g.ksize):
        name = ctx.empty(node, ctx.dims(like))
        rows = g.rows(g.n)
        dx = _matrix(name, rows, g.cin)
        ctx.src(f"np.dot({_matrix(ctx[dy], rows, g.cout)}, {filters_t}, {dx})")
        return
    name = zeros_array(ctx, node, ctx.dims(like))
    ctx.checks.shaped(name, ctx.dims(like))
    tile, parts = _tile_size(ctx, node, g), ctx.parts(g.n)
    buffer = _patches_buffer(ctx, node, g, tile, parts)
    with _tiles(ctx, g, tile, parts) as t:
        patches = t.scratch(buffer)
        rows = g.rows(t.count)
        grads = _tile_matrix(ctx[dy], t.start, t.count, rows, g.cout)
        ctx.src(f"np.dot({grads}, {filters_t}, {_matrix(f'{patches}[:{t.count}]', rows, g.k)})")
        dims = [t.count, g.oh, g.ow, str(g.ksize[0]), str(g.ksize[1])]
        with (
            _window_rows(ctx, node, dims, g.pads, g.size) as (i, rc, inside),
            ctx.src.indent(f"if {inside}:"),
            ctx.loops([g.cin]) as (ch,),
        ):
            added = f"{patches}[{', '.join(i)}, {ch}]"
            ctx.src(f"{name}[{t.start} + {i[0]}, {rc}, {ch}] += {added}")


@emitter("conv2d_backprop_filter")
def _conv2d_backprop_filter(ctx: Context, node: Node) -> None:
    x, dy = node.inputs
    shape = node.attrs["filter_shape"]
    g = _Geometry(ctx, node, x, shape)
    _check_windows(ctx, node, dy, g)
    dims = [str(d) for d in shape]
    name = ctx.empty(node, dims)
    if _direct(node, g.ksize):
        rows = g.rows(g.n)
        images = f"{_matrix(ctx[x], rows, g.cin)}.T"
        ctx.src(f"np.dot({images}, {_matrix(ctx[dy], rows, g.cout)}, {_matrix(name, g.k, g.cout)})")
        return
    tile, parts = _tile_size(ctx, node, g), ctx.parts(g.n)
    # each block's sum of its tiles' products, transposed (dy' @ patches: BLAS ran W4's
    # second layer 20% faster so than as patches' @ dy)
    sums = _scratch(ctx, node, "sums", parts, [g.cout, g.k], zeros=True)
    buffer = _patches_buffer(ctx, node, g, tile, parts)
    with _tiles(ctx, g, tile, parts) as t:
        patches = t.scratch(buffer)
        _fill_patches(ctx, node, x, g, patches, t.start, t.count)
        rows = g.rows(t.count)
        grads = _tile_matrix(ctx[dy], t.start, t.count, rows, g.cout)
        matrix = _matrix(f"{patches}[:{t.count}]", rows, g.k)
        ctx.src(f"{GEMMS[node.dtype.name]}({grads}, {matrix}, {t.scratch(sums)}, True, False, 1.0)")
    total = ctx.names.fresh(f"{node.op_name}_matrix")
    ctx.src(f"{total} = {_matrix(name, g.k, g.cout)}")
    with ctx.loops([g.k, g.cout]) as (k, c):
        ctx.src(f"{total}[{k}, {c}] = {sums}[0, {c}, {k}]")
        p = ctx.names.fresh("p")
        with ctx.src.indent(f"for {p} in range(1, {parts}):"):
            ctx.src(f"{total}[{k}, {c}] += {sums}[{p}, {c}, {k}]")
