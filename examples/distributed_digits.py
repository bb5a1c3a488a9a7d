"""Data-parallel training of an MLP on the bundled 8x8 digits over MPI, Horovod style.

    mpiexec -n 2 python examples/distributed_digits.py

Every rank runs the same compiled training step on its share of each global batch
(graphc.distributed.shard); DistributedOptimizer averages the gradients across ranks
(one MPI allreduce a step) before Adam applies them, so all ranks hold the same
weights, and the model learns what one process learns from the whole global batch.
Run without mpiexec, it trains in one process, the same way.
"""

import time

import numpy as np

import graphc as tf
from graphc import distributed as dist
from graphc.datasets import digits_split

EPOCHS, GLOBAL_BATCH, HIDDEN = 30, 64, 128

dist.init()
x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
tf.set_random_seed(dist.rank())  # ranks start apart: broadcast_variables aligns them

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
optimizer = dist.DistributedOptimizer(tf.train.AdamOptimizer(0.005))
train_op = optimizer.minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    dist.broadcast_variables(sess)  # rank 0's initial weights on every rank
    step = sess.make_callable([train_op, loss], [x, labels])
    rng = np.random.default_rng(0)  # the same order on every rank: shards of one batch
    started = time.perf_counter()
    for _ in range(EPOCHS):
        order = rng.permutation(len(y_train))
        for start in range(0, len(order) - GLOBAL_BATCH + 1, GLOBAL_BATCH):
            batch = order[start : start + GLOBAL_BATCH]
            xs, ys = dist.shard((x_train[batch], y_train[batch]))
            _, value = step(xs, ys)
    seconds = time.perf_counter() - started
    test_accuracy = sess.run(accuracy, {x: x_test, labels: y_test})
    weights = sess.run(w1)
    checksum = float(np.abs(weights).sum())
    if dist.rank() == 0:
        ranks = dist.size()
        print(f"ranks {ranks}, global batch {GLOBAL_BATCH}, {EPOCHS} epochs in {seconds:.2f} s")
        print(f"loss {value:.4f}")
        print(f"test accuracy {test_accuracy:.4f}")
    print(f"rank {dist.rank()} weights checksum {checksum:.6f}")
