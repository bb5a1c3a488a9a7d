"""CUDA code generation (graphc.backends.cuda): a step as `@cuda.jit` kernels and the
host function that launches them.

The generated module holds one kernel per op or fused group that computes an array,
named after it, and `step(...)`: plain Python that allocates each result on the
device, launches its kernel and returns the fetched values and the variables' new
arrays. Values of rank 0 stay on the host as NumPy scalars (arithmetic on them runs
there); everything else lives on the device. The kernels:
- a fused group (passes.fuse, the CPU target's decisions) or a lone elementwise op or
  broadcast: one thread per element over `THREADS`-thread blocks (a grid-stride loop),
  each member's `expr` into a local; a group's reductions (its sinks) run after it;
- a reduction: a block per output element, its threads folding the slice in the
  accumulator dtype, then a tree through shared memory;
- a matmul: cuBLAS through CuPy when `generate(cupy=True)`; else 2-D floats tiled
  through shared memory (TILE x TILE threads a block), batched ones a thread each;
- a convolution and its filter gradient: im2col (a kernel writing the patches), then
  one matrix product; its input gradient: a product, then col2im (a thread per input
  element summing the windows holding it); pooling and its gradients: direct loops
  over each output element's window;
- argmax, one_hot, the random ops (inline xoroshiro128+ generators); reshapes are
  views; `check_labels` checks on the host.
With `cupy`, arrays also come from CuPy's memory pool. Ops outside `EMITTERS` and the
generic kinds (gather, tf.cond, ...) raise naming the op.

Invariants: a kernel writes only its own output arrays, one element per thread per
loop trip (`flat` below the size; a reduction's element by its block's thread 0);
variables are written only by the caller, after the step returns; the source is
deterministic for a program (names from graph nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc.codegen.checks import raise_line
from graphc.codegen.context import (
    Program,
    broadcast_dims,
    broadcast_index,
    literal,
    narrowed,
    np_dtype,
)
from graphc.codegen.source import Names, Source
from graphc.errors import GraphcError
from graphc.ir import Node
from graphc.ops import Fusion, Reduction
from graphc.ops.dims import op_label
from graphc.types import DType, normalize_axes

THREADS = 128  # threads per block (the host function may use fewer for small arrays)
RANDOM_THREADS = 64  # threads (and generator states) per random op: its draws are theirs
# the launch configurations, as `Executable.launches` states them
PER_ELEMENT = f"a thread per element ({THREADS}-thread blocks, up to 1024, grid-stride)"
PER_BLOCK = (
    f"a block per output element (a tree of up to {THREADS} threads), or, for few long"
    " slices, a block per part of one and the parts folded by a second kernel"
)
# names the module defines besides the kernels and the host function's locals
RESERVED = ("step", "THREADS", "cuda", "np", "math", "launch", "tree", "next_bits")
RESERVED += ("uniform_float32", "gemm", "cupy", "empty")
RESERVED += ("uniform_float64", "normal_float32", "normal_float64", "floor_", "ceil_", "rint_")


@dataclass
class _Gen:
    program: Program
    cupy: bool  # floating matmuls by cuBLAS, arrays from CuPy's pool
    host: Source = field(default_factory=Source)
    kernels: list[str] = field(default_factory=list)
    launches: list[str] = field(default_factory=list)  # "kernel: the op it computes"
    names: Names = field(default_factory=lambda: Names(RESERVED))
    value: dict[int, str] = field(default_factory=dict)  # node -> host expression
    writes: list[tuple[Node, str]] = field(default_factory=list)  # (variable, new value)
    buffers: dict[int, str] = field(default_factory=dict)  # variable -> its step argument
    states: dict[int, str] = field(default_factory=dict)  # random op -> its generator states
    sites: dict[str, str] = field(default_factory=dict)  # check message -> op's line
    outputs: dict[int, list[str]] = field(default_factory=dict)  # fused node -> its values
    finishers: dict[tuple, str] = field(default_factory=dict)  # reduction kind -> its kernel
    # kernel -> its parameters as (dtype name, ndim; 0 for a scalar), `out` first
    signatures: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def __getitem__(self, node: Node) -> str:
        return self.value[id(node)]

    def bind(self, node: Node, expr: str) -> str:
        self.value[id(node)] = expr
        return expr


def unsupported(nodes: list[Node]) -> list[Node]:
    """The nodes the CUDA generator has no code for."""
    return [
        n
        for n in nodes
        if n.opdef.name not in EMITTERS
        and n.opdef.name != "placeholder"  # a feed: an argument of the step
        and n.opdef.fusion not in (Fusion.ELEMENTWISE, Fusion.BROADCAST, Fusion.REDUCTION)
        and not n.opdef.reshape
    ]


@dataclass(frozen=True)
class Module:
    """A generated cuda step: its source, check messages -> op sites, one line per kernel
    ("kernel: the op it computes"), and each kernel's parameter types."""

    source: str
    sites: dict[str, str]
    launches: list[str]
    signatures: dict[str, list[tuple[str, int]]]


def generate(program: Program, cupy: bool = False) -> Module:
    """The cuda module of `program` (see the module docstring); with `cupy`, floating
    matrix products call cuBLAS through CuPy (`CUPY`) instead of the tiled kernel, and
    the step's arrays come from CuPy's memory pool instead of numba's allocator."""
    missing = unsupported(program.order)
    if missing:
        n = missing[0]
        raise GraphcError(
            f"op '{n.op_name}' ({n.opdef.type_name}) has no cuda code yet (created at "
            f"{n.site}); the cuda target computes elementwise ops, broadcasts, reductions, "
            "matmul, convolutions, pooling, argmax, one_hot and variable updates"
        )
    g = _Gen(program, cupy)
    args = _arguments(g)
    with g.host.indent(f"def step({', '.join(args)}):"):
        g.host('"""One step: fetched values and new variable arrays (see the module)."""')
        for node in program.order:
            if id(node) in g.value:
                continue  # a feed
            with g.host.headed(f"{node.op_name}: {node.type or '()'} = {node.opdef.name}"):
                _emit(g, node)
        fetched = [g[n] for n in program.fetches]
        news = {id(var): value for var, value in g.writes}
        written = [news.get(id(v), "None") for v in program.variables]
        g.host(f"return ({', '.join(fetched)}{',' if len(fetched) == 1 else ''}), (")
        with g.host.indent():
            for expr in written:
                g.host(f"{expr},")
        g.host(")")
    head = [
        "# graphc generated: cuda step (do not edit)",
        "import math",
        "",
        "import numpy as np",
        "from numba import cuda",
        "",
        f"THREADS = {THREADS}",
        "",
        "",
        "def launch(size):",
        '    """(blocks, threads) for `size` elements: one thread each, up to 1024 blocks."""',
        "    threads = max(min(THREADS, size), 1)",
        "    return min((size + threads - 1) // threads, 1024) or 1, threads",
        "",
        "",
        "def tree(outputs, count):",
        '    """(blocks, threads, parts) for a reduction to `outputs` elements of `count` each:',
        "    a power of two threads (up to THREADS) a block, a block per element, or, for fewer",
        "    than 256 elements of over 2048 each, per part of an element (up to 1024 blocks),",
        '    parts of at least 2048."""',
        "    threads = 1",
        "    while threads < min(count, THREADS):",
        "        threads *= 2",
        "    parts = 1 if outputs >= 256 else max(min(count // 2048, 1024 // max(outputs, 1)), 1)",
        "    return min(outputs * parts, 1024) or 1, threads, parts",
    ]
    blocks = ["\n".join(head)]  # top-level blocks, two blank lines apart
    if g.cupy:
        head.insert(head.index("import numpy as np") + 1, "import cupy")
        blocks = ["\n".join(head), CUPY]
    else:
        blocks.append("empty = cuda.device_array  # (shape, dtype): a new device array")
    if any(f"{helper}(" in kernel for kernel in g.kernels for helper in ROUNDING_HELPERS):
        blocks.append(ROUNDING)
    if program.randoms:
        blocks.append(GENERATORS)
    blocks += [*g.kernels, g.host.text()]
    source = "\n\n\n".join(block.strip("\n") for block in blocks) + "\n"
    return Module(source, g.sites, g.launches, g.signatures)


