"""graphc.distributed over MPI: `mpiexec -n 2` (and 3) on this machine, each rank
running tests/distributed_worker.py.

Oracles: the single-process gradients and training of the whole batch (the reference
executor) for the ranks' averaged gradients and their variables after Adam steps;
the ranks against each other (identical variables); Open MPI's own exit status and
messages for a rank that dies; the graphs' own variables for a mismatch. Skipped, saying
why, only where `mpiexec` or mpi4py is missing (`.ci/run` installs Open MPI, the dev
extra mpi4py).
"""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from distributed_worker import BATCH, build, data

import graphc as tf
from graphc import distributed as dist
from graphc.errors import DTypeError
from graphc.executable import optimize

HERE = os.path.dirname(os.path.abspath(__file__))
MPIEXEC = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401

    MPI4PY = True
except ImportError:
    MPI4PY = False
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or not MPI4PY,
    reason="needs an MPI launcher (apt-get install openmpi-bin) and mpi4py (the dev extra)",
)


def _mpiexec(ranks, *args, timeout=120):
    command = [MPIEXEC, "-n", str(ranks)]
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        command.append("--oversubscribe")  # more ranks than cores (CI has 2)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command += [sys.executable, os.path.join(HERE, "distributed_worker.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def _single_process(steps=3):
    """The whole batch in one process (the reference executor): gradients, then the
    variables after `steps` Adam steps, starting from rank 0's initial values."""
    x, y, loss = build(init_seed=1)
    optimizer = tf.train.AdamOptimizer(0.05)
    pairs = optimizer.compute_gradients(loss)
    train = optimizer.apply_gradients(pairs)
    feeds = dict(zip((x, y), data(), strict=True))
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        grads = sess.run([g for g, _ in pairs], feeds)
        for _ in range(steps):
            sess.run(train, feeds)
        return grads, sess.run(tf.trainable_variables())


def _load(out, ranks):
    return [np.load(os.path.join(out, f"rank{r}.npz")) for r in range(ranks)]


@needs_mpi
@pytest.mark.parametrize(
    "ranks, target, pack", [(2, "numpy", "pack"), (3, "numpy", "each"), (2, "cpu", "pack")]
)
def test_averaged_gradients_and_training_equal_the_whole_batch_in_one_process(
    ranks, target, pack, tmp_path
):
    done = _mpiexec(ranks, "gradients", target, tmp_path, pack)
    assert done.returncode == 0, done.stderr[-3000:]
    want_grads, want_values = _single_process()
    results = _load(tmp_path, ranks)
    count = len(want_grads)
    for got in results:
        arrays = [got[f"arr_{k}"] for k in range(2 * count)]
        for g, want in zip(arrays[:count], want_grads, strict=True):
            np.testing.assert_allclose(g, want, rtol=2e-5, atol=1e-6)
        for v, want in zip(arrays[count:], want_values, strict=True):
            np.testing.assert_allclose(v, want, rtol=2e-5, atol=1e-6)
        # one packed allreduce a step, or one per gradient
        assert int(got["allreduces"]) == (1 if pack == "pack" else count)
        assert bool(got["objmode"]) == (target == "cpu")
        assert not got["interpreted"]  # fast start leaves steps that exchange values alone
    # one machine: every rank is local
    assert [tuple(got["local"]) for got in results] == [(r, ranks, ranks) for r in range(ranks)]
    for other in results[1:]:  # the ranks' variables are bit for bit the same
        for k in range(count, 2 * count):
            np.testing.assert_array_equal(other[f"arr_{k}"], results[0][f"arr_{k}"])


@needs_mpi
def test_a_rank_that_dies_takes_the_job_down_with_a_clear_error_instead_of_hanging(tmp_path):
    start = time.monotonic()
    done = _mpiexec(2, "die", "numpy", tmp_path, timeout=90)
    assert done.returncode != 0
    assert time.monotonic() - start < 90
    assert "graphc.distributed: rank 1 failed; aborting the job" in done.stderr
    assert "RuntimeError: rank one fails on purpose" in done.stderr
    assert "MPI_ABORT" in done.stderr + done.stdout or "abort" in done.stderr.lower()


