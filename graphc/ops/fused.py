"""Fused kernels: one node standing for a group of ops computed in one loop.

A `fused` node holds a `Kernel` (an inner graph over parameter nodes, one per
input of the fused node) and has no tensor of its own; each value the rest of
the graph needs from it is a `fused_output` node picking one kernel output.
The fused node's reference semantics evaluate the inner graph, so optimized
graphs stay executable by the reference interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphc import reference
from graphc.graph import Graph
from graphc.ops import Fusion, defop
from graphc.ops.dims import broadcast_equalities


@dataclass(frozen=True, eq=False)
class Kernel:
    """The inside of a fused node: inner graph, the original ops it contains, its loop shape."""

    name: str
    graph: Graph  # inputs: parameters aligned with the fused node's inputs
    ops: tuple[str, ...]  # names of the user's ops it contains, in order
    shape: tuple[int | None, ...]  # the iteration space (the group's elementwise shape)
    # (input, output) when the kernel is a matmul's or einsum's epilogue: that output is written in
    # place into the matmul's result, which nothing else reads
    epilogue: tuple[int, int] | None = None

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{self.name}<{len(self.ops)} ops>"


def _fused_numpy(*arrays: Any, kernel: Kernel) -> tuple:
    feeds = dict(zip(kernel.graph.inputs, arrays, strict=True))
    return tuple(reference.evaluate(list(kernel.graph.outputs), feeds))


fused = defop(
    "fused",
    "Fused",
    Fusion.OPAQUE,
    infer=lambda *types, kernel: None,
    numpy=_fused_numpy,
    assumes=lambda n: broadcast_equalities(
        [(x, x.type.shape) for x in n.inputs], n.attrs["kernel"].shape
    ),
    differentiable=False,
)
fused_output = defop(
    "fused_output",
    "FusedOutput",
    Fusion.OPAQUE,
    infer=lambda _kernel_value, *, index, out: out,
    numpy=lambda values, *, index, out: values[index],
    differentiable=False,
    takes_tuple=True,
)
kernel_param = defop(
    "kernel_param",
    "KernelParam",
    Fusion.OPAQUE,
    infer=lambda *, index, type_: type_,
    numpy=lambda *, index, type_: None,
    differentiable=False,
    is_source=True,
    kernel_only=True,
)