def _arguments(g: _Gen) -> list[str]:
    args = []
    for n in g.program.feeds:
        args.append(g.bind(n, g.names.fresh(n.op_name)))
    for v in g.program.variables:
        g.buffers[id(v)] = g.names.fresh(f"{v.op_name}_buffer")
        args.append(g.buffers[id(v)])
    for c in g.program.consts:
        args.append(g.bind(c, g.names.fresh(c.op_name)))
    for r in g.program.randoms:
        g.states[id(r)] = g.names.fresh(f"{r.op_name}_states")
        args.append(g.states[id(r)])
    return args


def _emit(g: _Gen, node: Node) -> None:
    op = node.opdef
    if op.name in EMITTERS:
        EMITTERS[op.name](g, node)
    elif op.reshape:
        _reshape(g, node)
    elif op.fusion is Fusion.REDUCTION:
        _reduction(g, node)
    else:  # elementwise and broadcast ops
        _elementwise(g, node)


def _is_scalar(node: Node) -> bool:
    return node.type is not None and node.type.shape == ()


def _dims(g: _Gen, node: Node) -> list[str]:
    """The node's dims as host text: static ones, else read off an input aligned at the
    right whose axis is unknown too (the broadcasting rule: unknown never stretches)."""
    return broadcast_dims(g, node.inputs, node.type.shape)


def _static_or_read(g: _Gen, x: Node, shape: tuple) -> list[str]:
    """`shape`'s dims as host text, unknown ones read off x's array (same axes)."""
    return [str(d) if d is not None else f"{g[x]}.shape[{k}]" for k, d in enumerate(shape)]


def _shape_text(dims: list[str]) -> str:
    return f"({', '.join(dims)},)" if dims else "(1,)"


def _kernel(
    g: _Gen,
    node: Node,
    inputs: list[Node | tuple[str, int]],
    body: list[str],
    rank: int,
    extra: tuple[str, ...] = (),
    outputs: list[tuple[str, str]] | None = None,
    what: str | None = None,
) -> str:
    """Adds a grid-stride kernel over its first output's elements (their multi-index
    `i0, i1, ...`), its parameters the `outputs` (name, dtype name; default `out` of the
    node's dtype), then `a0, a1, ...` the values of `inputs` (nodes, or (dtype name, rank)
    of arrays that are not), then `extra` int64 scalars; its docstring says `what`
    (default the op). Returns its name."""
    name = g.names.fresh(f"k_{node.op_name}")
    outputs = outputs or [("out", node.dtype.name)]
    params = [*(out for out, _ in outputs), *(f"a{k}" for k in range(len(inputs))), *extra]
    g.signatures[name] = [
        *((dtype, max(rank, 1)) for _, dtype in outputs),
        *(x if isinstance(x, tuple) else (x.dtype.name, len(x.type.shape)) for x in inputs),
        *(("int64", 0) for _ in extra),
    ]
    first = outputs[0][0]
    lines = ["@cuda.jit", f"def {name}({', '.join(params)}):"]
    lines.append(f'    """{what or _label(node)}: one thread per element."""')
    lines.append(f"    for flat in range(cuda.grid(1), {first}.size, cuda.gridsize(1)):")
    lines += ["        " + line for line in [*_unravel(rank, first), *body]]
    g.kernels.append("\n".join(lines))
    return name


def _unravel(rank: int, array: str = "out") -> list[str]:
    """Kernel lines: the multi-index `i0, i1, ...` of element `flat` of `array` (C order)."""
    if rank == 0:
        return ["i0 = 0"]
    lines = ["rest = flat"]
    for k in range(rank - 1, 0, -1):
        lines += [f"i{k} = rest % {array}.shape[{k}]", f"rest //= {array}.shape[{k}]"]
    return [*lines, "i0 = rest"]


def _launch(g: _Gen, node: Node, kernel: str, dims: list[str], args: list[str]) -> str:
    """Host lines: allocate the output, launch `kernel` over it; returns its name."""
    out = g.names.fresh(node.op_name)
    g.host(f"{out} = empty({_shape_text(dims)}, {np_dtype(node.dtype)})")
    g.host(f"{kernel}[launch({out}.size)]({', '.join([out, *args])})")
    g.launches.append(f"{kernel}: {_label(node)}, {PER_ELEMENT}")
    return _result(g, node, out)


def _result(g: _Gen, node: Node, out: str) -> str:
    """Binds `node` to its device array `out`; one of rank 0 goes back to the host as a
    scalar."""
    if _is_scalar(node):
        g.host(f"{out} = {np_dtype(node.dtype)}({out}.copy_to_host()[0])")
    return g.bind(node, out)


def _index(rank: int) -> list[str]:
    return [f"i{k}" for k in range(rank)]


def _read(g: _Gen, x: Node, params: dict[int, str], out_shape: tuple) -> str:
    """x's element at the output index (host scalars are kernel arguments)."""
    name = params[id(x)]
    if _is_scalar(x):
        return name
    idx = broadcast_index(x.type.shape, _index(len(out_shape)), out_shape)
    return f"{name}[{', '.join(idx)}]"


def _params(g: _Gen, nodes: list[Node]) -> tuple[dict[int, str], list[Node]]:
    """Kernel parameter names for `nodes` (one per distinct node), and those nodes."""
    params: dict[int, str] = {}
    distinct: list[Node] = []
    for x in nodes:
        if id(x) not in params:
            params[id(x)] = f"a{len(params)}"
            distinct.append(x)
    return params, distinct


