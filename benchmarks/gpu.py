"""W1, W3 and W4 on an NVIDIA GPU: graphc's cuda target beside PyTorch and JAX there.

Usage: python benchmarks/gpu.py [--steps 20] [--out results.json]
Runs every system in this one process, one after the other (the GPU is not shared with
a thread pool of the last one, as the CPU is in run.py). Per system and workload: the
time to the first step (building, compiling, the step), and the median of `--steps`
timed steps after 3 warm-up ones. Every step returns to the host (a loss, or W3's
arrays copied back, its inputs copied in: as graphc's feeds and fetches are), so each
time holds the whole step. graphc runs twice on W1 and W4: with CuPy (cuBLAS and its
memory pool: the default where CuPy works) and with numba alone (GRAPHC_CUDA_CUPY=0).
`overheads()` times the host-side costs a step is made of (a launch, an allocation, a
cuBLAS call). Run by hand on a GPU machine; never from the tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import workloads  # noqa: E402
from run import checksum  # noqa: E402  (the CPU benchmark's: every step returns host values)


def _graphc(workload: str, numba_only: bool = False):
    if numba_only:
        os.environ["GRAPHC_CUDA_CUPY"] = "0"
    try:
        if workload == "W3-grad":
            return workloads.graphc_w3(gradient=True, target="cuda")
        builder = getattr(workloads, f"graphc_{workload.lower()}")
        return builder(target="cuda")
    finally:
        os.environ.pop("GRAPHC_CUDA_CUPY", None)


def _torch(workload: str):
    if workload == "W3-grad":
        return workloads.torch_w3(True, device="cuda")
    return getattr(workloads, f"torch_{workload.lower()}")(device="cuda")


def _jax(workload: str):
    fn = workloads.SYSTEMS["jax"][workload]
    step = fn()
    return lambda: _ready(step())


def _ready(value):
    import jax

    return jax.device_get(value)


SYSTEMS = {
    "graphc": _graphc,
    "graphc-numba-only": lambda w: _graphc(w, numba_only=True),
    "torch": _torch,
    "jax": _jax,
}
RUNS = {  # which systems run which workloads
    "W1": ("graphc", "graphc-numba-only", "torch", "jax"),
    "W3": ("graphc", "torch", "jax"),
    "W3-grad": ("graphc", "torch", "jax"),
    "W4": ("graphc", "graphc-numba-only", "torch", "jax"),
}


def overheads(calls: int = 300) -> dict:
    """Microseconds per call, the device synchronized once after `calls` calls: a launch
    of an empty kernel with three array arguments, numba's and CuPy's allocations, a
    W1-sized product by the generated module's `gemm` and by CuPy on its own arrays."""
    import numpy as np
    from numba import cuda

    out = {}

    @cuda.jit
    def nothing(a, b, c):
        pass

    def timed(name, fn):
        fn()
        cuda.synchronize()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        cuda.synchronize()
        out[name] = round(1e6 * (time.perf_counter() - start) / calls, 2)

    a = cuda.device_array((128, 784), np.float32)
    b = cuda.device_array((784, 256), np.float32)
    c = cuda.device_array((128, 256), np.float32)
    timed("numba launch, 3 arrays", lambda: nothing[1, 32](a, b, c))
    timed("numba device_array", lambda: cuda.device_array((128, 256), np.float32))
    try:
        import cupy

        from graphc.codegen.cuda import CUPY

        helpers = {"cuda": cuda, "cupy": cupy}
        exec(CUPY, helpers)
        timed("cupy pool empty as numba array", lambda: helpers["empty"]((128, 256), np.float32))
        timed("gemm on numba arrays", lambda: helpers["gemm"](c, a, b, False, False))
        x, y, z = cupy.asarray(a), cupy.asarray(b), cupy.asarray(c)
        timed("cupy.matmul on cupy arrays", lambda: cupy.matmul(x, y, out=z))
        timed("cupy.asarray of a numba array", lambda: cupy.asarray(a))
    except Exception as exc:  # no CuPy here
        out["cupy"] = f"unavailable ({type(exc).__name__}: {exc})"[:200]
    return out


def measure(system: str, workload: str, steps: int) -> dict:
    start = time.perf_counter()
    step = SYSTEMS[system](workload)
    value = step()
    first = time.perf_counter() - start
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        value = step()
        times.append(time.perf_counter() - t)
    return {
        "first_step_s": round(first, 3),
        "step_ms": round(1e3 * statistics.median(times), 4),
        "checksum": checksum(value),
    }


def versions() -> dict:
    import numba
    import numpy

    out = {"python": platform.python_version(), "numpy": numpy.__version__}
    out["numba"] = numba.__version__
    for name in ("numba_cuda", "cupy", "torch", "jax"):
        try:
            out[name] = __import__(name).__version__
        except Exception as exc:  # absent or broken: say so
            out[name] = f"unavailable ({type(exc).__name__})"
    return out


def device_name() -> str:
    from numba import cuda

    if not cuda.is_available():
        return "no GPU"
    name = getattr(cuda.get_current_device(), "name", "numba's simulator")
    return name.decode() if isinstance(name, bytes) else str(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workloads", nargs="*", default=list(RUNS))
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    results = {
        "date": datetime.date.today().isoformat(),
        "device": device_name(),
        "versions": versions(),
        "runs": {},
    }
    print(json.dumps({k: results[k] for k in ("device", "versions")}), flush=True)
    results["overheads_us"] = overheads()
    print("overheads (us per call):", json.dumps(results["overheads_us"]), flush=True)
    for workload in args.workloads:
        for system in RUNS[workload]:
            try:
                row = measure(system, workload, args.steps)
            except Exception as exc:  # a peer that does not run here: say why, go on
                row = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            results["runs"].setdefault(workload, {})[system] = row
            print(f"{workload:8} {system:16} {json.dumps(row)}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
