"""Convolutions (graphc.ops.conv: Conv2D and TF's two gradient ops) on both targets.

Oracles: direct convolution loops in NumPy (tests/op_cases.py), central finite
differences in float64 for gradients, hand-derived formulas for the jvp and the
second derivative of f = sum(a * conv(x, w)**2), and the reference executor for the
compiled target. One module fixture compiles one program holding every geometry.
"""

import numpy as np
import pytest
from op_cases import _conv_ref

import graphc as tf
from graphc.codegen.emit_conv import TILE_ROWS

# (id, placeholder shape, fed shape, filter shape, stride, padding); batch unknown everywhere
GEOMETRIES = [
    ("5x5-s1-same-c1", [None, 9, 9, 1], (2, 9, 9, 1), (5, 5, 1, 3), 1, "SAME"),
    ("3x3-s2-same-odd-c3-b1", [None, 7, 5, 3], (1, 7, 5, 3), (3, 3, 3, 2), 2, "SAME"),
    ("2x4-s2-same-even", [None, 6, 7, 2], (2, 6, 7, 2), (2, 4, 2, 3), 2, "SAME"),
    ("4x4-s3-valid", [None, 8, 7, 1], (1, 8, 7, 1), (4, 4, 1, 2), 3, "VALID"),
    ("3x3-s1-valid-c3", [None, 5, 6, 3], (3, 5, 6, 3), (3, 3, 3, 4), 1, "VALID"),
    ("1x1-s1", [None, 3, 4, 3], (2, 3, 4, 3), (1, 1, 3, 2), 1, "SAME"),
    ("1x1-s2", [None, 5, 5, 2], (1, 5, 5, 2), (1, 1, 2, 2), 2, "SAME"),
    ("3x3-s2-unknown-hw", [None, None, None, 2], (2, 6, 7, 2), (3, 3, 2, 3), 2, "SAME"),
    # 1024 positions an image: tiles of one image, in blocks of 2 and 3 images (2 threads)
    ("3x3-tiles", [None, 32, 32, 1], (5, 32, 32, 1), (3, 3, 1, 2), 1, "SAME"),
]
IDS = [g[0] for g in GEOMETRIES]


def _oracle_f(x, w, a, stride, padding):
    y = _conv_ref(x, w, stride, padding)
    return float(np.sum(a * y * y))


def _build(seed, static, shape, wshape, stride, padding):
    """f = sum(a * y**2) with y = conv2d(x, w): y, f, both gradients, the directional
    second derivative <H d, d> through the gradient ops, and y's jvp along d."""
    rng = np.random.default_rng(seed)
    x = tf.placeholder(tf.float64, static)
    w = tf.placeholder(tf.float64, wshape)
    y = tf.nn.conv2d(x, w, stride, padding)
    out = _conv_ref(np.zeros((1, *shape[1:])), np.zeros(wshape), stride, padding).shape
    a = rng.standard_normal((1, *out[1:]))
    f = tf.reduce_sum(tf.constant(a) * y * y)
    gx, gw = tf.gradients(f, [x, w])
    dx, dw = tf.placeholder(tf.float64, static), tf.placeholder(tf.float64, wshape)
    hx, hw = tf.gradients(tf.reduce_sum(gx * dx) + tf.reduce_sum(gw * dw), [x, w])
    second = tf.reduce_sum(hx * dx) + tf.reduce_sum(hw * dw)
    (jvp,) = tf.jvp(y, [x, w], [dx, dw])
    values = [rng.standard_normal(s) for s in (shape, wshape, shape, wshape)]
    fetches = {"y": y, "f": f, "gx": gx, "gw": gw}
    return [x, w, dx, dw], values, fetches, a, {"second": second, "jvp": jvp}


@pytest.fixture(scope="module")
def geometries(tmp_path_factory):
    """Per geometry: feeds, values, the reference's and the compiled target's results.
    The jvp and second derivatives run on the reference only: they are made of the same
    three ops, and compiling them too would double the compile (to 40 s)."""
    g = tf.Graph()
    built = {}
    with g.as_default():
        for k, (gid, static, shape, wshape, stride, padding) in enumerate(GEOMETRIES):
            built[gid] = _build(k, static, shape, wshape, stride, padding)
    feeds = [f for b in built.values() for f in b[0]]
    values = [v for b in built.values() for v in b[1]]
    fetches = {gid: b[2] for gid, b in built.items()}
    results = {}
    with tf.Session(g, target="numpy") as sess:
        results["forward mode"] = sess.run(
            {gid: b[4] for gid, b in built.items()}, dict(zip(feeds, values, strict=True))
        )
    cache = tmp_path_factory.mktemp("conv")
    for target in ("numpy", "cpu"):
        with tf.Session(g, target=target, cache_dir=cache) as sess:
            step = sess.make_callable(fetches, feeds)
            results[target] = step(*values)
            empty = [np.zeros((0, *v.shape[1:])) if k % 2 == 0 else v for k, v in enumerate(values)]
            results[target + "-empty"] = step(*empty)
            if target == "cpu":
                results["source"] = step.source
    return built, results