# ---- emitters ---------------------------------------------------------------------------
def _elementwise(g: _Gen, node: Node) -> None:
    inputs = list(node.inputs)
    if node.opdef.fusion is Fusion.BROADCAST:
        inputs = inputs[:1]  # broadcast_like's second input gives only the shape
    if all(_is_scalar(x) for x in inputs) and _is_scalar(node):
        operands = [g[x] for x in inputs]
        broadcast = node.opdef.fusion is Fusion.BROADCAST
        expr = operands[0] if broadcast else _expr(node, operands, device=False)
        g.host(f"{g.bind(node, g.names.fresh(node.op_name))} = {np_dtype(node.dtype)}({expr})")
        return
    shape = node.type.shape
    params, distinct = _params(g, inputs)
    operands = [_read(g, x, params, shape) for x in inputs]
    value = operands[0] if node.opdef.fusion is Fusion.BROADCAST else _expr(node, operands)
    index = ", ".join(_index(len(shape))) or "0"
    kernel = _kernel(g, node, distinct, [f"out[{index}] = {value}"], len(shape))
    dims = _broadcast_dims(g, node) if node.opdef.fusion is Fusion.BROADCAST else _dims(g, node)
    _launch(g, node, kernel, dims, [g[x] for x in distinct])


def _broadcast_dims(g: _Gen, node: Node) -> list[str]:
    if node.opdef.name == "broadcast_like":
        like = node.inputs[1]
        return [
            str(d) if d is not None else f"{g[like]}.shape[{k}]"
            for k, d in enumerate(like.type.shape)
        ]
    return _dims(g, node)


def _expr(node: Node, operands: list[str], device: bool = True) -> str:
    """The op's scalar snippet (its plain `expr`: the CPU's float32 forms call CPU code);
    in `device` code NumPy's rounding functions are the device helpers of ROUNDING
    (numba's CUDA target has `math.*` only)."""
    expr = node.opdef.expr.format(*operands, **node.attrs)
    for numpy_name, helper in (
        ()
        if not device
        else (
            ("np.floor(", "floor_("),
            ("np.ceil(", "ceil_("),
            ("np.rint(", "rint_("),
        )
    ):
        expr = expr.replace(numpy_name, helper)
    return narrowed(expr, node.dtype)


def _reduced_axes(node: Node) -> tuple[tuple[int, ...], frozenset[int]]:
    """The input axes a reduction folds, and those of them the output keeps (size 1)."""
    x = node.inputs[0]
    rank = len(x.type.shape)
    if "axis" not in node.attrs:  # sum_to_like: to the shape of its second input
        like = node.inputs[1].type.shape
        offset = rank - len(like)  # leading axes summed away, stretched ones kept as 1
        kept = [offset + j for j, d in enumerate(like) if d == 1 and x.type.shape[offset + j] != 1]
        return (*range(offset), *kept), frozenset(kept)
    axis = node.attrs["axis"]
    axes = tuple(range(rank)) if axis is None else normalize_axes(axis, rank)
    return axes, frozenset(axes if node.attrs["keepdims"] else ())


def _reduction(g: _Gen, node: Node) -> None:
    """A block per output element (blocks stride over them): its threads fold the
    element's slice in the accumulator dtype, striding over it, then combine their
    partial values in a tree through shared memory (a power of two threads). For few
    outputs of long slices (`tree` chooses), each slice is cut into parts, each folded by
    a block of its own into a column of `partials`, which `_finish` folds the same way
    (with one part, `partials` has no rows and the kernel writes `out` itself)."""
    x = node.inputs[0]
    reduction = node.opdef.reduction
    acc = reduction.accumulator(node.dtype)
    if _is_scalar(x):  # one element: itself (or its truth)
        g.host(f"{g.bind(node, g.names.fresh(node.op_name))} = {np_dtype(node.dtype)}({g[x]})")
        return
    rank = len(x.type.shape)
    axes, kept = _reduced_axes(node)
    out_rank = len(node.type.shape)
    # the input index: output positions for the other axes, loop variables for reduced ones
    out_index = _index(out_rank)
    source_index, j, dims = [], 0, []
    for k in range(rank):
        if k in axes:
            source_index.append(f"r{k}")
            if k in kept:
                j += 1
                dims.append("1")
        else:
            source_index.append(out_index[j])
            j += 1
            d = x.type.shape[k]
            dims.append(str(d) if d is not None else f"{g[x]}.shape[{k}]")
    name = g.names.fresh(f"k_{node.op_name}")
    what = f"{_label(node)}: a block per element or part of one"
    lines = _tree_kernel(reduction, acc, name, out_rank, source_index, axes, what)
    g.kernels.append("\n".join(lines))
    partials_type = (acc.name, 2)
    g.signatures[name] = [(node.dtype.name, max(out_rank, 1)), partials_type, (x.dtype.name, rank)]
    finish = _finish(g, node)
    out = g.names.fresh(node.op_name)
    g.host(f"{out} = empty({_shape_text(dims)}, {np_dtype(node.dtype)})")
    size = " * ".join(f"{g[x]}.shape[{k}]" for k in axes) or "1"
    config = g.names.fresh(f"{node.op_name}_tree")
    g.host(f"{config} = tree({out}.size, {size})  # (blocks, threads, parts of a slice)")
    partials = g.names.fresh(f"{node.op_name}_partials")
    rows = f"{out}.size if {config}[2] > 1 else 0"
    g.host(f"{partials} = empty(({rows}, {config}[2]), {np_dtype(acc)})")
    g.host(f"{name}[{config}[:2]]({out}, {partials}, {g[x]})")
    with g.host.indent(f"if {config}[2] > 1:"):
        blocks = f"tree({out}.size, {config}[2])[:2]"
        g.host(f"{finish}[{blocks}]({out}.reshape(({out}.size,)), {partials})")
    g.launches.append(f"{name}: {_label(node)}, {PER_BLOCK}")
    _result(g, node, out)


def _finish(g: _Gen, node: Node) -> str:
    """The kernel folding a reduction's `partials` (a row per output element, a column
    per part) into a flat `out` of its dtype: one per way of combining and dtypes, shared
    by the reductions that fold alike (named after the first)."""
    reduction, dtype = node.opdef.reduction, node.dtype
    acc = reduction.accumulator(dtype)
    key = (reduction.combine, acc.name, dtype.name)
    if key not in g.finishers:
        kind = node.opdef.type_name.lower()
        name = g.names.fresh(f"k_finish_{kind}_{acc.name}_to_{dtype.name}")
        g.finishers[key] = name
        what = "each row of a reduction's `partials` (an element's parts) folded"
        lines = _tree_kernel(reduction, acc, name, 1, ["i0", "r1"], (1,), what, parts=False)
        g.kernels.append("\n".join(lines))
        g.signatures[name] = [(dtype.name, 1), (acc.name, 2)]
    return g.finishers[key]


