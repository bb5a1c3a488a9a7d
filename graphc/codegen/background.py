"""Compiling a cached module in another process (Session(fast_start=True)).

`start(module, signature)` launches `python -m graphc.codegen.background PATH SIGFILE`,
which loads the module file through graphc.codegen.compile (the same checks as a
Session), compiles its `step` for the pickled Numba signature, and seals it: Numba's
cache files and graphc's manifest are in the cache folder when it exits with 0. The
caller meanwhile runs its steps some other way, then compiles in-process, which loads
that code from the cache.

Invariants: the child never runs the step; the signature file is deleted by the child
once read; a child left running when its parent exits goes on filling the cache; a
process runs one such child at a time (`busy()`): a compile keeps a core busy, and
several at once would only share the cores and add memory.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from graphc.codegen import compile as modules

_child: subprocess.Popen | None = None  # the last child this process started


def possible(module: types.ModuleType) -> bool:
    """Whether `module` can be compiled elsewhere: it is file-backed (so cacheable), and
    this process runs on a Python interpreter it can start again (not a frozen app)."""
    frozen = getattr(sys, "frozen", False)
    return getattr(module, "__file__", None) is not None and bool(sys.executable) and not frozen


def busy() -> bool:
    """Whether a child this process started is still compiling."""
    return _child is not None and _child.poll() is None


def start(module: types.ModuleType, signature: list[Any]) -> subprocess.Popen | None:
    """A process compiling `module`'s step (`possible`) for `signature` into the cache;
    None when it cannot be started (the caller compiles in-process then)."""
    global _child
    path = module.__file__
    assert path is not None and not busy()
    folder = Path(path).parent
    # the child imports this graphc, wherever the parent found it
    here = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
    }
    sigfile = None
    try:
        fd, sigfile = tempfile.mkstemp(prefix=f"{module.__name__}.", suffix=".sig", dir=folder)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(tuple(signature), f)
        command = [sys.executable, "-m", "graphc.codegen.background", path, sigfile]
        _child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
    except OSError:  # no interpreter to start, no room for the signature file
        if sigfile is not None:
            Path(sigfile).unlink(missing_ok=True)
        return None
    return _child


def _main(path: str, sigfile: str) -> None:
    with open(sigfile, "rb") as f:
        signature = pickle.load(f)
    os.unlink(sigfile)
    source = Path(path).read_text()
    module = modules.load(source, Path(path).parent)
    module.step.compile(signature)
    modules.seal(module)


if __name__ == "__main__":
    _main(*sys.argv[1:3])
