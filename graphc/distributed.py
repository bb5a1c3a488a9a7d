"""Data-parallel training over MPI, the Horovod way: every rank runs the same graph on
its shard of each batch, and `DistributedOptimizer` averages the gradients across the
ranks before the update, so every rank applies the same one.

    import graphc as tf
    from graphc import distributed as dist

    dist.init()
    x_shard, y_shard = dist.shard((x_train, y_train))  # this rank's rows of each batch
    train = dist.DistributedOptimizer(tf.train.AdamOptimizer(1e-3)).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        dist.broadcast_variables(sess)  # rank 0's initial values everywhere
        ...

Launch with MPI's launcher: `mpiexec -n 4 python train.py` on one machine, and
`mpiexec --hostfile hosts -n 8 python train.py` across machines (README). Needs the
`distributed` extra (mpi4py) and an MPI library (Open MPI: `apt-get install
openmpi-bin`).

How a step runs: the gradients of all variables of one dtype are packed into one
buffer (`pack=True`, the default: one MPI_Allreduce a step instead of one per
variable), averaged by an `allreduce` op (graphc.ops.collective), and unpacked for the
optimizer. The compiled CPU step runs forward and backward compiled, leaves compiled
code only for the allreduce (an `objmode` call handing the packed buffer to MPI as it
is) and runs the update compiled. Targets without the op (cuda) refuse it, naming it.

Invariants: every rank builds the same graph (same variables, same order), so every
rank makes the same collective calls in the same order; `broadcast_variables` checks
the first part. After `init()`, an exception no one catches on any rank aborts the
whole job (MPI_Abort) instead of leaving the others waiting in a collective forever.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from graphc import mpi
from graphc.errors import GraphcError
from graphc.ir import Node
from graphc.ops import convert
from graphc.ops.collective import allreduce
from graphc.ops.index import concat, split
from graphc.ops.shape import reshape
from graphc.train import Optimizer
from graphc.variables import global_variables

__all__ = [
    "DistributedOptimizer",
    "allreduce",
    "broadcast_variables",
    "init",
    "local_rank",
    "local_size",
    "rank",
    "shard",
    "size",
]


_HOOK: dict[str, Any] = {}  # the excepthook init() replaced, and the communicator to abort


def init(comm: Any = None) -> None:
    """Starts MPI (through mpi4py), over `comm` (an mpi4py communicator; default
    MPI.COMM_WORLD), and makes an uncaught exception on any rank abort the whole job."""
    if comm is not None:
        mpi.use(comm)
    world = mpi.comm()
    if sys.excepthook is not _abort_on_error:
        _HOOK.update(previous=sys.excepthook, comm=world)
        sys.excepthook = _abort_on_error


def _abort_on_error(kind: Any, value: Any, traceback: Any) -> None:
    """Prints the error (naming this rank), then aborts every rank: the others would wait
    in their next collective forever."""
    world = _HOOK["comm"]
    sys.stderr.write(f"graphc.distributed: rank {world.Get_rank()} failed; aborting the job\n")
    _HOOK["previous"](kind, value, traceback)
    sys.stderr.flush()
    world.Abort(1)


def rank() -> int:
    """This process's rank, 0 to size() - 1."""
    return mpi.comm().Get_rank()


def size() -> int:
    """The number of ranks."""
    return mpi.comm().Get_size()


def local_rank() -> int:
    """This process's rank among the ranks on its machine (Horovod's local_rank: which of
    the machine's devices or cores to take)."""
    return mpi.local().Get_rank()


def local_size() -> int:
    """The number of ranks on this process's machine."""
    return mpi.local().Get_size()


