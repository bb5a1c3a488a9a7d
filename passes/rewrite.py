"""The rewrite driver: apply local rules to every node, rebuilding users of changed nodes.

A rule is `Node -> Node | None` (None: no match). `rewrite(graph, *rules)`
visits nodes in topological order, rebuilds a node whose inputs changed, and
re-applies the rules to a node until none fires. A node that comes back
around (a rule cycle) raises `RewriteCycleError`. Returning the same graph
object means nothing changed.

Helpers here build nodes for passes: `with_inputs` keeps a node's identity
facts (name, attrs, site, provenance) on new inputs; `new_node` infers the
type and takes a fresh name unique in the user's graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence

from graphc.errors import GraphcError
from graphc.graph import Graph
from graphc.ir import Attrs, Node
from graphc.ops import OpDef

Rule = Callable[[Node], Node | None]
MAX_REWRITES_PER_NODE = 64
_NAMES: list[set[str]] = []  # names taken in the graph being rewritten (innermost last)


@contextlib.contextmanager
def naming(graph: Graph) -> Iterator[None]:
    """New nodes get names unique in `graph`, chosen deterministically (no global counter)."""
    _NAMES.append({n.op_name for n in graph.nodes})
    try:
        yield
    finally:
        _NAMES.pop()


def fresh_name(label: str) -> str:
    taken = _NAMES[-1] if _NAMES else set()
    name, count = label, 1
    while name in taken:
        name = f"{label}_{count}"
        count += 1
    taken.add(name)
    return name


class RewriteCycleError(GraphcError):
    """Rules kept rewriting one node into forms it already had."""


def with_inputs(node: Node, inputs: Sequence[Node], control: Sequence[Node] | None = None) -> Node:
    """`node` rebuilt on new inputs (same op, attrs, name, provenance)."""
    control = node.control_inputs if control is None else tuple(control)
    if _same(inputs, node.inputs) and _same(control, node.control_inputs):
        return node
    return dataclasses.replace(node, inputs=tuple(inputs), control_inputs=control)


def _same(a: Sequence[Node], b: Sequence[Node]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def new_node(
    op: OpDef,
    inputs: Sequence[Node],
    attrs: dict | None = None,
    *,
    like: Node,
    name: str | None = None,
    origin: Sequence[str] | None = None,
) -> Node:
    """A node made by a pass, in `like`'s graph, at `like`'s site, standing for `origin`."""
    attrs = Attrs(attrs or {})
    ty = op.infer(*(x.type for x in inputs), **attrs)
    op_name = fresh_name(name or f"{like.op_name}/{op.name}")
    return Node(
        op,
        tuple(inputs),
        attrs,
        ty,
        op_name,
        like.graph,
        (),
        like.site,
        tuple(origin if origin is not None else provenance(like)),
    )


def provenance(node: Node) -> tuple[str, ...]:
    """The names of the user's ops `node` stands for (itself when it is one of them)."""
    return node.origin or (node.op_name,)


def rewrite(graph: Graph, *rules: Rule) -> Graph:
    """Applies `rules` everywhere until none fires; the same graph object if nothing changed."""
    memo: dict[int, Node] = {id(x): x for x in graph.inputs}
    changed = False
    with naming(graph):
        for node in graph.nodes:
            if id(node) in memo:
                continue
            inputs = [memo[id(x)] for x in node.inputs]
            new = _apply(
                with_inputs(node, inputs, [memo[id(c)] for c in node.control_inputs]), rules
            )
            changed = changed or new is not node
            memo[id(node)] = new
    if not changed:
        return graph
    return Graph.from_outputs([memo[id(o)] for o in graph.outputs], graph.inputs)


def _apply(node: Node, rules: Sequence[Rule]) -> Node:
    seen = [node]  # kept alive, so identity comparisons stay meaningful
    for _ in range(MAX_REWRITES_PER_NODE):
        for rule in rules:
            out = rule(node)
            if out is not None and out is not node:
                node = out
                break
        else:
            return node
        if any(node is s for s in seen):
            raise RewriteCycleError(f"rewrite rules cycle on '{node.op_name}' ({node.opdef.name})")
        seen.append(node)
    raise RewriteCycleError(f"more than {MAX_REWRITES_PER_NODE} rewrites of '{node.op_name}'")
