"""`Saver`: variable checkpoints as one `.npz` file, written atomically.

Invariants: a checkpoint file is complete or absent: it is written to a
temporary file in the same directory and renamed over the old one, so a crash
mid-save leaves the previous checkpoint intact. Restoring checks every
variable (present, same shape, lossless dtype) before changing any.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from graphc.errors import DTypeError, NotFoundError, ShapeError
from graphc.ir import Node
from graphc.variables import global_variables

SUFFIX = ".npz"
INDEX = "checkpoint"


class Saver:
    """Saves and restores variables (all global variables by default)."""

    def __init__(self, var_list: Any = None, max_to_keep: int = 5) -> None:
        if var_list is None:
            var_list = global_variables()
        if isinstance(var_list, dict):
            self._vars = dict(var_list)
        else:
            self._vars = {v.op_name: v for v in var_list}
        self.max_to_keep = max_to_keep
        self._kept: list[str] = []

    def save(self, sess: Any, save_path: str, global_step: Any = None) -> str:
        """Writes every variable's value; returns the checkpoint prefix to pass to restore."""
        if global_step is not None:
            step = global_step if isinstance(global_step, int) else sess.run(global_step)
            save_path = f"{save_path}-{int(step)}"
        values = {name: sess.variable_value(var) for name, var in self._vars.items()}
        _atomic_write(save_path + SUFFIX, lambda f: np.savez(f, **values))
        self._remember(save_path)
        return save_path

    def restore(self, sess: Any, save_path: str) -> None:
        """Loads every variable from `save_path` (as returned by save)."""
        path = save_path + SUFFIX
        if not os.path.exists(path):
            raise NotFoundError(f"no checkpoint at {path!r}")
        with np.load(path) as data:
            stored = {name: data[name] for name in data.files}
        checked = [(var, _checked(name, var, stored)) for name, var in self._vars.items()]
        for var, value in checked:
            sess.load_variable(var, value)

    def _remember(self, save_path: str) -> None:
        if save_path in self._kept:
            self._kept.remove(save_path)
        self._kept.append(save_path)
        while self.max_to_keep and len(self._kept) > self.max_to_keep:
            old = self._kept.pop(0)
            if os.path.exists(old + SUFFIX):
                os.remove(old + SUFFIX)
        directory = os.path.dirname(os.path.abspath(save_path))
        text = f"model_checkpoint_path: {os.path.basename(save_path)!r}\n"
        _atomic_write(os.path.join(directory, INDEX), lambda f: f.write(text.encode()))


def _checked(name: str, var: Node, stored: dict[str, np.ndarray]) -> np.ndarray:
    if name not in stored:
        raise NotFoundError(f"variable '{name}' is not in the checkpoint")
    value = stored[name]
    if value.shape != tuple(var.type.shape):
        raise ShapeError(
            f"checkpoint holds '{name}' with shape {list(value.shape)}, "
            f"but the variable has shape {list(var.type.shape)}"
        )
    if value.dtype != var.dtype.np and not np.can_cast(value.dtype, var.dtype.np, "safe"):
        raise DTypeError(
            f"checkpoint holds '{name}' as {value.dtype}, the variable is {var.dtype.name}"
        )
    return value


def _atomic_write(path: str, write: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def latest_checkpoint(checkpoint_dir: str) -> str | None:
    """The prefix of the newest checkpoint saved in `checkpoint_dir`, or None."""
    index = os.path.join(checkpoint_dir, INDEX)
    if not os.path.exists(index):
        return None
    with open(index) as f:
        line = f.readline()
    name = line.split(":", 1)[1].strip().strip("'\"")
    return os.path.join(checkpoint_dir, name)
