"""Export the digits MLP's training step, then train with it in a process without graphc.

The step (forward, backward and Adam update in one compiled function) is written as a
Python package (`step.export(folder)`), with the variables' initial values and Numba's
compiled code for this CPU. `examples/train_exported.py` then trains it in a fresh
Python in which `import graphc` fails: the package needs numpy and numba only.

Run with `python examples/export_digits.py [FOLDER]` (default: a temporary folder).
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

HIDDEN = 128
folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="graphc-export-")

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
np.savez(
    os.path.join(folder, "digits.npz"),
    x_train=x_train,
    y_train=y_train,
    x_test=x_test,
    y_test=y_test,
)
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
train_op = tf.train.AdamOptimizer(0.005).minimize(loss)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([loss, train_op], [x, labels])
    started = time.perf_counter()
    path = step.export(os.path.join(folder, "digits_step"), overwrite=True)
    print(f"exported the training step to {path} in {time.perf_counter() - started:.2f} s")

trainer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_exported.py")
guard = (  # the trainer runs in a Python where `import graphc` fails
    "import runpy, sys; sys.modules['graphc'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)
subprocess.run([sys.executable, "-c", guard, trainer, folder], check=True)
