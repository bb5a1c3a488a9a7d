"""The compiled target: executables, specialization, aliasing, training parity."""

import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as tf
from graphc.datasets import digits_split


@pytest.fixture
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "graphc-cache"


def _mlp(seed=0, dropout=False):
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    w1 = tf.Variable(tf.truncated_normal([64, 32], stddev=0.1), name="w1")
    b1 = tf.Variable(tf.zeros([32]), name="b1")
    w2 = tf.Variable(tf.random_normal([32, 10], stddev=0.1), name="w2")
    b2 = tf.Variable(tf.zeros([10]), name="b2")
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    if dropout:
        h = tf.nn.dropout(h, rate=0.2)
    logits = tf.matmul(h, w2) + b2
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    return x, y, loss, train


@pytest.mark.parametrize("dropout", [False, True], ids=["plain", "dropout"])
def test_training_parity_with_reference_over_20_steps(cache, dropout):
    x_train, y_train, _, _ = digits_split()
    x, y, loss, train = _mlp(dropout=dropout)
    histories = {}
    for target in ("numpy", "cpu"):
        with tf.Session(target=target, cache_dir=cache) as sess:
            sess.run(tf.global_variables_initializer())
            histories[target] = [
                sess.run(
                    [train, loss],
                    {x: x_train[i * 32 : i * 32 + 32], y: y_train[i * 32 : i * 32 + 32]},
                )[1]
                for i in range(20)
            ]
    np.testing.assert_allclose(histories["cpu"], histories["numpy"], rtol=2e-4)
    assert histories["cpu"][-1] < histories["cpu"][0]


def test_make_callable_compiles_once_and_a_smaller_batch_reuses_it(cache):
    x, y, loss, train = _mlp()
    x_train, y_train, _, _ = digits_split()
    with tf.Session(cache_dir=cache) as sess:
        sess.run(tf.global_variables_initializer())
        step = sess.make_callable([train, loss], [x, y])
        assert "def step(" in step.source and "@njit(" in step.source
        first = step(x_train[:16], y_train[:16])
        last = step(x_train[:5], y_train[:5])  # a smaller final batch
        assert first[0] is None and np.isfinite(first[1]) and np.isfinite(last[1])
        assert len(step._fn.signatures) == 1


def test_run_caches_executables_per_signature(cache):
    x = tf.placeholder(tf.float32, [None])
    y = x * 2.0
    with tf.Session(cache_dir=cache) as sess:
        for n in (3, 5, 1):
            np.testing.assert_array_equal(sess.run(y, {x: np.ones(n)}), np.full(n, 2.0))
        sess.run([y], {x: [1.0]})  # another structure, the same targets: no new compile
        assert len(sess._executables) == 1
        sess.run([y, y * 3.0], {x: [1.0]})
        assert len(sess._executables) == 2


def test_fetched_values_do_not_alias_state_or_feeds(cache):
    v = tf.Variable(np.array([1.0, 2.0], np.float32))
    x = tf.placeholder(tf.float32, [2])
    inc = v.assign_add(x)
    with tf.Session(cache_dir=cache) as sess:
        sess.run(v.initializer)
        before = sess.run(v)
        fed = np.array([1.0, 1.0], np.float32)
        echoed = sess.run(x, {x: fed})
        sess.run(inc, {x: fed})
        np.testing.assert_array_equal(before, [1.0, 2.0])
        assert echoed is not fed
        np.testing.assert_array_equal(sess.run(v), [2.0, 3.0])


def test_non_contiguous_and_read_only_feeds_are_accepted_and_not_mutated(cache):
    x = tf.placeholder(tf.float32, [None, 2])
    v = tf.Variable(np.zeros((3, 2), np.float32))
    update = v.assign(x * 2.0)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    strided = base[:, ::2]
    frozen = np.ones((3, 2), np.float32)
    frozen.setflags(write=False)
    with tf.Session(cache_dir=cache) as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(update, {x: strided}), strided * 2)
        np.testing.assert_array_equal(sess.run(update, {x: frozen}), frozen * 2)
    np.testing.assert_array_equal(base, np.arange(12, dtype=np.float32).reshape(3, 4))


def test_scalar_variables_and_global_step(cache):
    step = tf.train.get_or_create_global_step()
    s = tf.Variable(1.5)
    grow = tf.group(step.assign_add(1), s.assign(s * 2.0))
    with tf.Session(cache_dir=cache) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(grow)
        value_step, value_s = sess.run([step, s])
    assert value_step == 3 and isinstance(value_step, np.int64)
    assert value_s == 12.0 and isinstance(value_s, np.float32)


def test_gather_out_of_range_in_compiled_code_changes_nothing(cache):
    v = tf.Variable(np.array([1.0, 2.0], np.float32))
    idx = tf.placeholder(tf.int32, [None])
    update = v.assign(v * 10.0)
    with tf.Session(cache_dir=cache) as sess:
        sess.run(v.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="GatherV2"):
            sess.run([update, tf.gather(v, idx)], {idx: [5]})
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])


def test_nan_feeds_propagate(cache):
    x = tf.placeholder(tf.float32, [2])
    with tf.Session(cache_dir=cache) as sess:
        out = sess.run(tf.exp(x) + tf.reduce_max(x), {x: [np.nan, 1.0]})
    assert np.isnan(out).all()


