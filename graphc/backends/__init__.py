"""The registry of targets: `Session(target=name)` runs on the backend registered as `name`.

Built in: "numpy" (the reference executor, `graphc.backends.reference`), "cpu"
(Numba, `graphc.backends.cpu`) and "cuda" (numba's CUDA kernels,
`graphc.backends.cuda`: a session checks that a GPU or the simulator is there). A new
target is one module defining a `graphc.executable.Backend` plus
`graphc.backends.register(name, backend)`; nothing else changes.
"""

from __future__ import annotations

from graphc.backends.cpu import CpuBackend
from graphc.backends.cuda import CudaBackend
from graphc.backends.reference import ReferenceBackend
from graphc.executable import Backend

BACKENDS: dict[str, Backend] = {}
_PLANNED: dict[str, str] = {}  # known names without a backend yet: name -> why


def register(name: str, backend: Backend) -> None:
    """Makes `backend` the target `name` (replacing any backend of that name)."""
    if not isinstance(backend, Backend):
        raise TypeError(f"a backend must be a graphc.executable.Backend, got {backend!r}")
    BACKENDS[name] = backend


def get(name: str) -> Backend:
    """The backend registered as `name`; raises for unknown and not-yet-available targets."""
    backend = BACKENDS.get(name)
    if backend is not None:
        return backend
    if name in _PLANNED:
        raise NotImplementedError(_PLANNED[name])
    known = tuple(BACKENDS) + tuple(_PLANNED)
    raise ValueError(f"target must be one of {known}, got {name!r}")


register("numpy", ReferenceBackend())
register("cpu", CpuBackend())
register("cuda", CudaBackend())

__all__ = ["BACKENDS", "Backend", "get", "register"]
