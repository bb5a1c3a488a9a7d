"""`graphc.nn`: activations, softmax and cross-entropies, dropout, conv2d and pooling.

Everything here is a composition of primitive ops (so gradients come from
the primitives), except the pools: `max_pool` and `avg_pool` build TF1's
MaxPool and AvgPool ops (graphc.ops.pool), whose gradients are ops of their
own, as TF1's are (a window's gradient goes to its first maximum).
Softmax, log-softmax and the cross-entropies subtract the row maximum first,
so large logits give finite losses and gradients.
"""

from __future__ import annotations

from typing import Any

from graphc.compat import missing_names
from graphc.errors import InvalidArgumentError, ShapeError, UnimplementedError
from graphc.graph import get_default_graph
from graphc.ir import Node
from graphc.ops import checking, convert, convert_operands, pool
from graphc.ops.conv import conv2d as conv2d_op
from graphc.ops.conv import in_top_k_op
from graphc.ops.elementwise import (
    add,
    divide,
    exp,
    expm1,
    floor,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    negative,
    relu,
    rsqrt,
    sigmoid,
    square,
    stop_gradient,
    subtract,
    tanh,
    where,
)
from graphc.ops.index import check_labels, gather, one_hot
from graphc.ops.random import random_uniform
from graphc.ops.reduce import reduce_max, reduce_mean, reduce_sum
from graphc.ops.reshape import squeeze
from graphc.ops.shape import reshape, shape
from graphc.types import as_dims, as_int, check_compatible, normalize_axis

__all__ = [
    "avg_pool",
    "batch_normalization",
    "bias_add",
    "conv2d",
    "dropout",
    "elu",
    "embedding_lookup",
    "in_top_k",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_softmax",
    "max_pool",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "softplus",
    "sparse_softmax_cross_entropy_with_logits",
    "tanh",
]


def relu6(features: Any, name: str | None = None) -> Node:
    """min(max(x, 0), 6)."""
    return minimum(relu(features), 6, name=name or "Relu6")


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Node:
    """x where x > 0, else alpha * x."""
    x = convert(features)
    return where(x > 0, x, x * alpha, name=name or "LeakyRelu")


def elu(features: Any, name: str | None = None) -> Node:
    """x where x > 0, else exp(x) - 1 (exp of the clamped value, so no overflow)."""
    x = convert(features)
    return where(x > 0, x, expm1(minimum(x, 0)), name=name or "Elu")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features: Any, name: str | None = None) -> Node:
    """scale * (x where x > 0, else alpha * (exp(x) - 1)) (Klambauer et al.)."""
    x = convert(features)
    negative = _SELU_ALPHA * expm1(minimum(x, 0))
    return multiply(where(x > 0, x, negative), _SELU_SCALE, name=name or "Selu")


def softplus(features: Any, name: str | None = None) -> Node:
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so it never overflows.

    -|x| is written min(x, -x): its derivative at 0 is then 1 (minimum's tie goes to
    x), so softplus'(0) = 0 + 1/2 = sigmoid(0); abs's sign(0) = 0 would give 0.
    """
    x = convert(features)
    return add(relu(x), log1p(exp(minimum(x, -x))), name=name or "Softplus")


def bias_add(value: Any, bias: Any, name: str | None = None) -> Node:
    """value + bias, with bias a vector matching value's last axis."""
    with checking("BiasAdd", name):
        value, bias = convert_operands(value, bias, op_name="BiasAdd")
        if bias.type.rank != 1:
            raise ShapeError(f"bias must be 1-D, got shape {list(bias.shape or [])}")
    return add(value, bias, name=name or "BiasAdd")


def log_softmax(logits: Any, axis: int = -1, name: str | None = None) -> Node:
    """logits - logsumexp(logits), shifted by the (constant) max for stability."""
    x = _logits(logits, axis, "LogSoftmax", name)
    shifted = x - stop_gradient(reduce_max(x, axis, keepdims=True))
    return subtract(
        shifted, log(reduce_sum(exp(shifted), axis, keepdims=True)), name=name or "LogSoftmax"
    )


def _logits(logits: Any, axis: Any, type_name: str, name: str | None) -> Node:
    """The logits as a tensor, once `axis` is checked against their rank."""
    with checking(type_name, name):
        x = convert(logits)
        normalize_axis(axis, x.type.rank)
    return x


