"""The NumPy reference executor: runs a graph op by op with each op's `numpy` facet.

It is the oracle the compiler is tested against, so it favours being plainly
correct over being fast. Invariants:
- A run follows a `graphc.schedule.Plan`; `plan()` and `execute` check everything
  that can fail before any op runs: unfed placeholders, uninitialized variables.
- Every variable read sees the value from before the run, except
  `read_variable` nodes (ordered by control dependencies), which see writes
  made earlier in the same run.
- A node in a branch of a `tf.cond` that is not taken does not run (its merge
  gets None for it); every other node in the plan runs once.
- Writes are staged and committed only when the whole run succeeded, so a
  failed run changes no variable.
- Before an op runs, the run-time sizes it assumes equal are checked
  (`graphc.ops.dims`); each op's output is checked against its static type
  (dtype and known dims).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from graphc.errors import FailedPreconditionError, GraphcError, InvalidArgumentError
from graphc.ir import Node
from graphc.ops import assumed_equal
from graphc.ops.dims import Dim
from graphc.schedule import Plan, plan
from graphc.store import uninitialized
from graphc.types import is_compatible, shape_str


class RunContext:
    """What stateful ops see during one run: variable values, staged writes, generators."""

    def __init__(
        self, state: Mapping[Node, np.ndarray], rng: Callable[[Node], np.random.Generator]
    ):
        self.state = state
        self.writes: dict[Node, np.ndarray] = {}
        self.rng = rng

    def read_snapshot(self, var: Node) -> np.ndarray:
        return self.state[var]

    def read_current(self, var: Node) -> np.ndarray:
        value = self.writes.get(var)
        if value is None:
            if var not in self.state:
                raise FailedPreconditionError(f"variable '{var.name}' is read before it is set")
            value = self.state[var]
        return value

    def write(self, var: Node, value: np.ndarray) -> None:
        self.writes[var] = np.array(value, copy=True, order="C")  # a buffer a store can own


def execute(p: Plan, feeds: dict[Node, np.ndarray], ctx: RunContext) -> dict[int, Any]:
    """Runs a plan; returns values by node id. Raises before running if a read is unset."""
    for var in p.snapshot_reads:
        if var not in ctx.state:
            raise uninitialized(var)
    values: dict[int, Any] = {}
    with np.errstate(all="ignore"):  # inf and nan propagate, as in compiled code
        for node in p.order:
            if id(node) in p.fed:
                values[id(node)] = feeds[node]
            elif not p.runs(node, values):
                continue  # in a branch of a tf.cond not taken (graphc.schedule)
            elif node.opdef.name != "variable" or node in p.snapshot_reads:
                values[id(node)] = _run_node(node, values, ctx)  # (skips refs-only variables)
    return values


def _check_sizes(node: Node, values: dict[int, Any], ctx: RunContext) -> None:
    """Raises if run-time sizes break an equality the op assumes (graphc.ops.dims)."""
    for eq in assumed_equal(node):
        a = _size(eq.a, values, ctx)
        b = eq.b if isinstance(eq.b, int) else _size(eq.b, values, ctx)
        if a is not None and b is not None and a != b:
            message = eq.message(node).format(a, b)
            raise InvalidArgumentError(f"{message} (created at {node.site})")


def _size(dim: Dim, values: dict[int, Any], ctx: RunContext) -> int | None:
    x, axis = dim
    value = values.get(id(x))
    if value is None and x.opdef.name == "variable" and x in ctx.state:
        value = ctx.state[x]
    return None if value is None else np.shape(value)[axis]


def _run_node(node: Node, values: dict[int, Any], ctx: RunContext) -> Any:
    op = node.opdef
    _check_sizes(node, values, ctx)
    args = [values.get(id(x)) for x in node.inputs]
    if op.takes_ref:
        args[0] = None  # a reference: the op reads or writes the variable through ctx
    try:
        out = op.numpy(ctx, node, *args) if op.stateful else op.numpy(*args, **node.attrs)
    except GraphcError:
        raise
    except Exception as exc:
        raise InvalidArgumentError(
            f"{op.type_name} '{node.op_name}' failed: {exc} (created at {node.site})"
        ) from exc
    if node.type is None:
        return out  # None, or a fused node's tuple of values
    out = np.asarray(out)
    if out.dtype != node.type.dtype.np or not is_compatible(node.type.shape, out.shape):
        raise GraphcError(
            f"internal error: {op.name} '{node.op_name}' produced {out.dtype}{list(out.shape)}, "
            f"expected {node.type.dtype.name}{shape_str(node.type.shape)}"
        )
    return out


def evaluate(
    outputs: list[Node],
    feeds: dict[Node, Any] | None = None,
    state: dict[Node, np.ndarray] | None = None,
    seed: int = 0,
) -> list[Any]:
    """Values of `outputs` given feeds (a pure helper for tests and passes).

    Variables are read from `state`; writes are discarded; random ops draw
    from generators seeded by `seed` and the op's name.
    """
    feeds = {k: np.asarray(v, k.dtype.np) for k, v in (feeds or {}).items()}
    p = plan(outputs, feeds)
    ctx = RunContext(dict(state or {}), lambda node: np.random.default_rng([seed, _stable(node)]))
    values = execute(p, feeds, ctx)
    return [values[id(o)] for o in outputs]


def _stable(node: Node) -> int:
    """A seed from the whole op name (distinct draws of one kind get distinct seeds)."""
    return int.from_bytes(hashlib.blake2b(node.op_name.encode(), digest_size=8).digest(), "little")
