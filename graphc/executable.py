"""`Executable`: one compiled step for fixed fetches and feeds (TF1's make_callable result).

Specialization policy: a program is compiled once per (fetches, feeds): dtypes
come from the placeholders and ranks are static, while the sizes of unknown
(`None`) dims are read at run time, so a smaller final batch reuses the same
compiled code. Every argument passed to compiled code is C-contiguous, so
Numba also compiles one specialization only.

Invariants: checks run before the compiled call (feeds, uninitialized
variables); new variable buffers are committed only after the call returns;
existing buffers are written by the compiled code at its very end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from graphc import reference
from graphc.codegen import compile as modules
from graphc.codegen.allocator import tune_allocator
from graphc.codegen.cpu import Program, generate
from graphc.errors import DTypeError, FailedPreconditionError, GraphcError, InvalidArgumentError
from graphc.feeds import convert_feed, flatten
from graphc.graph import Graph, as_op_node
from graphc.ir import Node
from graphc.ops.random import RANDOM_OPS
from graphc.types import is_compatible

if TYPE_CHECKING:
    from graphc.session import Session


def _check_compilable(node: Node) -> None:
    """Raises for a tensor the Numba CPU target cannot hold, naming it."""
    if node.type is None:
        return
    if node.type.shape is None:
        raise GraphcError(
            f"'{node.name}' has unknown rank: compiled targets need known ranks "
            "(give the placeholder a shape, with None for unknown sizes)"
        )
    if node.dtype.name == "float16":  # Numba has no float16 arithmetic on the CPU
        raise DTypeError(
            f"'{node.name}' is float16, which the cpu target does not support: cast to "
            f"float32, or use Session(target='numpy') (created at {node.site})"
        )


def build_program(
    plan: reference.Plan,
    feeds: list[Node],
    fetches: list[Node],
    targets: list[tuple[Node, bool]] | None = None,
) -> Program:
    """The Program for a plan: argument lists in a deterministic order. `targets` are the
    caller's fetches before passes (True: an op), named in the step's docstring."""
    order = [n for n in plan.order if id(n) not in plan.fed]
    variables: dict[int, Node] = {}
    for n in plan.order:
        if n.opdef.name == "variable" and id(n) not in plan.fed:
            variables.setdefault(id(n), n)
        if n.opdef.takes_ref:
            variables.setdefault(id(n.inputs[0]), n.inputs[0])
    return Program(
        order=order,
        feeds=list(feeds),
        fetches=list(fetches),
        variables=list(variables.values()),
        consts=[n for n in order if n.opdef.name == "const" and n.type.shape != ()],
        randoms=[n for n in order if n.opdef.name in RANDOM_OPS],
        targets=list(targets or []),
    )


class Executable:
    """A compiled step: call it with the values of `feeds`, in order."""

    def __init__(
        self,
        session: Session,
        targets: list[tuple[Node, bool]],
        feeds: list[Node],
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        tune_allocator()
        self._session = session
        self.feeds = list(feeds)
        self._rebuild = rebuild
        graph = Graph.from_outputs([n for n, _ in targets], self.feeds)
        self.graph, self.report = _run_passes(graph, session.passes)
        outputs = self.graph.outputs
        self._targets = [(outputs[k], is_op) for k, (_, is_op) in enumerate(targets)]
        self._plan = reference.plan(list(outputs), self.feeds)
        fetches = list({id(n): n for n, is_op in self._targets if not is_op}.values())
        self._fetch_index = {id(n): k for k, n in enumerate(fetches)}
        self.program = build_program(self._plan, self.feeds, fetches, targets)
        for node in self.feeds + self.program.order:  # name the placeholder first
            _check_compilable(node)
        self.source = generate(self.program)
        if session.debug:
            _show(self)
        self._module = modules.load(self.source, session.cache_dir)
        self._fn = self._module.step
        self._tail: tuple | None = None
        self._tail_version = -1
        self.compile_seconds: float | None = None

    # ---- inspection -----------------------------------------------------------------------
    @property
    def kernels(self) -> list[Any]:
        """The fused kernels, each with `.name` and `.ops` (the user's ops it computes)."""
        return [n.attrs["kernel"] for n in self.graph.nodes if n.opdef.name == "fused"]

    def to_dot(self) -> str:
        """DOT text of the optimized graph (fused kernels as boxes listing their ops)."""
        return self.graph.to_dot()

    # ---- calling ------------------------------------------------------------------------
    def __call__(self, *values: Any) -> Any:
        if len(values) != len(self.feeds):
            raise GraphcError(f"expected {len(self.feeds)} feed values, got {len(values)}")
        arrays = [_fast_feed(n, v) for n, v in zip(self.feeds, values, strict=True)]
        out = self.run_flat(arrays)
        return self._rebuild(out) if self._rebuild is not None else out

    def run_flat(self, arrays: list[np.ndarray]) -> list[Any]:
        """Runs with converted feed arrays; returns one value per target (None for ops)."""
        session = self._session
        if self._tail is None or self._tail_version != session._version:
            fresh = self._prepare_state()
        else:
            fresh = None
        try:
            if self.compile_seconds is None:
                started = time.perf_counter()
                out = self._first_call(arrays)
                self.compile_seconds = time.perf_counter() - started
            else:
                out = self._fn(*arrays, *self._tail)
        except GraphcError:
            raise
        except Exception as exc:
            raise InvalidArgumentError(f"compiled step failed: {exc}") from exc
        if fresh:
            session._commit(fresh)
        return [None if is_op else self._result(out, n) for n, is_op in self._targets]

    def _first_call(self, arrays: list[np.ndarray]) -> Any:
        try:
            return self._fn(*arrays, *self._tail)
        except Exception as exc:
            if not modules.raised_by_numba_cache(exc):
                raise
            # an unreadable on-disk cache (truncated or corrupt files): drop it, compile in memory
            modules.purge(self.source, self._session.cache_dir)
            self._module = modules.load_in_memory(modules.module_name(self.source), self.source)
            self._fn = self._module.step
            return self._fn(*arrays, *self._tail)

    def _result(self, out: tuple, node: Node) -> Any:
        value = out[self._fetch_index[id(node)]]
        if node.type.shape == ():
            return node.dtype.np.type(value)
        return value

    def _prepare_state(self) -> dict[Node, np.ndarray]:
        """Checks variables and builds the argument tail; returns buffers to create."""
        session, program = self._session, self.program
        state = session._state
        for var in self._plan.snapshot_reads:
            if var not in state:
                raise FailedPreconditionError(
                    f"attempting to use uninitialized variable '{var.name}' "
                    f"(created at {var.site}); run its initializer first"
                )
        written = {id(n.inputs[0]) for n in program.order if n.opdef.name == "assign"}
        fresh: dict[Node, np.ndarray] = {}
        buffers = []
        for var in program.variables:
            buf = state.get(var)
            if buf is None:
                if id(var) not in written:
                    raise FailedPreconditionError(
                        f"attempting to use uninitialized variable '{var.name}' "
                        f"(created at {var.site}); run its initializer first"
                    )
                buf = fresh[var] = np.empty(var.type.shape or (1,), var.dtype.np)
            buffers.append(buf)
        consts = [n.attrs["value"].array for n in program.consts]
        rngs = [session._rng(n) for n in program.randoms]
        self._tail = (*buffers, *consts, *rngs)
        self._tail_version = session._version if not fresh else -1
        return fresh


def _show(exe: Executable) -> None:
    """The debug printout (GRAPHC_DEBUG=1): optimized IR, pass report, generated source."""
    rule = "-" * 78
    text = f"{rule}\n{exe.graph}\n{rule}\n{exe.report.details()}\n{rule}\n{exe.source}{rule}\n"
    sys.stderr.write(text)


def _fast_feed(node: Node, value: Any) -> Any:
    """The fed value as compiled code takes it (copied only if needed)."""
    if (
        type(value) is np.ndarray
        and value.dtype == node.type.dtype.np
        and value.flags.c_contiguous
        and value.ndim
        and is_compatible(node.type.shape, value.shape)
    ):
        return value
    return compiled_argument(convert_feed(node, value))


def compiled_argument(array: np.ndarray) -> Any:
    """A C-contiguous array, or a NumPy scalar for rank 0 (scalars are locals in the code)."""
    return np.ascontiguousarray(array) if array.ndim else array[()]


def optimize(fetches: Any, feeds: Any = (), passes: Any = None) -> tuple[Graph, Any]:
    """The optimized graph of `fetches` (cut at `feeds`) and the pass report; runs nothing."""
    leaves, _ = flatten(fetches)
    nodes = [as_op_node(leaf) for leaf in leaves]
    return _run_passes(Graph.from_outputs(nodes, [as_op_node(f) for f in feeds]), passes)


def _run_passes(graph: Graph, passes: Any) -> tuple[Graph, Any]:
    """`graph` optimized by `passes` (None: the default pipeline), and the pass report."""
    # A lazy import on purpose: the `passes` package builds on graphc, and graphc never
    # imports it at module level (so `import graphc.ir` and `import graphc` stay without it).
    from passes import optimize as run_passes

    return run_passes(graph, passes)
