"""Writing generated modules to a content-addressed cache and loading them by path.

Invariants (see NUMBA.md and README "Compilation and caching"):
- A module's name is a hash of its source, of every jit flag (they are in the
  source), of the graphc, numba and Python versions and of graphc.fastmath's source
  (compiled into the steps that call it), so two processes
  compiling the same program share one file and Numba's on-disk cache.
- The code executed is always the source graphc generated in this process: the
  module file is compared with it byte for byte (and rewritten on a mismatch),
  and the module is executed from that in-memory source, with the file's path
  as `__file__` (what Numba's cache locator needs). No `.pyc` is read or
  written, and the cache folder is never put on `sys.path`.
- Numba's cache files of a module (`.nbi`/`.nbc`) are loaded only if they match
  the manifest (`<module>.sha256`) recorded by `seal` after the module's first
  successful call; files that do not match are deleted first, so Numba
  recompiles instead of loading corrupt machine code.
- A cache folder that another user could write (group/world-writable, or owned
  by a uid other than ours or root's, itself, its `__pycache__` or a parent
  without the sticky bit) is not used, nor one we cannot write: the module is
  compiled in memory, with one `CacheWarning` per folder and process.
- Files are written to a temporary name, flushed and renamed, so concurrent
  writers never leave a torn file. No cache failure fails a run.
- The folder is kept under `max_bytes()` ($GRAPHC_CACHE_MAX_MB, default 1 GiB): after
  a module's code is cached, the least recently used other modules are deleted.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import os
import platform
import shutil
import stat
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from graphc._version import __version__
from graphc.codegen.context import FASTMATH_FILE

ENV_CACHE_DIR = "GRAPHC_CACHE_DIR"
MANIFEST_SUFFIX = ".sha256"
NUMBA_SUFFIXES = (".nbi", ".nbc")
_MANIFEST_HEADER = "# graphc cache manifest: sha256 of the module and its Numba cache files"

_warned: set[str] = set()  # cache folders already warned about in this process


class CacheWarning(UserWarning):
    """The compile cache was bypassed or repaired; the run goes on."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where modules go: `cache_dir`, else $GRAPHC_CACHE_DIR, else the user's cache dir."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphc"


# Numba caches a step with the code of the functions it calls from graphc.fastmath
# compiled in, and checks only the step's own file: their source is part of the key.
_FASTMATH = hashlib.sha256(FASTMATH_FILE.read_bytes()).hexdigest()


def module_name(source: str) -> str:
    import numba  # here, when a step is about to be compiled: not at `import graphc`

    parts = (source, __version__, numba.__version__, platform.python_version(), _FASTMATH)
    return "graphc_" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def load(source: str, cache_dir: str | os.PathLike | None = None) -> types.ModuleType:
    """The module for `source`, backed by a file in the cache (written there first if needed).

    Falls back to `load_in_memory` (with a `CacheWarning`) when the cache cannot be used."""
    name = module_name(source)
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__graphc_source__", None) == source:
        return module
    root = Path(os.path.abspath(cache_root(cache_dir)))
    problem = unusable_reason(root)
    if problem is not None:
        warn_once(root, f"{problem}: compiling in memory, nothing is cached")
        return load_in_memory(name, source)
    try:
        _write(root / f"{name}.py", source)
        module = _import(name, root / f"{name}.py", source)
        verify(module)
        return module
    except (OSError, ImportError, SyntaxError, ValueError, RuntimeError) as exc:
        # RuntimeError: Numba found no writable place for its cache ("no locator available")
        sys.modules.pop(name, None)
        warn_once(root, f"cannot use the compile cache {root} ({exc}): compiling in memory")
        return load_in_memory(name, source)


