"""Pooling as TF1 computes it (graphc.ops.pool), on the reference and compiled targets.

Oracles: values derived by hand (ties, -inf borders, NaN, SAME's counts), central
finite differences in float64 (gradients and second derivatives), and the reference
executor for the compiled target. Each module fixture compiles one program for all of
its graphs (a Numba compile costs seconds).
"""

import numpy as np
import pytest

import graphc as tf
from graphc.ops.conv import out_size

EPS = 1e-6
NAN, INF = np.nan, np.inf


# ---- geometries: compiled vs reference, gradients and second derivatives vs differences ----
# (id, placeholder shape, fed shape, ksize, strides, padding); batch unknown everywhere
GEOMETRIES = [
    ("2x2-s2-same", [None, 6, 6, 1], (1, 6, 6, 1), (2, 2), (2, 2), "SAME"),
    ("3x3-s2-same-7x5", [None, 7, 5, 3], (1, 7, 5, 3), (3, 3), (2, 2), "SAME"),
    ("3x3-s1-valid", [None, 5, 6, 3], (1, 5, 6, 3), (3, 3), (1, 1), "VALID"),
    ("2x3-s12-same", [None, 5, 7, 1], (1, 5, 7, 1), (2, 3), (1, 2), "SAME"),
    ("2x3-s12-valid", [None, 4, 7, 3], (1, 4, 7, 3), (2, 3), (1, 2), "VALID"),
    ("3x3-s2-same-unknown-hw", [None, None, None, 3], (2, 7, 5, 3), (3, 3), (2, 2), "SAME"),
]
IDS = [g[0] for g in GEOMETRIES]


def _pooled_shape(shape, ksize, strides, padding):
    n, h, w, c = shape
    sizes = zip((h, w), ksize, strides, strict=True)
    return (n, *(out_size(d, k, s, padding) for d, k, s in sizes), c)


def _geometry_graph(seed, static, shape, ksize, strides, padding):
    """f(x) = sum(a * max_pool(x)**2) + sum(b * avg_pool(x)**2): its value, gradient, and
    the derivative of <gradient, d> (a Hessian-vector product), plus max_pool's jvp."""
    rng = np.random.default_rng(seed)
    pooled = _pooled_shape(shape, ksize, strides, padding)
    x = tf.placeholder(tf.float64, static)
    window = ([1, *ksize, 1], [1, *strides, 1], padding)
    m, v = tf.nn.max_pool(x, *window), tf.nn.avg_pool(x, *window)
    a, b = (tf.constant(rng.standard_normal(pooled)) for _ in range(2))
    f = tf.reduce_sum(a * m * m) + tf.reduce_sum(b * v * v)
    d = rng.standard_normal(shape)
    (grad,) = tf.gradients(f, x)
    (hvp,) = tf.gradients(tf.reduce_sum(grad * d), x)
    (jvp,) = tf.jvp(m, [x], [d])
    fetches = {"max": m, "avg": v, "f": f, "grad": grad, "hvp": hvp, "jvp": jvp}
    return x, rng.standard_normal(shape), d, fetches


@pytest.fixture(scope="module")
def geometries():
    """Per geometry: its graph, (x, value, direction, fetches) and the reference's
    results."""
    out = {}
    for k, (gid, *spec) in enumerate(GEOMETRIES):
        g = tf.Graph()
        with g.as_default():
            x, value, d, fetches = _geometry_graph(k, *spec)
        with tf.Session(g, target="numpy") as sess:
            out[gid] = (g, (x, value, d, fetches), sess.run(fetches, {x: value}))
    return out


@pytest.fixture(scope="module")
def compiled(geometries, tmp_path_factory):
    """The compiled results per geometry. Each geometry compiles on its own: one program
    holding them all took 45 s to compile, six programs 19 s (Numba's compile time grows
    faster than the program)."""
    cache = tmp_path_factory.mktemp("pool-cache")
    out = {}
    for gid, (g, (x, value, _, fetches), _) in geometries.items():
        with tf.Session(g, cache_dir=cache) as sess:
            out[gid] = sess.run(fetches, {x: value})
    return out


