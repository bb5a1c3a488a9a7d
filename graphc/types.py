"""Dtypes, static shapes and NumPy broadcasting rules.

Invariants: a `DType` exists once per name (compare with `is` or `==`), and
`as_dtype` reads dtype names as TF1 does ("float" is float32, never NumPy's
float64); integer dtypes wrap on overflow as NumPy's fixed-width integers. A
static shape is a tuple of `int | None` (None = unknown dim) or `None` for an
unknown rank. Broadcasting follows NumPy, with one documented restriction:
two unknown dims are assumed equal (they are usually the same batch size), so
an unknown dim never silently broadcasts against another unknown dim.

The validators of static op arguments (axes, dims, sizes, strides, split
sizes, slice bounds) live here, once: each raises ShapeError naming the
argument and its value, and op builders add the op and the user's line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphc.errors import DTypeError, ShapeError


class DType:
    """A tensor element type: `graphc.float32` and friends."""

    __slots__ = ("name", "np", "short")

    def __init__(self, name: str, short: str) -> None:
        self.name = name
        self.np = np.dtype(name)
        self.short = short

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    @property
    def is_floating(self) -> bool:
        return self.np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self.np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self.np.kind == "b"

    @property
    def is_unsigned(self) -> bool:
        return self.np.kind in "ub"

    @property
    def size(self) -> int:
        """Bytes per element."""
        return self.np.itemsize

    @property
    def min(self) -> int | float | bool:
        """The lowest finite value (TF1's `DType.min`)."""
        return self._limits()[0]

    @property
    def max(self) -> int | float | bool:
        """The highest finite value (TF1's `DType.max`)."""
        return self._limits()[1]

    def _limits(self) -> tuple[Any, Any]:
        if self.is_bool:
            return False, True
        if self.is_floating:
            finfo = np.finfo(self.np)
            return float(finfo.min), float(finfo.max)
        iinfo = np.iinfo(self.np)
        return int(iinfo.min), int(iinfo.max)

    @property
    def np_name(self) -> str:
        """The NumPy scalar type's attribute name (`np.float32`, `np.bool_`)."""
        return "bool_" if self.is_bool else self.name

    @property
    def base_dtype(self) -> DType:
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"graphc.{self.name}"


float16 = DType("float16", "f16")
float32 = DType("float32", "f32")
float64 = DType("float64", "f64")
int8 = DType("int8", "i8")
int16 = DType("int16", "i16")
int32 = DType("int32", "i32")
int64 = DType("int64", "i64")
uint8 = DType("uint8", "u8")
uint16 = DType("uint16", "u16")
bool_ = DType("bool", "bool")
ALL_DTYPES = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool_)

# TF1's dtype strings (tensorflow/python/framework/dtypes.py): each dtype's name, plus the
# C names "half", "float" and "double". "float" is float32 as in TF1, not NumPy's float64.
_BY_NAME: dict[str, DType] = {
    **{d.name: d for d in ALL_DTYPES},
    "half": float16,
    "float": float32,
    "double": float64,
}
# TF1 dtypes graphc does not provide: named as such in errors, not as unknown names.
_TF1_ONLY = (
    "bfloat16",
    "complex64",
    "complex128",
    "uint32",
    "uint64",
    "string",
    "qint8",
    "quint8",
    "qint16",
    "quint16",
    "qint32",
    "resource",
    "variant",
)
# Python types as TF1 reads them: a type means the dtype TF1 gives a value of that type
# (`float` is float32). TF1 rejects `int`; graphc reads it as int32, TF1's dtype of an int.
_PYTHON_TYPES: dict[type, DType] = {float: float32, int: int32, bool: bool_}