def softmax(logits: Any, axis: int = -1, name: str | None = None) -> Node:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the max for stability."""
    x = _logits(logits, axis, "Softmax", name)
    e = exp(x - stop_gradient(reduce_max(x, axis, keepdims=True)))
    return divide(e, reduce_sum(e, axis, keepdims=True), name=name or "Softmax")


def softmax_cross_entropy_with_logits(
    labels: Any = None,
    logits: Any = None,
    axis: int = -1,
    name: str | None = None,
    dim: int | None = None,
) -> Node:
    """-sum(labels * log_softmax(logits)) along `axis`, one value per row."""
    with checking("SoftmaxCrossEntropyWithLogits", name):
        labels, logits = convert_operands(labels, logits, op_name="SoftmaxCrossEntropyWithLogits")
        axis = axis if dim is None else dim
        normalize_axis(axis, logits.type.rank)
        check_compatible(labels.type.shape, logits.type.shape, "labels and logits")
    xent = reduce_sum(labels * log_softmax(logits, axis), axis)
    return negative(xent, name=name or "softmax_cross_entropy_with_logits")


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(
    labels: Any = None, logits: Any = None, name: str | None = None
) -> Node:
    """Cross-entropy of integer class `labels` against `logits` (last axis: classes)."""
    with checking("SparseSoftmaxCrossEntropyWithLogits", name):
        logits, labels = convert(logits), convert(labels)
        depth = logits.type.shape[-1] if logits.type.shape else None
        if depth is None:
            raise ShapeError("logits need a static number of classes (last axis)")
        labels = check_labels(labels, logits)  # (its infer checks labels' dtype and shape)
    picked = one_hot(labels, depth, dtype=logits.dtype) * log_softmax(logits)
    type_name = "SparseSoftmaxCrossEntropyWithLogits"
    with get_default_graph().name_scope(name or type_name):  # TF1: the op inside its scope
        return negative(reduce_sum(picked, -1), name=name or type_name)


def sigmoid_cross_entropy_with_logits(
    labels: Any = None, logits: Any = None, name: str | None = None
) -> Node:
    """Elementwise logistic loss, as max(x, 0) - x * z + log1p(exp(-|x|)) (never overflows)."""
    with checking("SigmoidCrossEntropyWithLogits", name):
        labels, logits = convert_operands(labels, logits, op_name="SigmoidCrossEntropyWithLogits")
        check_compatible(labels.type.shape, logits.type.shape, "labels and logits")
    x, z = logits, labels
    loss = log1p(exp(minimum(x, -x)))  # see softplus
    return add(relu(x) - x * z, loss, name=name or "logistic_loss")


def l2_loss(t: Any, name: str | None = None) -> Node:
    """sum(t ** 2) / 2."""
    return multiply(reduce_sum(square(t)), 0.5, name=name or "L2Loss")


def l2_normalize(
    x: Any,
    axis: Any = None,
    epsilon: float = 1e-12,
    name: str | None = None,
    dim: Any = None,
) -> Node:
    """x / sqrt(max(sum(x ** 2, axis), epsilon)), as TF1 (`dim` is the old name of `axis`)."""
    with get_default_graph().name_scope(name or "l2_normalize"):
        x = convert(x)
        square_sum = reduce_sum(square(x), axis if dim is None else dim, keepdims=True)
        return x * rsqrt(maximum(square_sum, convert(epsilon, x.dtype)))


def moments(
    x: Any,
    axes: Any,
    shift: Any = None,
    name: str | None = None,
    keep_dims: bool | None = None,
    keepdims: bool | None = None,
) -> tuple[Node, Node]:
    """(mean, variance) of `x` over `axes`, as TF1 computes them: the variance is the mean
    squared difference from a mean the gradient does not flow through twice."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with get_default_graph().name_scope(name or "moments"):
        x = convert(x)
        mean = reduce_mean(x, axes, keepdims=True, name="mean")
        variance = reduce_mean(
            square(x - stop_gradient(mean)), axes, keepdims=True, name="variance"
        )
        if keep:
            return mean, variance
        return squeeze(mean, axes), squeeze(variance, axes)


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    offset: Any,
    scale: Any,
    variance_epsilon: float,
    name: str | None = None,
) -> Node:
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, written as TF1 does:
    x * inv + (offset - mean * inv), inv = scale * rsqrt(variance + epsilon); `offset`
    and `scale` may be None."""
    with get_default_graph().name_scope(name or "batchnorm"):
        x = convert(x)
        inv = rsqrt(convert(variance, x.dtype) + convert(variance_epsilon, x.dtype))
        if scale is not None:
            inv = inv * convert(scale, x.dtype)
        shift = -convert(mean, x.dtype) * inv
        if offset is not None:
            shift = convert(offset, x.dtype) + shift
        return x * inv + shift


def embedding_lookup(
    params: Any, ids: Any, partition_strategy: str = "mod", name: str | None = None, **_: Any
) -> Node:
    """The rows of `params` at `ids` (TF1's gather). A list of several shards (TF1's
    partitioned variables) is not supported: pass one tensor, or a list of one."""
    if isinstance(params, list | tuple):
        if len(params) != 1:
            raise NotImplementedError(
                "embedding_lookup over several partitions is not supported: concatenate them"
            )
        params = params[0]
    return gather(params, ids, name=name or "embedding_lookup")


def dropout(
    x: Any,
    keep_prob: Any = None,
    noise_shape: Any = None,
    seed: int | None = None,
    name: str | None = None,
    rate: Any = None,
) -> Node:
    """Zeroes elements with probability `rate` (= 1 - keep_prob), scaling the rest by 1/keep."""
    x = convert(x)
    if (keep_prob is None) == (rate is None):
        raise InvalidArgumentError("dropout needs exactly one of keep_prob and rate")
    with checking("Dropout", name):
        _check_rate(keep_prob, rate)
    keep = convert(1 - rate if keep_prob is None else keep_prob, x.dtype)
    if keep.type.shape is None:  # e.g. a placeholder fed the keep probability: a scalar
        keep = reshape(keep, [])  # (as TF1 requires; checked when it runs)
    elif keep.type.shape != ():
        with checking("Dropout", name):
            raise ShapeError(f"keep_prob must be a scalar, got shape {keep.type.shape}")
    noise = shape(x) if noise_shape is None else noise_shape
    kept = floor(keep + random_uniform(noise, dtype=x.dtype, seed=seed))
    return multiply(x / keep, kept, name=name)


def _check_rate(keep_prob: Any, rate: Any) -> None:
    """A Python `rate` must be in [0, 1) and `keep_prob` in (0, 1], as TF checks them."""
    if rate is not None and not isinstance(rate, Node) and not 0 <= rate < 1:
        raise InvalidArgumentError(f"rate must be in [0, 1), got rate {rate!r}")
    if keep_prob is not None and not isinstance(keep_prob, Node) and not 0 < keep_prob <= 1:
        raise InvalidArgumentError(f"keep_prob must be in (0, 1], got keep_prob {keep_prob!r}")


def _window(value: Any, name: str, default: int) -> tuple[int, int]:
    """A window or stride: an int, [h, w] or [1, h, w, 1], each at least 1."""
    v = list(as_dims(value, name, lowest=1))
    v = v * 2 if len(v) == 1 else v
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise ShapeError(
                f"{name} {v} moves over the batch or channel axis: "
                f"{name}[0] and {name}[3] must be 1 (NHWC)"
            )
        v = v[1:3]
    if len(v) != 2:
        raise ShapeError(f"{name} must be an int, [h, w] or [1, h, w, 1], got {value}")
    return int(v[0]), int(v[1])


def _padding(padding: Any) -> str:
    """TF's padding: "SAME" or "VALID" (either case)."""
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise InvalidArgumentError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()


