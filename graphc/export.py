"""Exporting a compiled step as a Python package that needs numpy and numba, not graphc.

`export(exe, path)` writes the folder `path`, whose name (a Python identifier) is the
package's:

  __init__.py     the loader (`load()`, `Step`), the text `LOADER` below
  _step.py        the generated module, `exe.source` (a print op's import made relative)
  printer.py      graphc.printer as it is, when the step prints
  mpi.py          graphc.mpi as it is, when the step allreduces (graphc.distributed)
  fastmath.py     graphc.fastmath as it is, when the step calls its float32 functions
  blas.py         graphc.blas as it is, when the step splits its products between threads
  spec.json       feeds, variables, constants, generator states, targets, check sites
  variables.npz   the variables' values when exported
  constants.npz   the array constants the step takes

and then runs the package's own `load().compile()` in a fresh Python process in which
`import graphc` fails: that proves the package needs no graphc, and leaves Numba's
cache files for this CPU in its `__pycache__`. A process that imports the package on
the same CPU loads them; on another CPU, or once the files' times change (Numba
compares the source file's time and size), Numba compiles again, silently.

Invariants: the package is written into a temporary folder beside `path` (each file
flushed and fsynced) and renamed into place, so `path` never holds a partial package;
an existing `path` is replaced only with `overwrite=True`. The loader's `Step` keeps
the variables in the buffers the compiled step writes, and a run that fails (a
run-time check) changes none of them, as in a Session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from graphc import mpi, printer
from graphc._version import __version__
from graphc.codegen.context import BLAS_FILE, FASTMATH_FILE
from graphc.durable import durable_write, fsync_folder
from graphc.errors import FailedPreconditionError, GraphcError

if TYPE_CHECKING:
    from graphc.backends.cpu import CpuExecutable

LOADER = '''\
"""A step compiled by graphc {version}, exported: it runs with numpy and numba only.

    import {name}
    step = {name}.load()            # the variables as exported (or load("other.npz"))
    results = step({feed_names})
    step.variables                  # variable name -> its current value
    step.save_variables("trained.npz")

