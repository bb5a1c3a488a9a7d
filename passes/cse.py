"""`eliminate_common_subexpressions`: merge structurally equal pure nodes.

Two nodes are equal when they have the same op, the same (already merged)
inputs, attrs, control inputs and type; inputs of commutative ops are
compared as a set. The first node in topological order is kept. Stateful ops
(variable reads, random draws, assignments) are never merged.
`eliminate_common_subexpressions` is a GraphPass (`.apply` also returns the changes).
"""

from __future__ import annotations

from typing import Any

from graphc.graph import Graph
from graphc.ir import Node
from passes.manager import Changes, graph_pass
from passes.rewrite import Rewrite, rewrite_with_changes


def _key(node: Node) -> tuple[Any, ...]:
    ids = [id(x) for x in node.inputs]
    inputs = tuple(sorted(ids)) if node.opdef.commutative else tuple(ids)
    control = tuple(id(c) for c in node.control_inputs)
    return (node.opdef.name, inputs, node.attrs, control, node.type)


@graph_pass
def eliminate_common_subexpressions(graph: Graph) -> tuple[Graph, Changes]:
    """Keeps one node of each set of equal pure nodes; one change line per merged node."""
    table: dict[tuple[Any, ...], Node] = {}

    def merge(node: Node) -> Rewrite | None:
        # f(a, b) computed twice -> computed once
        op = node.opdef
        if op.stateful or (op.is_source and op.name != "const") or node.type is None:
            return None
        first = table.setdefault(_key(node), node)
        if first is node:
            return None
        return first, f"merged {node.op_name} with {first.op_name}"

    return rewrite_with_changes(graph, merge)
