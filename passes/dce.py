"""`eliminate_dead_code`: drop what no output needs.

A control edge to a node without side effects orders nothing, so it is
removed; then every node that no output reaches (through data or the
remaining control edges) disappears. Side effects are assignments and random
draws (they advance a generator), and anything that depends on one.
"""

from __future__ import annotations

from graphc.graph import Graph
from graphc.ir import Node
from passes.manager import note
from passes.rewrite import rewrite, with_inputs


def eliminate_dead_code(graph: Graph) -> Graph:
    """Removes control edges to side-effect-free nodes, then unreachable nodes."""
    effectful: dict[int, bool] = {}

    def has_effect(node: Node) -> bool:
        return effectful.get(id(node), False)

    def drop_pure_control(node: Node) -> Node | None:
        # ^pure -> (nothing): a control edge to a node without effects orders nothing
        effectful[id(node)] = node.opdef.effectful or any(
            has_effect(x) for x in (*node.inputs, *node.control_inputs)
        )
        kept = [c for c in node.control_inputs if has_effect(c)]
        if len(kept) == len(node.control_inputs):
            return None
        out = with_inputs(node, node.inputs, kept)
        effectful[id(out)] = effectful[id(node)]
        return out

    out = rewrite(graph, drop_pure_control)
    pruned = Graph.from_outputs(out.outputs, out.inputs)
    removed = len(graph.nodes) - len(pruned.nodes)
    if removed:
        note(f"removed {removed} dead nodes")
    return graph if removed == 0 and out is graph else pruned
