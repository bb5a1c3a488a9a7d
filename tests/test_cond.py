"""tf.cond and tf.case: values, only the taken branch running, derivatives, errors.

Oracles: NumPy computations of each branch, finite differences, TF1's documented
rules (a branch's captured inputs get zero gradient when the other branch runs; an op
returned by a branch becomes a bool output; singleton lists are unpacked unless
`strict`). Every test that runs a graph runs it on both targets.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.errors import DTypeError, GraphcError, InvalidArgumentError, ShapeError

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)


def test_cond_gives_the_branch_its_predicate_picks_in_any_structure(sess):
    x = tf.placeholder(tf.float32, [None, 3])
    p = tf.placeholder(tf.bool, [])
    out = tf.cond(
        p,
        lambda: {"a": tf.nn.relu(x) * 2.0, "b": (x + 1.0, tf.reduce_sum(x))},
        lambda: {"a": -x, "b": (x * x, tf.constant(7.0))},
    )
    assert out["a"].shape.as_list() == [None, 3] and out["b"][1].shape.as_list() == []
    got = sess.run(out, {x: X, p: True})
    np.testing.assert_allclose(got["a"], np.maximum(X, 0) * 2)
    np.testing.assert_allclose(got["b"][0], X + 1)
    np.testing.assert_allclose(got["b"][1], X.sum(), rtol=1e-6)
    got = sess.run(out, {x: X, p: False})
    np.testing.assert_allclose(got["a"], -X)
    np.testing.assert_allclose(got["b"][0], X * X)
    assert got["b"][1] == 7.0


def test_only_the_taken_branch_runs(sess, capfd):
    """An assign, a print and an assertion in a branch run only when it is taken; a run
    whose branch fails changes no variable."""
    v = tf.Variable(0.0)
    p = tf.placeholder(tf.bool, [])
    ok = tf.placeholder_with_default(True, [])

    def false_fn():
        with tf.control_dependencies([tf.Assert(ok, ["the false branch ran"])]):
            return v * 0.0 - 1.0

    out = tf.cond(p, lambda: tf.Print(tf.assign_add(v, 1.0), [v], "true ran "), false_fn)
    sess.run(tf.global_variables_initializer())
    assert sess.run(out, {p: True}) == 1.0
    assert sess.run(out, {p: True}) == 2.0
    assert "true ran" in capfd.readouterr().err
    assert sess.run(out, {p: False}) == -1.0
    assert capfd.readouterr().err == ""
    with pytest.raises(InvalidArgumentError, match="the false branch ran"):
        sess.run(out, {p: False, ok: False})
    assert sess.run(v) == 2.0


def test_a_read_after_a_cond_sees_the_branch_write_only_if_it_ran(sess):
    v = tf.Variable(3.0)
    p = tf.placeholder(tf.bool, [])
    c = tf.cond(p, lambda: tf.assign(v, 5.0), lambda: tf.identity(v))
    with tf.control_dependencies([c]):
        after = tf.identity(v)  # a read ordered after the cond
    sess.run(tf.global_variables_initializer())
    assert sess.run(after, {p: False}) == 3.0
    assert sess.run(after, {p: True}) == 5.0
    assert sess.run(v) == 5.0


def test_gradients_flow_through_the_taken_branch_only(sess):
    """d/dw and d/dx of cond(p, log(x) w, w^2 x): finite differences on each side; the
    log of negative x in the branch not taken sends no NaN into the gradient, and a
    tensor only the other branch reads gets zeros (TF1's Merge/Switch gradients)."""
    x = tf.placeholder(tf.float64, [3])
    w = tf.placeholder(tf.float64, [3])
    a = tf.placeholder(tf.float64, [])
    p = tf.placeholder(tf.bool, [])
    y = tf.reduce_sum(tf.cond(p, lambda: tf.log(x) * w * a, lambda: w * w * x))
    grads = tf.gradients(y, [x, w, a])

    def f(xv, wv, av, pv):
        return np.sum(np.log(xv) * wv * av) if pv else np.sum(wv * wv * xv)

    wv, av = np.array([0.3, -1.2, 2.0]), 1.5
    for pv, xv in ((True, np.array([0.5, 1.5, 2.5])), (False, np.array([-0.5, 1.5, -2.5]))):
        gx, gw, ga = sess.run(grads, {x: xv, w: wv, a: av, p: pv})
        assert sess.run(y, {x: xv, w: wv, a: av, p: pv}) == pytest.approx(f(xv, wv, av, pv))
        eps = 1e-6
        for k in range(3):
            e = np.eye(3)[k] * eps
            dx = (f(xv + e, wv, av, pv) - f(xv - e, wv, av, pv)) / (2 * eps)
            dw = (f(xv, wv + e, av, pv) - f(xv, wv - e, av, pv)) / (2 * eps)
            assert gx[k] == pytest.approx(dx, rel=1e-6) and gw[k] == pytest.approx(dw, rel=1e-6)
        assert ga == pytest.approx((f(xv, wv, av + eps, pv) - f(xv, wv, av - eps, pv)) / 2 / eps)
        assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gw))
    assert ga == 0.0  # a is read only by the branch not taken


