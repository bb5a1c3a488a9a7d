"""Reverse and forward mode against central finite differences (float64), plus hand checks."""

import numpy as np
import pytest
from op_cases import ALL, input_dtype, make_input

import graphc as tf

EPS = 1e-6


def _float_output(case) -> bool:
    with tf.Graph().as_default():
        feeds = [tf.placeholder(input_dtype(k, "float64"), s) for k, s in case.inputs]
        return case.build(*feeds).dtype.is_floating


def _float_case(case) -> bool:
    # stop_gradient's gradient is zero by definition, not its finite difference
    floats = any(k in ("normal", "positive", "unit") for k, _ in case.inputs)
    return case.grad and floats and case.op != "stop_gradient" and _float_output(case)


GRAD_CASES = [c for c in ALL if _float_case(c)]


def _directional(loss_fn, arrays, directions, float_idx):
    """Central difference of loss_fn along `directions` (one per float input)."""

    def shifted(sign):
        xs = list(arrays)
        for i, d in zip(float_idx, directions, strict=True):
            xs[i] = arrays[i] + sign * EPS * d
        return loss_fn(xs)

    return (shifted(1) - shifted(-1)) / (2 * EPS)


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradient_and_jvp_match_finite_differences(case):
    rng = np.random.default_rng(1)
    arrays = [make_input(k, s, input_dtype(k, "float64"), rng) for k, s in case.inputs]
    float_idx = [i for i, a in enumerate(arrays) if a.dtype == np.float64]
    g = tf.Graph()
    with g.as_default():
        feeds = [tf.placeholder(a.dtype, a.shape) for a in arrays]
        out = case.build(*feeds)
        fed = dict(zip(feeds, arrays, strict=True))
        out_shape = tf.Session(g, target="numpy").run(out, fed).shape
        weights = tf.constant(rng.standard_normal(out_shape))
        loss = tf.reduce_sum(out * weights)
        xs = [feeds[i] for i in float_idx]
        grads = tf.gradients(loss, xs)
        directions = [rng.standard_normal(arrays[i].shape) for i in float_idx]
        (tangent,) = tf.jvp(out, xs, directions)
        forward = tf.reduce_sum(tangent * weights) if tangent is not None else None
    sess = tf.Session(g, target="numpy")

    def run(fetch, xs):
        return sess.run(fetch, dict(zip(feeds, xs, strict=True)))

    numeric = _directional(lambda xs: run(loss, xs), arrays, directions, float_idx)
    symbolic = sum(
        float(np.sum(run(gr, arrays) * d))
        for gr, d in zip(grads, directions, strict=True)
        if gr is not None
    )
    for gr, i in zip(grads, float_idx, strict=True):
        if gr is not None:
            assert gr.shape == feeds[i].shape  # broadcasting undone exactly
            assert run(gr, arrays).shape == arrays[i].shape
    np.testing.assert_allclose(symbolic, numeric, rtol=1e-6, atol=1e-7)
    fwd = 0.0 if forward is None else float(run(forward, arrays))
    np.testing.assert_allclose(fwd, numeric, rtol=1e-6, atol=1e-7)


def test_chain_rule_by_hand():
    # J = (w*x + b - y)^2 at w=2, x=3, b=1, y=4: r = 3, J = 9,
    # dJ/dw = 2 r x = 18, dJ/dx = 2 r w = 12, dJ/db = 2 r = 6, dJ/dy = -2 r = -6.
    w, x, b, y = (tf.constant(v, tf.float64) for v in (2.0, 3.0, 1.0, 4.0))
    J = tf.square(w * x + b - y)
    grads = tf.gradients(J, [w, x, b, y])
    with tf.Session(target="numpy") as sess:
        assert sess.run(J) == 9.0
        assert sess.run(grads) == [18.0, 12.0, 6.0, -6.0]


def test_softmax_cross_entropy_gradient_is_softmax_minus_labels():
    logits = tf.constant([[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]], tf.float64)
    labels = tf.constant([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], tf.float64)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    (g,) = tf.gradients(loss, logits)
    with tf.Session(target="numpy") as sess:
        lv, gv = sess.run([loss, g])
    e = np.exp([1.0, 2.0, 3.0])
    p0 = e / e.sum()
    assert np.isfinite(lv) and np.isfinite(gv).all()  # a logit of 1000 stays finite
    np.testing.assert_allclose(lv, -np.log(p0[2]) + 1000.0, rtol=1e-12)
    np.testing.assert_allclose(gv, [p0 - [0, 0, 1], [-1.0, 0.0, 1.0]], atol=1e-12)


def _mlp_loss(params, x, y):
    w1, b1, w2 = params
    h = tf.tanh(tf.matmul(x, w1) + b1)
    return tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))


