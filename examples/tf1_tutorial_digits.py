"""A TF1 tutorial-style script, unchanged but for its import line: softmax regression on
the bundled digits with `tf.placeholder("float")`, an unshaped `keep_prob`,
`variable_scope`/`get_variable`, an exponentially decayed learning rate, a global step,
`tf.metrics.accuracy` and a fetch by name (`"Mean:0"`).

Run with TF1 (`import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()` as the first
line instead), it prints the same numbers; tests/test_examples.py compares them with
TF1's printout.

Run with `python examples/tf1_tutorial_digits.py`.
"""

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
onehot = np.eye(10, dtype=np.float32)[y_train]

x = tf.placeholder("float", [None, 64])
y_ = tf.placeholder("float", [None, 10])
keep_prob = tf.placeholder(tf.float32)
with tf.variable_scope("model"):
    W = tf.get_variable("W", [64, 10], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [10], initializer=tf.constant_initializer(0.1))
logits = tf.matmul(tf.nn.dropout(x, keep_prob), W) + b
y = tf.nn.softmax(logits)
cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y + 1e-10), reduction_indices=[1]))
global_step = tf.Variable(0, trainable=False, name="global_step")
lr = tf.train.exponential_decay(0.5, global_step, 10, 0.9, staircase=True)
train_step = tf.train.GradientDescentOptimizer(lr).minimize(cross_entropy, global_step=global_step)
correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.to_float(correct))
acc_metric, acc_update = tf.metrics.accuracy(tf.argmax(y_, 1), tf.argmax(y, 1))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(tf.local_variables_initializer())
    for i in range(30):
        batch = slice((i * 50) % 1400, (i * 50) % 1400 + 50)
        _, loss = sess.run(
            [train_step, cross_entropy], {x: x_train[batch], y_: onehot[batch], keep_prob: 1.0}
        )
        if i % 10 == 0:
            print(f"step {i} loss {loss:.6f} lr {sess.run(lr):.6f}")
    test_onehot = np.eye(10, dtype=np.float32)[y_test]
    print(f"test accuracy {sess.run(accuracy, {x: x_test, y_: test_onehot, keep_prob: 1.0}):.6f}")
    sess.run(acc_update, {x: x_test, y_: test_onehot, keep_prob: 1.0})
    print(f"metric {sess.run(acc_metric):.6f}")
    mean = sess.run("Mean:0", {x: x_test[:5], y_: test_onehot[:5], keep_prob: 1.0})
    print(f"Mean:0 {mean:.6f}")
