"""The shared emission context: what one generated step is made of (`Program`), the
state of emitting it (`Context`: source, names, value expressions, loops), and the
rules every emitter uses to write values: literals, dtypes, broadcast indexing and
the scalar snippets of elementwise ops.

Invariants: `literal` writes the shortest text that reads back as exactly the value in
its dtype; a scalar local of an integer dtype holds its value wrapped to that dtype
(`narrowed`), as an array of that dtype would; a broadcast input is indexed by NumPy's
rule (size-1 and missing leading axes read index 0), with an unknown dim read off an
input that has it; a loop of static extent 1 is not written, its index being the
literal 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphc.codegen.checks import Checks
from graphc.codegen.source import Names, Source
from graphc.ir import Node
from graphc.ops.dims import Dim
from graphc.ops.linalg import matrix_product
from graphc.schedule import Branch
from graphc.types import DType


@dataclass
class Program:
    """What one step computes: nodes in order, the arguments, fetches and variable writes."""

    order: list[Node]
    feeds: list[Node]
    fetches: list[Node]
    title: str = "step"
    variables: list[Node] = field(default_factory=list)
    consts: list[Node] = field(default_factory=list)  # array constants, one argument each
    # scalar constants: values of two arguments (`scalars`, float64; `integers`, int64, for
    # integers and bools), so a program serves every value of them
    scalars: list[Node] = field(default_factory=list)
    randoms: list[Node] = field(default_factory=list)
    # The caller's targets as it named them (before passes), True for an op run only for its
    # effects: the step's docstring lists them. Empty: the fetches are listed instead.
    targets: list[tuple[Node, bool]] = field(default_factory=list)
    # `order` with the branches of tf.cond nested (graphc.schedule); empty: `order` itself
    blocks: tuple[Node | Branch, ...] = ()

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = tuple(self.order)

    def scalar_groups(self) -> list[tuple[str, list[Node]]]:
        """The arguments holding scalar constants: (name, its constants), non-empty ones."""
        floats = [n for n in self.scalars if n.dtype.is_floating]
        others = [n for n in self.scalars if not n.dtype.is_floating]
        return [
            (name, nodes) for name, nodes in (("scalars", floats), ("integers", others)) if nodes
        ]

    def constant_arrays(self) -> list[np.ndarray]:
        """What the step's constants arguments get: each array constant, then the values of
        the scalar constants (float64 holds every float exactly, int64 every integer)."""
        arrays = [n.attrs["value"].array for n in self.consts]
        for name, nodes in self.scalar_groups():
            dtype = np.float64 if name == "scalars" else np.int64
            arrays.append(np.array([n.attrs["value"].array.item() for n in nodes], dtype))
        return arrays


def np_dtype(dtype: DType) -> str:
    return f"np.{dtype.np_name}"


def shape_text(dims: list[str]) -> str:
    """A shape tuple as source text: `(n, 3)`, `(3,)`, `()`."""
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def literal(value: np.ndarray | float | int | bool, dtype: DType) -> str:
    """A scalar of `dtype` as source text that evaluates to exactly that scalar.

    Floats are first converted to `dtype`, then written with the fewest digits that
    round-trip in it: `np.float32(0.9)`, not the digits of its float64 widening.
    """
    v = np.asarray(value).item()
    if dtype.is_bool:
        return repr(bool(v))
    if dtype.is_integer:
        return f"{np_dtype(dtype)}({int(v)})"
    return f"{np_dtype(dtype)}({float_text(dtype.np.type(v))})"


def float_text(x: np.floating) -> str:
    """The shortest decimal that parses back to `x` bit for bit in x's own dtype.

    Laid out as Python's float repr (positional for 1e-4 <= |x| < 1e16, else scientific),
    and independent of NumPy's print options. Infinities and NaN are spelled through `np`;
    a NaN keeps its sign through `math.copysign` (Numba drops it from `-np.nan`), not its
    payload bits. Parsing the text as a float64 and rounding that to float32 gives back
    `x`: float64 has more than twice float32's precision, so the double rounding is exact.
    """
    if np.isnan(x):
        return "math.copysign(np.nan, -1.0)" if np.signbit(x) else "np.nan"
    if np.isinf(x):
        return "-np.inf" if x < 0 else "np.inf"
    if x == 0 or 1e-4 <= abs(x) < 1e16:
        return np.format_float_positional(x, unique=True, trim="0")
    return np.format_float_scientific(x, unique=True, trim="-")


# graphc.fastmath's functions (its __all__, held equal by test_fastmath.py; the module is
# not imported here: it imports Numba's machinery, 0.3 s of `import graphc`)
FASTMATH = ("cos32", "cos32_near", "exp32", "sin32", "sin32_near")
FASTMATH_FILE = Path(__file__).parent.parent / "fastmath.py"


# Python functions a step calls from `objmode` blocks: their name in the module (reserved,
# so a call of it in the body is one of these) -> the import that defines it (the print
# ops' writer, the allreduce over MPI)
HOST_CALLS = {
    "_print": "from graphc.printer import emit as _print",
    "_allreduce": "from graphc.mpi import allreduce_into as _allreduce",
}

# graphc.blas's products on strided views, which a threaded step calls (its __all__ less
# one_thread, which the backend calls around the step; not imported here, as FASTMATH)
BLAS_CALLS = ("gemm32", "gemm64")
BLAS_FILE = Path(__file__).parent.parent / "blas.py"


class Context:
    """Emission state: the source, identifiers and value expressions of emitted nodes."""

    def __init__(
        self, program: Program, updates: dict[tuple[int, int], Node] | None = None
    ) -> None:
        self.program = program
        # (fused node id, output index) -> the variable whose buffer that output is written
        # into, in place (graphc.codegen.updates)
        self.updates = updates or {}
        self.src = Source()
        reserved = ("np", "math", "njit", "objmode", "prange", "step", "_store", *HOST_CALLS)
        self.names = Names((*reserved, "one_thread", *BLAS_CALLS, *FASTMATH))
        self.value: dict[int, str] = {}  # node id -> expression of its value
        self.aliases: set[int] = set()  # nodes whose array may be a buffer, feed or constant
        # (variable, value, the conditions it is written under): stored at the step's end
        self.writes: list[tuple[Node, str, tuple[str, ...]]] = []
        self.condition: tuple[str, ...] = ()  # the `if`s of tf.cond branches around the code
        self.buffers: dict[int, str] = {}  # variable id -> its buffer argument
        self.slots: dict[int, str] = {}  # scalar constant id -> its element of an argument
        self.kernels: dict[int, list[str]] = {}  # fused node id -> its output values
        self.parallel = False  # set when a loop is a prange: the step needs parallel=True
        # OpenBLAS worker threads keep spinning after each np.dot and fight Numba's workers for
        # the 2 cores: parallel kernels made the W1 MLP step 5x slower (1.6 -> 8.4 ms). So a
        # program that calls BLAS either keeps every loop serial (BLAS threads its products)
        # or, when it convolves (`threaded`), runs BLAS on one thread (graphc.blas.one_thread)
        # and splits its products and tiles between its own threads: W4 ran in 21 ms instead
        # of 27 (its products alone 35 ms of one core's time, split or not).
        self.threaded = any(n.opdef.name in CONV_OPS for n in program.order)
        self.allow_parallel = self.threaded or not any(calls_blas(n) for n in program.order)
        self.checks = Checks()  # run-time size and index checks (graphc.codegen.checks)
        self._loop_depth = 0

    # ---- values ---------------------------------------------------------------------
    def __getitem__(self, node: Node) -> str:
        return self.value[id(node)]

    def bind(self, node: Node, expr: str, alias: bool = False) -> None:
        self.value[id(node)] = expr
        if alias:
            self.aliases.add(id(node))

    def new(self, node: Node) -> str:
        """A fresh identifier for `node`, bound as its value."""
        name = self.names.fresh(node.op_name)
        self.bind(node, name)
        return name

    @staticmethod
    def is_scalar(node: Node) -> bool:
        return node.type.shape == ()

    def updated_in_place(self, value: Node) -> Node | None:
        """The variable whose buffer a kernel output `value` is written into, if any."""
        if value.opdef.name != "fused_output":
            return None
        return self.updates.get((id(value.inputs[0]), value.attrs["index"]))

    def dims(self, node: Node) -> list[str]:
        """Each dim of `node` as source text: a literal, or read off its array."""
        return [
            str(d) if d is not None else f"{self[node]}.shape[{k}]"
            for k, d in enumerate(node.type.shape)
        ]

    def size(self, node: Node) -> str:
        return " * ".join(self.dims(node)) or "1"

    def size_of(self, dim: Dim | int) -> str:
        """A size as source text: a static size, or a tensor's axis (read off its array)."""
        return str(dim) if isinstance(dim, int) else self.dims(dim[0])[dim[1]]

    def empty(self, node: Node, dims: list[str]) -> str:
        name = self.new(node)
        self.src(f"{name} = np.empty({shape_text(dims)}, {np_dtype(node.dtype)})")
        self.checks.shaped(name, dims)
        return name

    @contextmanager
    def branch(self, condition: str) -> Iterator[None]:
        """Code emitted inside runs only when `condition` holds (one side of a tf.cond):
        writes record it, and size checks made there are forgotten after."""
        saved = self.condition
        self.condition = (*saved, condition)
        try:
            with self.checks.scoped():
                yield
        finally:
            self.condition = saved

    def write(self, var: Node, expr: str) -> None:
        """Records that `var` gets the value `expr` at the step's end (under the current
        branch's conditions)."""
        self.writes.append((var, expr, self.condition))

    # ---- loops ----------------------------------------------------------------------
    @contextmanager
    def loops(self, dims: list[str], parallel: bool = False) -> Iterator[list[str]]:
        """Nested loops over `dims` (the outer one a prange when `parallel`, which makes
        the step parallel); yields indices.

        An axis of static extent 1 (its dim text is "1") gets no loop and the index "0";
        the loops that are written are numbered from the enclosing depth without gaps.
        """
        index: list[str] = []
        entered = 0
        try:
            for k, dim in enumerate(dims):
                if dim == "1":
                    index.append("0")
                    continue
                name = f"i{self._loop_depth}"
                loop = "prange" if parallel and k == 0 else "range"
                self.parallel |= loop == "prange"
                self.src(f"for {name} in {loop}({dim}):")
                self.src._level += 1
                self._loop_depth += 1
                entered += 1
                index.append(name)
            yield index
        finally:
            self.src._level -= entered
            self._loop_depth -= entered

    # ---- threads (a threaded program) ------------------------------------------------
    @property
    def threads(self) -> int:
        """The threads of Numba's pool (NUMBA_NUM_THREADS), a literal in the source:
        `numba.get_num_threads()` inside a step would keep Numba from caching it."""
        from numba import config

        return int(config.NUMBA_NUM_THREADS)

    def parts(self, size: str) -> str:
        """Emits the number of blocks `size` items are split into between the step's
        threads (one each, at least one block); returns its name."""
        parts = self.names.fresh("parts")
        self.src(f"{parts} = max(min({self.threads}, {size}), 1)")
        return parts

    @contextmanager
    def split(self, parts: str, size: str) -> Iterator[tuple[str, str, str]]:
        """A prange over `parts` blocks of `size` items, contiguous and in order; yields
        (block, its first item, the item after its last)."""
        part, lo, hi = self.names.fresh("part"), self.names.fresh("lo"), self.names.fresh("hi")
        self.parallel = True
        with self.src.indent(f"for {part} in prange({parts}):"):
            self.src(f"{lo} = {part} * {size} // {parts}")
            self.src(f"{hi} = ({part} + 1) * {size} // {parts}")
            yield part, lo, hi