def test_forward_mode_through_a_cond(sess):
    x = tf.placeholder(tf.float64, [2])
    p = tf.placeholder(tf.bool, [])
    y = tf.cond(p, lambda: tf.sin(x), lambda: x * x * x)
    (ty,) = tf.jvp([y], [x], [tf.constant([1.0, 2.0], tf.float64)])
    xv = np.array([0.3, -0.7])
    np.testing.assert_allclose(sess.run(ty, {x: xv, p: True}), np.cos(xv) * [1, 2])
    np.testing.assert_allclose(sess.run(ty, {x: xv, p: False}), 3 * xv * xv * [1, 2])


def test_nested_conds_and_case(sess):
    """tf.case picks the first true predicate's function (else the default), as nested
    conds; a cond nested in a branch reads tensors from two levels out."""
    k = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [2])
    y = tf.case(
        [(k < 0, lambda: x * 0.0), (tf.equal(k, 0), lambda: x + 1.0), (k < 10, lambda: x * 2.0)],
        default=lambda: tf.cond(k < 100, lambda: x - 3.0, lambda: tf.reduce_max(x) + 0.0 * x),
    )
    xv = np.array([1.0, 4.0], np.float32)
    want = {-2: xv * 0, 0: xv + 1, 5: xv * 2, 50: xv - 3, 500: np.full(2, 4.0)}
    for kv, w in want.items():
        np.testing.assert_allclose(sess.run(y, {k: kv, x: xv}), w)


def test_exclusive_case_fails_when_two_predicates_hold(sess):
    k = tf.placeholder(tf.int32, [])
    y = tf.case(
        {k > 0: lambda: tf.constant(1), k > 5: lambda: tf.constant(2)},
        default=lambda: tf.constant(0),
        exclusive=True,
    )
    assert sess.run(y, {k: 3}) == 1 and sess.run(y, {k: -1}) == 0
    with pytest.raises(InvalidArgumentError, match="More than one condition"):
        sess.run(y, {k: 7})


