"""`GFile`: TF1's file object, for local files, written atomically and durably.

Invariants:
- Modes are TF1's: "r", "w" and "a", each optionally with "b" (any other raises
  InvalidArgumentError). Text mode reads str decoded from UTF-8 without newline
  translation ("\\r\\n" stays, as in TF1); "b" reads bytes. `write` takes str (written
  as UTF-8) or bytes in either mode, as TF1's does.
- Lazy, as TF1's: nothing touches the disk before the first read or write, so a
  missing file raises NotFoundError on the first read, and a write-mode GFile that is
  never written creates no file.
- What is written goes to a `durable.AtomicFile` and becomes the file's content at
  `flush` or `close`, each an atomic, durable replace; a `with` block left by an
  exception drops what was written since the last flush (the file stays as it was).
  "a" starts from the file's content; "w" from nothing.
- Reading a write-mode GFile or writing a read-mode one raises PermissionDeniedError
  (TF1's); any use after `close` raises ValueError, as a Python file does.
- OS failures raise TF1's error for their errno (`os_error`), naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from typing import IO, Any

from graphc import errors
from graphc.durable import AtomicFile

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# TF1's errno -> status mapping (its posix error.cc), for the statuses graphc has.
_CODES: list[tuple[type[errors.OpError], tuple[str, ...]]] = [
    (errors.NotFoundError, ("ENOENT", "ENODEV", "ENXIO", "ESRCH")),
    (errors.AlreadyExistsError, ("EEXIST",)),
    (errors.PermissionDeniedError, ("EPERM", "EACCES", "EROFS")),
    (errors.FailedPreconditionError, ("ENOTEMPTY", "ENOTDIR", "EISDIR", "ETXTBSY", "EBUSY")),
    (errors.ResourceExhaustedError, ("ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "ENOMEM")),
    (errors.InvalidArgumentError, ("EINVAL", "ENAMETOOLONG")),
    (errors.UnimplementedError, ("ENOSYS", "ENOTSUP", "EOPNOTSUPP", "EXDEV")),
]
_BY_ERRNO = {
    getattr(errno, name): kind for kind, names in _CODES for name in names if hasattr(errno, name)
}


def os_error(exc: OSError, path: str) -> errors.OpError:
    """TF1's error for the OSError `exc` about `path`: `path; No such file or directory`."""
    kind = _BY_ERRNO.get(exc.errno, errors.UnknownError)
    return kind(f"{path}; {exc.strerror or exc}")


def local_path(path: Any) -> str:
    """`path` as a str; raises UnimplementedError for a path on a remote file system."""
    path = os.fsdecode(os.fspath(path))
    if _SCHEME.match(path):
        raise errors.UnimplementedError(
            f"{path}: graphc's gfile reads and writes local files only (no gs://, hdfs://, "
            "s3://); copy the file to a local path first"
        )
    return path


class GFile:
    """TF1's `tf.gfile.GFile(name, mode="r")` (also `Open` and `FastGFile`)."""

    def __init__(self, name: Any, mode: str = "r") -> None:
        kind = mode.replace("b", "", 1) if isinstance(mode, str) else None
        if kind not in ("r", "w", "a"):
            raise errors.InvalidArgumentError(
                f"GFile mode {mode!r} is not 'r', 'w' or 'a' (each with an optional 'b'); "
                "graphc's GFile does not open a file for reading and writing at once"
            )
        self.name, self.mode = name, mode
        self._path = local_path(name)
        self._kind, self._binary = kind, "b" in mode
        self._reader: IO[bytes] | None = None
        self._writer: AtomicFile | None = None
        self._flushed = False  # "w" after a flush continues from what it wrote
        self._closed = False

    # ---- reading --------------------------------------------------------------------------
    def _read_file(self) -> IO[bytes]:
        self._check_open()
        if self._kind != "r":
            raise errors.PermissionDeniedError(f"{self._path}; File isn't open for reading")
        if self._reader is None:
            try:
                self._reader = open(self._path, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise os_error(exc, self._path) from exc
        return self._reader

    def _value(self, data: bytes) -> str | bytes:
        return data if self._binary else data.decode("utf-8")

    def read(self, n: int = -1) -> str | bytes:
        """The next `n` bytes (all the rest if n < 0), as str in text mode."""
        file = self._read_file()
        try:
            return self._value(file.read(None if n is None or n < 0 else n))
        except OSError as exc:
            raise os_error(exc, self._path) from exc

    def readline(self) -> str | bytes:
        """The next line, with its newline; empty at the end."""
        file = self._read_file()
        try:
            return self._value(file.readline())
        except OSError as exc:
            raise os_error(exc, self._path) from exc

    def readlines(self) -> list[str | bytes]:
        return list(self)

    def __iter__(self) -> GFile:
        return self

    def __next__(self) -> str | bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def seek(self, offset: int | None = None, whence: int = 0, position: int | None = None) -> int:
        """Moves the read position (`position` is TF1's older name for `offset`)."""
        if (offset is None) == (position is None):
            raise TypeError("seek() takes one of offset and position")
        if whence not in (0, 1, 2):
            raise errors.InvalidArgumentError(f"Invalid whence argument: {whence}; use 0, 1 or 2")
        return self._read_file().seek(offset if position is None else position, whence)

    def tell(self) -> int:
        """The position: bytes read so far, or the size written so far."""
        if self._kind == "r":
            return self._read_file().tell()
        return self._write_file().file.tell()

    def size(self) -> int:
        """The size of the file on disk, in bytes."""
        try:
            return os.stat(self._path).st_size
        except OSError as exc:
            raise os_error(exc, self._path) from exc

    # ---- writing --------------------------------------------------------------------------
    def _write_file(self) -> AtomicFile:
        self._check_open()
        if self._kind == "r":
            raise errors.PermissionDeniedError(f"{self._path}; File isn't open for writing")
        if self._writer is None:
            try:
                self._writer = AtomicFile(self._path, keep=self._kind == "a" or self._flushed)
            except OSError as exc:
                raise os_error(exc, self._path) from exc
        return self._writer

    def write(self, file_content: str | bytes) -> None:
        """Appends `file_content` (str as UTF-8, or bytes) to what this GFile wrote."""
        if isinstance(file_content, str):
            data = file_content.encode("utf-8")
        elif isinstance(file_content, bytes | bytearray | memoryview):
            data = bytes(file_content)
        else:
            raise TypeError(f"Expected binary or unicode string, got {file_content!r}")
        writer = self._write_file()
        try:
            writer.file.write(data)
        except OSError as exc:
            raise os_error(exc, self._path) from exc

    def flush(self) -> None:
        """Makes what was written the file's content, atomically and durably."""
        self._check_open()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.commit()
            except OSError as exc:
                raise os_error(exc, self._path) from exc
            self._flushed = True

    # ---- closing --------------------------------------------------------------------------
    def close(self) -> None:
        """Commits what was written (as `flush`) and closes; a second close does nothing."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._reader is not None:
                self._reader.close()

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is not None and self._writer is not None:
            self._writer.discard()  # a failed block leaves the file as it was
            self._writer = None
        self.close()

    def __del__(self) -> None:
        # a GFile dropped unclosed commits, as a Python file flushes when collected
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):  # nowhere to report it from a finalizer
                self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"I/O operation on closed GFile {self._path!r}")

    @property
    def closed(self) -> bool:
        return self._closed

    def seekable(self) -> bool:
        return self._kind == "r"

    def readable(self) -> bool:
        return self._kind == "r"

    def writable(self) -> bool:
        return self._kind != "r"
