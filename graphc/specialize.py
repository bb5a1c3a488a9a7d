"""Specialization on fed ranks: a graph whose placeholders of unknown rank are given the
ranks of the values fed to them, with every type downstream inferred again.

Compiled targets need every tensor's rank (loops are written per axis), while TF1
scripts often leave placeholders unshaped (`keep_prob = tf.placeholder(tf.float32)`).
As `jax.jit` traces again per shape, a compiled target specializes a step on the ranks
of the values fed to such placeholders, and compiles again for other ranks.

Invariants: the result has the same outputs, in order, and its inputs stand for the
given ones in order; a placeholder gets the fed rank with every dim unknown (sizes are
read at run time, so any size of that rank reuses the program); a node whose inputs are
unchanged is the same node; every other node is rebuilt with `infer` on its new input
types. An op the fed rank makes invalid raises its own error, naming the op, where it
was created, and the fed placeholders' ranks.
"""

from __future__ import annotations

import dataclasses

from graphc.errors import GraphcError
from graphc.graph import Graph
from graphc.ir import Attrs, Node
from graphc.ops.dims import op_label
from graphc.types import TensorType


def unknown_rank(node: Node) -> bool:
    """True for a tensor whose rank is unknown statically."""
    return node.type is not None and node.type.shape is None


def specialized(graph: Graph, ranks: dict[int, int]) -> Graph:
    """`graph` with each input placeholder whose id is in `ranks` given that rank."""
    if not ranks:
        return graph
    images: dict[int, Node] = {}
    for x in graph.inputs:
        rank = ranks.get(id(x))
        images[id(x)] = x if rank is None else _placeholder_of_rank(x, rank)

    def image(x: Node) -> Node:
        return images.get(id(x), x)

    for node in graph.nodes:
        if id(node) in images:
            continue
        inputs = tuple(image(x) for x in node.inputs)
        control = tuple(image(c) for c in node.control_inputs)
        if all(a is b for a, b in zip(inputs, node.inputs, strict=True)) and all(
            a is b for a, b in zip(control, node.control_inputs, strict=True)
        ):
            images[id(node)] = node
            continue
        images[id(node)] = dataclasses.replace(
            node,
            inputs=inputs,
            control_inputs=control,
            type=_inferred(node, inputs, graph, ranks),
        )
    return Graph.from_outputs([image(o) for o in graph.outputs], [image(x) for x in graph.inputs])


def _placeholder_of_rank(node: Node, rank: int) -> Node:
    shape = (None,) * rank
    attrs = Attrs({**node.attrs, "shape": shape}) if "shape" in node.attrs else node.attrs
    return dataclasses.replace(node, attrs=attrs, type=TensorType(shape, node.type.dtype))


def _inferred(
    node: Node, inputs: tuple[Node, ...], graph: Graph, ranks: dict[int, int]
) -> TensorType | None:
    if node.type is None:  # an op without output (a group, a no-op)
        return None
    try:
        return node.opdef.infer(*(x.type for x in inputs), **node.attrs)
    except GraphcError as exc:
        fed = ", ".join(
            f"'{x.name}' a rank-{ranks[id(x)]} value" for x in graph.inputs if id(x) in ranks
        )
        where = f" (created at {node.site})" if node.site else ""
        raise type(exc)(f"{op_label(node)}: {exc}{where}, with {fed} fed") from None