def test_hessian_vector_product_matches_finite_differences_of_gradient():
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,), (4, 1)]
    values = [rng.standard_normal(s) for s in shapes]
    params = [tf.placeholder(tf.float64, s) for s in shapes]
    x = tf.constant(rng.standard_normal((5, 3)))
    y = tf.constant(rng.standard_normal((5, 1)))
    loss = _mlp_loss(params, x, y)
    grads = tf.gradients(loss, params)
    vs = [rng.standard_normal(s) for s in shapes]
    dot = tf.add_n([tf.reduce_sum(gr * v) for gr, v in zip(grads, vs, strict=True)])
    hvp = tf.gradients(dot, params)  # second derivatives: H v
    sess = tf.Session(target="numpy")

    def grad_at(vals):
        return sess.run(grads, dict(zip(params, vals, strict=True)))

    up = grad_at([p + EPS * v for p, v in zip(values, vs, strict=True)])
    down = grad_at([p - EPS * v for p, v in zip(values, vs, strict=True)])
    got = sess.run(hvp, dict(zip(params, values, strict=True)))
    for h, u, d in zip(got, up, down, strict=True):
        np.testing.assert_allclose(h, (u - d) / (2 * EPS), rtol=1e-5, atol=1e-8)


def test_full_hessian_of_small_mlp():
    rng = np.random.default_rng(3)
    w = tf.placeholder(tf.float64, [3])
    x = tf.constant(rng.standard_normal((4, 3)))
    loss = tf.reduce_sum(tf.nn.softplus(tf.einsum("ij,j->i", x, w)) ** 2)
    (g,) = tf.gradients(loss, w)
    rows = [tf.gradients(g[i], w)[0] for i in range(3)]
    w0 = rng.standard_normal(3)
    sess = tf.Session(target="numpy")
    hessian = np.stack(sess.run(rows, {w: w0}))
    numeric = np.stack(
        [
            (sess.run(g, {w: w0 + EPS * e}) - sess.run(g, {w: w0 - EPS * e})) / (2 * EPS)
            for e in np.eye(3)
        ]
    )
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-12)


def test_unconnected_gradient_is_none_and_stop_gradient_blocks():
    a, b = tf.placeholder(tf.float32, [2]), tf.placeholder(tf.float32, [2])
    y = tf.reduce_sum(a * 2.0 + tf.stop_gradient(b))
    ga, gb, gy = tf.gradients(y, [a, b, y])
    assert gb is None
    with tf.Session(target="numpy") as sess:
        np.testing.assert_array_equal(sess.run(ga, {a: [1, 2], b: [3, 4]}), [2, 2])
        assert sess.run(gy, {a: [1, 2], b: [3, 4]}) == 1.0
    assert tf.gradients(y, [a], stop_gradients=[a * 2.0])[0] is not None


def test_gradient_of_nonscalar_without_grad_ys_is_that_of_its_sum():
    x = tf.placeholder(tf.float32, [None, 3])
    (g,) = tf.gradients(x * x, x)  # TF1's default grad_ys: ones, i.e. d sum(x*x) / dx
    (seeded,) = tf.gradients(x * x, x, grad_ys=tf.ones_like(x))
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session(target="numpy") as sess:
        np.testing.assert_array_equal(sess.run(g, {x: xv}), 2 * xv)
        np.testing.assert_array_equal(sess.run(seeded, {x: xv}), 2 * xv)


def test_broadcast_gradient_over_unknown_batch():
    x = tf.placeholder(tf.float32, [None, 3])
    b = tf.Variable(np.zeros(3, np.float32))
    s = tf.Variable(np.float32(2.0))
    loss = tf.reduce_sum((x + b) * s)
    gb, gs = tf.gradients(loss, [b, s])
    assert gb.shape == (3,) and gs.shape == ()
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        xv = np.arange(12, dtype=np.float32).reshape(4, 3)
        np.testing.assert_allclose(sess.run(gb, {x: xv}), [8, 8, 8])
        np.testing.assert_allclose(sess.run(gs, {x: xv}), xv.sum())


def test_integer_paths_get_no_gradient():
    x = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(tf.cast(tf.cast(x, tf.int32), tf.float32))
    assert tf.gradients(y, x) == [None]


def test_jvp_of_unconnected_output_is_none():
    x, z = tf.placeholder(tf.float64, [2]), tf.placeholder(tf.float64, [2])
    assert tf.jvp([x * 2.0, z + 1.0], [x], [np.ones(2)])[1] is None


def test_compute_gradient_error_is_small_for_correct_gradients():
    x = tf.placeholder(tf.float64, [2, 3])
    y = tf.nn.softmax(tf.sin(x) * 3.0)
    err = tf.test.compute_gradient_error(x, [2, 3], y, [2, 3])
    assert err < 1e-5  # central differences with TF's delta=1e-3: O(delta**2) error


