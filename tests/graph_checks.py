"""Helpers for pass tests: a canonical text of a graph's structure, and random graphs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import graphc as tf
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


# ---- random graphs -----------------------------------------------------------------------------
UNARY = [
    tf.tanh,
    tf.sin,
    tf.square,
    tf.abs,
    tf.nn.relu,
    tf.sigmoid,
    tf.negative,
    tf.identity,
    tf.stop_gradient,
    lambda x: tf.exp(tf.tanh(x)),
    lambda x: x * 1.0,
    lambda x: x + 0.0,
    lambda x: tf.negative(-x),
    lambda x: tf.cast(x, tf.float64),
]
BINARY = [tf.add, tf.subtract, tf.multiply, tf.maximum, tf.minimum]


def _broadcastable(a: Any, b: Any) -> bool:
    try:
        np.broadcast_shapes(
            tuple(2 if d is None else d for d in a.shape),
            tuple(2 if d is None else d for d in b.shape),
        )
        return True
    except ValueError:
        return False


def random_graph(choose: Callable[[list], Any], steps: int) -> tuple[list, list, dict]:
    """Random float64 ops over fixed placeholders; returns (outputs, placeholders, feeds)."""
    a = tf.placeholder(tf.float64, [None, 3])
    b = tf.placeholder(tf.float64, [3])
    c = tf.placeholder(tf.float64, [])
    m = tf.placeholder(tf.float64, [3, 3])
    pool = [a, b, c, m, tf.constant(0.5, tf.float64), tf.constant([1.0, -2.0, 0.25], tf.float64)]
    for _ in range(steps):
        kind = choose(
            ["unary", "binary", "binary", "reduce", "matmul", "shape", "softmax", "shared"]
        )
        x = choose(pool)
        if kind == "unary":
            pool.append(choose(UNARY)(x))
        elif kind == "binary":
            y = choose([p for p in pool if _broadcastable(x, p)])
            pool.append(choose(BINARY)(x, y))
        elif kind == "reduce" and x.shape:
            axis = choose([None, *range(-len(x.shape), len(x.shape))])
            op = choose([tf.reduce_sum, tf.reduce_mean, tf.reduce_max])
            pool.append(op(x, axis, keepdims=choose([False, True])))
        elif kind == "matmul" and len(x.shape) == 2 and x.shape[1] == 3:
            pool.append(tf.matmul(x, choose([m, tf.transpose(m)])))
        elif kind == "shape":
            pool.append(
                choose(
                    [
                        tf.reshape(m, [9]),
                        tf.transpose(m),
                        tf.expand_dims(b, 0),
                        tf.reshape(tf.reshape(m, [9]), [3, 3]),
                    ]
                )
            )
        elif kind == "softmax" and x.shape:
            pool.append(tf.log(tf.nn.softmax(x)))
        elif kind == "shared":  # the same op on the same input again: a CSE target
            redo = {"Tanh": tf.tanh, "Sin": tf.sin, "Square": tf.square, "Abs": tf.abs}
            y = choose([p for p in pool if p.op.type in redo] or [x])
            if y.op.type in redo:
                pool.append(y + redo[y.op.type](y.op.inputs[0]))
    outputs = [*pool[-2:], choose(pool[6:] or pool)]
    loss = tf.add_n([tf.reduce_sum(o) for o in outputs])
    grads = [g for g in tf.gradients(loss, [a, b, m]) if g is not None]
    rng = np.random.default_rng(0)
    feeds = {
        a: rng.standard_normal((2, 3)),
        b: rng.standard_normal(3),
        c: np.float64(rng.standard_normal()),
        m: rng.standard_normal((3, 3)),
    }
    return [*outputs, loss, *grads], [a, b, c, m], feeds