Feeds, in order: {feeds}.
Results, one per target: {targets} (None for an op).
"""

import contextlib
import json
import os

import numba
import numpy as np

from . import _step

_HERE = os.path.dirname(os.path.abspath(__file__))
# a step that splits its products between threads runs inside blas.one_thread
_ONE_THREAD = getattr(_step, "one_thread", contextlib.nullcontext)


def load(variables=None):
    """The step, its variables read from the .npz file `variables` (default: the values
    exported)."""
    return Step(variables)


class Step:
    """The exported step: call it with the feed values, in order."""

    def __init__(self, variables=None):
        with open(os.path.join(_HERE, "spec.json")) as f:
            self.spec = json.load(f)
        path = variables or os.path.join(_HERE, "variables.npz")
        with np.load(path) as saved:
            self.variables = {{
                v["name"]: _variable(v, saved, path) for v in self.spec["variables"]
            }}
        with np.load(os.path.join(_HERE, "constants.npz")) as saved:
            consts = [saved[f"c{{k}}"] for k in range(len(saved.files))]
        generators = []
        for state in self.spec["generators"]:
            bits = np.random.PCG64()
            bits.state = state
            generators.append(np.random.Generator(bits))
        # the compiled step writes each variable's new value into these views at its end
        buffers = [a.reshape(a.shape or (1,)) for a in self.variables.values()]
        self._tail = (*buffers, *consts, *generators)

    def __call__(self, *values):
        feeds = self.spec["feeds"]
        if len(values) != len(feeds):
            raise TypeError(f"expected {{len(feeds)}} feed values, got {{len(values)}}")
        args = [_feed(f, v) for f, v in zip(feeds, values)]
        try:
            with _ONE_THREAD():
                out = _step.step(*args, *self._tail)
        except ValueError as exc:  # a run-time check: its message template, then values
            site = self.spec["checks"].get(exc.args[0]) if exc.args else None
            if site is None:
                raise
            message = exc.args[0].format(*exc.args[1:])
            raise ValueError(f"{{message}} (created at {{site}})") from None
        return [
            None if t["op"] else _result(out[t["index"]], t["dtype"], t["rank"])
            for t in self.spec["targets"]
        ]

    def compile(self):
        """Compiles the step (or loads it from Numba's cache) without running it."""
        feeds = [_feed(f, np.zeros([d or 1 for d in f["shape"]], f["dtype"]))
                 for f in self.spec["feeds"]]
        _step.step.compile(tuple(numba.typeof(a) for a in (*feeds, *self._tail)))
        return self

    def save_variables(self, path):
        """Writes the variables' current values to the .npz file `path` (`load` reads it)."""
        np.savez(path, **{{f"v{{k}}": a for k, a in enumerate(self.variables.values())}})


def _variable(v, saved, path):
    key = f"v{{v['index']}}"
    if key not in saved.files:
        raise ValueError(f"{{path}} has no value for variable {{v['name']!r}} ({{key}})")
    array = np.array(saved[key], dtype=v["dtype"], order="C")
    if list(array.shape) != v["shape"]:
        name, given = v["name"], list(array.shape)
        raise ValueError(f"variable {{name!r}} has shape {{v['shape']}}, {{path}} gives {{given}}")
    return array


def _feed(feed, value):
    array = np.asarray(value)
    if array.dtype != feed["dtype"]:
        if not np.can_cast(array.dtype, feed["dtype"], "same_kind"):
            raise TypeError(
                f"feed {{feed['name']!r}} takes {{feed['dtype']}}, got {{array.dtype}}"
            )
        array = array.astype(feed["dtype"])
    shape = feed["shape"]
    fits = array.ndim == len(shape) and all(d in (None, n) for d, n in zip(shape, array.shape))
    if not fits:
        raise ValueError(
            f"feed {{feed['name']!r}} takes shape {{shape}} (None: any), got {{list(array.shape)}}"
        )
    return np.ascontiguousarray(array) if array.ndim else array[()]


def _result(value, dtype, rank):
    return np.dtype(dtype).type(value) if rank == 0 else value
'''


def export(exe: CpuExecutable, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Writes `exe`'s step as the package folder `path` and compiles it there (see the
    module docstring); returns the folder's path."""
    path = Path(os.path.abspath(path))
    if not path.name.isidentifier():
        raise GraphcError(f"export: {path.name!r} is not a Python package name")
    if path.exists() and not overwrite:
        raise GraphcError(f"export: {path} exists (pass overwrite=True to replace it)")
    spec, variables, consts = _spec(exe, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        _write_package(tmp, exe, spec, variables, consts)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_folder(str(path.parent))
    _compile_alone(path)
    return path


def _spec(exe: CpuExecutable, name: str) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """The package's spec.json content, the variables' values and the array constants."""
    program, store = exe.program, exe._store
    values = []
    for var in program.variables:
        value = store.values.get(var)
        if value is None:
            raise FailedPreconditionError(
                f"export: variable '{var.op_name}' has no value yet (run its initializer first)"
            )
        values.append(value)
    index = {id(n): k for k, n in enumerate(program.fetches)}
    targets = [
        {
            "name": node.name if not is_op else node.op_name,
            "op": is_op,
            "index": None if is_op else index[id(node)],
            "dtype": None if is_op else node.dtype.np.name,
            "rank": None if is_op else len(node.type.shape),
        }
        for node, is_op in exe.step.targets
    ]
    spec = {
        "format": 1,
        "graphc": __version__,
        "name": name,
        "feeds": [
            {"name": n.name, "dtype": n.dtype.np.name, "shape": list(n.type.shape)}
            for n in program.feeds
        ],
        "variables": [
            {"name": v.op_name, "index": k, "dtype": v.dtype.np.name, "shape": list(v.type.shape)}
            for k, v in enumerate(program.variables)
        ],
        "generators": [store.rng(n).bit_generator.state for n in program.randoms],
        "targets": targets,
        "checks": dict(exe._check_sites),
    }
    return spec, values, program.constant_arrays()


def _write_package(
    folder: Path,
    exe: CpuExecutable,
    spec: dict,
    variables: list[np.ndarray],
    consts: list[np.ndarray],
) -> None:
    source = exe.source
    # what the step imports from graphc: modules that import nothing else of it
    for file in (FASTMATH_FILE, BLAS_FILE, Path(printer.__file__), Path(mpi.__file__)):
        name = file.stem
        if f"from graphc.{name} import" in source:  # shipped as it is
            source = source.replace(f"from graphc.{name} import", f"from .{name} import")
            _write_bytes(folder / f"{name}.py", file.read_bytes())
    feeds = ", ".join(f"{f['name']} {f['dtype']}{f['shape']}" for f in spec["feeds"]) or "none"
    targets = ", ".join(t["name"] for t in spec["targets"])
    loader = LOADER.format(
        version=__version__,
        name=spec["name"],
        feed_names=", ".join(f["name"].split(":")[0].replace("/", "_") for f in spec["feeds"]),
        feeds=feeds,
        targets=targets,
    )
    _write_bytes(folder / "__init__.py", loader.encode())
    _write_bytes(folder / "_step.py", source.encode())
    _write_bytes(folder / "spec.json", json.dumps(spec, indent=1).encode() + b"\n")
    arrays = {f"v{k}": a for k, a in enumerate(variables)}
    durable_write(str(folder / "variables.npz"), lambda f: np.savez(f, **arrays))
    constants = {f"c{k}": a for k, a in enumerate(consts)}
    durable_write(str(folder / "constants.npz"), lambda f: np.savez(f, **constants))
    fsync_folder(str(folder))


def _write_bytes(path: Path, data: bytes) -> None:
    durable_write(str(path), lambda f: f.write(data))


def _compile_alone(path: Path) -> None:
    """Compiles the package in a fresh process that cannot import graphc."""
    code = (
        "import sys\n"
        "sys.modules['graphc'] = None  # an exported step must not need graphc\n"
        f"sys.path.insert(0, {str(path.parent)!r})\n"
        f"import {path.name}\n"
        f"{path.name}.load().compile()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # cache inside
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise GraphcError(f"export: the package at {path} failed to compile:\n{done.stderr}")