def _tree_kernel(
    reduction: Reduction,
    acc: DType,
    name: str,
    out_rank: int,
    index: list[str],
    axes: tuple,
    what: str,
    parts: bool = True,
) -> list[str]:
    """The lines of a reduction kernel (see `_reduction`) whose docstring says `what`:
    `index` reads its source `a0` at the output index `i0, ...` and the reduced axes'
    `r{k}`. With `parts` its parameters are (out, partials, a0), else (out, a0): one
    part, out written."""
    combine = reduction.combine.format
    at = ", ".join(_index(out_rank)) or "0"
    count = " * ".join(f"a0.shape[{k}]" for k in axes) or "1"
    unravel = ["rest = r"]
    for k in reversed(axes):
        unravel += [f"r{k} = rest % a0.shape[{k}]", f"rest //= a0.shape[{k}]"]
    value = f"{np_dtype(acc)}(a0[{', '.join(index)}])"
    shared = "np.uint8" if acc.name == "bool" else np_dtype(acc)  # numba has no bool shared
    head = [
        "@cuda.jit",
        f"def {name}({'out, partials, a0' if parts else 'out, a0'}):",
        f'    """{what}, a tree in shared memory."""',
        f"    partial = cuda.shared.array(THREADS, {shared})",
        "    tid = cuda.threadIdx.x",
        f"    count = {count}",
        f"    parts = {'partials.shape[1]' if parts else '1'}",
        "    chunk = -(-count // parts)",
        "    for job in range(cuda.blockIdx.x, out.size * parts, cuda.gridDim.x):",
    ]
    body = [
        "flat = job // parts",
        "p = job % parts",
        *_unravel(out_rank),
        f"acc = {literal(reduction.identity(acc.np), acc)}",
        "for r in range(p * chunk + tid, min(count, (p + 1) * chunk), cuda.blockDim.x):",
        *("    " + line for line in unravel),
        f"    acc = {combine(acc='acc', v=value)}",
        "partial[tid] = acc",
        "cuda.syncthreads()",
        "half = cuda.blockDim.x // 2",
        "while half > 0:",
        "    if tid < half:",
        f"        partial[tid] = {combine(acc='partial[tid]', v='partial[tid + half]')}",
        "    cuda.syncthreads()",
        "    half //= 2",
    ]
    if parts:
        body += [
            "if tid == 0 and partials.shape[0] == 0:  # one part: the element itself",
            f"    out[{at}] = partial[0]",
            "elif tid == 0:",
            "    partials[flat, p] = partial[0]",
        ]
    else:
        body += ["if tid == 0:", f"    out[{at}] = partial[0]"]
    body.append("cuda.syncthreads()  # partial is reused by the next job")
    return [*head, *("        " + line for line in body)]


def _reshape(g: _Gen, node: Node) -> None:
    x = node.inputs[0]
    shape = node.type.shape
    known = int(np.prod([d for d in shape if d is not None])) if shape else 1
    size = "1" if _is_scalar(x) else f"{g[x]}.size"
    dims = [str(d) if d is not None else f"{size} // {known}" for d in shape]
    name = g.names.fresh(node.op_name)
    if _is_scalar(node):
        source = g[x] if _is_scalar(x) else f"{g[x]}.copy_to_host().reshape(-1)[0]"
        g.host(f"{name} = {np_dtype(node.dtype)}({source})")
    elif _is_scalar(x):
        full = f"np.full({_shape_text(dims)}, {g[x]}, {np_dtype(node.dtype)})"
        g.host(f"{name} = cuda.to_device({full})")
    else:
        g.host(f"{name} = {g[x]}.reshape({_shape_text(dims)})")
    g.bind(node, name)


def _fused(g: _Gen, node: Node) -> None:
    """A fused kernel (passes.fuse: the CPU target's decisions): one thread per element of
    its iteration space computes the members into locals and stores the values the
    graph reads; each reduction member (a sink) then runs as its own reduction kernel
    over its input, which the fused kernel stores too."""
    kernel = node.attrs["kernel"]
    inner = kernel.graph
    for p, x in zip(inner.inputs, node.inputs, strict=True):
        g.bind(p, g[x])
    sinks = [m for m in inner.nodes if m.opdef.fusion is Fusion.REDUCTION]
    stored = [o for o in inner.outputs if o.opdef.fusion is not Fusion.REDUCTION]
    for sink in sinks:
        x = sink.inputs[0]
        if x.opdef.name != "kernel_param" and all(x is not o for o in stored):
            stored.append(x)
    shape, index = kernel.shape, _index(len(kernel.shape))
    params, distinct = _params(g, list(inner.inputs))
    outs = [f"out{j}" for j in range(len(stored))]
    local = Names((*RESERVED, "flat", "rest", *index, *params.values(), *outs))
    values: dict[int, str] = {}
    body = []
    for m in inner.nodes:
        if m.opdef.name == "kernel_param" or m.opdef.fusion is Fusion.REDUCTION:
            continue
        broadcast = m.opdef.fusion is Fusion.BROADCAST
        operands = [
            values[id(x)] if id(x) in values else _read(g, x, params, shape)
            for x in (m.inputs[:1] if broadcast else m.inputs)
        ]
        values[id(m)] = local.fresh(m.op_name)
        body.append(f"{values[id(m)]} = {operands[0] if broadcast else _expr(m, operands)}")
    at = ", ".join(index)
    body += [f"{out}[{at}] = {values[id(o)]}" for out, o in zip(outs, stored, strict=True)]
    ops = ", ".join(kernel.ops)
    outputs = [(out, o.dtype.name) for out, o in zip(outs, stored, strict=True)]
    what = f"{node.op_name} (fused: {ops})"
    name = _kernel(g, node, distinct, body, len(shape), outputs=outputs, what=what)
    dims = broadcast_dims(g, node.inputs, shape)
    arrays = [g.names.fresh(o.op_name) for o in stored]
    for array, o in zip(arrays, stored, strict=True):
        g.host(f"{g.bind(o, array)} = empty({_shape_text(dims)}, {np_dtype(o.dtype)})")
    args = [*arrays, *(g[p] for p in distinct)]
    g.host(f"{name}[launch({arrays[0]}.size)]({', '.join(args)})")
    g.launches.append(f"{name}: {ops}, {PER_ELEMENT}")
    for sink in sinks:
        _reduction(g, sink)
    g.outputs[id(node)] = [g[o] for o in inner.outputs]
    g.bind(node, "None")


def _fused_output(g: _Gen, node: Node) -> None:
    g.bind(node, g.outputs[id(node.inputs[0])][node.attrs["index"]])


def _const(g: _Gen, node: Node) -> None:  # array constants are arguments
    g.bind(node, literal(node.attrs["value"].array, node.dtype))


def _variable(g: _Gen, node: Node) -> None:
    buffer = g.buffers[id(node)]
    if _is_scalar(node):  # rank 0: a one-element device array, read as a host scalar
        name = g.names.fresh(node.op_name)
        g.host(f"{name} = {np_dtype(node.dtype)}({buffer}.copy_to_host()[0])")
        g.bind(node, name)
    else:
        g.bind(node, buffer)


def _read_variable(g: _Gen, node: Node) -> None:
    var = node.inputs[0]
    latest = [value for written, value in g.writes if written is var]
    if latest:
        g.bind(node, latest[-1])
        return
    if id(var) not in g.value:
        _variable(g, var)
    g.bind(node, g[var])


def _assign(g: _Gen, node: Node) -> None:
    var, value = node.inputs
    g.bind(node, g[value])
    g.writes.append((var, g[value]))


