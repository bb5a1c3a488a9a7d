"""Runs the BENCH.md workloads (W1-W4) for graphc and its peers; writes benchmarks/results/.

Usage: python benchmarks/run.py [--rounds 3] [--processes 3] [--systems ...] [--workloads ...]
                                [--write]
Each system runs in fresh processes, alternating with the others (thread pools of one
system, such as OpenBLAS's or XLA's, spin after use and would slow the next). Peers that
are not installed are skipped and named. The results are printed; `--write` also
replaces the committed ones in results/. Run by hand, never from the tests.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workloads  # noqa: E402

STEPS = {"W1": 40, "W2": 3000, "W3": 5, "W3-grad": 5, "W4": 5}
WORKLOADS = ("W1", "W2", "W3", "W3-grad", "W4")


def build(system: str, workload: str, cache: str):
    """A step function; `graphc-nopasses` is graphc compiling the graph as written."""
    if system.startswith("graphc"):
        passes = [] if system == "graphc-nopasses" else None
        return workloads.SYSTEMS["graphc"][workload](cache, passes=passes)
    return workloads.SYSTEMS[system][workload]()


def checksum(value) -> float:
    """A number to compare systems by: the loss, or the sum of the first result."""
    import numpy as np

    first = value[0] if isinstance(value, list | tuple) else value
    return float(np.sum(np.asarray(first, dtype=np.float64)))


def has(system: str, workload: str) -> bool:
    """Whether `system` implements `workload` (graphc-nopasses is graphc's builder)."""
    return workload in workloads.SYSTEMS["graphc" if system.startswith("graphc") else system]


PACKAGES = {"jax": "jax", "tf1": "tensorflow", "torch": "torch"}  # peers that may be absent
# peers BENCH.md names that workloads.py does not implement (yet)
NOT_IMPLEMENTED = [
    "torch.compile (not implemented here: its first step takes 30-50 s)",
    "pytensor-numba (not implemented here)",
]


def available(system: str) -> bool:
    """Whether `system`'s package is installed (graphc and NumPy always are)."""
    package = PACKAGES.get(system)
    return package is None or importlib.util.find_spec(package) is not None


def time_steps(step, n: int, rounds: int) -> list[float]:
    for _ in range(3):
        step()
    per_step = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            step()
        per_step.append((time.perf_counter() - started) / n)
    return per_step


def worker(system: str, workload: str, rounds: int, cache: str) -> dict:
    """One system on one workload in this process: checksums of the first steps, times,
    and the process's peak resident memory (MiB) after them."""
    step = build(system, workload, cache)
    count = 5 if workload in ("W1", "W2") else 1
    checks = [checksum(step()) for _ in range(count)]
    seconds = time_steps(step, STEPS[workload], rounds)
    return {"checksums": checks, "seconds": seconds, "peak_mib": peak_mib()}


def peak_mib() -> float:
    """This process's peak resident memory in MiB: Linux's VmHWM, which (unlike
    getrusage's ru_maxrss) starts afresh at exec, not at the parent's peak; 0 elsewhere."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def measure(system: str, workload: str, rounds: int, cache: str) -> dict:
    """Runs `worker` in a fresh process, so no system's thread pools disturb another's;
    graphc compiles in that process (no fast start), so every timed step is compiled."""
    command = [sys.executable, __file__, "--worker", system, workload, str(rounds), cache]
    env = {**os.environ, "GRAPHC_FAST_START": "0"}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


FIRST_STEP = """
import sys
sys.path.insert(0, {here!r})
import workloads
step = workloads.{system}_{workload}({args})
step()
print("first step done", flush=True)
"""


def first_step_seconds(
    system: str, cache_dir: str | None, workload: str = "W1", fast_start: bool = True
) -> float:
    """Wall time from starting a fresh process until it has imported, built, compiled
    (unless `fast_start` interprets it) and run one step (it says so on stdout; its exit,
    the interpreter's teardown, is not counted: 0.3 s of garbage collection for every
    system that imports numba)."""
    args = f"cache_dir={cache_dir!r}" if system == "graphc" else ""
    code = FIRST_STEP.format(here=HERE, system=system, args=args, workload=workload.lower())
    env = {**os.environ, "GRAPHC_FAST_START": "1" if fast_start else "0"}
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        seconds = time.perf_counter() - started
        child.wait()
    if child.returncode != 0 or not line.startswith(b"first step done"):
        raise RuntimeError(f"{system} {workload}: the first-step process failed")
    return seconds


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's import is noisy
    for name in ("numpy", "numba", "scipy", "jax", "tensorflow", "torch", "graphc"):
        if importlib.util.find_spec(name) is not None:
            out[name] = __import__(name).__version__
    out["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "unset")
    out["BLAS kernels"] = blas_kernels()
    return out


def blas_kernels() -> str:
    """The kernels each loaded OpenBLAS picked (graphc's compiled matmuls use SciPy's)."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return "unknown (no threadpoolctl)"
    import threadpoolctl

    pools = threadpoolctl.threadpool_info()
    return "; ".join(
        f"{os.path.basename(p['filepath'])}: {p.get('architecture')}"
        for p in pools
        if p.get("internal_api") == "openblas"
    )


def machine() -> str:
    model = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), model)
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        system, workload, rounds, cache = sys.argv[2:6]
        print(json.dumps(worker(system, workload, int(rounds), cache)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per process")
    parser.add_argument("--processes", type=int, default=3, help="processes per system")
    parser.add_argument(
        "--systems",
        nargs="*",
        default=["graphc", "graphc-nopasses", "numpy", "jax", "tf1", "torch"],
    )
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--write", action="store_true", help="replace results/latest.*")
    opts = parser.parse_args()
    systems = [s for s in opts.systems if available(s)]
    skipped = [f"{s} ({PACKAGES[s]} is not installed)" for s in opts.systems if s not in systems]
    skipped += NOT_IMPLEMENTED
    print("skipped:", "; ".join(skipped) or "none", flush=True)
    results: dict = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "skipped": skipped,
        "workloads": {},
    }
    cache = tempfile.mkdtemp(prefix="graphc-bench-")
    for wl in opts.workloads:
        runs = [s for s in systems if has(s, wl)]
        losses: dict[str, list[float]] = {}
        timings: dict[str, list[float]] = {s: [] for s in runs}
        peaks: dict[str, float] = {}
        for _ in range(opts.processes):  # alternate systems, each in its own process
            for system in runs:
                result = measure(system, wl, opts.rounds, cache)
                losses[system] = result["checksums"]
                timings[system] += result["seconds"]
                peaks[system] = max(peaks.get(system, 0.0), result["peak_mib"])
        for system in runs:
            median = statistics.median(timings[system])
            print(wl, system, f"median {median * 1e6:.1f} us/step", losses[system], flush=True)
        results["workloads"][wl] = {
            "losses": losses,
            "seconds_per_step": timings,
            "peak_mib": peaks,
        }
    first: dict[str, dict[str, dict[str, float]]] = {}
    for wl in [w for w in ("W1", "W4") if w in opts.workloads]:
        first[wl] = {}
        for system in [s for s in systems if s != "graphc-nopasses" and has(s, wl)]:
            if system == "graphc":
                # the default: the first step interpreted (fast start; it starts no
                # compile), then the step compiled in the process, cold and warm
                first[wl][system] = {
                    "cold": first_step_seconds(system, tempfile.mkdtemp(prefix="graphc-"), wl)
                }
                cold_dir = tempfile.mkdtemp(prefix="graphc-cold-")
                first[wl]["graphc (fast_start=False)"] = {
                    "cold": first_step_seconds(system, cold_dir, wl, fast_start=False),
                    "warm": first_step_seconds(system, cold_dir, wl, fast_start=False),
                }
            else:
                first[wl][system] = {"cold": first_step_seconds(system, None, wl)}
            print(wl, "first step", system, first[wl][system], flush=True)
    results["first_step_seconds"] = first
    print("\n".join(report(results)))
    if opts.write:
        write(results)


def write(results: dict) -> None:
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write("\n".join(report(results)) + "\n")


def report(results: dict) -> list[str]:
    """The results as Markdown lines."""
    lines = [
        f"# graphc benchmarks, {results['date']}",
        "",
        f"Machine: {results['machine']}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
        "Skipped: " + ("; ".join(results["skipped"]) or "none"),
        "",
        "| workload | system | median per step | spread (min-max of rounds) | loss / checksum "
        "| peak memory |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for wl, data in results["workloads"].items():
        for system, times in data["seconds_per_step"].items():
            lines.append(
                f"| {wl} | {system} | {_fmt(statistics.median(times))} | "
                f"{_fmt(min(times))} - {_fmt(max(times))} | {data['losses'][system][0]:.5f} "
                f"| {data['peak_mib'][system]:.0f} MiB |"
            )
    for wl, systems in results["first_step_seconds"].items():
        lines += [
            "",
            f"| {wl} time to first step (fresh process) | cold cache | warm cache |",
            "| --- | --- | --- |",
        ]
        for system, t in systems.items():
            warm = f"{t['warm']:.2f} s" if "warm" in t else "-"
            lines.append(f"| {system} | {t['cold']:.2f} s | {warm} |")
    return lines


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