def test_a_training_switch_on_an_unshaped_bool_placeholder(sess, target):
    """The TF1 idiom: `is_training = tf.placeholder(tf.bool)` picks batch statistics or
    moving averages; both branches train through Adam, compiled like the reference."""
    x = tf.placeholder(tf.float32, [None, 3])
    is_training = tf.placeholder(tf.bool)
    w = tf.Variable(np.array([[0.5, -1.0], [0.25, 2.0], [-1.5, 0.75]], np.float32))
    moving = tf.Variable(np.zeros(2, np.float32), trainable=False)
    h = tf.matmul(x, w)

    def batch_stats():
        mean = tf.reduce_mean(h, axis=0)
        update = tf.assign(moving, 0.9 * moving + 0.1 * mean)
        with tf.control_dependencies([update]):
            return h - mean

    y = tf.cond(is_training, batch_stats, lambda: h - moving)
    loss = tf.reduce_mean(tf.square(y - 1.0))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    sess.run(tf.global_variables_initializer())
    xs = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0], [2.0, 0.5, -1.0]], np.float32)
    losses = [sess.run([loss, train], {x: xs, is_training: t})[0] for t in (True, True, False)]
    wv, mv = np.array(sess.run(w)), np.array(sess.run(moving))
    # the same steps, by hand in NumPy: Adam (TF1's update) on d loss / d w
    w_np, m_np = np.array([[0.5, -1.0], [0.25, 2.0], [-1.5, 0.75]]), np.zeros(2)
    m1, v1, want = np.zeros((3, 2)), np.zeros((3, 2)), []
    for step, training in enumerate((True, True, False), start=1):
        hv = xs @ w_np
        mean = hv.mean(axis=0) if training else m_np
        d = hv - mean - 1.0
        want.append(np.mean(d * d))
        g_h = 2 * d / d.size
        if training:
            g_h = g_h - g_h.mean(axis=0)  # through the batch mean
            m_np = 0.9 * m_np + 0.1 * hv.mean(axis=0)
        g = xs.T @ g_h
        m1, v1 = 0.9 * m1 + 0.1 * g, 0.999 * v1 + 0.001 * g * g
        lr = 0.1 * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
        w_np = w_np - lr * m1 / (np.sqrt(v1) + 1e-8)
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    np.testing.assert_allclose(wv, w_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, m_np, rtol=1e-5, atol=1e-6)


def test_branch_outputs_tf1_style():
    """Singleton lists unpack unless strict; an op returned becomes a bool tensor; a
    tensor from outside or a Python number is a branch output; shapes merge."""
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2, 3])
    z = tf.placeholder(tf.float32, [None, 3])
    assert isinstance(tf.cond(p, lambda: [x], lambda: [z]), tf.Tensor)
    assert isinstance(tf.cond(p, lambda: [x], lambda: [z], strict=True), list)
    assert tf.cond(p, lambda: x, lambda: z).shape.as_list() == [None, 3]
    assert tf.cond(p, lambda: x, lambda: tf.reshape(z, [-1])).shape is None
    v = tf.Variable(1.0)
    op = tf.cond(p, lambda: tf.assign(v, 2.0).op, lambda: tf.no_op())
    assert op.dtype == tf.bool
    both = tf.cond(p, lambda: 1.5, lambda: x[0, 0], name="pick")
    assert both.op.name == "pick/Merge" and both.op.type == "Merge"
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(op, {p: True}) and sess.run(v) == 2.0
        assert sess.run(both, {p: True, x: np.ones((2, 3))}) == 1.5
        assert sess.run(both, {p: False, x: np.full((2, 3), 4.0)}) == 4.0


def test_cond_errors_name_the_problem():
    p = tf.placeholder(tf.bool, [])
    x = tf.constant(1.0)
    with pytest.raises(TypeError, match="Python bool"):
        tf.cond(True, lambda: x, lambda: x)
    with pytest.raises(DTypeError, match="pred must be a bool tensor, got float32"):
        tf.cond(x, lambda: x, lambda: x)
    with pytest.raises(ShapeError, match=r"pred must be a scalar, got shape \[2\]"):
        tf.cond(tf.constant([True, False]), lambda: x, lambda: x)
    with pytest.raises(GraphcError, match="same structure"):
        tf.cond(p, lambda: (x, x), lambda: x)
    with pytest.raises(DTypeError, match=r"different dtypes \(float32, int32\)"):
        tf.cond(p, lambda: x, lambda: tf.constant(1))
    with pytest.raises(GraphcError, match="true_fn must return a value"):
        tf.cond(p, lambda: None, lambda: x)
    with pytest.raises(TypeError, match="false_fn must be callable"):
        tf.cond(p, lambda: x, x)
    with pytest.raises(TypeError, match="true_fn and fn1"):
        tf.cond(p, lambda: x, lambda: x, fn1=lambda: x)
    assert tf.get_default_graph().branches == []  # a failed branch leaves no context open