def as_dtype(value: Any) -> DType:
    """A DType from a DType, a TF1 dtype name ("float32", "float", "double", "half", ...), a
    Python type (float, int, bool) or a NumPy dtype or scalar type (np.float32).

    Strings are read as TF1 reads them, never as NumPy does ("float" is float32); a string
    that is not a dtype name raises DTypeError listing the accepted names.
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        return _from_name(value)
    if isinstance(value, type) and value in _PYTHON_TYPES:
        return _PYTHON_TYPES[value]
    if value is None:  # NumPy would read None as float64
        raise DTypeError("a dtype is needed, got None")
    try:
        name = np.dtype(value).name
    except TypeError as exc:
        raise DTypeError(f"cannot interpret {value!r} as a graphc dtype") from exc
    if name not in _BY_NAME:
        raise DTypeError(f"unsupported dtype {name!r}; graphc supports {_supported()}")
    return _BY_NAME[name]


def _from_name(name: str) -> DType:
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name in _TF1_ONLY:
        raise DTypeError(
            f"graphc does not support TF1's dtype {name!r}; it supports {_supported()}"
        )
    close = [repr(c) for c in difflib.get_close_matches(name, _BY_NAME, n=3)]
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise DTypeError(
        f"unknown dtype name {name!r}{hint}; the names graphc accepts are {', '.join(_BY_NAME)}"
    )


def _supported() -> str:
    return ", ".join(d.name for d in ALL_DTYPES)


def as_index_dtype(value: Any, what: str) -> DType:
    """int32 or int64, the integer dtypes TF1 gives shapes, sizes, indices and random
    integers (a narrower one would wrap them); DTypeError naming `what` for any other."""
    dtype = as_dtype(value)
    if dtype not in (int32, int64):
        raise DTypeError(f"{what} must be int32 or int64, got {dtype.name}")
    return dtype


Shape = tuple[int | None, ...] | None


def shape_str(shape: Shape) -> str:
    """Short text of a shape: `[?,3]`, `[]` for a scalar, `[*]` for an unknown rank."""
    if shape is None:
        return "[*]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


@dataclass(frozen=True, slots=True)
class TensorType:
    """Static type of a tensor: shape (None dims unknown) and dtype."""

    shape: Shape
    dtype: DType

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def fully_known(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)

    def __str__(self) -> str:
        return f"{self.dtype.short}{shape_str(self.shape)}"

    __repr__ = __str__


class StaticShape(tuple):
    """The tuple users see as `tensor.shape`, with TF1's `as_list()` and `ndims`."""

    def as_list(self) -> list[int | None]:
        return list(self)

    @property
    def ndims(self) -> int:
        return len(self)

    rank = ndims

    def is_fully_defined(self) -> bool:
        return all(d is not None for d in self)

    def num_elements(self) -> int | None:
        return int(np.prod(self, dtype=np.int64)) if self.is_fully_defined() else None


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy broadcasting of static shapes; raises ValueError when they cannot broadcast."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out: list[int | None] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        out.append(_broadcast_dim(dims, shapes))
    return tuple(out)


def _broadcast_dim(dims: list[int | None], shapes: tuple[Shape, ...]) -> int | None:
    known = {d for d in dims if d is not None and d != 1}
    if len(known) > 1:
        text = " and ".join(shape_str(s) for s in shapes)
        raise ValueError(f"shapes {text} cannot be broadcast together")
    if known:
        return known.pop()
    return None if None in dims else 1


def is_compatible(static: Shape, actual: tuple[int, ...]) -> bool:
    """True when a concrete shape fits a static one (None dims match anything)."""
    if static is None:
        return True
    return len(static) == len(actual) and all(
        s is None or s == a for s, a in zip(static, actual, strict=True)
    )


# ---- validators of static arguments --------------------------------------------------------
# Each raises ShapeError naming the argument (`what`) and its value; op builders call them
# inside `graphc.ops.checking`, and `infer` rules through `make_node`, which add the op's
# name and the user's file:line.


