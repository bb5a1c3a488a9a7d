"""`Saver`: variable checkpoints as one `.npz` file, and TF1's `checkpoint` index file.

Invariants:
- Durable and atomic: each file (the data file, then the index) is written by
  `durable.durable_write` (a temporary file in its folder, flushed, fsynced, renamed
  over its name, and the folder fsynced). Old checkpoints (`max_to_keep`) are
  deleted only after the index names the new one. So after a crash (SIGKILL, power
  loss) at any instant, `latest_checkpoint(folder)` names a complete checkpoint, and a
  save that fails leaves the previous checkpoint and index as they were.
- A restore reads and validates the whole file before assigning any variable, and
  assigns all of them in one store commit: it changes every variable or none.
- A checkpoint is data, never code: nothing is unpickled, every member's declared
  size is checked against the file's size (and its `.npy` header against the member's
  size) before anything is allocated, and every corrupt or hostile file raises
  `DataLossError` naming the file and the member.
- The index is TF1's text format (`model_checkpoint_path: "model-3"`, then one
  `all_model_checkpoint_paths: "..."` line per kept checkpoint, oldest first), with
  paths relative to its folder; the older `model_checkpoint_path: 'model-3'` is read too.
"""

from __future__ import annotations

import ast
import contextlib
import glob
import logging
import math
import os
import re
import struct
import zipfile
from typing import IO, Any, NamedTuple

import numpy as np

from graphc.durable import durable_write
from graphc.errors import (
    DataLossError,
    DTypeError,
    GraphcError,
    InvalidArgumentError,
    NotFoundError,
    ShapeError,
)
from graphc.ir import Node
from graphc.variables import global_variables

SUFFIX = ".npz"
INDEX = "checkpoint"
MEMBER = ".npy"
MAX_INDEX_BYTES = 1 << 20  # a larger index file is not one graphc (or TF1) wrote
KINDS = "biufc"  # booleans and numbers: the only arrays a checkpoint holds

log = logging.getLogger("graphc")

# What the zip and .npy readers raise for a damaged file (GraphcError is re-raised first;
# RuntimeError: an encrypted member, or a compression method zipfile lacks).
_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, EOFError, OSError, RuntimeError)
CORRUPT = (*_ZIP, ValueError, LookupError, TypeError, ArithmeticError, SyntaxError)


class Saver:
    """Saves and restores variables (all global variables by default)."""

    def __init__(self, var_list: Any = None, max_to_keep: int | None = 5) -> None:
        if var_list is None:
            var_list = global_variables()
        if isinstance(var_list, dict):
            self._vars = dict(var_list)
        else:
            self._vars = {v.op_name: v for v in var_list}
        self.max_to_keep = max_to_keep
        self._kept: list[str] = []

    def save(self, sess: Any, save_path: str, global_step: Any = None) -> str:
        """Writes every variable's value; returns the checkpoint prefix to pass to restore.

        Raises:
          NotFoundError: the folder of `save_path` does not exist (it is not created).
          InvalidArgumentError: `save_path` is a folder (give a prefix inside it).
          GraphcError: writing failed (disk full, no permission): the previous
            checkpoint and index are unchanged.
        """
        if global_step is not None:
            step = global_step if isinstance(global_step, int) else sess.run(global_step)
            save_path = f"{save_path}-{int(step)}"
        _check_destination(save_path)
        values = {name: sess.variable_value(var) for name, var in self._vars.items()}
        kept = [*(p for p in self._kept if p != save_path), save_path]
        retired = kept[: -self.max_to_keep] if self.max_to_keep else []
        kept = kept[len(retired) :]
        _write_checkpoint(save_path, values, kept)
        self._kept = kept
        for old in retired:  # only now that the index no longer names them
            with contextlib.suppress(OSError):
                os.remove(old + SUFFIX)
        return save_path

    @property
    def last_checkpoints(self) -> list[str]:
        """The checkpoints this saver keeps (and will delete past `max_to_keep`), oldest first."""
        return list(self._kept)

    def recover_last_checkpoints(self, checkpoint_paths: list[str]) -> None:
        """Adopts checkpoints saved earlier (such as by a process that crashed), so that
        `max_to_keep` deletes them in turn (TF1's): those of `checkpoint_paths` that exist."""
        self._kept = [p for p in checkpoint_paths if os.path.isfile(p + SUFFIX)]

    def restore(self, sess: Any, save_path: str) -> None:
        """Loads every variable from `save_path` (as returned by save): all or none.

        Raises:
          NotFoundError: no checkpoint at `save_path`, or it lacks one of the variables.
          DataLossError: the file is damaged or not a checkpoint graphc can read.
          ShapeError, DTypeError: a stored value does not fit its variable.
        """
        path = save_path + SUFFIX
        if not os.path.isfile(path):
            raise NotFoundError(f"no checkpoint at {path!r}")
        stored = read_arrays(path)
        values = {var: _checked(path, name, var, stored) for name, var in self._vars.items()}
        sess.store.load_all(values)


