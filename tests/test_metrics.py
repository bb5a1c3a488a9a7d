"""tf.metrics: running totals in local variables, against counts done by hand."""

import numpy as np

import graphc as tf


def test_accuracy_streams_over_batches_and_restarts_with_its_local_variables(sess):
    labels = tf.placeholder(tf.int64, [None])
    predictions = tf.placeholder(tf.int64, [None])
    acc, update = tf.metrics.accuracy(labels, predictions)
    assert (acc.op.name, update.op.name) == ("accuracy/value", "accuracy/update_op")
    assert [v.op.name for v in tf.local_variables()] == ["accuracy/total", "accuracy/count"]
    assert tf.trainable_variables() == [] and tf.global_variables() == []
    sess.run(tf.local_variables_initializer())
    assert sess.run(acc) == 0.0  # nothing seen yet: 0, not NaN
    assert sess.run(update, {labels: [1, 2, 3, 4], predictions: [1, 2, 0, 0]}) == 0.5
    np.testing.assert_allclose(sess.run(update, {labels: [5, 6], predictions: [5, 6]}), 4 / 6)
    np.testing.assert_allclose(sess.run(acc), 4 / 6)
    sess.run(tf.local_variables_initializer())
    assert sess.run(acc) == 0.0


def test_weighted_mean_and_its_collections(sess):
    values = tf.placeholder(tf.float32, [None])
    weights = tf.placeholder(tf.float32, [None])
    mean, update = tf.metrics.mean(
        values, weights, metrics_collections=["m"], updates_collections=["u"], name="avg"
    )
    assert tf.get_collection("m") == [mean] and tf.get_collection("u") == [update]
    sess.run(tf.local_variables_initializer())
    sess.run(update, {values: [1.0, 3.0], weights: [1.0, 0.0]})
    sess.run(update, {values: [5.0], weights: [3.0]})
    np.testing.assert_allclose(sess.run(mean), (1.0 + 15.0) / 4.0)
