"""Session.run semantics (SPEC §4) and run-time errors (SPEC §5), on both the reference
(numpy) and the compiled (cpu) target: the two must behave identically."""

import collections

import numpy as np
import pytest

import graphc as tf
from graphc.errors import (
    DTypeError,
    FailedPreconditionError,
    GraphcError,
    GraphMismatchError,
    InvalidArgumentError,
    ShapeError,
)
from graphc.store import VariableStore


def test_nested_fetch_structures(sess):
    a, b = tf.constant(1.0), tf.constant([2, 3])
    Pair = collections.namedtuple("Pair", "first second")
    out = sess.run({"a": a, "rest": [b, (a, Pair(b, a))], "op": tf.no_op()})
    assert out["a"] == 1.0 and isinstance(out["a"], np.float32)
    np.testing.assert_array_equal(out["rest"][0], [2, 3])
    assert isinstance(out["rest"][1], tuple) and isinstance(out["rest"][1][1], Pair)
    assert out["rest"][1][1].second == 1.0 and out["op"] is None


def test_fetching_an_op_returns_none(sess):
    assert sess.run(tf.no_op()) is None
    assert sess.run(tf.group(tf.constant(1.0))) is None


def test_feeding_by_name_and_feeding_any_tensor(sess):
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.multiply(x, 2.0, name="y")
    z = y + 1.0
    np.testing.assert_array_equal(sess.run(z, {"x:0": [1, 2]}), [3, 5])
    np.testing.assert_array_equal(sess.run(z, {y: [10.0]}), [11])  # y is cut off: x is not needed
    np.testing.assert_array_equal(sess.run("y:0", {x: [4]}), [8])


def test_lists_and_scalars_are_converted(sess):
    x = tf.placeholder(tf.float32, [2])
    n = tf.placeholder(tf.int64, [])
    out = sess.run([x * 2.0, n + 1], {x: [1, 2], n: 41})
    assert out[0].dtype == np.float32 and out[1] == 42


def test_reads_see_values_from_before_the_run(sess):
    v = tf.Variable(1.0)
    sess.run(v.initializer)
    update = v.assign(v + 10.0)
    doubled = v * 2.0
    assert sess.run([update, doubled, v]) == [11.0, 2.0, 1.0]
    assert sess.run(v) == 11.0


def test_control_dependencies_order_reads(sess):
    v = tf.Variable(1.0)
    sess.run(tf.global_variables_initializer())
    inc = v.assign_add(5.0)
    with tf.control_dependencies([inc]):
        after = tf.identity(v)
    before = tf.identity(v)
    assert sess.run([after, before]) == [6.0, 1.0]
    assert sess.run(v) == 6.0


def test_train_op_and_loss_in_one_run_return_the_pre_update_loss(sess):
    w = tf.Variable(3.0)
    loss = tf.square(w)
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    sess.run(tf.global_variables_initializer())
    _, first = sess.run([train, loss])
    assert first == 9.0  # computed from w = 3, before the update to 3 - 0.25 * 6 = 1.5
    assert sess.run(w) == 1.5


def test_unfed_placeholder_is_an_error_naming_it(sess):
    x = tf.placeholder(tf.float32, [2], name="images")
    with pytest.raises(InvalidArgumentError, match="'images:0' must be fed"):
        sess.run(x * 2.0)


def test_wrong_fed_shape_names_tensor(sess):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with pytest.raises(ShapeError, match=r"shape \[2, 4\] to 'x:0', which has shape \[\?,3\]"):
        sess.run(x, {x: np.zeros((2, 4))})


@pytest.mark.parametrize(
    ("dtype", "value", "match"),
    [
        (tf.int32, [1.5, 2.0], "floating-point values"),
        (tf.float32, [1e300], "overflow"),
        (tf.int32, [2**40], "outside the range"),
        (tf.bool, [1, 0], "int64 values"),
    ],
    ids=["float-to-int", "overflow", "int-range", "int-to-bool"],
)
def test_lossy_feeds_are_dtype_errors(sess, dtype, value, match):
    x = tf.placeholder(dtype, [None], name="p")
    with pytest.raises(DTypeError, match=match):
        sess.run(x, {x: value})


def test_lossless_feeds_are_converted(sess):
    x = tf.placeholder(tf.float32, [None])
    np.testing.assert_array_equal(sess.run(x, {x: np.array([1, 2], np.int64)}), [1, 2])
    np.testing.assert_array_equal(sess.run(x, {x: np.array([0.1], np.float64)}), [np.float32(0.1)])
    assert np.isnan(sess.run(x, {x: [np.nan]})).all()  # NaN is allowed and propagates


def test_uninitialized_variable_is_an_error_and_nothing_runs(sess):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    sess.run(a.initializer)
    with pytest.raises(FailedPreconditionError, match="uninitialized variable 'b:0'"):
        sess.run([a.assign(5.0), b])
    assert sess.run(a) == 1.0  # the assign in the failed run did not happen


def test_failed_run_changes_no_variable(sess):
    v = tf.Variable(np.array([1.0, 2.0], np.float32))
    idx = tf.placeholder(tf.int32, [None])
    sess.run(v.initializer)
    update = v.assign(v * 10.0)
    picked = tf.gather(v, idx)
    with pytest.raises(InvalidArgumentError, match="GatherV2"):
        sess.run([update, picked], {idx: [7]})  # out of range: fails after the assign ran
    np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])