def conv2d(
    input: Any,
    filters: Any = None,
    strides: Any = 1,
    padding: str = "VALID",
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
    filter: Any = None,
    use_cudnn_on_gpu: bool = True,
) -> Node:
    """2-D convolution (cross-correlation, as TF): NHWC input, HWIO filters."""
    with checking("Conv2D", name):
        return _conv2d(
            input,
            filters if filters is not None else filter,
            strides,
            padding,
            data_format,
            dilations,
            name,
        )


def _conv2d(
    input: Any,
    filters: Any,
    strides: Any,
    padding: Any,
    data_format: str,
    dilations: Any,
    name: str | None,
) -> Node:
    if data_format != "NHWC":
        raise UnimplementedError(f"data_format {data_format!r} is not supported (only 'NHWC')")
    if dilations is not None and _window(dilations, "dilations", 1) != (1, 1):
        raise UnimplementedError(f"dilations other than 1 are not supported, got {dilations}")
    x, w = convert_operands(input, filters, op_name="Conv2D")
    return conv2d_op(
        x,
        w,
        strides=_window(strides, "strides", 1),
        padding=_padding(padding),
        name=name or "Conv2D",
    )


def max_pool(
    value: Any,
    ksize: Any,
    strides: Any,
    padding: str,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Node:
    """Maximum over each window (padding never wins). Its gradient goes to each window's
    first maximum in row-major order, as TF1's MaxPoolGrad (graphc.ops.pool)."""
    with checking("MaxPool", name):
        x, window = _pool_args("MaxPool", value, ksize, strides, padding, data_format)
    return pool.max_pool(x, **window, name=name or "MaxPool")


def avg_pool(
    value: Any,
    ksize: Any,
    strides: Any,
    padding: str,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Node:
    """Mean over each window, counting only real (unpadded) elements, as TF does."""
    with checking("AvgPool", name):
        x, window = _pool_args("AvgPool", value, ksize, strides, padding, data_format)
    return pool.avg_pool(x, **window, name=name or "AvgPool")


def _pool_args(
    type_name: str, value: Any, ksize: Any, strides: Any, padding: Any, data_format: str
) -> tuple[Node, dict]:
    """A pooling op's input and window attrs; TF1's checks of ksize, strides and padding."""
    if data_format != "NHWC":
        raise NotImplementedError(
            f"{type_name}: data_format {data_format!r}, only 'NHWC' is supported"
        )
    window = {
        "ksize": _window(ksize, "ksize", 1),
        "strides": _window(strides, "strides", 1),
        "padding": _padding(padding),
    }
    return convert(value), window


def in_top_k(predictions: Any, targets: Any, k: int, name: str | None = None) -> Node:
    """True where the target class is among the k largest predictions (ties count as in)."""
    with checking("InTopKV2", name):
        k = as_int(k, "k")
    return in_top_k_op(convert(predictions), convert(targets), k=k, name=name)


__getattr__ = missing_names(__name__, "tf.nn")  # a TF1 name graphc lacks says so
