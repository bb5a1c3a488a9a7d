"""`simplify`: algebraic identities and numerically stabilizing rewrites.

Each rule states its algebra. Identities fire only when the result has
exactly the replaced node's type (nothing was broadcast), and `x * 0 -> 0`
only for integers (for floats, inf * 0 and nan * 0 are nan). `x + 0 -> x`
ignores the sign of zero (-0.0 + 0.0 is +0.0), as fast-math compilers do.

A rule here takes the node and the run's `Names` (fresh names for the nodes it makes)
and returns None or `(replacement, change line)`; `simplify` binds one `Names` per run,
so the driver sees plain rules. `simplify` is a GraphPass: called, it returns the graph;
`.apply` also returns the change lines.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from graphc.graph import Graph
from graphc.ir import Node
from graphc.ops import REGISTRY, Fusion
from graphc.ops.state import const
from passes.manager import Changes, graph_pass
from passes.rewrite import Names, Rewrite, new_node, rewrite_with_changes


def _op(node: Node, *op_names: str) -> bool:
    return node.opdef.name in op_names


def is_constant(node: Node, value: float) -> bool:
    """True for a Const node whose every element equals `value`."""
    return node.opdef is const and bool(np.all(node.attrs["value"].array == value))


def _replaced(node: Node, by: Node, rule: str) -> Rewrite:
    """`node` replaced by the existing node `by`, with the change line "rule: node -> by"."""
    return by, f"{rule}: {node.op_name} -> {by.op_name}"


def _operand_other_than(node: Node, pred) -> Node | None:
    """For a binary node with one operand satisfying `pred`, the other operand."""
    a, b = node.inputs
    if pred(b):
        return a
    if pred(a):
        return b
    return None


def _is_ones(x: Node) -> bool:
    return is_constant(x, 1) or _op(x, "ones_like")


def _is_zeros(x: Node) -> bool:
    return is_constant(x, 0) or _op(x, "zeros_like")


def neutral_element(node: Node, names: Names) -> Rewrite | None:
    # x * 1 -> x,  1 * x -> x,  x / 1 -> x,  x + 0 -> x,  0 + x -> x,  x - 0 -> x
    if _op(node, "multiply"):
        x = _operand_other_than(node, _is_ones)
    elif _op(node, "add"):
        x = _operand_other_than(node, _is_zeros)
    elif _op(node, "divide"):
        x = node.inputs[0] if _is_ones(node.inputs[1]) else None
    elif _op(node, "subtract"):
        x = node.inputs[0] if _is_zeros(node.inputs[1]) else None
    else:
        return None
    if x is None or x.type != node.type:
        return None
    return _replaced(node, x, "neutral element")


def integer_times_zero(node: Node, names: Names) -> Rewrite | None:
    # x * 0 -> 0   (integers only: for floats inf * 0 and nan * 0 are nan)
    if not _op(node, "multiply") or node.dtype.is_floating:
        return None
    zero = _operand_other_than(node, _is_zeros)
    if zero is None:
        return None
    x = node.inputs[0] if node.inputs[1] is not zero else node.inputs[1]
    if x.type != node.type:
        return None
    zeros = new_node(REGISTRY["zeros_like"], [x], like=node, names=names)
    return zeros, f"integer times zero: {node.op_name} -> zeros"


def double_negation(node: Node, names: Names) -> Rewrite | None:
    # -(-x) -> x
    if _op(node, "negative") and _op(node.inputs[0], "negative"):
        return _replaced(node, node.inputs[0].inputs[0], "double negation")
    return None


def transpose_of_transpose(node: Node, names: Names) -> Rewrite | None:
    # transpose(transpose(x, p), q) -> transpose(x, p[q])   (x itself when that is the identity)
    if not (_op(node, "transpose") and _op(node.inputs[0], "transpose")):
        return None
    inner = node.inputs[0]
    p, q = inner.attrs["perm"], node.attrs["perm"]
    perm = tuple(p[k] for k in q)
    x = inner.inputs[0]
    if perm == tuple(range(len(perm))):
        return _replaced(node, x, "transpose of transpose")
    attrs = {"perm": perm}
    out = new_node(REGISTRY["transpose"], [x], attrs, like=node, names=names, name=node.op_name)
    return out, f"transpose of transpose: {node.op_name}"


def reshape_chain(node: Node, names: Names) -> Rewrite | None:
    # reshape(reshape(x)) -> reshape(x);  reshape(x) -> x when the type is unchanged
    if not node.opdef.reshape:
        return None
    x = node.inputs[0]
    if x.type == node.type and sum(d is None for d in node.type.shape) <= 1:
        return _replaced(node, x, "no-op reshape")
    if not x.opdef.reshape or sum(d is None for d in node.type.shape) > 1:
        return None
    target = tuple(-1 if d is None else d for d in node.type.shape)
    attrs = {"shape": target}
    out = new_node(
        REGISTRY["reshape"], [x.inputs[0]], attrs, like=node, names=names, name=node.op_name
    )
    return out, f"reshape chain: {node.op_name}"


def log_of_exp(node: Node, names: Names) -> Rewrite | None:
    # log(exp(x)) -> x   (exact in real arithmetic; avoids overflow of exp)
    if _op(node, "log") and _op(node.inputs[0], "exp"):
        return _replaced(node, node.inputs[0].inputs[0], "log of exp")
    return None


def log_softmax(node: Node, names: Names) -> Rewrite | None:
    # log(exp(z) / sum(exp(z), keepdims)) -> z - log(sum(exp(z), keepdims))   (exp(z) > 0)
    if not (_op(node, "log") and _op(node.inputs[0], "divide")):
        return None
    e, s = node.inputs[0].inputs
    if not (_op(e, "exp") and _op(s, "reduce_sum") and s.inputs[0] is e and s.attrs["keepdims"]):
        return None
    z = e.inputs[0]
    if z.type != node.type:
        return None
    log_s = new_node(REGISTRY["log"], [s], like=node, names=names)
    out = new_node(REGISTRY["subtract"], [z, log_s], like=node, names=names, name=node.op_name)
    return out, f"log of softmax -> log_softmax: {node.op_name}"


def log_sigmoid(node: Node, names: Names) -> Rewrite | None:
    # log(sigmoid(x)) -> -softplus(-x) = -(max(-x, 0) + log1p(exp(-|x|)))
    if not (_op(node, "log") and _op(node.inputs[0], "sigmoid")):
        return None
    x = node.inputs[0].inputs[0]
    make = partial(new_node, like=node, names=names)
    relu = make(REGISTRY["relu"], [make(REGISTRY["negative"], [x])])
    tail = make(REGISTRY["negative"], [make(REGISTRY["abs"], [x])])
    log1p = make(REGISTRY["log1p"], [make(REGISTRY["exp"], [tail])])
    softplus = make(REGISTRY["add"], [relu, log1p])
    out = make(REGISTRY["negative"], [softplus], name=node.op_name)
    return out, f"log of sigmoid -> -softplus(-x): {node.op_name}"


def pass_through(node: Node, names: Names) -> Rewrite | None:
    # identity(x) -> x, stop_gradient(x) -> x, cast(x: T, T) -> x, broadcast of x to x's shape -> x,
    # a reduction over no axes (sum_to_like: to x's own shape) -> x
    fusion = node.opdef.fusion
    trivial = (
        _op(node, "identity", "stop_gradient", "cast")
        or fusion is Fusion.BROADCAST
        or (fusion is Fusion.REDUCTION and node.attrs.get("axis", ()) == ())
    )
    x = node.inputs[0] if node.inputs else None
    if not trivial or node.control_inputs or x.type != node.type:
        return None
    return _replaced(node, x, f"no-op {node.opdef.name}")


def shape_of_elementwise(node: Node, names: Names) -> Rewrite | None:
    # shape(f(x, ...)) -> shape(x)  when f is elementwise and x already has f's shape
    # (the query then stops depending on f's value, which lets f fuse with its users)
    # (shape, size, reduced_size; zeros_like/ones_like only when x has f's dtype too)
    if not node.opdef.shape_only:
        return None
    f = node.inputs[0]
    if f.opdef.fusion is not Fusion.ELEMENTWISE:
        return None
    x = next((x for x in f.inputs if x.type.shape == f.type.shape), None)
    if x is None or node.opdef.infer(x.type, **node.attrs) != node.type:
        return None
    out = new_node(node.opdef, [x], dict(node.attrs), like=node, names=names, name=node.op_name)
    return out, f"shape query moved up: {node.op_name} reads {x.op_name} instead of {f.op_name}"


def known_branch(node: Node, names: Names) -> Rewrite | None:
    # merge(True, a, b) -> a,  merge(False, a, b) -> b,  switch(x, p, side) -> x if p is side
    # (a tf.cond whose predicate is a constant: the branch not taken is left unused)
    if not _op(node, "merge", "switch"):
        return None
    pred = node.inputs[0 if _op(node, "merge") else 1]
    if pred.opdef is not const:
        return None
    taken = bool(pred.attrs["value"].array)
    if _op(node, "merge"):
        x = node.inputs[1 if taken else 2]
    else:
        x = node.inputs[0] if taken is node.attrs["side"] else None
    if x is None or x.type != node.type:
        return None
    return _replaced(node, x, "constant predicate")


def one_merge_of_two_sides(node: Node, names: Names) -> Rewrite | None:
    # merge(p, a, 0) + merge(p, 0, b) -> merge(p, a, b)   (a gradient read in both
    # branches of a cond: each side's sum has one term, the other is zero)
    if not _op(node, "add"):
        return None
    m, n = node.inputs
    if not (_op(m, "merge") and _op(n, "merge") and m.inputs[0] is n.inputs[0]):
        return None
    if _is_zeros(m.inputs[1]) and _is_zeros(n.inputs[2]):
        m, n = n, m
    if not (_is_zeros(m.inputs[2]) and _is_zeros(n.inputs[1])):
        return None
    pred, a, b = m.inputs[0], m.inputs[1], n.inputs[2]
    if not (m.type == n.type == node.type == a.type == b.type):
        return None
    out = new_node(m.opdef, [pred, a, b], like=node, names=names, name=node.op_name)
    return out, f"one merge of two sides: {node.op_name}"


RULES = (
    neutral_element,
    integer_times_zero,
    double_negation,
    transpose_of_transpose,
    reshape_chain,
    log_of_exp,
    log_softmax,
    log_sigmoid,
    pass_through,
    shape_of_elementwise,
    known_branch,
    one_merge_of_two_sides,
)


@graph_pass
def simplify(graph: Graph) -> tuple[Graph, Changes]:
    """Applies every algebraic rule of this module to a fixed point; one change line per
    rule firing."""
    names = Names.of(graph)
    return rewrite_with_changes(graph, *(partial(rule, names=names) for rule in RULES))