def shard(data: Any, index: int | None = None, count: int | None = None) -> Any:
    """This rank's contiguous share of the rows of `data` (an array, or a tuple or list of
    arrays with as many rows, each sharded alike): rank r of n gets rows floor(r*N/n) to
    floor((r+1)*N/n), shares differing by at most one row. With equal shares (N divisible
    by n), the ranks' averaged gradients of a mean loss are the whole batch's gradients."""
    index = rank() if index is None else index
    count = size() if count is None else count
    if not 0 <= index < count:
        raise ValueError(f"shard {index} of {count} does not exist")
    if isinstance(data, tuple | list):
        rows = {len(a) for a in data}
        if len(rows) > 1:
            raise ValueError(f"the arrays to shard have different numbers of rows: {rows}")
        return type(data)(shard(a, index, count) for a in data)
    bounds = [len(data) * k // count for k in range(count + 1)]
    return data[bounds[index] : bounds[index + 1]]


class DistributedOptimizer(Optimizer):
    """`optimizer` with its gradients averaged over the ranks before it applies them
    (Horovod's DistributedOptimizer): `minimize`, `compute_gradients` (the averaged
    gradients) and `apply_gradients` as TF1's; slots are the wrapped optimizer's.
    `pack` averages all gradients of one dtype in one allreduce (else one each)."""

    def __init__(self, optimizer: Optimizer, name: str | None = None, pack: bool = True) -> None:
        super().__init__(None, name=name or f"Distributed{optimizer._name}")
        self._optimizer, self._pack = optimizer, pack

    def compute_gradients(self, loss: Any, var_list: Any = None, **kwargs: Any) -> list[tuple]:
        pairs = self._optimizer.compute_gradients(loss, var_list, **kwargs)
        present = [(k, convert(g)) for k, (g, _) in enumerate(pairs) if g is not None]
        averaged: dict[int, Node] = {}
        if self._pack:
            for dtype in dict.fromkeys(g.dtype for _, g in present):  # in first-use order
                keys = [k for k, g in present if g.dtype is dtype]
                means = _averaged([g for k, g in present if g.dtype is dtype])
                averaged.update(zip(keys, means, strict=True))
        else:
            averaged = {k: allreduce(g, name="HorovodAllreduce") for k, g in present}
        return [(averaged.get(k), v) for k, (_, v) in enumerate(pairs)]

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None, name: Any = None):
        return self._optimizer.apply_gradients(grads_and_vars, global_step, name)

    def get_slot(self, var: Node, name: str) -> Any:
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return self._optimizer.get_slot_names()


def _averaged(grads: list[Node]) -> list[Node]:
    """The ranks' mean of each gradient, through one allreduce of them all packed
    (flattened, concatenated), unpacked to their shapes."""
    if len(grads) == 1:
        return [allreduce(grads[0], name="HorovodAllreduce")]
    flat = concat([reshape(g, [-1]) for g in grads], 0, name="HorovodPack")
    mean = allreduce(flat, name="HorovodAllreduce")
    sizes = [int(np.prod(g.type.shape)) for g in grads]
    parts = split(mean, sizes, 0, name="HorovodUnpack")
    return [reshape(p, g.type.shape) for p, g in zip(parts, grads, strict=True)]


def broadcast_variables(sess: Any, root: int = 0, var_list: Any = None) -> None:
    """Sets every rank's variables (default: all global ones) to rank `root`'s values.
    Raises on every rank, naming the first variable that differs in name, shape or dtype
    from root's, when the ranks built different graphs."""
    variables = list(var_list) if var_list is not None else global_variables()
    world = mpi.comm()
    mine = [(v.op_name, list(v.type.shape), v.dtype.name) for v in variables]
    everyone = world.allgather(mine)
    for other, theirs in enumerate(everyone):
        _check_same(everyone[root], root, theirs, other)
    values = sess.run(variables) if world.Get_rank() == root else None
    for k, var in enumerate(variables):
        buffer = np.empty(var.type.shape, var.dtype.np)
        if values is not None:
            buffer[...] = values[k]
        world.Bcast(buffer, root=root)
        var.load(buffer, sess)


def _check_same(reference: list, root: int, theirs: list, other: int) -> None:
    """Raises naming the first variable of rank `other` unlike rank `root`'s."""
    for k in range(max(len(reference), len(theirs))):
        want = reference[k] if k < len(reference) else None
        got = theirs[k] if k < len(theirs) else None
        if want != got:
            raise GraphcError(
                f"broadcast_variables: the ranks built different graphs: variable {k} is "
                f"{_describe(got)} on rank {other} but {_describe(want)} on rank {root}"
            )


def _describe(variable: tuple | None) -> str:
    if variable is None:
        return "missing"
    name, shape, dtype = variable
    return f"'{name}' {dtype}{shape}"
