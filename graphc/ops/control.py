"""TF1's `tf.cond` and `tf.case`: a real branch, built from `Switch` and `Merge` ops.

`merge(pred, a, b)` is `a` where the boolean scalar `pred` is true and `b`
otherwise, and needs only that one: every executor runs a node only when its merge
takes it (graphc.schedule: guards and `Branch`). `switch(x, pred, side)` is `x`
itself inside the branch taken on `side`: `cond` puts one on every tensor a branch
function reads from outside it (TF1's Switch ops), so a gradient leaving a branch
goes through `switch`'s derivative, a merge of it with zeros. That keeps the
backward pass of a branch inside the same branch (TF1's cond gradient: Merge and
Switch differentiate into each other), and an input of the branch not taken gets a
zero gradient.

Invariants: the ops created while a branch function runs are recorded in its
`BranchContext`; each of their inputs from outside the branch is replaced by one
`switch` per (tensor, branch), except constants and the variable a stateful op
writes through (a reference). A branch's outputs are always tensors made inside
it (a tensor from outside is passed through its switch), so each side of each
merge has a node of its own that runs only on its side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphc.errors import DTypeError, GraphcError, ShapeError
from graphc.feeds import flatten
from graphc.ir import Node, Operation
from graphc.ops import Fusion, OpDef, checking, convert, defop
from graphc.ops.asserts import Assert
from graphc.ops.casts import to_int32
from graphc.ops.elementwise import identity, zeros_like
from graphc.ops.index import stack
from graphc.ops.reduce import reduce_sum
from graphc.types import TensorType


def _pred_type(pred: TensorType, what: str) -> None:
    if not pred.dtype.is_bool:
        raise DTypeError(f"{what} must be a bool tensor, got {pred.dtype.name}")
    if pred.shape not in (None, ()):
        raise ShapeError(f"{what} must be a scalar, got shape {list(pred.shape)}")


def _switch_infer(x: TensorType, pred: TensorType, *, side: bool) -> TensorType:
    _pred_type(pred, "the predicate")
    return x


def _merge_infer(pred: TensorType, a: TensorType, b: TensorType) -> TensorType:
    _pred_type(pred, "the predicate")
    if a.dtype is not b.dtype:
        raise DTypeError(f"the two branches give different dtypes ({a.dtype.name}, {b.dtype.name})")
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorType(None, a.dtype)
    return TensorType(
        tuple(d if d == e else None for d, e in zip(a.shape, b.shape, strict=True)), a.dtype
    )


def _merge_numpy(pred: Any, a: Any, b: Any) -> Any:
    return a if bool(pred) else b  # the reference runs only the side taken: the other is None


def _merge_vjp(g: Node, node: Node) -> tuple[Node | None, ...]:
    pred = node.inputs[0]
    return None, switch(g, pred, True), switch(g, pred, False)


def _merge_jvp(ts: tuple[Node | None, ...], node: Node) -> Node | None:
    pred, a, b = node.inputs
    if ts[1] is None and ts[2] is None:
        return None
    ta = ts[1] if ts[1] is not None else zeros_like(a)
    tb = ts[2] if ts[2] is not None else zeros_like(b)
    return merge(pred, ta, tb)


def _switch_vjp(g: Node, node: Node) -> tuple[Node | None, ...]:
    x, pred = node.inputs
    zero = zeros_like(x)  # the gradient when the other side runs
    return (merge(pred, g, zero) if node.attrs["side"] else merge(pred, zero, g)), None


def _switch_jvp(ts: tuple[Node | None, ...], node: Node) -> Node | None:
    return None if ts[0] is None else switch(ts[0], node.inputs[1], node.attrs["side"])


switch_op = defop(
    "switch",
    "Switch",
    Fusion.OPAQUE,
    infer=_switch_infer,
    numpy=lambda x, pred, *, side: x,
    vjp=_switch_vjp,
    jvp=_switch_jvp,
)
merge_op = defop(
    "merge",
    "Merge",
    Fusion.OPAQUE,
    infer=_merge_infer,
    numpy=_merge_numpy,
    vjp=_merge_vjp,
    jvp=_merge_jvp,
)


def switch(x: Node, pred: Node, side: bool, name: str = "Switch") -> Node:
    """`x` inside the branch on `pred` taken when `pred` is `side`."""
    return switch_op(x, pred, side=bool(side), name=name)


def merge(pred: Node, a: Node, b: Node, name: str = "Merge") -> Node:
    """`a` if `pred` else `b`, computing only the one taken."""
    return merge_op(pred, a, b, name=name)


class BranchContext:
    """The branch a branch function builds into: the ops made in it, and its switches."""

    def __init__(self, pred: Node, side: bool) -> None:
        self.pred, self.side = pred, side
        self.created: set[int] = set()
        self._switches: dict[int, Node] = {}

    def inputs(self, op: OpDef, nodes: tuple[Node, ...]) -> tuple[Node, ...]:
        """`nodes` as an op made in this branch reads them: through switches if outside."""
        return tuple(
            x if (k == 0 and op.takes_ref) or not self.outside(x) else self.captured(x)
            for k, x in enumerate(nodes)
        )

    def outside(self, x: Node) -> bool:
        return id(x) not in self.created and x.opdef.name != "const"

    def captured(self, x: Node) -> Node:
        """The switch of `x` into this branch, made once, in the enclosing branch (if any)."""
        if id(x) not in self._switches:
            graph = x.graph
            inner = graph.branches.pop()
            try:
                s = switch(x, self.pred, self.side)
            finally:
                graph.branches.append(inner)
            self._switches[id(x)] = s
            self.created.add(id(s))
        return self._switches[id(x)]


def cond(
    pred: Any,
    true_fn: Callable[[], Any] | None = None,
    false_fn: Callable[[], Any] | None = None,
    strict: bool = False,
    name: str | None = None,
    fn1: Callable[[], Any] | None = None,
    fn2: Callable[[], Any] | None = None,
) -> Any:
    """TF1's `tf.cond`: `true_fn()` if `pred` else `false_fn()`, running only that one.

    Both functions take no arguments and return the same structure (a tensor, a list,
    tuple or dict of them, or an op) with the same dtypes; the result has that
    structure, a singleton list unpacked unless `strict`. Each output's static shape is
    what both branches agree on. An op returned becomes a bool tensor that runs it.
    `fn1`/`fn2` are TF1's deprecated names of `true_fn`/`false_fn`."""
    with checking("cond", name or "cond"):
        true_fn = _one_fn(true_fn, fn1, "true_fn", "fn1")
        false_fn = _one_fn(false_fn, fn2, "false_fn", "fn2")
        if isinstance(pred, bool | np.bool_):
            raise TypeError("pred must not be a Python bool")
        pred = convert(pred)
        _pred_type(pred.type, "pred")
    graph = pred.graph
    with graph.as_default(), graph.name_scope(name or "cond"):
        leaves, rebuild = _branch(pred, True, true_fn, "true_fn")
        others, rebuild_other = _branch(pred, False, false_fn, "false_fn")
        with checking("cond", name or "cond"):
            _same_structure(rebuild, rebuild_other, len(leaves), len(others))
            merged = [merge(pred, a, b) for a, b in zip(leaves, others, strict=True)]
    out = rebuild(merged)
    if not strict and isinstance(out, list | tuple) and len(out) == 1:
        return out[0]
    return out


