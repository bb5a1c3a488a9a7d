"""Data-parallel W1 over MPI (graphc.distributed): the step time of one global batch of
128 shared by the ranks, against one process training it alone.

Usage: mpiexec -n 2 python benchmarks/distributed.py [pack|each|single] [--steps 300]
`single` runs W1 without graphc.distributed in each process (run it with -n 1);
`pack` averages all gradients in one allreduce a step, `each` one allreduce per
gradient. Rank 0 prints one JSON line with the median step in ms. Run by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workloads  # noqa: E402

import graphc as tf  # noqa: E402
from graphc import distributed as dist  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["pack", "each", "single"])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    dist.init()
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    params = [tf.Variable(p) for p in workloads.init(workloads.W1["sizes"])]
    h = x
    for i in range(0, len(params), 2):
        h = tf.matmul(h, params[i]) + params[i + 1]
        h = tf.nn.relu(h) if i + 2 < len(params) else h
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    optimizer = tf.train.AdamOptimizer(workloads.W1["lr"])
    if args.mode != "single":
        optimizer = dist.DistributedOptimizer(optimizer, pack=args.mode == "pack")
    train = optimizer.minimize(loss)
    xs, ys = workloads.data_w1()
    if args.mode != "single":
        xs, ys = dist.shard((xs, ys))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        step = sess.make_callable([train, loss], [x, y])
        for _ in range(5):
            step(xs, ys)
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            step(xs, ys)
            times.append(time.perf_counter() - start)
    if dist.rank() == 0:
        row = {
            "mode": args.mode,
            "ranks": dist.size(),
            "rows_per_rank": len(ys),
            "step_ms": round(1e3 * statistics.median(times), 4),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
