"""`fuse_elementwise`: group connected elementwise ops into kernels computed in one loop.

A group holds elementwise (and broadcast) nodes of one output shape, plus
optionally reductions of values of that shape ("sinks", e.g. the sum in
`reduce_sum(x * y)`), computed in the same loop. Legality:
- convex: no path leaves the group and re-enters it (checked with ancestor
  bit sets while groups grow);
- acyclic together: two convex groups may still reach each other through
  outside nodes, so the graph with every group contracted is checked with
  networkx, and a group on a cycle is given up;
- nothing in the group reads a sink's result (a reduction is complete only
  after the loop);
- no member has control inputs, and stateful ops never join.
Every member another node (or a graph output) needs stays an output of the
kernel, so intermediates used elsewhere are still produced. `fuse_elementwise`
is a GraphPass: called, it returns the graph; `.apply` also the change lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from graphc.graph import Graph
from graphc.ir import Attrs, Node
from graphc.ops import Fusion
from graphc.ops.fused import Kernel, fused, fused_output, kernel_param
from passes.manager import Changes, graph_pass
from passes.rewrite import Image, Names, on_images, provenance, rebuild


@dataclass
class Group:
    shape: tuple
    members: list[Node] = field(default_factory=list)
    mask: int = 0
    sinks: set[int] = field(default_factory=set)


def _elementwise(node: Node) -> bool:
    ok = node.opdef.fusion in (Fusion.ELEMENTWISE, Fusion.BROADCAST)
    return ok and not node.opdef.stateful and not node.control_inputs and bool(node.type.shape)


def _sink(node: Node) -> bool:
    return node.opdef.fusion is Fusion.REDUCTION and not node.control_inputs


def _groups(graph: Graph) -> list[Group]:
    """Greedy grouping in topological order, keeping every group convex."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    ancestors: list[int] = []
    group_of: dict[int, Group] = {}
    groups: list[Group] = []
    for i, node in enumerate(graph.nodes):
        preds = graph.dependencies(node)
        ancestors.append(_union(ancestors[index[id(p)]] | 1 << index[id(p)] for p in preds))
        if not preds and node.inputs:
            continue  # a fed tensor: its value comes from outside
        if _elementwise(node):
            shape, candidates = node.type.shape, node.inputs
        elif _sink(node) and node.inputs[0].type.shape:
            shape, candidates = node.inputs[0].type.shape, node.inputs[:1]
        else:
            continue
        legal = [
            g
            for g in _owners(candidates, group_of)
            if g.shape == shape and _can_join(node, g, index, ancestors)
        ]
        group = legal[0] if legal else None
        for other in legal[1:]:  # the node connects several groups: merge them when convex
            if _can_merge(group, other, node, index, ancestors):
                _merge(group, other, group_of, groups, index)
        if group is None:
            if not _elementwise(node):
                continue
            group = Group(shape)
            groups.append(group)
        group.members.append(node)
        group.mask |= 1 << i
        if not _elementwise(node):
            group.sinks.add(id(node))
        group_of[id(node)] = group
    return _without_cycles(graph, [g for g in groups if len(g.members) > 1])


def _without_cycles(graph: Graph, groups: list[Group]) -> list[Group]:
    """Dissolves groups until contracting them leaves the graph acyclic.

    Each group is convex, but two groups can still reach each other through
    outside nodes (a1 -> n -> b2 and b1 -> m -> a2): contracted, that is a cycle.
    The latest-formed group on a cycle is given up (its ops stay unfused).
    """
    while True:
        unit_of = {id(m): ("g", k) for k, g in enumerate(groups) for m in g.members}
        dag, _ = _unit_graph(graph, unit_of)
        try:
            cycle = nx.find_cycle(dag)
        except nx.NetworkXNoCycle:
            return groups
        doomed = max(k for edge in cycle for unit in edge[:2] if unit[0] == "g" for k in [unit[1]])
        groups = [g for k, g in enumerate(groups) if k != doomed]


