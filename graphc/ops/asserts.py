"""TF1's run-time assertions: the `Assert` op, and `assert_*` / `check_numerics` on it.

`Assert` takes a bool condition (any shape: all elements must hold) and outputs
nothing; a run that executes it with a false condition fails with
`InvalidArgumentError` naming the op, the message and where it was created, before
any variable changes. It is effectful: passes never drop or merge it. As in TF1 it
runs only when fetched or reached through `control_dependencies`; `check_numerics`
returns its input under such a dependency, so using the result runs the check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.errors import DTypeError
from graphc.graph import get_default_graph
from graphc.ir import Node, Operation
from graphc.ops import Fusion, checking, convert, convert_operands, defop
from graphc.ops.elementwise import (
    equal,
    greater,
    greater_equal,
    identity,
    is_finite,
    less,
    less_equal,
    not_equal,
)
from graphc.types import TensorType


def _assert_infer(condition: TensorType, *, message: str) -> None:
    if not condition.dtype.is_bool:
        raise DTypeError(f"the condition must be bool, got {condition.dtype.name}")


def _assert_numpy(condition: np.ndarray, *, message: str) -> None:
    if not np.all(condition):
        raise ValueError(f"assertion failed: [{message}]")


assert_op = defop(
    "assert",
    "Assert",
    Fusion.OPAQUE,
    infer=_assert_infer,
    numpy=_assert_numpy,
    differentiable=False,
    effectful=True,
)


def Assert(
    condition: Any, data: Any = (), summarize: Any = None, name: str | None = None
) -> Operation:
    """Fails the run unless every element of `condition` is true (TF1's tf.Assert). The
    message lists the `data` strings, and its tensors by name (their values are not
    printed)."""
    with checking("Assert", name):
        condition = convert(condition)
    names = ", ".join(d if isinstance(d, str) else convert(d).name for d in data or ())
    node = assert_op(condition, message=names or "condition", name=name or "Assert")
    return node.graph.operation(node)


def _elementwise(
    test: Any, symbol: str, x: Any, y: Any, message: str | None, name: str | None, default: str
) -> Operation:
    """The Assert that `test(x, y)` holds everywhere, its message naming both sides."""
    with get_default_graph().name_scope(name or default):
        x, y = convert_operands(x, y, op_name=default)
        held = f"Condition x {symbol} y did not hold element-wise: x = {x.name}, y = {y.name}"
        node = assert_op(test(x, y), message=f"{message} {held}" if message else held)
        return node.graph.operation(node)


def _binary(test: Any, symbol: str, default: str) -> Any:
    def assertion(
        x: Any,
        y: Any,
        data: Any = None,
        summarize: Any = None,
        message: str | None = None,
        name: str | None = None,
    ) -> Operation:
        return _elementwise(test, symbol, x, y, message, name, default)

    assertion.__name__ = default
    assertion.__doc__ = f"Fails the run unless x {symbol} y everywhere (TF1's tf.{default})."
    return assertion


assert_equal = _binary(equal, "==", "assert_equal")
assert_none_equal = _binary(not_equal, "!=", "assert_none_equal")
assert_less = _binary(less, "<", "assert_less")
assert_less_equal = _binary(less_equal, "<=", "assert_less_equal")
assert_greater = _binary(greater, ">", "assert_greater")
assert_greater_equal = _binary(greater_equal, ">=", "assert_greater_equal")


def _signed(test: Any, symbol: str, default: str) -> Any:
    def assertion(
        x: Any,
        data: Any = None,
        summarize: Any = None,
        message: str | None = None,
        name: str | None = None,
    ) -> Operation:
        x = convert(x)
        return _elementwise(test, symbol, x, convert(0, x.dtype), message, name, default)

    assertion.__name__ = default
    assertion.__doc__ = f"Fails the run unless x {symbol} 0 everywhere (TF1's tf.{default})."
    return assertion


assert_positive = _signed(greater, ">", "assert_positive")
assert_negative = _signed(less, "<", "assert_negative")
assert_non_negative = _signed(greater_equal, ">=", "assert_non_negative")
assert_non_positive = _signed(less_equal, "<=", "assert_non_positive")


def check_numerics(tensor: Any, message: str, name: str | None = None) -> Node:
    """`tensor`, once a check that it holds no NaN or infinity has run (TF1's
    CheckNumerics: the failure says "<message> : Tensor had NaN or Inf values")."""
    graph = get_default_graph()
    with graph.name_scope(name or "CheckNumerics"):
        x = convert(tensor)
        if not x.dtype.is_floating:
            raise DTypeError(f"check_numerics needs a floating tensor, got {x.dtype.name}")
        check = assert_op(is_finite(x), message=f"{message} : Tensor had NaN or Inf values")
        with graph.control_dependencies([check]):
            return identity(x)