def _one_fn(fn: Any, old: Any, name: str, old_name: str) -> Callable[[], Any]:
    if fn is not None and old is not None:
        raise TypeError(f"{name} and {old_name} cannot both be given")
    fn = fn if fn is not None else old
    if not callable(fn):
        raise TypeError(f"{name} must be callable")
    return fn


def _branch(
    pred: Node, side: bool, fn: Callable[[], Any], what: str
) -> tuple[list[Node], Callable[[list[Any]], Any]]:
    """Runs a branch function in a fresh BranchContext; its outputs as tensors of it."""
    graph = pred.graph
    context = BranchContext(pred, side)
    graph.branches.append(context)
    try:
        result = fn()
        if result is None:
            raise GraphcError(f"cond: {what} must return a value, not None")
        leaves, rebuild = flatten(result)
        outputs = [_output(context, v) for v in leaves]
    finally:
        graph.branches.remove(context)
    return outputs, rebuild


def _output(context: BranchContext, value: Any) -> Node:
    """A branch function's output as a tensor made inside the branch."""
    if isinstance(value, Operation):
        with value.graph.control_dependencies([value]):
            return identity(context.pred)  # TF1: the op runs, the output is a bool
    node = convert(value)
    if node.type is None:  # an op given as its node
        with node.graph.control_dependencies([node]):
            return identity(context.pred)
    return context.captured(node) if context.outside(node) else node


def _same_structure(a: Callable, b: Callable, na: int, nb: int) -> None:
    sa, sb = a([None] * na), b([None] * nb)
    if repr(sa) != repr(sb):
        raise GraphcError(f"true_fn and false_fn must return the same structure: {sa!r} and {sb!r}")


def case(
    pred_fn_pairs: Any,
    default: Callable[[], Any] | None = None,
    exclusive: bool = False,
    strict: bool = False,
    name: str = "case",
) -> Any:
    """TF1's `tf.case`: the function of the first true predicate, else `default`, as
    nested conds (only the function chosen runs). With `exclusive`, more than one true
    predicate fails the run (an `Assert`). Without `default`, the last pair's function
    is the default and its predicate must hold: a run where none holds fails, as in
    TF1."""
    pairs = list(pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs)
    with checking("case", name):
        if not pairs:
            raise GraphcError("case needs at least one (predicate, function) pair")
        for p, f in pairs:
            if isinstance(p, bool) or not callable(f):
                raise TypeError("case: each pair must be (a bool tensor, a callable)")
    graph = convert(pairs[0][0]).graph
    with graph.as_default(), graph.name_scope(name):
        preds, fns = [convert(p) for p, _ in pairs], [f for _, f in pairs]
        guards = _exclusive(preds) if exclusive and len(preds) > 1 else []
        if default is None:
            default = _asserting(preds.pop(), fns.pop())
        with graph.control_dependencies(guards):
            return _chain(preds, fns, default, strict)


def _asserting(pred: Node, fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn` as a default that fails the run unless `pred` holds (TF1's case without one)."""

    def default() -> Any:
        check = Assert(pred, ["None of the conditions evaluated as True"])
        leaves, rebuild = flatten(fn())
        with pred.graph.control_dependencies([check]):
            return rebuild([v if isinstance(v, Operation) else identity(v) for v in leaves])

    return default


def _exclusive(preds: Sequence[Node]) -> list[Node]:
    count = reduce_sum(to_int32(stack(list(preds))))
    return [Assert(count <= 1, ["More than one condition evaluated as True"])]


def _chain(preds: list[Node], fns: list[Callable], default: Callable, strict: bool) -> Any:
    if not preds:
        return default()
    rest = lambda: _chain(preds[1:], fns[1:], default, strict)  # noqa: E731
    return cond(preds[0], fns[0], rest if preds[1:] else default, strict=strict)