@needs_mpi
def test_a_rank_killed_outright_takes_the_job_down_too(tmp_path):
    """SIGKILL: no Python runs on the dying rank; MPI's launcher ends the others."""
    start = time.monotonic()
    done = _mpiexec(2, "killed", "numpy", tmp_path, timeout=90)
    assert done.returncode != 0 and time.monotonic() - start < 90
    assert "rank 1" in done.stderr and "signal 9" in done.stderr


@needs_mpi
def test_ranks_that_built_different_graphs_are_told_which_variable_differs(tmp_path):
    done = _mpiexec(2, "mismatch", "numpy", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for r in range(2):
        message = (tmp_path / f"rank{r}.txt").read_text()
        assert message.startswith("GraphcError: broadcast_variables: the ranks built different")
        assert "variable 2 is 'second/kernel' float32[4, 6] on rank 1" in message
        assert "but 'second/kernel' float32[4, 3] on rank 0" in message
        assert message.endswith("\nvariables unchanged: True")  # refused before any copy


def test_shard_gives_each_rank_its_contiguous_rows():
    x, y = np.arange(10), np.arange(10) * 2
    parts = [dist.shard((x, y), r, 3) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), x)
    assert [len(p[0]) for p in parts] == [3, 3, 4] and isinstance(parts[0], tuple)
    np.testing.assert_array_equal(parts[1][1], y[3:6])
    assert len(dist.shard(np.zeros((BATCH, 2)), 1, 2)) == BATCH // 2
    with pytest.raises(ValueError, match="shard 3 of 3 does not exist"):
        dist.shard(x, 3, 3)
    with pytest.raises(ValueError, match="different numbers of rows"):
        dist.shard((x, y[:5]), 0, 2)


def test_allreduce_refuses_to_average_integers_naming_the_op():
    with pytest.raises(DTypeError, match=r"HorovodAllreduce.*averaging needs floats"):
        dist.allreduce(tf.constant([1, 2]))
    assert dist.allreduce(tf.constant([1, 2]), average=False).dtype == tf.int32


def test_without_mpi4py_the_error_says_what_to_install(monkeypatch):
    from graphc import mpi

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py fails
    monkeypatch.setitem(mpi._STATE, "comm", None)
    with pytest.raises(ImportError, match=r"pip install 'graphc\[distributed\]'.*openmpi-bin"):
        dist.rank()


def test_the_compiled_step_calls_mpi_from_one_objmode_block_between_compiled_code():
    x, y, loss = build(init_seed=1)
    train = dist.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1)).minimize(loss)
    graph, _ = optimize(train, [x, y])
    kinds = [n.opdef.name for n in graph.nodes]
    assert kinds.count("allreduce") == 1  # the packed gradients: not folded, merged or fused
    from graphc.backends.cpu import build_program
    from graphc.codegen.cpu import generate
    from graphc.executable import lower
    from graphc.graph import as_op_node

    step = lower([(as_op_node(train), True)], [as_op_node(x), as_op_node(y)], None)
    source, _ = generate(build_program(step))
    assert "from graphc.mpi import allreduce_into as _allreduce" in source
    assert source.count("with objmode():  # over MPI, in Python (graphc.mpi)") == 1


def test_a_rank_with_fewer_variables_is_named_with_the_one_it_lacks():
    """broadcast_variables' comparison (no MPI needed): counts differ, the first extra or
    missing variable is named."""
    root = [("w", [2, 3], "float32"), ("b", [3], "float32")]
    dist._check_same(root, 0, list(root), 1)  # the same graph: nothing raised
    with pytest.raises(tf.errors.GraphcError, match=r"variable 1 is missing on rank 2 but 'b'"):
        dist._check_same(root, 0, root[:1], 2)
    with pytest.raises(tf.errors.GraphcError, match=r"variable 2 is 'extra' float64\[\] on rank"):
        dist._check_same(root, 0, [*root, ("extra", [], "float64")], 1)