def test_large_kernels_run_in_parallel_and_agree(cache):
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.placeholder(tf.float32, [None], name="y")
    z = tf.tanh(x * y + tf.sin(x)) * tf.exp(-x * x) + 0.5 * y
    gx, gy = tf.gradients(tf.reduce_sum(z), [x, y])
    rng = np.random.default_rng(0)
    feeds = {
        x: rng.standard_normal(300_000, np.float32),
        y: rng.standard_normal(300_000, np.float32),
    }
    with tf.Session(cache_dir=cache) as sess:
        step = sess.make_callable([z, gx, gy], [x, y])
        got = step(feeds[x], feeds[y])
        small = step(feeds[x][:10], feeds[y][:10])  # below the threshold: the serial loop
    assert "prange(" in step.source and 'parallel={"prange": True' in step.source
    with tf.Session(target="numpy") as ref:
        want = ref.run([z, gx, gy], feeds)
    for g, w, s in zip(got, want, small, strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(s, w[:10], rtol=2e-5, atol=2e-6)


def test_nan_propagates_through_maximum_minimum_and_relu_like_numpy(cache):
    x = tf.placeholder(tf.float32, [4])
    y = tf.placeholder(tf.float32, [4])
    fetches = [
        tf.maximum(x, y),
        tf.minimum(x, y),
        tf.nn.relu(x),
        tf.reduce_max(x),
        tf.reduce_min(y),
    ]
    feeds = {x: [np.nan, 1.0, -1.0, np.nan], y: [0.0, np.nan, 2.0, np.nan]}
    with tf.Session(cache_dir=cache) as cpu, tf.Session(target="numpy") as ref:
        for got, want in zip(cpu.run(fetches, feeds), ref.run(fetches, feeds), strict=True):
            np.testing.assert_array_equal(got, want)  # equal_nan: NaN positions must agree


def test_initialization_runs_are_interpreted_not_compiled(cache):
    tf.set_random_seed(3)
    w = tf.Variable(tf.random_normal([3, 2]), name="w")
    s = tf.Variable(2.5, name="s")
    init = tf.global_variables_initializer()
    with tf.Session(cache_dir=cache) as cpu, tf.Session(target="numpy") as ref:
        cpu.run(init)
        ref.run(init)
        assert cpu._executables == {}  # nothing was compiled for the initializer
        got, want = cpu.run([w, s * 2.0]), ref.run([w, s * 2.0])
    np.testing.assert_array_equal(got[0], want[0])  # the same random draws
    assert got[1] == want[1] == 5.0


def test_a_rank_known_only_at_run_time_is_a_clear_error_when_compiling(cache):
    """Placeholders of unknown rank are specialized on the fed ranks (test_specialize.py);
    a rank that depends on a fed value (random values of a fed shape) cannot be."""
    shape = tf.placeholder(tf.int32, [None], name="shape")
    y = tf.random_uniform(shape)
    message = "'RandomUniform:0' has unknown rank.*known only at run time"
    with tf.Session(cache_dir=cache) as sess, pytest.raises(tf.errors.GraphcError, match=message):
        sess.run(y * 2.0, {shape: [2, 3]})
    with tf.Session(target="numpy") as ref:  # the reference executor handles any rank
        assert ref.run(y, {shape: [3, 2, 1]}).shape == (3, 2, 1)


def test_the_cuda_target_without_a_gpu_says_what_is_missing(monkeypatch):
    """This machine has no GPU (tests/cuda runs the target on numba's simulator)."""
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    with pytest.raises(tf.errors.GraphcError, match=r"target .cuda.: no usable") as info:
        tf.Session(target="cuda")
    assert "graphc[cuda]" in str(info.value) and "NUMBA_ENABLE_CUDASIM=1" in str(info.value)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_allocator_tuning_is_applied_once_and_can_be_disabled():
    code = "from graphc.codegen.allocator import tune_allocator as t; print(t(), t())"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    env = {**os.environ, "GRAPHC_MALLOPT": "0"}
    off = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert on.stdout.split() == ["True", "True"]
    assert off.stdout.split() == ["False", "False"]


FAULTS = """
import resource, numpy as np
from graphc.codegen.allocator import tune_allocator
tune_allocator()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for k in range(6):  # a step's 120 MB of temporaries, all freed at its end
    if k == 1:
        start = faults()
    arrays = [np.empty(10_000_000, np.float32) for _ in range(3)]
    for a in arrays:
        a.fill(1.0)
    del arrays, a
print(faults() - start)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_heap_keeps_freed_temporaries_mapped_for_the_next_step():
    """The page-fault counter is the oracle: reused heap memory is already mapped."""

    def faults(setting: str) -> int:
        env = {**os.environ, "GRAPHC_MALLOPT": setting}
        run = subprocess.run(
            [sys.executable, "-c", FAULTS], capture_output=True, text=True, env=env
        )
        return int(run.stdout)

    tuned, default = faults("1"), faults("0")
    assert tuned < 200, tuned  # 5 x 120 MB reused: no page mapped again
    assert default > 5 * tuned, (default, tuned)  # glibc's defaults map them every time
