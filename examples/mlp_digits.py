"""Train an MLP on the bundled 8x8 handwritten digits, TF1 style, through compiled code.

Run with `make demo` (or `python examples/mlp_digits.py`). The whole training
step (forward, backward, Adam update) is one compiled Numba function.
"""

import time

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

EPOCHS, BATCH, HIDDEN = 30, 64, 128

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
tf.set_random_seed(0)

x = tf.placeholder(tf.float32, [None, 64], name="images")
labels = tf.placeholder(tf.int64, [None], name="labels")
with tf.name_scope("hidden"):
    w1 = tf.Variable(tf.truncated_normal([64, HIDDEN], stddev=0.1), name="weights")
    b1 = tf.Variable(tf.zeros([HIDDEN]), name="biases")
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
with tf.name_scope("softmax_linear"):
    w2 = tf.Variable(tf.truncated_normal([HIDDEN, 10], stddev=0.1), name="weights")
    b2 = tf.Variable(tf.zeros([10]), name="biases")
    logits = tf.matmul(hidden, w2) + b2
loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
global_step = tf.train.get_or_create_global_step()
train_op = tf.train.AdamOptimizer(0.005).minimize(loss, global_step=global_step)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))

with tf.Session() as sess:
    started = time.perf_counter()
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([train_op, loss], [x, labels], compile=True)  # compiled now
    step(x_train[:BATCH], y_train[:BATCH])
    print("optimization passes on the training step:")
    print(step.report)
    kernel = step.kernels[0]
    print(f"{len(step.kernels)} fused kernels, e.g. {kernel.name}: {', '.join(kernel.ops)}")
    print(
        f"compiled the training step in {time.perf_counter() - started:.2f} s "
        f"({len(step.source.splitlines())} lines of generated source)"
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        order = rng.permutation(len(y_train))
        losses = [
            step(x_train[order[i : i + BATCH]], y_train[order[i : i + BATCH]])[1]
            for i in range(0, len(order), BATCH)
        ]
        if epoch % 5 == 0 or epoch == EPOCHS - 1:
            print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}")
    steps = sess.run(global_step)
    elapsed = time.perf_counter() - started
    print(f"{steps} steps in {elapsed:.2f} s ({1e6 * elapsed / steps:.0f} us per step)")
    test_accuracy = sess.run(accuracy, {x: x_test, labels: y_test})
    print(f"test accuracy {test_accuracy:.4f} on {len(y_test)} held-out digits")