def test_compute_gradient_error_detects_a_wrong_gradient():
    x = tf.placeholder(tf.float64, [3])
    # x + stop_gradient(x**2 - x) equals x**2 but its symbolic gradient is 1, not 2x.
    y = x + tf.stop_gradient(x * x - x)
    err = tf.test.compute_gradient_error(x, [3], y, [3], x_init_value=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(err, 5.0, rtol=1e-6)  # |2*3 - 1|


# ---- edges of gradients / jvp found by mutation testing (docs/testing.md) -----------------
def _ref(fetches, feeds=None):
    with tf.Session(target="numpy") as sess:
        return sess.run(fetches, feeds)


def test_grad_ys_takes_python_values_in_y_dtype_and_checks_their_shape():
    x = tf.constant([1.0, 2.0, 3.0], tf.float64)
    y = x * x
    (g,) = tf.gradients(y, x, grad_ys=[[1.0, 0.5, -2.0]])  # a Python value for a float64 y
    assert g.dtype == tf.float64
    np.testing.assert_array_equal(_ref(g), [2.0, 2.0, -12.0])  # 2 x * grad_ys
    with pytest.raises(tf.errors.ShapeError, match="grad_ys"):
        tf.gradients(y, x, grad_ys=[[1.0, 2.0]])


def test_gradients_of_a_size_one_y_need_no_grad_ys_and_non_float_ys_send_none():
    x = tf.constant([[3.0]], tf.float64)
    (g,) = tf.gradients(tf.square(x), x)  # shape (1, 1)
    np.testing.assert_array_equal(_ref(g), [[6.0]])
    assert tf.gradients(tf.square(tf.constant([1.0, 2.0])), []) == []
    k = tf.constant([1, 2])
    assert tf.gradients(tf.reduce_sum(k), [k]) == [None]  # integers carry no gradient


@pytest.mark.parametrize("stop_first", [True, False], ids=["stop-built-last", "stop-built-first"])
def test_a_stopped_node_does_not_end_backpropagation_elsewhere(stop_first):
    # y = b * c with b = 2a (stopped) and c = tanh(3a): dy/da = b * 3 (1 - c^2) = 6a (1 - c^2)
    a = tf.placeholder(tf.float64, [2])
    if stop_first:
        c = tf.tanh(a * 3.0)
        b = a * 2.0
    else:
        b = a * 2.0
        c = tf.tanh(a * 3.0)
    (g,) = tf.gradients(tf.reduce_sum(b * c), a, stop_gradients=[b])
    av = np.array([0.3, -0.7])
    np.testing.assert_allclose(_ref(g, {a: av}), 6 * av * (1 - np.tanh(3 * av) ** 2), rtol=1e-12)


def test_no_gradient_flows_into_integer_inputs():
    i = tf.placeholder(tf.int32, [3])
    x = tf.placeholder(tf.float64, [3])
    y = tf.reduce_sum(tf.cast(i, tf.float64) * x)
    gi, gx = tf.gradients(y, [i, x])
    assert gi is None
    np.testing.assert_array_equal(_ref(gx, {i: [1, -2, 3], x: [0.0, 0.0, 0.0]}), [1, -2, 3])


def test_unbroadcast_with_an_operand_of_unknown_rank():
    x = tf.placeholder(tf.float64, None)  # unknown rank: the gradient sums at run time
    b = tf.placeholder(tf.float64, [3])
    seed = tf.placeholder(tf.float64, None)
    gx, gb = tf.gradients(x + b, [x, b], grad_ys=[seed])
    feeds = {x: np.zeros((2, 3)), b: np.zeros(3), seed: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}
    got_x, got_b = _ref([gx, gb], feeds)
    np.testing.assert_array_equal(got_x, feeds[seed])
    np.testing.assert_array_equal(got_b, [5.0, 7.0, 9.0])  # summed over the broadcast rows
    assert tf.reduce_sum(x).shape == ()  # a full reduction of unknown rank is a scalar


def test_reduce_prod_gradient_with_zeros_by_hand():
    x = tf.constant([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]], tf.float64)
    (g,) = tf.gradients(tf.reduce_sum(tf.reduce_prod(x, 1) * [1.0, 1.0, 2.0]), x)
    # d prod / d x_i = product of the others: one zero -> only the zero gets it, two -> none
    np.testing.assert_array_equal(_ref(g), [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [12.0, 6.0, 4.0]])


def test_jvp_broadcasts_a_tangent_of_a_smaller_input():
    x = tf.placeholder(tf.float64, [3])
    y = tf.placeholder(tf.float64, [2, 3])
    (t,) = tf.jvp(x * y, [x], [[1.0, 0.0, -1.0]])  # a Python tangent takes x's dtype
    assert t.shape == (2, 3) and t.dtype == tf.float64
    yv = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(_ref(t, {x: np.ones(3), y: yv}), yv * [1.0, 0.0, -1.0])


