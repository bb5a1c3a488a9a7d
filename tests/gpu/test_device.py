"""The cuda target on a real NVIDIA GPU (marked `gpu`): an MLP and BENCH.md's W1, W3 and
W4 against the CPU target, where numba compiles the kernels for the device (and matrix
products go to cuBLAS where CuPy works). Skipped, saying why, on machines without a
usable GPU (CI runs the same code on numba's simulator: tests/cuda; on a GPU machine,
`GRAPHC_CUDA_TESTS=device pytest tests/cuda` runs those there too). Timings beside
PyTorch and JAX on the same GPU: benchmarks/gpu.py."""

import os
import sys

import numpy as np
import pytest

import graphc as tf
from graphc.backends.cuda import unavailable_reason

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or unavailable_reason() is not None,
        reason="needs an NVIDIA GPU with its driver (not the simulator)",
    ),
]


def test_an_mlp_trains_on_the_gpu_to_the_cpu_targets_losses(tmp_path):
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    h = tf.layers.dense(x, 32, tf.nn.relu, kernel_initializer=tf.glorot_uniform_initializer(1))
    logits = tf.layers.dense(h, 10, kernel_initializer=tf.glorot_uniform_initializer(2))
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    xs, ys = rng.normal(size=(256, 64)).astype(np.float32), rng.integers(0, 10, 256)
    losses = {}
    for target in ("cpu", "cuda"):
        with tf.Session(target=target, cache_dir=tmp_path) as sess:
            sess.run(tf.global_variables_initializer())
            step = sess.make_callable([train, loss], [x, y])
            losses[target] = [step(xs, ys)[1] for _ in range(5)]
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-4)


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))


@pytest.mark.parametrize("workload", ["W1", "W4"])
def test_a_bench_workload_trains_on_the_gpu_to_the_cpu_targets_losses(workload, tmp_path):
    import workloads

    builder = getattr(workloads, f"graphc_{workload.lower()}")
    losses = {}
    for target in ("cpu", "cuda"):
        step = builder(str(tmp_path), target=target)
        losses[target] = [step() for _ in range(3)]
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=2e-4)
    assert losses["cuda"][-1] < losses["cuda"][0]


@pytest.mark.parametrize("gradient", [False, True])
def test_w3_on_the_gpu_gives_the_cpu_targets_values(gradient, tmp_path):
    import workloads

    cpu = workloads.graphc_w3(str(tmp_path), gradient=gradient, target="cpu")()
    cuda = workloads.graphc_w3(str(tmp_path), gradient=gradient, target="cuda")()
    if not gradient:  # z alone, else the gradients of sum(z) by x and y
        cpu, cuda = [cpu], [cuda]
    for got, want in zip(cuda, cpu, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
