"""Every kernel the cuda target generates for an MLP's and a CNN's training steps
compiles to PTX with NVIDIA's compiler (numba-cuda's NVVM, no GPU and no driver needed), for two
compute capabilities: numba's simulator, where tests/cuda runs them, type-checks
nothing, so this is what proves they are valid CUDA."""

import numpy as np
import pytest

import graphc as tf
from graphc.backends.cuda import compile_ptx

pytestmark = pytest.mark.compiled


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_every_kernel_of_a_training_step_compiles_to_ptx(cc):
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 6], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.name_scope("hidden"):
        w = tf.Variable(rng.normal(0, 0.5, (6, 5)).astype(np.float32), name="w")
        h = tf.nn.dropout(tf.nn.sigmoid(tf.matmul(x, w)), 0.9)
    logits = tf.layers.dense(h, 3)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    ptx = compile_ptx([train, loss, accuracy], [x, y], cc=cc)
    assert {"k_hidden_MatMul", "k_ArgMax"} <= set(ptx)
    assert any("RandomUniform" in name for name in ptx)
    assert sum(name.startswith("k_fused") for name in ptx) >= 10  # the CPU's fusion
    assert any("BiasAdd_grad_Sum" in name for name in ptx)  # a tree reduction
    for name, text in ptx.items():
        assert f".target sm_{cc[0]}{cc[1]}" in text and ".entry" in text, name


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_every_kernel_of_a_cnn_training_step_compiles_to_ptx(cc):
    x = tf.placeholder(tf.float32, [None, 6, 6, 1], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    h = tf.layers.conv2d(x, 2, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.average_pooling2d(tf.layers.max_pooling2d(h, 2, 2), 2, 1, padding="same")
    logits = tf.layers.dense(tf.layers.flatten(h), 3)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    ptx = compile_ptx([train, loss], [x, y], cc=cc)
    kinds = {name.split("_grad")[0] for name in ptx}
    assert any("Conv2DBackpropFilter" in name for name in ptx) and "k_conv2d_Conv2D" in kinds
    assert any("MaxPoolGrad" in name for name in ptx) and any("AvgPoolGrad" in name for name in ptx)
    for name, text in ptx.items():
        assert f".target sm_{cc[0]}{cc[1]}" in text and ".entry" in text, name