def _no_op(g: _Gen, node: Node) -> None:
    g.bind(node, "None")


def _placeholder_with_default(g: _Gen, node: Node) -> None:
    g.bind(node, g[node.inputs[0]])


TILE = 16  # the tiled matmul's tile: 16x16 threads per block, two 16x16 shared arrays


def _matmul(g: _Gen, node: Node) -> None:
    """A matrix product: `_product` for floats (2-D, or batched with CuPy), else one
    thread per output element, batch axes broadcast."""
    a, b = node.inputs
    rank, ra, rb = len(node.type.shape), len(a.type.shape), len(b.type.shape)
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    dims = _dims(g, node)[:-2] if rank > 2 else []
    dims.append(f"{g[a]}.shape[{ra - 1 if ta else ra - 2}]")
    dims.append(f"{g[b]}.shape[{rb - 2 if tb else rb - 1}]")
    if node.dtype.is_floating and (g.cupy or rank == 2):
        out = g.names.fresh(node.op_name)
        g.host(f"{out} = empty({_shape_text(dims)}, {np_dtype(node.dtype)})")
        _product(g, node, out, (g[a], ta), (g[b], tb), _label(node))
        g.bind(node, out)
        return
    index = _index(rank)
    batch, (row, col) = index[:-2], index[-2:]
    out_batch = node.type.shape[:-2]
    a_batch = broadcast_index(a.type.shape[:-2], batch, out_batch)
    b_batch = broadcast_index(b.type.shape[:-2], batch, out_batch)
    a_at = ", ".join([*a_batch, *(["k", row] if ta else [row, "k"])])
    b_at = ", ".join([*b_batch, *([col, "k"] if tb else ["k", col])])
    acc = "np.float64(0)" if node.dtype.name in ("float16", "float32") else literal(0, node.dtype)
    body = [
        f"acc = {acc}",
        f"for k in range(a0.shape[{ra - 2 if ta else ra - 1}]):",
        f"    acc += a0[{a_at}] * a1[{b_at}]",
        f"out[{', '.join(index)}] = acc",
    ]
    kernel = _kernel(g, node, [a, b], body, rank)
    _launch(g, node, kernel, dims, [g[a], g[b]])


def _product(
    g: _Gen, node: Node, out: str, a: tuple[str, bool], b: tuple[str, bool], what: str
) -> None:
    """Host lines: `out` (allocated) = a @ b, each (array, transposed), in node's dtype:
    cuBLAS through CuPy with `g.cupy`, else `_tiled_matmul`'s kernel (2-D)."""
    if g.cupy:
        g.host(f"gemm({out}, {a[0]}, {b[0]}, {a[1]}, {b[1]})")
        g.launches.append(f"gemm: {what}, cuBLAS")
    else:
        _tiled_matmul(g, node, out, a, b, what)


def _tiled_matmul(
    g: _Gen, node: Node, out: str, a: tuple[str, bool], b: tuple[str, bool], what: str
) -> None:
    """C = A @ B through TILE x TILE tiles: a block loads one tile of A and one of B into
    shared memory per step along the inner dimension, each thread adding its row of the
    one times its column of the other (blocks stride over the output's tiles)."""
    (a_array, ta), (b_array, tb) = a, b
    name = g.names.fresh(f"k_{node.op_name}")
    dtype = node.dtype.np_name
    acc = "np.float64(0)" if node.dtype.name == "float32" else literal(0, node.dtype)
    a_at = "k0 + tx, i" if ta else "i, k0 + tx"
    b_at = "j, k0 + ty" if tb else "k0 + ty, j"
    inner = "a0.shape[0]" if ta else "a0.shape[1]"
    lines = [
        "@cuda.jit",
        f"def {name}(out, a0, a1):",
        f'    """{what}: tiled through shared memory."""',
        f"    sa = cuda.shared.array(({TILE}, {TILE}), np.{dtype})",
        f"    sb = cuda.shared.array(({TILE}, {TILE}), np.{dtype})",
        "    tx = cuda.threadIdx.x",
        "    ty = cuda.threadIdx.y",
        f"    inner = {inner}",
        f"    first_row, rows = cuda.blockIdx.y * {TILE}, cuda.gridDim.y * {TILE}",
        f"    first_col, cols = cuda.blockIdx.x * {TILE}, cuda.gridDim.x * {TILE}",
        "    for row0 in range(first_row, out.shape[0], rows):",
        "        for col0 in range(first_col, out.shape[1], cols):",
        "            i = row0 + ty",
        "            j = col0 + tx",
        f"            acc = {acc}",
        f"            for k0 in range(0, inner, {TILE}):",
        "                if i < out.shape[0] and k0 + tx < inner:",
        f"                    sa[ty, tx] = a0[{a_at}]",
        "                else:",
        "                    sa[ty, tx] = 0",
        "                if j < out.shape[1] and k0 + ty < inner:",
        f"                    sb[ty, tx] = a1[{b_at}]",
        "                else:",
        "                    sb[ty, tx] = 0",
        "                cuda.syncthreads()",
        f"                for k in range({TILE}):",
        "                    acc += sa[ty, k] * sb[k, tx]",
        "                cuda.syncthreads()",
        "            if i < out.shape[0] and j < out.shape[1]:",
        "                out[i, j] = acc",
    ]
    g.kernels.append("\n".join(lines))
    g.signatures[name] = [(node.dtype.name, 2)] * 3
    rows, cols = f"{out}.shape[0]", f"{out}.shape[1]"
    grid = f"(min(-(-{cols} // {TILE}), 256) or 1, min(-(-{rows} // {TILE}), 256) or 1)"
    g.host(f"{name}[{grid}, ({TILE}, {TILE})]({out}, {a_array}, {b_array})")
    g.launches.append(f"{name}: {what}, {TILE}x{TILE} tiles ({TILE}x{TILE}-thread blocks)")


def _argmax(g: _Gen, node: Node) -> None:
    (x,) = node.inputs
    rank = len(x.type.shape)
    axis = node.attrs["axis"] % rank
    out_index = _index(rank - 1)
    source = [*out_index[:axis], "j", *out_index[axis:]]
    first = [*out_index[:axis], "0", *out_index[axis:]]
    body = [
        "best = 0",
        f"top = a0[{', '.join(first)}]",
        f"for j in range(1, a0.shape[{axis}]):",
        f"    v = a0[{', '.join(source)}]",
        "    if v > top or (v != v and top == top):",
        "        top = v",
        "        best = j",
        f"out[{', '.join(out_index) or '0'}] = best",
    ]
    kernel = _kernel(g, node, [x], body, rank - 1)
    dims = [
        str(d) if d is not None else f"{g[x]}.shape[{k}]"
        for k, d in enumerate(x.type.shape)
        if k != axis
    ]
    _launch(g, node, kernel, dims, [g[x]])


