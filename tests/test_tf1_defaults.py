"""TF1 defaults scripts rely on: the session's graph becomes the default graph, `gradients`
of a non-scalar differentiates its sum, and `placeholder_with_default`.

Oracles: TF1's documented behaviour (session.py's `__enter__`, `as_default` and
InteractiveSession; gradients_impl's default `grad_ys` of ones), central differences
of `sum(ys)` in float64, and hand-computed training steps.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as tf
from graphc.errors import GraphcError, InvalidArgumentError, ShapeError


# ---- sessions make their graph the default ------------------------------------------------------
def test_a_session_block_makes_its_graph_the_default(target):
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(3.0)
    outer = tf.get_default_graph()
    with tf.Session(graph=g, target=target) as sess:
        assert tf.get_default_graph() is g and tf.get_default_session() is sess
        sess.run(tf.global_variables_initializer())  # built in g, as in TF1
        assert sess.run(v * 2.0) == 6.0
    assert tf.get_default_graph() is outer and tf.get_default_session() is None


def test_session_blocks_nest_and_restore_on_errors():
    g1, g2 = tf.Graph(), tf.Graph()
    with tf.Session(graph=g1, target="numpy"):
        with tf.Session(graph=g2, target="numpy"):
            assert tf.get_default_graph() is g2
        assert tf.get_default_graph() is g1
        with pytest.raises(KeyError), tf.Session(graph=g2, target="numpy"):
            raise KeyError("boom")
        assert tf.get_default_graph() is g1
    assert tf.get_default_graph() not in (g1, g2)


def test_as_default_sets_the_session_only():
    g = tf.Graph()
    sess = tf.Session(graph=g, target="numpy")
    with sess.as_default():  # TF1: "does not affect the current default graph"
        assert tf.get_default_session() is sess and tf.get_default_graph() is not g
        with sess.as_default():  # may be entered again
            assert tf.get_default_session() is sess
        assert tf.get_default_session() is sess
    assert tf.get_default_session() is None
    sess.close()


def test_a_session_block_is_not_reentrant():
    sess = tf.Session(target="numpy")
    message = (
        "Session context managers are not re-entrant. "
        "Use `Session.as_default()` if you want to enter a session multiple times."
    )
    with sess:
        with pytest.raises(RuntimeError, match=re.escape(message)) as info, sess:
            pass
        assert isinstance(info.value, GraphcError) and tf.get_default_session() is sess
    assert tf.get_default_session() is None


def test_reset_default_graph_inside_a_session_block_raises_as_in_tf1():
    with tf.Session(target="numpy"), pytest.raises(GraphcError, match="reset_default_graph"):
        tf.reset_default_graph()


def test_an_interactive_session_keeps_its_graph_default_until_closed(target):
    g = tf.Graph()
    sess = tf.InteractiveSession(graph=g, target=target)
    try:
        assert tf.get_default_graph() is g and tf.get_default_session() is sess
        w = tf.Variable(2.0)  # built in g
        tf.global_variables_initializer().run()
        assert w.graph is g and (w * 3.0).eval() == 6.0
    finally:
        sess.close()
    assert tf.get_default_graph() is not g and tf.get_default_session() is None
    sess.close()  # a second close changes nothing
    assert tf.get_default_graph() is not g
    with tf.InteractiveSession(target="numpy") as again:
        assert tf.get_default_session() is again
    assert tf.get_default_session() is None and tf.get_default_graph() is not g


# ---- gradients of non-scalar ys: TF1's grad_ys of ones ------------------------------------------
def _central_difference(sess, total, x, x0, feeds=None, eps=1e-6):
    """d total / d x at x0 by central differences (float64)."""
    grad = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        up, down = x0.copy(), x0.copy()
        up[i] += eps
        down[i] -= eps
        f_up = sess.run(total, {**(feeds or {}), x: up})
        f_down = sess.run(total, {**(feeds or {}), x: down})
        grad[i] = (f_up - f_down) / (2 * eps)
    return grad


def test_gradient_of_a_nonscalar_is_the_gradient_of_its_sum(target):
    x = tf.placeholder(tf.float64, [3, 2])
    w = tf.constant(np.arange(6.0).reshape(2, 3) / 5 - 0.4)
    y = tf.matmul(tf.sin(x) * x, w)  # shape [3, 3]
    z = tf.exp(x[:, :1])  # a second y, shape [3, 1]
    (gy,) = tf.gradients(y, x)
    (gboth,) = tf.gradients([y, z], x)
    (gmixed,) = tf.gradients([y, z], x, grad_ys=[None, 2.0 * tf.ones_like(z)])
    x0 = np.random.default_rng(0).standard_normal((3, 2))
    with tf.Session(target=target) as sess:
        got = sess.run([gy, gboth, gmixed], {x: x0})
    with tf.Session(target="numpy") as ref:
        sum_y = tf.reduce_sum(y)
        want_y = _central_difference(ref, sum_y, x, x0)
        want_both = _central_difference(ref, sum_y + tf.reduce_sum(z), x, x0)
        want_mixed = _central_difference(ref, sum_y + 2.0 * tf.reduce_sum(z), x, x0)
    np.testing.assert_allclose(got[0], want_y, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], want_both, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[2], want_mixed, rtol=1e-6, atol=1e-8)


def test_gradient_of_a_y_of_unknown_rank():
    k = tf.placeholder(tf.float64)  # unknown rank, as TF1's keep_prob placeholders
    x = tf.placeholder(tf.float64, [4])
    y = tf.square(x) * k
    assert y.shape is None
    (g,) = tf.gradients(y, x)
    x0, k0 = np.array([1.0, -2.0, 0.5, 3.0]), np.array(1.5)
    with tf.Session(target="numpy") as sess:  # compiled unknown ranks: a separate issue
        got = sess.run(g, {x: x0, k: k0})
        want = _central_difference(sess, tf.reduce_sum(y), x, x0, {k: k0})
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, 2 * x0 * k0)


def test_minimize_of_a_nonscalar_loss_descends_its_sum(target):
    w = tf.Variable(np.array([1.0, -1.0], np.float32))
    x = tf.placeholder(tf.float32, [2])
    losses = tf.square(w * x - 1.0)  # one loss per element, not reduced
    train = tf.train.GradientDescentOptimizer(0.1).minimize(losses)
    weighted = tf.train.GradientDescentOptimizer(0.1).minimize(losses, grad_loss=[1.0, 0.0])
    x0 = np.array([2.0, 3.0], np.float32)
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: x0})
        after = sess.run(w)
        sess.run(weighted, {x: x0})
        weighted_after = sess.run(w)
    # by hand: d/dw sum((w x - 1)^2) = 2 (w x - 1) x = [4, -24]; w -= 0.1 * grad
    np.testing.assert_allclose(after, [1.0 - 0.4, -1.0 + 2.4], rtol=1e-6)
    # grad_loss [1, 0]: only the first element's loss: 2 (0.6 * 2 - 1) * 2 = 0.8
    np.testing.assert_allclose(weighted_after, [0.6 - 0.08, 1.4], rtol=1e-6)


def test_minimize_of_an_integer_loss_raises_tf1s_message():
    w = tf.Variable(1.0)
    loss = tf.cast(w, tf.int32, name="iloss")
    message = "Invalid type int32 for iloss:0, expected: [float16, float32, float64]."
    with pytest.raises(ValueError, match=re.escape(message)):
        tf.train.GradientDescentOptimizer(0.1).minimize(loss)


# ---- placeholder_with_default -------------------------------------------------------------------
def test_placeholder_with_default_is_its_default_unless_fed(target):
    default = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = tf.placeholder_with_default(default, [None, 3], name="x")
    keep = tf.placeholder_with_default(1.0, [])
    y = tf.reduce_sum(x * keep, axis=1)
    assert x.shape == (None, 3) and x.op.type == "PlaceholderWithDefault" and x.name == "x:0"
    assert keep.op.name == "PlaceholderWithDefault" and y.shape == (None,)
    fed = np.ones((4, 3), np.float32)
    with tf.Session(target=target) as sess:
        np.testing.assert_array_equal(sess.run(y), [3.0, 12.0])
        np.testing.assert_array_equal(sess.run(y, {x: fed}), [3.0, 3.0, 3.0, 3.0])
        np.testing.assert_array_equal(sess.run(y, {"x:0": fed, keep: 0.5}), [1.5] * 4)
        with pytest.raises(ShapeError, match="x:0"):
            sess.run(y, {x: np.ones((4, 2), np.float32)})


def test_placeholder_with_default_passes_gradients_to_its_default(target):
    w = tf.Variable(np.array([1.0, 2.0], np.float32))
    x = tf.placeholder_with_default(w * 3.0, [None])
    (g,) = tf.gradients(tf.reduce_sum(tf.square(x)), w)
    assert g.shape == (2,)
    with tf.Session(target=target) as sess:
        sess.run(w.initializer)
        np.testing.assert_allclose(sess.run(g), 2 * 3.0 * np.array([3.0, 6.0]))  # d(9 w^2)/dw


def test_placeholder_with_default_of_unknown_rank():
    x = tf.placeholder_with_default(tf.constant([1.0, 2.0]), None)
    assert x.shape is None
    with tf.Session(target="numpy") as sess:
        np.testing.assert_array_equal(sess.run(x), [1.0, 2.0])
        assert sess.run(x, {x: [[5.0]]}).shape == (1, 1)


def test_placeholder_with_default_checks_the_default_against_its_shape():
    message = "the default value's shape [2,3] does not fit shape [?,4]"
    with pytest.raises(ShapeError, match=re.escape(message)) as info:
        tf.placeholder_with_default(np.zeros((2, 3), np.float32), [None, 4], name="p")
    assert "PlaceholderWithDefault 'p'" in str(info.value) and __file__ in str(info.value)
    with pytest.raises(ShapeError, match="does not fit shape"):
        tf.placeholder_with_default(1.0, [1])  # a rank mismatch
    with pytest.raises(ShapeError, match="invalid dimension -2"):
        tf.placeholder_with_default([1.0], [-2])
    with pytest.raises(InvalidArgumentError, match="not an array"):
        tf.placeholder_with_default([[1.0], [1.0, 2.0]], [None])


def test_gradients_take_tf1s_arguments_and_unconnected_zeros(target):
    x = tf.placeholder(tf.float32, [2])
    free = tf.placeholder(tf.float32, [3])
    count = tf.placeholder(tf.int32, [])
    y = x * x
    gx, gfree, gcount = tf.gradients(
        y, [x, free, count], None, "grads", False, True, None, None, "zero"
    )
    assert tf.gradients(y, [free]) == [None]
    enum_like = type("UnconnectedGradients", (), {"value": "zero"})()
    (zero_too,) = tf.gradients(y, [free], unconnected_gradients=enum_like)
    assert gx.op.name.startswith("grads/")
    with tf.Session(target=target) as sess:
        got = sess.run([gx, gfree, gcount, zero_too], {x: [1.0, 2.0], free: [0.0] * 3, count: 3})
    np.testing.assert_array_equal(got[0], [2.0, 4.0])
    np.testing.assert_array_equal(got[1], [0.0, 0.0, 0.0])
    assert got[2] == 0 and got[2].dtype == np.int32
    np.testing.assert_array_equal(got[3], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: 'zeros'"):
        tf.gradients(y, x, unconnected_gradients="zeros")
