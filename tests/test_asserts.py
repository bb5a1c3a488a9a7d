"""Run-time assertions (tf.Assert, tf.assert_*, tf.check_numerics) on both targets: a
false condition fails the run with InvalidArgumentError naming the message and the
user's line, and changes no variable; a true one lets the run through."""

import numpy as np
import pytest

import graphc as tf
from graphc.errors import InvalidArgumentError


def test_check_numerics_passes_finite_values_and_names_nan(sess):
    x = tf.placeholder(tf.float32, [None])
    checked = tf.check_numerics(tf.log(x), "log of x")
    np.testing.assert_allclose(sess.run(checked, {x: [1.0, np.e]}), [0.0, 1.0], rtol=1e-6)
    with pytest.raises(
        InvalidArgumentError, match=r"log of x : Tensor had NaN or Inf.*test_asserts"
    ):
        sess.run(checked, {x: [1.0, -1.0]})
    with pytest.raises(InvalidArgumentError, match="Tensor had NaN or Inf"):
        sess.run(checked, {x: [0.0]})  # -inf


@pytest.mark.parametrize(
    "assertion, good, bad",
    [
        (tf.assert_equal, ([1, 2], [1, 2]), ([1, 2], [1, 3])),
        (tf.assert_none_equal, ([1, 2], [2, 1]), ([1, 2], [1, 3])),
        (tf.assert_less, ([1, 2], [2, 3]), ([1, 2], [2, 2])),
        (tf.assert_less_equal, ([1, 2], [1, 2]), ([1, 3], [1, 2])),
        (tf.assert_greater, ([2, 3], [1, 2]), ([2, 2], [1, 2])),
        (tf.debugging.assert_greater_equal, ([1, 2], [1, 2]), ([1, 1], [1, 2])),
    ],
)
def test_binary_assertions_hold_elementwise(sess, assertion, good, bad):
    x = tf.placeholder(tf.int32, [2])
    y = tf.placeholder(tf.int32, [2])
    check = assertion(x, y, message="pair")
    assert sess.run(check, {x: good[0], y: good[1]}) is None
    with pytest.raises(InvalidArgumentError, match=r"pair Condition x .* y did not hold"):
        sess.run(check, {x: bad[0], y: bad[1]})


def test_an_assert_in_control_dependencies_guards_an_update(sess):
    v = tf.Variable(1.0)
    step = tf.placeholder(tf.float32, [])
    with tf.control_dependencies([tf.assert_positive(step, message="step size")]):
        update = v.assign_add(step)
    sess.run(v.initializer)
    sess.run(update, {step: 0.5})
    with pytest.raises(InvalidArgumentError, match="step size"):
        sess.run(update, {step: -1.0})
    assert sess.run(v) == 1.5  # the failed run changed nothing


def test_assert_op_and_its_bad_input(sess):
    x = tf.placeholder(tf.float32, [3])
    check = tf.Assert(tf.reduce_all(x > 0), [x], name="all_positive")
    assert check.name == "all_positive"
    sess.run(check, {x: [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidArgumentError, match=r"assertion failed: \[Placeholder"):
        sess.run(check, {x: [1.0, -2.0, 3.0]})
    with pytest.raises(tf.errors.DTypeError, match="condition must be bool"):
        tf.Assert(x, [x])
    with pytest.raises(tf.errors.DTypeError, match="floating"):
        tf.check_numerics(tf.constant([1, 2]), "ints")


@pytest.mark.parametrize(
    "assertion, good, bad",
    [
        (tf.assert_positive, [1.0, 2.0], [1.0, 0.0]),
        (tf.assert_negative, [-1.0, -2.0], [-1.0, 0.0]),
        (tf.assert_non_negative, [0.0, 2.0], [0.0, -1.0]),
        (tf.assert_non_positive, [0.0, -2.0], [0.0, 1.0]),
        (tf.assert_greater_equal, None, None),
    ],
)
def test_sign_assertions_compare_with_zero(sess, assertion, good, bad):
    x = tf.placeholder(tf.float32, [2])
    if good is None:  # a binary one, by its top-level name
        check = assertion(x, tf.zeros([2]))
        good, bad = [0.0, 1.0], [0.0, -1.0]
    else:
        check = assertion(x)
    sess.run(check, {x: good})
    with pytest.raises(InvalidArgumentError, match="did not hold element-wise"):
        sess.run(check, {x: bad})


def test_gather_nd_picks_slices_and_refuses_a_component_out_of_its_axis(sess):
    params = tf.constant(np.arange(24.0).reshape(2, 3, 4))
    indices = tf.placeholder(tf.int32, [None, 2])
    picked = tf.gather_nd(params, indices)
    assert picked.shape == (None, 4)
    got = sess.run(picked, {indices: [[1, 2], [0, 0]]})
    np.testing.assert_array_equal(got, [np.arange(20.0, 24.0), np.arange(4.0)])
    with pytest.raises(InvalidArgumentError, match="gather_nd: an index is outside"):
        sess.run(picked, {indices: [[0, 3]]})  # row 0 * 3 + 3 = 3 exists, column 3 does not
