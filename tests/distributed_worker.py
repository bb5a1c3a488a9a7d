"""One rank of tests/test_distributed.py, started by `mpiexec -n N python
tests/distributed_worker.py SCENARIO TARGET OUT [pack]`; writes what it saw to
OUT/rankR.npz (or .txt). `build` is also the test's single-process oracle."""

import os
import signal
import sys

import numpy as np

import graphc as tf
from graphc import distributed as dist

BATCH = 12  # divisible by 2 and by 3: equal shards


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(BATCH, 5)).astype(np.float32), rng.integers(0, 3, BATCH)


def build(init_seed):
    """A two-layer classifier; the first layer's initial values depend on `init_seed` (so
    ranks start apart until broadcast_variables)."""
    tf.set_random_seed(7)
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    first = tf.glorot_uniform_initializer(seed=init_seed)
    h = tf.layers.dense(x, 4, tf.nn.relu, kernel_initializer=first)
    logits = tf.layers.dense(h, 3)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    return x, y, loss


def gradients(target, out, pack):
    """The averaged gradients of the first batch, then the variables after 3 Adam steps."""
    x, y, loss = build(init_seed=dist.rank() + 1)
    optimizer = dist.DistributedOptimizer(tf.train.AdamOptimizer(0.05), pack=pack)
    pairs = optimizer.compute_gradients(loss)
    train = optimizer.apply_gradients(pairs)
    xs, ys = dist.shard(data())
    # fast start asked for, with nothing cached: a step that exchanges values still
    # compiles before its first run
    cache = os.path.join(out, "cache")
    with tf.Session(target=target, cache_dir=cache, fast_start=True) as sess:
        sess.run(tf.global_variables_initializer())
        dist.broadcast_variables(sess)
        grads = sess.run([g for g, _ in pairs], {x: xs, y: ys})
        losses = [sess.run([train, loss], {x: xs, y: ys})[1] for _ in range(3)]
        values = sess.run(tf.trainable_variables())
        source = "".join(step.source for step in sess._executables.values())
        exchanging = [
            step
            for step in sess._executables.values()
            if "with objmode():  # over MPI" in step.source
        ]
        interpreted = any(step._interpreter is not None for step in exchanging)
    kinds = [n.opdef.name for n in tf.get_default_graph().nodes]
    np.savez(
        os.path.join(out, f"rank{dist.rank()}.npz"),
        *grads,
        *values,
        losses=np.array(losses),
        allreduces=kinds.count("allreduce"),
        local=(dist.local_rank(), dist.local_size(), dist.size()),
        objmode="with objmode():  # over MPI" in source,
        interpreted=interpreted,
    )


def die(target, out, how="raise"):
    """Rank 1 fails after one step (an exception, or killed by SIGKILL: no Python runs
    then); the others go on into the next step's allreduce."""
    x, y, loss = build(init_seed=1)
    train = dist.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1)).minimize(loss)
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            if step == 1 and dist.rank() == 1:
                if how == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("rank one fails on purpose")
            sess.run(train, dict(zip((x, y), data(), strict=True)))


def mismatch(target, out):
    """Rank 1 builds its second layer wider: broadcast_variables must refuse on every rank."""
    x = tf.placeholder(tf.float32, [None, 5])
    h = tf.layers.dense(x, 4, name="first")
    tf.layers.dense(h, 3 if dist.rank() != 1 else 6, name="second")
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(tf.global_variables())
        try:
            dist.broadcast_variables(sess)
            message = "no error"
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
        after = sess.run(tf.global_variables())
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    with open(os.path.join(out, f"rank{dist.rank()}.txt"), "w") as f:
        f.write(f"{message}\nvariables unchanged: {unchanged}")


if __name__ == "__main__":
    scenario, target, out = sys.argv[1:4]
    dist.init()
    if scenario == "gradients":
        gradients(target, out, pack=sys.argv[4] == "pack")
    else:
        scenarios = {"die": die, "killed": lambda t, o: die(t, o, "kill"), "mismatch": mismatch}
        scenarios[scenario](target, out)
