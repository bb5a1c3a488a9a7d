"""`tf.gfile` (and `tf.io.gfile`): TF1's file functions and `GFile`, for local files.

Local paths only: graphc has no gs://, hdfs:// or s3:// file systems (a path with a
scheme raises UnimplementedError). TF1's spellings (`Exists`, `MakeDirs`, ...) and
`tf.io.gfile`'s (`exists`, `makedirs`, ...) are the same functions.

Invariants:
- Failures raise TF1's errors (`tf.errors.NotFoundError`, `AlreadyExistsError`,
  `PermissionDeniedError`, `FailedPreconditionError` for a path of the wrong kind, ...,
  each an `OpError` with TF1's code, naming the path), chained to the OSError.
- Every write is atomic and durable (`graphc.durable`): a file written through `GFile`,
  `Copy` or `Rename` is, after a crash at any instant, its old content or the whole
  new content. A `GFile` opened for writing makes its content the file's on `close`
  (or `flush`); one closed by an exception in its `with` block leaves the file as it was.
- `GFile` opens lazily, as TF1's does: a missing file raises NotFoundError on the
  first read, and a write-mode GFile never written creates no file.
- Listings (`ListDirectory`, `Glob`, `Walk`) are sorted.
"""

from __future__ import annotations

import glob as globbing
import os
import shutil
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from graphc import errors
from graphc.compat import missing_names
from graphc.durable import durable_write, fsync_folder
from graphc.gfile_file import GFile, local_path, os_error

__all__ = [
    "Copy",
    "DeleteRecursively",
    "Exists",
    "FastGFile",
    "FileStatistics",
    "GFile",
    "Glob",
    "IsDirectory",
    "ListDirectory",
    "MakeDirs",
    "MkDir",
    "Open",
    "Remove",
    "Rename",
    "Stat",
    "Walk",
]

Open = GFile
FastGFile = GFile  # TF1's deprecated alias: the same class


def Exists(filename: Any) -> bool:
    """Whether the path exists (a file or a folder)."""
    return os.path.exists(local_path(filename))


def IsDirectory(dirname: Any) -> bool:
    """Whether the path is a folder (False if it does not exist)."""
    return os.path.isdir(local_path(dirname))


def MkDir(dirname: Any) -> None:
    """Creates the folder; its parent must exist (NotFoundError), and it must not
    (AlreadyExistsError)."""
    path = local_path(dirname)
    try:
        os.mkdir(path)
    except OSError as exc:
        raise os_error(exc, path) from exc


def MakeDirs(dirname: Any) -> None:
    """Creates the folder and any missing parents; nothing happens if it exists.

    Raises:
      AlreadyExistsError: the path (or a parent) exists and is not a folder.
    """
    path = local_path(dirname)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, path) from exc


def ListDirectory(dirname: Any) -> list[str]:
    """The names in the folder (not paths, without . and ..), sorted.

    Raises:
      NotFoundError: the path is not a folder (TF1's error for both cases).
    """
    path = local_path(dirname)
    if not os.path.isdir(path):
        raise errors.NotFoundError(f"Could not find directory {path}")
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        raise os_error(exc, path) from exc


def Glob(filename: Any) -> list[str]:
    """The paths matching the pattern (or each pattern of an iterable), sorted per pattern.

    TF1's patterns: `*` and `?` match within one path component (a leading dot too),
    `[abc]`, `[a-z]`, `[^abc]`, and `\\c` for a literal c. No match gives [].
    """
    patterns = [filename] if isinstance(filename, str | bytes | os.PathLike) else filename
    found: list[str] = []
    for pattern in patterns:
        found += sorted(globbing.glob(_python_pattern(local_path(pattern)), include_hidden=True))
    return found


