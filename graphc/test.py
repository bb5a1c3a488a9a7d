"""`graphc.test`: TF1's gradient checker."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.autodiff import gradients
from graphc.compat import missing_names
from graphc.ir import Node
from graphc.ops.state import placeholder
from graphc.session import Session, get_default_session


def compute_gradient(
    x: Node,
    x_shape: Any,
    y: Node,
    y_shape: Any,
    x_init_value: Any = None,
    delta: float = 1e-3,
    extra_feed_dict: dict | None = None,
    session: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The symbolic and the central-difference Jacobians of y with respect to x.

    Both have shape (x.size, y.size), as TF1's. `x` is fed (any tensor can be),
    so the Jacobians are taken at `x_init_value` (random in [0, 1) if None).
    """
    sess = session or get_default_session() or Session(x.graph, target="numpy")
    x_shape, y_shape = tuple(x_shape), tuple(y_shape)
    if x_init_value is None:
        x_init_value = np.random.default_rng(0).random(x_shape)
    x0 = np.asarray(x_init_value, x.dtype.np).reshape(x_shape)
    feeds = dict(extra_feed_dict or {})
    with x.graph.as_default():
        dy = placeholder(y.dtype, y_shape, name="grad_check_dy")
        (grad,) = gradients(y, x, grad_ys=dy)
    x_size, y_size = int(np.prod(x_shape)), int(np.prod(y_shape))
    symbolic = np.zeros((x_size, y_size), np.float64)
    for j in range(y_size):
        seed = np.zeros(y_size, y.dtype.np)
        seed[j] = 1
        if grad is not None:
            g = sess.run(grad, {**feeds, x: x0, dy: seed.reshape(y_shape)})
            symbolic[:, j] = np.asarray(g).ravel()
    numeric = np.zeros((x_size, y_size), np.float64)
    for i in range(x_size):
        up, down = x0.copy().ravel(), x0.copy().ravel()
        up[i] += delta
        down[i] -= delta
        y_up = np.asarray(sess.run(y, {**feeds, x: up.reshape(x_shape)}), np.float64)
        y_down = np.asarray(sess.run(y, {**feeds, x: down.reshape(x_shape)}), np.float64)
        numeric[i] = ((y_up - y_down) / (2 * delta)).ravel()
    return symbolic, numeric


def compute_gradient_error(
    x: Node,
    x_shape: Any,
    y: Node,
    y_shape: Any,
    x_init_value: Any = None,
    delta: float = 1e-3,
    extra_feed_dict: dict | None = None,
    session: Any = None,
) -> float:
    """The largest absolute difference between the symbolic and numeric Jacobians (TF1's)."""
    symbolic, numeric = compute_gradient(
        x, x_shape, y, y_shape, x_init_value, delta, extra_feed_dict, session
    )
    return float(np.max(np.abs(symbolic - numeric))) if symbolic.size else 0.0


__getattr__ = missing_names(__name__, "tf.test")  # a TF1 name graphc lacks says so
