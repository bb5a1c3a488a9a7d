"""Target "cuda": steps compiled to numba `@cuda.jit` kernels (graphc.codegen.cuda).

The step is the graph after the default passes, the CPU's fusion included: each fused
kernel becomes one CUDA kernel. Its code is a module of kernels and a host function
(`Executable.source`; `Executable.launches` lists each kernel, what it computes and
its launch configuration). Where CuPy works on a real GPU, floating matrix products go
to cuBLAS through it and arrays come from its memory pool (GRAPHC_CUDA_CUPY=0: numba
alone, graphc's own tiled matmul).

Feeds are copied to the device once per run; fetches come back when fetched. Variables
live on the device between runs, shared by every step of the session: a run's new
values are handed to the session's `VariableStore` as deferred (`VariableStore.defer`),
copied back only when the host reads them (fetching through another path, `Saver`,
`Variable.load` of another variable), so every target's view stays right. A store
changed by anything else (an initializer, `load`, `restore`) is uploaded again before
the next run.

Numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`, set before numba is imported) runs
the same code without a GPU; CI tests the target there. Without it, a machine needs an
NVIDIA GPU with its driver and the `numba-cuda` package (the `cuda` extra); the
session says which is missing when it is created.

Invariants: numba.cuda is imported only when a cuda session is created, never at
`import graphc`; a run that fails (a check, a launch) changes no variable.
"""

from __future__ import annotations

import os
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from graphc.backends.cpu import build_program
from graphc.codegen.cuda import RANDOM_THREADS, Module, generate
from graphc.errors import GraphcError, InvalidArgumentError
from graphc.executable import (
    Backend,
    Executable,
    Options,
    Step,
    lower,
    unshared,
)
from graphc.feeds import convert_feed, flatten
from graphc.graph import as_op_node
from graphc.ir import Node, Operation
from graphc.store import VariableStore, uninitialized

INSTALL = "pip install 'graphc[cuda]' (numba-cuda with NVIDIA's CUDA 12 wheels)"


