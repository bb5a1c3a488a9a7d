"""Run-time size equalities: what an op assumes about sizes that are unknown statically.

Two unknown (`None`) dims that meet in one op (broadcasting, matmul's inner dims,
concat's other axes, an assignment) are assumed equal when the graph is built; at
run time both executors check each assumption before the op computes anything, and
a difference raises `InvalidArgumentError` naming the op, both tensors, both sizes
and the user's line. (An unknown dim is never taken to be a broadcast 1.)

`Equal` is one assumption; an op states its own through its `assumes` facet, and
`graphc.ops.assumed_equal(node)` gives them (elementwise and broadcast ops share the
broadcasting rule below). This module imports no op module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphc.ir import Node

Dim = tuple[Node, int]  # a tensor and one of its axes: that axis' size at run time


@dataclass(frozen=True)
class Equal:
    """The op assumes axis `a` has the size `b`: another tensor's axis, or a static size."""

    a: Dim
    b: Dim | int

    def message(self, node: Node) -> str:
        """The error message, `{}` where the run-time sizes go (the user's line is added
        by whoever raises it: generated code holds no file paths)."""
        x, i = self.a
        what = f"dimension {i} of '{x.name}' is {{}}"
        if isinstance(self.b, int):
            other = f"it must be {self.b}"
        else:
            other = f"dimension {self.b[1]} of '{self.b[0].name}' is {{}}; they must be equal"
        return f"{op_label(node)}: {what} but {other}"


def op_label(node: Node) -> str:
    """The op as errors name it: type and name, or a fused kernel's ops."""
    kernel = node.attrs.get("kernel")
    if kernel is not None:
        return f"kernel '{node.op_name}' (ops {', '.join(kernel.ops)})"
    return f"{node.opdef.type_name} '{node.op_name}'"


def broadcast_equalities(
    operands: Sequence[tuple[Node, tuple]], shape: tuple, sources: Sequence[tuple[Node, tuple]] = ()
) -> list[Equal]:
    """What reading `operands` with NumPy broadcasting into a result of static `shape`
    assumes. Each operand is (tensor, its shape or a prefix of it, aligned at the right
    with `shape`). An operand axis whose size is unknown statically must have the
    result's size there: the static size if known, else the size of the first of
    `sources` then `operands` whose size is unknown there (which defines it)."""
    if shape is None:  # an unknown rank: nothing to align
        return []
    rank, out = len(shape), []
    for k, d in enumerate(shape):
        first: Dim | None = None
        for x, xs in (*sources, *operands):
            j = k - (rank - len(xs)) if xs is not None else -1
            if j < 0 or xs[j] is not None:
                continue
            if d is not None:
                out.append(Equal((x, j), d))
            elif first is None:
                first = (x, j)
            else:
                out.append(Equal((x, j), first))
    return out


def same_dims(pairs: Sequence[tuple[Dim, Dim]]) -> list[Equal]:
    """Equalities for pairs of axes that must have one size (where either is unknown); a
    tensor of unknown rank states none (its executor checks its shape when it runs)."""
    out = []
    for (x, i), (y, j) in pairs:
        if x.type.shape is None or y.type.shape is None:
            continue
        dx, dy = x.type.shape[i], y.type.shape[j]
        if dx is None:
            out.append(Equal((x, i), (y, j) if dy is None else dy))
        elif dy is None:
            out.append(Equal((y, j), dx))
    return out


def elementwise_equalities(node: Node) -> list[Equal]:
    """The broadcasting rule for an op whose inputs broadcast to its output's shape."""
    return broadcast_equalities([(x, x.type.shape) for x in node.inputs], node.type.shape)
