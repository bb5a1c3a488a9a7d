"""The op case table: for each registered op, graph builders with an independent NumPy oracle.

Each Case builds its op from placeholders (`build`) and states the expected
value with plain NumPy (`ref`), written here and not taken from the op's own
`numpy` facet. test_ops checks values; test_autodiff reuses the float cases
for finite-difference checks of gradients and jvps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

import graphc as tf
from graphc.ops import REGISTRY
from graphc.ops.conv import (
    conv2d_backprop_filter,
    conv2d_backprop_input,
    extract_patches,
    patches_to_image,
)
from graphc.ops.index import _scatter_add, _slice_grad
from graphc.ops.index import check_labels as _check_labels
from graphc.ops.pool import avg_pool_grad, max_pool_grad, max_pool_grad_grad
from graphc.ops.reduce import broadcast_like, reduced_size, sum_to_like
from graphc.ops.shape import reshape_like

F, P, U, INT, B, IDX = "normal", "positive", "unit", "int", "bool", "index"
# Input kinds named after a dtype: values over that dtype's whole range, so arithmetic wraps.
SMALL_INTS = ("int8", "uint8", "int16", "uint16")


@dataclass
class Case:
    op: str
    build: Callable[..., Any]
    ref: Callable[..., Any]
    inputs: list[tuple[str, tuple]]
    dtype: str = "float32"
    id: str = ""
    grad: bool = True  # include in gradient checks (when the op is differentiable)
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.op}-{self.id}" if self.id else self.op


def make_input(kind: str, shape: tuple, dtype: str, rng: np.random.Generator) -> np.ndarray:
    if kind == F:
        return rng.standard_normal(shape).astype(dtype)
    if kind == P:
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    if kind == U:
        return rng.uniform(-0.9, 0.9, shape).astype(dtype)
    if kind == INT:
        return rng.integers(-5, 6, shape).astype("int32")
    if kind == IDX:
        return rng.integers(0, 3, shape).astype("int32")
    if kind in SMALL_INTS:
        info = np.iinfo(kind)
        return rng.integers(info.min, info.max, shape, endpoint=True).astype(kind)
    return rng.random(shape) > 0.5


def input_dtype(kind: str, dtype: str) -> str:
    if kind in SMALL_INTS:
        return kind
    return {INT: "int32", IDX: "int32", B: "bool"}.get(kind, dtype)


def _unary(op: str, fn: Callable, ref: Callable, kind: str = F, **kw: Any) -> list[Case]:
    return [
        Case(op, fn, ref, [(kind, (3, 4))], id="f32"),
        Case(op, fn, ref, [(kind, (2, 3))], dtype="float64", id="f64"),
        Case(op, fn, ref, [(kind, ())], id="scalar", grad=False),
        Case(op, fn, ref, [(kind, (0, 3))], id="empty", grad=False),
    ]


def _binary(op: str, fn: Callable, ref: Callable, kx: str = F, ky: str = F) -> list[Case]:
    return [
        Case(op, fn, ref, [(kx, (3, 4)), (ky, (3, 4))], id="same"),
        Case(op, fn, ref, [(kx, (2, 1, 4)), (ky, (3, 1))], dtype="float64", id="broadcast"),
        Case(op, fn, ref, [(kx, (3,)), (ky, ())], id="scalar"),
    ]


def _compare(op: str, fn: Callable, ref: Callable) -> list[Case]:
    return [
        Case(op, fn, ref, [(F, (3, 4)), (F, (4,))], id="f32"),
        Case(op, fn, ref, [(INT, (3, 4)), (INT, (3, 1))], id="int"),
    ]


UNARY = [
    *_unary("negative", lambda x: -x, np.negative),
    *_unary("abs", abs, np.abs),
    *_unary("sign", tf.sign, np.sign),
    *_unary("exp", tf.exp, np.exp),
    *_unary("log", tf.log, np.log, P),
    *_unary("log1p", tf.log1p, np.log1p, P),
    *_unary("expm1", tf.expm1, np.expm1),
    *_unary("sqrt", tf.sqrt, np.sqrt, P),
    *_unary("rsqrt", tf.rsqrt, lambda x: 1 / np.sqrt(x), P),
    *_unary("square", tf.square, lambda x: x * x),
    *_unary("sin", tf.sin, np.sin),
    *_unary("cos", tf.cos, np.cos),
    *_unary("tanh", tf.tanh, np.tanh),
    *_unary("sigmoid", tf.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    *_unary("erf", tf.erf, scipy.special.erf),
    *_unary("relu", tf.nn.relu, lambda x: np.where(x > 0, x, 0)),
    *_unary("floor", tf.floor, np.floor),
    *_unary("ceil", tf.ceil, np.ceil),
    *_unary("round", tf.round, np.round),
    *_unary("identity", tf.identity, lambda x: x),
    *_unary("stop_gradient", tf.stop_gradient, lambda x: x),
    Case(
        "placeholder_with_default",
        lambda x: tf.placeholder_with_default(x, [None, 4]),
        lambda x: x,
        [(F, (3, 4))],
        id="batch",
    ),
    Case(
        "placeholder_with_default",
        lambda x: tf.placeholder_with_default(x, [None, None]),
        lambda x: x,
        [(F, (2, 3))],
        dtype="float64",
        id="f64",
    ),
    Case(
        "placeholder_with_default",
        lambda x: tf.placeholder_with_default(x, []),
        lambda x: x,
        [(F, ())],
        id="scalar",
        grad=False,
    ),
    *_unary("zeros_like", tf.zeros_like, np.zeros_like),
    *_unary("ones_like", tf.ones_like, np.ones_like),
    Case("is_nan", tf.is_nan, np.isnan, [(F, (3, 4))]),
    Case("is_finite", tf.is_finite, np.isfinite, [(F, (3, 4))]),
    Case("logical_not", tf.logical_not, np.logical_not, [(B, (3, 4))]),
    Case("negative", lambda x: -x, np.negative, [(INT, (5,))], id="int"),
    Case("abs", abs, np.abs, [(INT, (5,))], id="int"),
]

BINARY = [
    *_binary("add", lambda x, y: x + y, np.add),
    *_binary("subtract", lambda x, y: x - y, np.subtract),
    *_binary("multiply", lambda x, y: x * y, np.multiply),
    *_binary("divide", lambda x, y: x / y, np.divide, F, P),
    *_binary("floordiv", lambda x, y: x // y, np.floor_divide, F, P),
    *_binary("mod", lambda x, y: x % y, np.mod, F, P),
    *_binary("pow", lambda x, y: x**y, np.power, P, F),
    *_binary("maximum", tf.maximum, np.maximum),
    *_binary("minimum", tf.minimum, np.minimum),
    Case("add", lambda x, y: x + y, np.add, [(INT, (3, 4)), (INT, (4,))], id="int"),
    Case("floordiv", lambda x: x // 3, lambda x: x // 3, [(INT, (6,))], id="int"),
    Case("mod", lambda x: x % 4, lambda x: np.mod(x, 4), [(INT, (6,))], id="int"),
    Case(
        "divide",
        lambda x, y: x / 3,
        lambda x, y: x.astype("float64") / 3,
        [(INT, (4,)), (INT, ())],
        id="int-to-f64",
        grad=False,
    ),
    *_compare("equal", tf.equal, np.equal),
    *_compare("not_equal", tf.not_equal, np.not_equal),
    *_compare("less", lambda x, y: x < y, np.less),
    *_compare("less_equal", lambda x, y: x <= y, np.less_equal),
    *_compare("greater", lambda x, y: x > y, np.greater),
    *_compare("greater_equal", lambda x, y: x >= y, np.greater_equal),
    Case("logical_and", lambda x, y: x & y, np.logical_and, [(B, (3, 4)), (B, (4,))]),
    Case("logical_or", lambda x, y: x | y, np.logical_or, [(B, (3, 4)), (B, (4,))]),
    Case("where", tf.where, np.where, [(B, (3, 4)), (F, (3, 4)), (F, (4,))]),
    Case(
        "where",
        tf.where,
        np.where,
        [(B, (3, 1)), (F, (2, 3, 4)), (F, ())],
        id="broadcast",
        dtype="float64",
    ),
    Case("cast", lambda x: tf.cast(x, tf.float64), lambda x: x.astype("float64"), [(F, (3, 4))]),
    Case(
        "cast",
        lambda x: tf.cast(x, tf.int32),
        lambda x: x.astype("int32"),
        [(F, (3, 4))],
        id="trunc",
    ),
    Case(
        "cast",
        lambda x: tf.cast(x, tf.float32),
        lambda x: x.astype("float32"),
        [(B, (4,))],
        id="bool",
    ),
]


def _axes_cases(op: str, fn: Callable, ref: Callable, kind: str = F) -> list[Case]:
    return [
        Case(op, lambda x: fn(x), lambda x: ref(x, axis=None), [(kind, (3, 4))], id="all"),
        Case(op, lambda x: fn(x, 1), lambda x: ref(x, axis=1), [(kind, (3, 4))], id="axis1"),
        Case(
            op,
            lambda x: fn(x, -1, keepdims=True),
            lambda x: ref(x, axis=-1, keepdims=True),
            [(kind, (2, 3, 4))],
            dtype="float64",
            id="neg-keep",
        ),
        Case(
            op,
            lambda x: fn(x, (0, 2)),
            lambda x: ref(x, axis=(0, 2)),
            [(kind, (2, 3, 4))],
            id="tuple",
        ),
    ]


def _mean(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.mean(x, axis=axis, keepdims=keepdims).astype(x.dtype)


REDUCE = [
    *_axes_cases("reduce_sum", tf.reduce_sum, np.sum),
    *_axes_cases("reduce_max", tf.reduce_max, np.max),
    *_axes_cases("reduce_min", tf.reduce_min, np.min),
    *_axes_cases("reduce_prod", tf.reduce_prod, np.prod, P),
    *_axes_cases("reduce_sum", tf.reduce_mean, _mean),  # reduce_mean = sum / count
    *_axes_cases("reduce_max", tf.reduce_logsumexp, scipy.special.logsumexp),
    Case(
        "reduce_sum",
        lambda x: tf.reduce_sum(x, 0),
        lambda x: x.sum(0, dtype="int32"),
        [(INT, (3, 4))],
        id="int",
    ),
    Case(
        "reduce_sum",
        lambda x: tf.reduce_sum(x, 0),
        lambda x: x.sum(0),
        [(F, (0, 4))],
        id="empty",
        grad=False,
    ),
    Case(
        "reduce_prod",
        lambda x: tf.reduce_prod(x * tf.cast(x > 0.5, x.dtype), 1),
        lambda x: np.prod(x * (x > 0.5), 1),
        [(P, (4, 3))],
        dtype="float64",
        id="zeros",
    ),
    Case("argmax", lambda x: tf.argmax(x, 1), lambda x: np.argmax(x, 1), [(F, (3, 4))]),
    Case("argmin", lambda x: tf.argmin(x, 0), lambda x: np.argmin(x, 0), [(F, (3, 4))]),
    Case(
        "broadcast_like",
        broadcast_like,
        lambda x, y: np.broadcast_to(x, y.shape),
        [(F, (3, 1)), (F, (2, 3, 4))],
    ),
    Case(
        "sum_to_like",
        sum_to_like,
        lambda x, y: x.sum(axis=(0, 2), keepdims=True)[0],
        [(F, (2, 3, 4)), (F, (3, 1))],
    ),
    Case(
        "reduced_size",
        lambda x: reduced_size(x, axis=(0, 2), dtype=x.dtype),
        lambda x: np.float32(x.shape[0] * x.shape[2]),
        [(F, (2, 3, 4))],
    ),
]


def _slice_grad_ref(g: np.ndarray, like: np.ndarray) -> np.ndarray:
    out = np.zeros_like(like)
    out[1:3, ::2] = g
    return out


def _scatter_ref(u: np.ndarray, idx: np.ndarray, like: np.ndarray) -> np.ndarray:
    out = np.zeros_like(like)
    for i, j in enumerate(idx):
        out[j] += u[i]
    return out


SHAPE = [
    Case("reshape", lambda x: tf.reshape(x, [4, -1]), lambda x: x.reshape(4, -1), [(F, (2, 3, 2))]),
    Case("reshape_like", reshape_like, lambda x, y: x.reshape(y.shape), [(F, (6, 2)), (F, (3, 4))]),
    Case("transpose", tf.transpose, lambda x: x.T, [(F, (3, 4))]),
    Case(
        "transpose",
        lambda x: tf.transpose(x, [1, 2, 0]),
        lambda x: x.transpose(1, 2, 0),
        [(F, (2, 3, 4))],
        id="perm",
    ),
    Case("expand_dims", lambda x: tf.expand_dims(x, -1), lambda x: x[..., None], [(F, (3, 4))]),
    Case("squeeze", tf.squeeze, np.squeeze, [(F, (3, 1, 4, 1))]),
    Case("squeeze", lambda x: tf.squeeze(x, [1]), lambda x: x[:, 0], [(F, (3, 1, 1))], id="axis"),
    Case(
        "broadcast_to",
        lambda x: tf.broadcast_to(x, [2, 3, 4]),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        [(F, (3, 1))],
    ),
    Case("tile", lambda x: tf.tile(x, [2, 3]), lambda x: np.tile(x, (2, 3)), [(F, (2, 3))]),
    Case(
        "pad",
        lambda x: tf.pad(x, [[1, 0], [2, 1]], constant_values=3.0),
        lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=3),
        [(F, (2, 3))],
    ),
    Case("shape", tf.shape, lambda x: np.array(x.shape, "int32"), [(F, (2, 3))]),
    Case("size", tf.size, lambda x: np.int32(x.size), [(F, (2, 3))]),
    Case(
        "fill",
        lambda x: tf.fill(tf.shape(x), tf.constant(2.5, x.dtype)),
        lambda x: np.full(x.shape, 2.5, x.dtype),
        [(F, (2, 3))],
    ),
    Case(
        "range",
        lambda x: tf.range(tf.size(x), tf.size(x) * 3, 2),
        lambda x: np.arange(x.size, 3 * x.size, 2, dtype="int32"),
        [(F, (2,))],
    ),
    Case("strided_slice", lambda x: x[1:3, ::2], lambda x: x[1:3, ::2], [(F, (4, 5))]),
    Case(
        "strided_slice",
        lambda x: x[..., None, -1],
        lambda x: x[..., None, -1],
        [(F, (2, 3, 4))],
        id="ellipsis-newaxis-int",
    ),
    Case("strided_slice", lambda x: x[::-1, 1], lambda x: x[::-1, 1], [(F, (4, 3))], id="reverse"),
    Case(
        "strided_slice",
        lambda x: tf.slice(x, [1, 0], [2, -1]),
        lambda x: x[1:3, :],
        [(F, (4, 3))],
        id="slice",
    ),
    Case(
        "strided_slice_grad",
        lambda g, x: _slice_grad(g, x, spec=(("s", 1, 3, 1), ("s", None, None, 2))),
        _slice_grad_ref,
        [(F, (2, 3)), (F, (4, 5))],
    ),
    Case(
        "concat",
        lambda x, y: tf.concat([x, y], 1),
        lambda x, y: np.concatenate([x, y], 1),
        [(F, (2, 3)), (F, (2, 2))],
    ),
    Case(
        "concat",
        lambda x, y: tf.stack([x, y], -1),
        lambda x, y: np.stack([x, y], -1),
        [(F, (2, 3)), (F, (2, 3))],
        id="stack",
    ),
    Case(
        "strided_slice",
        lambda x: tf.split(x, [1, 3], 1)[1],
        lambda x: x[:, 1:],
        [(F, (2, 4))],
        id="split",
    ),
    Case(
        "strided_slice",
        lambda x: tf.unstack(x, axis=1)[2],
        lambda x: x[:, 2],
        [(F, (2, 4))],
        id="unstack",
    ),
    Case("gather", tf.gather, lambda p, i: p[i], [(F, (3, 4)), (IDX, (5,))]),
    Case(
        "gather",
        lambda p, i: tf.gather(p, i, axis=1),
        lambda p, i: p[:, i],
        [(F, (2, 3)), (IDX, (2, 2))],
        id="axis1",
    ),
    Case(
        "scatter_add_like",
        lambda u, i, like: _scatter_add(u, i, like, axis=0),
        _scatter_ref,
        [(F, (5, 4)), (IDX, (5,)), (F, (3, 4))],
    ),
    Case(
        "one_hot",
        lambda i: tf.one_hot(i, 4),
        lambda i: np.eye(4, dtype="float32")[i],
        [(IDX, (5,))],
    ),
    Case(
        "one_hot",
        lambda i: tf.one_hot(i - 1, 3, on_value=2.0, off_value=-1.0, axis=0),
        lambda i: np.where(np.arange(3)[:, None] == (i - 1)[None], 2.0, -1.0).astype("float32"),
        [(IDX, (5,))],
        id="axis0-out-of-range",
    ),
    Case(  # in range: the labels themselves (out of range raises: tests/test_runtime_checks.py)
        "check_labels",
        lambda i, logits: _check_labels(i, logits) * 2,
        lambda i, logits: i * 2,
        [(IDX, (5,)), (F, (5, 3))],
    ),
]


# (id, stride, padding, filter shape, output gradient shape, input shape)
CONV_GRADIENT_GEOMETRIES = (
    ("same", 1, "SAME", (3, 3, 2, 3), (2, 5, 5, 3), (2, 5, 5, 2)),
    ("valid-stride", 2, "VALID", (2, 3, 2, 1), (1, 3, 2, 1), (1, 6, 6, 2)),
    ("same-stride-even", 2, "SAME", (2, 4, 3, 2), (3, 3, 4, 2), (3, 5, 7, 3)),
    ("1x1", 1, "VALID", (1, 1, 3, 2), (2, 3, 4, 2), (2, 3, 4, 3)),
)


def _conv_padded(x: np.ndarray, kh: int, kw: int, stride: int, padding: str) -> tuple:
    """x padded as TF pads it (SAME's extra padding goes after), the output size, and the
    top/left padding."""
    _, h, wd, _ = x.shape
    if padding == "SAME":
        oh, ow = math.ceil(h / stride), math.ceil(wd / stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        return x, oh, ow, ph // 2, pw // 2
    return x, (h - kh) // stride + 1, (wd - kw) // stride + 1, 0, 0


def _conv_ref(x: np.ndarray, w: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Direct convolution loops."""
    kh, kw, _, o = w.shape
    x, oh, ow, _, _ = _conv_padded(x, kh, kw, stride, padding)
    out = np.zeros((x.shape[0], oh, ow, o), x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _conv_input_grad_ref(
    w: np.ndarray, dy: np.ndarray, x: np.ndarray, stride: int, padding: str
) -> np.ndarray:
    """d sum(conv(x, w) * dy) / dx by loops: each output position adds dy @ w.T back
    into its window."""
    kh, kw, _, _ = w.shape
    padded, oh, ow, top, left = _conv_padded(x, kh, kw, stride, padding)
    out = np.zeros(padded.shape, dy.dtype)
    for i in range(oh):
        for j in range(ow):
            part = np.tensordot(dy[:, i, j, :], w, axes=([1], [3]))  # (N, KH, KW, C)
            out[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :] += part
    return out[:, top : top + x.shape[1], left : left + x.shape[2], :]


def _conv_filter_grad_ref(
    x: np.ndarray, dy: np.ndarray, shape: tuple, stride: int, padding: str
) -> np.ndarray:
    """d sum(conv(x, w) * dy) / dw by loops over output positions."""
    kh, kw, _, _ = shape
    padded, oh, ow, _, _ = _conv_padded(x, kh, kw, stride, padding)
    out = np.zeros(shape, x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = padded[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out += np.tensordot(window, dy[:, i, j, :], axes=([0], [0]))
    return out


def _pool_windows(shape: tuple, ksize: tuple, strides: tuple, padding: str) -> tuple:
    """TF's pooling geometry by hand: (OH, OW) and, per window, (i, j, rows, cols), the
    ranges of the window's real (unpadded) rows and cols; SAME's extra padding goes after."""
    _, h, w, _ = shape
    (kh, kw), (sh, sw) = ksize, strides
    if padding == "SAME":
        oh, ow = math.ceil(h / sh), math.ceil(w / sw)
        top, left = max((oh - 1) * sh + kh - h, 0) // 2, max((ow - 1) * sw + kw - w, 0) // 2
    else:
        oh, ow, top, left = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0
    windows = []
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            rows = range(max(r0, 0), min(r0 + kh, h))
            windows.append((i, j, rows, range(max(c0, 0), min(c0 + kw, w))))
    return (oh, ow), windows


def _pool_ref(x: np.ndarray, ksize: tuple, strides: tuple, padding: str, how: str) -> np.ndarray:
    (oh, ow), windows = _pool_windows(x.shape, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for i, j, rows, cols in windows:
        window = x[:, rows.start : rows.stop, cols.start : cols.stop, :]
        out[:, i, j] = window.max(axis=(1, 2)) if how == "max" else window.mean(axis=(1, 2))
    return out


def _first_max_ref(x: np.ndarray, b: int, ch: int, rows: range, cols: range) -> tuple:
    """(row, col) of the first maximum of one window (row-major), by a scan."""
    best, at = -np.inf, (rows[0], cols[0])
    for r in rows:
        for c in cols:
            if x[b, r, c, ch] > best:
                best, at = x[b, r, c, ch], (r, c)
    return at


def _max_pool_grad_ref(x, g, ksize, strides, padding) -> np.ndarray:
    out = np.zeros_like(x)
    for i, j, rows, cols in _pool_windows(x.shape, ksize, strides, padding)[1]:
        for b in range(x.shape[0]):
            for ch in range(x.shape[3]):
                r, c = _first_max_ref(x, b, ch, rows, cols)
                out[b, r, c, ch] += g[b, i, j, ch]
    return out


def _max_pool_grad_grad_ref(x, t, ksize, strides, padding) -> np.ndarray:
    (oh, ow), windows = _pool_windows(x.shape, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for i, j, rows, cols in windows:
        for b in range(x.shape[0]):
            for ch in range(x.shape[3]):
                r, c = _first_max_ref(x, b, ch, rows, cols)
                out[b, i, j, ch] = t[b, r, c, ch]
    return out


def _avg_pool_grad_ref(g, like, ksize, strides, padding) -> np.ndarray:
    out = np.zeros_like(like)
    for i, j, rows, cols in _pool_windows(like.shape, ksize, strides, padding)[1]:
        share = g[:, i, j] / (len(rows) * len(cols))
        out[:, rows.start : rows.stop, cols.start : cols.stop, :] += share[:, None, None, :]
    return out


def _patches_ref(x: np.ndarray) -> np.ndarray:
    """2x2 windows, stride 1, VALID: (N, OH, OW, 2, 2, C) by explicit loops."""
    n, h, w, c = x.shape
    out = np.zeros((n, h - 1, w - 1, 2, 2, c), x.dtype)
    for i in range(h - 1):
        for j in range(w - 1):
            out[:, i, j] = x[:, i : i + 2, j : j + 2, :]
    return out


def _to_image_ref(p: np.ndarray, like: np.ndarray) -> np.ndarray:
    out = np.zeros_like(like)
    for i in range(p.shape[1]):
        for j in range(p.shape[2]):
            out[:, i : i + 2, j : j + 2, :] += p[:, i, j]
    return out


_PATCH = {"ksize": (2, 2), "strides": (1, 1), "padding": "VALID", "pad_value": 0.0}

LINALG = [
    Case("matmul", tf.matmul, np.matmul, [(F, (3, 4)), (F, (4, 2))]),
    Case(
        "matmul",
        lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
        lambda a, b: a.T @ b.T,
        [(F, (4, 3)), (F, (2, 4))],
        dtype="float64",
        id="tt",
    ),
    Case(
        "matmul",
        lambda a, b: a @ b,
        np.matmul,
        [(F, (2, 1, 3, 4)), (F, (3, 4, 2))],
        id="batch-broadcast",
    ),
    Case(
        "matmul",
        lambda a, b: tf.matmul(a, b, transpose_b=True),
        lambda a, b: a @ b.T,
        [(INT, (2, 3)), (INT, (4, 3))],
        id="int",
    ),
    Case(
        "einsum",
        lambda a, b: tf.einsum("ij,jk->ik", a, b),
        lambda a, b: a @ b,
        [(F, (3, 4)), (F, (4, 2))],
    ),
    Case(
        "einsum",
        lambda a, b: tf.einsum("bij,bkj->bik", a, b),
        lambda a, b: np.einsum("bij,bkj->bik", a, b),
        [(F, (2, 3, 4)), (F, (2, 5, 4))],
        dtype="float64",
        id="batched",
    ),
    Case("einsum", lambda a: tf.einsum("ij->i", a), lambda a: a.sum(1), [(F, (3, 4))], id="reduce"),
    Case(
        "einsum",
        lambda a, b: tf.tensordot(a, b, 1),
        lambda a, b: np.tensordot(a, b, 1),
        [(F, (2, 3)), (F, (3, 4))],
        id="tensordot",
    ),
    Case(
        "einsum",
        lambda a, b: tf.tensordot(a, b, [[0, 2], [1, 0]]),
        lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]),
        [(F, (2, 3, 4)), (F, (4, 2, 5))],
        dtype="float64",
        id="tensordot-axes",
    ),
    Case(
        "extract_patches", lambda x: extract_patches(x, **_PATCH), _patches_ref, [(F, (2, 3, 4, 2))]
    ),
    Case(
        "patches_to_image",
        lambda p, x: patches_to_image(p, x, **_PATCH),
        _to_image_ref,
        [(F, (2, 2, 3, 2, 2, 2)), (F, (2, 3, 4, 2))],
    ),
    Case(
        "conv2d",
        lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"),
        lambda x, w: _conv_ref(x, w, 1, "SAME"),
        [(F, (2, 5, 5, 2)), (F, (3, 3, 2, 3))],
        dtype="float64",
        id="same",
    ),
    Case(
        "conv2d",
        lambda x, w: tf.nn.conv2d(x, w, [1, 2, 2, 1], "VALID"),
        lambda x, w: _conv_ref(x, w, 2, "VALID"),
        [(F, (1, 6, 5, 2)), (F, (2, 2, 2, 1))],
        id="valid-stride",
    ),
    Case(  # even kernel, SAME with stride 2 on odd sizes: the extra padding goes after
        "conv2d",
        lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"),
        lambda x, w: _conv_ref(x, w, 2, "SAME"),
        [(F, (3, 5, 7, 3)), (F, (2, 4, 3, 2))],
        dtype="float64",
        id="same-stride-even",
    ),
    Case(  # 1x1 at stride 1: the image itself is the matrix (no patches)
        "conv2d",
        lambda x, w: tf.nn.conv2d(x, w, 1, "VALID"),
        lambda x, w: _conv_ref(x, w, 1, "VALID"),
        [(F, (2, 3, 4, 3)), (F, (1, 1, 3, 2))],
        dtype="float64",
        id="1x1",
    ),
    *(
        Case(
            "conv2d_backprop_input",
            lambda w, dy, x, s=s, p=p: conv2d_backprop_input(w, dy, x, strides=(s, s), padding=p),
            lambda w, dy, x, s=s, p=p: _conv_input_grad_ref(w, dy, x, s, p),
            [(F, ws), (F, dys), (F, xs)],
            dtype="float64",
            id=i,
        )
        for i, s, p, ws, dys, xs in CONV_GRADIENT_GEOMETRIES
    ),
    *(
        Case(
            "conv2d_backprop_filter",
            lambda x, dy, s=s, p=p, ws=ws: conv2d_backprop_filter(
                x, dy, filter_shape=ws, strides=(s, s), padding=p
            ),
            lambda x, dy, s=s, p=p, ws=ws: _conv_filter_grad_ref(x, dy, ws, s, p),
            [(F, xs), (F, dys)],
            dtype="float64",
            id=i,
        )
        for i, s, p, ws, dys, xs in CONV_GRADIENT_GEOMETRIES
    ),
    Case(
        "in_top_k",
        lambda p, t: tf.nn.in_top_k(p, t, 2),
        lambda p, t: np.array([t[i] in np.argsort(-p[i])[:2] for i in range(len(t))]),
        [(F, (4, 3)), (IDX, (4,))],
    ),
]


def _window(ksize: tuple, strides: tuple, padding: str) -> dict:
    return {"ksize": ksize, "strides": strides, "padding": padding}


def _max_pool_case(ksize, strides, padding, shape, dtype="float64", kind=F) -> Case:
    k, s = f"{ksize[0]}x{ksize[1]}", f"{strides[0]}{strides[1]}"
    return Case(
        "max_pool",
        lambda x: tf.nn.max_pool(x, [1, *ksize, 1], [1, *strides, 1], padding),
        lambda x: _pool_ref(x, ksize, strides, padding, "max"),
        [(kind, shape)],
        dtype=dtype,
        id=f"{k}-s{s}-{padding.lower()}-{'x'.join(map(str, shape[1:3]))}c{shape[3]}",
    )


def _avg_pool_case(ksize, strides, padding, shape, dtype="float64") -> Case:
    k, s = f"{ksize[0]}x{ksize[1]}", f"{strides[0]}{strides[1]}"
    return Case(
        "avg_pool",
        lambda x: tf.nn.avg_pool(x, list(ksize), list(strides), padding),
        lambda x: _pool_ref(x, ksize, strides, padding, "avg"),
        [(F, shape)],
        dtype=dtype,
        id=f"{k}-s{s}-{padding.lower()}-{'x'.join(map(str, shape[1:3]))}c{shape[3]}",
    )


_S2 = _window((3, 3), (2, 2), "SAME")  # 5x5 -> 3x3, one row and col of padding each side
_V1 = _window((2, 2), (1, 1), "VALID")  # overlapping windows: their gradients add up

POOL = [
    _max_pool_case((2, 2), (2, 2), "SAME", (2, 5, 5, 2)),
    _max_pool_case((3, 3), (2, 2), "SAME", (1, 7, 5, 3), dtype="float32"),
    _max_pool_case((3, 3), (1, 1), "VALID", (1, 5, 6, 1)),
    _max_pool_case((2, 3), (1, 2), "SAME", (1, 5, 7, 3)),
    _max_pool_case((2, 3), (1, 2), "VALID", (1, 4, 7, 1), dtype="float32"),
    _max_pool_case((2, 2), (2, 2), "SAME", (1, 3, 5, 2), dtype="int32", kind=INT),
    Case(
        "max_pool_grad",
        lambda x, g: max_pool_grad(x, g, **_S2),
        lambda x, g: _max_pool_grad_ref(x, g, **_S2),
        [(F, (1, 5, 5, 2)), (F, (1, 3, 3, 2))],
        dtype="float64",
    ),
    Case(
        "max_pool_grad",
        lambda x, g: max_pool_grad(x, g, **_V1),
        lambda x, g: _max_pool_grad_ref(x, g, **_V1),
        [(F, (1, 4, 4, 1)), (F, (1, 3, 3, 1))],
        id="overlapping",
    ),
    Case(
        "max_pool_grad_grad",
        lambda x, t: max_pool_grad_grad(x, t, **_S2),
        lambda x, t: _max_pool_grad_grad_ref(x, t, **_S2),
        [(F, (1, 5, 5, 2)), (F, (1, 5, 5, 2))],
        dtype="float64",
    ),
    _avg_pool_case((3, 3), (2, 2), "SAME", (1, 5, 4, 2)),
    _avg_pool_case((2, 3), (1, 2), "SAME", (1, 5, 7, 3), dtype="float32"),
    _avg_pool_case((3, 3), (1, 1), "VALID", (2, 5, 6, 1)),
    Case(
        "avg_pool_grad",
        lambda g, x: avg_pool_grad(g, x, **_S2),
        lambda g, x: _avg_pool_grad_ref(g, x, **_S2),
        [(F, (1, 3, 3, 2)), (F, (1, 5, 5, 2))],
        dtype="float64",
    ),
]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


NN = [
    Case("where", tf.nn.relu6, lambda x: np.clip(x, 0, 6), [(F, (3, 4))], id="relu6"),
    Case(
        "where",
        tf.nn.leaky_relu,
        lambda x: np.where(x > 0, x, 0.2 * x),
        [(F, (3, 4))],
        id="leaky_relu",
    ),
    Case("where", tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), [(F, (3, 4))], id="elu"),
    Case(
        "where",
        tf.nn.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
        [(F, (3, 4))],
        id="selu",
    ),
    Case("log1p", tf.nn.softplus, lambda x: np.log1p(np.exp(x)), [(F, (3, 4))], id="softplus"),
    Case("divide", tf.nn.softmax, _softmax, [(F, (3, 4))], id="softmax"),
    Case(
        "subtract",
        tf.nn.log_softmax,
        lambda x: np.log(_softmax(x)),
        [(F, (3, 4))],
        dtype="float64",
        id="log_softmax",
    ),
    Case(
        "negative",
        lambda y, x: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x),
        lambda y, x: -(y * np.log(_softmax(x))).sum(-1),
        [(P, (3, 4)), (F, (3, 4))],
        dtype="float64",
        id="softmax_xent",
    ),
    Case(
        "negative",
        lambda i, x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=x),
        lambda i, x: -np.log(_softmax(x))[np.arange(len(i)), i],
        [(IDX, (4,)), (F, (4, 3))],
        dtype="float64",
        id="sparse_xent",
    ),
    Case(
        "add",
        lambda z, x: tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
        lambda z, x: (
            -(z * np.log(1 / (1 + np.exp(-x))) + (1 - z) * np.log(1 - 1 / (1 + np.exp(-x))))
        ),
        [(U, (3, 4)), (F, (3, 4))],
        dtype="float64",
        id="sigmoid_xent",
    ),
    Case(
        "multiply",
        tf.nn.l2_loss,
        lambda x: np.float32((x * x).sum() / 2),
        [(F, (3, 4))],
        id="l2_loss",
    ),
    Case("add", tf.nn.bias_add, lambda x, b: x + b, [(F, (2, 3, 4)), (F, (4,))], id="bias_add"),
    Case(
        "reduce_sum",
        lambda x, y: tf.losses.mean_squared_error(x, y),
        lambda x, y: np.float32(((x - y) ** 2).mean()),
        [(F, (3, 4)), (F, (3, 4))],
        id="mse",
    ),
    Case(
        "reduce_sum",
        lambda i, x: tf.losses.sparse_softmax_cross_entropy(i, x),
        lambda i, x: -np.log(_softmax(x))[np.arange(len(i)), i].mean(),
        [(IDX, (4,)), (F, (4, 3))],
        dtype="float64",
        id="loss-sparse",
    ),
    Case(
        "minimum",
        lambda x: tf.clip_by_value(x, -0.5, 0.5),
        lambda x: np.clip(x, -0.5, 0.5),
        [(F, (3, 4))],
        id="clip",
    ),
    Case(
        "multiply",
        lambda x: tf.nn.l2_normalize(x, axis=1),
        lambda x: x / np.sqrt(np.maximum((x * x).sum(1, keepdims=True), 1e-12)),
        [(F, (3, 4))],
        dtype="float64",
        id="l2_normalize",
    ),
    Case(
        "reduce_sum",
        lambda x: tf.nn.moments(x, [0, 2])[0],
        lambda x: x.mean(axis=(0, 2)),
        [(F, (3, 2, 4))],
        dtype="float64",
        id="moments-mean",
    ),
    Case(
        "reduce_sum",
        lambda x: tf.nn.moments(x, [0], keep_dims=True)[1],
        lambda x: x.var(axis=0, keepdims=True),
        [(F, (5, 3))],
        dtype="float64",
        id="moments-variance",
    ),
    Case(
        "add",
        lambda x, m, v, o, g: tf.nn.batch_normalization(x, m, v, o, g, 1e-3),
        lambda x, m, v, o, g: (x - m) / np.sqrt(v + 1e-3) * g + o,
        [(F, (4, 3)), (F, (3,)), (P, (3,)), (F, (3,)), (F, (3,))],
        dtype="float64",
        id="batch_normalization",
    ),
    Case(
        "gather",
        lambda p, i: tf.nn.embedding_lookup(p, i),
        lambda p, i: p[i],
        [(F, (3, 4)), (IDX, (2, 5))],
        id="embedding_lookup",
    ),
    Case(
        "gather",
        lambda p, i: tf.gather_nd(p, i),
        lambda p, i: p[i[..., 0], i[..., 1]],
        [(F, (3, 4, 2)), (IDX, (5, 2))],
        id="gather_nd",
    ),
    Case(
        "multiply",
        lambda x: tf.clip_by_norm(x, 1.5),
        lambda x: x * 1.5 / max(np.sqrt((x * x).sum()), 1.5),
        [(F, (3, 4))],
        dtype="float64",
        id="clip_by_norm",
    ),
    Case(
        "where",
        lambda y, x: tf.losses.huber_loss(y, x, delta=0.7),
        lambda y, x: np.where(
            np.abs(x - y) <= 0.7, 0.5 * (x - y) ** 2, 0.7 * (np.abs(x - y) - 0.35)
        ).mean(),
        [(F, (3, 4)), (F, (3, 4))],
        dtype="float64",
        id="huber",
    ),
    Case(
        "where",
        lambda y, x, w: tf.losses.absolute_difference(y, x, weights=w),
        lambda y, x, w: (np.abs(x - y) * w).sum() / max(np.count_nonzero(w * np.ones_like(x)), 1),
        [(F, (3, 4)), (F, (3, 4)), (P, (4,))],
        dtype="float64",
        id="absolute_difference-weighted",
    ),
]


def _wide_mean(x: np.ndarray, axis: int) -> np.ndarray:
    """An integer mean as TF1 floors it, summed without wrapping (graphc's reduce_mean)."""
    return (x.astype(np.int64).sum(axis) // x.shape[axis]).astype(x.dtype)


def _small_int_cases(k: str, full: bool) -> list[Case]:
    """Arithmetic that wraps, comparisons, reductions and casts of one 8- or 16-bit dtype,
    against NumPy's fixed-width arithmetic (`full`: every op, else the wrapping ones)."""
    t = np.dtype(k).type
    wrapping = [
        Case("add", lambda x, y: x + y, np.add, [(k, (3, 4)), (k, (4,))], id=f"{k}-wraps"),
        Case("multiply", lambda x, y: x * y, np.multiply, [(k, (3, 4)), (k, ())], id=k),
        Case(
            "greater",  # a fused chain: each op's value wraps before the next reads it
            lambda x, y: (x + y) // 2 > x,
            lambda x, y: (x + y) // t(2) > x,
            [(k, (3, 4)), (k, (3, 4))],
            id=f"{k}-fused-wraps",
        ),
        Case(
            "reduce_sum",
            lambda x: tf.reduce_sum(x, 1),
            lambda x: x.sum(1, dtype=k),
            [(k, (3, 8))],
            id=f"{k}-wraps",
        ),
        Case(
            "cumsum",
            lambda x: tf.cumsum(x, 1),
            lambda x: np.cumsum(x, 1, dtype=k),
            [(k, (3, 6))],
            id=f"{k}-wraps",
        ),
        Case(
            "cast",
            lambda x: tf.cast(x * 10000, k),
            lambda x: (x * 10000).astype(k),
            [(INT, (3, 4))],
            id=f"int32-to-{k}-wraps",
        ),
        Case(
            "cast",
            lambda x: tf.cast(x, tf.float32),
            lambda x: x.astype("float32"),
            [(k, (3, 4))],
            id=f"{k}-to-f32",
        ),
    ]
    if not full:
        return wrapping
    return [
        *wrapping,
        Case("subtract", lambda x, y: x - y, np.subtract, [(k, (3, 4)), (k, (3, 4))], id=k),
        Case("negative", lambda x: -x, np.negative, [(k, (6,))], id=k),
        Case("abs", abs, np.abs, [(k, (6,))], id=k),
        Case("floordiv", lambda x: x // 7, lambda x: x // t(7), [(k, (6,))], id=k),
        Case("mod", lambda x: x % 7, lambda x: x % t(7), [(k, (6,))], id=k),
        Case("maximum", tf.maximum, np.maximum, [(k, (3, 4)), (k, (4,))], id=k),
        Case("less", lambda x, y: x < y, np.less, [(k, (3, 4)), (k, (3, 1))], id=k),
        Case("equal", tf.equal, np.equal, [(k, (3, 4)), (k, (4,))], id=k),
        Case("where", tf.where, np.where, [(B, (3, 4)), (k, (3, 4)), (k, (4,))], id=k),
        Case("reduce_max", lambda x: tf.reduce_max(x, 0), lambda x: x.max(0), [(k, (3, 4))], id=k),
        Case("argmax", lambda x: tf.argmax(x, 1), lambda x: np.argmax(x, 1), [(k, (3, 4))], id=k),
        Case(
            "reduce_sum",
            lambda x: tf.reduce_mean(x, 1),
            lambda x: _wide_mean(x, 1),
            [(k, (3, 300))],
            id=f"{k}-mean-no-wrap",
        ),
        Case(
            "divide",  # TF1's `/` of 8- and 16-bit integers is float32 (its _TRUEDIV_TABLE)
            lambda x: x / 3,
            lambda x: x.astype("float32") / np.float32(3),
            [(k, (3, 4))],
            id=f"{k}-to-f32",
        ),
    ]


def _cumsum_ref(x: np.ndarray, axis: int, exclusive: bool, reverse: bool) -> np.ndarray:
    """TF1's documented Cumsum, by explicit sums over index ranges along `axis`."""
    moved = np.moveaxis(x.astype(np.float64), axis, -1)
    n = moved.shape[-1]
    out = np.empty_like(moved)
    for i in range(n):
        lo, hi = (i + exclusive, n) if reverse else (0, i + 1 - exclusive)
        out[..., i] = moved[..., lo:hi].sum(-1)
    return np.moveaxis(out, -1, axis).astype(x.dtype)


def _cumsum_case(axis: int, exclusive: bool, reverse: bool, shape: tuple, dtype: str) -> Case:
    flags = "".join(f for f, on in (("-exclusive", exclusive), ("-reverse", reverse)) if on)
    return Case(
        "cumsum",
        lambda x: tf.cumsum(x, axis, exclusive=exclusive, reverse=reverse),
        lambda x: _cumsum_ref(x, axis, exclusive, reverse),
        [(F, shape)],
        dtype=dtype,
        id=f"axis{axis}{flags}",
    )


def _saturate_ref(x: np.ndarray, dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.nan_to_num(x.astype(np.float64)), info.min, info.max).astype(dtype)


TF1_NAMES = [
    *_axes_cases("reduce_any", tf.reduce_any, np.any, B),
    *_axes_cases("reduce_all", tf.reduce_all, np.all, B),
    Case(
        "reduce_any",
        lambda x: tf.reduce_any(x > 0.5, axis=1),
        lambda x: (x > 0.5).any(1),
        [(F, (3, 4))],
        id="fused",
    ),
    Case(
        "reduce_all",
        lambda x: tf.reduce_all(x > -1.0, keepdims=True),
        lambda x: (x > -1.0).all(keepdims=True),
        [(F, (3, 4))],
        id="fused",
    ),
    Case(
        "reduce_any", lambda x: tf.reduce_any(x, 0), lambda x: x.any(0), [(B, (0, 3))], id="empty"
    ),
    Case(
        "reduce_all", lambda x: tf.reduce_all(x, 0), lambda x: x.all(0), [(B, (0, 3))], id="empty"
    ),
    _cumsum_case(0, False, False, (4, 3), "float32"),
    _cumsum_case(1, True, False, (3, 4), "float32"),
    _cumsum_case(0, False, True, (4, 3), "float64"),
    _cumsum_case(-1, True, True, (2, 3, 4), "float64"),
    _cumsum_case(1, False, False, (2, 1, 3), "float64"),
    Case(
        "reduce_sum",
        lambda x: tf.count_nonzero(tf.round(x), 1),
        lambda x: np.count_nonzero(np.round(x), 1).astype(np.int64),
        [(F, (3, 4))],
        id="count_nonzero",
    ),
    Case(
        "cast",
        lambda x: tf.saturate_cast(x * 100.0, tf.int8),
        lambda x: _saturate_ref(x * np.float32(100), "int8"),
        [(F, (3, 4))],
        id="saturate_cast",
    ),
    Case("cast", tf.to_float, lambda x: x.astype("float32"), [(INT, (3, 4))], id="to_float"),
    Case("cast", tf.to_double, lambda x: x.astype("float64"), [(F, (3, 4))], id="to_double"),
    Case(
        "cast",
        lambda x: tf.to_int32(x * 3.0),
        lambda x: (x * np.float32(3)).astype("int32"),
        [(F, (3, 4))],
        id="to_int32",
    ),
    Case("cast", tf.to_int64, lambda x: x.astype("int64"), [(INT, (3, 4))], id="to_int64"),
    Case("argmax", lambda x: tf.arg_max(x, 0), lambda x: np.argmax(x, 0), [(F, (3, 4))], id="tf1"),
    Case("argmin", lambda x: tf.arg_min(x, 1), lambda x: np.argmin(x, 1), [(F, (3, 4))], id="tf1"),
    Case(
        "greater",  # int32 wraps inside a fused kernel too: 2**31 - 1 + x is negative for x > 0
        lambda x: (x + 2147483647) > 0,
        lambda x: (x + np.int32(2147483647)) > 0,
        [(INT, (3, 4))],
        id="int32-fused-wraps",
    ),
    *_small_int_cases("int8", full=True),
    *_small_int_cases("uint8", full=True),
    *_small_int_cases("int16", full=False),
    *_small_int_cases("uint16", full=False),
]

ALL = UNARY + BINARY + REDUCE + SHAPE + LINALG + POOL + NN + TF1_NAMES

# Ops whose values cannot be compared with a deterministic oracle: tested in
# test_session.py (state and run semantics) and test_random.py (statistics).
COVERED_ELSEWHERE = {
    "allreduce": "test_distributed.py (ranks under mpiexec, against one process)",
    "placeholder": "every case feeds placeholders",
    "const": "test_graph.py::test_constant_values",
    "variable": "test_session.py (variable state)",
    "read_variable": "test_session.py::test_control_dependencies_order_reads",
    "assign": "test_session.py::test_reads_see_values_from_before_the_run",
    "no_op": "test_session.py::test_fetching_an_op_returns_none",
    "assert": "test_asserts.py (a run that passes or fails)",
    "print": "test_printing.py (the text both targets write)",
    "switch": "test_cond.py (tf.cond: values, derivatives, only the taken branch runs)",
    "merge": "test_cond.py (tf.cond: values, derivatives, only the taken branch runs)",
    "random_uniform": "test_random.py",
    "random_standard_normal": "test_random.py",
    "truncated_normal": "test_random.py",
    "random_uniform_int": "test_random.py",
    "fused": "test_passes.py (fusion), test_fuzz.py",
    "fused_output": "test_passes.py (fusion), test_fuzz.py",
    "kernel_param": "test_passes.py (fusion), test_fuzz.py",
}


def covered_ops() -> set[str]:
    return {c.op for c in ALL} | set(COVERED_ELSEWHERE)


def missing_ops() -> list[str]:
    return sorted(set(REGISTRY) - covered_ops())