def test_update_written_in_place_only_when_nothing_after_it_can_fail(sess, target):
    """The compiled step computes a variable's new value straight into its buffer only
    when no later code can raise and nothing later reads the old value."""
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    idx = tf.placeholder(tf.int32, [None])
    sess.run(v.initializer)
    new = v * 2.0 + 1.0
    update = v.assign(new)
    picked = tf.gather(new, idx)  # after the update's kernel, and may fail
    with pytest.raises(InvalidArgumentError, match="GatherV2"):
        sess.run([update, picked], {idx: [7]})
    np.testing.assert_array_equal(sess.run(v), np.arange(6).reshape(2, 3))
    late = v * tf.reduce_sum(new)  # reads the old value after the update's kernel
    _, got = sess.run([update, late])
    old = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(got, old * (old * 2 + 1).sum())
    np.testing.assert_array_equal(sess.run(v), old * 2 + 1)
    step = sess.make_callable(update)
    step()
    np.testing.assert_array_equal(sess.run(v), (old * 2 + 1) * 2 + 1)
    if target == "cpu":  # alone, the update is written into the buffer: no copy at the end
        assert (
            "written in place" in step.source and "_store(" not in step.source.split("def step(")[1]
        )


def test_fetching_a_tensor_of_another_graph(sess):
    g = tf.Graph()
    with g.as_default():
        other = tf.constant(1.0, name="other")
    with pytest.raises(GraphMismatchError, match="'other'"):
        sess.run(other)
    with pytest.raises(GraphMismatchError):
        sess.run(tf.constant(1.0), {other: 2.0})


def test_default_session_eval_and_run(target):
    x = tf.placeholder(tf.float32, [])
    v = tf.Variable(2.0)
    with pytest.raises(GraphcError, match="no default session"):
        v.eval()
    with tf.Session(target=target) as sess:
        assert tf.get_default_session() is sess
        tf.global_variables_initializer().run()
        assert (x * v).eval(feed_dict={x: 3.0}) == 6.0
    assert tf.get_default_session() is None
    interactive = tf.InteractiveSession(target=target)
    assert tf.get_default_session() is interactive
    interactive.close()
    assert tf.get_default_session() is None


def test_closed_session_is_an_error():
    s = tf.Session(target="numpy")
    s.close()
    with pytest.raises(GraphcError, match="closed"):
        s.run(tf.constant(1.0))


def test_closed_session_refuses_the_executables_it_made(target, tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    v = tf.Variable(1.0)
    s = tf.Session(target=target, cache_dir=tmp_path)
    s.run(v.initializer)
    step = s.make_callable(x * v, [x])
    read = s.make_callable(v)
    np.testing.assert_array_equal(step([2.0]), [2.0])
    s.close()
    with pytest.raises(GraphcError) as from_run:
        s.run(v)
    for call in (lambda: step([2.0]), read):
        with pytest.raises(GraphcError) as from_call:
            call()
        assert str(from_call.value) == str(from_run.value) == "attempted to use a closed Session"


def _distinct(*arrays):
    for k, a in enumerate(arrays):
        for b in arrays[k + 1 :]:
            assert a is not b and not np.shares_memory(a, b)


def test_one_tensor_fetched_twice_gives_distinct_arrays(sess):
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    t = v * 2.0
    sess.run(v.initializer)
    _distinct(*sess.run([v, v]))
    _distinct(*sess.run([t, t, tf.reshape(t, [6]), tf.identity(t)]))
    _distinct(*sess.make_callable([v, v, t, t])())
    got = sess.run({"a": v, "b": [v, (t, t)]})
    _distinct(got["a"], got["b"][0], *got["b"][1])


def test_fetches_never_alias_a_fed_array(sess):
    x = tf.placeholder(tf.float32, [2, 3])
    fed = np.ones((2, 3), np.float32)
    first, second, same, flipped = sess.run([x, x, tf.identity(x), tf.transpose(x)], {x: fed})
    _distinct(fed, first, second, same, flipped)
    (called,) = sess.make_callable([x], [x])(fed)
    _distinct(fed, called)


def test_writing_into_a_fetched_value_changes_no_variable(sess):
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    sess.run(v.initializer)
    views = [v, tf.identity(v), tf.reshape(v, [6]), tf.transpose(v), v[0]]
    for fetch in views:
        sess.run(fetch)[...] = 99.0
    for value in sess.run(views):
        value[...] = 99.0
    _, read = sess.run([v.assign(v + 1.0), v])  # the read from before the assign
    read[...] = 99.0
    sess.make_callable(v)()[...] = 99.0
    np.testing.assert_array_equal(sess.run(v), np.arange(6).reshape(2, 3) + 1.0)


def test_make_callable(sess):
    x = tf.placeholder(tf.float32, [None])
    y = tf.placeholder(tf.float32, [None])
    step = sess.make_callable([x + y, x * y], [x, y])
    got = step(np.array([1, 2], np.float32), np.array([3, 4], np.float32))
    np.testing.assert_array_equal(got[0], [4, 6])
    np.testing.assert_array_equal(got[1], [3, 8])


def test_unknown_target_is_rejected():
    with pytest.raises(ValueError, match="target"):
        tf.Session(target="tpu")


def test_deferred_values_reach_the_host_in_order_before_any_commit():
    """VariableStore.defer (graphc.backends.cuda keeps variables on the device)."""
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    store = VariableStore()
    store.commit({a: np.float32(1.0), b: np.float32(2.0)})
    copies = []

    def later(value):
        return lambda: copies.append(value) or {a: np.float32(value)}

    version = store.version
    store.defer([a], later(5.0))
    store.defer([a], later(6.0))
    assert copies == [] and a in store and store.version == version + 2
    store.commit({b: np.float32(3.0)})  # reads what the device holds first
    assert copies == [5.0, 6.0] and store.values[a] == 6.0 and store.values[b] == 3.0
    fresh = tf.Variable(0.0, name="fresh")
    store.defer([fresh], lambda: {fresh: np.float32(7.0)})
    assert fresh in store and store.value(fresh) == 7.0