def _checked(path: str, name: str, var: Node, stored: dict[str, np.ndarray]) -> np.ndarray:
    if name not in stored:
        raise NotFoundError(f"variable '{name}' is not in the checkpoint {path!r}")
    value = stored[name]
    if value.shape != tuple(var.type.shape):
        raise ShapeError(
            f"checkpoint {path!r} holds '{name}' with shape {list(value.shape)}, "
            f"but the variable has shape {list(var.type.shape)}"
        )
    if value.dtype != var.dtype.np and not np.can_cast(value.dtype, var.dtype.np, "safe"):
        raise DTypeError(
            f"checkpoint {path!r} holds '{name}' as {value.dtype}, the variable is {var.dtype.name}"
        )
    return value


# ---- writing ----------------------------------------------------------------------------
def _check_destination(save_path: str) -> None:
    if os.path.isdir(save_path):
        raise InvalidArgumentError(
            f"cannot save to {save_path!r}: it is a folder; give a file prefix inside it, "
            f"such as {os.path.join(save_path, 'model')!r}"
        )
    folder = os.path.dirname(os.path.abspath(save_path))
    if not os.path.isdir(folder):
        raise NotFoundError(f"cannot save to {save_path!r}: the folder {folder!r} does not exist")


def _write_checkpoint(save_path: str, values: dict[str, np.ndarray], kept: list[str]) -> None:
    """The data file, then the index naming it (each durably); wraps OS errors."""
    data = save_path + SUFFIX
    folder = os.path.dirname(os.path.abspath(save_path))
    existed = os.path.exists(data)
    try:
        durable_write(data, lambda f: write_arrays(f, values))
    except OSError as exc:
        raise GraphcError(
            f"could not write checkpoint {data!r} ({exc}); the previous checkpoint and "
            "index are unchanged"
        ) from exc
    try:
        durable_write(os.path.join(folder, INDEX), lambda f: f.write(index_text(folder, kept)))
    except OSError as exc:
        if not existed:  # nothing names it: do not leave it behind
            with contextlib.suppress(OSError):
                os.remove(data)
        raise GraphcError(
            f"could not write the index of checkpoint {data!r} ({exc}); the previous "
            "checkpoint and index are unchanged"
        ) from exc


