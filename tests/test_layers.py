"""tf.layers: TF1's variable names and defaults, and values against NumPy formulas
computed from the layers' own variables, on both targets."""

import numpy as np
import pytest

import graphc as tf


def _names(variables):
    return [v.op.name for v in variables]


def test_dense_layers_are_named_scoped_and_computed_as_tf1(sess):
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    first = tf.layers.dense(x, 4, activation=tf.nn.relu)
    second = tf.layers.dense(first, 2, use_bias=False)
    assert _names(tf.trainable_variables()) == ["dense/kernel", "dense/bias", "dense_1/kernel"]
    assert first.op.name == "dense/Relu"
    sess.run(tf.global_variables_initializer())
    kernel, bias, kernel_1 = sess.run(tf.trainable_variables())
    limit = np.sqrt(6 / (5 + 4))  # Glorot uniform, TF1's default for get_variable
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > limit / 2
    np.testing.assert_array_equal(bias, np.zeros(4))
    feed = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    want = np.maximum(feed @ kernel + bias, 0) @ kernel_1
    np.testing.assert_allclose(sess.run(second, {x: feed}), want, rtol=1e-5, atol=1e-6)


def test_dense_reuse_shares_the_variables_of_a_named_layer():
    x = tf.placeholder(tf.float32, [None, 3])
    a = tf.layers.dense(x, 2, name="fc")
    b = tf.layers.dense(x * 2.0, 2, name="fc", reuse=True)
    assert _names(tf.trainable_variables()) == ["fc/kernel", "fc/bias"]
    with pytest.raises(ValueError, match="already exists"):
        tf.layers.dense(x, 2, name="fc")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_a, got_b = sess.run([a, b], {x: np.ones((1, 3), np.float32)})
    np.testing.assert_allclose(got_b, 2 * got_a, rtol=1e-6)  # the bias is zero: 2xW = 2(xW)


def test_conv_and_pooling_layers_match_the_nn_ops_with_their_kernel(sess):
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    conv = tf.layers.conv2d(x, 3, [3, 3], padding="same", activation=tf.nn.relu)
    pooled = tf.layers.max_pooling2d(conv, 2, 2)
    averaged = tf.layers.average_pooling2d(conv, [3, 3], 2, padding="same")
    assert _names(tf.trainable_variables()) == ["conv2d/kernel", "conv2d/bias"]
    assert conv.shape == (None, 6, 6, 3) and pooled.shape == (None, 3, 3, 3)
    assert averaged.shape == (None, 3, 3, 3)
    kernel = tf.trainable_variables()[0]
    assert kernel.shape == (3, 3, 2, 3)
    manual = tf.nn.relu(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME"))
    want_pool = tf.nn.max_pool(manual, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    sess.run(tf.global_variables_initializer())
    feed = {x: np.random.default_rng(1).standard_normal((2, 6, 6, 2)).astype(np.float32)}
    got, want = sess.run([pooled, want_pool], feed)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dropout_layer_follows_its_training_flag(sess):
    x = tf.placeholder(tf.float32, [100, 10])
    training = tf.placeholder(tf.bool, [])
    ones = np.ones((100, 10), np.float32)
    np.testing.assert_array_equal(sess.run(tf.layers.dropout(x, 0.5), {x: ones}), ones)
    dropped = sess.run(tf.layers.dropout(x, 0.75, training=True), {x: ones})
    assert set(np.unique(dropped)) <= {0.0, 4.0} and 0.1 < (dropped > 0).mean() < 0.4
    flagged = tf.layers.dropout(x, 0.75, training=training)
    np.testing.assert_array_equal(sess.run(flagged, {x: ones, training: False}), ones)
    assert set(np.unique(sess.run(flagged, {x: ones, training: True}))) <= {0.0, 4.0}


def test_flatten_keeps_the_batch_and_c_order(sess):
    x = tf.placeholder(tf.float32, [None, 2, 3, 2])
    flat = tf.layers.flatten(x)
    assert flat.shape == (None, 12)
    value = np.arange(24, dtype=np.float32).reshape(2, 2, 3, 2)
    np.testing.assert_array_equal(sess.run(flat, {x: value}), value.reshape(2, 12))


def test_batch_normalization_trains_on_batch_moments_and_updates_moving_averages(sess):
    x = tf.placeholder(tf.float32, [None, 3])
    training = tf.placeholder(tf.bool, [])
    out = tf.layers.batch_normalization(x, momentum=0.9, epsilon=1e-3, training=training)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    assert _names(tf.global_variables()) == [
        "batch_normalization/gamma",
        "batch_normalization/beta",
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
    ]
    sess.run(tf.global_variables_initializer())
    batch = np.array([[1.0, 2.0, 0.0], [3.0, 6.0, 0.0]], np.float32)
    got, *_ = sess.run([out, *updates], {x: batch, training: True})
    mean, var = batch.mean(0), batch.var(0)
    np.testing.assert_allclose(got, (batch - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)
    moving_mean, moving_var = sess.run(tf.global_variables()[2:])
    np.testing.assert_allclose(moving_mean, 0.1 * mean, rtol=1e-6)  # from 0
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * var, rtol=1e-6)  # from 1
    inference = sess.run(out, {x: batch, training: False})
    want = (batch - moving_mean) / np.sqrt(moving_var + 1e-3)
    np.testing.assert_allclose(inference, want, rtol=1e-5, atol=1e-6)
    sess.run(updates, {x: batch, training: False})  # not training: the averages stay
    np.testing.assert_allclose(sess.run(tf.global_variables()[2]), moving_mean, rtol=1e-6)


def test_bad_layer_arguments_are_named():
    x = tf.placeholder(tf.float32, [None, 4, 4, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="padding must be 'valid' or 'same'"):
        tf.layers.conv2d(x, 2, 3, padding="full")
    with pytest.raises(tf.errors.InvalidArgumentError, match="kernel_size must be"):
        tf.layers.conv2d(x, 2, 0)
    with pytest.raises(NotImplementedError, match="channels_last"):
        tf.layers.max_pooling2d(x, 2, 2, data_format="channels_first")
    with pytest.raises(tf.errors.ShapeError, match="flatten"):
        tf.layers.flatten(tf.placeholder(tf.float32, [None, None]))


def test_batch_normalization_with_an_unshaped_training_flag(sess):
    """`training=tf.placeholder(tf.bool)` (unknown rank, as TF1 scripts write it): the
    batch's moments and the moving averages' update, on both targets (TF1's formulas)."""
    x = tf.placeholder(tf.float32, [None, 2])
    training = tf.placeholder(tf.bool)
    y = tf.layers.batch_normalization(x, training=training, momentum=0.9)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    sess.run(tf.global_variables_initializer())
    xs = np.array([[1.0, 2.0], [3.0, -2.0], [5.0, 0.0]], np.float32)
    got = sess.run([y, *updates], {x: xs, training: True})[0]
    mean, var = xs.mean(axis=0), xs.var(axis=0)
    np.testing.assert_allclose(got, (xs - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)
    moving = [v for v in tf.global_variables() if "moving" in v.op.name]
    np.testing.assert_allclose(sess.run(moving[0]), 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(sess.run(moving[1]), 0.9 + 0.1 * var, rtol=1e-6)
    got = sess.run(y, {x: xs, training: False})  # the moving averages
    want = (xs - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
