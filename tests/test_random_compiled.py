"""Random ops run compiled (target "cpu"): distributions and seed determinism.

One graph builder holds every random op (random_normal, its raw standard-normal form,
random_uniform float and int32/int64, truncated_normal, dropout with keep_prob / rate /
noise_shape / a batch-sized input). Graphs built from it compile to the same module, so
one cold compile serves every session here (the others load it from the cache folder).

Distributions: N = 20000 draws; every statistic is checked against its exact expected value
within 5 standard errors derived from the distribution (mean, stddev, bin counts of a
histogram, the truncated normal's tail mass just inside its bounds, which a clip instead of
a redraw would inflate 4-fold). Determinism: with an op seed and a graph seed, draws repeat
in a fresh session and in a rebuilt graph, equal the NumPy reference target's bit for bit,
change from one run to the next, and change with either seed.
"""

import itertools
import math

import numpy as np
import pytest

import graphc as tf

N = 20000
ROWS, COLS = 2000, 8  # dropout with noise_shape [ROWS, 1]
BATCH = 5000  # dropout of a placeholder with a None batch dim
Z = 5.0  # tolerance, in standard errors
VALUES = np.linspace(0.1, 3.0, N).astype(np.float32)  # dropout input: no zeros


def build(graph_seed):
    """A graph holding every random op; returns (graph, placeholder, {name: tensor})."""
    g = tf.Graph()
    with g.as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        ops = {
            "normal": tf.random_normal([N], mean=3.0, stddev=2.0, seed=1),
            "standard": tf.random_normal([N], seed=2),  # the bare standard-normal op
            "normal64": tf.random_normal([N], mean=-1.0, stddev=0.5, dtype=tf.float64, seed=3),
            "uniform": tf.random_uniform([N], minval=-1.0, maxval=3.0, seed=4),
            "uniform64": tf.random_uniform([N], dtype=tf.float64, seed=5),
            "int32": tf.random_uniform([N], 2, 9, dtype=tf.int32, seed=6),
            "int64": tf.random_uniform([N], -3, 4, dtype=tf.int64, seed=7),
            "truncated": tf.truncated_normal([N], mean=1.0, stddev=0.5, dtype=tf.float64, seed=8),
            "truncated32": tf.truncated_normal([N], stddev=2.0, seed=9),
            "twin_a": tf.random_normal([16], seed=10),
            "twin_b": tf.random_normal([16], seed=10),
            "other_seed": tf.random_normal([16], seed=11),
            "unseeded": tf.random_normal([16]),
            "scalar": tf.random_uniform([], seed=12),
            "dropout_keep": tf.nn.dropout(tf.ones([N]), keep_prob=0.75, seed=13),
            "dropout_rate": tf.nn.dropout(tf.constant(VALUES), rate=0.4, seed=14),
            "dropout_rows": tf.nn.dropout(
                tf.ones([ROWS, COLS]), keep_prob=0.5, noise_shape=[ROWS, 1], seed=15
            ),
            "dropout_batch": tf.nn.dropout(x, keep_prob=0.6, seed=16),
        }
    return g, x, ops


def build_small(graph_seed):
    """A second, small graph (a new seed means a new compile): an op with the op seed of
    "twin_a" and an unseeded one."""
    g = tf.Graph()
    with g.as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        ops = {"seeded": tf.random_normal([16], seed=10), "unseeded": tf.random_normal([16])}
    return g, None, ops


OPS = list(build(None)[2])
FEED = np.ones((BATCH, 4), np.float32)


def _run(builder, graph_seed, cache, runs=2, target="cpu"):
    g, x, ops = builder(graph_seed)
    kwargs = {"target": "numpy"} if target == "numpy" else {"cache_dir": cache}
    feed = {} if x is None else {x: FEED}
    with tf.Session(g, **kwargs) as sess:
        return [sess.run(ops, feed) for _ in range(runs)]


@pytest.fixture(scope="module")
def draws(tmp_path_factory):
    cache = tmp_path_factory.mktemp("graphc-cache")
    return {
        "cpu": _run(build, 1234, cache),
        "cpu_again": _run(build, 1234, cache),  # a rebuilt graph in a fresh session
        "numpy": _run(build, 1234, cache, target="numpy"),
        "other_graph_seed": _run(build_small, 99, cache, runs=1)[0],
        "op_seeds_only": _run(build_small, None, cache, runs=1)[0],
        "op_seeds_only_again": _run(build_small, None, cache, runs=1)[0],
    }


@pytest.fixture(scope="module")
def first(draws):
    return draws["cpu"][0]


