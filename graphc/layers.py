"""`graphc.layers`: TF1's functional layers (`tf.layers.dense`, `conv2d`, pooling, `dropout`,
`flatten`, `batch_normalization`).

Each layer opens a variable scope named after it (`dense`, then `dense_1`, ... unless
`name` is given; `reuse` as TF1), so its variables are `dense/kernel` and `dense/bias`
(`conv2d/kernel`, `batch_normalization/gamma`, ...) and its ops `dense/MatMul`,
`dense/BiasAdd`, as in TF1. Kernels default to Glorot-uniform initial values and biases
to zeros (TF1's defaults). `training` may be a Python bool or a bool tensor; with a
tensor, `dropout` is a `tf.cond` (it draws only while training, as TF1's smart_cond
makes it), and `batch_normalization` computes the batch's moments and selects them. It adds
its moving-average updates to `tf.GraphKeys.UPDATE_OPS`, which the caller runs with the
train op, as in TF1. It normalizes with the biased batch variance and updates the moving
variance with it too (TF1's non-fused kernel; TF1's fused one, its default for 4-D
inputs, updates with the unbiased variance).
"""

from __future__ import annotations

import math
from typing import Any

from graphc import nn
from graphc.compat import missing_names
from graphc.errors import InvalidArgumentError, ShapeError
from graphc.graph import GraphKeys, add_to_collection
from graphc.initializers import Ones, Zeros
from graphc.ir import Node
from graphc.ops import convert
from graphc.ops.control import cond
from graphc.ops.elementwise import where
from graphc.ops.linalg import matmul, tensordot
from graphc.ops.shape import reshape
from graphc.variable_scope import get_variable, variable_scope

__all__ = [
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "max_pooling2d",
]


def dense(
    inputs: Any,
    units: int,
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    kernel_regularizer: Any = None,
    bias_regularizer: Any = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
    **_: Any,
) -> Node:
    """activation(inputs @ kernel + bias) over the last axis of `inputs`."""
    x = convert(inputs)
    if x.type.shape is None or x.type.shape[-1] is None:
        raise ShapeError(f"dense: the last axis of the inputs must be known, got {x.shape}")
    with variable_scope(name, default_name="dense", reuse=reuse):
        kernel = get_variable(
            "kernel",
            [x.type.shape[-1], units],
            x.dtype,
            kernel_initializer,
            kernel_regularizer,
            trainable,
        )
        rank = len(x.type.shape)
        out = matmul(x, kernel) if rank == 2 else tensordot(x, kernel, [[rank - 1], [0]])
        return _bias_and_activation(
            out, use_bias, bias_initializer, bias_regularizer, trainable, activation
        )


