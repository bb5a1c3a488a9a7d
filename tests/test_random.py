"""Random ops: distributions, fresh draws every run, reproducibility from seeds, dropout."""

import numpy as np
import pytest

import graphc as tf

N = 20000


def _draws(build, runs=1, graph_seed=None):
    g = tf.Graph()
    with g.as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        t = build()
    with tf.Session(g, target="numpy") as sess:
        return [sess.run(t) for _ in range(runs)]


def test_normal_statistics():
    (x,) = _draws(lambda: tf.random_normal([N], mean=3.0, stddev=2.0, seed=1))
    assert x.dtype == np.float32 and x.shape == (N,)
    assert abs(x.mean() - 3.0) < 0.1 and abs(x.std() - 2.0) < 0.1


def test_uniform_range_and_statistics():
    (x,) = _draws(lambda: tf.random_uniform([N], minval=-1.0, maxval=3.0, seed=1))
    assert x.min() >= -1.0 and x.max() < 3.0
    assert abs(x.mean() - 1.0) < 0.05


def test_truncated_normal_stays_within_two_stddevs():
    (x,) = _draws(lambda: tf.truncated_normal([N], stddev=0.5, dtype=tf.float64, seed=1))
    assert x.dtype == np.float64 and np.abs(x).max() <= 1.0
    assert abs(x.std() - 0.5 * 0.8796) < 0.02  # std of a normal truncated at 2 sigma


def test_integer_uniform():
    (x,) = _draws(lambda: tf.random_uniform([N], 2, 7, dtype=tf.int32, seed=1))
    assert x.dtype == np.int32 and set(np.unique(x)) == {2, 3, 4, 5, 6}


def test_each_run_draws_new_values_and_seeds_reproduce():
    a = _draws(lambda: tf.random_normal([4]), runs=2, graph_seed=7)
    b = _draws(lambda: tf.random_normal([4]), runs=2, graph_seed=7)
    assert not np.array_equal(a[0], a[1])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = _draws(lambda: tf.random_normal([4], seed=3), runs=1)
    d = _draws(lambda: tf.random_normal([4], seed=3), runs=1)
    np.testing.assert_array_equal(c[0], d[0])


def test_variable_initialized_from_random_op_is_fixed_after_init():
    tf.set_random_seed(0)
    w = tf.Variable(tf.random_normal([3]))
    with tf.Session(target="numpy") as sess:
        sess.run(w.initializer)
        first = sess.run(w)
        np.testing.assert_array_equal(first, sess.run(w))


@pytest.mark.parametrize("kwargs", [{"rate": 0.25}, {"keep_prob": 0.75}], ids=["rate", "keep"])
def test_dropout_zeroes_and_rescales(kwargs):
    (y,) = _draws(lambda: tf.nn.dropout(tf.ones([N]), seed=1, **kwargs))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.02


def test_dropout_with_a_fed_keep_prob_keeps_the_shape_of_x():
    # TF1's tutorial feeds keep_prob through a placeholder without a shape: a scalar
    keep = tf.placeholder(tf.float32, name="keep_prob")
    x = tf.placeholder(tf.float32, [None, 5])
    y = tf.nn.dropout(x, keep, seed=3)
    assert y.shape == (None, 5)
    with tf.Session(target="numpy") as sess:
        np.testing.assert_array_equal(sess.run(y, {x: np.ones((2, 5)), keep: 1.0}), np.ones((2, 5)))
        with pytest.raises(tf.errors.InvalidArgumentError, match="Reshape"):
            sess.run(y, {x: np.ones((2, 5)), keep: [0.5, 0.5]})
    with pytest.raises(tf.errors.ShapeError, match="keep_prob must be a scalar"):
        tf.nn.dropout(x, tf.constant([0.5, 0.5]))


def test_dropout_needs_exactly_one_rate():
    with pytest.raises(ValueError):
        tf.nn.dropout(tf.ones([2]))