def _phi(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _cdf(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _assert_near(value, expected, se, what):
    assert abs(value - expected) <= Z * se, f"{what}: {value} vs {expected} +- {Z}*{se}"


def _assert_counts(counts, probs, what):
    """Bin counts against bin probabilities: each within Z binomial standard deviations."""
    n = counts.sum()
    for i, (c, p) in enumerate(zip(counts, probs, strict=True)):
        _assert_near(c, n * p, math.sqrt(n * p * (1 - p)), f"{what} bin {i}")


def _assert_normal(x, mean, std, what):
    n = x.size
    _assert_near(x.mean(), mean, std / math.sqrt(n), f"{what} mean")
    _assert_near(x.std(), std, std / math.sqrt(2 * n), f"{what} std")  # normal: Var(s) = s^2/2n
    edges = mean + std * np.array([-np.inf, -2, -1, -0.5, 0, 0.5, 1, 2, np.inf])
    probs = np.diff([_cdf(e) if np.isfinite(e) else float(e > 0) for e in (edges - mean) / std])
    _assert_counts(np.histogram(x, edges)[0], probs, what)


# ---- distributions ----------------------------------------------------------------------------
NORMALS = {
    "normal": (3.0, 2.0, np.float32),
    "standard": (0.0, 1.0, np.float32),
    "normal64": (-1.0, 0.5, np.float64),
}


@pytest.mark.parametrize("name", list(NORMALS), ids=list(NORMALS))
def test_normal_distribution(first, name):
    mean, std, dtype = NORMALS[name]
    x = first[name]
    assert x.dtype == dtype and x.shape == (N,)
    _assert_normal(x.astype(np.float64), mean, std, name)


UNIFORMS = {"uniform": (-1.0, 3.0, np.float32), "uniform64": (0.0, 1.0, np.float64)}


@pytest.mark.parametrize("name", list(UNIFORMS), ids=list(UNIFORMS))
def test_uniform_float_distribution(first, name):
    lo, hi, dtype = UNIFORMS[name]
    x = first[name]
    assert x.dtype == dtype and x.shape == (N,)
    assert x.min() >= lo and x.max() < hi  # [minval, maxval)
    # both ends are reached: P(no draw within 0.25% of an end) = 0.9975^N < 1e-21
    width = hi - lo
    assert x.min() < lo + 0.0025 * width and x.max() > hi - 0.0025 * width
    x = x.astype(np.float64)
    _assert_near(x.mean(), (lo + hi) / 2, width / math.sqrt(12 * N), f"{name} mean")
    counts = np.histogram(x, np.linspace(lo, hi, 11))[0]
    _assert_counts(counts, [0.1] * 10, name)


INTS = {"int32": (2, 9, np.int32), "int64": (-3, 4, np.int64)}


@pytest.mark.parametrize("name", list(INTS), ids=list(INTS))
def test_uniform_int_distribution(first, name):
    lo, hi, dtype = INTS[name]
    x = first[name]
    assert x.dtype == dtype and x.shape == (N,)
    assert x.min() >= lo and x.max() < hi  # maxval excluded
    values, counts = np.unique(x, return_counts=True)
    assert values.tolist() == list(range(lo, hi))  # every value hit
    _assert_counts(counts, [1 / (hi - lo)] * (hi - lo), name)


def _truncated_mass(a, b):
    """P(a < Z < b) for Z standard normal truncated to [-2, 2]."""
    return (_cdf(b) - _cdf(a)) / (_cdf(2) - _cdf(-2))


TRUNCATED = {"truncated": (1.0, 0.5, np.float64), "truncated32": (0.0, 2.0, np.float32)}


@pytest.mark.parametrize("name", list(TRUNCATED), ids=list(TRUNCATED))
def test_truncated_normal_distribution(first, name):
    mean, std, dtype = TRUNCATED[name]
    x = first[name]
    assert x.dtype == dtype and x.shape == (N,)
    assert np.abs(x.astype(np.float64) - mean).max() <= 2 * std
    z = (x.astype(np.float64) - mean) / std
    # moments of the standard normal truncated to [-2, 2]
    mass = _cdf(2) - _cdf(-2)
    var = 1 - 2 * 2 * _phi(2) / mass  # 0.8796^2
    fourth = 3 - 2 * (2**3 + 3 * 2) * _phi(2) / mass
    assert math.sqrt(var) == pytest.approx(0.8796, abs=1e-4)
    _assert_near(z.mean(), 0.0, math.sqrt(var / N), f"{name} mean")
    se_var = math.sqrt((fourth - var**2) / N)
    _assert_near(z.std(), math.sqrt(var), se_var / (2 * math.sqrt(var)), f"{name} std")
    # values beyond 2 stddevs are redrawn, not clipped or zeroed: no pile at +-2 or at 0
    edges = np.linspace(-2, 2, 17)
    probs = [_truncated_mass(a, b) for a, b in itertools.pairwise(edges)]
    _assert_counts(np.histogram(z, edges)[0], probs, name)
    tail = _truncated_mass(1.9, 2) * 2  # about 1.25%; clipping would make it about 5.7%
    _assert_near(np.mean(np.abs(z) > 1.9), tail, math.sqrt(tail * (1 - tail) / N), "tail")


def test_scalar_draw(draws):
    values = [r["scalar"] for r in draws["cpu"]]
    for v in values:
        assert np.shape(v) == () and np.asarray(v).dtype == np.float32 and 0 <= v < 1
    assert values[0] != values[1]


# ---- dropout ----------------------------------------------------------------------------------
def _assert_dropout(y, x, keep, what):
    kept = y != 0
    scaled = x / np.asarray(keep, x.dtype)  # float32 division, as TF1's x / keep_prob
    np.testing.assert_array_equal(y[kept], scaled[kept])  # exactly, bit for bit
    _assert_near(kept.mean(), keep, math.sqrt(keep * (1 - keep) / kept.size), what)


def test_dropout_keep_prob(first):
    y = first["dropout_keep"]
    assert y.dtype == np.float32 and y.shape == (N,)
    assert set(np.unique(y).tolist()) == {0.0, float(np.float32(1) / np.float32(0.75))}
    _assert_dropout(y, np.ones(N, np.float32), 0.75, "keep_prob")


def test_dropout_rate(first):
    y = first["dropout_rate"]
    _assert_dropout(y, VALUES, 1 - 0.4, "rate")


def test_dropout_noise_shape_drops_whole_rows(first):
    y = first["dropout_rows"]
    assert y.shape == (ROWS, COLS)
    row_kept = y[:, 0] != 0
    want = np.where(row_kept[:, None], np.float32(2.0), np.float32(0.0))
    np.testing.assert_array_equal(y, np.broadcast_to(want, (ROWS, COLS)))
    _assert_near(row_kept.mean(), 0.5, math.sqrt(0.25 / ROWS), "rows kept")


def test_dropout_of_batch_placeholder(first):
    y = first["dropout_batch"]
    assert y.shape == FEED.shape
    _assert_dropout(y, FEED, 0.6, "batch")


def test_dropout_masks_are_independent_across_runs(draws):
    a, b = (r["dropout_keep"] != 0 for r in draws["cpu"])
    # two independent keep-0.75 masks agree on a fraction 0.75^2 + 0.25^2 = 0.625
    _assert_near(np.mean(a == b), 0.625, math.sqrt(0.625 * 0.375 / N), "mask agreement")


# ---- seeds and determinism --------------------------------------------------------------------
@pytest.mark.parametrize("name", OPS, ids=OPS)
def test_compiled_draws_equal_reference_bit_for_bit(draws, name):
    for compiled, reference in zip(draws["cpu"], draws["numpy"], strict=True):
        got, want = np.asarray(compiled[name]), np.asarray(reference[name])
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", OPS, ids=OPS)
def test_same_seeds_repeat_in_fresh_session_and_rebuilt_graph(draws, name):
    for a, b in zip(draws["cpu"], draws["cpu_again"], strict=True):
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("name", OPS, ids=OPS)
def test_consecutive_runs_draw_new_values(draws, name):
    first, second = draws["cpu"]
    assert not np.array_equal(first[name], second[name])


def test_other_graph_seed_draws_other_values(draws):
    # the same op seed (10) under graph seed 99 instead of 1234
    assert not np.array_equal(draws["other_graph_seed"]["seeded"], draws["cpu"][0]["twin_a"])


def test_op_seed_alone_is_reproducible(draws):
    a, b = draws["op_seeds_only"]["seeded"], draws["op_seeds_only_again"]["seeded"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draws["cpu"][0]["twin_a"])  # the graph seed takes part too


def test_without_any_seed_each_session_draws_fresh(draws):
    a, b = draws["op_seeds_only"]["unseeded"], draws["op_seeds_only_again"]["unseeded"]
    assert not np.array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (16,)


def test_same_seed_pair_gives_same_sequence_other_op_seed_does_not(draws):
    for run in draws["cpu"]:
        np.testing.assert_array_equal(run["twin_a"], run["twin_b"])
        assert not np.array_equal(run["twin_a"], run["other_seed"])
