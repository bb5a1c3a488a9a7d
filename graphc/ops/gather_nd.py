"""`gather_nd` (TF1's GatherNd) built from ops graphc has: slices of `params` picked by
index tuples in the last axis of `indices`.

With M = indices.shape[-1], the result has shape indices.shape[:-1] + params.shape[M:]:
the first M axes of `params` are merged into one (a reshape), each index tuple becomes
its row in the merged axis (a dot with the strides), and `gather` picks the rows, so
the gradient is gather's scatter-add. An `Assert` (run before the result is used)
checks every component against its own axis, as TF1 on the CPU raises for an
out-of-range index; a merged row alone would let a bad component land on a valid row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphc.errors import DTypeError, ShapeError
from graphc.graph import get_default_graph
from graphc.ir import Node
from graphc.ops import checking, convert
from graphc.ops.asserts import assert_op
from graphc.ops.elementwise import greater_equal, identity, less, logical_and, multiply
from graphc.ops.index import gather
from graphc.ops.reduce import reduce_sum
from graphc.ops.shape import reshape
from graphc.ops.state import constant


def gather_nd(params: Any, indices: Any, name: str | None = None, batch_dims: int = 0) -> Node:
    """params[tuple(index)] for each index tuple in the last axis of `indices`."""
    with checking("GatherNd", name):
        p, i = convert(params), convert(indices)
        if batch_dims:
            raise NotImplementedError("gather_nd with batch_dims is not supported")
        if not i.dtype.is_integer:
            raise DTypeError(f"indices must be integers, got {i.dtype.name}")
        if i.type.shape is None or not i.type.shape or i.type.shape[-1] is None:
            raise ShapeError(f"indices need a known last axis (the index length), got {i.shape}")
        m = i.type.shape[-1]
        if p.type.shape is None or len(p.type.shape) < m or None in p.type.shape[:m]:
            raise ShapeError(
                f"params {p.shape} need {m} leading axes of known size for indices {i.shape}"
            )
        if p.type.shape[m:].count(None) > 1:
            raise ShapeError(f"params {p.shape}: at most one unknown axis after the first {m}")
    dims = p.type.shape[:m]
    with get_default_graph().name_scope(name or "GatherNd"):
        strides = [math.prod(dims[k + 1 :]) for k in range(m)]
        rows = reduce_sum(multiply(i, constant(np.array(strides), dtype=i.dtype)), -1)
        merged = reshape(p, [math.prod(dims), *(-1 if d is None else d for d in p.type.shape[m:])])
        bounds = constant(np.array(dims), dtype=i.dtype)
        inside = logical_and(greater_equal(i, 0), less(i, bounds))
        check = assert_op(inside, message=f"gather_nd: an index is outside params' first {m} axes")
        with get_default_graph().control_dependencies([check]):
            return identity(gather(merged, rows), name="GatherNd")