def conv2d(
    inputs: Any,
    filters: int,
    kernel_size: Any,
    strides: Any = (1, 1),
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: Any = (1, 1),
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    kernel_regularizer: Any = None,
    bias_regularizer: Any = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
    **_: Any,
) -> Node:
    """A 2-D convolution layer on NHWC inputs: kernel (kh, kw, in, filters), then bias."""
    _channels_last(data_format, "conv2d")
    x = convert(inputs)
    if x.type.shape is None or len(x.type.shape) != 4 or x.type.shape[-1] is None:
        raise ShapeError(f"conv2d: inputs must be NHWC with known channels, got {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    with variable_scope(name, default_name="conv2d", reuse=reuse):
        kernel = get_variable(
            "kernel",
            [kh, kw, x.type.shape[-1], filters],
            x.dtype,
            kernel_initializer,
            kernel_regularizer,
            trainable,
        )
        out = nn.conv2d(
            x,
            kernel,
            [1, *_pair(strides, "strides"), 1],
            _padding(padding),
            dilations=[1, *_pair(dilation_rate, "dilation_rate"), 1],
        )
        return _bias_and_activation(
            out, use_bias, bias_initializer, bias_regularizer, trainable, activation
        )


def _pooling(op: Any, layer: str, what: str) -> Any:
    def pooling(
        inputs: Any,
        pool_size: Any,
        strides: Any,
        padding: str = "valid",
        data_format: str = "channels_last",
        name: str | None = None,
    ) -> Node:
        _channels_last(data_format, layer)
        with variable_scope(name, default_name=layer):
            window = [1, *_pair(pool_size, "pool_size"), 1]
            strides = [1, *_pair(strides, "strides"), 1]
            return op(convert(inputs), window, strides, _padding(padding))

    pooling.__name__ = layer
    pooling.__doc__ = f"{what} under the name scope `{layer}` (TF1's tf.layers.{layer})."
    return pooling


max_pooling2d = _pooling(nn.max_pool, "max_pooling2d", "The maximum of each window")
average_pooling2d = _pooling(
    nn.avg_pool, "average_pooling2d", "The mean of each window's real elements"
)


def dropout(
    inputs: Any,
    rate: Any = 0.5,
    noise_shape: Any = None,
    seed: int | None = None,
    training: Any = False,
    name: str | None = None,
) -> Node:
    """Drops elements with probability `rate` while `training` (scaling the rest by
    1 / (1 - rate)); the inputs unchanged otherwise."""
    with variable_scope(name, default_name="dropout"):
        x = convert(inputs)
        if training is False:
            return x

        def dropped() -> Node:
            return nn.dropout(x, rate=rate, noise_shape=noise_shape, seed=seed)

        if training is True:
            return dropped()
        return cond(convert(training), dropped, lambda: x)  # draws only while training


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> Node:
    """The inputs as (batch, everything else), in C order (TF1's channels_last)."""
    _channels_last(data_format, "flatten")
    x = convert(inputs)
    rest = x.type.shape[1:] if x.type.shape is not None else None
    if rest is None or None in rest:
        raise ShapeError(f"flatten: all axes but the first must be known, got {x.shape}")
    with variable_scope(name, default_name="flatten"):
        return reshape(x, [-1, math.prod(rest)])


def batch_normalization(
    inputs: Any,
    axis: int = -1,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    center: bool = True,
    scale: bool = True,
    beta_initializer: Any = None,
    gamma_initializer: Any = None,
    moving_mean_initializer: Any = None,
    moving_variance_initializer: Any = None,
    beta_regularizer: Any = None,
    gamma_regularizer: Any = None,
    training: Any = False,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
    **_: Any,
) -> Node:
    """(x - mean) / sqrt(variance + epsilon) * gamma + beta over every axis but `axis`:
    the batch's moments while training (and the moving averages updated through
    UPDATE_OPS: moving -= (moving - batch) * (1 - momentum)), the moving ones otherwise."""
    x = convert(inputs)
    if x.type.shape is None:
        raise ShapeError("batch_normalization: the inputs' rank must be known")
    rank = len(x.type.shape)
    channel = axis % rank
    depth = x.type.shape[channel]
    if depth is None:
        raise ShapeError(f"batch_normalization: axis {axis} of {x.shape} must be known")
    with variable_scope(name, default_name="batch_normalization", reuse=reuse):
        params = [depth], x.dtype
        gamma = (
            get_variable(
                "gamma", *params, gamma_initializer or Ones(), gamma_regularizer, trainable
            )
            if scale
            else None
        )
        beta = (
            get_variable("beta", *params, beta_initializer or Zeros(), beta_regularizer, trainable)
            if center
            else None
        )
        moving_mean = get_variable(
            "moving_mean", *params, moving_mean_initializer or Zeros(), trainable=False
        )
        moving_variance = get_variable(
            "moving_variance", *params, moving_variance_initializer or Ones(), trainable=False
        )
        moving = (moving_mean, moving_variance)
        if training is False:
            return nn.batch_normalization(x, *moving, beta, gamma, epsilon)
        mean, variance = nn.moments(x, [k for k in range(rank) if k != channel])
        if training is not True:  # a tensor: both, then one
            flag = convert(training)
            mean, variance = where(flag, mean, moving_mean), where(flag, variance, moving_variance)
        decay = convert(1.0 - momentum, x.dtype)
        for var, value in zip(moving, (mean, variance), strict=True):
            add_to_collection(GraphKeys.UPDATE_OPS, var.assign_sub((var - value) * decay))
        return nn.batch_normalization(x, mean, variance, beta, gamma, epsilon)


def _bias_and_activation(
    out: Node, use_bias: bool, initializer: Any, regularizer: Any, trainable: bool, activation: Any
) -> Node:
    """`out` plus a `bias` variable of one value per output channel (when `use_bias`;
    zeros unless `initializer` says otherwise), then `activation`: a layer's tail."""
    if use_bias:
        channels = [out.type.shape[-1]]
        bias = get_variable(
            "bias", channels, out.dtype, initializer or Zeros(), regularizer, trainable
        )
        out = nn.bias_add(out, bias)
    return activation(out) if activation is not None else out


def _pair(value: Any, what: str) -> tuple[int, int]:
    """An int or a pair of ints, as TF1's layers take sizes."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise InvalidArgumentError(f"{what} must be a positive int or two of them, got {value!r}")
    return pair


def _padding(padding: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise InvalidArgumentError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding.upper()


def _channels_last(data_format: str, layer: str) -> None:
    if data_format != "channels_last":
        raise NotImplementedError(f"{layer}: only data_format='channels_last' is supported")


__getattr__ = missing_names(__name__, "tf.layers")  # a TF1 name graphc lacks says so
