"""Ops built by TF1's composite functions carry the names TF1 gives them, so scripts that
fetch by name (`sess.run("Mean:0")`) work unchanged. Oracle: the names a TF1 graph has
for the same calls (tf.compat.v1 graph mode, 1.15 and 2.x alike)."""

import numpy as np
import pytest

import graphc as tf

TF1_NAMES = [
    (lambda x, i: tf.reduce_mean(x), "Mean"),
    (lambda x, i: tf.nn.softmax(x), "Softmax"),
    (lambda x, i: tf.nn.log_softmax(x), "LogSoftmax"),
    (
        lambda x, i: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=x),
        "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits",
    ),
    (lambda x, i: tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=x), "logistic_loss"),
    (lambda x, i: tf.nn.l2_loss(x), "L2Loss"),
    (lambda x, i: tf.nn.relu6(x), "Relu6"),
    (lambda x, i: tf.nn.elu(x), "Elu"),
    (lambda x, i: tf.nn.selu(x), "Selu"),
    (lambda x, i: tf.nn.softplus(x), "Softplus"),
    (lambda x, i: tf.nn.leaky_relu(x), "LeakyRelu"),
    (lambda x, i: tf.losses.mean_squared_error(x, x * 2.0), "mean_squared_error/value"),
    (
        lambda x, i: tf.losses.sparse_softmax_cross_entropy(i, x),
        "sparse_softmax_cross_entropy_loss/value",
    ),
    (lambda x, i: tf.losses.huber_loss(x, x * 2.0), "huber_loss/value"),
]


@pytest.mark.parametrize("build, name", TF1_NAMES, ids=[n for _, n in TF1_NAMES])
def test_composites_are_named_as_in_tf1(build, name):
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    i = tf.placeholder(tf.int64, [2], name="i")
    assert build(x, i).op.name == name


def test_a_script_fetches_a_composite_by_its_tf1_name():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    labels = tf.placeholder(tf.int64, [2], name="labels")
    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x))
    feed = {"x:0": np.zeros((2, 3), np.float32), "labels:0": [0, 2]}
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run("Mean:0", feed), np.log(3.0), rtol=1e-6)


def test_an_explicit_name_wins_and_scopes_prefix_it():
    x = tf.placeholder(tf.float32, [2, 3])
    with tf.name_scope("loss"):
        assert tf.reduce_mean(x, name="avg").op.name == "loss/avg"
        assert tf.reduce_mean(x).op.name == "loss/Mean"


def test_gradient_ops_sit_under_their_forward_ops_grad_scope():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 2), np.float32), name="w")
    with tf.name_scope("dense"):
        h = tf.matmul(x, w)
    loss = tf.reduce_sum(tf.nn.relu(h))
    (g,) = tf.gradients(loss, w)
    assert g.op.name.startswith("gradients/dense/MatMul_grad/")  # TF1's naming
    scopes = {n.op_name.rsplit("/", 1)[0] for n in tf.get_default_graph().nodes}
    assert {"gradients/Relu_grad", "gradients/dense/MatMul_grad"} <= scopes
