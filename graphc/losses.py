"""`graphc.losses`: TF1's losses, weighted and reduced as `tf.losses` does.

Every loss computes per-element losses, multiplies them by `weights` (broadcast to
their shape) and reduces them by `reduction`; TF1's default,
`Reduction.SUM_BY_NONZERO_WEIGHTS`, divides the weighted sum by the number of
elements whose weight is not zero (0 when all are zero), so with the default
weights of 1 a loss is the mean over every element.
"""

from __future__ import annotations

from typing import Any

from graphc.compat import missing_names
from graphc.errors import ShapeError
from graphc.graph import get_default_graph
from graphc.ir import Node
from graphc.nn import softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits
from graphc.ops import checking, convert, convert_operands
from graphc.ops.elementwise import abs, cast, div_no_nan, minimum, not_equal, ones_like, square
from graphc.ops.reduce import reduce_mean, reduce_sum
from graphc.types import check_compatible


class Reduction:
    """TF1's `tf.losses.Reduction` names."""

    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)


def compute_weighted_loss(
    losses: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
    **_: Any,
) -> Node:
    """`losses * weights` reduced by `reduction` (TF1's rules, see the module docstring)."""
    if reduction not in Reduction.all():
        raise ValueError(f"reduction must be one of {Reduction.all()}, got {reduction!r}")
    with get_default_graph().name_scope(scope or "weighted_loss"):  # TF1: `<loss>/value`
        losses = convert(losses)
        if _plain(weights, reduction):  # the mean over every element, as one reduction
            return reduce_mean(losses, name="value")
        weights = convert(weights, losses.dtype)
        weighted = losses * weights
        if reduction == Reduction.NONE:
            return weighted
        if reduction == Reduction.SUM:
            return reduce_sum(weighted, name="value")
        total = reduce_sum(weighted)
        if reduction == Reduction.MEAN:
            count = reduce_sum(weights * ones_like(losses))
        elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
            count = reduce_sum(ones_like(losses))
        else:
            count = reduce_sum(cast(not_equal(weights * ones_like(losses), 0.0), losses.dtype))
        return div_no_nan(total, count, name="value")


def _pair(labels: Any, predictions: Any, op: str) -> tuple[Node, Node]:
    with checking(op):
        labels, predictions = convert_operands(labels, predictions, op_name=op)
        check_compatible(labels.type.shape, predictions.type.shape, "labels and predictions")
    return labels, predictions


def _pointwise(loss: Any, default: str, op: str, what: str) -> Any:
    def pointwise(
        labels: Any,
        predictions: Any,
        weights: Any = 1.0,
        scope: str | None = None,
        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
        **_: Any,
    ) -> Node:
        labels, predictions = _pair(labels, predictions, op)
        with get_default_graph().name_scope(scope or default) as inside:
            return compute_weighted_loss(loss(labels, predictions), weights, inside, reduction)

    pointwise.__name__ = default
    pointwise.__doc__ = f"{what}, weighted and reduced (the mean by default)."
    return pointwise


mean_squared_error = _pointwise(
    lambda y, p: square(y - p),
    "mean_squared_error",
    "MeanSquaredError",
    "(labels - predictions) ** 2",
)
absolute_difference = _pointwise(
    lambda y, p: abs(p - y), "absolute_difference", "AbsoluteDifference", "|labels - predictions|"
)


def huber_loss(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    delta: float = 1.0,
    scope: str | None = None,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
    **_: Any,
) -> Node:
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta), for e = predictions -
    labels, written as TF1 does: 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta)."""
    labels, predictions = _pair(labels, predictions, "HuberLoss")
    with get_default_graph().name_scope(scope or "huber_loss") as inside:
        error = abs(predictions - labels)
        quadratic = minimum(error, convert(delta, error.dtype))
        losses = 0.5 * square(quadratic) + delta * (error - quadratic)
        return compute_weighted_loss(losses, weights, inside, reduction)


def sparse_softmax_cross_entropy(
    labels: Any,
    logits: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
    **_: Any,
) -> Node:
    """Mean over the batch of the sparse softmax cross-entropy (weighted as the others)."""
    with get_default_graph().name_scope(scope or "sparse_softmax_cross_entropy_loss") as inside:
        xent = sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(xent, weights, inside, reduction)


def softmax_cross_entropy(
    onehot_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0.0,
    scope: str | None = None,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
    **_: Any,
) -> Node:
    """Mean over the batch of the softmax cross-entropy against one-hot labels, smoothed
    as TF1 does when `label_smoothing` > 0: labels * (1 - s) + s / classes."""
    with get_default_graph().name_scope(scope or "softmax_cross_entropy_loss") as inside:
        labels, logits = convert_operands(onehot_labels, logits, op_name="softmax_cross_entropy")
        if label_smoothing:
            classes = logits.type.shape[-1] if logits.type.shape else None
            if classes is None:
                raise ShapeError("label_smoothing needs a static number of classes (last axis)")
            labels = labels * (1.0 - label_smoothing) + label_smoothing / classes
        xent = softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return compute_weighted_loss(xent, weights, inside, reduction)


def _plain(weights: Any, reduction: str) -> bool:
    """Default weights and reduction: the loss is a plain mean (fewer ops, same value)."""
    return (
        not isinstance(weights, Node)
        and isinstance(weights, int | float)
        and weights == 1
        and reduction == Reduction.SUM_BY_NONZERO_WEIGHTS
    )


__getattr__ = missing_names(__name__, "tf.losses")  # a TF1 name graphc lacks says so
