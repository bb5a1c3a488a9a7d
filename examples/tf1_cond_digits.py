"""A TF1 script with a training switch, unchanged but for its import line: a two-layer
network on the bundled digits built by a function under `variable_scope` (called twice,
the second time with `reuse=True`), an unshaped `is_training = tf.placeholder(tf.bool)`
that picks, through `tf.cond`, label smoothing while training and the plain labels
otherwise, `tf.layers.batch_normalization` with its `UPDATE_OPS`, a `tf.case` learning
rate schedule, and gradients clipped with `tf.clip_by_global_norm` before Adam applies
them.

Run with TF1 (`import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()` as the first
line instead), it prints the same numbers; tests/test_examples.py compares them with
TF1's printout.

Run with `python examples/tf1_cond_digits.py`.
"""

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
rng = np.random.RandomState(0)
W1_INIT = (rng.randn(64, 32) * 0.1).astype(np.float32)
W2_INIT = (rng.randn(32, 10) * 0.1).astype(np.float32)

x = tf.placeholder(tf.float32, [None, 64], name="x")
labels = tf.placeholder(tf.int64, [None], name="labels")
is_training = tf.placeholder(tf.bool, name="is_training")


def model(inputs, training, reuse=None):
    with tf.variable_scope("mlp", reuse=reuse):
        w1 = tf.get_variable("w1", [64, 32], initializer=tf.constant_initializer(W1_INIT))
        b1 = tf.get_variable("b1", [32], initializer=tf.zeros_initializer())
        hidden = tf.nn.relu(tf.matmul(inputs, w1) + b1)
        hidden = tf.layers.batch_normalization(hidden, training=training, name="bn")
        w2 = tf.get_variable("w2", [32, 10], initializer=tf.constant_initializer(W2_INIT))
        b2 = tf.get_variable("b2", [10], initializer=tf.zeros_initializer())
        return tf.matmul(hidden, w2) + b2


logits = model(x, is_training)
eval_logits = model(x, False, reuse=True)

onehot = tf.one_hot(labels, 10)
targets = tf.cond(is_training, lambda: onehot * 0.9 + 0.01, lambda: onehot)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits))

global_step = tf.train.get_or_create_global_step()
lr = tf.case(
    [(global_step < 20, lambda: tf.constant(0.01)), (global_step < 40, lambda: tf.constant(0.005))],
    default=lambda: tf.constant(0.002),
)
optimizer = tf.train.AdamOptimizer(lr)
grads, variables = zip(*optimizer.compute_gradients(loss), strict=True)
clipped, norm = tf.clip_by_global_norm(grads, 5.0)
with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
    train_op = optimizer.apply_gradients(
        zip(clipped, variables, strict=True), global_step=global_step
    )

correct = tf.equal(tf.argmax(eval_logits, 1), labels)
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for i in range(60):
        batch = slice((i * 64) % 1408, (i * 64) % 1408 + 64)
        feed = {x: x_train[batch], labels: y_train[batch], is_training: True}
        _, loss_value, norm_value = sess.run([train_op, loss, norm], feed)
        if i % 20 == 0:
            print(f"step {i} loss {loss_value:.6f} norm {norm_value:.6f} lr {sess.run(lr):.6f}")
    eval_loss = sess.run(loss, {x: x_test, labels: y_test, is_training: False})
    print(f"eval loss {eval_loss:.6f}")
    print(f"test accuracy {sess.run(accuracy, {x: x_test, labels: y_test}):.6f}")
    mean = sess.run("mlp/bn/moving_mean:0")
    print("moving mean " + " ".join(f"{v:.6f}" for v in mean[:3]))