def write_arrays(f: IO[bytes], values: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz: one `<name>.npy` member per variable (as `np.savez`, whose
    keyword arguments would swallow variables named `file` or `allow_pickle`)."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in values.items():
            with zf.open(name + MEMBER, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


# ---- reading ----------------------------------------------------------------------------
def read_arrays(path: str, what: str = "checkpoint") -> dict[str, np.ndarray]:
    """Every array in the checkpoint (or other .npz: `what`) at `path`, validated; raises
    DataLossError for a damaged or hostile file, naming the file and the member."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            with zipfile.ZipFile(f) as zf:
                members = zf.infolist()
                arrays = {
                    _name(path, i, what): _read_member(path, zf, i, size, what) for i in members
                }
                _check_layout(path, f, members, zf.start_dir, what)
                return arrays
        except GraphcError:
            raise
        except CORRUPT as exc:
            raise DataLossError(f"{what} {path!r} is not a readable .npz file: {exc}") from exc


def _check_layout(
    path: str, f: IO[bytes], members: list[zipfile.ZipInfo], end: int, what: str
) -> None:
    """The members must tile the file up to its central directory (at `end`), as every
    checkpoint written by `Saver.save` or `np.savez` does: bytes no member accounts for
    mean a damaged central directory lost an entry (a variable would go missing)."""
    at = 0
    for info in sorted(members, key=lambda i: i.header_offset):
        if info.header_offset != at or info.flag_bits & 0x08:  # 0x08: a streamed member
            break
        f.seek(at + 26)
        name_length, extra_length = struct.unpack("<HH", f.read(4))
        at += 30 + name_length + extra_length + info.compress_size
    if at != end:
        raise DataLossError(
            f"{what} {path!r}: bytes {at} to {end} belong to no member listed in its "
            "central directory (a damaged directory lost a member)"
        )


def _name(path: str, info: zipfile.ZipInfo, what: str) -> str:
    if not info.filename.endswith(MEMBER):
        raise DataLossError(f"{what} {path!r}: member {info.filename!r} is not a .npy array")
    return info.filename[: -len(MEMBER)]


def _read_member(
    path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, what: str
) -> np.ndarray:
    where = f"{what} {path!r}, member {info.filename!r}"
    if info.compress_type != zipfile.ZIP_STORED:
        raise DataLossError(f"{where}: compressed; graphc checkpoints store arrays uncompressed")
    if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
        raise DataLossError(
            f"{where}: declares {info.file_size} bytes, which the {size}-byte file cannot hold"
        )
    try:
        with zf.open(info) as member:
            return _read_npy(member, info.file_size)
    except GraphcError as exc:
        raise DataLossError(f"{where}: {exc}") from None
    except CORRUPT as exc:
        raise DataLossError(f"{where}: {exc}") from exc


def _read_npy(member: IO[bytes], size: int) -> np.ndarray:
    """One .npy array of `size` bytes; checks its header before allocating its data."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise GraphcError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise GraphcError("holds Python objects (a pickle), which graphc never loads")
    if dtype.kind not in KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise GraphcError(f"holds {dtype}, not an array of booleans or numbers")
    if any(d < 0 for d in shape):
        raise GraphcError(f"declares the negative shape {list(shape)}")
    nbytes = math.prod(shape) * dtype.itemsize
    if member.tell() + nbytes != size:
        raise GraphcError(
            f"declares shape {list(shape)} of {dtype} ({nbytes} bytes), "
            f"but holds {size - member.tell()} bytes of data"
        )
    data = bytearray(nbytes)
    if member.readinto(data) != nbytes or member.read(1):  # reaching the end checks the CRC
        raise GraphcError("its data is shorter or longer than its header says")
    array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C") if fortran else array  # C order: owns `data`, no copy


# ---- the index file ---------------------------------------------------------------------
class CheckpointState(NamedTuple):
    """The index of a checkpoint folder (TF1's CheckpointState): the newest checkpoint's
    prefix, and every kept one, oldest first (paths joined to the folder)."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: list[str]


def index_text(folder: str, kept: list[str]) -> bytes:
    """The index naming `kept` (the newest last), in TF1's text format."""
    names = [_relative(folder, p) for p in kept]
    lines = [f"model_checkpoint_path: {_quote(names[-1])}"]
    lines += [f"all_model_checkpoint_paths: {_quote(n)}" for n in names]
    return ("\n".join(lines) + "\n").encode()


def _relative(folder: str, path: str) -> str:
    path = os.path.abspath(path)
    return os.path.basename(path) if os.path.dirname(path) == folder else path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_LINE = re.compile(r"(\w+)\s*:\s*(\".*\"|'.*'|[-+0-9.eE]+)")
_PATHS = ("model_checkpoint_path", "all_model_checkpoint_paths")
_NUMBERS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")


def parse_index(text: str) -> tuple[str, list[str]] | None:
    """(latest, kept) from an index file's text; None if it is not an index."""
    latest, kept = "", []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            return None
        key, value = match.groups()
        if key in _NUMBERS:
            continue
        if key not in _PATHS or value[0] not in "'\"":
            return None
        try:
            value = ast.literal_eval(value)  # a string literal only (checked above)
        except (ValueError, SyntaxError):
            return None
        if not isinstance(value, str):
            return None
        if key == "model_checkpoint_path":
            latest = value
        else:
            kept.append(value)
    return latest, kept


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None) -> Any:
    """The folder's index as a `CheckpointState`, or None if it has none (TF1's).

    A garbage index file gives None and a warning on the `graphc` logger, as in TF1."""
    index = os.path.join(checkpoint_dir, latest_filename or INDEX)
    if not os.path.exists(index):
        return None
    try:
        with open(index, "rb") as f:
            raw = f.read(MAX_INDEX_BYTES + 1)
        parsed = parse_index(raw.decode()) if len(raw) <= MAX_INDEX_BYTES else None
    except (OSError, UnicodeDecodeError):
        parsed = None
    if parsed is None or not parsed[0]:
        log.warning("%s is not a checkpoint index file; ignored", index)
        return None
    latest, kept = parsed
    return CheckpointState(
        os.path.join(checkpoint_dir, latest), [os.path.join(checkpoint_dir, p) for p in kept]
    )


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether a checkpoint was saved under the prefix `checkpoint_prefix` (as returned by
    `Saver.save` or `latest_checkpoint`); a glob pattern matches any of its checkpoints."""
    path = checkpoint_prefix + SUFFIX
    return os.path.isfile(path) or any(os.path.isfile(p) for p in glob.glob(path))


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest checkpoint saved in `checkpoint_dir`, or None.

    None (as in TF1) when the folder has no index, its index is garbage, or the
    checkpoint it names is missing (the last two with a warning on the `graphc` logger)."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    if not os.path.isfile(state.model_checkpoint_path + SUFFIX):
        log.warning("the index of %s names %s, which is missing", checkpoint_dir, state[0])
        return None
    return state.model_checkpoint_path
