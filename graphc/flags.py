"""`tf.flags` (also `tf.app.flags`): TF1's command-line flags, with absl's names and rules.

A script defines each flag once and reads it as a typed attribute of `FLAGS`:

    tf.flags.DEFINE_integer("batch_size", 32, "Examples per step.")
    FLAGS = tf.flags.FLAGS
    ...  # python train.py --batch_size=64
    FLAGS.batch_size  # 64, an int

The command-line syntax and the parse rules are in `graphc.flag_values`; this module
holds the typed definitions. Built on the standard library (absl is not needed).

Invariants: each `DEFINE_*` converts its default with the flag's own parser (so a bad
default raises `IllegalFlagValueError` where it is defined) and returns the `Flag`;
a `None` default stays None (a flag with no value unless given).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any

from graphc.compat import missing_names
from graphc.flag_values import (
    DuplicateFlagError,
    Error,
    Flag,
    FlagValues,
    IllegalFlagValueError,
    UnrecognizedFlagError,
)

__all__ = [
    "FLAGS",
    "DEFINE_bool",
    "DEFINE_boolean",
    "DEFINE_enum",
    "DEFINE_float",
    "DEFINE_integer",
    "DEFINE_list",
    "DEFINE_string",
    "DuplicateFlagError",
    "Error",
    "Flag",
    "FlagValues",
    "IllegalFlagValueError",
    "UnrecognizedFlagError",
    "mark_flag_as_required",
    "mark_flags_as_required",
]

FLAGS = FlagValues()

_TRUE = ("true", "t", "1")
_FALSE = ("false", "f", "0")


# ---- parsers: a command-line string (or a default) to the flag's type ----------------------
def parse_bool(value: Any) -> bool:
    """true/t/1 and false/f/0 in any case, a bool, or the int 0 or 1."""
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("a boolean flag takes true or false (or t/f, 1/0)")


def parse_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a string flag takes a string, not {type(value).__name__}")
    return value


def int_parser(lower: int | None, upper: int | None) -> Callable[[Any], int]:
    """An int parser with optional bounds; strings may be 0x.., 0o.. or 0b.. literals."""

    def parse(value: Any) -> int:
        if isinstance(value, str):
            text = value.strip()
            prefixed = text.lstrip("+-")[:2].lower() in ("0x", "0o", "0b")
            number = int(text, 0 if prefixed else 10)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise TypeError(f"an integer flag takes an int, not {type(value).__name__}")
        return _bounded(number, lower, upper)

    return parse


def float_parser(lower: float | None, upper: float | None) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(f"a float flag takes a number, not {type(value).__name__}")
        return _bounded(float(value), lower, upper)

    return parse


def _bounded(number: Any, lower: Any, upper: Any) -> Any:
    if lower is not None and number < lower:
        raise ValueError(f"{number} is below the lower bound {lower}")
    if upper is not None and number > upper:
        raise ValueError(f"{number} is above the upper bound {upper}")
    return number


def enum_parser(values: list[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in values:
            raise ValueError(f"takes one of {'|'.join(values)}")
        return value

    return parse


def parse_list(value: Any) -> list[str]:
    """A list, or comma-separated text (CSV quoting; items stripped; '' is [])."""
    if isinstance(value, list | tuple):
        return list(value)
    if not isinstance(value, str):
        raise TypeError(f"a list flag takes a list or a string, not {type(value).__name__}")
    if not value.strip():
        return []
    return [item.strip() for item in next(csv.reader([value], strict=True))]


# ---- definitions ----------------------------------------------------------------------------
def _define(
    flag: Flag, flag_values: FlagValues | None, required: bool, renamed: dict[str, Any]
) -> Flag:
    if renamed:
        raise TypeError(f"unexpected keyword arguments {sorted(renamed)}")
    flag.required = required
    return (FLAGS if flag_values is None else flag_values).define(flag)


def _renamed(name: Any, default: Any, help: Any, old: dict[str, Any]) -> tuple[Any, Any, Any]:
    """TF<1.5's keyword names (flag_name, default_value, docstring), which TF1 still takes."""
    name = old.pop("flag_name", name)
    default = old.pop("default_value", default)
    return name, default, old.pop("docstring", help)


def DEFINE_string(
    name: str = "",
    default: str | None = None,
    help: str | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """A string flag: `--name=text`."""
    name, default, help = _renamed(name, default, help, old)
    return _define(Flag(name, default, help, parse_string), flag_values, required, old)


def DEFINE_boolean(
    name: str = "",
    default: bool | None = None,
    help: str | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """A boolean flag: `--name`, `--noname`, `--name=true|false`."""
    name, default, help = _renamed(name, default, help, old)
    flag = Flag(name, default, help, parse_bool, boolean=True)
    return _define(flag, flag_values, required, old)


DEFINE_bool = DEFINE_boolean


def DEFINE_integer(
    name: str = "",
    default: int | str | None = None,
    help: str | None = None,
    lower_bound: int | None = None,
    upper_bound: int | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """An int flag (`--name=12`, `--name=0x1f`), optionally bounded (inclusive)."""
    name, default, help = _renamed(name, default, help, old)
    parse = int_parser(lower_bound, upper_bound)
    flag = Flag(name, default, help, parse, kind=_kind("an integer", lower_bound, upper_bound))
    return _define(flag, flag_values, required, old)


def DEFINE_float(
    name: str = "",
    default: float | str | None = None,
    help: str | None = None,
    lower_bound: float | None = None,
    upper_bound: float | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """A float flag (`--name=1e-3`), optionally bounded (inclusive)."""
    name, default, help = _renamed(name, default, help, old)
    parse = float_parser(lower_bound, upper_bound)
    flag = Flag(name, default, help, parse, kind=_kind("a number", lower_bound, upper_bound))
    return _define(flag, flag_values, required, old)


def _kind(what: str, lower: Any, upper: Any) -> str:
    if lower is None and upper is None:
        return what
    return f"{what} in [{'-inf' if lower is None else lower}, {'inf' if upper is None else upper}]"


def DEFINE_enum(
    name: str = "",
    default: str | None = None,
    enum_values: Iterable[str] = (),
    help: str | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """A flag that takes one of `enum_values` (case-sensitive)."""
    name, default, help = _renamed(name, default, help, old)
    values = list(enum_values)
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"DEFINE_enum({name!r}): enum_values must be non-empty strings")
    flag = Flag(name, default, help, enum_parser(values), kind=f"one of {'|'.join(values)}")
    return _define(flag, flag_values, required, old)


def DEFINE_list(
    name: str = "",
    default: list[str] | str | None = None,
    help: str | None = None,
    flag_values: FlagValues | None = None,
    required: bool = False,
    **old: Any,
) -> Flag:
    """A list of strings: `--name=a,b,c` (or a list default)."""
    name, default, help = _renamed(name, default, help, old)
    flag = Flag(name, default, help, parse_list, kind="a comma-separated list")
    return _define(flag, flag_values, required, old)


def mark_flag_as_required(name: str, flag_values: FlagValues | None = None) -> None:
    """Parsing fails unless flag `name` ends up with a value other than None."""
    (FLAGS if flag_values is None else flag_values)[name].required = True


def mark_flags_as_required(names: Iterable[str], flag_values: FlagValues | None = None) -> None:
    for name in names:
        mark_flag_as_required(name, flag_values)


__getattr__ = missing_names(__name__, "tf.flags")