def _one_hot(g: _Gen, node: Node) -> None:
    (indices,) = node.inputs
    a = node.attrs
    rank = len(node.type.shape)
    hot_axis = a["axis"] % rank
    on, off = literal(a["on"], node.dtype), literal(a["off"], node.dtype)
    index = _index(rank)
    source = [i for k, i in enumerate(index) if k != hot_axis]
    hot = f"a0[{', '.join(source) or '0'}] == i{hot_axis}"
    body = [f"out[{', '.join(index)}] = {on} if {hot} else {off}"]
    kernel = _kernel(g, node, [indices], body, rank)
    dims = _static_or_read(g, indices, indices.type.shape)
    dims.insert(hot_axis, str(a["depth"]))
    _launch(g, node, kernel, dims, [g[indices]])


def _check_labels(g: _Gen, node: Node) -> None:
    """Checked on the host (labels are small): their count against the logits' rows and
    each one against the number of classes; the value is the labels themselves."""
    labels, logits = node.inputs
    host = g.names.fresh(f"{node.op_name}_host")
    g.host(f"{host} = {g[labels]}.copy_to_host()")
    classes = f"{g[logits]}.shape[{len(logits.type.shape) - 1}]"
    rows = f"{g[logits]}.shape[0]"
    for failed, message, values in (
        (
            f"{host}.shape[0] != {rows}",
            "{} labels for {} rows of logits",
            [f"{host}.shape[0]", rows],
        ),
        (
            f"{host}.size and ({host}.min() < 0 or {host}.max() >= {classes})",
            "a label is not in [0, {})",
            [classes],
        ),
    ):
        template = f"{op_label(node)}: {message}"
        g.sites[template] = node.site
        with g.host.indent(f"if {failed}:"):
            g.host(raise_line("ValueError", template, values))
    g.bind(node, g[labels])


def _reduced_size(g: _Gen, node: Node) -> None:
    (x,) = node.inputs
    rank = len(x.type.shape)
    axes = range(rank) if node.attrs["axis"] is None else node.attrs["axis"]
    dims = [f"{g[x]}.shape[{k}]" for k in axes] or ["1"]
    g.host(
        f"{g.bind(node, g.names.fresh(node.op_name))} = {np_dtype(node.dtype)}({' * '.join(dims)})"
    )


# ---- convolutions and pooling: direct loops, one thread per output element ---------------
def _window(g: _Gen, node: Node, image: Node, ksize: tuple[int, int]) -> list[str]:
    """Host lines computing the window geometry of `node` over `image` (TF's SAME/VALID
    rule, graphc.ops.conv); returns the names (out rows, out cols, top pad, left pad)."""
    (kh, kw), (sh, sw), padding = ksize, node.attrs["strides"], node.attrs["padding"]
    names = [g.names.fresh(f"{node.op_name}_{w}") for w in ("rows", "cols", "top", "left")]
    for axis, k, s, out, pad in ((1, kh, sh, names[0], names[2]), (2, kw, sw, names[1], names[3])):
        size = f"{g[image]}.shape[{axis}]"
        if padding == "SAME":
            g.host(f"{out} = -(-{size} // {s})")
            g.host(f"{pad} = max(({out} - 1) * {s} + {k} - {size}, 0) // 2")
        else:
            g.host(f"{out} = -(-({size} - {k} + 1) // {s})")
            g.host(f"{pad} = 0")
    return names


def _patches(g: _Gen, node: Node, image: Node, ksize: tuple, cin: int, window: list[str]) -> str:
    """Host lines: the im2col matrix of `image`, a row per output position (n, oh, ow) and
    a column per window element (i, j, channel), 0 in the padding; returns its name."""
    (kh, kw), (sh, sw) = ksize, node.attrs["strides"]
    rows, cols, top, left = window
    body = [
        f"ch = i1 % {cin}",
        f"j = (i1 // {cin}) % {kw}",
        f"i = i1 // {cin * kw}",
        "ow = i0 % cols",
        "oh = (i0 // cols) % rows",
        "n = i0 // (cols * rows)",
        f"r = oh * {sh} - top + i",
        f"c = ow * {sw} - left + j",
        "if 0 <= r < a0.shape[1] and 0 <= c < a0.shape[2]:",
        "    out[i0, i1] = a0[n, r, c, ch]",
        "else:",
        "    out[i0, i1] = 0",
    ]
    kernel = _kernel(g, node, [image], body, 2, extra=("top", "left", "rows", "cols"))
    patches = g.names.fresh(f"{node.op_name}_patches")
    size = f"{g[image]}.shape[0] * {rows} * {cols}, {kh * kw * cin}"
    g.host(f"{patches} = empty(({size}), {np_dtype(node.dtype)})")
    args = [patches, g[image], top, left, rows, cols]
    g.host(f"{kernel}[launch({patches}.size)]({', '.join(args)})")
    g.launches.append(f"{kernel}: {_label(node)}, its patches (im2col), {PER_ELEMENT}")
    return patches


def _label(node: Node) -> str:
    """The op as a launch line names it: "name (Type)"."""
    return f"{node.op_name} ({node.opdef.type_name})"


def _matrix(g: _Gen, node: Node, array: str, rows: str, cols: int, label: str) -> str:
    """Host lines: `array` viewed as a (rows, cols) matrix; returns the view's name."""
    name = g.names.fresh(f"{node.op_name}_{label}")
    g.host(f"{name} = {array}.reshape(({rows}, {cols}))")
    return name


def _conv2d(g: _Gen, node: Node) -> None:
    """im2col, then one matrix product: (positions x window) @ (window x out channels)."""
    x, w = node.inputs
    kh, kw, cin, cout = w.type.shape
    window = _window(g, node, x, (kh, kw))
    patches = _patches(g, node, x, (kh, kw), cin, window)
    out = g.names.fresh(node.op_name)
    dims = [f"{g[x]}.shape[0]", window[0], window[1], str(cout)]
    g.host(f"{out} = empty({_shape_text(dims)}, {np_dtype(node.dtype)})")
    flat = _matrix(g, node, out, f"{patches}.shape[0]", cout, "rows")
    filters = _matrix(g, node, g[w], str(kh * kw * cin), cout, "filters")
    _product(g, node, flat, (patches, False), (filters, False), _label(node))
    g.bind(node, out)


def _windows_holding(ksize: tuple, strides: tuple, inner: list[str], bounds: tuple) -> list[str]:
    """Kernel lines running `inner` for every output position (`oh`, `ow`) whose window
    holds image position (i1, i2) at window offset (i, j); `bounds` are the output's
    rows and cols (the padding `top`, `left` are kernel parameters)."""
    (kh, kw), (sh, sw) = ksize, strides
    pad = "                "
    return [
        f"for i in range({kh}):",
        "    dr = i1 + top - i",
        f"    if dr >= 0 and dr % {sh} == 0 and dr // {sh} < {bounds[0]}:",
        f"        oh = dr // {sh}",
        f"        for j in range({kw}):",
        "            dc = i2 + left - j",
        f"            if dc >= 0 and dc % {sw} == 0 and dc // {sw} < {bounds[1]}:",
        f"                ow = dc // {sw}",
        *[pad + line for line in inner],
    ]


