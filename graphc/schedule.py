"""Scheduling: the nodes one run executes, in order, and the variables it reads at its start.

Both backends run from a `Plan`: the reference interprets `order`; the CPU code
generator emits code for `blocks`, the same nodes with the branches of `tf.cond`
nested in them. `plan()` is where a run's static checks that do not depend on
values live: a placeholder the run needs but nobody fed raises here, before
anything runs.

Branches: a `merge` node (graphc.ops.control) takes its second input when its
predicate is true and its third otherwise, and needs only that one. A node runs
under a *guard*, the (predicate, side) pairs of the branches it lies in, from the
outermost in: the longest guard every use of it shares (a merge's second and third
inputs are used under its own guard plus its predicate's side; every other use
under the user's guard; what the run fetches or runs, under none). So a node runs
conditionally exactly when everything that needs it does, only the taken branch of
a merge is computed, and a node both branches need runs before the branch.

Invariants: `order` is topological, holds only what the targets need, and stops
at fed nodes (a fed node is in `order`, its inputs are not, unless something
else needs them); `blocks` holds the same nodes in the same relative order, a
`Branch` standing where its merges are, its nodes (those whose guard extends the
block's by its predicate's side) inside it and nowhere else; every node a branch
reads from outside comes before it. `snapshot_reads` are the variables read by
value (not through a `read_variable` ordered by control dependencies), each once,
in order of use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from graphc.errors import InvalidArgumentError
from graphc.ir import Node, topological_order

# The branches a node lies in: (id of the predicate, the side taken), outermost first.
Guard = tuple[tuple[int, bool], ...]


@dataclass(frozen=True)
class Branch:
    """An `if` on a boolean scalar: `then` runs when `pred` is true, `orelse` when it is
    false, and each merge takes the value of its second input in `then`, of its third
    in `orelse`. Items are nodes or nested branches, in the order they run."""

    pred: Node
    then: tuple[Node | Branch, ...]
    orelse: tuple[Node | Branch, ...]
    merges: tuple[Node, ...]

    def nodes(self) -> Iterator[Node]:
        """Every node inside, in order (then, orelse, the merges last)."""
        yield from flat(self.then)
        yield from flat(self.orelse)
        yield from self.merges


Item = Node | Branch


def flat(items: Iterable[Item]) -> Iterator[Node]:
    """The nodes of `items` in the order they appear (a branch's as `Branch.nodes`)."""
    for item in items:
        if isinstance(item, Branch):
            yield from item.nodes()
        else:
            yield item


@dataclass(frozen=True)
class Plan:
    """The nodes one run executes, in order, with the variables it reads at the start."""

    order: tuple[Node, ...]
    fed: frozenset[int]
    snapshot_reads: tuple[Node, ...]
    blocks: tuple[Item, ...] = ()
    guards: dict[int, Guard] = field(default_factory=dict)  # only non-empty guards

    @property
    def initializes_only(self) -> bool:
        """True for a run that reads no variable: it only sets them (from constants or
        random draws), as global_variables_initializer does."""
        return not self.snapshot_reads and all(n.opdef.name != "read_variable" for n in self.order)

    def runs(self, node: Node, values: dict[int, object]) -> bool:
        """Whether `node` runs, given the values of the predicates of its guard."""
        return all(bool(values[p]) is side for p, side in self.guards.get(id(node), ()))


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
    if not any(n.opdef.name == "merge" for n in order):
        return Plan(tuple(order), fed_ids, tuple(reads.values()), tuple(order))
    guards = _guards(order, fed_ids, targets)
    blocks = tuple(_blocks(order, (), guards))
    nonempty = {k: g for k, g in guards.items() if g}
    return Plan(tuple(flat(blocks)), fed_ids, tuple(reads.values()), blocks, nonempty)


def _guards(order: list[Node], fed: frozenset[int], targets: list[Node]) -> dict[int, Guard]:
    """The guard of every node in `order` (see the module docstring), from the last node
    back: a node's uses are all known when it is reached. Targets run unconditionally."""
    uses: dict[int, Guard] = {id(t): () for t in targets}
    guards: dict[int, Guard] = {}
    for node in reversed(order):
        guard = guards[id(node)] = () if id(node) in fed else uses.get(id(node), ())
        if id(node) in fed:
            continue
        merge = node.opdef.name == "merge"
        for k, x in enumerate((*node.inputs, *node.control_inputs)):
            use = (*guard, (id(node.inputs[0]), k == 1)) if merge and k in (1, 2) else guard
            uses[id(x)] = _common(uses[id(x)], use) if id(x) in uses else use
    return guards


def _common(a: Guard, b: Guard) -> Guard:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _blocks(nodes: list[Node], level: Guard, guards: dict[int, Guard]) -> list[Item]:
    """`nodes` (all with guards extending `level`, in order) as items of the block at
    `level`: its own nodes, and a Branch where each of its merges is, holding the nodes
    of the merge's branches that no earlier merge of the block needs."""
    depth = len(level)
    owner: dict[int, Node] = {}  # deeper node -> the merge whose Branch holds it
    for m in nodes:
        if guards[id(m)] != level or m.opdef.name != "merge":
            continue
        for k, side in ((1, True), (2, False)):
            inner = (*level, (id(m.inputs[0]), side))
            stack = [m.inputs[k]]
            while stack:
                x = stack.pop()
                if id(x) not in owner and guards.get(id(x), ())[: depth + 1] == inner:
                    owner[id(x)] = m
                    stack.extend((*x.inputs, *x.control_inputs))
    inside: dict[int, list[Node]] = {}
    for n in nodes:
        if id(n) in owner:
            inside.setdefault(id(owner[id(n)]), []).append(n)
    items: list[Item] = []
    for n in nodes:
        if guards[id(n)] != level:
            continue
        if n.opdef.name != "merge":
            items.append(n)
            continue
        pred, members = n.inputs[0], inside.get(id(n), [])
        sides = [
            tuple(
                _blocks(
                    [x for x in members if guards[id(x)][depth][1] is s],
                    (*level, (id(pred), s)),
                    guards,
                )
            )
            for s in (True, False)
        ]
        branch = Branch(pred, sides[0], sides[1], (n,))
        prev = items[-1] if items else None
        if isinstance(prev, Branch) and prev.pred is pred and not _reads(branch, prev.merges):
            branch = Branch(
                pred, prev.then + branch.then, prev.orelse + branch.orelse, (*prev.merges, n)
            )
            items.pop()
        items.append(branch)
    return items


def _reads(branch: Branch, merges: tuple[Node, ...]) -> bool:
    """Whether a node inside `branch` reads one of `merges` (they cannot share an `if`)."""
    ids = {id(m) for m in merges}
    return any(id(x) in ids for n in branch.nodes() for x in (*n.inputs, *n.control_inputs))
