"""The backend interface: `Step` (what to compile), `Backend` (a target) and `Executable`
(one compiled step, the same inspection and calling API on every target).

The path of a run: the Session resolves fetches and feeds, `lower()` cuts the graph at
the feeds and optimizes it into a `Step` (graph, report, schedule), the backend chosen
by the Session's `target` compiles the Step into an `Executable`, and the Executable
runs against the Session's `VariableStore`. A backend never sees the Session.

Invariants: an Executable runs every check that can fail before running any op (feed
dtypes and shapes, unfed placeholders, uninitialized variables); it commits variable
writes to the store only after the whole step succeeded, so a failed run changes no
variable; its results mirror the fetch structure it was made for, and are arrays the
caller owns (never a variable's buffer, a fed array, or another result: `unshared`); once
its session is closed, calling it raises the error `Session.run` raises.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphc import viz
from graphc.config import RunMetadata, RunOptions, check_message
from graphc.errors import GraphcError
from graphc.feeds import convert_feed, flatten
from graphc.graph import Graph, as_op_node
from graphc.ir import Node
from graphc.schedule import Plan, plan
from graphc.specialize import specialized, unknown_rank
from graphc.store import VariableStore, closed_session


@dataclass(frozen=True)
class Step:
    """One step to compile: the optimized graph, its schedule, its feeds and targets.

    `targets` are (node, is_op) pairs, one per fetch, nodes of `graph` (ops give None);
    `feeds` are the tensors a caller gives values for, in argument order.
    """

    graph: Graph
    report: Any  # passes.manager.Report
    feeds: tuple[Node, ...]
    targets: tuple[tuple[Node, bool], ...]
    plan: Plan

    @property
    def fetches(self) -> list[Node]:
        """The distinct tensors whose values the step returns, in order of first fetch."""
        return list({id(n): n for n, is_op in self.targets if not is_op}.values())


@dataclass(frozen=True)
class Options:
    """Session settings a backend may use: where to cache compiled code, debug output."""

    cache_dir: str | None = None
    debug: bool = False
    fast_start: bool = False  # interpret until another process compiled (graphc.backends.cpu)


class Executable(abc.ABC):
    """A compiled step: call it with the values of `feeds`, in order (TF1's make_callable).

    Attributes:
      feeds: the placeholders (and fed tensors) its arguments feed, in call order.
      graph: the optimized graph it runs (`print(exe.graph)` lists it op by op).
      report: what each optimization pass did (`passes.Report`: `str()` is a table,
        `.details()` every change, `.changes(name)` one pass's).
      source: what the backend generated, as text (the Numba module on "cpu", the op
        listing the reference executor interprets on "numpy").
      kernels: the fused kernels, each with `.name` and `.ops` (the user's ops in it).
      step: the lowered step (`graphc.executable.Step`: graph, report, feeds, targets
        and the schedule).
    Methods: `compile()` (ahead of the first call), `export(path)` (a package without
    graphc), `to_dot()` (graphc.viz), and calling it.
    """

    source: str
    target = "?"  # the Session target name of the backend that made it

    def __init__(
        self, step: Step, store: VariableStore, rebuild: Callable[[list[Any]], Any] | None = None
    ) -> None:
        self.step, self._store, self._rebuild = step, store, rebuild
        self.feeds = list(step.feeds)
        self.graph, self.report = step.graph, step.report

    # ---- inspection -----------------------------------------------------------------------
    @property
    def kernels(self) -> list[Any]:
        """The fused kernels, each with `.name` and `.ops` (the user's ops it computes)."""
        return [n.attrs["kernel"] for n in self.graph.nodes if n.opdef.name == "fused"]

    def to_dot(self) -> str:
        """DOT text of the optimized graph (graphc.viz.to_dot: scopes as clusters, fused
        kernels listing their ops, folded constants marked)."""
        return viz.to_dot(self)

    def __repr__(self) -> str:
        try:
            fetched = [n.op_name for n, _ in self.step.targets]
            what = f"target={self.target!r} fetches={_short(fetched)}"
        except GraphcError:  # compiled per rank, not called yet
            what = "compiled per rank on its first call"
        return f"<graphc.Executable {what} feeds={_short([n.op_name for n in self.feeds])}>"

    # ---- calling ------------------------------------------------------------------------
    def __call__(self, *values: Any, options: Any = None, run_metadata: Any = None) -> Any:
        """Runs with the feed values, in order; TF1's `options=` and `run_metadata=` are
        accepted (graphc traces nothing)."""
        if options is not None:
            check_message(options, RunOptions, "options")
        if run_metadata is not None:
            check_message(run_metadata, RunMetadata, "run_metadata")
        if self._store.closed:
            raise closed_session()
        if len(values) != len(self.feeds):
            raise GraphcError(f"expected {len(self.feeds)} feed values, got {len(values)}")
        arrays = [self.argument(n, v) for n, v in zip(self.feeds, values, strict=True)]
        out = self.run_flat(arrays)
        return self._rebuild(out) if self._rebuild is not None else out

    def argument(self, node: Node, value: Any) -> Any:
        """A fed value as `run_flat` takes it (checked and converted to the tensor's dtype)."""
        return convert_feed(node, value)

    def compile(self, *values: Any) -> Executable:
        """Compiles the step ahead of its first call, for the feeds' declared dtypes and
        ranks (or those of example `values`, one per feed); returns the executable. This
        one interprets its step: there is nothing to compile."""
        return self

    def export(self, path: Any, overwrite: bool = False) -> Any:
        """Writes the step as a Python package that runs with numpy and numba only
        (graphc.export); needs the compiled cpu target."""
        raise GraphcError(
            "export needs a compiled step: make it in a Session(target='cpu') (this one "
            "is interpreted)"
        )

    @abc.abstractmethod
    def run_flat(self, arrays: list[Any]) -> list[Any]:
        """Runs with converted feed values; returns one value per target (None for ops)."""


def _short(names: list[str]) -> str:
    """Up to four names, then how many more: `[a, b, c, d, +3]`."""
    more = [f"+{len(names) - 4}"] if len(names) > 4 else []
    return "[" + ", ".join([*names[:4], *more]) + "]"


class Specializing(Executable):
    """The executable `make_callable` gives for feeds of unknown rank on a target that
    compiles per rank: each call runs the step specialized on the ranks of its values
    (graphc.specialize), compiled on the first call with those ranks. Its inspection
    attributes (`.graph`, `.source`, ...) are those of the last specialization it ran."""

    def __init__(
        self,
        feeds: list[Node],
        store: VariableStore,
        rebuild: Callable[[list[Any]], Any] | None,
        compile_for: Callable[[dict[int, int]], Executable],
    ) -> None:
        self.feeds, self._store, self._rebuild = list(feeds), store, rebuild
        self._compile_for = compile_for
        self._unknown = {id(n) for n in feeds if unknown_rank(n)}
        self._compiled: dict[tuple[int, ...], Executable] = {}
        self._last: Executable | None = None

    def _current(self) -> Executable:
        if self._last is None:
            raise GraphcError(
                "not compiled yet: a step fed placeholders of unknown rank is compiled for "
                "the ranks of the values of its first call; call it once first"
            )
        return self._last

    @property
    def step(self) -> Step:  # type: ignore[override]
        return self._current().step

    @property
    def target(self) -> str:  # type: ignore[override]
        return self._current().target

    @property
    def graph(self) -> Graph:  # type: ignore[override]
        return self._current().graph

    @property
    def report(self) -> Any:  # type: ignore[override]
        return self._current().report

    @property
    def source(self) -> str:  # type: ignore[override]
        return self._current().source

    def compile(self, *values: Any) -> Executable:
        """Compiles the specialization for the ranks of example `values` (one per feed;
        needed: the ranks are unknown until then); returns this executable."""
        if len(values) != len(self.feeds):
            raise GraphcError(
                f"compile() of a step fed placeholders of unknown rank needs an example "
                f"value for each of its {len(self.feeds)} feeds, to take their ranks"
            )
        arrays = [convert_feed(n, v) for n, v in zip(self.feeds, values, strict=True)]
        self._last = self._specialization(arrays)
        self._last.compile(*arrays)
        return self

    def export(self, path: Any, overwrite: bool = False) -> Any:
        """Exports the specialization compiled last (see `Executable.export`)."""
        return self._current().export(path, overwrite)

    def _specialization(self, arrays: list[Any]) -> Executable:
        fed = zip(self.feeds, arrays, strict=True)
        ranks = {id(n): np.ndim(a) for n, a in fed if id(n) in self._unknown}
        key = tuple(ranks[id(n)] for n in self.feeds if id(n) in ranks)
        exe = self._compiled.get(key)
        if exe is None:
            exe = self._compiled[key] = self._compile_for(ranks)
        return exe

    def run_flat(self, arrays: list[Any]) -> list[Any]:
        exe = self._last = self._specialization(arrays)
        return exe.run_flat([exe.argument(n, a) for n, a in zip(self.feeds, arrays, strict=True)])


class Backend(abc.ABC):
    """A target: turns a `Step` into an `Executable` that runs against a `VariableStore`.

    `default_passes` is what `Session(passes=None)` runs for this target (None: the
    default pipeline of `passes`). A backend that emits code per op checks at creation
    that it has an emitter for every registered op (`check_emitters`).
    """

    name: str
    default_passes: Any = None
    # True when compiled code needs every rank: a step fed values for placeholders of
    # unknown rank is then specialized on the fed ranks (graphc.specialize)
    needs_ranks: bool = False

    def check_available(self) -> None:  # noqa: B027 - optional: most targets always run
        """Raises, saying what is missing, when this target cannot run on this machine
        (a Session calls it when it is created)."""

    @abc.abstractmethod
    def compile(
        self,
        step: Step,
        store: VariableStore,
        options: Options,
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> Executable:
        """An executable for `step`; `rebuild` turns its flat results into the fetch structure."""


def unshared(values: list[Any]) -> list[Any]:
    """`values` with every array that may share memory with an earlier one copied: a run
    that fetches one tensor twice (or a tensor and a view of it) returns distinct arrays."""
    seen: list[np.ndarray] = []
    out = []
    for value in values:
        if isinstance(value, np.ndarray):
            if any(np.may_share_memory(value, other) for other in seen):
                value = value.copy()
            seen.append(value)
        out.append(value)
    return out


def check_emitters(backend: str, table: dict[str, Any], needed: list[str]) -> None:
    """Raises naming the ops in `needed` that `table` (a backend's emitters) lacks."""
    missing = [name for name in needed if name not in table]
    if missing:
        raise GraphcError(f"op {', '.join(missing)} has no {backend} emitter")


def lower(
    targets: list[tuple[Node, bool]],
    feeds: list[Node],
    passes: Any,
    ranks: dict[int, int] | None = None,
) -> Step:
    """The Step computing `targets` from `feeds`: the graph cut at the feeds, specialized on
    `ranks` (feed id -> the rank of its values, for feeds of unknown rank: see
    graphc.specialize), optimized by `passes` (None: the default pipeline), and scheduled.
    Nothing runs."""
    cut = specialized(Graph.from_outputs([n for n, _ in targets], feeds), ranks or {})
    feeds = list(cut.inputs)
    graph, report = _run_passes(cut, passes)
    outputs = graph.outputs
    mapped = tuple((outputs[k], is_op) for k, (_, is_op) in enumerate(targets))
    return Step(graph, report, tuple(feeds), mapped, plan(list(outputs), feeds))


def optimize(fetches: Any, feeds: Any = (), passes: Any = None) -> tuple[Graph, Any]:
    """The optimized graph of `fetches` (cut at `feeds`) and the pass report; runs nothing."""
    leaves, _ = flatten(fetches)
    nodes = [as_op_node(leaf) for leaf in leaves]
    return _run_passes(Graph.from_outputs(nodes, [as_op_node(f) for f in feeds]), passes)


def _run_passes(graph: Graph, passes: Any) -> tuple[Graph, Any]:
    """`graph` optimized by `passes` (None: the default pipeline), and the pass report."""
    # A lazy import on purpose: the `passes` package builds on graphc, and graphc never
    # imports it at module level (so `import graphc.ir` and `import graphc` stay without it).
    import passes as package

    return package.optimize(graph, passes)
