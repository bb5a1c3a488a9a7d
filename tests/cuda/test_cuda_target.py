"""The cuda target (graphc.backends.cuda) on numba's CUDA simulator.

Oracles: the reference executor for every op case the target computes (tiny shapes:
the simulator runs each GPU thread as a Python thread), the CPU target's losses for an
MLP trained a few steps, and the errors each refusal must give.
"""

import numpy as np
import pytest
from op_cases import ALL, input_dtype, make_input

import graphc as tf
from graphc.codegen.cuda import unsupported
from graphc.errors import GraphcError, InvalidArgumentError
from graphc.graph import Graph

TOL = {"float32": 2e-5, "float64": 1e-11}


def _build(case, rng):
    g = tf.Graph()
    with g.as_default():
        arrays = [make_input(k, s, input_dtype(k, case.dtype), rng) for k, s in case.inputs]
        nodes = [tf.placeholder(a.dtype, a.shape) for a in arrays]
        out = case.build(*nodes)
    return g, dict(zip(nodes, arrays, strict=True)), out


def _computed_on_cuda(case) -> bool:
    """Cases of the ops the target computes (graphc.codegen.cuda), no float16."""
    if case.dtype == "float16":
        return False
    _, _, out = _build(case, np.random.default_rng(0))
    nodes = Graph.from_outputs([out]).nodes
    return not unsupported(nodes) and all(
        n.type is None or n.dtype.name != "float16" for n in nodes
    )


CASES = [c for c in ALL if _computed_on_cuda(c)]


def test_the_cases_cover_every_kind_of_op_the_target_computes():
    ops = {c.op for c in CASES}
    assert {"add", "exp", "matmul", "reduce_sum", "reduce_max", "argmax", "one_hot"} <= ops
    assert {"broadcast_like", "reshape", "cast", "check_labels"} <= ops
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_op_on_cuda_gives_the_reference_result(case):
    g, feeds, out = _build(case, np.random.default_rng(1))
    with tf.Session(g, target="numpy") as ref, tf.Session(g, target="cuda") as cuda:
        want = np.asarray(ref.run(out, feeds))
        got = np.asarray(cuda.run(out, feeds))
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        tol = TOL[got.dtype.name]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def _mlp():
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 6], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.name_scope("hidden"):
        w = tf.Variable(rng.normal(0, 0.5, (6, 5)).astype(np.float32), name="w")
        b = tf.Variable(np.zeros(5, np.float32), name="b")
        h = tf.nn.relu(tf.matmul(x, w) + b)
    logits = tf.layers.dense(h, 3, kernel_initializer=tf.glorot_uniform_initializer(seed=2))
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    feeds = {x: rng.normal(size=(4, 6)).astype(np.float32), y: np.array([0, 2, 1, 2])}
    return x, y, w, loss, train, accuracy, feeds


def test_an_mlp_trains_to_the_cpu_targets_losses_with_its_variables_on_the_device(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("GRAPHC_CUDA_CUPY", "0")  # graphc's own kernel also where CuPy works
    x, y, w, loss, train, accuracy, feeds = _mlp()
    losses = {}
    for target in ("cpu", "cuda"):
        with tf.Session(target=target, cache_dir=tmp_path) as sess:
            sess.run(tf.global_variables_initializer())
            step = sess.make_callable([train, loss, accuracy], [x, y])
            losses[target] = [step(*feeds.values())[1:] for _ in range(3)]
            trained = sess.run(w)
            if target == "cuda":
                # a variable set from outside reaches the device before the next run
                w.load(np.zeros((6, 5), np.float32), sess)
                assert sess.run(tf.reduce_sum(tf.abs(w))) == 0.0
                saver = tf.train.Saver()
                path = saver.save(sess, str(tmp_path / "ckpt"))
                saver.restore(sess, path)
                np.testing.assert_array_equal(sess.run(w), np.zeros((6, 5), np.float32))
                source, launches = step.source, step.launches
        if target == "cpu":
            cpu_trained = trained
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-5)
    np.testing.assert_allclose(trained, cpu_trained, rtol=1e-5, atol=1e-6)
    assert "@cuda.jit\ndef k_hidden_MatMul(out, a0, a1):" in source
    assert "k_hidden_MatMul: hidden/MatMul (MatMul), 16x16 tiles (16x16-thread blocks)" in launches
    # the CPU's fusion decisions: the bias add and the ReLU in one kernel, and its gradient
    fused = [line for line in launches if line.startswith("k_fused")]
    assert any(": hidden/AddV2, hidden/Relu, " in line for line in fused)
    assert len(fused) >= 5 and len(launches) < 40
    assert any("a block per output element (a tree of up to 128 threads)" in x for x in launches)
    assert all(line.startswith(("k_", "gemm: ")) and ", " in line for line in launches)


