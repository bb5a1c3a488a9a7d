"""Convolutions (NHWC input, HWIO filters) and their two gradients; image patches and
their transpose; the window geometry they share with pooling (graphc.ops.pool); and
`in_top_k`.

`extract_patches(x)` has shape (N, OH, OW, KH, KW, C), TF's SAME/VALID
padding with `pad_value` in the border; `patches_to_image` adds patches back
into an image of the input's shape (it is extract_patches' transpose, so each
is the other's gradient and second derivatives exist).

`conv2d(x, w)` is TF's Conv2D: the patches of `x` times the filters
(`nhwijc,ijco->nhwo`). Its gradients are TF's two ops:
`conv2d_backprop_input(w, dy, like)` (the patches of `dy @ w.T` added back
into an image shaped like `like`) and `conv2d_backprop_filter(x, dy)` (the
patches of `x`, transposed, times `dy`). The three are bilinear, and each one's
vjp is made of the other two, as in TF, so any derivative order exists. They
are ops of their own, not compositions, so a backend computes them without
materializing the patches tensor (the CPU one works through tiles of images).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError, ShapeError
from graphc.ir import Node
from graphc.ops import Fusion, defop
from graphc.ops.dims import Equal, same_dims
from graphc.types import TensorType, as_dims, bool_, check_compatible


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


def _filter_window(w: TensorType, what: str) -> tuple[int, int, int, int]:
    if w.shape is None or len(w.shape) != 4 or None in w.shape:
        raise ShapeError(f"{what} filters must have a static HWIO shape, got {w}")
    return w.shape  # type: ignore[return-value]


def _check_float(op: str, *xs: TensorType) -> None:
    for x in xs:
        if not x.dtype.is_floating:
            raise DTypeError(f"{op} takes floating tensors, got {x.dtype.name}")


def _conv2d_infer(x: TensorType, w: TensorType, *, strides: tuple, padding: str) -> TensorType:
    kh, kw, cin, cout = _filter_window(w, "Conv2D")
    _check_float("Conv2D", x, w)
    if x.dtype != w.dtype:
        raise DTypeError(f"Conv2D input is {x.dtype.name} but its filters are {w.dtype.name}")
    n, oh, ow, c = window_shape(x, (kh, kw), strides, padding)
    if c not in (None, cin):
        raise ShapeError(f"Conv2D input {x} has {c} channels, its filters {w} take {cin}")
    return TensorType((n, oh, ow, cout), x.dtype)


def _conv2d_numpy(x: np.ndarray, w: np.ndarray, *, strides: tuple, padding: str) -> np.ndarray:
    patches = _extract_numpy(x, ksize=w.shape[:2], strides=strides, padding=padding, pad_value=0)
    return np.tensordot(patches, w, axes=3).astype(x.dtype, copy=False)


def _backprop_input_infer(
    w: TensorType, dy: TensorType, like: TensorType, *, strides: tuple, padding: str
) -> TensorType:
    kh, kw, cin, cout = _filter_window(w, "Conv2DBackpropInput")
    _check_float("Conv2DBackpropInput", w, dy)
    n, oh, ow, _ = window_shape(like, (kh, kw), strides, padding)
    check_compatible(dy.shape, (n, oh, ow, cout), "the output gradient")
    check_compatible(like.shape, (n, None, None, cin), "the input")
    return TensorType(like.shape, dy.dtype)


def _backprop_input_numpy(
    w: np.ndarray, dy: np.ndarray, like: np.ndarray, *, strides: tuple, padding: str
) -> np.ndarray:
    patches = np.tensordot(dy, w, axes=([3], [3]))  # (N, OH, OW, KH, KW, C)
    attrs = {"ksize": w.shape[:2], "strides": strides, "padding": padding, "pad_value": 0}
    return _to_image_numpy(patches, like, **attrs).astype(dy.dtype, copy=False)


def _backprop_filter_infer(
    x: TensorType, dy: TensorType, *, filter_shape: tuple, strides: tuple, padding: str
) -> TensorType:
    kh, kw, cin, cout = filter_shape
    _check_float("Conv2DBackpropFilter", x, dy)
    n, oh, ow, _ = window_shape(x, (kh, kw), strides, padding)
    check_compatible(dy.shape, (n, oh, ow, cout), "the output gradient")
    check_compatible(x.shape, (n, None, None, cin), "the input")
    return TensorType(tuple(filter_shape), x.dtype)


def _backprop_filter_numpy(
    x: np.ndarray, dy: np.ndarray, *, filter_shape: tuple, strides: tuple, padding: str
) -> np.ndarray:
    ksize = tuple(filter_shape[:2])
    patches = _extract_numpy(x, ksize=ksize, strides=strides, padding=padding, pad_value=0)
    out = np.tensordot(patches, dy, axes=([0, 1, 2], [0, 1, 2]))  # (KH, KW, C, O)
    return out.astype(x.dtype, copy=False)


def _window_attrs(n: Node) -> dict:
    return {"strides": n.attrs["strides"], "padding": n.attrs["padding"]}


def _filter_grad(x: Node, dy: Node, like_w: Node, attrs: dict) -> Node:
    return conv2d_backprop_filter(x, dy, filter_shape=tuple(like_w.type.shape), **attrs)


def _conv2d_vjp(g: Node, n: Node) -> tuple[Node, Node]:
    x, w = n.inputs
    a = _window_attrs(n)
    return conv2d_backprop_input(w, g, x, **a), _filter_grad(x, g, w, a)


def _conv2d_jvp(tangents: tuple, n: Node) -> Node | None:
    (x, w), (tx, tw) = n.inputs, tangents
    return _sum_terms(
        None if tx is None else conv2d(tx, w, **n.attrs),
        None if tw is None else conv2d(x, tw, **n.attrs),
    )


def _backprop_input_vjp(g: Node, n: Node) -> tuple[Node, Node, None]:
    # <g, bi(w, dy)> = <conv2d(g, w), dy>
    w, dy, _ = n.inputs
    a = _window_attrs(n)
    return _filter_grad(g, dy, w, a), conv2d(g, w, **a), None


def _backprop_input_jvp(tangents: tuple, n: Node) -> Node | None:
    (w, dy, like), (tw, tdy, _) = n.inputs, tangents
    return _sum_terms(
        None if tw is None else conv2d_backprop_input(tw, dy, like, **n.attrs),
        None if tdy is None else conv2d_backprop_input(w, tdy, like, **n.attrs),
    )


def _backprop_filter_vjp(g: Node, n: Node) -> tuple[Node, Node]:
    # <g, bf(x, dy)> = <conv2d(x, g), dy>
    x, dy = n.inputs
    a = _window_attrs(n)
    return conv2d_backprop_input(g, dy, x, **a), conv2d(x, g, **a)


def _backprop_filter_jvp(tangents: tuple, n: Node) -> Node | None:
    (x, dy), (tx, tdy) = n.inputs, tangents
    return _sum_terms(
        None if tx is None else conv2d_backprop_filter(tx, dy, **n.attrs),
        None if tdy is None else conv2d_backprop_filter(x, tdy, **n.attrs),
    )


def _sum_terms(*terms: Node | None) -> Node | None:
    """The sum of the terms of a bilinear op's jvp that are not None."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else present[0] + present[1]


