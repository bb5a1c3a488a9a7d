"""Variable updates written in place: which kernels may store a variable's new value
straight into its buffer instead of a fresh array copied back at the end of the step.

An optimizer's update kernel (`v - lr * m / (sqrt(s) + eps)`, fused) otherwise
allocates its outputs and the step copies each into the variable's buffer after
every read; for a large layer that is three extra arrays and three copies a step.

A kernel `K` computing the value that `assign(V, value)` stores may write into V's
buffer when all of these hold, so the result is the same as writing at the end:
- nothing after `K` in the step can raise (a failed run changes no variable): `K`
  comes after the last node whose code holds a `raise`;
- every other reader of V's old value (through any view of the buffer) comes before
  `K`, and no fetch is such a view;
- `K` reads V only element for element (at the same index as it writes: the view
  has the kernel's whole shape);
- V is assigned once in the step, by this value alone, and has a static, non-scalar
  shape equal to the kernel's.
The first emission of a step tells which nodes raise and which values are views of
buffers; the second emission uses this module's answer, and the two agree on all
code before the first in-place kernel, so those facts still hold.
"""

from __future__ import annotations

from collections import Counter

from graphc.ir import Node
from graphc.ops import Fusion


def in_place_updates(
    order: list[Node], fetches: list[Node], raising: set[int], aliases: set[int]
) -> dict[tuple[int, int], Node]:
    """(id of a fused node, output index) -> the variable whose buffer that output is
    written into. `raising`: ids of the nodes whose code may raise; `aliases`: ids of
    the nodes whose value may be a view of a buffer (from a first emission)."""
    pos = {id(n): k for k, n in enumerate(order)}
    last_raise = max((pos[i] for i in raising if i in pos), default=-1)
    consumers: dict[int, list[Node]] = {}
    for n in order:
        for x in n.inputs:
            consumers.setdefault(id(x), []).append(n)
    assigns = [n for n in order if n.opdef.name == "assign"]
    per_variable = Counter(id(a.inputs[0]) for a in assigns)
    per_value = Counter(id(a.inputs[1]) for a in assigns)
    fetched = {id(f) for f in fetches}
    out: dict[tuple[int, int], Node] = {}
    for a in assigns:
        var, value = a.inputs
        if per_variable[id(var)] != 1 or per_value[id(value)] != 1:
            continue
        if value.opdef.name != "fused_output":
            continue
        kernel_node, index = value.inputs[0], value.attrs["index"]
        kernel = kernel_node.attrs["kernel"]
        shape = kernel.shape
        if not var.type.shape or var.type.shape != shape or value.type.shape != shape:
            continue
        if kernel.graph.outputs[index].opdef.fusion is Fusion.REDUCTION:
            continue
        if pos[id(kernel_node)] <= last_raise:
            continue
        views = _views(var, consumers, aliases)
        if fetched & views.keys():
            continue
        readers = [r for i in views for r in consumers.get(i, []) if id(r) not in views]
        if all(
            (r is kernel_node and all(x.type.shape == shape for x in r.inputs if id(x) in views))
            or r is a
            or pos[id(r)] < pos[id(kernel_node)]
            for r in readers
        ):
            out[(id(kernel_node), index)] = var
    return out


def _views(var: Node, consumers: dict[int, list[Node]], aliases: set[int]) -> dict[int, Node]:
    """The variable and every value that may be a view of its buffer, by id."""
    views = {id(var): var}
    todo = [var]
    while todo:
        for c in consumers.get(id(todo.pop()), []):
            if id(c) in aliases and id(c) not in views and c.opdef.name != "assign":
                views[id(c)] = c
                todo.append(c)
    return views
