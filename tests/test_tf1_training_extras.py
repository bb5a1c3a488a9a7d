"""TF1's clipping, learning-rate schedules, Adadelta and loss reductions, against values
derived by hand from TF1's documented formulas, on both targets."""

import numpy as np
import pytest

import graphc as tf


def test_clip_by_global_norm_scales_every_tensor_by_one_factor(sess):
    a, b = tf.constant([3.0, 0.0]), tf.constant([[4.0]])  # global norm 5
    (ca, none, cb), norm = tf.clip_by_global_norm([a, None, b], 2.5)
    assert none is None  # a variable without gradient passes through
    got_a, got_b, got_norm = sess.run([ca, cb, norm])
    assert got_norm == 5.0
    np.testing.assert_allclose(got_a, [1.5, 0.0])
    np.testing.assert_allclose(got_b, [[2.0]])
    (small,), _ = tf.clip_by_global_norm([a], 10.0)  # under the limit: unchanged
    np.testing.assert_allclose(sess.run(small), [3.0, 0.0])
    assert sess.run(tf.global_norm([a, b])) == 5.0


def test_clip_by_global_norm_of_an_infinite_norm_is_nan_as_in_tf1(sess):
    (clipped,), norm = tf.clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
    got, got_norm = sess.run([clipped, norm])
    assert np.isinf(got_norm) and np.isnan(got).all()


def test_clip_by_norm_leaves_zero_and_short_vectors_alone(sess):
    rows = tf.constant([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(
        sess.run(tf.clip_by_norm(rows, 1.0, axes=[1])), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]]
    )
    g = tf.gradients(tf.reduce_sum(tf.clip_by_norm(rows, 1.0, axes=[1])), rows)[0]
    assert np.isfinite(sess.run(g)).all()  # the zero row: no 0/0 in the gradient


