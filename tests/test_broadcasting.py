"""Hypothesis: random broadcast-compatible shapes and reduction axes, values and gradients."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphc as tf

BINARY = {
    "add": (tf.add, np.add, lambda x, y: (np.ones_like(x), np.ones_like(y))),
    "multiply": (tf.multiply, np.multiply, lambda x, y: (y, x)),
    "maximum": (tf.maximum, np.maximum, lambda x, y: ((x >= y) * 1.0, (x < y) * 1.0)),
    "subtract": (tf.subtract, np.subtract, lambda x, y: (np.ones_like(x), -np.ones_like(y))),
}


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """NumPy oracle for undoing broadcasting: sum g down to `shape`."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_values_and_gradients(shapes, op, seed):
    build, ref, partials = BINARY[op]
    rng = np.random.default_rng(seed)
    xs, ys = shapes.input_shapes
    xv, yv = rng.standard_normal(xs), rng.standard_normal(ys)
    with tf.Graph().as_default() as g:
        x, y = tf.placeholder(tf.float64, xs), tf.placeholder(tf.float64, ys)
        out = build(x, y)
        weights = rng.standard_normal(shapes.result_shape)
        gx, gy = tf.gradients(tf.reduce_sum(out * weights), [x, y])
    assert out.shape == shapes.result_shape
    with tf.Session(g, target="numpy") as sess:
        value, gxv, gyv = sess.run([out, gx, gy], {x: xv, y: yv})
    np.testing.assert_allclose(value, ref(xv, yv), rtol=1e-12)
    px, py = (np.broadcast_to(p, shapes.result_shape) for p in partials(xv, yv))
    np.testing.assert_allclose(gxv, _sum_to(weights * px, xs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gyv, _sum_to(weights * py, ys), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=3),
    data=st.data(),
    keepdims=st.booleans(),
)
def test_reductions_over_random_axes(shape, data, keepdims):
    rank = len(shape)
    axis = data.draw(
        st.none() | st.integers(-rank, rank - 1) | st.lists(st.integers(0, rank - 1), unique=True)
    )
    axis_np = tuple(axis) if isinstance(axis, list) else axis
    xv = np.random.default_rng(0).standard_normal(shape)
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float64, shape)
        outs = [tf.reduce_sum(x, axis, keepdims), tf.reduce_mean(x, axis, keepdims)]
        (gs,) = tf.gradients(tf.reduce_sum(outs[0] * 3.0), x)
    with tf.Session(g, target="numpy") as sess:
        total, mean, grad = sess.run([*outs, gs], {x: xv})
    np.testing.assert_allclose(total, np.sum(xv, axis_np, keepdims=keepdims), atol=1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        want_mean = np.mean(xv, axis_np, keepdims=keepdims) if xv.size else total / 0.0
    np.testing.assert_allclose(mean, want_mean, atol=1e-12)
    np.testing.assert_array_equal(grad, np.full(shape, 3.0))
