"""See backpropagation at work: the digits MLP's forward graph with each tensor's values
and the gradient of the loss at it, after a few training steps.

Run `python examples/backprop_digits.py [OUT_DIR]`, then open OUT_DIR/backprop_digits.html
in a browser (drag to pan, wheel to zoom, click a box for its numbers, its source line
and, on the optimized step's page, its generated code). Arrows are coloured by the
gradient flowing back along them, on a log scale: blue small, red large. A variable the
loss cannot train is outlined in red (here `frozen`, read only through an integer cast).
With Graphviz installed it also writes backprop_digits.svg and graph.svg (the whole
graph, name scopes as clusters, the gradient scopes collapsed).
"""

import shutil
import sys
from pathlib import Path

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)
x_train, y_train, _, _ = digits_split(test_fraction=0.2, seed=0)
tf.set_random_seed(0)

x = tf.placeholder(tf.float32, [None, 64], name="images")
labels = tf.placeholder(tf.int64, [None], name="labels")
with tf.name_scope("hidden"):
    w1 = tf.Variable(tf.truncated_normal([64, 32], stddev=0.1), name="weights")
    b1 = tf.Variable(tf.zeros([32]), name="biases")
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
with tf.name_scope("softmax_linear"):
    w2 = tf.Variable(tf.truncated_normal([32, 10], stddev=0.1), name="weights")
    b2 = tf.Variable(tf.zeros([10]), name="biases")
    frozen = tf.Variable(tf.fill([10], 0.7), name="frozen")  # a mistake the view shows
    logits = tf.matmul(hidden, w2) + b2 + tf.cast(tf.cast(frozen, tf.int32), tf.float32)
loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([train_op, loss], [x, labels])
    for k in range(20):
        batch = slice(32 * k, 32 * (k + 1))
        step(x_train[batch], y_train[batch])
    feed = {x: x_train[:64], labels: y_train[:64]}
    view = tf.viz.backprop(sess, loss, feed, out / "backprop_digits.html", train_op=train_op)
    print(view.text())
    tf.viz.render(step, out / "train_step.html")  # the optimized step, kernels and code
    if shutil.which("dot"):
        tf.viz.render(view, out / "backprop_digits.svg")
        # the whole graph, with the gradient and view scopes each drawn as one box
        scopes = ["gradients", "backprop_view", "GradientDescent"]
        tf.viz.render(tf.get_default_graph(), out / "graph.svg", collapse=scopes)
    print(f"open {out / 'backprop_digits.html'} (and {out / 'train_step.html'})")
    assert np.isfinite(view.loss)
