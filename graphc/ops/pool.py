"""Pooling over NHWC windows, as TF1's ops: MaxPool, AvgPool and their gradients.

Every op here takes the window attrs `ksize` (rows, cols), `strides` (rows, cols) and
`padding` ("SAME" or "VALID"), with TF's output sizes and padding (graphc.ops.conv's
`window_shape`, `out_size`, `_pads`). Padding is never an element of a window: a max
never picks it and a mean does not count it.

Invariants:
- A window's maximum is its FIRST maximum in row-major window order (rows, then
  columns): a NaN counts as the maximum and the first NaN wins (NumPy's argmax). Max
  pooling's value is the element there, its gradient (`max_pool_grad`, TF's MaxPoolGrad)
  sends the whole of each window's gradient there, and `max_pool_grad_grad` gathers a
  tangent from there; windows that overlap add up. A window whose real elements are all
  the dtype's lowest value (-inf) picks the first real one.
- The three max ops form a closed set under differentiation: max_pool_grad and
  max_pool_grad_grad are linear in their second input, each the other's transpose, and
  piecewise constant in x (no derivative flows into x). avg_pool and avg_pool_grad are
  linear and each other's transpose. So gradients of gradients exist.
- avg_pool's sums follow the accumulation rule (graphc.ops): float16/float32 windows
  are summed in float64 and the mean is rounded once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError
from graphc.ir import Node
from graphc.ops import Fusion, defop, same_dtype
from graphc.ops.conv import _extract_numpy, _pads, _to_image_numpy, window_shape
from graphc.ops.dims import Equal, same_dims
from graphc.ops.reduce import MAX, SUM
from graphc.types import DType, TensorType, as_dtype, check_compatible


# ---- shapes and dtypes ----------------------------------------------------------------------
def _check_dtype(dtype: DType, floating: bool = True) -> None:
    """Pooling needs real numbers (max pooling also takes integers, as TF's MaxPool)."""
    if not (dtype.is_floating or (not floating and dtype.is_integer)):
        kind = "floating-point" if floating else "floating-point or integer"
        raise DTypeError(f"input must be {kind}, got {dtype.name}")


def _max_pool_infer(x: TensorType, **window: Any) -> TensorType:
    _check_dtype(x.dtype, floating=False)
    return TensorType(window_shape(x, **window), x.dtype)


def _avg_pool_infer(x: TensorType, **window: Any) -> TensorType:
    _check_dtype(x.dtype)
    return TensorType(window_shape(x, **window), x.dtype)


def _to_image_infer(x: TensorType, pooled: TensorType, **window: Any) -> TensorType:
    """The type of an op spreading `pooled` (one value per window of x) over x's shape."""
    _check_dtype(same_dtype(x, pooled))
    check_compatible(pooled.shape, window_shape(x, **window), "the pooled values")
    return TensorType(x.shape, x.dtype)


def _to_windows_infer(x: TensorType, t: TensorType, **window: Any) -> TensorType:
    """The type of an op gathering one value per window of x from `t`, shaped like x."""
    _check_dtype(same_dtype(x, t))
    check_compatible(t.shape, x.shape, "the gathered values")
    return TensorType(window_shape(x, **window), x.dtype)


def _pooled_assumes(x: Node, pooled: Node, attrs: Any) -> list[Equal]:
    """What reading `pooled` as one value per window of x assumes of their unknown sizes:
    the same batch and channels, and the window counts where x's spatial sizes are known."""
    out = same_dims([((pooled, 0), (x, 0)), ((pooled, 3), (x, 3))])
    _, oh, ow, _ = window_shape(x.type, attrs["ksize"], attrs["strides"], attrs["padding"])
    out += [
        Equal((pooled, k), d)
        for k, d in ((1, oh), (2, ow))
        if d is not None and pooled.type.shape[k] is None
    ]
    return out


def _same_assumes(x: Node, like: Node) -> list[Equal]:
    return same_dims([((like, k), (x, k)) for k in range(4)])


# ---- NumPy semantics (the oracle) ------------------------------------------------------------
def _windows(x: np.ndarray, pad_value: Any, **window: Any) -> np.ndarray:
    """x's windows, flattened row-major: (N, OH, OW, KH*KW, C), padding as `pad_value`."""
    p = _extract_numpy(x, pad_value=pad_value, **window)
    return p.reshape(*p.shape[:3], -1, p.shape[-1])


def _real(shape: tuple, **window: Any) -> np.ndarray:
    """1 where a window position is inside the image, 0 in its padding: (1, OH, OW, K, 1)."""
    return _windows(np.ones((1, *shape[1:3], 1), np.int8), 0, **window)


def _first_max(x: np.ndarray, **window: Any) -> np.ndarray:
    """Each window's first maximum, as its row-major position in the window (N, OH, OW, C).

    Padding holds the dtype's lowest value, so it can come first only when every real
    element is that value too: such windows take their first real position instead.
    """
    lowest = MAX.identity(x.dtype)
    windows = _windows(x, lowest, **window)
    first = np.argmax(windows, axis=3)
    best = np.take_along_axis(windows, first[:, :, :, None], axis=3)[:, :, :, 0]
    first_real = np.argmax(_real(x.shape, **window), axis=3)
    return np.where(best == lowest, first_real, first)


def _positions(x: np.ndarray, **window: Any) -> tuple[np.ndarray, ...]:
    """The index into x of each window's first maximum: (batch, row, col, channel) arrays
    shaped (N, OH, OW, C)."""
    (kh, kw), (sh, sw), padding = window["ksize"], window["strides"], window["padding"]
    at = _first_max(x, **window)
    n, oh, ow, c = at.shape
    top = _pads(x.shape[1], kh, sh, padding)[0]
    left = _pads(x.shape[2], kw, sw, padding)[0]
    batch, out_row, out_col, channel = np.indices((n, oh, ow, c), sparse=True)
    return batch, out_row * sh - top + at // kw, out_col * sw - left + at % kw, channel


def _max_pool_numpy(x: np.ndarray, **window: Any) -> np.ndarray:
    return x[_positions(x, **window)]


def _max_pool_grad_numpy(x: np.ndarray, g: np.ndarray, **window: Any) -> np.ndarray:
    out = np.zeros(x.shape, g.dtype)
    np.add.at(out, _positions(x, **window), g)
    return out


def _max_pool_grad_grad_numpy(x: np.ndarray, t: np.ndarray, **window: Any) -> np.ndarray:
    return t[_positions(x, **window)]


def _counts(shape: tuple, dtype: np.dtype, **window: Any) -> np.ndarray:
    """The number of real elements of each window, (1, OH, OW, 1), in `dtype`."""
    return _real(shape, **window).sum(axis=3, dtype=dtype)


def _avg_pool_numpy(x: np.ndarray, **window: Any) -> np.ndarray:
    wide = SUM.accumulator(as_dtype(x.dtype)).np
    total = _windows(x, 0, **window).sum(axis=3, dtype=wide)
    return (total / _counts(x.shape, wide, **window)).astype(x.dtype)


def _avg_pool_grad_numpy(g: np.ndarray, like: np.ndarray, **window: Any) -> np.ndarray:
    share = g / _counts(like.shape, g.dtype, **window)
    shape = (*g.shape[:3], *window["ksize"], g.shape[3])
    patches = np.broadcast_to(share[:, :, :, None, None, :], shape)
    return _to_image_numpy(patches, like, pad_value=0, **window)


# ---- derivatives -----------------------------------------------------------------------------
def _max_pool_vjp(g: Node, n: Node) -> tuple[Node]:  # each window's g to its first maximum
    return (max_pool_grad(n.inputs[0], g, **n.attrs),)


def _max_pool_jvp(tangents: tuple, n: Node) -> Node | None:  # the tangent at the maxima
    t = tangents[0]
    return None if t is None else max_pool_grad_grad(n.inputs[0], t, **n.attrs)


def _max_pool_grad_vjp(gg: Node, n: Node) -> tuple[None, Node]:  # the transpose: gather
    return (None, max_pool_grad_grad(n.inputs[0], gg, **n.attrs))


def _max_pool_grad_grad_vjp(g: Node, n: Node) -> tuple[None, Node]:  # the transpose: scatter
    return (None, max_pool_grad(n.inputs[0], g, **n.attrs))


def _avg_pool_vjp(g: Node, n: Node) -> tuple[Node]:  # the transpose: spread g / count
    return (avg_pool_grad(g, n.inputs[0], **n.attrs),)


def _avg_pool_grad_vjp(g: Node, n: Node) -> tuple[Node, None]:  # the transpose: average
    return (avg_pool(g, **n.attrs), None)


# ---- the ops ---------------------------------------------------------------------------------
max_pool = defop(
    "max_pool",
    "MaxPool",
    Fusion.OPAQUE,
    infer=_max_pool_infer,
    numpy=_max_pool_numpy,
    vjp=_max_pool_vjp,
    jvp=_max_pool_jvp,
)

max_pool_grad = defop(
    "max_pool_grad",
    "MaxPoolGrad",
    Fusion.OPAQUE,
    infer=_to_image_infer,
    numpy=_max_pool_grad_numpy,
    vjp=_max_pool_grad_vjp,
    linear=(1,),
    assumes=lambda n: _pooled_assumes(*n.inputs, n.attrs),
)

max_pool_grad_grad = defop(
    "max_pool_grad_grad",
    "MaxPoolGradGrad",
    Fusion.OPAQUE,
    infer=_to_windows_infer,
    numpy=_max_pool_grad_grad_numpy,
    vjp=_max_pool_grad_grad_vjp,
    linear=(1,),
    assumes=lambda n: _same_assumes(*n.inputs),
)

avg_pool = defop(
    "avg_pool",
    "AvgPool",
    Fusion.OPAQUE,
    infer=_avg_pool_infer,
    numpy=_avg_pool_numpy,
    vjp=_avg_pool_vjp,
    linear=(0,),
)

avg_pool_grad = defop(
    "avg_pool_grad",
    "AvgPoolGrad",
    Fusion.OPAQUE,
    infer=lambda g, like, **window: _to_image_infer(like, g, **window),
    numpy=_avg_pool_grad_numpy,
    vjp=_avg_pool_grad_vjp,
    linear=(0,),
    assumes=lambda n: _pooled_assumes(n.inputs[1], n.inputs[0], n.attrs),
)
