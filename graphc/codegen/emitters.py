"""CPU emitters of the non-elementwise ops, keyed by op name (elementwise ops use `expr`).

Each emitter writes the statements computing one node and binds its value in
the context. Arrays are produced C-contiguous with explicit loops (Numba
compiles loops much faster than array expressions, and slice assignment is a
multi-second compile); BLAS is used through `np.dot`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

from graphc.codegen.context import (
    Context,
    broadcast_index,
    literal,
    np_dtype,
    shape_text,
    stretched_axes,
)
from graphc.codegen.cpu import EMITTERS, Emitter, emitter
from graphc.errors import GraphcError
from graphc.ir import Node
from graphc.ops.printing import ATTRS as PRINT_ATTRS
from graphc.ops.reduce import SUM
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
    slot = ctx.slots[id(node)]  # a scalar: array constants are arguments of their own
    if node.dtype.is_bool:
        ctx.src(f"{ctx.new(node)} = {slot} != 0")
    else:
        ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({slot})")


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
    writes = [(expr, cond) for written, expr, cond in ctx.writes if written is var]
    # the latest write that ran wherever this code runs (its branch conditions hold here)
    sure = [k for k, (_, cond) in enumerate(writes) if cond == ctx.condition[: len(cond)]]
    if sure:
        value, alias = writes[sure[-1]][0], False
    else:
        if id(var) not in ctx.value:
            _variable(ctx, var)
        value, alias = ctx[var], id(var) in ctx.aliases
    for expr, cond in writes[sure[-1] + 1 if sure else 0 :]:  # written in a branch: if it ran
        name = ctx.names.fresh(f"{node.op_name}_value")
        ctx.src(f"{name} = {expr} if {' and '.join(cond)} else {value}")
        value = name
    ctx.bind(node, value, alias=alias)


@emitter("assign")
def _assign(ctx: Context, node: Node) -> None:
    var, value = node.inputs
    if ctx.updated_in_place(value) is var:  # computed into the buffer already
        ctx.bind(node, ctx[value])
        return
    if id(value) in ctx.aliases:  # never store a view of a buffer that another write may change
        ctx.src(f"{ctx.new(node)} = {ctx[value]}.copy()")
    else:
        ctx.bind(node, ctx[value])
    ctx.write(node.inputs[0], ctx[node])


@emitter("placeholder_with_default")
def _placeholder_with_default(ctx: Context, node: Node) -> None:
    x = node.inputs[0]  # not fed (a fed one is cut off): its default, as it is
    ctx.bind(node, ctx[x], alias=id(x) in ctx.aliases)


@emitter("switch")
def _switch(ctx: Context, node: Node) -> None:
    x = node.inputs[0]  # emitted inside its branch's `if`: the value itself
    ctx.bind(node, ctx[x], alias=id(x) in ctx.aliases)


@emitter("merge")
def _merge(ctx: Context, node: Node) -> None:
    raise GraphcError(
        f"internal error: merge '{node.op_name}' outside its branch (graphc.schedule.Branch "
        "emits merges)"
    )


@emitter("no_op")
def _no_op(ctx: Context, node: Node) -> None:
    ctx.bind(node, "None")


@emitter("print")
def _print(ctx: Context, node: Node) -> None:
    """One `objmode` call of `graphc.ops.printing.emit`, the function the reference uses."""
    attrs = [repr(node.attrs[k]) for k in PRINT_ATTRS]
    args = ", ".join([repr(node.op_name), *attrs, *(ctx[x] for x in node.inputs)])
    with ctx.src.indent("with objmode():  # written by Python, as the reference writes it"):
        ctx.src(f"_print({args})")
    ctx.bind(node, "None")


@emitter("allreduce")
def _allreduce(ctx: Context, node: Node) -> None:
    """One `objmode` call of graphc.mpi.allreduce_into (MPI, from Python) into a fresh
    array, the function the reference calls."""
    x = node.inputs[0]
    out = ctx.names.fresh(node.op_name)
    ctx.src(f"{out} = np.empty({ctx[x]}.shape, {np_dtype(node.dtype)})")
    with ctx.src.indent("with objmode():  # over MPI, in Python (graphc.mpi)"):
        ctx.src(f"_allreduce({ctx[x]}, {out}, {node.attrs['average']})")
    ctx.bind(node, out)


@emitter("assert")
def _assert(ctx: Context, node: Node) -> None:
    condition = node.inputs[0]
    holds = ctx[condition] if ctx.is_scalar(condition) else f"{ctx[condition]}.all()"
    message = node.attrs["message"].replace("{", "{{").replace("}", "}}")
    ctx.checks.require(ctx.src, node, f"not {holds}", f"assertion failed: [{message}]", [])
    ctx.bind(node, "None")


# ---- random -------------------------------------------------------------------------------
def _random_shape(ctx: Context, node: Node) -> str:
    static = node.type.shape
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
def out_index(index: list[str], axes: tuple[int, ...], keep: bool) -> list[str]:
    """The output index of a reduction: reduced axes become 0 (keepdims) or vanish."""
    return ["0" if k in axes else i for k, i in enumerate(index) if keep or k not in axes]


def first_reduced(index: list[str], axes: tuple[int, ...]) -> str:
    """The test "this is the first element reduced into its output position": every reduced
    index is 0. An index that is the literal 0 (an axis of extent 1, no loop) always is, so
    it is left out; "" when the test always holds."""
    return " and ".join(f"{index[a]} == 0" for a in axes if index[a] != "0")


class Reducing:
    """One reduction being emitted, fused or not: its accumulator and how to start, update
    and finish it. The one place the accumulation rule (`Reduction.accumulator`) is applied.

    A scalar result accumulates in a local `acc_<node>`, started at the identity; an
    array result needs no initialization loop (the first element reduced into each
    output position is stored, later ones combined) unless the reduced extent may be
    empty, when it is filled with the identity. When the accumulator dtype is wider than
    the node's (float32 sums), `finish` rounds once, into a value named after the node.
    """

    def __init__(
        self,
        ctx: Context,
        node: Node,
        axes: tuple[int, ...],
        in_dims: list[str],
        out_dims: list[str],
        target: Callable[[list[str]], list[str]],
    ) -> None:
        self.ctx, self.node, self.axes, self.target = ctx, node, axes, target
        self.reduction = node.opdef.reduction
        self.acc = self.reduction.accumulator(node.dtype)
        self.wide = self.acc is not node.dtype
        self.scalar = ctx.is_scalar(node)
        self.extent = [in_dims[a] for a in axes]
        self.out_dims = out_dims
        self.name = ctx.names.fresh(
            f"acc_{node.op_name}" if self.scalar or self.wide else node.op_name
        )

    def start(self) -> None:
        ctx, acc_t = self.ctx, np_dtype(self.acc)
        identity = literal(self.reduction.identity(self.acc.np), self.acc)
        if self.scalar:
            ctx.src(f"{self.name} = {identity}")
            return
        ctx.src(f"{self.name} = np.empty({shape_text(self.out_dims)}, {acc_t})")
        ctx.checks.shaped(self.name, self.out_dims)
        if all(d.isdigit() and int(d) > 0 for d in self.extent):
            return
        with ctx.src.indent(f"if {' * '.join(self.extent) or '1'} == 0:  # empty: the identity"):
            ctx.src(f"{self.name}_flat = {self.name}.reshape(-1)")
            with ctx.src.indent(f"for i in range({self.name}_flat.size):"):
                ctx.src(f"{self.name}_flat[i] = {identity}")

    def update(self, index: list[str], value: str) -> None:
        combine, src = self.reduction.combine, self.ctx.src
        if self.scalar:
            src(f"{self.name} = {combine.format(acc=self.name, v=value)}")
            return
        target = f"{self.name}[{', '.join(self.target(index))}]"
        first = first_reduced(index, self.axes)
        if not first:
            src(f"{target} = {value}")
            return
        with src.indent(f"if {first}:"):
            src(f"{target} = {value}")
        with src.indent("else:"):
            src(f"{target} = {combine.format(acc=target, v=value)}")

    def finish(self) -> str:
        """The node's value: the accumulator, or its rounding to the node's dtype."""
        if not (self.scalar or self.wide):
            return self.name
        final = self.ctx.names.fresh(self.node.op_name)
        t = np_dtype(self.node.dtype)
        if self.scalar:
            self.ctx.src(f"{final} = {t}({self.name})")
        else:
            self.ctx.src(f"{final} = {self.name}.astype({t})")
            self.ctx.checks.shaped(final, self.out_dims)
        return final


def _reduce_over(ctx: Context, node: Node, x: Node, reducing: Reducing) -> None:
    """An unfused reduction: one loop nest over x, then the node's value bound."""
    reducing.start()
    with ctx.loops(ctx.dims(x)) as index:
        reducing.update(index, element_at(ctx, x, index))
    ctx.bind(node, reducing.finish())


