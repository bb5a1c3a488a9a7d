"""Random ops: stateful draws from a per-node generator that advances every run.

Invariants: the seed pair is fixed when the op is created, following TF1
(graph seed from `set_random_seed`, op seed from `seed=` or the op count);
with neither, a session draws fresh entropy. A given graph, seeds and run
sequence therefore reproduce the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError
from graphc.graph import get_default_graph
from graphc.ir import Node
from graphc.ops import Fusion, checking, convert, defop
from graphc.ops.elementwise import identity
from graphc.ops.state import constant, static_value
from graphc.types import TensorType, as_dims, as_dtype, as_index_dtype, as_int, float32, int32

DEFAULT_GRAPH_SEED = 87654321


def _draw(kind: str) -> Any:
    def numpy(ctx: Any, node: Node, shape: np.ndarray) -> np.ndarray:
        rng, dtype = ctx.rng(node), node.type.dtype.np
        size = tuple(int(d) for d in shape)
        work = dtype if dtype in (np.float32, np.float64) else np.float64
        if kind == "uniform":
            values = rng.random(size, dtype=work)
        elif kind == "normal":
            values = rng.standard_normal(size, dtype=work)
        elif kind == "truncated":
            values = rng.standard_normal(size, dtype=work)
            while (bad := np.abs(values) > 2).any():  # resample beyond two stddevs, as TF
                values[bad] = rng.standard_normal(int(bad.sum()), dtype=work)
        else:
            lo, hi = node.attrs["minval"], node.attrs["maxval"]
            values = rng.integers(lo, hi, size)
        return values.astype(dtype)

    return numpy


def _random_infer(shape: TensorType, *, dtype: Any, seed: Any, static: Any, **_: Any) -> TensorType:
    """The shape known when the op was built (`static`), or, when the shape tensor's length
    was unknown then, as many unknown dims as its length is now (unknown rank if none)."""
    if static is None and shape.shape is not None and shape.shape[0] is not None:
        return TensorType((None,) * shape.shape[0], dtype)
    return TensorType(static, dtype)


def _defrandom(name: str, type_name: str, kind: str) -> Any:
    return defop(
        name,
        type_name,
        Fusion.OPAQUE,
        infer=_random_infer,
        numpy=_draw(kind),
        differentiable=False,
        stateful=True,
        effectful=True,
        random=True,
    )


_uniform = _defrandom("random_uniform", "RandomUniform", "uniform")
_standard_normal = _defrandom("random_standard_normal", "RandomStandardNormal", "normal")
_truncated = _defrandom("truncated_normal", "TruncatedNormal", "truncated")
_uniform_int = _defrandom("random_uniform_int", "RandomUniformInt", "int")


def set_random_seed(seed: int | None) -> None:
    """Sets the default graph's seed: later random ops become reproducible."""
    get_default_graph().seed = seed


def _seed_pair(op_seed: int | None) -> tuple[int, int] | None:
    graph = get_default_graph()
    if graph.seed is not None:
        return graph.seed, len(graph.nodes) if op_seed is None else op_seed
    return None if op_seed is None else (DEFAULT_GRAPH_SEED, op_seed)


def _shape_input(shape: Any) -> tuple[Node, tuple]:
    if isinstance(shape, Node):
        value = static_value(shape)
        if value is None:
            length = shape.type.shape[0] if shape.type.shape else None
            return shape, None if length is None else (None,) * length
        shape = value
    dims = as_dims(shape, "shape")
    return constant(list(dims), dtype=int32), dims


def _make(
    op: Any, shape: Any, dtype: Any, seed: int | None, name: str | None, **attrs: Any
) -> Node:
    with checking(op.type_name, name):
        node, static = _shape_input(shape)
        dtype = as_dtype(dtype)
        if op is not _uniform_int and not dtype.is_floating:
            raise DTypeError(f"dtype must be a floating-point dtype, got {dtype.name}")
        seed = _seed_pair(None if seed is None else as_int(seed, "seed"))
    return op(node, dtype=dtype, seed=seed, static=static, name=name, **attrs)


def _normal(op: Any, doc: str) -> Any:
    def builder(
        shape: Any,
        mean: Any = 0.0,
        stddev: Any = 1.0,
        dtype: Any = float32,
        seed: int | None = None,
        name: str | None = None,
    ) -> Node:
        return _affine(_make(op, shape, dtype, seed, None), stddev, mean, name)

    builder.__name__, builder.__doc__ = (
        op.name.replace("random_standard_normal", "random_normal"),
        doc,
    )
    return builder


random_normal = _normal(
    _standard_normal, "Normal samples with `mean` and `stddev`; new values every run."
)
truncated_normal = _normal(
    _truncated, "Normal samples redrawn until within two stddevs of the mean."
)


def random_uniform(
    shape: Any,
    minval: Any = 0,
    maxval: Any = None,
    dtype: Any = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Node:
    """Uniform samples in [minval, maxval); integer dtypes need an int `maxval`."""
    with checking("RandomUniformInt", name):
        dtype = as_dtype(dtype)
        if dtype.is_integer:
            as_index_dtype(dtype, "an integer dtype")
            if maxval is None:
                raise InvalidArgumentError("an integer dtype needs maxval, got maxval None")
            lo, hi = as_int(minval, "minval"), as_int(maxval, "maxval")
            if lo >= hi:
                raise InvalidArgumentError(f"minval {lo} must be less than maxval {hi}")
    if dtype.is_integer:
        return _make(_uniform_int, shape, dtype, seed, name, minval=lo, maxval=hi)
    draw = _make(_uniform, shape, dtype, seed, None)
    return _affine(draw, (1.0 if maxval is None else maxval) - minval, minval, name)


def _affine(draw: Node, scale: Any, shift: Any, name: str | None) -> Node:
    unit = not isinstance(scale, Node) and scale == 1
    out = draw if unit else draw * convert(scale, draw.dtype)
    if isinstance(shift, Node) or shift != 0:
        out = out + convert(shift, draw.dtype)
    if name is not None:
        out = identity(out, name=name)
    return out
