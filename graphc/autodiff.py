"""Derivatives as graph nodes: reverse mode (`gradients`) and forward mode (`jvp`).

Invariants: the result of `gradients` is part of the same graph and is built
only from registered ops, so it can be differentiated again. Gradients flow
only into floating-point tensors; a gradient has exactly its input's shape
(broadcasting is undone). Forward mode propagates tangents through each op's
own forward rule (`partials`, linearity, or `jvp`), never through a
transposed reverse pass.
"""

from __future__ import annotations

from typing import Any

from graphc.errors import InvalidArgumentError, ShapeError
from graphc.ir import Node
from graphc.ops import OpDef, convert, graph_of, make_node, unbroadcast
from graphc.ops.elementwise import add_n, ones_like, zeros_like
from graphc.ops.reduce import broadcast_like
from graphc.types import broadcast_shapes


def _as_list(values: Any) -> list[Any]:
    return list(values) if isinstance(values, list | tuple) else [values]


def _is_float(node: Node) -> bool:
    return node.type is not None and node.dtype.is_floating


def gradients(
    ys: Any,
    xs: Any,
    grad_ys: Any = None,
    name: str = "gradients",
    colocate_gradients_with_ops: bool = False,
    gate_gradients: bool = False,
    aggregation_method: Any = None,
    stop_gradients: Any = None,
    unconnected_gradients: Any = "none",
) -> list[Node | None]:
    """d(sum of ys)/d x for each x, as new nodes; None for an x the ys do not depend on
    (zeros of x's shape with `unconnected_gradients="zero"`). The arguments are TF1's, in
    its order; colocation, gating and the aggregation method change nothing in graphc.

    Args:
      ys: a tensor or list of tensors, of any shape (also of unknown rank).
      xs: a tensor or list of tensors (placeholders, variables, intermediates).
      grad_ys: upstream gradients aligned with ys. A missing (None) entry means ones of
        y's shape, as TF1's default: the result is then the gradient of `reduce_sum(y)`.
        An integer or bool y without an entry sends no gradient (graphc differentiates
        floats only; TF1 would propagate integer ones).
      stop_gradients: tensors treated as constants.
      unconnected_gradients: "none" or "zero" (or TF1's enum of those values).
    """
    zero = _unconnected_is_zero(unconnected_gradients)
    grads = _gradients(ys, xs, grad_ys, name, stop_gradients)
    if zero:
        xs = [convert(x) for x in _as_list(xs)]
        return [zeros_like(x) if g is None else g for g, x in zip(grads, xs, strict=True)]
    return grads


def _unconnected_is_zero(mode: Any) -> bool:
    value = getattr(mode, "value", mode)
    if value not in ("none", "zero"):
        raise InvalidArgumentError(
            f"Unknown value for unconnected_gradients: {mode!r} (expected 'none' or 'zero')"
        )
    return value == "zero"


def _gradients(ys: Any, xs: Any, grad_ys: Any, name: str, stop_gradients: Any) -> list[Node | None]:
    ys, xs = [convert(y) for y in _as_list(ys)], [convert(x) for x in _as_list(xs)]
    seeds = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    graph = graph_of([*ys, *xs])
    stops = {id(convert(s)) for s in _as_list(stop_gradients or [])}
    relevant = _between(graph.nodes, xs, ys, stops)
    contributions: dict[int, list[Node]] = {}
    with graph.as_default(), graph.name_scope(name):
        for y, seed in zip(ys, seeds, strict=True):
            if seed is not None or _is_float(y):
                contributions.setdefault(id(y), []).append(_seed(y, seed))
        for node in reversed(graph.nodes):
            if id(node) not in relevant or id(node) not in contributions:
                continue
            g = _total(contributions, node)
            if id(node) in stops:
                continue
            with graph.name_scope(f"{node.op_name}_grad"):  # TF1: gradients/<op>_grad/...
                pairs = _input_gradients(node, g, stops)
            for x, gx in pairs:
                if gx is not None and id(x) in relevant and _is_float(x):
                    contributions.setdefault(id(x), []).append(gx)
        return [_total(contributions, x) if id(x) in contributions else None for x in xs]


def _seed(y: Node, seed: Any) -> Node:
    if seed is not None:
        seed = convert(seed, y.dtype)
        try:
            if broadcast_shapes(seed.type.shape, y.type.shape) != y.type.shape:
                raise ValueError
        except ValueError:
            message = f"grad_ys for '{y.name}' has shape {seed.shape}, not {y.shape}"
            raise ShapeError(message) from None
        return seed
    return ones_like(y)  # TF1's default grad_ys: d(sum of y)/dx, whatever y's shape


def _total(contributions: dict[int, list[Node]], node: Node) -> Node:
    parts = contributions[id(node)]
    if len(parts) > 1:
        parts[:] = [add_n(parts)]
    return parts[0]


def _between(order: list[Node], xs: list[Node], ys: list[Node], stops: set[int]) -> set[int]:
    """Ids of nodes on a data path from some x to some y."""
    forward = {id(x) for x in xs}
    for node in order:
        if id(node) not in stops and any(id(i) in forward for i in node.inputs):
            forward.add(id(node))
    backward = {id(y) for y in ys}
    for node in reversed(order):
        if id(node) in backward:
            backward.update(id(i) for i in node.inputs)
    return forward & backward