def test_jvp_of_linear_ops_with_some_tangents_missing_and_of_non_float_outputs():
    x = tf.placeholder(tf.float64, [2])
    z = tf.placeholder(tf.float64, [2])
    (t,) = tf.jvp(tf.concat([x, z], 0), [x], [[1.0, 2.0]])  # z's part of the tangent is 0
    np.testing.assert_array_equal(_ref(t, {x: np.ones(2), z: np.ones(2)}), [1.0, 2.0, 0.0, 0.0])
    assert tf.jvp(tf.cast(x, tf.int32), [x], [[1.0, 1.0]]) == [None]
    assert tf.jvp(tf.floor(x), [x], [[1.0, 1.0]]) == [None]  # floor has no derivative rule


F32_GRAD_CASES = [c for c in GRAD_CASES if c.dtype == "float32"]


@pytest.mark.parametrize("case", F32_GRAD_CASES, ids=[c.name for c in F32_GRAD_CASES])
def test_float32_gradients_keep_float32_and_agree_with_float64(case):
    # the float64 finite-difference checks above cannot see a rule that builds a float64
    # node (graphc never promotes: a float32 graph would then fail or silently widen)
    values = {}
    for dtype in ("float64", "float32"):
        rng = np.random.default_rng(3)  # the same inputs and weights for both dtypes
        arrays = [make_input(k, s, input_dtype(k, dtype), rng) for k, s in case.inputs]
        with tf.Graph().as_default() as g:
            feeds = [tf.placeholder(a.dtype, a.shape) for a in arrays]
            out = case.build(*feeds)
            fed = dict(zip(feeds, arrays, strict=True))
            shape = tf.Session(g, target="numpy").run(out, fed).shape
            weights = tf.constant(rng.standard_normal(shape), out.dtype)
            floats = [p for p in feeds if p.dtype.is_floating]
            grads = tf.gradients(tf.reduce_sum(out * weights), floats)
            for p, gr in zip(floats, grads, strict=True):
                assert gr is None or gr.dtype == p.dtype, f"{case.name}: {gr} for {p}"
            present = [gr for gr in grads if gr is not None]
            with tf.Session(g, target="numpy") as sess:
                values[dtype] = sess.run(present, fed)
    for lo, hi in zip(values["float32"], values["float64"], strict=True):
        assert lo.dtype == np.float32
        np.testing.assert_allclose(lo, hi, rtol=2e-3, atol=2e-3)


def test_jvp_of_where_and_matmul_with_one_tangent():
    c = tf.constant([True, False, True])
    x = tf.placeholder(tf.float64, [3])
    y = tf.placeholder(tf.float64, [3])
    a = tf.placeholder(tf.float64, [2, 2])
    b = tf.placeholder(tf.float64, [2, 2])
    (tw,) = tf.jvp(tf.where(c, x, y), [y], [[1.0, 2.0, 3.0]])  # x's branch contributes 0
    (tm,) = tf.jvp(tf.matmul(a, b), [b], [[[1.0, 0.0], [0.0, 1.0]]])  # d(ab) = a db
    av = np.array([[1.0, 2.0], [3.0, 4.0]])
    got_w, got_m = _ref([tw, tm], {x: np.ones(3), y: np.ones(3), a: av, b: np.eye(2)})
    np.testing.assert_array_equal(got_w, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(got_m, av)


def test_concat_gradient_of_three_pieces_of_different_sizes():
    parts = [tf.placeholder(tf.float64, [2, k]) for k in (1, 2, 3)]
    out = tf.concat(parts, 1)
    weights = np.arange(12.0).reshape(2, 6)
    grads = tf.gradients(tf.reduce_sum(out * weights), parts)
    got = _ref(grads, {p: np.zeros(p.shape) for p in parts})
    for g, want in zip(got, np.split(weights, [1, 3], axis=1), strict=True):
        np.testing.assert_array_equal(g, want)


def test_gradients_through_reshape_and_tile_with_unknown_dims():
    x = tf.placeholder(tf.float64, [None, None])
    flat = tf.reshape(x, [-1])
    tiled = tf.tile(tf.placeholder(tf.float64, [None, 2]), [2, 3])
    t_in = tiled.op.inputs[0]
    gx, gt = tf.gradients(
        tf.reduce_sum(flat * tf.range(6.0, dtype=tf.float64)) + tf.reduce_sum(tiled), [x, t_in]
    )
    got_x, got_t = _ref([gx, gt], {x: np.zeros((2, 3)), t_in: np.zeros((3, 2))})
    np.testing.assert_array_equal(got_x, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(got_t, np.full((3, 2), 6.0))  # each element tiled 2 x 3 times
