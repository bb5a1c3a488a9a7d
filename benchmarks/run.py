"""Runs the BENCH.md workloads (W1, W2) for graphc and its peers; writes benchmarks/results/.

Usage: python benchmarks/run.py [--rounds 5] [--systems graphc numpy jax]
Peers that are not installed are skipped. Run by hand, never from the tests.
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

STEPS = {"W1": 40, "W2": 3000}


def available(system: str) -> bool:
    return system != "jax" or importlib.util.find_spec("jax") is not None


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


FIRST_STEP = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, {here!r})
import workloads
step = workloads.{system}_w1({args})
step()
print(time.perf_counter() - started)
"""


def first_step_seconds(system: str, cache_dir: str | None) -> float:
    """Wall time of a fresh process that imports, builds, compiles and runs one W1 step."""
    args = f"cache_dir={cache_dir!r}" if system == "graphc" else ""
    code = FIRST_STEP.format(here=HERE, system=system, args=args)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "numba", "scipy", "jax", "graphc"):
        if importlib.util.find_spec(name) is not None:
            out[name] = __import__(name).__version__
    return out


def machine() -> str:
    model = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), model)
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--systems", nargs="*", default=["graphc", "numpy", "jax"])
    opts = parser.parse_args()
    systems = [s for s in opts.systems if available(s)]
    results: dict = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "workloads": {},
    }
    cache = tempfile.mkdtemp(prefix="graphc-bench-")
    for wl in ("W1", "W2"):
        losses, timings = {}, {}
        for system in systems:
            step = (
                workloads.SYSTEMS[system][wl](cache)
                if system == "graphc"
                else workloads.SYSTEMS[system][wl]()
            )
            losses[system] = [float(step()) for _ in range(5)]
            timings[system] = time_steps(step, STEPS[wl], opts.rounds)
            print(
                wl,
                system,
                f"median {statistics.median(timings[system]) * 1e6:.1f} us/step",
                "losses",
                [round(v, 5) for v in losses[system]],
                flush=True,
            )
        results["workloads"][wl] = {"losses": losses, "seconds_per_step": timings}
    first: dict[str, dict[str, float]] = {}
    for system in systems:
        if system == "graphc":
            cold_dir = tempfile.mkdtemp(prefix="graphc-cold-")
            first[system] = {
                "cold": first_step_seconds(system, cold_dir),
                "warm": first_step_seconds(system, cold_dir),
            }
        else:
            first[system] = {"cold": first_step_seconds(system, None)}
        print("W1 first step", system, first[system], flush=True)
    results["first_step_seconds"] = first
    write(results)


def write(results: dict) -> None:
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    lines = [
        f"# graphc benchmarks, {results['date']}",
        "",
        f"Machine: {results['machine']}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
        "| workload | system | median per step | spread (min-max of rounds) | loss at step 0 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for wl, data in results["workloads"].items():
        for system, times in data["seconds_per_step"].items():
            lines.append(
                f"| {wl} | {system} | {_fmt(statistics.median(times))} | "
                f"{_fmt(min(times))} - {_fmt(max(times))} | {data['losses'][system][0]:.5f} |"
            )
    lines += [
        "",
        "| W1 time to first step (fresh process) | cold cache | warm cache |",
        "| --- | --- | --- |",
    ]
    for system, t in results["first_step_seconds"].items():
        lines.append(
            f"| {system} | {t['cold']:.2f} s | {t['warm']:.2f} s |"
            if "warm" in t
            else f"| {system} | {t['cold']:.2f} s | - |"
        )
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
