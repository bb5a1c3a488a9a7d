"""Writing generated modules to a content-addressed cache and importing them by name.

Invariants (see NUMBA.md): a module's name is a hash of its source, of every
jit flag (they are in the source) and of the graphc, numba and Python
versions, so two processes compiling the same program share one file and
Numba's on-disk cache. Files are written to a temporary name and renamed, so
concurrent writers never leave a torn file. A cache that cannot be written or
read falls back to compiling in memory (no disk cache), never to a crash.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import shutil
import sys
import tempfile
import types
from pathlib import Path

import numba

from graphc._version import __version__

ENV_CACHE_DIR = "GRAPHC_CACHE_DIR"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where modules go: `cache_dir`, else $GRAPHC_CACHE_DIR, else the user's cache dir."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphc"


def module_name(source: str) -> str:
    key = "\n".join((source, __version__, numba.__version__, platform.python_version()))
    return "graphc_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def load(source: str, cache_dir: str | os.PathLike | None = None) -> types.ModuleType:
    """The module for `source`, imported from the cache (written there first if needed)."""
    name = module_name(source)
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__graphc_source__", None) == source:
        return module
    try:
        root = cache_root(cache_dir)
        _write(root / f"{name}.py", source)
        module = _import(name, root)
        if module.__graphc_source__ != source:
            raise ImportError(f"{name} in {root} does not hold the expected source")
        return module
    except (OSError, ImportError, SyntaxError, ValueError):
        return load_in_memory(name, source)


def _write(path: Path, source: str) -> None:
    try:
        if path.read_text() == source:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _drop_stale_numba_cache(path)


def _drop_stale_numba_cache(path: Path) -> None:
    """A rewritten module must not meet compiled code of its previous (corrupt) content."""
    pycache = path.parent / "__pycache__"
    for stale in pycache.glob(f"{path.stem}.*") if pycache.is_dir() else ():
        if stale.suffix in (".nbi", ".nbc"):
            stale.unlink(missing_ok=True)


def _import(name: str, root: Path) -> types.ModuleType:
    if str(root) not in sys.path:
        sys.path.append(str(root))
    importlib.invalidate_caches()
    sys.modules.pop(name, None)
    module = importlib.import_module(name)
    module.__graphc_source__ = (root / f"{name}.py").read_text()
    return module


def load_in_memory(name: str, source: str) -> types.ModuleType:
    """Executes `source` as a module without a file: Numba cannot cache it, so no cache=True."""
    module = types.ModuleType(name)
    module.__graphc_source__ = source
    code = compile(source.replace("cache=True", "cache=False"), f"<graphc {name}>", "exec")
    exec(code, module.__dict__)
    return module


def raised_by_numba_cache(exc: BaseException) -> bool:
    """True when `exc` came from reading Numba's on-disk cache (a corrupt index or data file)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.replace(os.sep, "/").endswith("numba/core/caching.py"):
            return True
        tb = tb.tb_next
    return False


def purge(source: str, cache_dir: str | os.PathLike | None = None) -> None:
    """Removes a module and its Numba cache files (after they proved unusable)."""
    name = module_name(source)
    sys.modules.pop(name, None)
    root = cache_root(cache_dir)
    (root / f"{name}.py").unlink(missing_ok=True)
    pycache = root / "__pycache__"
    if pycache.is_dir():
        for f in pycache.glob(f"{name}.*"):
            f.unlink(missing_ok=True) if f.is_file() else shutil.rmtree(f, ignore_errors=True)
