"""Image patches (NHWC) and their transpose, the primitives behind conv2d; the window
geometry they share with pooling (graphc.ops.pool); and `in_top_k`.

`extract_patches(x)` has shape (N, OH, OW, KH, KW, C), TF's SAME/VALID
padding with `pad_value` in the border; `patches_to_image` adds patches back
into an image of the input's shape (it is extract_patches' transpose, so each
is the other's gradient and second derivatives exist).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError, ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, defop
from graphc.types import TensorType, as_dims, bool_


def out_size(size: int | None, k: int, s: int, padding: str) -> int | None:
    """Output length of one spatial axis, as TF computes it."""
    if size is None:
        return None
    if padding == "SAME":
        return math.ceil(size / s)
    return math.ceil((size - k + 1) / s)


def _pads(size: int, k: int, s: int, padding: str) -> tuple[int, int]:
    if padding == "VALID":
        return 0, 0
    total = max((out_size(size, k, s, padding) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def window_shape(
    x: TensorType, ksize: tuple, strides: tuple, padding: str
) -> tuple[int | None, ...]:
    """(N, OH, OW, C): the windows `ksize` at `strides` take over the NHWC input `x`.

    Checks the window arguments (two sizes each, at least 1; "SAME" or "VALID") and that a
    VALID window fits the input: the shared rule of the patch and pooling ops.
    """
    if x.shape is None or len(x.shape) != 4:
        raise ShapeError(f"expected an NHWC input of rank 4, got {x}")
    if padding not in ("SAME", "VALID"):
        raise InvalidArgumentError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    for value, what in ((ksize, "ksize"), (strides, "strides")):
        if len(as_dims(value, what, lowest=1)) != 2:
            raise ShapeError(f"{what} must hold 2 sizes (rows, cols), got {list(value)}")
    n, h, w, c = x.shape
    oh, ow = (out_size(d, k, s, padding) for d, k, s in zip((h, w), ksize, strides, strict=True))
    if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
        raise ShapeError(f"window {list(ksize)} does not fit the input {x} with VALID padding")
    return n, oh, ow, c


def _patches_infer(
    x: TensorType, *, ksize: tuple, strides: tuple, padding: str, pad_value: float
) -> TensorType:
    n, oh, ow, c = window_shape(x, ksize, strides, padding)
    return TensorType((n, oh, ow, *ksize, c), x.dtype)


def _extract_numpy(
    x: np.ndarray, *, ksize: tuple, strides: tuple, padding: str, pad_value: float
) -> np.ndarray:
    (kh, kw), (sh, sw) = ksize, strides
    ph, pw = _pads(x.shape[1], kh, sh, padding), _pads(x.shape[2], kw, sw, padding)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=np.asarray(pad_value, x.dtype))
    oh = out_size(x.shape[1], kh, sh, padding)
    ow = out_size(x.shape[2], kw, sw, padding)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    windows = windows[:, : oh * sh : sh, : ow * sw : sw]  # (N, OH, OW, C, KH, KW)
    return np.ascontiguousarray(np.moveaxis(windows, 3, 5))


def _to_image_numpy(
    p: np.ndarray, like: np.ndarray, *, ksize: tuple, strides: tuple, padding: str, pad_value: float
) -> np.ndarray:
    (kh, kw), (sh, sw) = ksize, strides
    n, h, w, c = like.shape
    ph, pw = _pads(h, kh, sh, padding), _pads(w, kw, sw, padding)
    out = np.zeros((n, h + sum(ph), w + sum(pw), c), p.dtype)
    oh, ow = p.shape[1], p.shape[2]
    for i in range(kh):
        for j in range(kw):
            out[:, i : i + oh * sh : sh, j : j + ow * sw : sw, :] += p[:, :, :, i, j, :]
    return out[:, ph[0] : ph[0] + h, pw[0] : pw[0] + w, :]


def _with_zero_pad(attrs: Any) -> dict:
    return {**attrs, "pad_value": 0.0}


def _extract_patches_vjp(g: Node, n: Node) -> tuple[Node]:  # the transpose: add patches back
    return (patches_to_image(g, n.inputs[0], **_with_zero_pad(n.attrs)),)


def _extract_patches_jvp(tangents: tuple, n: Node) -> Node | None:
    # affine when pad_value != 0: tangents pad with zeros
    t = tangents[0]
    return None if t is None else extract_patches(t, **_with_zero_pad(n.attrs))


extract_patches = defop(
    "extract_patches",
    "ExtractImagePatches",
    Fusion.OPAQUE,
    infer=_patches_infer,
    numpy=_extract_numpy,
    vjp=_extract_patches_vjp,
    jvp=_extract_patches_jvp,
)


def _patches_to_image_vjp(g: Node, n: Node) -> tuple[Node, None]:  # the transpose: extract
    return (extract_patches(g, **_with_zero_pad(n.attrs)), None)


patches_to_image = defop(
    "patches_to_image",
    "PatchesToImage",
    Fusion.OPAQUE,
    infer=lambda p, like, **attrs: TensorType(like.shape, p.dtype),
    numpy=_to_image_numpy,
    vjp=_patches_to_image_vjp,
    linear=(0,),
)


def _in_top_k_numpy(predictions: np.ndarray, targets: np.ndarray, *, k: int) -> np.ndarray:
    """TF's rule: a target out of [0, classes) is not in the top k (never an error)."""
    valid = (targets >= 0) & (targets < predictions.shape[1])
    target = predictions[np.arange(len(targets)), np.where(valid, targets, 0)]
    above = (predictions > target[:, None]).sum(axis=1)
    return (above < k) & np.isfinite(target) & valid


def _in_top_k_infer(p: TensorType, t: TensorType, *, k: int) -> TensorType:
    if not t.dtype.is_integer:
        raise DTypeError(f"in_top_k targets must be integers, got {t.dtype.name}")
    return TensorType(None if p.shape is None else p.shape[:1], bool_)


in_top_k_op = defop(
    "in_top_k",
    "InTopKV2",
    Fusion.OPAQUE,
    infer=_in_top_k_infer,
    numpy=_in_top_k_numpy,
    differentiable=False,
)
