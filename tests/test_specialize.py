"""Placeholders of unknown rank on the compiled target: a step is specialized on the
ranks of the values fed to them and compiled once per combination of ranks (as jax.jit
traces per shape); the reference target runs them as they are. Oracle: the reference
executor (numpy target), which never specializes."""

import numpy as np
import pytest

import graphc as tf
from graphc.errors import ShapeError
from graphc.graph import Graph
from graphc.specialize import specialized

pytestmark = pytest.mark.compiled


@pytest.fixture
def sessions(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "graphc-cache"
    with tf.Session(cache_dir=cache) as cpu, tf.Session(target="numpy") as ref:
        yield cpu, ref


def test_an_unshaped_placeholder_runs_with_each_rank_it_is_fed(sessions):
    cpu, ref = sessions
    x = tf.placeholder(tf.float32)
    y = tf.reduce_sum(tf.exp(x) * 2.0) + tf.reduce_mean(x)
    for value in (1.5, [1.0, -2.0, 3.0], np.arange(6, dtype=np.float32).reshape(2, 3) / 4):
        np.testing.assert_allclose(cpu.run(y, {x: value}), ref.run(y, {x: value}), rtol=1e-6)


def test_make_callable_compiles_once_per_rank_and_shows_the_last_one(sessions):
    cpu, _ = sessions
    x = tf.placeholder(tf.float32, name="x")
    step = cpu.make_callable(tf.reduce_max(x * 3.0), [x])
    with pytest.raises(tf.errors.GraphcError, match="call it once first"):
        _ = step.source
    assert step(np.array([[1.0, 5.0], [2.0, 0.5]])) == 15.0
    assert step.graph.inputs[0].type.shape == (None, None)
    first = step.source
    assert step(np.array([[7.0, 1.0]])) == 21.0  # the same rank: the same program
    assert step.source is first
    assert step(-2.0) == -6.0  # a scalar: a second program
    assert step.graph.inputs[0].type.shape == ()
    assert step.source != first


def test_a_tf1_classifier_with_unshaped_placeholders_trains_as_on_the_reference(sessions):
    """TF1 tutorials feed `x = tf.placeholder("float32")` and `keep_prob` without a shape."""
    cpu, ref = sessions
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((16, 5)).astype(np.float32)
    ys = rng.integers(0, 3, 16)
    x, y = tf.placeholder(tf.float32, name="x"), tf.placeholder(tf.int64, name="y")
    keep_prob = tf.placeholder(tf.float32, name="keep_prob")
    w = tf.Variable(rng.standard_normal((5, 3)).astype(np.float32) * 0.1)
    b = tf.Variable(np.zeros(3, np.float32))
    logits = tf.matmul(tf.nn.dropout(x, keep_prob), w) + b
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    losses = {}
    for name, sess in (("cpu", cpu), ("ref", ref)):
        sess.run(tf.global_variables_initializer())
        feed = {x: xs, y: ys, keep_prob: 1.0}
        losses[name] = [sess.run([train, loss], feed)[1] for _ in range(5)]
    np.testing.assert_allclose(losses["cpu"], losses["ref"], rtol=1e-5)
    assert losses["cpu"][-1] < losses["cpu"][0]
    dropped = cpu.run(tf.nn.dropout(x, keep_prob), {x: np.ones((50, 4)), keep_prob: 0.5})
    assert dropped.shape == (50, 4) and set(np.unique(dropped)) <= {0.0, 2.0}


def test_a_rank_an_op_cannot_take_names_the_op_and_the_fed_rank(sessions):
    cpu, _ = sessions
    x = tf.placeholder(tf.float32, name="x")
    y = tf.matmul(x, tf.ones([3, 2]), name="dense")
    with pytest.raises(ShapeError, match=r"MatMul 'dense'.*'x:0' a rank-1 value"):
        cpu.run(y, {x: np.ones(3, np.float32)})
    np.testing.assert_array_equal(cpu.run(y, {x: np.ones((1, 3))}), [[3.0, 3.0]])


def test_specialized_rebuilds_only_what_depends_on_the_placeholder():
    x = tf.placeholder(tf.float32, name="x")
    c = tf.exp(tf.constant([1.0, 2.0]))
    out = x + c
    graph = Graph.from_outputs([out, c], [x])
    got = specialized(graph, {id(x): 1})
    new_out, new_c = got.outputs
    assert new_c is c  # independent of x: the same node
    assert new_out is not out and new_out.type.shape == (2,)
    assert got.inputs[0].type.shape == (None,) and out.type.shape is None
    assert specialized(graph, {}) is graph


def test_shapes_follow_tf1_where_it_knows_more_than_the_ranks_given():
    unknown = tf.placeholder(tf.float32)
    assert tf.matmul(unknown, tf.ones([5, 3])).shape == (None, 3)  # TF1: MatMul, a matrix
    assert tf.matmul(tf.ones([2, 5]), unknown).shape == (2, None)
    assert tf.matmul(unknown, tf.ones([4, 5, 3])).shape is None  # batched: rank unknown
    labels = tf.placeholder(tf.int64)
    logits = tf.placeholder(tf.float32, [None, 3])
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert xent.shape == (None,)  # labels: logits without the class axis
    noise = tf.random_uniform(tf.shape(unknown))
    assert noise.shape is None and tf.nn.dropout(unknown, 0.5).shape is None
    with tf.Session(target="numpy") as ref:
        assert ref.run(noise, {unknown: np.ones((2, 1, 3))}).shape == (2, 1, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match="do not match logits"):
            ref.run(xent, {labels: [[0, 1]], logits: np.ones((2, 3))})


def test_set_shape_refines_a_placeholder_for_the_ops_built_after_it(sessions):
    cpu, ref = sessions
    x = tf.placeholder(tf.float32, name="x")
    x.set_shape([None, 3])
    assert x.shape == (None, 3) and tf.matmul(x, tf.ones([3, 2])).shape == (None, 2)
    x.set_shape([4, None])  # merged with what is known
    assert x.shape == (4, 3)
    x.set_shape(None)  # nothing new
    with pytest.raises(ShapeError, match=r"set_shape of 'x:0'.*\[4,3\] and \[4,5\]"):
        x.set_shape([4, 5])
    y = tf.reduce_sum(x * 2.0)
    feed = {x: np.ones((4, 3), np.float32)}
    assert cpu.run(y, feed) == ref.run(y, feed) == 24.0
    with pytest.raises(ShapeError, match="cannot feed a value of shape"):
        ref.run(y, {x: np.ones((2, 3), np.float32)})  # the refined shape is checked
    doubled = tf.placeholder(tf.float32, [None, 3]) * 2.0
    doubled.set_shape([None, 3])  # nothing new: fine on any tensor
    with pytest.raises(tf.errors.GraphcError, match="refines only placeholders"):
        doubled.set_shape([5, 3])
