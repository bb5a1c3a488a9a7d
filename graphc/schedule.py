"""Scheduling: the nodes one run executes, in order, and the variables it reads at its start.

Both backends run from a `Plan`: the reference interprets `order`; the CPU code
generator emits code for it. `plan()` is where a run's static checks that do not
depend on values live: a placeholder the run needs but nobody fed raises here,
before anything runs.

Invariants: `order` is topological, holds only what the targets need, and stops
at fed nodes (a fed node is in `order`, its inputs are not, unless something
else needs them); `snapshot_reads` are the variables read by value (not through
a `read_variable` ordered by control dependencies), each once, in order of use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graphc.errors import InvalidArgumentError
from graphc.ir import Node, topological_order


@dataclass(frozen=True)
class Plan:
    """The nodes one run executes, in order, with the variables it reads at the start."""

    order: tuple[Node, ...]
    fed: frozenset[int]
    snapshot_reads: tuple[Node, ...]

    @property
    def initializes_only(self) -> bool:
        """True for a run that reads no variable: it only sets them (from constants or
        random draws), as global_variables_initializer does."""
        return not self.snapshot_reads and all(n.opdef.name != "read_variable" for n in self.order)


def plan(targets: Iterable[Node], fed: Iterable[Node]) -> Plan:
    """Orders what `targets` need, cut at `fed`; raises for a placeholder left unfed."""
    targets, fed = list(targets), list(fed)
    fed_ids = frozenset(id(n) for n in fed)
    order = topological_order(targets, stop=fed)
    reads: dict[int, Node] = {}
    for node in order:
        if id(node) in fed_ids:
            continue
        if node.opdef.name == "placeholder":
            raise InvalidArgumentError(
                f"placeholder '{node.name}' must be fed a value (created at {node.site})"
            )
        data = node.inputs[1:] if node.opdef.takes_ref else node.inputs
        for x in data:
            if x.opdef.name == "variable" and id(x) not in fed_ids:
                reads.setdefault(id(x), x)
    for t in targets:
        if t.opdef.name == "variable" and id(t) not in fed_ids:
            reads.setdefault(id(t), t)
    return Plan(tuple(order), fed_ids, tuple(reads.values()))
