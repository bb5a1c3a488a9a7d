"""The examples run end to end (the README's `make demo` runs mlp_digits)."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(name, cache, *args):
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(cache)}
    path = os.path.join(ROOT, "examples", name)
    return subprocess.run(
        [sys.executable, path, *map(str, args)], capture_output=True, text=True, check=True, env=env
    ).stdout


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("examples-cache")


def test_mlp_digits_reaches_95_percent(cache):
    out = _run("mlp_digits.py", cache)
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95


def test_an_exported_step_trains_in_a_process_without_graphc(cache, tmp_path):
    out = _run("export_digits.py", cache, tmp_path)
    assert "graphc imported: False" in out
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95


def test_softmax_regression(cache):
    out = _run("softmax_regression.py", cache)
    assert float(out.split("test accuracy")[1]) > 0.9


def test_regression_fits(cache):
    out = _run("regression.py", cache)
    final = float(re.findall(r"mse ([0-9.]+)", out)[-1])
    assert final < 0.03


def test_readme_snippets_run_in_order(cache, tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "def step(" in out.stdout and "fused" in out.stdout
    assert (tmp_path / "step.dot").read_text().startswith("digraph")


def test_cnn_digits_reaches_97_percent(cache):
    out = _run("cnn_digits.py", cache)
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert accuracy >= 0.97


def test_layers_digits_shares_its_variables_and_reaches_97_percent(cache):
    out = _run("layers_digits.py", cache)
    assert "cnn/conv1/kernel" in out and out.count("cnn/fc2/kernel") == 1  # one set, reused
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert accuracy >= 0.97


# What TensorFlow 2.21's tf.compat.v1 printed for examples/tf1_tutorial_digits.py with its
# import line changed to `import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()`
# (the same data, initial values and steps): the oracle this test holds graphc to.
TF1_PRINTED = """step 0 loss 2.302585 lr 0.500000
step 10 loss 1.564628 lr 0.450000
step 20 loss 1.144183 lr 0.405000
test accuracy 0.894150
metric 0.894150
Mean:0 0.591658"""


def _numbers(text):
    return [float(v) for v in re.findall(r"-?\d+\.\d+", text)]


def assert_prints_like(out, printed, rtol):
    """`out` has `printed`'s lines, word for word, with numbers within `rtol` of its."""
    lines = out.strip().splitlines()
    assert [re.sub(r"[\d.]+", "#", ln) for ln in lines] == [
        re.sub(r"[\d.]+", "#", ln) for ln in printed.splitlines()
    ]
    np.testing.assert_allclose(_numbers(out), _numbers(printed), rtol=rtol)


def test_a_tf1_tutorial_script_prints_what_tf1_prints(cache):
    assert_prints_like(_run("tf1_tutorial_digits.py", cache), TF1_PRINTED, rtol=2e-5)


# What TensorFlow 2.21's tf.compat.v1 (tf.layers from tf_keras 2.21, TF_USE_LEGACY_KERAS=1)
# printed for examples/tf1_cond_digits.py with the same import-line change. Float32 sums
# in another order (graphc accumulates them in float64) drift apart over 60 Adam steps:
# a relative 5e-6 after 20 steps, 7e-5 at the end.
TF1_COND_PRINTED = """step 0 loss 2.222214 norm 1.717333 lr 0.010000
step 20 loss 0.839154 norm 0.681728 lr 0.005000
step 40 loss 0.736574 norm 0.484878 lr 0.002000
eval loss 1.070073
test accuracy 0.899721
moving mean 0.031760 0.063290 0.026008"""


def test_a_tf1_script_with_a_training_switch_prints_what_tf1_prints(cache):
    assert_prints_like(_run("tf1_cond_digits.py", cache), TF1_COND_PRINTED, rtol=2e-4)


def test_backprop_digits_draws_the_view_and_names_the_frozen_variable(cache, tmp_path):
    out = _run("backprop_digits.py", cache, tmp_path)
    assert "NO GRADIENT: softmax_linear/frozen (cut by softmax_linear/Cast_1)" in out
    page = (tmp_path / "backprop_digits.html").read_text()
    assert page.count('class="box"') > 20 and "hidden/MatMul" in page
    assert "<svg" in (tmp_path / "backprop_digits.svg").read_text()  # CI installs Graphviz
    graph = (tmp_path / "graph.svg").read_text()
    assert ">gradients<" in graph and "collapsed: " in graph  # one box for the scope
    assert "# kernel" in (tmp_path / "train_step.html").read_text()  # kernels' code inside


@pytest.mark.skipif(
    shutil.which("mpiexec") is None, reason="needs an MPI launcher (apt-get install openmpi-bin)"
)
def test_distributed_digits_on_two_ranks_learns_what_one_process_learns(cache):
    """The same global batches: two ranks end with one process's weights and accuracy."""
    path = os.path.join(ROOT, "examples", "distributed_digits.py")
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(cache)}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    two = subprocess.run(
        ["mpiexec", "-n", "2", sys.executable, path],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    one = _run("distributed_digits.py", cache)
    assert "ranks 2, global batch 64" in two.stdout and "ranks 1, global batch 64" in one
    sums = re.findall(r"rank (\d) weights checksum ([0-9.]+)", two.stdout)
    assert sorted(r for r, _ in sums) == ["0", "1"] and sums[0][1] == sums[1][1]
    single = re.search(r"weights checksum ([0-9.]+)", one).group(1)
    np.testing.assert_allclose(float(sums[0][1]), float(single), rtol=1e-5)
    for out in (one, two.stdout):
        assert float(re.search(r"test accuracy ([0-9.]+)", out).group(1)) >= 0.97
