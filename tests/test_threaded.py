"""Threaded steps (graphc.codegen.context: a program that convolves) and graphc.blas.

A threaded step splits its convolution tiles, matrix products and pooled images between
Numba's threads, each calling BLAS on one thread. Oracles: NumPy's matmul for
graphc.blas's gemm on strided views; the reference executor for a compiled program that
holds every split (rows and columns, each transpose, pools of several geometries, batch
sizes that do not divide evenly); OpenBLAS's own thread count for `one_thread`.
"""

import sys
import warnings

import numpy as np
import pytest
from numba.core.errors import NumbaWarning

import graphc as tf
from graphc import blas
from graphc.codegen.emit_arrays import SPLIT_COLUMNS


# ---- graphc.blas ------------------------------------------------------------------------------
def _view(rng, shape, dtype, strided):
    """A random matrix of `shape`: C-contiguous, or a block of a wider, taller array."""
    if not strided:
        return rng.standard_normal(shape).astype(dtype)
    big = rng.standard_normal((shape[0] + 3, shape[1] + 5)).astype(dtype)
    return big[2 : 2 + shape[0], 3 : 3 + shape[1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_gemm_matches_numpy_on_strided_views(dtype, trans_a, trans_b, strided, beta):
    rng = np.random.default_rng(7)
    m, n, k = 5, 7, 6
    a = _view(rng, (k, m) if trans_a else (m, k), dtype, strided)
    b = _view(rng, (n, k) if trans_b else (k, n), dtype, strided)
    c = _view(rng, (m, n), dtype, strided)
    before = np.array(c)
    whole = c.base.copy() if c.base is not None else None
    gemm = blas.gemm32 if dtype == np.float32 else blas.gemm64
    gemm(a, b, c, trans_a, trans_b, beta)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b) + beta * before
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol)
    if whole is not None:  # nothing outside the view was written
        mask = np.ones(whole.shape, bool)
        mask[2 : 2 + m, 3 : 3 + n] = False
        np.testing.assert_array_equal(c.base[mask], whole[mask])


def test_gemm_with_beta_zero_ignores_what_c_held():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    c = np.full((2, 2), np.nan, np.float32)
    blas.gemm32(a, b, c, False, False, 0.0)
    np.testing.assert_array_equal(c, np.full((2, 2), 3, np.float32))


@pytest.mark.parametrize("beta", [0.0, 2.0])
def test_gemm_of_an_empty_sum_is_beta_times_c(beta):
    a, b = np.ones((3, 0)), np.ones((0, 2))
    c = np.full((3, 2), 1.5)
    blas.gemm64(a, b, c, False, False, beta)
    np.testing.assert_array_equal(c, np.full((3, 2), 1.5 * beta))


def test_gemm_of_an_empty_product_writes_nothing():
    c = np.ones((0, 4), np.float32)
    blas.gemm32(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32), c, False, False, 0.0)
    assert c.shape == (0, 4)


@pytest.mark.skipif(not blas.threads_settable(), reason="SciPy's BLAS is not OpenBLAS here")
def test_one_thread_holds_blas_on_one_thread_and_restores_it_after_an_error():
    get, put = blas._thread_functions()
    put(2)
    with blas.one_thread():
        assert get() == 1
    assert get() == 2
    with pytest.raises(ZeroDivisionError), blas.one_thread():
        assert get() == 1
        _ = 1 / 0
    assert get() == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="found through /proc")
def test_every_blas_on_one_thread_holds_numpys_openblas_too_and_restores_it():
    name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    libraries = blas._loaded_openblas()
    assert len(libraries) >= ("openblas" in name.lower()), name  # NumPy's, when it has one
    for _, put in libraries:
        put(2)
    with blas.every_blas_on_one_thread():
        assert [get() for get, _ in libraries] == [1] * len(libraries)
    with pytest.raises(ZeroDivisionError), blas.every_blas_on_one_thread():
        _ = 1 / 0
    assert [get() for get, _ in libraries] == [2] * len(libraries)


def test_threads_are_settable_where_scipy_links_openblas():
    import scipy

    name = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    assert blas.threads_settable() == ("openblas" in name.lower()), name


# ---- a threaded program against the reference executor ----------------------------------------
POOLS = [  # (ksize, strides, padding)
    ((3, 3), (2, 2), "SAME"),
    ((3, 2), (1, 2), "VALID"),
]
MATMULS = [  # (rows unknown (the batch) or a count, columns, transpose_a, transpose_b)
    (None, SPLIT_COLUMNS + 88, False, True),  # columns split
    (None, 300, False, False),  # rows split
    (SPLIT_COLUMNS + 40, 300, True, False),  # rows split of a transposed operand
    (SPLIT_COLUMNS + 40, SPLIT_COLUMNS + 88, True, True),  # columns split, both transposed
    (None, 6, False, False),  # too small to split: np.dot
]
CHANNELS = 16  # the convolution's: the products' inner size is 7 * 6 * CHANNELS


