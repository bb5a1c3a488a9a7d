"""Initializers against TF1's formulas (init_ops.py), derived here by hand.

Statistics use 60,000 draws: the sample standard deviation of a normal is then within
about 0.3% of sigma (one standard error), so the 2% tolerances below are about seven
standard errors wide, while each plausible wrong formula is off by 10% or more (the
missing 0.8796 truncation correction: 13.7%; fan_in for fan_avg with fans 1000 and
1500: 11.8%). Bounds are exact: samples never leave them, and with this many draws
they come within 0.1% of them (the chance of not doing so is below e^-30).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import graphc as tf
from graphc.initializers import TRUNCATED_STDDEV, compute_fans

SHAPE = [5, 5, 40, 60]  # a conv kernel: fan_in = 25 * 40 = 1000, fan_out = 25 * 60 = 1500
FAN_IN, FAN_OUT = 1000, 1500
N = math.prod(SHAPE)  # 60,000 draws


# ---- the formulas ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "fans"),
    [
        ([], (1, 1)),
        ([7], (7, 7)),
        ([3, 4], (3, 4)),
        (SHAPE, (1000, 1500)),
        ([2, 3, 4, 5, 6], (120, 144)),
    ],
    ids=["scalar", "vector", "matrix", "conv2d", "conv3d"],
)
def test_fans_are_tf1s(shape, fans):
    # a kernel (..., in, out) has fan_in = receptive field * in, fan_out = receptive field * out
    assert compute_fans(shape) == fans


def test_variance_scaling_divides_the_scale_by_the_fan_of_its_mode():
    assert tf.variance_scaling_initializer(2.0, "fan_in").variance(SHAPE) == 2.0 / 1000
    assert tf.variance_scaling_initializer(3.0, "fan_out").variance(SHAPE) == 3.0 / 1500
    assert tf.variance_scaling_initializer(1.0, "fan_avg").variance(SHAPE) == 1.0 / 1250
    assert tf.variance_scaling_initializer(5.0).variance([]) == 5.0  # max(1, fan): no division
    assert tf.variance_scaling_initializer(1.0, "fan_in").variance([0, 4]) == 1.0
    # glorot: uniform of limit sqrt(3 / 1250) = sqrt(6 / (fan_in + fan_out))
    assert tf.glorot_uniform_initializer().variance(SHAPE) * 3 == pytest.approx(6 / 2500)
    assert tf.glorot_normal_initializer().variance(SHAPE) == 1 / 1250
    assert pytest.approx(0.87962566103423978, abs=0) == TRUNCATED_STDDEV


def test_truncated_stddev_is_that_of_a_normal_cut_at_two_sigmas():
    from scipy import stats

    assert stats.truncnorm.std(-2, 2) == pytest.approx(TRUNCATED_STDDEV, rel=1e-12)


# ---- statistics of the draws, on both targets ---------------------------------------------------
def _draws():
    """name -> (initializer tensor, check(values)) for every random initializer."""
    glorot_limit = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    return {
        "glorot_uniform": (tf.glorot_uniform_initializer(seed=1)(SHAPE), _uniform(glorot_limit)),
        "glorot_normal": (
            tf.glorot_normal_initializer(seed=2)(SHAPE),
            _truncated(0.0, math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
        ),
        "he_truncated": (
            tf.variance_scaling_initializer(2.0, "fan_in", "truncated_normal", seed=3)(SHAPE),
            _truncated(0.0, math.sqrt(2.0 / FAN_IN)),
        ),
        "normal_means_truncated": (  # TF1 reads "normal" as "truncated_normal"
            tf.variance_scaling_initializer(1.0, "fan_out", "normal", seed=4)(SHAPE),
            _truncated(0.0, math.sqrt(1.0 / FAN_OUT)),
        ),
        "untruncated": (
            tf.variance_scaling_initializer(3.0, "fan_out", "untruncated_normal", seed=5)(SHAPE),
            _normal(0.0, math.sqrt(3.0 / FAN_OUT)),
        ),
        "scaling_uniform": (
            tf.initializers.variance_scaling(0.5, "fan_avg", "uniform", seed=6)(SHAPE),
            _uniform(math.sqrt(3 * 0.5 / 1250)),
        ),
        "random_normal": (tf.random_normal_initializer(1.0, 0.5, seed=7)(SHAPE), _normal(1.0, 0.5)),
        "truncated_normal": (
            tf.truncated_normal_initializer(-1.0, 2.0, seed=8)(SHAPE),
            _truncated(-1.0, 2.0 * TRUNCATED_STDDEV),
        ),
        "random_uniform": (
            tf.random_uniform_initializer(-3.0, 5.0, seed=9)(SHAPE),
            _uniform(4.0, 1.0),
        ),
        "float64": (
            tf.random_normal_initializer(seed=10)(SHAPE, dtype=tf.float64),
            _normal(0.0, 1.0, np.float64),
        ),
    }


def _moments(x, mean, std, dtype=np.float32):
    assert x.dtype == dtype and x.shape == tuple(SHAPE)
    assert abs(x.mean() - mean) < 0.03 * std  # about 7 standard errors of the mean
    assert abs(x.std() / std - 1) < 0.02


def _uniform(limit, center=0.0):
    def check(x):
        _moments(x, center, limit / math.sqrt(3))
        lo, hi = x.min() - center, x.max() - center
        assert -limit <= lo < -0.999 * limit and 0.999 * limit < hi < limit

    return check


def _normal(mean, std, dtype=np.float32):
    def check(x):
        _moments(x, mean, std, dtype)
        z = np.abs(x - mean) / std
        assert z.max() > 3.5  # untruncated: P(no |z| > 3.5 in 60,000 draws) < e^-27
        assert abs((z < 1).mean() - 0.6827) < 0.01  # a normal, not a uniform (0.577)

    return check


def _truncated(mean, std):
    """A normal of stddev std / 0.8796 cut at two of its stddevs: the samples have `std`."""
    cut = 2 * std / TRUNCATED_STDDEV

    def check(x):
        _moments(x, mean, std)
        z = np.abs(x - mean)
        assert z.max() <= cut * (1 + 1e-6) and z.max() > 0.999 * cut
        assert abs((z < cut / 2).mean() - 0.6827 / 0.9545) < 0.01  # P(|z|<1) / P(|z|<2)

    return check


def test_random_initializers_draw_tf1s_distributions(target):
    draws = _draws()
    with tf.Session(target=target) as sess:
        values = sess.run({name: t for name, (t, _) in draws.items()})
    for name, (_, check) in draws.items():
        check(values[name])


# ---- constant initializers --------------------------------------------------------------------
def test_constant_initializers(target):
    ones = tf.ones_initializer()([2, 3])
    zeros = tf.zeros_initializer(dtype=tf.int32)([4])
    const = tf.constant_initializer(2.5)([2], dtype=tf.float64)
    padded = tf.constant_initializer(list(range(8)))(shape=[3, 4], dtype=tf.float32)
    exact = tf.initializers.constant([[1, 2], [3, 4]], dtype=tf.int64)([2, 2])
    with tf.Session(target=target) as sess:
        o, z, c, p, e = sess.run([ones, zeros, const, padded, exact])
    np.testing.assert_array_equal(o, np.ones((2, 3), np.float32))
    assert o.dtype == np.float32 and z.dtype == np.int32 and c.dtype == np.float64
    np.testing.assert_array_equal(z, [0, 0, 0, 0])
    np.testing.assert_array_equal(c, [2.5, 2.5])
    # TF1: a list shorter than the shape is padded with its last element
    np.testing.assert_array_equal(p, [[0, 1, 2, 3], [4, 5, 6, 7], [7, 7, 7, 7]])
    np.testing.assert_array_equal(e, [[1, 2], [3, 4]])
    assert e.dtype == np.int64


def test_constant_initializer_errors_are_tf1s():
    init = tf.constant_initializer(list(range(8)))
    with pytest.raises(
        ValueError, match=re.escape("Too many elements provided. Needed at most 6, but received 8")
    ):
        init([2, 3])
    with pytest.raises(ValueError, match=re.escape("Expected Tensor's shape: (3, 4), got (8,).")):
        tf.constant_initializer(list(range(8)), verify_shape=True)([3, 4])
    with pytest.raises(ValueError, match=re.escape("Invalid type for initial value: dict")):
        tf.constant_initializer({"a": 1})
    with pytest.raises(ValueError, match="no value to fill shape"):
        tf.constant_initializer([])([2])
    assert tf.constant_initializer([])([0, 3]).shape == (0, 3)


# ---- seeds ---------------------------------------------------------------------------------
def _seeded_values(graph_seed, op_seed, make=tf.truncated_normal_initializer):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(graph_seed)
        w = tf.get_variable("w", [50], initializer=make(seed=op_seed))
        with tf.Session(target="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(w)


@pytest.mark.parametrize(
    "make",
    [
        tf.truncated_normal_initializer,
        tf.random_normal_initializer,
        tf.random_uniform_initializer,
        tf.glorot_uniform_initializer,
        tf.glorot_normal_initializer,
        tf.variance_scaling_initializer,
    ],
    ids=["truncated", "normal", "uniform", "glorot_uniform", "glorot_normal", "scaling"],
)
def test_a_graph_seed_and_an_op_seed_reproduce_the_values(make):
    first = _seeded_values(1, 7, make)
    np.testing.assert_array_equal(first, _seeded_values(1, 7, make))
    assert not np.array_equal(first, _seeded_values(1, 8, make))  # another op seed
    assert not np.array_equal(first, _seeded_values(2, 7, make))  # another graph seed
    np.testing.assert_array_equal(_seeded_values(3, None, make), _seeded_values(3, None, make))


# ---- use, names and errors -------------------------------------------------------------------
def test_initializers_are_tf1s_classes_and_keep_their_config():
    assert tf.zeros_initializer is tf.initializers.zeros and isinstance(
        tf.zeros_initializer(), tf.zeros_initializer
    )
    assert tf.initializers.glorot_uniform is tf.glorot_uniform_initializer
    assert tf.initializers.truncated_normal is tf.truncated_normal_initializer
    assert tf.initializers.random_normal is tf.random_normal_initializer
    assert tf.initializers.random_uniform is tf.random_uniform_initializer
    assert tf.initializers.ones is tf.ones_initializer
    assert tf.initializers.glorot_normal is tf.glorot_normal_initializer
    init = tf.variance_scaling_initializer(2.0, mode="fan_out", distribution="uniform", seed=3)
    assert init.get_config() == {
        "scale": 2.0,
        "mode": "fan_out",
        "distribution": "uniform",
        "seed": 3,
        "dtype": "float32",
    }
    again = tf.variance_scaling_initializer.from_config(init.get_config())
    assert again.get_config() == init.get_config()
    assert tf.initializers.he_normal().get_config()["scale"] == 2.0
    assert tf.initializers.he_uniform().distribution == "uniform"
    assert tf.initializers.lecun_normal().mode == "fan_in"
    assert tf.initializers.lecun_uniform().scale == 1.0
    assert tf.constant_initializer(3).get_config()["value"] == 3
    assert tf.random_uniform_initializer(0, 2).get_config()["maxval"] == 2
    assert tf.random_normal_initializer(0, 2).get_config()["stddev"] == 2
    assert tf.glorot_uniform_initializer(seed=1).get_config() == {"seed": 1, "dtype": "float32"}
    assert tf.ones_initializer().get_config() == {"dtype": "float32"}


def test_initializers_module_initializes_variables(target):
    v = tf.Variable(1.0)
    local = tf.Variable(2.0, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    w = tf.Variable(3.0)
    with tf.Session(target=target) as sess:
        sess.run(tf.initializers.global_variables())
        sess.run(tf.initializers.local_variables())
        assert sess.run([v, local, w]) == [1.0, 2.0, 3.0]
    with tf.Session(target=target) as sess:
        sess.run(tf.initializers.variables([w]))
        assert sess.run(w) == 3.0
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized"):
            sess.run(v)


def test_integer_uniform_initializer_draws_every_value(target):
    draw = tf.random_uniform_initializer(0, 10, seed=1)([5000], dtype=tf.int32)
    with tf.Session(target=target) as sess:
        values = sess.run(draw)
    assert values.dtype == np.int32 and set(values.tolist()) == set(range(10))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: tf.random_normal_initializer(dtype=tf.int32),
            "Expected floating point type, got int32.",
        ),
        (
            lambda: tf.truncated_normal_initializer(dtype=tf.bool),
            "Expected floating point type, got bool.",
        ),
        (
            lambda: tf.glorot_uniform_initializer(dtype=tf.int64),
            "Expected floating point type, got int64.",
        ),
        (lambda: tf.variance_scaling_initializer(0.0), "`scale` must be positive float, got 0.0."),
        (
            lambda: tf.variance_scaling_initializer(1.0, "fan_sum"),
            "Invalid `mode` argument: 'fan_sum'",
        ),
        (
            lambda: tf.variance_scaling_initializer(1.0, "fan_in", "cauchy"),
            "Invalid `distribution` argument: 'cauchy'",
        ),
        (
            lambda: tf.ones_initializer()([None, 3]),
            "an initializer needs a fully known shape of ints >= 0, got [None, 3]",
        ),
        (lambda: tf.zeros_initializer()([-1]), "an initializer needs a fully known shape"),
        (lambda: tf.random_uniform_initializer(0)([3], tf.int32), "an integer dtype needs maxval"),
    ],
    ids=[
        "normal-int",
        "truncated-bool",
        "glorot-int",
        "scale",
        "mode",
        "distribution",
        "none-dim",
        "negative-dim",
        "int-maxval",
    ],
)
def test_bad_initializer_arguments_raise(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()
