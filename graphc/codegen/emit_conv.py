"""CPU emitters of the convolution ops (graphc.ops.conv): Conv2D and its two gradients.

Each works through tiles of images: the patches of a tile (about `TILE_ROWS` output
positions, a few MiB that stay in the cache) are written to a scratch buffer and
multiplied with the filters by BLAS (`np.dot` into a view of the output), and the input
gradient's patches are added back into the image tile by tile. So no patches tensor of
the whole batch is ever made (for W4's second layer that is 40 MB written and read
back per use), and each product is one GEMM of a few thousand rows. A 1x1 filter at
stride 1 needs no patches: the image itself is the matrix.

Invariants: every tile writes only its own images' rows of the output (the filter
gradient sums its tiles' products in order, so results do not depend on threads);
scratch buffers are allocated once per op, before the tile loop; patches outside the
image are zeros, as TF's SAME padding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from graphc.codegen.context import Context, literal, np_dtype
from graphc.codegen.emit_arrays import _window_geometry, _window_rows
from graphc.codegen.emitters import emitter, zeros_array
from graphc.ir import Node

# Output positions (rows of the patch matrix) per tile: measured on W4's 14x14x32 -> 64
# layer, tiles of 1, 2, 4, 8 and 16 images (196 rows each) took 16.4, 15.3, 14.8, 14.4
# and 16.9 ms for forward and both gradients; the whole batch at once 19.5 ms.
TILE_ROWS = 2048


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


@contextmanager
def _tiles(ctx: Context, g: _Geometry, tile: str) -> Iterator[tuple[str, str]]:
    """The loop over tiles of images; yields (first image, images in the tile)."""
    start, count = ctx.names.fresh("t0"), ctx.names.fresh("m")
    with ctx.src.indent(f"for {start} in range(0, {g.n}, {tile}):"):
        ctx.src(f"{count} = min({tile}, {g.n} - {start})")
        yield start, count


def _patches_buffer(ctx: Context, node: Node, g: _Geometry, tile: str) -> str:
    """Emits the scratch buffer of one tile's patches; returns its name."""
    buffer = ctx.names.fresh(f"{node.op_name}_patches")
    dims = f"(min({tile}, {g.n}), {g.oh}, {g.ow}, {g.ksize[0]}, {g.ksize[1]}, {g.cin})"
    ctx.src(f"{buffer} = np.empty({dims}, {np_dtype(node.dtype)})")
    return buffer


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
    tile = _tile_size(ctx, node, g)
    buffer = _patches_buffer(ctx, node, g, tile)
    with _tiles(ctx, g, tile) as (start, count):
        _fill_patches(ctx, node, x, g, buffer, start, count)
        rows = g.rows(count)
        out = _tile_matrix(name, start, count, rows, g.cout)
        ctx.src(f"np.dot({_matrix(f'{buffer}[:{count}]', rows, g.k)}, {filters}, {out})")


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
    tile = _tile_size(ctx, node, g)
    buffer = _patches_buffer(ctx, node, g, tile)
    with _tiles(ctx, g, tile) as (start, count):
        rows = g.rows(count)
        grads = _tile_matrix(ctx[dy], start, count, rows, g.cout)
        ctx.src(f"np.dot({grads}, {filters_t}, {_matrix(f'{buffer}[:{count}]', rows, g.k)})")
        dims = [count, g.oh, g.ow, str(g.ksize[0]), str(g.ksize[1])]
        with (
            _window_rows(ctx, node, dims, g.pads, g.size) as (i, rc, inside),
            ctx.src.indent(f"if {inside}:"),
            ctx.loops([g.cin]) as (ch,),
        ):
            ctx.src(f"{name}[{start} + {i[0]}, {rc}, {ch}] += {buffer}[{', '.join(i)}, {ch}]")


@emitter("conv2d_backprop_filter")
def _conv2d_backprop_filter(ctx: Context, node: Node) -> None:
    x, dy = node.inputs
    shape = node.attrs["filter_shape"]
    g = _Geometry(ctx, node, x, shape)
    _check_windows(ctx, node, dy, g)
    dims = [str(d) for d in shape]
    if _direct(node, g.ksize):
        name = ctx.empty(node, dims)
        rows = g.rows(g.n)
        images = f"{_matrix(ctx[x], rows, g.cin)}.T"
        ctx.src(f"np.dot({images}, {_matrix(ctx[dy], rows, g.cout)}, {_matrix(name, g.k, g.cout)})")
        return
    name = zeros_array(ctx, node, dims)
    ctx.checks.shaped(name, dims)
    part = ctx.names.fresh(f"{node.op_name}_part")
    ctx.src(f"{part} = np.empty(({g.k}, {g.cout}), {np_dtype(node.dtype)})")
    total, step = ctx.names.fresh(f"{node.op_name}_flat"), ctx.names.fresh(f"{part}_flat")
    ctx.src(f"{total} = {name}.reshape(-1)")
    ctx.src(f"{step} = {part}.reshape(-1)")
    tile = _tile_size(ctx, node, g)
    buffer = _patches_buffer(ctx, node, g, tile)
    with _tiles(ctx, g, tile) as (start, count):
        _fill_patches(ctx, node, x, g, buffer, start, count)
        rows = g.rows(count)
        patches = f"{_matrix(f'{buffer}[:{count}]', rows, g.k)}.T"
        grads = _tile_matrix(ctx[dy], start, count, rows, g.cout)
        ctx.src(f"np.dot({patches}, {grads}, {part})")
        with ctx.loops([f"{g.k} * {g.cout}"]) as (k,):
            ctx.src(f"{total}[{k}] += {step}[{k}]")