def _python_pattern(pattern: str) -> str:
    """TF1's glob syntax in Python's: `[^` is `[!`, `\\c` is `[c]`."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(globbing.escape(pattern[i + 1]))
            i += 2
            continue
        out.append("[!" if pattern.startswith("[^", i) else char)
        i += 2 if pattern.startswith("[^", i) else 1
    return "".join(out)


def Remove(filename: Any) -> None:
    """Deletes the file (NotFoundError if missing; FailedPreconditionError for a folder)."""
    path = local_path(filename)
    try:
        os.remove(path)
    except OSError as exc:
        raise os_error(exc, path) from exc


def DeleteRecursively(dirname: Any) -> None:
    """Deletes the folder and everything in it (or the file, or the symbolic link)."""
    path = local_path(dirname)
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.remove(path)
        else:
            shutil.rmtree(path)
    except OSError as exc:
        raise os_error(exc, getattr(exc, "filename", None) or path) from exc


def Rename(oldname: Any, newname: Any, overwrite: bool = False) -> None:
    """Moves a file or folder, durably.

    Raises:
      AlreadyExistsError: `newname` exists and not `overwrite`.
      NotFoundError: `oldname` does not exist.
    """
    old, new = local_path(oldname), local_path(newname)
    _check_free(new, overwrite)
    try:
        os.replace(old, new)
    except OSError as exc:
        raise os_error(exc, old if not os.path.lexists(old) else new) from exc
    for folder in {os.path.dirname(os.path.abspath(p)) for p in (old, new)}:
        fsync_folder(folder)


def Copy(oldpath: Any, newpath: Any, overwrite: bool = False) -> None:
    """Copies a file's content to `newpath`, atomically and durably.

    Raises:
      AlreadyExistsError: `newpath` exists and not `overwrite`.
      NotFoundError: `oldpath` does not exist.
      FailedPreconditionError: `oldpath` is a folder.
    """
    old, new = local_path(oldpath), local_path(newpath)
    _check_free(new, overwrite)
    try:
        source = open(old, "rb")  # noqa: SIM115 - closed below; errors name `old`
    except OSError as exc:
        raise os_error(exc, old) from exc
    with source:
        try:
            durable_write(new, lambda f: shutil.copyfileobj(source, f))
        except OSError as exc:
            raise os_error(exc, new) from exc


def _check_free(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise errors.AlreadyExistsError(f"{path}; File already exists (pass overwrite=True)")


class FileStatistics(NamedTuple):
    """TF1's FileStatistics: size in bytes, modification time in ns, and folder or not."""

    length: int
    mtime_nsec: int
    is_directory: bool


def Stat(filename: Any) -> FileStatistics:
    """The path's size, modification time and kind (NotFoundError if missing)."""
    path = local_path(filename)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise os_error(exc, path) from exc
    return FileStatistics(info.st_size, info.st_mtime_ns, os.path.isdir(path))


def Walk(top: Any, in_order: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """(folder, subfolder names, file names) for `top` and each folder below it, sorted,
    parents first if `in_order` (else last). A missing `top` yields nothing; symbolic
    links to folders are listed but not entered (so a link cycle ends)."""
    top = local_path(top)
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return
    subfolders = [n for n in names if os.path.isdir(os.path.join(top, n))]
    files = [n for n in names if n not in set(subfolders)]
    if in_order:
        yield top, subfolders, files
    for name in subfolders:
        if not os.path.islink(os.path.join(top, name)):
            yield from Walk(os.path.join(top, name), in_order)
    if not in_order:
        yield top, subfolders, files


# ---- tf.io.gfile's spellings of the same functions ------------------------------------------
exists = Exists
isdir = IsDirectory
mkdir = MkDir
makedirs = MakeDirs
listdir = ListDirectory
glob = Glob
remove = Remove
rmtree = DeleteRecursively
rename = Rename
copy = Copy
stat = Stat


def walk(top: Any, topdown: bool = True, onerror: Any = None) -> Iterable[tuple]:
    """`tf.io.gfile.walk`: `Walk`; `onerror(error)` is called for a `top` that is missing."""
    if onerror is not None and not os.path.isdir(local_path(top)):
        onerror(errors.NotFoundError(f"Could not find directory {top}"))
    return Walk(top, topdown)


__getattr__ = missing_names(__name__, "tf.gfile")
