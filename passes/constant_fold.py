"""`fold_constants`: evaluate pure subgraphs of constants once, at compile time.

Never folds stateful ops (variables, random draws, assignments), nodes with
control inputs, or results above `FOLD_LIMIT` elements (a broadcast of a
scalar to a large shape stays a cheap op instead of a large constant). Ops
that only read their input's shape (`shape`, `size`, `reduced_size`,
`zeros_like`, `ones_like`) fold when that shape is fully known: the seed
`ones_like(loss)` of a gradient then no longer waits for the loss.

`fold_constants` is a GraphPass: called, it returns the graph; `.apply` also the changes.
"""

from __future__ import annotations

import numpy as np

from graphc.graph import Graph
from graphc.ir import Attrs, ConstValue, Node
from graphc.ops.state import const
from passes.manager import Changes, graph_pass
from passes.rewrite import Rewrite, provenance, rewrite_with_changes

FOLD_LIMIT = 1 << 16


def _folded(node: Node, value: np.ndarray) -> Rewrite:
    """A Const node with `node`'s name and type, standing for everything it replaced, and the
    change line "folded name (Type) into a constant"."""
    message = f"folded {node.op_name} ({node.opdef.type_name}) into a constant"
    return _as_constant(node, value), message


def _as_constant(node: Node, value: np.ndarray) -> Node:
    """A Const node with `node`'s name and type, standing for everything it replaced."""
    array = np.asarray(value, node.dtype.np).reshape(node.type.shape)
    origins = sorted({o for x in (node, *node.inputs) for o in provenance(x)})
    return Node(
        const,
        (),
        Attrs(value=ConstValue(array)),
        node.type,
        node.op_name,
        node.graph,
        (),
        node.site,
        tuple(origins),
    )


def _foldable(node: Node) -> bool:
    op = node.opdef
    return (
        node.type is not None
        and not op.stateful
        and not op.effectful
        and not op.is_source
        and not op.takes_tuple
        and not node.control_inputs
        and node.type.fully_known
        and int(np.prod(node.type.shape)) <= FOLD_LIMIT
    )


def fold_constant_node(node: Node) -> Rewrite | None:
    # f(c1, ..., cn) -> c   when every input is a constant and f is pure
    if not _foldable(node) or not all(x.opdef is const for x in node.inputs):
        return None
    arrays = [x.attrs["value"].array for x in node.inputs]
    with np.errstate(all="ignore"):
        return _folded(node, node.opdef.numpy(*arrays, **node.attrs))


def fold_shape_query(node: Node) -> Rewrite | None:
    # shape(x), size(x), reduced_size(x), zeros_like(x), ones_like(x) -> c
    #   when x's static shape is fully known (the value of x is not needed)
    if not node.opdef.shape_only or not _foldable(node):
        return None
    x = node.inputs[0]
    if not x.type.fully_known:
        return None
    return _folded(node, node.opdef.numpy(np.empty(x.type.shape, x.dtype.np), **node.attrs))


@graph_pass
def fold_constants(graph: Graph) -> tuple[Graph, Changes]:
    """Replaces pure subgraphs of constants (and static shape queries) by constants; one
    change line per folded node."""
    return rewrite_with_changes(graph, fold_constant_node, fold_shape_query)