# ops whose CPU code always calls BLAS: matmul and the convolutions (graphc.codegen.emit_conv)
CONV_OPS = ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter")
BLAS_OPS = ("matmul", *CONV_OPS)


def calls_blas(node: Node) -> bool:
    """True for a node the CPU code computes with BLAS (`np.dot`): a matmul, a convolution,
    or an einsum that is one matrix product (graphc.ops.linalg.matrix_product)."""
    if node.opdef.name in BLAS_OPS:
        return True
    if node.opdef.name != "einsum" or not node.dtype.is_floating:
        return False
    lhs, out = node.attrs["equation"].split("->")
    return matrix_product(lhs.split(","), out) is not None


def stretched_axes(shape: tuple, out_shape: tuple) -> tuple[int, ...]:
    """The axes of `out_shape` that broadcasting `shape` to it (NumPy rules) adds at the
    front or stretches from size 1: the codegen's one statement of that rule."""
    offset = len(out_shape) - len(shape)
    stretched = (j + offset for j, d in enumerate(shape) if d == 1 and out_shape[j + offset] != 1)
    return (*range(offset), *stretched)


def broadcast_index(shape: tuple, index: list[str], out_shape: tuple) -> list[str]:
    """The index into an array of `shape` broadcast to `out_shape`, given the index into
    `out_shape`: the axes broadcasting added are dropped, stretched ones read position 0."""
    offset = len(out_shape) - len(shape)
    stretched = stretched_axes(shape, out_shape)
    return ["0" if k in stretched else index[k] for k in range(offset, len(out_shape))]


