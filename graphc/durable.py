"""Atomic, durable file writes: what `Saver` and `gfile.GFile` write goes through here.

Invariants:
- Atomic: new content goes to a temporary file in the target's folder and becomes the
  target only by a rename, so a reader sees the old file (or none) or the whole new one,
  never a part.
- Durable: before the rename the temporary file is flushed and fsynced, and after it the
  folder is fsynced, so after a crash (SIGKILL, power loss) at any instant the target
  holds its old content or the complete new content.
- A write that fails or is discarded removes its temporary file and leaves the target as
  it was.
- Writing to a symbolic link writes the file it points to (the link stays a link), and a
  file that is replaced keeps its permission bits; a new file gets the user's umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable
from typing import IO, Any


class AtomicFile:
    """A binary file whose content replaces `path` when `commit` is called.

    Args:
      path: the file to write (its folder must exist).
      keep: start from the current content of `path` (for appending), if it exists.

    Raises:
      OSError: the temporary file cannot be made (a missing folder, no permission).
    """

    def __init__(self, path: str, keep: bool = False) -> None:
        self.path = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
        folder, name = os.path.split(self.path)
        self.tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
        # os.open with 0o666 (not mkstemp's 0o600), so a new file gets the user's umask
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        try:
            self._copy_old(keep)
        except BaseException:
            self.discard()
            raise

    def _copy_old(self, keep: bool) -> None:
        """Gives the temporary file the target's permission bits (and content, if `keep`)."""
        try:
            old = os.stat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(old.st_mode):  # fail now, not at the rename
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.path)
        os.chmod(self.tmp, stat.S_IMODE(old.st_mode))
        if keep:
            with open(self.path, "rb") as source:
                shutil.copyfileobj(source, self.file)

    def commit(self) -> None:
        """Makes the written content the file's, durably; the AtomicFile is then closed."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_folder(os.path.dirname(self.path))

    def discard(self) -> None:
        """Drops what was written: the file stays as it was."""
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.remove(self.tmp)


def durable_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Writes `path` atomically and durably with `write(file)`; if `write` raises, the
    file is unchanged."""
    atomic = AtomicFile(path)
    try:
        write(atomic.file)
    except BaseException:
        atomic.discard()
        raise
    atomic.commit()


def fsync_folder(folder: str) -> None:
    """Makes a rename in `folder` durable, as far as the platform allows.

    Best effort: the rename has happened, so failing here would report a write that
    did take effect (Windows cannot open a folder; some file systems refuse to fsync
    one)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