def simulated() -> bool:
    """Whether numba runs CUDA code on its simulator (no GPU needed)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")


def unavailable_reason() -> str | None:
    """Why the cuda target cannot run here, or None."""
    if simulated():
        return None
    try:
        from numba import cuda  # a cuda session only: numba.cuda is slow to import
    except ImportError as exc:  # pragma: no cover - numba always ships numba.cuda
        return f"numba's CUDA support cannot be imported ({exc}): {INSTALL}"
    if not cuda.is_available():
        return (
            "no usable NVIDIA GPU was found (no device, no driver, or no CUDA toolkit for "
            f"numba): {INSTALL} on a machine with an NVIDIA GPU and its driver, or set "
            "NUMBA_ENABLE_CUDASIM=1 (before numba is imported) to run on numba's simulator"
        )
    return None


def use_cupy() -> bool:
    """Whether steps use CuPy (cuBLAS for floating matrix products, its memory pool for
    arrays): on a real GPU where CuPy works, unless GRAPHC_CUDA_CUPY=0 asks for numba
    alone (graphc's own tiled matmul, numba's allocator)."""
    if simulated() or os.environ.get("GRAPHC_CUDA_CUPY", "") == "0":
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # not installed, or no device or driver it can use
        return False


class CudaBackend(Backend):
    """Compiles steps to numba CUDA kernels: the default passes, the CPU's fusion included
    (a fused kernel is one CUDA kernel)."""

    name = "cuda"
    needs_ranks = True

    def check_available(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise GraphcError(f"target 'cuda': {reason}")

    def compile(
        self,
        step: Step,
        store: VariableStore,
        options: Options,
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> Executable:  # the Session checked the GPU (check_available) when it was created
        return CudaExecutable(step, store, rebuild)


class CudaExecutable(Executable):
    """A step as CUDA kernels and their host function; `.source` is the module."""

    target = "cuda"

    def __init__(
        self, step: Step, store: VariableStore, rebuild: Callable[[list[Any]], Any] | None
    ) -> None:
        from numba import cuda
        from numba.cuda.core import config

        # small tensors get small grids by design: numba's warning on each such launch is noise
        config.CUDA_LOW_OCCUPANCY_WARNINGS = 0
        super().__init__(step, store, rebuild)
        self._cuda = cuda
        self.program = build_program(step)
        for node in self.feeds + self.program.order:
            if node.type is not None and node.type.shape is None:
                raise GraphcError(f"'{node.name}' has unknown rank: the cuda target needs ranks")
        self.module = generate(self.program, cupy=use_cupy())
        self.source, self.launches = self.module.source, self.module.launches
        self._check_sites = self.module.sites
        self._step = load(self.module).step
        self._consts = [cuda.to_device(n.attrs["value"].array) for n in self.program.consts]
        self._states = [_generators(n, store) for n in self.program.randoms]

    def argument(self, node: Node, value: Any) -> Any:
        """A fed value on the device (a scalar stays on the host)."""
        array = convert_feed(node, value)
        if array.ndim == 0:
            return array[()]
        return self._cuda.to_device(np.ascontiguousarray(array))

    def run_flat(self, arrays: list[Any]) -> list[Any]:
        store, program = self._store, self.program
        store.require(self.step.plan.snapshot_reads)
        device = self._on_device()
        try:
            fetched, written = self._step(*arrays, *device, *self._consts, *self._states)
        except ValueError as exc:
            template = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
            site = self._check_sites.get(template) if template else None
            if site is None:
                raise
            message = template.format(*exc.args[1:])
            raise InvalidArgumentError(f"{message} (created at {site})") from None
        fresh = {}
        for var, value in zip(program.variables, written, strict=True):
            if value is not None:
                if not hasattr(value, "copy_to_host"):  # a rank-0 value computed on the host
                    value = self._cuda.to_device(np.asarray([value], var.dtype.np))
                fresh[var] = value
        if fresh:  # the device holds the new values; the host copies them when it reads
            shared = _shared(store)
            shared["arrays"].update({var.op_name: value for var, value in fresh.items()})
            store.defer(
                fresh, lambda: {v: a.copy_to_host().reshape(v.type.shape) for v, a in fresh.items()}
            )
            shared["version"] = store.version
        index = {id(n): k for k, n in enumerate(program.fetches)}
        results = [
            None if is_op else _host(fetched[index[id(n)]], n) for n, is_op in self.step.targets
        ]
        return unshared(results)

    def _on_device(self) -> list[Any]:
        """The program's variables as device arrays (rank 0 as one element): the session's
        shared ones while nothing else changed the store, else copied from the host."""
        store, shared = self._store, _shared(self._store)
        if shared["version"] != store.version:  # a load, restore or initializer: start again
            shared["arrays"], shared["version"] = {}, store.version
        arrays = shared["arrays"]
        for var in self.program.variables:
            if var.op_name in arrays:
                continue
            value = store.values.get(var)
            if value is None:
                assigns = (n for n in self.program.order if n.opdef.name == "assign")
                if not any(n.inputs[0] is var for n in assigns):
                    raise uninitialized(var)
                value = np.zeros(var.type.shape, var.dtype.np)  # assigned before any read
            flat = np.ascontiguousarray(value).reshape(var.type.shape or (1,))
            arrays[var.op_name] = self._cuda.to_device(flat)
        return [arrays[var.op_name] for var in self.program.variables]


def _to_host(array: Any, var: Node) -> np.ndarray:
    return array.copy_to_host().reshape(var.type.shape)


def _shared(store: VariableStore) -> dict[str, Any]:
    """The session's variables on the device, by name, valid while the store's version is
    `version` (every cuda executable of the session uses and updates them)."""
    return store.device.setdefault("cuda:variables", {"version": -1, "arrays": {}})


def _generators(node: Node, store: VariableStore) -> Any:
    """A random op's xoroshiro128+ states on the device, one per thread of its grid,
    seeded from its seed pair (fresh entropy without one); kept in the session's store
    by op name, so every step that draws from the op continues its stream."""
    from numba.cuda.random import create_xoroshiro128p_states

    key = f"xoroshiro128p:{node.op_name}"
    if key in store.device:
        return store.device[key]
    seed = node.attrs["seed"]
    if seed is None:
        value = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    else:
        value = int(np.random.SeedSequence(list(seed)).generate_state(1, np.uint64)[0])
    with warnings.catch_warnings():  # the simulator seeds them in object mode, noisily
        warnings.simplefilter("ignore")
        store.device[key] = create_xoroshiro128p_states(RANDOM_THREADS, seed=np.uint64(value))
    return store.device[key]


def load(module: Module) -> types.ModuleType:
    """The generated module as a Python module (kept in memory: numba compiles each
    kernel when it is first launched)."""
    out = types.ModuleType("graphc_cuda_step")
    exec(compile(module.source, "<graphc cuda step>", "exec"), out.__dict__)
    return out


def compile_ptx(
    fetches: Any, feeds: Any = (), cc: tuple[int, int] = (8, 0), passes: Any = None
) -> dict[str, str]:
    """PTX of every kernel the cuda target generates for computing `fetches` from
    `feeds`, for compute capability `cc`: kernel name -> PTX text. Needs NVIDIA's
    numba-cuda with its CUDA toolkit wheels (the `cuda` extra), no GPU and no driver;
    proves the kernels are valid CUDA, which numba's simulator does not check."""
    from numba import cuda
    from numba import types as nb
    from numba.cuda.random import xoroshiro128p_dtype
    from numba.np import numpy_support

    leaves, _ = flatten(fetches)
    targets = [(as_op_node(leaf), isinstance(leaf, Operation)) for leaf in leaves]
    feeds = [as_op_node(f) for f in feeds]
    passes = CudaBackend().default_passes if passes is None else passes
    module = generate(build_program(lower(targets, feeds, passes)))
    code = load(module)

    def numba_type(dtype: str, ndim: int) -> Any:
        record = xoroshiro128p_dtype if dtype == "xoroshiro128p" else np.dtype(dtype)
        scalar = numpy_support.from_dtype(record)
        return nb.Array(scalar, ndim, "C") if ndim else scalar

    out = {}
    for name, params in module.signatures.items():
        signature = tuple(numba_type(dtype, ndim) for dtype, ndim in params)
        out[name], _ = cuda.compile_ptx(getattr(code, name).py_func, signature, cc=cc)
    return out


def _host(value: Any, node: Node) -> Any:
    """A fetched value on the host: arrays copied back, scalars as NumPy scalars."""
    if hasattr(value, "copy_to_host"):
        array = value.copy_to_host()
        return array.reshape(())[()] if node.type.shape == () else array
    return node.dtype.np.type(value)