def as_int(value: Any, what: str) -> int:
    """`value` as a Python int: an int, a NumPy integer or a 0-d integer array (not a bool)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ShapeError(f"{what} must be an integer, got {value!r}")
    return int(value)


def as_ints(values: Any, what: str) -> tuple[int, ...]:
    """An int or a (nested) sequence or array of ints, flattened; ShapeError for anything else."""
    if isinstance(values, str | bytes):
        raise ShapeError(f"{what} must be integers, got {values!r}")
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):  # ragged lists
        raise ShapeError(f"{what} must be integers, got {values!r}") from None
    if array.size and array.dtype.kind not in "iu":
        raise ShapeError(f"{what} must be integers, got {values!r}")
    return tuple(int(v) for v in array.ravel().tolist())


def as_dims(values: Any, what: str, lowest: int = 0) -> tuple[int, ...]:
    """Integer sizes, each at least `lowest` (0 for dims, 1 for strides and windows)."""
    dims = as_ints(values, what)
    for d in dims:
        if d < lowest:
            kind = "negative" if d < 0 else "zero"
            raise ShapeError(
                f"{what} {list(dims)} has a {kind} size {d} (each must be >= {lowest})"
            )
    return dims


def check_size(shape: Sequence[int], what: str, itemsize: int) -> None:
    """ShapeError when an array of `shape` is too large to allocate at all."""
    nbytes = math.prod(shape) * itemsize
    if nbytes > np.iinfo(np.intp).max:
        raise ShapeError(f"{what} {list(shape)} needs {nbytes} bytes, more than can be allocated")


def normalize_axis(axis: Any, rank: int | None, what: str = "axis") -> int:
    """One axis (an int, or a one-element list) as a non-negative int when `rank` is known."""
    axes = as_ints(axis, what)
    if len(axes) != 1 or (isinstance(axis, Sequence) and len(axis) != 1):
        raise ShapeError(f"{what} must be a single integer, got {axis!r}")
    return axes[0] if rank is None else normalize_axes(axes[0], rank, what)[0]


def equal_parts(num: int, total: int | None) -> list[int]:
    """The sizes of `num` equal parts of a dim of size `total` (TF's Split)."""
    if num <= 0:
        raise ShapeError(f"num_or_size_splits {num} must be positive")
    if total is None or total % num:
        raise ShapeError(f"cannot split a dim of size {total} into num_or_size_splits {num} parts")
    return [total // num] * num


def split_sizes(sizes: tuple[int, ...], total: int | None) -> list[int]:
    """The sizes, with one -1 inferred from the dim's size, as TF's SplitV."""
    as_dims(sizes, "size_splits", lowest=-1)
    unknown = sizes.count(-1)
    known = sum(s for s in sizes if s != -1)
    if unknown > 1 or (unknown and total is None):
        raise ShapeError(f"size_splits {list(sizes)}: at most one -1, on an axis of known size")
    if total is not None and (known > total if unknown else known != total):
        raise ShapeError(f"size_splits {list(sizes)} do not add up to the dim's size {total}")
    return [total - known if s == -1 else s for s in sizes]


def check_slice(shape: Shape, begin: tuple[int, ...], size: tuple[int, ...]) -> None:
    """ShapeError unless begin/size (size -1: to the end) give one in-bounds entry per axis."""
    if len(begin) != len(size) or (shape is not None and len(begin) != len(shape)):
        rank = "?" if shape is None else len(shape)
        raise ShapeError(
            f"begin {list(begin)} and size {list(size)} need one entry per axis (rank {rank})"
        )
    for d, b, s in zip(shape or (None,) * len(begin), begin, size, strict=True):
        if d is not None and (b > d or (s != -1 and b + s > d)):
            raise ShapeError(f"begin {list(begin)} and size {list(size)} go past a dim of size {d}")


def check_compatible(a: Shape, b: Shape, what: str) -> None:
    """ShapeError unless two static shapes can describe the same tensor."""
    if a is None or b is None:
        return
    if len(a) != len(b) or any(
        x is not None and y is not None and x != y for x, y in zip(a, b, strict=True)
    ):
        raise ShapeError(f"{what}: shapes {shape_str(a)} and {shape_str(b)} are incompatible")


def normalize_axes(axis: Any, rank: int, what: str = "axis") -> tuple[int, ...]:
    """Sorted non-negative axes (None: every axis); ShapeError when one is out of range,
    repeated or not an integer."""
    if axis is None:
        return tuple(range(rank))
    axes = as_ints(axis, what)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(
                f"{what} {a} is out of range for a tensor of rank {rank} "
                f"(valid: {-rank} to {rank - 1})"
            )
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ShapeError(f"{what} {list(axes)} repeats an axis")
    return tuple(sorted(out))