@pytest.mark.parametrize("gid", IDS)
def test_compiled_matches_the_reference(geometries, gid):
    _, results = geometries
    for key in ("y", "f", "gx", "gw"):
        want = results["numpy"][gid][key]
        np.testing.assert_allclose(results["cpu"][gid][key], want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("gid", IDS)
def test_an_empty_batch_gives_empty_outputs_and_zero_filter_gradients(geometries, gid):
    _, results = geometries
    cpu, ref = results["cpu-empty"][gid], results["numpy-empty"][gid]
    assert cpu["y"].shape[0] == 0 and cpu["gx"].shape[0] == 0
    assert cpu["f"] == 0.0 and not cpu["gw"].any() and not ref["gw"].any()


@pytest.mark.parametrize("gid", IDS)
def test_values_and_derivatives_match_the_oracles(geometries, gid):
    built, results = geometries
    _, (x, w, dx, dw), _, a, _ = built[gid]
    _, _, _, _, stride, padding = GEOMETRIES[IDS.index(gid)]
    got = results["cpu"][gid]
    np.testing.assert_allclose(got["y"], _conv_ref(x, w, stride, padding), rtol=1e-12)
    # the gradient along (dx, dw) against central differences of the NumPy oracle
    eps = 1e-6
    plus = _oracle_f(x + eps * dx, w + eps * dw, a, stride, padding)
    minus = _oracle_f(x - eps * dx, w - eps * dw, a, stride, padding)
    along = np.sum(got["gx"] * dx) + np.sum(got["gw"] * dw)
    np.testing.assert_allclose(along, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-6)
    # y is bilinear: its jvp is conv(dx, w) + conv(x, dw), and f's second derivative
    # along d is 2 sum(a * jvp**2) + 4 sum(a * y * conv(dx, dw))
    jvp = _conv_ref(dx, w, stride, padding) + _conv_ref(x, dw, stride, padding)
    more = results["forward mode"][gid]
    np.testing.assert_allclose(more["jvp"], jvp, rtol=1e-10, atol=1e-10)
    y, cross = got["y"], _conv_ref(dx, dw, stride, padding)
    second = 2 * np.sum(a * jvp * jvp) + 4 * np.sum(a * y * cross)
    np.testing.assert_allclose(more["second"], second, rtol=1e-10)


def test_the_compiled_code_works_through_tiles_without_a_batch_of_patches(geometries):
    source = geometries[1]["source"]
    assert "ExtractImagePatches" not in source and "PatchesToImage" not in source
    assert "# images per tile" in source  # computed where the window counts are unknown
    assert TILE_ROWS // (32 * 32) < 2  # the tiles geometry's blocks hold several tiles


def test_a_cnn_trains_to_the_same_losses_compiled_and_on_the_reference(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((16, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    losses = {}
    for target in ("numpy", "cpu"):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(1)
            x = tf.placeholder(tf.float32, [None, 8, 8, 1])
            y = tf.placeholder(tf.int64, [None])
            h = tf.layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
            h = tf.layers.max_pooling2d(h, 2, 2)
            h = tf.layers.conv2d(h, 8, 3, strides=2, padding="valid", activation=tf.nn.relu)
            logits = tf.layers.dense(tf.layers.flatten(h), 10)
            loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
            train = tf.train.AdamOptimizer(0.01).minimize(loss)
            with tf.Session(target=target, cache_dir=tmp_path) as sess:
                sess.run(tf.global_variables_initializer())
                step = sess.make_callable([train, loss], [x, y])
                losses[target] = [step(images, labels)[1] for _ in range(20)]
    np.testing.assert_allclose(losses["cpu"], losses["numpy"], rtol=2e-4)
    assert losses["cpu"][-1] < 0.5 * losses["cpu"][0]  # it learns