def _conv2d_backprop_input(g: _Gen, node: Node) -> None:
    """dy @ filters^T gives each window element's share (a row per output position), then
    col2im: dx[n, r, c, ci] sums the shares of the windows holding (r, c)."""
    w, dy, like = node.inputs
    kh, kw, cin, cout = w.type.shape
    rows, cols, top, left = _window(g, node, like, (kh, kw))
    positions = f"{g[dy]}.shape[0] * {rows} * {cols}"
    grads = _matrix(g, node, g[dy], positions, cout, "rows")
    filters = _matrix(g, node, g[w], str(kh * kw * cin), cout, "filters")
    shares = g.names.fresh(f"{node.op_name}_shares")
    g.host(f"{shares} = empty(({positions}, {kh * kw * cin}), {np_dtype(node.dtype)})")
    _product(g, node, shares, (grads, False), (filters, True), f"{_label(node)}, its shares")
    inner = [f"acc += a0[(i0 * rows + oh) * cols + ow, (i * {kw} + j) * {cin} + i3]"]
    body = [
        f"acc = {_accumulator(node)}",
        *_windows_holding((kh, kw), node.attrs["strides"], inner, ("rows", "cols")),
        "out[i0, i1, i2, i3] = acc",
    ]
    extra = ("top", "left", "rows", "cols")
    kernel = _kernel(g, node, [(node.dtype.name, 2)], body, 4, extra=extra)
    dims = _static_or_read(g, like, like.type.shape)
    _launch(g, node, kernel, dims, [shares, top, left, rows, cols])


def _conv2d_backprop_filter(g: _Gen, node: Node) -> None:
    """patches^T @ dy: (window x positions) @ (positions x out channels)."""
    x, dy = node.inputs
    kh, kw, cin, cout = node.attrs["filter_shape"]
    window = _window(g, node, x, (kh, kw))
    patches = _patches(g, node, x, (kh, kw), cin, window)
    grads = _matrix(g, node, g[dy], f"{patches}.shape[0]", cout, "rows")
    out = g.names.fresh(node.op_name)
    g.host(f"{out} = empty(({kh}, {kw}, {cin}, {cout}), {np_dtype(node.dtype)})")
    flat = _matrix(g, node, out, str(kh * kw * cin), cout, "matrix")
    _product(
        g, node, flat, (patches, True), (grads, False), f"{node.op_name} (Conv2DBackpropFilter)"
    )
    g.bind(node, out)


def _window_kernel(g: _Gen, node: Node, inputs: list[Node], body: list[str], rank: int) -> str:
    """A kernel whose last two parameters are the window's top and left padding."""
    return _kernel(g, node, inputs, body, rank, extra=("top", "left"))


def _accumulator(node: Node) -> str:
    """The zero products accumulate from (float32 ones in float64, rounded once)."""
    return "np.float64(0)" if node.dtype.name in ("float16", "float32") else literal(0, node.dtype)


def _max_scan() -> list[str]:
    """The loop over a window's real elements (rows [r0, r1), cols [c0, c1) of the
    image a0), leaving its first maximum in `best` at (`br`, `bc`): a NaN beats every
    number and the first NaN stays, as the ops' NumPy semantics (graphc.ops.pool)."""
    return [
        "best = a0[i0, r0, c0, i3]",
        "br = r0",
        "bc = c0",
        "for r in range(r0, r1):",
        "    for c in range(c0, c1):",
        "        v = a0[i0, r, c, i3]",
        "        if v > best or (v != v and best == best):",
        "            best = v",
        "            br = r",
        "            bc = c",
    ]


def _window_span(rows: str, cols: str, ksize: tuple, strides: tuple) -> list[str]:
    """Kernel lines: the window of output position (`rows`, `cols`): real rows [r0, r1)
    and cols [c0, c1) of the image a0."""
    (kh, kw), (sh, sw) = ksize, strides
    return [
        f"r0 = max({rows} * {sh} - top, 0)",
        f"r1 = min({rows} * {sh} - top + {kh}, a0.shape[1])",
        f"c0 = max({cols} * {sw} - left, 0)",
        f"c1 = min({cols} * {sw} - left + {kw}, a0.shape[2])",
    ]


def _pool(g: _Gen, node: Node) -> None:
    (x,) = node.inputs
    a = node.attrs
    rows, cols, top, left = _window(g, node, x, a["ksize"])
    body = _window_span("i1", "i2", a["ksize"], a["strides"])
    if node.opdef.name == "max_pool":
        body += [*_max_scan(), "out[i0, i1, i2, i3] = best"]
    else:  # the mean of the window's real elements, summed in float64
        body += [
            "acc = np.float64(0)",
            "for r in range(r0, r1):",
            "    for c in range(c0, c1):",
            "        acc += a0[i0, r, c, i3]",
            "out[i0, i1, i2, i3] = acc / ((r1 - r0) * (c1 - c0))",
        ]
    kernel = _window_kernel(g, node, [x], body, 4)
    dims = [f"{g[x]}.shape[0]", rows, cols, f"{g[x]}.shape[3]"]
    _launch(g, node, kernel, dims, [g[x], top, left])


def _pool_grad(g: _Gen, node: Node) -> None:
    """dx[n, r, c, ch]: the gradient of every window holding (r, c) that (r, c) is the
    first maximum of (max_pool_grad), or over the window's count of real elements
    (avg_pool_grad)."""
    a = node.attrs
    if node.opdef.name == "max_pool_grad":
        image, grad = node.inputs
        take = [*_max_scan(), "if br == i1 and bc == i2:", "    acc += a1[i0, oh, ow, i3]"]
    else:
        grad, image = node.inputs
        take = ["acc += a1[i0, oh, ow, i3] / ((r1 - r0) * (c1 - c0))"]
    _, _, top, left = _window(g, node, image, a["ksize"])
    span = _window_span("oh", "ow", a["ksize"], a["strides"])
    body = [
        "acc = np.float64(0)",
        *_windows_holding(a["ksize"], a["strides"], [*span, *take], ("a1.shape[1]", "a1.shape[2]")),
        "out[i0, i1, i2, i3] = acc",
    ]
    kernel = _window_kernel(g, node, [image, grad], body, 4)
    dims = _static_or_read(g, image, image.type.shape)
    _launch(g, node, kernel, dims, [g[image], g[grad], top, left])


# With CuPy: arrays from its memory pool (numba's allocator calls cudaMalloc for each and
# a device-synchronizing cudaFree every few frees), matrix products by cuBLAS (CuPy's
# matmul on views of numba's arrays: no copies). Both libraries launch on the legacy
# default stream, so the order holds without syncs.
CUPY = '''
def empty(shape, dtype):
    """A new device array, in CuPy's memory pool (freed blocks are reused)."""
    return cuda.as_cuda_array(cupy.empty(shape, dtype), sync=False)


def gemm(out, a, b, transpose_a, transpose_b):
    """out = a @ b (either transposed), batch axes broadcast, by cuBLAS."""
    x, y = cupy.asarray(a), cupy.asarray(b)
    x = x.swapaxes(-1, -2) if transpose_a else x
    y = y.swapaxes(-1, -2) if transpose_b else y
    cupy.matmul(x, y, out=cupy.asarray(out))
'''