def test_exponential_decay_and_its_staircase(sess):
    step = tf.Variable(0, dtype=tf.int64, name="step")
    lr = tf.train.exponential_decay(0.1, step, decay_steps=10, decay_rate=0.5)
    stairs = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    sess.run(step.initializer)
    for value in (0, 5, 10, 25):
        sess.run(step.assign(value))
        got, got_stairs = sess.run([lr, stairs])
        np.testing.assert_allclose(got, 0.1 * 0.5 ** (value / 10), rtol=1e-6)
        np.testing.assert_allclose(got_stairs, 0.1 * 0.5 ** (value // 10), rtol=1e-6)
        assert got.dtype == np.float32


def test_piecewise_constant_takes_each_boundary_with_the_values_before_it(sess):
    x = tf.placeholder(tf.int32, [])
    lr = tf.train.piecewise_constant(x, [10, 20], [1.0, 0.5, 0.1])
    got = [float(sess.run(lr, {x: v})) for v in (0, 10, 11, 20, 21)]
    np.testing.assert_allclose(got, [1.0, 1.0, 0.5, 0.5, 0.1])
    with pytest.raises(ValueError, match="one more value than boundaries"):
        tf.train.piecewise_constant(x, [10], [1.0])


def test_adadelta_follows_tf1s_update_formula(sess):
    rng = np.random.default_rng(0)
    start, data = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3)
    w = tf.Variable(start, name="w")
    loss = tf.reduce_sum(tf.square(w - tf.constant(data, tf.float32)))
    opt = tf.train.AdadeltaOptimizer(learning_rate=1.0, rho=0.9, epsilon=1e-6)
    train = opt.minimize(loss)
    sess.run(tf.global_variables_initializer())
    var, accum, accum_update = start.astype(np.float64), np.zeros(3), np.zeros(3)
    for _ in range(3):
        sess.run(train)
        grad = 2 * (var - data)
        accum = 0.9 * accum + 0.1 * grad**2
        update = np.sqrt(accum_update + 1e-6) / np.sqrt(accum + 1e-6) * grad
        var = var - update
        accum_update = 0.9 * accum_update + 0.1 * update**2
    np.testing.assert_allclose(sess.run(w), var, rtol=1e-4)
    np.testing.assert_allclose(sess.run(opt.get_slot(w, "accum_update")), accum_update, rtol=1e-4)
    assert opt.get_slot_names() == ["accum", "accum_update"]
    assert [opt.get_slot(w, n).op.name for n in ("accum", "accum_update")] == [
        "w/Adadelta",
        "w/Adadelta_1",
    ]


@pytest.mark.parametrize(
    "reduction, expected",
    [
        (tf.losses.Reduction.NONE, [[1.0, 0.0], [6.0, 0.0]]),
        (tf.losses.Reduction.SUM, 7.0),
        (tf.losses.Reduction.MEAN, 7.0 / 4.0),  # sum / sum of weights (1, 0, 3, 0)
        (tf.losses.Reduction.SUM_OVER_BATCH_SIZE, 7.0 / 4.0),
        (tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, 7.0 / 2.0),  # two weights are not 0
    ],
)
def test_loss_reductions_follow_tf1(sess, reduction, expected):
    labels = tf.constant([[0.0, 0.0], [0.0, 0.0]])
    predictions = tf.constant([[1.0, 5.0], [2.0, 7.0]])
    weights = tf.constant([[1.0, 0.0], [3.0, 0.0]])
    loss = tf.losses.absolute_difference(labels, predictions, weights, reduction=reduction)
    np.testing.assert_allclose(sess.run(loss), expected)


def test_compute_weighted_loss_reduces_given_per_element_losses(sess):
    losses = tf.constant([1.0, 2.0, 4.0])
    weighted = tf.losses.compute_weighted_loss(losses, tf.constant([0.0, 1.0, 0.5]))
    np.testing.assert_allclose(sess.run(weighted), (2.0 + 2.0) / 2)
    np.testing.assert_allclose(sess.run(tf.losses.compute_weighted_loss(losses)), 7.0 / 3)


def test_all_zero_weights_give_a_zero_loss_not_nan(sess):
    loss = tf.losses.huber_loss(tf.constant([1.0]), tf.constant([3.0]), weights=0.0)
    assert sess.run(loss) == 0.0
    with pytest.raises(ValueError, match="reduction must be one of"):
        tf.losses.huber_loss(tf.constant([1.0]), tf.constant([3.0]), reduction="mean")


def test_moments_and_l2_normalize_name_their_ops_as_tf1(sess):
    x = tf.constant([[1.0, 2.0], [3.0, 6.0]])
    mean, variance = tf.nn.moments(x, axes=[0])
    assert mean.op.name.startswith("moments/") and variance.op.name.startswith("moments/")
    np.testing.assert_allclose(sess.run([mean, variance]), [[2.0, 4.0], [1.0, 4.0]])
    assert tf.nn.l2_normalize(x, axis=1).op.name.startswith("l2_normalize/")


def test_label_smoothing_mixes_the_one_hot_labels_with_uniform_ones(sess):
    logits = tf.constant([[2.0, 0.0, -1.0]])
    onehot = tf.constant([[1.0, 0.0, 0.0]])
    loss = tf.losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.3)
    z = np.array([2.0, 0.0, -1.0])
    log_softmax = z - np.log(np.exp(z).sum())
    smoothed = np.array([1.0, 0.0, 0.0]) * 0.7 + 0.3 / 3
    np.testing.assert_allclose(sess.run(loss), -(smoothed * log_softmax).sum(), rtol=1e-6)


def test_div_no_nan_is_zero_where_the_denominator_is_and_keeps_gradients_finite(sess):
    x = tf.constant([3.0, 2.0, 0.0])
    y = tf.constant([2.0, 0.0, 0.0])
    q = tf.div_no_nan(x, y)
    np.testing.assert_array_equal(sess.run(q), [1.5, 0.0, 0.0])
    gx, gy = sess.run(tf.gradients(tf.reduce_sum(q), [x, y]))
    np.testing.assert_allclose(gx, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(gy, [-3.0 / 4.0, 0.0, 0.0])  # d(x/y)/dy = -x / y^2
