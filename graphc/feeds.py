"""Feeds and fetches: fed values checked and converted, nested fetch structures flattened.

Invariants: a fed value is converted to its tensor's dtype only when that
loses nothing (else DTypeError), and its shape must fit the tensor's static
shape (else ShapeError); `flatten` gives the leaves of a fetch structure in
order, with a function that rebuilds the same structure from their values. A
`HostValue` leaf (a summary) is replaced by the tensors it reads, and its value is
computed in Python from theirs when the structure is rebuilt, after the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphc.errors import DTypeError, InvalidArgumentError, ShapeError
from graphc.ir import Node, Operation
from graphc.types import is_compatible, shape_str


def convert_feed(node: Node, value: Any) -> np.ndarray:
    """The fed value as an array of the tensor's dtype; raises if that would lose information."""
    target = node.dtype.np
    array = _as_array(node, value)
    if array.dtype != target:
        _check_lossless(node, array, target)
        with np.errstate(over="ignore", invalid="ignore"):
            array = array.astype(target)
    if not is_compatible(node.type.shape, array.shape):
        raise ShapeError(
            f"cannot feed a value of shape {list(array.shape)} to '{node.name}', "
            f"which has shape {shape_str(node.type.shape)}"
        )
    return array


def _as_array(node: Node, value: Any) -> np.ndarray:
    """The fed value as a NumPy array: not a tensor, and not ragged."""
    if isinstance(value, Node | Operation):
        raise InvalidArgumentError(
            f"cannot feed the tensor {value!r} to '{node.name}': feed a value "
            "(a NumPy array, a Python number or a list), not a graph tensor"
        )
    try:
        return np.asarray(value)
    except ValueError as exc:  # lists of lists of different lengths
        raise ShapeError(
            f"cannot feed a ragged value (lists of different lengths) to '{node.name}': {exc}"
        ) from None
    except Exception as exc:
        raise DTypeError(
            f"cannot feed {type(value).__name__} to '{node.name}': NumPy cannot convert it ({exc})"
        ) from None


def _check_lossless(node: Node, array: np.ndarray, target: np.dtype) -> None:
    src = array.dtype
    problem = None
    if src.kind not in "biuf":
        problem = f"values of dtype {src}"
    elif target.kind == "b" and src.kind != "b":
        problem = f"{src} values"
    elif target.kind in "iu" and src.kind == "f":
        problem = f"floating-point values ({src})"
    elif target.kind in "iu" and array.size:
        info = np.iinfo(target)
        if array.min() < info.min or array.max() > info.max:
            problem = f"values outside the range of {target}"
    elif target.kind == "f" and src.kind == "f" and array.size:
        finite = np.isfinite(array)
        with np.errstate(over="ignore"):
            overflow = finite & ~np.isfinite(array.astype(target))
        if overflow.any():
            problem = f"{src} values that overflow {target}"
    if problem is not None:
        raise DTypeError(f"cannot feed {problem} to '{node.name}' of dtype {node.dtype.name}")


class HostValue:
    """A fetch whose value Python computes from the values of graph tensors after a run.

    Subclasses (graphc.summary's summaries) set `tensors`, the fetches they read (tensors
    or other HostValues), and define `value`, which gets their values in that order.
    Backends never see a HostValue: `flatten` fetches its tensors in its place.
    """

    tensors: tuple[Any, ...] = ()

    def value(self, values: list[Any]) -> Any:
        raise NotImplementedError


def flatten(fetches: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """Leaves of a nested fetch structure, and a function that rebuilds it from values."""
    if isinstance(fetches, HostValue):
        return _join([flatten(t) for t in fetches.tensors], fetches.value)
    if isinstance(fetches, dict):
        keys = list(fetches)
        parts = [flatten(fetches[k]) for k in keys]
        return _join(parts, lambda vals: type(fetches)(zip(keys, vals, strict=True)))
    if isinstance(fetches, tuple) and hasattr(fetches, "_fields"):
        parts = [flatten(v) for v in fetches]
        return _join(parts, lambda vals: type(fetches)(*vals))
    if isinstance(fetches, list | tuple):
        parts = [flatten(v) for v in fetches]
        return _join(parts, lambda vals: type(fetches)(vals))
    return [fetches], lambda vals: vals[0]


def _join(parts: list, make: Callable[[list[Any]], Any]) -> tuple[list[Any], Callable]:
    leaves = [leaf for p in parts for leaf in p[0]]

    def rebuild(values: list[Any]) -> Any:
        out, at = [], 0
        for sub_leaves, sub_rebuild in parts:
            out.append(sub_rebuild(values[at : at + len(sub_leaves)]))
            at += len(sub_leaves)
        return make(out)

    return leaves, rebuild