@pytest.mark.compiled
@pytest.mark.parametrize("gid", IDS)
def test_compiled_pools_and_their_derivatives_match_the_reference(geometries, compiled, gid):
    for key, want in geometries[gid][2].items():
        got = compiled[gid][key]
        assert got.shape == want.shape, key
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=key)


def _differences(geometries, gid, fetch):
    """(the reference's value of `fetch`, its central difference along the direction)."""
    g, (x, value, d, fetches), results = geometries[gid]
    with tf.Session(g, target="numpy") as sess:
        up, down = (sess.run(fetches[fetch], {x: value + s * EPS * d}) for s in (1, -1))
    return results, d, (up - down) / (2 * EPS)


@pytest.mark.parametrize("gid", IDS)
def test_gradient_matches_finite_differences(geometries, gid):
    results, d, numeric = _differences(geometries, gid, "f")
    np.testing.assert_allclose(np.sum(results["grad"] * d), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("gid", IDS)
def test_second_derivative_matches_finite_differences_of_the_gradient(geometries, gid):
    # random normal inputs have no ties, so the gradient is differentiable there (linear
    # in x near it: each window's maximum stays where it is)
    results, _, numeric = _differences(geometries, gid, "grad")
    np.testing.assert_allclose(results["hvp"], numeric, atol=1e-6)


@pytest.mark.parametrize("gid", IDS)
def test_max_pool_jvp_matches_finite_differences(geometries, gid):
    results, _, numeric = _differences(geometries, gid, "max")
    np.testing.assert_allclose(results["jvp"], numeric, atol=1e-6)


def test_pools_are_single_ops_without_a_patch_tensor(geometries):
    for g, _, _ in geometries.values():
        types = {op.type for op in g.get_operations()}
        assert {"MaxPool", "MaxPoolGrad", "MaxPoolGradGrad", "AvgPool", "AvgPoolGrad"} <= types
        assert not types & {"ExtractImagePatches", "PatchesToImage", "Max"}


# ---- values derived by hand ------------------------------------------------------------------
def _image(rows):
    """A (1, H, W, 1) float64 image from nested rows."""
    return np.asarray(rows, np.float64)[None, :, :, None]


def _hand_cases():
    """name -> (x, ksize, strides, padding, weights of the pooled values, want pooled,
    want gradient of sum(weights * pool(x)))."""
    ties_3ch = np.stack([np.full((2, 2), 7.0), [[0, 3], [3, 3]], [[1, 0], [2, 2]]], -1)[None]
    ties_3ch_grad = np.zeros((1, 2, 2, 3))
    ties_3ch_grad[0, 0, 0, 0] = ties_3ch_grad[0, 0, 1, 1] = ties_3ch_grad[0, 1, 0, 2] = 1
    return {
        # two windows of 5s: each sends its gradient to its first 5 (row-major), not split
        "max ties go to the first maximum": (
            _image([[1, 5, 5, 2], [5, 0, 1, 5]]),
            (2, 2),
            (2, 2),
            "VALID",
            np.ones((1, 1, 2, 1)),
            _image([[5, 5]]),
            _image([[0, 1, 1, 0], [0, 0, 0, 0]]),
        ),
        # overlapping windows of equal values: each picks its own top-left element
        "max ties in overlapping windows": (
            np.zeros((1, 3, 3, 1)),
            (2, 2),
            (1, 1),
            "VALID",
            np.ones((1, 2, 2, 1)),
            np.zeros((1, 2, 2, 1)),
            _image([[1, 1, 0], [1, 1, 0], [0, 0, 0]]),
        ),
        # one window, three channels: all equal -> (0,0); 3s -> (0,1); 2s -> (1,0)
        "max ties per channel": (
            ties_3ch,
            (2, 2),
            (2, 2),
            "VALID",
            np.ones((1, 1, 1, 3)),
            np.array([7.0, 3, 2]).reshape(1, 1, 1, 3),
            ties_3ch_grad,
        ),
        # 3x3/2 SAME pads one row and col at the top-left: windows whose real elements
        # are all -inf send their gradient to their first real element, never a pad
        "max of -inf at a padded border": (
            _image([[-INF, -INF, -INF], [-INF, -INF, -INF], [-INF, -INF, 5]]),
            (3, 3),
            (2, 2),
            "SAME",
            _image([[1, 2], [3, 4]]),
            _image([[-INF, -INF], [-INF, 5]]),
            _image([[1, 2, 0], [3, 0, 0], [0, 0, 4]]),
        ),
        # a NaN is the maximum (the value is NaN) and the first NaN takes the gradient,
        # also when it comes after a larger number
        "max with NaN": (
            _image([[1, NAN, 2, 3, 0, 9], [NAN, 4, 7, NAN, 8, 1]]),
            (2, 2),
            (2, 2),
            "VALID",
            _image([[1, 2, 3]]),
            _image([[NAN, NAN, 9]]),
            _image([[0, 1, 0, 0, 0, 3], [0, 0, 0, 2, 0, 0]]),
        ),
        # 3x3/2 SAME on 3x4: one padded row above and below, one padded col on the right;
        # the windows hold 6, 4, 6 and 4 real elements, and only those count
        "avg counts only real elements": (
            np.arange(12.0).reshape(1, 3, 4, 1),
            (3, 3),
            (2, 2),
            "SAME",
            _image([[1, 2], [3, 4]]),
            _image([[3, 4.5], [7, 8.5]]),
            _image(
                [
                    [1 / 6, 1 / 6, 1 / 6 + 2 / 4, 2 / 4],
                    [4 / 6, 4 / 6, 1 / 6 + 2 / 4 + 3 / 6 + 4 / 4, 2 / 4 + 4 / 4],
                    [3 / 6, 3 / 6, 3 / 6 + 4 / 4, 4 / 4],
                ]
            ),
        ),
    }


HAND = _hand_cases()


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    """target -> {case: (pooled, gradient)}: one program per target for all cases, run
    when a test first asks for that target."""
    g = tf.Graph()
    feeds, fetches = {}, {}
    with g.as_default():
        for name, (x, ksize, strides, padding, weights, _, _) in HAND.items():
            p = tf.placeholder(tf.float64, [None, *x.shape[1:]])
            pool = tf.nn.avg_pool if name.startswith("avg") else tf.nn.max_pool
            y = pool(p, [1, *ksize, 1], [1, *strides, 1], padding)
            fetches[name] = (y, tf.gradients(tf.reduce_sum(y * weights), p)[0])
            feeds[p] = x
    cache = tmp_path_factory.mktemp("pool-hand-cache")
    results = {}

    def run(target):
        if target not in results:
            with tf.Session(g, target=target, cache_dir=cache) as sess:
                results[target] = sess.run(fetches, feeds)
        return results[target]

    return run


@pytest.mark.parametrize("target", ["numpy", "cpu"])
@pytest.mark.parametrize("name", list(HAND))
def test_hand_derived_values_and_gradients(hand, target, name):
    pooled, grad = hand(target)[name]
    *_, want_pooled, want_grad = HAND[name]
    np.testing.assert_array_equal(pooled, want_pooled)  # NaN matches NaN
    np.testing.assert_allclose(grad, want_grad, rtol=1e-15, atol=0)


def test_only_nhwc_is_supported():
    x = tf.placeholder(tf.float32, [1, 2, 4, 4])
    with pytest.raises(NotImplementedError, match="MaxPool: data_format 'NCHW'"):
        tf.nn.max_pool(x, 2, 2, "SAME", data_format="NCHW")
    with pytest.raises(NotImplementedError, match="AvgPool: data_format 'NCHW'"):
        tf.nn.avg_pool(x, 2, 2, "SAME", data_format="NCHW")


def test_node_names_follow_tf1():
    x = tf.placeholder(tf.float32, [1, 4, 4, 1])
    assert tf.nn.max_pool(x, 2, 2, "SAME").op.name == "MaxPool"
    assert tf.nn.avg_pool(x, 2, 2, "SAME", name="pool1").op.name == "pool1"
    (gx,) = tf.gradients(tf.reduce_sum(tf.nn.max_pool(x, 2, 2, "VALID")), x)
    assert gx.op.type == "MaxPoolGrad"
