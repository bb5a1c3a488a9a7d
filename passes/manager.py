"""The pass manager: runs a `Pipeline` (cleanup to a fixed point, then final passes) and
records a report.

Invariants: a pass is a pure `Graph -> Graph`; returning the same object means
no change. A pass that also says what it changed is a `GraphPass`: calling it is
still `Graph -> Graph`, and `.apply(graph)` returns `(graph, changes)`, one line
per change (none when the graph comes back unchanged). The manager records those
lines per pass; a plain function's record has node counts and no change lines.
Nothing is kept between runs: each run's report is a value passed down the calls.
Every pass result is checked with `verify()`; a pass that raises or returns an
invalid graph is reported as a PassError naming the pass and the passes that ran
before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphc.errors import PassError
from graphc.graph import Graph

Pass = Callable[[Graph], Graph]
Changes = list[str]  # one line per change, e.g. "folded x (Mul) into a constant"


@dataclass(frozen=True)
class GraphPass:
    """A named pass that reports its changes: `impl(graph)` returns `(graph, changes)`.

    Calling it is the plain pass `Graph -> Graph` (it goes wherever a function does, and
    the same object back still means no change); the manager calls `.apply` to keep the
    changes for the report.
    """

    name: str
    impl: Callable[[Graph], tuple[Graph, Changes]]

    def __call__(self, graph: Graph) -> Graph:
        """The rewritten graph (the same object when nothing changed)."""
        return self.impl(graph)[0]

    def apply(self, graph: Graph) -> tuple[Graph, Changes]:
        """The rewritten graph and its changes, one line each."""
        return self.impl(graph)


def graph_pass(impl: Callable[[Graph], tuple[Graph, Changes]]) -> GraphPass:
    """Decorator: the GraphPass named after `impl` (a `Graph -> (Graph, changes)` function)."""
    return GraphPass(impl.__name__, impl)


def apply_pass(fn: Pass, graph: Graph) -> tuple[Graph, Changes]:
    """`fn`'s result and its changes: a GraphPass reports them, a plain function none."""
    if isinstance(fn, GraphPass):
        return fn.apply(graph)
    return fn(graph), []


def pass_name(fn: Pass) -> str:
    """The name a pass given without one gets in reports."""
    return fn.name if isinstance(fn, GraphPass) else getattr(fn, "__name__", repr(fn))


@dataclass
class PassRecord:
    """One run of one pass: node counts before and after, its changes and its time."""

    name: str
    nodes_before: int
    nodes_after: int
    changes: list[str]
    seconds: float
    round: int = 0


@dataclass
class Report:
    """What the optimizer did, pass by pass."""

    records: list[PassRecord] = field(default_factory=list)

    def __str__(self) -> str:
        lines = ["pass                  round  nodes before -> after  changes  time"]
        for r in self.records:
            lines.append(
                f"{r.name:<21} {r.round:>5}  {r.nodes_before:>12} -> {r.nodes_after:<5}"
                f"  {len(r.changes):>7}  {r.seconds * 1e3:6.1f} ms"
            )
        return "\n".join(lines)

    def changes(self, name: str | None = None) -> list[str]:
        """Every change, or those of the pass `name`."""
        return [c for r in self.records if name in (None, r.name) for c in r.changes]

    def details(self) -> str:
        """The table followed by every change, grouped by pass."""
        out = [str(self)]
        for r in self.records:
            out += [f"[{r.name}, round {r.round}] {c}" for c in r.changes]
        return "\n".join(out)


def named(passes: Sequence[Any]) -> list[tuple[str, Pass]]:
    """(name, pass) pairs from passes given as functions or as (name, function)."""
    return [p if isinstance(p, tuple) else (pass_name(p), p) for p in passes]


def run_pass(
    name: str, fn: Pass, graph: Graph, report: Report, ran: list[str], round_: int = 0
) -> Graph:
    """Runs one pass, verifies its result, and appends its record to `report`."""
    started = time.perf_counter()
    try:
        out, changes = apply_pass(fn, graph)
        _check(out, changes, graph)
    except Exception as exc:
        before = ", ".join(ran) or "none"
        raise PassError(f"pass '{name}' failed: {exc} (passes before it: {before})") from exc
    ran.append(name)
    seconds = time.perf_counter() - started
    record = PassRecord(name, len(graph.nodes), len(out.nodes), list(changes), seconds, round_)
    report.records.append(record)
    return out


def _check(out: Any, changes: Any, graph: Graph) -> None:
    """Raises unless `out` is a valid graph with `graph`'s number of outputs and `changes`
    is a sequence of lines."""
    if not isinstance(out, Graph):
        raise TypeError(f"returned {type(out).__name__}, not a Graph")
    if len(out.outputs) != len(graph.outputs):
        raise ValueError(f"returned {len(out.outputs)} outputs, expected {len(graph.outputs)}")
    if isinstance(changes, str) or not all(isinstance(c, str) for c in changes):
        raise TypeError("reported changes that are not a list of strings")
    out.verify()


def run_to_fixed_point(
    graph: Graph, passes: Sequence[Any], report: Report | None = None, max_rounds: int = 8
) -> Graph:
    """Repeats the passes until a whole round changes nothing (at most `max_rounds`)."""
    report = report if report is not None else Report()
    ran: list[str] = []
    for round_ in range(max_rounds):
        start = graph
        for name, fn in named(passes):
            graph = run_pass(name, fn, graph, report, ran, round_)
        if graph is start:
            break
    return graph


@dataclass(frozen=True)
class Pipeline:
    """What `optimize` runs: `cleanup` passes repeated until a round changes nothing (at
    most `max_rounds`), then `final` passes once, in order. A value to read, print and edit
    (`dataclasses.replace(p, final=p.final + (("mine", my_pass),))`)."""

    cleanup: tuple[tuple[str, Pass], ...] = ()
    final: tuple[tuple[str, Pass], ...] = ()
    max_rounds: int = 8

    @classmethod
    def of(cls, passes: Pipeline | Sequence[Any]) -> Pipeline:
        """A pipeline as given, or a list of passes (functions or (name, function)) run once."""
        return passes if isinstance(passes, Pipeline) else cls(final=tuple(named(passes)))

    def __str__(self) -> str:
        cleanup = ", ".join(n for n, _ in self.cleanup) or "nothing"
        final = ", ".join(n for n, _ in self.final) or "nothing"
        return f"Pipeline({cleanup} to a fixed point (<= {self.max_rounds} rounds), then {final})"

    def run(self, graph: Graph, report: Report) -> Graph:
        if self.cleanup:
            graph = run_to_fixed_point(graph, self.cleanup, report, self.max_rounds)
        ran = [n for n, _ in self.cleanup]
        for name, fn in self.final:
            graph = run_pass(name, fn, graph, report, ran)
        return graph