@emitter("reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_any", "reduce_all")
def _reduce(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    axes = normalize_axes(node.attrs["axis"], len(x.type.shape))
    keep = node.attrs["keepdims"]
    in_dims = ctx.dims(x)
    out_dims = [("1" if k in axes else d) for k, d in enumerate(in_dims) if keep or k not in axes]
    target = lambda index: out_index(index, axes, keep)  # noqa: E731
    _reduce_over(ctx, node, x, Reducing(ctx, node, axes, in_dims, out_dims, target))


@emitter("sum_to_like")
def _sum_to_like(ctx: Context, node: Node) -> None:
    x, like = node.inputs
    shape = x.type.shape
    axes = stretched_axes(like.type.shape, shape)  # summed: what broadcasting stretched
    target = lambda index: broadcast_index(like.type.shape, index, shape)  # noqa: E731
    reducing = Reducing(ctx, node, axes, ctx.dims(x), ctx.dims(like), target)
    _reduce_over(ctx, node, x, reducing)


@emitter("cumsum")
def _cumsum(ctx: Context, node: Node) -> None:
    """One running sum per line along the axis (the innermost loop, run from the end when
    `reverse`), kept in the accumulation dtype and rounded into each output element."""
    x, attrs = node.inputs[0], node.attrs
    axis, dims = attrs["axis"], ctx.dims(x)
    name = ctx.empty(node, dims)
    wide, t = SUM.accumulator(node.dtype), np_dtype(node.dtype)
    with ctx.loops([d for k, d in enumerate(dims) if k != axis]) as outer:
        acc = ctx.names.fresh(f"acc_{node.op_name}")
        ctx.src(f"{acc} = {literal(0, wide)}")
        with ctx.loops([dims[axis]]) as (k,):
            at = f"{dims[axis]} - 1 - {k}" if attrs["reverse"] and k != "0" else k
            index = ", ".join([*outer[:axis], at, *outer[axis:]])
            add = f"{acc} += {ctx[x]}[{index}]"
            store = f"{name}[{index}] = {t}({acc})"
            for line in (store, add) if attrs["exclusive"] else (add, store):
                ctx.src(line)


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
        # NumPy's rule: the first NaN wins (a NaN replaces a number, nothing replaces a NaN)
        held = f"{best}[{at}]"
        wins = f"{value} {better} {held} or ({value} != {value} and {held} == {held})"
        with ctx.src.indent(f"if {first} or {wins}:") if first else nullcontext():
            ctx.src(f"{best}[{at}] = {value}")
            ctx.src(f"{name}[{at}] = {index[axis]}")
    ctx.src(f"{ctx.new(node)} = {name}[0]" if ctx.is_scalar(node) else f"{ctx.new(node)} = {name}")


@emitter("reduced_size")
def _reduced_size(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    axes = normalize_axes(node.attrs["axis"], len(x.type.shape))
    dims = [ctx.dims(x)[a] for a in axes] or ["1"]
    ctx.src(f"{ctx.new(node)} = {np_dtype(node.dtype)}({' * '.join(dims)})")
