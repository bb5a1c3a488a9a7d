"""A TF1 `mnist_deep`-style convolutional network on the bundled 8x8 digits.

Two conv + ReLU + max-pool layers, a dense layer with dropout (its keep probability
fed through a placeholder, as in TF1's tutorial), and a softmax read-out, trained with
Adam through one compiled step. The 28x28 tutorial's 5x5 kernels and two 2x2 pools
become 3x3 kernels and pools that take 8x8 to 4x4 to 2x2.

Run with `python examples/cnn_digits.py`.
"""

import time

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

EPOCHS, BATCH = 15, 32

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
tf.set_random_seed(0)


def weight_variable(shape):
    return tf.Variable(tf.truncated_normal(shape, stddev=0.1), name="weights")


def bias_variable(shape):
    return tf.Variable(tf.constant(0.1, shape=shape), name="biases")


def conv2d(x, w):
    return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")


def max_pool_2x2(x):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


x = tf.placeholder(tf.float32, [None, 64], name="images")
labels = tf.placeholder(tf.int64, [None], name="labels")
keep_prob = tf.placeholder(tf.float32, name="keep_prob")  # unshaped, as in TF1
with tf.name_scope("reshape"):
    x_image = tf.reshape(x, [-1, 8, 8, 1])
with tf.name_scope("conv1"):
    h_conv1 = tf.nn.relu(conv2d(x_image, weight_variable([3, 3, 1, 16])) + bias_variable([16]))
with tf.name_scope("pool1"):
    h_pool1 = max_pool_2x2(h_conv1)
with tf.name_scope("conv2"):
    h_conv2 = tf.nn.relu(conv2d(h_pool1, weight_variable([3, 3, 16, 32])) + bias_variable([32]))
with tf.name_scope("pool2"):
    h_pool2 = max_pool_2x2(h_conv2)
with tf.name_scope("fc1"):
    flat = tf.reshape(h_pool2, [-1, 2 * 2 * 32])
    h_fc1 = tf.nn.relu(tf.matmul(flat, weight_variable([2 * 2 * 32, 128])) + bias_variable([128]))
with tf.name_scope("dropout"):
    h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)
with tf.name_scope("fc2"):
    logits = tf.matmul(h_fc1_drop, weight_variable([128, 10])) + bias_variable([10])
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
train_op = tf.train.AdamOptimizer(3e-3).minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))

with tf.Session() as sess:
    started = time.perf_counter()
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([train_op, loss], [x, labels, keep_prob])
    step.compile(x_train[:BATCH], y_train[:BATCH], 0.5)  # compiled now, not interpreted first
    step(x_train[:BATCH], y_train[:BATCH], 0.5)
    print(f"compiled the training step in {time.perf_counter() - started:.2f} s")
    rng = np.random.default_rng(0)
    started, steps = time.perf_counter(), 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(y_train))
        losses = []
        for i in range(0, len(order), BATCH):
            batch = order[i : i + BATCH]
            losses.append(step(x_train[batch], y_train[batch], 0.5)[1])
            steps += 1
        if epoch % 5 == 0 or epoch == EPOCHS - 1:
            print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}")
    elapsed = time.perf_counter() - started
    print(f"{steps} steps in {elapsed:.2f} s ({1e3 * elapsed / steps:.2f} ms per step)")
    test_accuracy = sess.run(accuracy, {x: x_test, labels: y_test, keep_prob: 1.0})
    print(f"test accuracy {test_accuracy:.4f} on {len(y_test)} held-out digits")