def unusable_reason(root: Path) -> str | None:
    """Why modules must not be loaded from `root` (not ours alone, or not writable), or None."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / "__pycache__").mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        return f"the compile cache {root} cannot be created ({exc})"
    reason = untrusted_reason(root)
    if reason is not None:
        return reason
    for folder in (root, root / "__pycache__"):
        try:  # what Numba's cache locator tries before it caches anything
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            return f"the compile cache {folder} is not writable ({exc})"
    return None


def untrusted_reason(root: Path) -> str | None:
    """Why another user could have written code into `root`, or None.

    Loading a module runs it, so the folder, its `__pycache__` and every parent must
    belong to us or to root, and none may be writable by group or others (a parent may
    be, with the sticky bit, like /tmp: others cannot rename what is ours there)."""
    if not hasattr(os, "geteuid"):  # no POSIX ownership to check
        return None
    real = Path(os.path.realpath(root))
    for folder in (real / "__pycache__", real, *real.parents):
        try:
            st = folder.stat()
        except OSError:
            continue
        if st.st_uid not in (os.geteuid(), 0):
            return f"the compile cache folder {folder} belongs to another user (uid {st.st_uid})"
        parent = folder not in (real, real / "__pycache__")
        if st.st_mode & 0o022 and not (parent and st.st_mode & stat.S_ISVTX):
            return (
                f"the compile cache folder {folder} is writable by other users "
                f"(mode {stat.S_IMODE(st.st_mode):o}; `chmod go-w` it)"
            )
    return None


def warn_once(root: Path, message: str) -> None:
    """Warns about the cache folder `root`, once per folder and process."""
    if str(root) not in _warned:
        _warned.add(str(root))
        warnings.warn(message, CacheWarning, stacklevel=3)


def _write(path: Path, source: str) -> None:
    """Makes `path` hold `source`; a file with other content is corrupt and replaced."""
    data = source.encode()
    try:
        if path.read_bytes() == data:
            os.utime(path)  # used now: the cache is trimmed least recently used first
            return
        corrupt = True
    except FileNotFoundError:
        corrupt = False
    if corrupt:
        warnings.warn(
            f"{path} did not hold its source (corrupt): rewritten", CacheWarning, stacklevel=3
        )
    _manifest_path(path).unlink(missing_ok=True)  # its Numba files are now unverified
    write_atomically(path, data)


def write_atomically(path: Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, flushes it to disk, renames it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _SourceLoader(importlib.abc.Loader):
    """Executes the source graphc generated and checked, never re-reading the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exec(compile(self.source, module.__file__, "exec"), module.__dict__)

    def get_source(self, fullname: str) -> str:
        return self.source


def _import(name: str, path: Path, source: str) -> types.ModuleType:
    """The module `name` executed from `source`, with `path` as its file (for Numba's cache).

    It is registered in `sys.modules` before it runs: Numba's cache index refers to its
    functions by module name."""
    spec = importlib.util.spec_from_file_location(name, path, loader=_SourceLoader(source))
    module = importlib.util.module_from_spec(spec)
    module.__graphc_source__ = source
    module.__graphc_manifest__ = None
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def verify(module: types.ModuleType) -> None:
    """Deletes the module's Numba cache files unless they match its manifest.

    Runs after the module's functions were defined and before any was called, so
    Numba has read none of its cache files yet."""
    path = Path(module.__file__)
    manifest = _read_manifest(_manifest_path(path))
    current = manifest_of(module)
    if manifest == current:
        module.__graphc_manifest__ = manifest
        return
    if manifest is not None and any(manifest.get(f) != h for f, h in current.items()):
        warnings.warn(
            f"the compiled code cached for {path} does not match its manifest (corrupt): "
            "deleted and compiled again",
            CacheWarning,
            stacklevel=3,
        )
    _manifest_path(path).unlink(missing_ok=True)
    for file in numba_files(module).values():
        file.unlink(missing_ok=True)


def sealed(module: types.ModuleType) -> bool:
    """Whether a file-backed module's compiled code is in the cache, as its manifest
    records (then a compile loads it rather than compiling)."""
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    manifest = _read_manifest(_manifest_path(Path(path)))
    return bool(manifest) and any(name.endswith(NUMBA_SUFFIXES) for name in manifest)


def seal(module: types.ModuleType) -> None:
    """Records the manifest of a file-backed module after its first successful call.

    Numba writes its cache files while compiling, during that call; a module loaded in
    memory has none. A manifest that cannot be written only costs a recompile later."""
    if getattr(module, "__file__", None) is None:
        return
    try:
        current = manifest_of(module)
        if current == getattr(module, "__graphc_manifest__", None):
            return
        lines = [_MANIFEST_HEADER, *(f"{h}  {f}" for f, h in sorted(current.items()))]
        path = Path(module.__file__)
        write_atomically(_manifest_path(path), "\n".join(lines).encode() + b"\n")
        trim(path.parent, max_bytes(), keep=module.__name__)
    except OSError:
        return
    module.__graphc_manifest__ = current


def manifest_of(module: types.ModuleType) -> dict[str, str]:
    """File name -> sha256 of the module file and of each of its Numba cache files now."""
    path = Path(module.__file__)
    files = {path.name: path, **numba_files(module)}
    return {name: _sha256(file) for name, file in files.items() if file.exists()}


