"""The rewrite driver and the one rebuild loop every pass uses.

`rebuild(graph, replace)` visits nodes in topological order and lets `replace` say
what stands for each one in the new graph; users of changed nodes are rebuilt, and
the same graph object comes back when nothing changed.

A rule is `Node -> Node | (Node, message) | None` (None: no match).
`rewrite_with_changes(graph, *rules)` rebuilds a node whose inputs changed and
re-applies the rules to it until none fires; it returns the graph and one change
line per firing: the rule's message, or "rule_name: old -> new" for a rule that
returns a bare node. `rewrite(graph, *rules)` is the same without the changes. A
node that comes back around (a rule cycle) raises `RewriteCycleError`.

Helpers here build nodes for passes: `with_inputs` keeps a node's identity
facts (name, attrs, site, provenance) on new inputs; `new_node` infers the
type and takes a fresh name from the `Names` of the pass run (unique in the graph).
Nothing here keeps state between calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from graphc.errors import GraphcError
from graphc.graph import Graph
from graphc.ir import Attrs, Node
from graphc.ops import OpDef

Rewrite = tuple[Node, str]  # a replacement node and the change line describing it
Rule = Callable[[Node], Node | Rewrite | None]
Image = Callable[[Node], Node]  # a node of the graph being rebuilt -> the node standing for it
Replace = Callable[[Node, Image], Node]
MAX_REWRITES_PER_NODE = 64


@dataclass
class Names:
    """Fresh op names for the nodes one run of a pass makes (an object the pass passes along).

    Invariant: every name handed out differs from the names in the graph being rewritten
    and from every name handed out before; the choice is deterministic (`label`,
    `label_1`, ...; no global counter).
    """

    taken: set[str]

    @classmethod
    def of(cls, graph: Graph) -> Names:
        """Names fresh in `graph`."""
        return cls({n.op_name for n in graph.nodes})

    def fresh(self, label: str) -> str:
        """`label`, or the first of `label_1`, `label_2`, ... not taken yet; now taken."""
        name, count = label, 1
        while name in self.taken:
            name = f"{label}_{count}"
            count += 1
        self.taken.add(name)
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
    names: Names,
    name: str | None = None,
    origin: Sequence[str] | None = None,
) -> Node:
    """A node made by a pass, in `like`'s graph, at `like`'s site, standing for `origin`, with a
    fresh name from `names` (`name`, or `like`'s name and the op's)."""
    attrs = Attrs(attrs or {})
    ty = op.infer(*(x.type for x in inputs), **attrs)
    op_name = names.fresh(name or f"{like.op_name}/{op.name}")
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


def rebuild(
    graph: Graph,
    replace: Replace,
    *,
    order: Iterable[Node] | None = None,
    inputs: Sequence[Node] | None = None,
) -> Graph:
    """`graph` with every node replaced by `replace(node, image)`: the one rebuild loop of passes.

    `image(x)` is the node standing for `x` in the new graph. Invariants: nodes are visited
    in `order` (a topological order of `graph.nodes`; default `graph.nodes`), so `image` is
    defined for every node visited before and for the graph inputs, which stand for `inputs`
    (default: themselves) and are never replaced. A local `replace` starts from
    `on_images(node, image)`, so users of a changed node are rebuilt. The same graph object
    comes back when every output and input stands for itself (then nothing changed).
    """
    new_inputs = graph.inputs if inputs is None else inputs
    images = {id(x): new for x, new in zip(graph.inputs, new_inputs, strict=True)}

    def image(x: Node) -> Node:
        return images[id(x)]

    for node in graph.nodes if order is None else order:
        if id(node) not in images:
            images[id(node)] = replace(node, image)
    outputs = [image(o) for o in graph.outputs]
    if _same(outputs, graph.outputs) and _same(new_inputs, graph.inputs):
        return graph
    return Graph.from_outputs(outputs, new_inputs)


def on_images(node: Node, image: Image) -> Node:
    """`node` rebuilt on the images of its inputs and control inputs (`node` if all are its own)."""
    control = [image(c) for c in node.control_inputs]
    return with_inputs(node, [image(x) for x in node.inputs], control)


def rewrite(graph: Graph, *rules: Rule) -> Graph:
    """Applies `rules` everywhere until none fires; the same graph object if nothing changed."""
    return rewrite_with_changes(graph, *rules)[0]


def rewrite_with_changes(graph: Graph, *rules: Rule) -> tuple[Graph, list[str]]:
    """`rewrite(graph, *rules)` and its changes, one line per rule firing, in firing order."""
    changes: list[str] = []

    def replace(node: Node, image: Image) -> Node:
        new, fired = _apply(on_images(node, image), rules)
        changes.extend(fired)
        return new

    return rebuild(graph, replace), changes


def _apply(node: Node, rules: Sequence[Rule]) -> tuple[Node, list[str]]:
    """`node` after rules fired on it until none does, and the change line of each firing."""
    seen = [node]  # kept alive, so identity comparisons stay meaningful
    fired: list[str] = []
    for _ in range(MAX_REWRITES_PER_NODE):
        rewritten = _first_firing(node, rules)
        if rewritten is None:
            return node, fired
        node, message = rewritten
        fired.append(message)
        if any(node is s for s in seen):
            raise RewriteCycleError(f"rewrite rules cycle on '{node.op_name}' ({node.opdef.name})")
        seen.append(node)
    raise RewriteCycleError(f"more than {MAX_REWRITES_PER_NODE} rewrites of '{node.op_name}'")


def _first_firing(node: Node, rules: Sequence[Rule]) -> Rewrite | None:
    """The first rule's replacement of `node` that is another node, with its change line."""
    for rule in rules:
        out = rule(node)
        if out is None:
            continue
        new, message = out if isinstance(out, tuple) else (out, _message(rule, node, out))
        if new is not node:
            return new, message
    return None


def _message(rule: Rule, old: Node, new: Node) -> str:
    """The change line of a rule that returned a bare node: "rule_name: old -> new"."""
    return f"{getattr(rule, '__name__', repr(rule))}: {old.op_name} -> {new.op_name}"