def _threaded_graph(dtype):
    """One program with a convolution (so it is threaded), pools of each geometry with
    their derivatives, and each kind of split matrix product with its gradients."""
    rng = np.random.default_rng(3)
    x = tf.placeholder(dtype, [None, 7, 6, 3], name="x")
    w = tf.constant(rng.standard_normal((3, 3, 3, CHANNELS)).astype(dtype) / 4)
    y = tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"))
    terms, fetches = [], {"y": y}
    for k, (ksize, strides, padding) in enumerate(POOLS):
        window = ([1, *ksize, 1], [1, *strides, 1], padding)
        m, v = tf.nn.max_pool(y, *window), tf.nn.avg_pool(y, *window)
        fetches[f"max{k}"], fetches[f"avg{k}"] = m, v
        terms += [tf.reduce_sum(m * m), tf.reduce_sum(v * v)]
    inner = 7 * 6 * CHANNELS
    flat = tf.reshape(y, [-1, inner])
    for k, (rows, cols, ta, tb) in enumerate(MATMULS):
        if rows is None:  # the batch's rows: flat @ B
            shape_b = (cols, inner) if tb else (inner, cols)
            b = tf.constant(rng.standard_normal(shape_b).astype(dtype))
            p = tf.matmul(flat, b, transpose_b=tb)
        else:  # A' @ B with A (batch x rows) and B (batch x cols), both made from flat
            a = tf.matmul(flat, tf.constant(rng.standard_normal((inner, rows)).astype(dtype)))
            b = tf.matmul(flat, tf.constant(rng.standard_normal((inner, cols)).astype(dtype)))
            p = tf.matmul(a, tf.transpose(b) if tb else b, transpose_a=ta, transpose_b=tb)
        fetches[f"matmul{k}"] = p
        terms.append(tf.reduce_sum(p * p) / 1e3)
    f = tf.add_n(terms)
    (gx,) = tf.gradients(f, x)
    fetches.update(f=f, gx=gx)
    return x, fetches


@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    """(dtype, the compiled step's source, reference results, compiled results). In
    float32 (W4's dtype); float64's gemm64 runs in test_conv's threaded program and above."""
    dtype = np.float32
    g = tf.Graph()
    with g.as_default():
        x, fetches = _threaded_graph(dtype)
    value = np.random.default_rng(5).standard_normal((10, 7, 6, 3)).astype(dtype)
    with tf.Session(g, target="numpy") as sess:
        want = sess.run(fetches, {x: value})
    cache = tmp_path_factory.mktemp("threaded")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumbaWarning)  # "cannot cache", among others
        with tf.Session(g, cache_dir=cache) as sess:
            step = sess.make_callable(list(fetches.values()), [x])
            got = dict(zip(fetches, step(value), strict=True))
            source = step.source
    return dtype, source, want, got


@pytest.mark.compiled
def test_a_threaded_step_matches_the_reference(threaded):
    dtype, _, want, got = threaded
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for key, value in want.items():
        assert got[key].shape == value.shape, key
        scale = max(float(np.max(np.abs(value), initial=0)), 1.0)
        np.testing.assert_allclose(got[key], value, rtol=tol, atol=tol * scale, err_msg=key)


@pytest.mark.compiled
def test_a_threaded_step_splits_products_and_pools_between_threads(threaded):
    _, source, _, _ = threaded
    assert 'parallel={"prange": True' in source
    assert "from graphc.blas import" in source and "one_thread" in source
    gemm = "gemm32(" if threaded[0] == np.float32 else "gemm64("
    # every large 2-D product and the filter gradient's sums go through graphc.blas's gemm
    assert source.count(gemm) >= len(MATMULS) - 1
    assert "[:, lo" in source  # a columns split
    assert source.count("for part") >= len(MATMULS) - 1
    assert "np.dot(" in source  # the small product, and the convolution's tiles


def test_gemm_refuses_shapes_that_make_no_product_and_other_layouts():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm32(a, b, np.empty((3, 3), np.float32), False, False, 0.0)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm32(a, b, np.empty((3, 2), np.float32), True, False, 0.0)
    with pytest.raises(ValueError, match="adjacent"):  # a column-major view
        blas.gemm32(np.ones((4, 3), np.float32).T, b, np.empty((3, 2), np.float32), False, False, 0)
    c = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="adjacent"):  # every other column
        blas.gemm32(a, b, c[:, ::2], False, False, 0.0)