def numba_files(module: types.ModuleType) -> dict[str, Path]:
    """The module's Numba cache files, by name, wherever Numba keeps them.

    That is `__pycache__` beside the module unless NUMBA_CACHE_DIR says otherwise: ask
    each jitted function. Their names start with the module's unique name."""
    from numba.core.dispatcher import Dispatcher  # a module was loaded: Numba is imported

    folders = set()
    for value in vars(module).values():
        folder = getattr(getattr(value, "_cache", None), "cache_path", None)
        if isinstance(value, Dispatcher) and folder:
            folders.add(Path(folder))
    return {
        f.name: f
        for folder in sorted(folders)
        for f in sorted(folder.glob(f"{module.__name__}.*"))
        if f.suffix in NUMBA_SUFFIXES
    }


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(MANIFEST_SUFFIX)


def _read_manifest(path: Path) -> dict[str, str] | None:
    """The recorded hashes; None without a manifest, {} for an unreadable one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    lines = text.splitlines()
    if not lines or lines[0] != _MANIFEST_HEADER:
        return {}
    entries = [line.split("  ", 1) for line in lines[1:]]
    if any(len(e) != 2 for e in entries):
        return {}
    return {name: digest for digest, name in entries}


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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


# ---- the cache as a whole: what is in it, clearing it, keeping it under a size ------------
ENV_CACHE_MAX_MB = "GRAPHC_CACHE_MAX_MB"
DEFAULT_MAX_MB = 1024


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds: its modules and the bytes of all their files."""

    root: Path
    modules: int
    bytes: int
    max_bytes: int


def _entries(root: Path) -> dict[str, list[Path]]:
    """Module name -> its files (source, manifest, Numba's files in `__pycache__`)."""
    entries: dict[str, list[Path]] = {}
    for folder in (root, root / "__pycache__"):
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            name = f.name.split(".", 1)[0]
            if name.startswith("graphc_") and f.is_file():
                entries.setdefault(name, []).append(f)
    return entries


def max_bytes() -> int:
    """The size the cache is kept under: $GRAPHC_CACHE_MAX_MB (MiB), else 1024 MiB."""
    try:
        mb = float(os.environ.get(ENV_CACHE_MAX_MB, DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 2**20)


def info(cache_dir: str | os.PathLike | None = None) -> CacheInfo:
    """The modules in the cache folder and the bytes they take."""
    root = Path(os.path.abspath(cache_root(cache_dir)))
    entries = _entries(root)
    size = sum(_size(f) for files in entries.values() for f in files)
    return CacheInfo(root, len(entries), size, max_bytes())


def clear(cache_dir: str | os.PathLike | None = None) -> int:
    """Deletes every module graphc cached in the folder (and Numba's files of them); returns
    how many. Other files are left alone."""
    root = Path(os.path.abspath(cache_root(cache_dir)))
    entries = _entries(root)
    for files in entries.values():
        for f in files:
            f.unlink(missing_ok=True)
    return len(entries)


def trim(root: Path, limit: int, keep: str = "") -> list[str]:
    """Deletes the least recently used modules until the folder's modules take at most
    `limit` bytes, never the module `keep`; returns the names deleted. A module's use is
    the modification time of its source file (touched whenever it is loaded)."""
    entries = _entries(root)
    sizes = {name: sum(_size(f) for f in files) for name, files in entries.items()}
    total = sum(sizes.values())
    deleted = []
    for name in sorted(entries, key=lambda n: _used(root, n)):
        if total <= limit:
            break
        if name == keep:
            continue
        for f in entries[name]:
            f.unlink(missing_ok=True)
        total -= sizes[name]
        deleted.append(name)
    return deleted


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _used(root: Path, name: str) -> float:
    try:
        return (root / f"{name}.py").stat().st_mtime
    except OSError:
        return 0.0


def purge(source: str, cache_dir: str | os.PathLike | None = None) -> None:
    """Removes a module, its manifest and its Numba cache files (after they proved unusable)."""
    name = module_name(source)
    module = sys.modules.pop(name, None)
    root = Path(os.path.abspath(cache_root(cache_dir)))
    for file in numba_files(module).values() if getattr(module, "__file__", None) else ():
        file.unlink(missing_ok=True)
    for file in (root / f"{name}.py", root / f"{name}{MANIFEST_SUFFIX}"):
        file.unlink(missing_ok=True)
    pycache = root / "__pycache__"
    if pycache.is_dir():
        for f in pycache.glob(f"{name}.*"):
            f.unlink(missing_ok=True) if f.is_file() else shutil.rmtree(f, ignore_errors=True)