def _log_softmax_parts(node: Node) -> tuple[Node, Node, Node] | None:
    """(z, softmax, sum) when `node` is log(exp(z) / reduce_sum(exp(z), keepdims=True)).

    Its derivative through the softmax, g / softmax, is inf where the softmax underflows
    to 0 (logits far apart, e.g. [1000, 0, -1000]), and inf * 0 is NaN; the derivative of
    the log-softmax as a whole, g - softmax * sum(g), is finite. (passes.simplify's rule
    log_softmax rewrites the forward value; gradients are built before passes run.)
    """
    u = node.inputs[0] if node.opdef.name == "log" else None
    if u is None or u.opdef.name != "divide":
        return None
    e, s = u.inputs
    if not (e.opdef.name == "exp" and s.opdef.name == "reduce_sum" and s.inputs[0] is e):
        return None
    z = e.inputs[0]
    return (z, u, s) if s.attrs["keepdims"] and z.type == node.type else None


def _input_gradients(node: Node, g: Node, stops: set[int]) -> list[tuple[Node, Node | None]]:
    """(input, gradient) pairs for `node`; the log of a softmax sends its gradient straight
    to the logits, past the softmax (unless a stop_gradients entry lies in between)."""
    parts = _log_softmax_parts(node)
    if parts is not None:
        z, u, s = parts
        if not any(id(n) in stops for n in (u, s, s.inputs[0])):
            return [(z, g - u * make_node(s.opdef, [g], s.attrs))]  # g - softmax sum(g)
    return list(zip(node.inputs, _vjp(node, g), strict=True))


def _vjp(node: Node, g: Node) -> tuple[Node | None, ...]:
    op: OpDef = node.opdef
    if not op.differentiable:
        return (None,) * len(node.inputs)
    if op.partials is None:
        return op.vjp(g, node)
    out = []
    for x, p in zip(node.inputs, op.partials(node), strict=True):
        if p is None or not _is_float(x):
            out.append(None)
            continue
        scaled = g if _is_one(p) else _scale(g, p)
        out.append(unbroadcast(scaled, x))
    return tuple(out)


def _is_one(p: Any) -> bool:
    return not isinstance(p, Node) and p == 1


def _scale(g: Node, p: Any) -> Node:
    if not isinstance(p, Node) and p == -1:
        return -g
    return g * p


# ---- forward mode ------------------------------------------------------------------------
def jvp(ys: Any, xs: Any, tangents: Any) -> list[Node | None]:
    """Directional derivatives of ys along `tangents` (aligned with xs), in forward mode.

    Returns one node per y (its shape), or None where y does not depend on xs.
    """
    ys, xs = [convert(y) for y in _as_list(ys)], [convert(x) for x in _as_list(xs)]
    tangents = [convert(t, x.dtype) for t, x in zip(_as_list(tangents), xs, strict=True)]
    graph = graph_of([*ys, *xs])
    relevant = _between(graph.nodes, xs, ys, set())
    tangent: dict[int, Node] = {id(x): t for x, t in zip(xs, tangents, strict=True)}
    with graph.as_default(), graph.name_scope("jvp"):
        for node in graph.nodes:
            if id(node) in relevant and id(node) not in tangent:
                ts = tuple(tangent.get(id(x)) for x in node.inputs)
                if (parts := _log_softmax_parts(node)) is not None:
                    t = _log_softmax_tangent(parts, tangent.get(id(parts[0])))
                elif any(t is not None for t in ts):
                    t = _forward(node, ts)
                else:
                    t = None
                if t is not None:
                    tangent[id(node)] = t
    return [tangent.get(id(y)) for y in ys]


def _log_softmax_tangent(parts: tuple[Node, Node, Node], tz: Node | None) -> Node | None:
    """The tangent of log(softmax(z)) from z's, tz - sum(softmax * tz): finite where the
    softmax underflows (see _log_softmax_parts)."""
    _, u, s = parts
    return None if tz is None else tz - make_node(s.opdef, [u * tz], s.attrs)


def _forward(node: Node, ts: tuple[Node | None, ...]) -> Node | None:
    op: OpDef = node.opdef
    if not op.differentiable or not _is_float(node):
        return None
    if op.partials is not None:
        terms = [
            t if _is_one(p) else _scale(t, p)
            for t, p in zip(ts, op.partials(node), strict=True)
            if t is not None and p is not None
        ]
        if not terms:
            return None
        out = add_n(terms)
        return out if out.type.shape == node.type.shape else broadcast_like(out, node)
    if op.jvp is not None:
        return op.jvp(ts, node)
    linear = range(len(ts)) if op.linear is True else op.linear
    if all(ts[i] is None for i in linear):
        return None
    args = [
        (ts[i] if ts[i] is not None else zeros_like(x)) if i in linear else x
        for i, x in enumerate(node.inputs)
    ]
    return make_node(op, args, node.attrs)
