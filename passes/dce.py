"""`eliminate_dead_code`: drop what no output needs.

A control edge to a node without side effects orders nothing, so it is
removed; then every node that no output reaches (through data or the
remaining control edges) disappears. Side effects are assignments and random
draws (they advance a generator), and anything that depends on one.
`eliminate_dead_code` is a GraphPass (`.apply` also returns the changes).
"""

from __future__ import annotations

from graphc.graph import Graph
from graphc.ir import Node
from passes.manager import Changes, graph_pass
from passes.rewrite import Rewrite, rewrite_with_changes, with_inputs


@graph_pass
def eliminate_dead_code(graph: Graph) -> tuple[Graph, Changes]:
    """Removes control edges to side-effect-free nodes (one change line per node losing some),
    then unreachable nodes (one line counting them)."""
    effectful: dict[int, bool] = {}

    def has_effect(node: Node) -> bool:
        return effectful.get(id(node), False)

    def drop_pure_control(node: Node) -> Rewrite | None:
        # ^pure -> (nothing): a control edge to a node without effects orders nothing
        effectful[id(node)] = node.opdef.effectful or any(
            has_effect(x) for x in (*node.inputs, *node.control_inputs)
        )
        kept = [c for c in node.control_inputs if has_effect(c)]
        if len(kept) == len(node.control_inputs):
            return None
        out = with_inputs(node, node.inputs, kept)
        effectful[id(out)] = effectful[id(node)]
        dropped = ", ".join(c.op_name for c in node.control_inputs if not has_effect(c))
        return out, f"{node.op_name} no longer waits for {dropped} (no side effects)"

    out, changes = rewrite_with_changes(graph, drop_pure_control)
    pruned = Graph.from_outputs(out.outputs, out.inputs)
    removed = len(graph.nodes) - len(pruned.nodes)
    if removed:
        changes.append(f"removed {removed} dead nodes")
    return (graph if removed == 0 and out is graph else pruned), changes