def element(ctx: Context, x: Node, index: list[str], out_shape: tuple) -> str:
    """x's element at output `index` under NumPy broadcasting (static, see graphc.types)."""
    if ctx.is_scalar(x):
        return ctx[x]
    return f"{ctx[x]}[{', '.join(broadcast_index(x.type.shape, index, out_shape))}]"


def unknown_dim(ctx: Context, inputs: tuple[Node, ...] | list[Node], k: int, rank: int) -> str:
    """Axis `k` of a broadcast result of `rank`, whose size is unknown statically, read off
    the first input (aligned at the right) whose matching axis is unknown too."""
    for x in inputs:
        j = k - (rank - len(x.type.shape))
        if j >= 0 and x.type.shape[j] is None:
            return f"{ctx[x]}.shape[{j}]"
    raise ValueError(f"no input gives the size of axis {k}")


def broadcast_dims(ctx: Context, inputs: tuple[Node, ...], shape: tuple) -> list[str]:
    """The dims of a broadcast result of static `shape` computed from `inputs`."""
    return [
        str(d) if d is not None else unknown_dim(ctx, inputs, k, len(shape))
        for k, d in enumerate(shape)
    ]


def scalar_expr(node: Node, operands: list[str]) -> str:
    """The op's scalar snippet applied to operand expressions."""
    op = node.opdef
    expr = op.expr_float32 if op.expr_float32 and node.dtype.name == "float32" else op.expr
    return expr.format(*operands, **node.attrs)


def narrowed(expr: str, dtype: DType) -> str:
    """`expr` as a scalar of `dtype`, for a scalar local that no array store narrows.

    Numba computes the arithmetic of integers narrower than 64 bits in int64, where
    NumPy wraps each op's result to its fixed width: without this, 127 + 1 in int8
    would stay 128 inside a kernel and compare, divide or cast differently (the same
    for int32 past 2**31). Converting back wraps as NumPy does; floats and bools are
    computed in their own dtype and returned as they are.
    """
    if not dtype.is_integer or dtype.np.itemsize == 8 or expr.startswith(np_dtype(dtype) + "("):
        return expr
    return f"{np_dtype(dtype)}({expr})"
