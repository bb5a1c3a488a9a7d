"""TF1's gradient clipping: `clip_by_norm`, `global_norm`, `clip_by_global_norm`.

Formulas as TF1's clip_ops: a global norm that is inf or NaN makes every clipped
tensor NaN (TF1 adds `norm - norm` to the scale for that), and None entries of a
list pass through as None, so gradients of unused variables can be clipped too.
"""

from __future__ import annotations

from typing import Any

from graphc.graph import get_default_graph
from graphc.ir import Node
from graphc.ops import convert
from graphc.ops.elementwise import greater, maximum, minimum, ones_like, sqrt, square, where
from graphc.ops.reduce import reduce_sum


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Node:
    """t * clip_norm / max(l2norm(t, axes), clip_norm): rescaled only where the norm over
    `axes` (all axes by default) is above clip_norm; zero stays zero."""
    with get_default_graph().name_scope(name or "clip_by_norm"):
        t = convert(t)
        l2sum = reduce_sum(square(t), axes, keepdims=True)
        positive = greater(l2sum, 0.0)
        l2norm = where(positive, sqrt(where(positive, l2sum, ones_like(l2sum))), l2sum)
        clip = convert(clip_norm, t.dtype)
        return t * clip / maximum(l2norm, clip)


def global_norm(t_list: Any, name: str | None = None) -> Node:
    """sqrt(sum of every element squared, over all tensors of `t_list`; None skipped)."""
    tensors = [convert(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError("global_norm needs at least one tensor")
    with get_default_graph().name_scope(name or "global_norm"):
        total = reduce_sum(square(tensors[0]))
        for t in tensors[1:]:
            total = total + reduce_sum(square(t))
        return sqrt(total, name="global_norm")


def clip_by_global_norm(
    t_list: Any, clip_norm: Any, use_norm: Any = None, name: str | None = None
) -> tuple[list[Node | None], Node]:
    """(each tensor * clip_norm / max(global_norm, clip_norm), global_norm), as TF1."""
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else convert(use_norm)
    with get_default_graph().name_scope(name or "clip_by_global_norm"):
        clip = convert(clip_norm, norm.dtype)
        scale = clip * minimum(1.0 / norm, 1.0 / clip) + (norm - norm)  # NaN for inf or NaN
        clipped = [None if t is None else convert(t) * scale for t in t_list]
    return clipped, norm
