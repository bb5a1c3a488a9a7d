"""`graphc.losses`: TF1's mean-reduced losses."""

from __future__ import annotations

from typing import Any

from graphc.ir import Node
from graphc.nn import softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits
from graphc.ops import checking, convert_operands
from graphc.ops.elementwise import square
from graphc.ops.reduce import reduce_mean
from graphc.types import check_compatible


def mean_squared_error(labels: Any, predictions: Any) -> Node:
    """mean((labels - predictions) ** 2) over every element."""
    with checking("MeanSquaredError"):
        labels, predictions = convert_operands(labels, predictions, op_name="MeanSquaredError")
        check_compatible(labels.type.shape, predictions.type.shape, "labels and predictions")
    return reduce_mean(square(labels - predictions))


def sparse_softmax_cross_entropy(labels: Any, logits: Any) -> Node:
    """Mean over the batch of the sparse softmax cross-entropy."""
    return reduce_mean(sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def softmax_cross_entropy(onehot_labels: Any, logits: Any) -> Node:
    """Mean over the batch of the softmax cross-entropy against one-hot labels."""
    return reduce_mean(softmax_cross_entropy_with_logits(labels=onehot_labels, logits=logits))
