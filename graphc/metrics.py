"""`graphc.metrics`: TF1's streaming metrics (`tf.metrics.mean`, `tf.metrics.accuracy`).

A metric keeps running totals in local variables (`<name>/total`, `<name>/count`, in
LOCAL_VARIABLES and METRIC_VARIABLES, initialized by `tf.local_variables_initializer()`)
and returns `(value, update_op)`: `value` reads total / count, `update_op` adds a batch
and gives the value after it. An empty stream's value is 0, as TF1's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.compat import missing_names
from graphc.graph import GraphKeys, add_to_collections
from graphc.ir import Node
from graphc.ops import convert
from graphc.ops.elementwise import cast, div_no_nan, equal, ones_like
from graphc.ops.reduce import reduce_sum
from graphc.types import float32
from graphc.variable_scope import variable_scope
from graphc.variables import Variable

LOCAL = [GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES]


def mean(
    values: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Node, Node]:
    """The running (weighted) mean of `values`: (value, update_op)."""
    with variable_scope(name, default_name="mean"):
        return _streaming_mean(values, weights, metrics_collections, updates_collections)


def accuracy(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Node, Node]:
    """The running fraction of `predictions` equal to `labels`: (value, update_op)."""
    with variable_scope(name, default_name="accuracy"):
        labels, predictions = convert(labels), convert(predictions)
        if labels.dtype is not predictions.dtype:
            predictions = cast(predictions, labels.dtype)
        correct = cast(equal(predictions, labels), float32)
        return _streaming_mean(correct, weights, metrics_collections, updates_collections)


def _streaming_mean(
    values: Any, weights: Any, metrics_collections: Any, updates_collections: Any
) -> tuple[Node, Node]:
    values = convert(values)
    if not values.dtype.is_floating:
        values = cast(values, float32)
    dtype = values.dtype
    total = _local("total", dtype)
    count = _local("count", dtype)
    if weights is None:
        batch_total, batch_count = reduce_sum(values), reduce_sum(ones_like(values))
    else:
        weights = convert(weights, dtype) * ones_like(values)
        batch_total, batch_count = reduce_sum(values * weights), reduce_sum(weights)
    value = div_no_nan(total, count, "value")
    update = div_no_nan(total.assign_add(batch_total), count.assign_add(batch_count), "update_op")
    add_to_collections(metrics_collections or [], value)
    add_to_collections(updates_collections or [], update)
    return value, update


def _local(name: str, dtype: Any) -> Variable:
    return Variable(np.zeros((), dtype.np), trainable=False, collections=LOCAL, name=name)


__getattr__ = missing_names(__name__, "tf.metrics")  # a TF1 name graphc lacks says so