def test_reductions_fold_long_slices_in_a_tree_per_output_element():
    """Slices longer than a block's threads (each thread folds several elements), NaN
    winning a maximum, booleans, an empty slice (the identity), a full reduction, and
    few outputs of slices long enough to be cut in parts (a second kernel folds them)."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(300, 3)).astype(np.float32)
    b = rng.normal(size=(2, 260))
    b[1, 200] = np.nan
    c = rng.random((3, 150)) < 0.99
    c[0] = True
    x, y, z = (tf.placeholder(v.dtype, v.shape) for v in (a, b, c))
    e = tf.placeholder(tf.float32, [4, 0])
    long_ = rng.normal(size=(2, 4500)).astype(np.float32)
    with_nan = long_.copy()
    with_nan[1, 4321] = np.nan
    big, nan = tf.placeholder(tf.float32, [2, 4500]), tf.placeholder(tf.float32, [2, 4500])
    fetches = [
        tf.reduce_sum(x, 0),
        tf.reduce_max(y, 1),
        tf.reduce_min(y, 1, keepdims=True),
        tf.reduce_all(z, 1),
        tf.reduce_any(tf.logical_not(z), 1),
        tf.reduce_sum(e, 1),
        tf.reduce_mean(x),
    ]
    feeds = {x: a, y: b, z: c, e: np.zeros((4, 0), np.float32)}
    with tf.Session(target="cuda") as sess:
        got = sess.run(fetches, feeds)
        summed = tf.reduce_sum(big, name="total")
        total, maxima = sess.run([summed, tf.reduce_max(nan, 1)], {big: long_, nan: with_nan})
        launches = "\n".join(sess.make_callable(summed, [big]).launches)
    source = sess.make_callable(summed, [big]).source
    assert "k_total: total (Sum), a block per output element" in launches
    assert "k_finish_sum_float64_to_float32[tree(total.size, total_tree[2])[:2]]" in source
    np.testing.assert_allclose(total, long_.sum(dtype=np.float64), rtol=1e-6)
    np.testing.assert_array_equal(maxima, np.max(with_nan, 1))  # NaN wins through its part
    np.testing.assert_allclose(got[0], a.sum(0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_array_equal(got[1], np.max(b, 1))
    np.testing.assert_array_equal(got[2], np.min(b, 1, keepdims=True))
    np.testing.assert_array_equal(got[3], c.all(1))
    np.testing.assert_array_equal(got[4], (~c).any(1))
    np.testing.assert_array_equal(got[5], np.zeros(4, np.float32))
    np.testing.assert_allclose(got[6], a.mean(dtype=np.float64), rtol=1e-6)


def test_bad_labels_fail_the_run_naming_the_op_and_change_no_variable():
    x, y, w, _, train, _, feeds = _mlp()
    with tf.Session(target="cuda") as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(w)
        with pytest.raises(InvalidArgumentError, match=r"a label is not in \[0, 3\).*created at"):
            sess.run(train, {x: feeds[x], y: np.array([0, 7, 1, 2])})
        np.testing.assert_array_equal(sess.run(w), before)


def test_an_op_it_does_not_compute_yet_is_named():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    y = tf.gather(x, [1, 0], name="picked")
    with tf.Session(target="cuda") as sess, pytest.raises(GraphcError, match=r"'picked'.*no cuda"):
        sess.run(y, {x: np.ones((2, 3), np.float32)})


def _cnn():
    rng = np.random.default_rng(3)
    x = tf.placeholder(tf.float32, [None, 6, 6, 1], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    init = tf.glorot_uniform_initializer(seed=4)
    h = tf.layers.conv2d(x, 2, 3, padding="same", activation=tf.nn.relu, kernel_initializer=init)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.average_pooling2d(h, 2, 1, padding="same")
    logits = tf.layers.dense(tf.layers.flatten(h), 3, kernel_initializer=init)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    feeds = {x: rng.normal(size=(2, 6, 6, 1)).astype(np.float32), y: np.array([0, 2])}
    return x, y, loss, train, feeds


def test_a_small_cnn_trains_to_the_cpu_targets_losses(tmp_path):
    x, y, loss, train, feeds = _cnn()
    losses = {}
    for target in ("cpu", "cuda"):
        with tf.Session(target=target, cache_dir=tmp_path) as sess:
            sess.run(tf.global_variables_initializer())
            step = sess.make_callable([train, loss], [x, y])
            losses[target] = [step(*feeds.values())[1] for _ in range(3)]
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-5)
    assert losses["cuda"][-1] < losses["cuda"][0]


def test_random_ops_draw_from_their_distributions_and_continue_their_streams():
    tf.set_random_seed(1)
    u = tf.random_uniform([30, 40], -1.0, 3.0)
    n = tf.random_normal([2000], mean=1.0, stddev=2.0, dtype=tf.float64)
    t = tf.truncated_normal([2000], stddev=0.5)
    i = tf.random_uniform([1000], 3, 9, dtype=tf.int32)
    with tf.Session(target="cuda") as sess:
        a, b, c, d = sess.run([u, n, t, i])
        again = sess.run(u)  # another step (another executable): the stream goes on
    assert a.dtype == np.float32 and b.dtype == np.float64 and d.dtype == np.int32
    assert a.min() >= -1.0 and a.max() < 3.0 and abs(a.mean() - 1.0) < 0.1
    assert abs(b.mean() - 1.0) < 0.15 and abs(b.std() - 2.0) < 0.15
    assert np.abs(c).max() <= 1.0 and 0.35 < c.std() < 0.5  # two stddevs, redrawn beyond
    assert d.min() == 3 and d.max() == 8
    assert (again != a).mean() > 0.99
    with tf.Session(target="cuda") as sess:  # the same seeds: the same values
        np.testing.assert_array_equal(sess.run(u), a)


def test_dropout_on_the_device_keeps_its_fraction_and_trains():
    x, _, w, loss, _, _, feeds = _mlp()
    keep = tf.placeholder_with_default(1.0, [], name="keep")
    dropped = tf.nn.dropout(tf.ones([50, 40]), keep)
    hidden = tf.nn.dropout(tf.nn.relu(tf.matmul(x, w)), keep)
    loss2 = loss + 0.01 * tf.reduce_sum(hidden)
    train2 = tf.train.GradientDescentOptimizer(0.05).minimize(loss2)
    with tf.Session(target="cuda") as sess:
        sess.run(tf.global_variables_initializer())
        mask = sess.run(dropped, {keep: 0.7})
        assert set(np.unique(mask)) <= {0.0, np.float32(1 / 0.7)}
        assert abs((mask > 0).mean() - 0.7) < 0.05
        values = [sess.run([train2, loss2], {**feeds, keep: 0.8})[1] for _ in range(4)]
    assert all(np.isfinite(values))


def test_steps_share_the_variables_on_the_device_and_copy_back_only_when_read():
    x, y, w, loss, train, accuracy, feeds = _mlp()
    with tf.Session(target="cpu") as cpu:
        cpu.run(tf.global_variables_initializer())
        for _ in range(3):
            cpu.run(train, feeds)
        want = cpu.run([loss, accuracy], feeds)
    with tf.Session(target="cuda") as sess:
        sess.run(tf.global_variables_initializer())
        step = sess.make_callable(train, [x, y])
        for _ in range(3):
            step(*feeds.values())
        assert len(sess.store._deferred) == 3  # nothing copied back yet
        got = sess.run([loss, accuracy], feeds)  # another step: the device's variables
        assert len(sess.store._deferred) == 3
        np.testing.assert_allclose(got, want, rtol=1e-5)
        saved = sess.store.values[w]  # the host reads: everything comes back, in order
        assert not sess.store._deferred
        np.testing.assert_array_equal(saved, sess.run(w))


def test_with_cublas_the_products_call_gemm_and_nothing_else_changes():
    """`generate(cupy=True)` (a real GPU with CuPy: graphc.backends.cuda.use_cupy):
    each matmul, forward and gradient, becomes a call of the module's `gemm`."""
    from graphc.backends.cpu import build_program
    from graphc.codegen.cuda import generate
    from graphc.executable import lower
    from graphc.graph import as_op_node

    x, y, _, loss, train, _, _ = _mlp()
    targets = [(as_op_node(train), True), (as_op_node(loss), False)]
    program = build_program(lower(targets, [as_op_node(x), as_op_node(y)], None))
    own, cublas = generate(program), generate(program, cupy=True)
    assert "import cupy" in cublas.source and "import cupy" not in own.source
    assert "empty = cuda.device_array" in own.source  # numba's allocator, else CuPy's pool
    assert "return cuda.as_cuda_array(cupy.empty(shape, dtype), sync=False)" in cublas.source
    products = [line for line in own.launches if "(MatMul)" in line]
    calls = [line for line in cublas.launches if line.startswith("gemm: ")]
    assert len(calls) == len(products) == 5
    assert "gemm(hidden_MatMul, x, hidden_w_buffer, False, False)" in cublas.source
    assert not any("(MatMul)" in line for line in cublas.launches if "gemm" not in line)


@pytest.mark.parametrize("name", ["mlp_adam_step", "fused_kernel"])
def test_the_golden_cuda_modules_compute_what_the_reference_does(name):
    """tests/golden/cuda_*.py.txt (test_golden_source.py holds the bytes) run here: two
    steps of each against the reference executor."""
    from test_golden_source import GOLDEN, PROGRAMS, _feeds, _session

    program = PROGRAMS[name](tf.Graph())
    sess, reference = _session(program, None, "cuda"), _session(program, None, "numpy")
    step = sess.make_callable(program.fetches, program.feeds)
    want_step = reference.make_callable(program.fetches, program.feeds)
    assert step.source == (GOLDEN / f"cuda_{name}.py.txt").read_text()
    for _ in range(2):  # the second step sees the first one's variable updates
        for got, want in zip(step(*_feeds(program)), want_step(*_feeds(program)), strict=True):
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    variables = program.variables
    for got, want in zip(sess.run(variables), reference.run(variables), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
