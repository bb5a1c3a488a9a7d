"""Helpers for pass tests: a canonical one-line-per-node text of a graph's structure."""

from __future__ import annotations

from typing import Any

from graphc.graph import Graph


def canonical(graph: Graph) -> list[str]:
    """One line per node, naming nodes by position (sources by name): equal for equal structure."""
    number: dict[int, str] = {}
    lines = []
    for n in graph.nodes:
        if n.opdef.name in ("placeholder", "variable") or n in graph.inputs:
            number[id(n)] = n.op_name
            continue
        number[id(n)] = f"%{len(lines)}"
        attrs = ", ".join(f"{k}={v!r}" for k, v in sorted(n.attrs.items()) if k != "kernel")
        args = " ".join(number[id(x)] for x in n.inputs)
        ctrl = " ".join("^" + number[id(c)] for c in n.control_inputs)
        lines.append(f"{number[id(n)]} = {n.opdef.name}[{attrs}] {args} {ctrl}".rstrip())
    lines.append("return " + " ".join(number[id(o)] for o in graph.outputs))
    return lines


def assert_same_graph(actual: Graph, expected: Graph) -> None:
    assert canonical(actual) == canonical(expected)


def function(*outputs: Any, inputs: tuple = ()) -> Graph:
    return Graph.from_outputs(list(outputs), list(inputs))
