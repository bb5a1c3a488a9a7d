"""IEEE special values give NumPy's results, bit for bit, on every target.

A table of ops, each with its expected value computed by NumPy, runs over NaN,
+-inf, -0.0, huge values (1e30, the dtype's max) and a few ordinary ones, in
float64 and float32, on the reference executor and on the compiled target
(default passes). Results must be bitwise equal, except that any NaN equals any
NaN: -0.0 and 0.0 differ, and so do an inf and the largest finite value. Ops
computed through libm (exp, tanh, ...) see only values where the result is
exact, since libm and NumPy may differ by an ulp on ordinary values. The log
of a softmax must have a finite gradient for logits far apart.
"""

import warnings

import numpy as np
import pytest

import graphc as tf

DTYPES = (np.float64, np.float32)


def _values(dtype, ordinary: bool) -> np.ndarray:
    big = float(np.finfo(dtype).max)
    special = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, big, -big]
    return np.array(special + ([2.5, -2.5, 0.5, -0.5, 1.5, -1.7, 3.0] if ordinary else []), dtype)


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(np.minimum(x, -x)))


# (id, graphc builder, NumPy, ordinary values too): one operand
UNARY = [
    ("floor", tf.floor, np.floor, True),
    ("ceil", tf.ceil, np.ceil, True),
    ("round", tf.round, np.round, True),  # half to even
    ("sign", tf.sign, np.sign, True),
    ("abs", tf.abs, np.abs, True),
    ("negative", tf.negative, np.negative, True),
    ("square", tf.square, np.square, True),
    ("sqrt", tf.sqrt, np.sqrt, True),
    ("relu", tf.nn.relu, lambda x: np.maximum(x, 0), True),
    ("relu6", tf.nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), True),
    ("leaky_relu", tf.nn.leaky_relu, lambda x: np.where(x > 0, x, x * 0.2), True),
    ("clip", lambda x: tf.clip_by_value(x, -1.0, 2.0), lambda x: np.clip(x, -1, 2), True),
    ("is_nan", tf.is_nan, np.isnan, True),
    ("is_finite", tf.is_finite, np.isfinite, True),
    ("elu", tf.nn.elu, _elu, False),
    ("softplus", tf.nn.softplus, _softplus, False),
    ("sigmoid", tf.sigmoid, lambda x: 1 / (1 + np.exp(-x)), False),
    ("tanh", tf.tanh, np.tanh, False),
    ("exp", tf.exp, np.exp, False),
    ("log", tf.log, np.log, False),
]
# two operands, every pair of values (a column against a row)
BINARY = [
    ("maximum", tf.maximum, np.maximum, True),
    ("minimum", tf.minimum, np.minimum, True),
    ("equal", tf.equal, np.equal, True),
    ("not_equal", tf.not_equal, np.not_equal, True),
    ("less", tf.less, np.less, True),
    ("less_equal", tf.less_equal, np.less_equal, True),
    ("greater", tf.greater, np.greater, True),
    ("greater_equal", tf.greater_equal, np.greater_equal, True),
    ("add", tf.add, np.add, True),
    ("multiply", tf.multiply, np.multiply, True),
    ("divide", tf.divide, np.divide, True),
    ("floordiv", tf.floordiv, np.floor_divide, True),
    ("mod", tf.mod, np.mod, True),
    ("pow", tf.pow, np.power, False),
]
# rows with NaN, infs, ties and signed zeros (no line holds both 0.0 and -0.0, whose order
# in a tie NumPy's vectorized reductions do not fix)
MATRIX = [
    [1.0, np.nan, 3.0, np.nan],
    [np.inf, 2.0, np.inf, -np.inf],
    [-np.inf, -np.inf, -np.inf, -np.inf],
    [5.0, 5.0, -1.0, 5.0],
    [np.nan, np.nan, np.nan, np.nan],
    [-0.0, -0.0, -1e30, -1.0],
    [1e30, -1e30, 7.0, np.nan],
]
REDUCE = [
    (f"{name}_axis{axis}", axis, build, want)
    for axis in (0, 1)
    for name, build, want in [
        ("argmax", tf.argmax, np.argmax),
        ("argmin", tf.argmin, np.argmin),
        ("reduce_max", tf.reduce_max, np.max),
        ("reduce_min", tf.reduce_min, np.min),
        ("reduce_sum", tf.reduce_sum, np.sum),
    ]
]
CASES = [c[0] for c in UNARY + BINARY + REDUCE]


def _expected(dtype) -> dict:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns on NaN and overflow
        for name, _, want, ordinary in UNARY:
            out[name] = np.asarray(want(_values(dtype, ordinary)))
        for name, _, want, ordinary in BINARY:
            v = _values(dtype, ordinary)
            out[name] = np.asarray(want(v[:, None], v[None, :]))
        m = np.array(MATRIX, dtype)
        for name, axis, _, want in REDUCE:
            out[name] = np.asarray(want(m, axis=axis))
    # NumPy keeps the dtype except in a few composites (a Python scalar operand)
    return {k: v if v.dtype.kind != "f" else v.astype(dtype) for k, v in out.items()}


