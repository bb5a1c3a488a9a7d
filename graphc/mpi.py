"""The MPI runtime under graphc.distributed: the communicator and the collective call a
step makes (the reference executor calls `allreduce_into` directly, a compiled CPU step
from an `objmode` block).

mpi4py (the `distributed` extra, over an MPI library such as Open MPI) is imported on
first use, never at `import graphc`; importing it initializes MPI. It imports nothing
of graphc, so an exported step (graphc.export) ships it as it is. Invariants: every
rank makes the same collective calls in the same order (the same graph runs the same
schedule on every rank); buffers go to MPI as they are, contiguous, without pickling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

INSTALL = (
    "pip install 'graphc[distributed]' (mpi4py) with an MPI library and its launcher "
    "(Debian: apt-get install openmpi-bin)"
)
_STATE: dict[str, Any] = {"comm": None, "local": None}


def comm() -> Any:
    """The communicator collectives run over (MPI.COMM_WORLD unless `use` chose one)."""
    if _STATE["comm"] is None:
        _STATE["comm"] = mpi().COMM_WORLD
    return _STATE["comm"]


def use(communicator: Any) -> None:
    """Runs the collectives over `communicator` (an mpi4py communicator)."""
    _STATE["comm"], _STATE["local"] = communicator, None


def local() -> Any:
    """The ranks of `comm()` on this machine (those sharing its memory)."""
    if _STATE.get("local") is None:
        _STATE["local"] = comm().Split_type(mpi().COMM_TYPE_SHARED)
    return _STATE["local"]


def mpi() -> Any:
    """mpi4py's MPI module (which initializes MPI), or a clear error naming the install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f"graphc.distributed needs mpi4py: {INSTALL} ({exc})") from None
    return MPI


def allreduce_into(x: np.ndarray, out: np.ndarray, average: bool) -> None:
    """out = the sum of x over the ranks (their mean with `average`): one MPI_Allreduce
    from x's buffer into out's (out is contiguous: the caller allocated it)."""
    world = comm()
    world.Allreduce(np.ascontiguousarray(x), out, op=mpi().SUM)
    if average:
        out /= world.Get_size()