def _conv_assumes(x: Node, dy: Node | None, filter_shape: tuple, attrs: Any) -> list[Equal]:
    """What a convolution of x by filters of `filter_shape` assumes of unknown sizes: x
    has the filters' input channels and, when `dy` is an output gradient, dy has x's
    batch, the window counts where x's spatial sizes are known, and the output channels."""
    kh, kw, cin, cout = filter_shape
    out = [Equal((x, 3), cin)] if x.type.shape[3] is None else []
    if dy is None:
        return out
    out += same_dims([((dy, 0), (x, 0))])
    _, oh, ow, _ = window_shape(x.type, (kh, kw), attrs["strides"], attrs["padding"])
    return out + [
        Equal((dy, k), d)
        for k, d in ((1, oh), (2, ow), (3, cout))
        if d is not None and dy.type.shape[k] is None
    ]


conv2d = defop(
    "conv2d",
    "Conv2D",
    Fusion.OPAQUE,
    infer=_conv2d_infer,
    numpy=_conv2d_numpy,
    vjp=_conv2d_vjp,
    jvp=_conv2d_jvp,
    assumes=lambda n: _conv_assumes(n.inputs[0], None, n.inputs[1].type.shape, n.attrs),
    product=True,
)
conv2d_backprop_input = defop(
    "conv2d_backprop_input",
    "Conv2DBackpropInput",
    Fusion.OPAQUE,
    infer=_backprop_input_infer,
    numpy=_backprop_input_numpy,
    vjp=_backprop_input_vjp,
    jvp=_backprop_input_jvp,
    assumes=lambda n: _conv_assumes(n.inputs[2], n.inputs[1], n.inputs[0].type.shape, n.attrs),
    product=True,
)
conv2d_backprop_filter = defop(
    "conv2d_backprop_filter",
    "Conv2DBackpropFilter",
    Fusion.OPAQUE,
    infer=_backprop_filter_infer,
    numpy=_backprop_filter_numpy,
    vjp=_backprop_filter_vjp,
    jvp=_backprop_filter_jvp,
    assumes=lambda n: _conv_assumes(*n.inputs, n.attrs["filter_shape"], n.attrs),
    product=True,
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