ROUNDING_HELPERS = ("floor_", "ceil_", "rint_")
# np.floor, np.ceil and np.rint for device code: math's return integers, so values that
# are already integral (infinities, NaN, |x| >= 2**52) are returned as they are
ROUNDING = '''
@cuda.jit(device=True, inline="always")
def floor_(x):
    return x if not math.isfinite(x) or abs(x) >= 4503599627370496.0 else math.floor(x)


@cuda.jit(device=True, inline="always")
def ceil_(x):
    return x if not math.isfinite(x) or abs(x) >= 4503599627370496.0 else math.ceil(x)


@cuda.jit(device=True, inline="always")
def rint_(x):
    """Halves to even, as np.rint."""
    return x if not math.isfinite(x) or abs(x) >= 4503599627370496.0 else round(x)
'''


# xoroshiro128+ (the generator of numba.cuda.random, whose states the executable makes
# with create_xoroshiro128p_states), written out as inline device functions: numba's own
# are not inlined, and a kernel calling them cannot compile to PTX without a driver.
GENERATORS = '''
@cuda.jit(device=True, inline="always")
def next_bits(states, i):
    """The next 64 bits of generator i (xoroshiro128+: a=55, b=14, c=36)."""
    s0 = states[i]["s0"]
    s1 = states[i]["s1"]
    result = s0 + s1
    s1 ^= s0
    states[i]["s0"] = ((s0 << np.uint32(55)) | (s0 >> np.uint32(9))) ^ s1 ^ (s1 << np.uint32(14))
    states[i]["s1"] = (s1 << np.uint32(36)) | (s1 >> np.uint32(28))
    return result


@cuda.jit(device=True, inline="always")
def uniform_float32(states, i):
    """Uniform in [0, 1): the top 24 bits."""
    return np.float32(next_bits(states, i) >> np.uint32(40)) * np.float32(1.0 / 16777216.0)


@cuda.jit(device=True, inline="always")
def uniform_float64(states, i):
    """Uniform in [0, 1): the top 53 bits."""
    return np.float64(next_bits(states, i) >> np.uint32(11)) * (1.0 / 9007199254740992.0)


@cuda.jit(device=True, inline="always")
def normal_float64(states, i):
    """Standard normal (Box-Muller; 1 - u keeps the logarithm finite)."""
    u1 = 1.0 - uniform_float64(states, i)
    u2 = uniform_float64(states, i)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@cuda.jit(device=True, inline="always")
def normal_float32(states, i):
    return np.float32(normal_float64(states, i))
'''


def _random(g: _Gen, node: Node) -> None:
    """Draws from the op's own xoroshiro128+ generators (GENERATORS), one per thread of
    a fixed grid of RANDOM_THREADS; they advance every run, as the op's NumPy generator
    does on the other targets (the values differ from theirs)."""
    (shape,) = node.inputs
    static = node.attrs["static"]
    if static is not None and None not in static:
        dims = [str(d) for d in static]
    else:
        host = g.names.fresh(f"{node.op_name}_shape")
        g.host(f"{host} = {g[shape]}.copy_to_host()")
        dims = [f"int({host}[{k}])" for k in range(len(node.type.shape))]
    bits = "float32" if node.dtype.name == "float32" else "float64"
    name = g.names.fresh(f"k_{node.op_name}")
    draw = {
        "random_uniform": f"uniform_{bits}(states, tid)",
        "random_standard_normal": f"normal_{bits}(states, tid)",
        "truncated_normal": f"normal_{bits}(states, tid)",
        "random_uniform_int": "uniform_float64(states, tid)",
    }[node.opdef.name]
    lines = [
        "@cuda.jit",
        f"def {name}(out, states):",
        f'    """{_label(node)}: draws of thread tid from its state."""',
        "    tid = cuda.grid(1)",
        "    for flat in range(tid, out.size, states.shape[0]):",
        f"        v = {draw}",
    ]
    if node.opdef.name == "truncated_normal":  # redrawn beyond two stddevs, as TF
        lines += ["        while abs(v) > 2:", f"            v = {draw}"]
    if node.opdef.name == "random_uniform_int":
        lo, hi = node.attrs["minval"], node.attrs["maxval"]
        lines.append(f"        v = min({lo} + int(v * {hi - lo}), {hi - 1})")
    rank = len(dims)
    lines += ["        " + line for line in _unravel(rank)]
    lines.append(f"        out[{', '.join(_index(rank)) or '0'}] = v")
    g.kernels.append("\n".join(lines))
    g.signatures[name] = [(node.dtype.name, max(len(dims), 1)), ("xoroshiro128p", 1)]
    out = g.names.fresh(node.op_name)
    g.host(f"{out} = empty({_shape_text(dims)}, {np_dtype(node.dtype)})")
    states = g.states[id(node)]
    g.host(f"{name}[{states}.shape[0] // {RANDOM_THREADS}, {RANDOM_THREADS}]({out}, {states})")
    g.launches.append(f"{name}: {_label(node)}, {RANDOM_THREADS} generators (one a thread)")
    _result(g, node, out)


def _shape(g: _Gen, node: Node) -> None:
    """tf.shape: the input's dims, a small array copied to the device."""
    (x,) = node.inputs
    dims = _static_or_read(g, x, x.type.shape)
    array = f"np.array([{', '.join(dims)}], {np_dtype(node.dtype)})"
    g.host(f"{g.bind(node, g.names.fresh(node.op_name))} = cuda.to_device({array})")


def _size(g: _Gen, node: Node) -> None:
    """tf.size: the input's element count, a host scalar."""
    (x,) = node.inputs
    size = "1" if _is_scalar(x) else f"{g[x]}.size"
    g.host(f"{g.bind(node, g.names.fresh(node.op_name))} = {np_dtype(node.dtype)}({size})")


# the emitter of each op that is not elementwise, a broadcast, a reduction or a reshape
EMITTERS = {
    "const": _const,
    "fused": _fused,
    "fused_output": _fused_output,
    "variable": _variable,
    "read_variable": _read_variable,
    "assign": _assign,
    "no_op": _no_op,
    "placeholder_with_default": _placeholder_with_default,
    "matmul": _matmul,
    "argmax": _argmax,
    "one_hot": _one_hot,
    "check_labels": _check_labels,
    "reduced_size": _reduced_size,
    "shape": _shape,
    "size": _size,
    "conv2d": _conv2d,
    "conv2d_backprop_input": _conv2d_backprop_input,
    "conv2d_backprop_filter": _conv2d_backprop_filter,
    "max_pool": _pool,
    "avg_pool": _pool,
    "max_pool_grad": _pool_grad,
    "avg_pool_grad": _pool_grad,
    "random_uniform": _random,
    "random_standard_normal": _random,
    "truncated_normal": _random,
    "random_uniform_int": _random,
}