def _union(masks) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def _owners(candidates: tuple[Node, ...], group_of: dict[int, Group]) -> list[Group]:
    seen: list[Group] = []
    for x in candidates:
        g = group_of.get(id(x))
        if g is not None and g not in seen:
            seen.append(g)
    return seen


def _can_join(node: Node, group: Group, index: dict[int, int], ancestors: list[int]) -> bool:
    for x in node.inputs:
        if id(x) in group.sinks:
            return False  # a reduction's result exists only after the loop
        inside = group.mask >> index[id(x)] & 1
        if not inside and ancestors[index[id(x)]] & group.mask:
            return False  # x depends on the group: joining would make a cycle
    return True


def _can_merge(
    group: Group, other: Group, node: Node, index: dict[int, int], ancestors: list[int]
) -> bool:
    """True when group, other and node together stay convex and read no sink of theirs."""
    mask = group.mask | other.mask | 1 << index[id(node)]
    sinks = group.sinks | other.sinks
    for m in (*group.members, *other.members, node):
        for x in m.inputs:
            if id(x) in sinks:
                return False
            if not mask >> index[id(x)] & 1 and ancestors[index[id(x)]] & mask:
                return False
    return True


def _merge(
    group: Group,
    other: Group,
    group_of: dict[int, Group],
    groups: list[Group],
    index: dict[int, int],
) -> None:
    group.members = sorted([*group.members, *other.members], key=lambda m: index[id(m)])
    group.mask |= other.mask
    group.sinks |= other.sinks
    for m in other.members:
        group_of[id(m)] = group
    groups.remove(other)


def _users(graph: Graph) -> dict[int, list[Node]]:
    users: dict[int, list[Node]] = {}
    for n in graph.nodes:
        for x in (*n.inputs, *n.control_inputs):
            users.setdefault(id(x), []).append(n)
    return users


def _build(
    group: Group, inputs: list[Node], graph: Graph, users: dict[int, list[Node]], names: Names
) -> tuple[dict[int, Node], Changes]:
    """The fused node for `group` on (rewritten) `inputs`, named from `names`: the new nodes
    of the members that stay kernel outputs (by member id), and the change lines."""
    members = {id(m) for m in group.members}
    outputs_needed = {id(o) for o in graph.outputs}
    outs = [
        m
        for m in group.members
        if id(m) in outputs_needed or any(id(u) not in members for u in users.get(id(m), []))
    ]
    ops = tuple(o for m in group.members for o in provenance(m))
    name = names.fresh("fused")
    epilogue = _epilogue(_external_inputs(group), outs, members, users, outputs_needed)
    kernel = Kernel(name, _kernel_body(group, outs), ops, group.shape, epilogue)
    changes = [] if epilogue is None else [_epilogue_change(kernel, group, outs)]
    changes.append(f"fused {len(group.members)} ops into kernel {name}: {', '.join(ops)}")
    first = group.members[0]
    node = Node(
        fused, tuple(inputs), Attrs(kernel=kernel), None, name, first.graph, (), first.site, ops
    )
    return {
        id(o): Node(
            fused_output,
            (node,),
            Attrs(index=k, out=o.type),
            o.type,
            o.op_name,
            o.graph,
            (),
            o.site,
            provenance(o),
        )
        for k, o in enumerate(outs)
    }, changes


def _epilogue_change(kernel: Kernel, group: Group, outs: list[Node]) -> str:
    """The change line of a kernel that writes one output into its matmul input's array."""
    matmul = _external_inputs(group)[kernel.epilogue[0]].op_name
    written = outs[kernel.epilogue[1]].op_name
    return (
        f"kernel {kernel.name} is the epilogue of {matmul}: it writes {written} "
        f"into {matmul}'s result"
    )