def _build(dtype):
    g = tf.Graph()
    feeds, fetches = {}, {}
    with g.as_default():
        for name, build, _, ordinary in UNARY:
            v = _values(dtype, ordinary)
            x = tf.placeholder(dtype, v.shape)
            feeds[x], fetches[name] = v, build(x)
        for name, build, _, ordinary in BINARY:
            v = _values(dtype, ordinary)
            x, y = tf.placeholder(dtype, [len(v), 1]), tf.placeholder(dtype, [1, len(v)])
            feeds[x], feeds[y], fetches[name] = v[:, None], v[None, :], build(x, y)
        m = tf.placeholder(dtype, np.shape(MATRIX))
        feeds[m] = np.array(MATRIX, dtype)
        for name, axis, build, _ in REDUCE:
            fetches[name] = build(m, axis)
    return g, feeds, fetches


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """(got, want) per (target, dtype, case)."""
    cache = tmp_path_factory.mktemp("graphc-cache")
    out = {}
    for dtype in DTYPES:
        g, feeds, fetches = _build(dtype)
        want = _expected(dtype)
        for target in ("numpy", "cpu"):
            with tf.Session(g, target=target, cache_dir=cache) as sess:
                got = sess.run(fetches, feeds)
            for name in fetches:
                out[target, dtype.__name__, name] = (got[name], want[name])
    return out


def assert_same_bits(got, want, what: str) -> None:
    """Bitwise equal, except that any NaN equals any NaN."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg=f"{what}: NaN positions")
    bits = np.dtype(f"u{got.dtype.itemsize}")
    got, want = np.where(nan, 0, got).view(bits), np.where(nan, 0, want).view(bits)
    np.testing.assert_array_equal(got, want, err_msg=f"{what}: bits differ")


def test_assert_same_bits_tells_signed_zeros_and_nans_apart():
    assert_same_bits(np.array([np.nan, -0.0]), np.array([-np.nan, -0.0]), "NaN equals NaN")
    for got, want in [([0.0], [-0.0]), ([np.nan], [1.0]), ([np.inf], [np.finfo(float).max])]:
        with pytest.raises(AssertionError):
            assert_same_bits(np.array(got), np.array(want), "must differ")


@pytest.mark.compiled
@pytest.mark.parametrize("target", ["numpy", "cpu"])
@pytest.mark.parametrize("dtype", [d.__name__ for d in DTYPES])
@pytest.mark.parametrize("case", CASES)
def test_special_values_match_numpy(results, target, dtype, case):
    got, want = results[target, dtype, case]
    assert_same_bits(got, want, f"{case} ({dtype}) on {target}")


# ---- log of a softmax: a finite gradient where the softmax underflows -------------------
LOGITS = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
WEIGHTS = np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -3.0]])
LABELS = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        w = tf.placeholder(tf.float64, [None, 3])
        labels = tf.placeholder(tf.float64, [None, 3])
        xent = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=x)
        fetches = {
            "log(softmax)": tf.gradients(tf.reduce_sum(tf.log(tf.nn.softmax(x)) * w), x)[0],
            "log_softmax": tf.gradients(tf.reduce_sum(tf.nn.log_softmax(x) * w), x)[0],
            "xent": tf.gradients(tf.reduce_sum(xent * w[:, 0]), x)[0],
            "jvp log(softmax)": tf.jvp(tf.log(tf.nn.softmax(x)), x, w)[0],
            "jvp log_softmax": tf.jvp(tf.nn.log_softmax(x), x, w)[0],
        }
    return g, {x: LOGITS, w: WEIGHTS, labels: LABELS}, fetches


def _analytic() -> dict:
    p, w, labels = _softmax(LOGITS), WEIGHTS, LABELS
    grad = w - p * w.sum(axis=1, keepdims=True)  # d/dx sum(w * log_softmax(x))
    tangent = w - (p * w).sum(axis=1, keepdims=True)  # J w
    xent = w[:, :1] * (p * labels.sum(axis=1, keepdims=True) - labels)
    return {
        "log(softmax)": grad,
        "log_softmax": grad,
        "xent": xent,
        "jvp log(softmax)": tangent,
        "jvp log_softmax": tangent,
    }


@pytest.mark.compiled
@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_log_softmax_gradient_is_finite_for_far_apart_logits(target, tmp_path):
    g, feeds, fetches = _log_softmax_graph()
    with tf.Session(g, target=target, cache_dir=tmp_path) as sess:
        got = sess.run(fetches, feeds)
    for name, want in _analytic().items():
        assert np.isfinite(got[name]).all(), f"{name} on {target}: {got[name]}"
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-12, err_msg=name)


def test_stop_gradients_inside_log_softmax_are_respected():
    # the direct log-softmax gradient must not bypass a stop placed on the softmax
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [1, 3])
        p = tf.nn.softmax(x)
        grad = tf.gradients(tf.reduce_sum(tf.log(p)), x, stop_gradients=[p])[0]
    assert grad is None
