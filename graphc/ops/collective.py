"""The collective op of data-parallel training (graphc.distributed): `allreduce`, a
tensor summed or averaged over the MPI ranks (Horovod's `HorovodAllreduce`).

Its value depends on the other processes, so it is stateful: never folded, merged or
fused. Every target that has it runs it in Python over MPI (graphc.mpi): the reference
executor directly, the compiled CPU step from an `objmode` block between its compiled
parts. It is linear: its gradient is the allreduce of the incoming gradient (the ranks'
losses all read the one reduced value), its tangent the allreduce of the tangent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError
from graphc.ir import Node
from graphc.mpi import allreduce_into
from graphc.ops import Fusion, checking, convert, defop
from graphc.ops.shape import reshape


def _allreduce_numpy(ctx: Any, node: Node, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, x.dtype)
    allreduce_into(x, out, node.attrs["average"])
    return out


def _allreduce_vjp(g: Node, n: Node) -> tuple[Node]:
    return (_allreduce(g, average=n.attrs["average"]),)


_allreduce = defop(
    "allreduce",
    "HorovodAllreduce",
    Fusion.OPAQUE,
    infer=lambda x, *, average: x,
    numpy=_allreduce_numpy,
    vjp=_allreduce_vjp,
    linear=True,
    stateful=True,  # its value comes from the other ranks
)


COLLECTIVES = ("allreduce",)  # the ops that exchange values with the other ranks


def allreduce(tensor: Any, average: bool = True, name: str | None = None) -> Node:
    """`tensor` summed over the ranks, or (`average`) their mean: the same value on every
    rank once each has run the op (graphc.distributed; every rank must run it)."""
    with checking("HorovodAllreduce", name):
        x = convert(tensor)
        if average and not x.dtype.is_floating:
            raise DTypeError(f"averaging needs floats, got {x.dtype.name} (or average=False)")
    if x.type.shape == ():  # a buffer of one element
        return reshape(_allreduce(reshape(x, [1]), average=average, name=name), [])
    return _allreduce(x, average=average, name=name)