def _kernel_body(group: Group, outs: list[Node]) -> Graph:
    """The members computing `outs`, rebuilt on one kernel parameter per external input."""
    external = _external_inputs(group)
    params = [
        Node(kernel_param, (), Attrs(index=k, type_=x.type), x.type, f"p{k}", x.graph, (), x.site)
        for k, x in enumerate(external)
    ]
    # convex, and members have no control inputs: exactly the members, cut at `external`
    return rebuild(Graph.from_outputs(outs, external), on_images, inputs=params)


def _epilogue(
    inputs: list[Node],
    outs: list[Node],
    members: set[int],
    users: dict[int, list[Node]],
    outputs_needed: set[int],
) -> tuple[int, int] | None:
    """(input, output) positions when a product's result (a fresh array: matmul, einsum,
    conv2d, see OpDef.product), read by this kernel alone, can hold one of the kernel's
    outputs (same type): the bias + activation epilogue of a dense layer or a convolution."""
    for k, x in enumerate(inputs):
        only_here = all(id(u) in members for u in users.get(id(x), []))
        if x.opdef.product and only_here and id(x) not in outputs_needed:
            for j, o in enumerate(outs):
                if o.type == x.type and o.opdef.fusion is not Fusion.REDUCTION:
                    return k, j
    return None


@graph_pass
def fuse_elementwise(graph: Graph) -> tuple[Graph, Changes]:
    """Replaces each fusable group by one fused node and its outputs; for each kernel, the
    change line "fused N ops into kernel ..." (after an epilogue line when it has one)."""
    groups = _groups(graph)
    if not groups:
        return graph, []
    users = _users(graph)
    group_of = {id(m): g for g in groups for m in g.members}
    built: dict[int, dict[int, Node]] = {}  # id(group) -> its members' new nodes
    names = Names.of(graph)
    changes: Changes = []

    def collapse(node: Node, image: Image) -> Node:
        # A group's first member builds the kernel (the order puts its inputs before it).
        # Members nobody outside the group reads stand for themselves: no one asks for them.
        group = group_of.get(id(node))
        if group is None:
            return on_images(node, image)
        if id(group) not in built:
            inputs = [image(x) for x in _external_inputs(group)]
            built[id(group)], lines = _build(group, inputs, graph, users, names)
            changes.extend(lines)
        return built[id(group)].get(id(node), node)

    return rebuild(graph, collapse, order=_node_order(graph, groups)), changes


def _node_order(graph: Graph, groups: list[Group]) -> list[Node]:
    """A topological order of `graph.nodes` in which each group's members are adjacent."""
    unit_of = {id(m): ("g", k) for k, g in enumerate(groups) for m in g.members}
    return [
        node
        for unit in _unit_order(graph, unit_of)
        for node in (groups[unit[1]].members if unit[0] == "g" else [graph.nodes[unit[1]]])
    ]


def _unit_order(graph: Graph, unit_of: dict[int, tuple]) -> list[tuple]:
    """Groups contracted to single units, in a deterministic topological order (networkx)."""
    dag, first = _unit_graph(graph, unit_of)
    return list(nx.lexicographical_topological_sort(dag, key=first.__getitem__))


def _unit_graph(graph: Graph, unit_of: dict[int, tuple]) -> tuple[nx.DiGraph, dict[tuple, int]]:
    """The graph with each group contracted to one unit, and each unit's first node index."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    dag = nx.DiGraph()
    first: dict[tuple, int] = {}
    for i, node in enumerate(graph.nodes):
        unit = unit_of.get(id(node), ("n", i))
        first.setdefault(unit, i)
        dag.add_node(unit)
        for p in graph.dependencies(node):
            source = unit_of.get(id(p), ("n", index[id(p)]))
            if source != unit:
                dag.add_edge(source, unit)
    return dag, first


def _external_inputs(group: Group) -> list[Node]:
    members = {id(m) for m in group.members}
    inputs: list[Node] = []
    for m in group.members:
        for x in m.inputs:
            if id(x) not in members and all(x is not y for y in inputs):
                inputs.append(x)
    return inputs