def test_the_generated_step_branches(tmp_path):
    """The compiled step holds one `if` for the forward merges and computes each side's
    ops inside it (the source is the user's view of what runs)."""
    p = tf.placeholder(tf.bool, [], name="p")
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.cond(p, lambda: tf.exp(x, name="e"), lambda: tf.negative(x, name="n"), name="c")
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable([y], [p, x])
        np.testing.assert_allclose(step(False, [1.0, 2.0, 3.0])[0], [-1, -2, -3])
    lines = step.source.splitlines()
    at = lines.index("    if p:")
    assert lines[at + 1 : at + 3] == [
        "        # c/e: f32[3] = exp c/Switch",
        "        c_e = np.empty((3,), np.float32)",
    ]
    assert "    else:" in lines[at:]
    assert lines[at - 1].startswith("    # tf.cond on p: c/Merge: f32[3] = merge p c/e c/n")


def test_passes_drop_a_constant_branch_and_join_the_two_sides_of_a_gradient():
    """A constant predicate leaves only its branch; d/dw of a cond reading w on both sides
    is one merge of the two sides' gradients (not a sum of two merges with zeros)."""
    x = tf.placeholder(tf.float32, [3])
    p = tf.placeholder(tf.bool, [])
    y = tf.cond(tf.constant(False), lambda: x * 2.0, lambda: x * 3.0)
    graph, _ = tf.optimize([y], [x])
    assert not any(n.opdef.name in ("merge", "switch") for n in graph.nodes)
    (gx,) = tf.gradients(tf.cond(p, lambda: tf.sin(x), lambda: x * x), [x])
    graph, _ = tf.optimize([gx], [x, p])
    assert [n.opdef.name for n in graph.nodes].count("merge") == 1
    with tf.Session(target="numpy") as sess:
        xv = np.array([0.5, -1.0, 2.0], np.float32)
        np.testing.assert_allclose(sess.run(y, {x: xv}), xv * 3)
        np.testing.assert_allclose(sess.run(gx, {x: xv, p: True}), np.cos(xv), rtol=1e-6)
        np.testing.assert_allclose(sess.run(gx, {x: xv, p: False}), 2 * xv)


def test_a_tensor_made_in_a_branch_can_be_fetched_beside_the_cond(sess):
    """TF1 raises for such a fetch; graphc computes the tensor whichever branch runs."""
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2])
    inner = []

    def true_fn():
        inner.append(x * 2.0)
        return inner[0] + 1.0

    y = tf.cond(p, true_fn, lambda: x)
    xv = np.array([1.0, -3.0], np.float32)
    got_y, got_inner = sess.run([y, inner[0]], {p: False, x: xv})
    np.testing.assert_array_equal(got_y, xv)
    np.testing.assert_array_equal(got_inner, 2 * xv)
    np.testing.assert_array_equal(sess.run(y, {p: True, x: xv}), 2 * xv + 1)


def test_case_without_a_default_needs_the_last_predicate(sess):
    """TF1: the last pair's function is the default, and a run where no predicate holds
    fails."""
    k = tf.placeholder(tf.int32, [])
    y = tf.case([(k < 0, lambda: tf.constant(-1)), (k > 10, lambda: tf.constant(1))])
    assert sess.run(y, {k: -5}) == -1 and sess.run(y, {k: 50}) == 1
    with pytest.raises(InvalidArgumentError, match="None of the conditions evaluated as True"):
        sess.run(y, {k: 5})
