"""Random graphs and edge-case values for differential fuzzing (see test_fuzz.py).

`random_graph(choose, steps)` builds float64 ops over four fixed placeholders
and returns every node it made (values and gradients) and the placeholders;
`.feeds(values)` gives feeds from one value family. `choose(options)` picks one
option: hypothesis's `data.draw(sampled_from(...))` or `random.Random.choice`.
A graph runs on every family (the empty batch too), so one compile serves all.
Three things make one-detail bugs visible:

- "twin" steps apply two ops to the same inputs that differ in one attribute or
  in operand order (`reduce_sum(x, 0)` and `reduce_sum(x, 1)`, `x - y` and
  `y - x`), which a wrong CSE key or a wrong commutativity table merges;
- the loss weights every output with its own random array (a fed placeholder),
  so a permuted axis, a swapped operand or a misrouted gradient changes it (a
  plain sum does not);
- values come in edge families: ties, all negative, all positive, zeros, an
  empty batch, huge and tiny magnitudes, and IEEE special values: NaN and +-inf
  among normal values, signed zeros, magnitudes at the edge of overflow (1e30,
  float32's max), and all of these mixed. Both sides must agree on every NaN
  and inf they give (NaN equals NaN, inf must have the same sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import graphc as tf
from graphc import reference
from graphc.graph import Graph

VALUE_KINDS = (
    "normal",
    "ties",
    "negative",
    "positive",
    "zeros",
    "empty",
    "huge",
    "tiny",
    "nonfinite",
    "signed_zeros",
    "extreme",
    "special",
)
# families whose finite values can overflow where an optimized form does not (test_fuzz)
OVERFLOWING = ("huge", "extreme", "special")
BATCH = 2  # rows fed to the [None, 3] placeholder (0 for the "empty" kind)
F32_MAX = float(np.finfo(np.float32).max)
NONFINITE = (np.nan, np.inf, -np.inf)
EXTREME = (1e30, -1e30, F32_MAX, -F32_MAX)


def _mixed(normal: np.ndarray, specials: tuple, share: float, rng: np.random.Generator):
    """`normal` with about `share` of its entries replaced by values drawn from `specials`."""
    picked = rng.choice(np.array(specials), size=normal.shape)
    return np.where(rng.random(normal.shape) < share, picked, normal)


def edge_values(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A float64 array of one value family."""
    normal = rng.standard_normal(shape)
    if kind == "nonfinite":  # a few NaN and +-inf: most outputs keep finite entries too
        return _mixed(normal, NONFINITE, 0.25, rng)
    if kind == "signed_zeros":  # -0.0 against 0.0: maximum, relu, sign, division by zero
        return rng.choice([-0.0, 0.0, -1.0, 1.0], size=shape)
    if kind == "extreme":  # squares and exps overflow; float32 casts give +-inf
        return _mixed(normal, (*EXTREME, -0.0), 0.5, rng)
    if kind == "special":
        return _mixed(normal, (*NONFINITE, *EXTREME, -0.0, 0.0), 0.6, rng)
    if kind == "ties":  # few distinct values: maximum/argmax/sort see equal operands
        return rng.choice([-1.0, 0.0, 0.5, 1.0], size=shape)
    if kind == "negative":
        return -np.abs(normal) - 0.25
    if kind == "positive":
        return np.abs(normal) + 0.25
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "huge":
        return normal * 1e12
    if kind == "tiny":
        return normal * 1e-12
    return normal


def shape_of(x: Any, batch: int) -> tuple[int, ...]:
    return tuple(batch if d is None else d for d in x.shape)


UNARY: list[Callable[[Any], Any]] = [
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
    lambda x: x - 0.0,
    lambda x: 0.0 - x,
    lambda x: tf.negative(-x),
    lambda x: tf.cast(tf.cast(x, tf.float32), tf.float64),
    lambda x: tf.clip_by_value(x, -0.5, 0.75),
    lambda x: tf.log(tf.abs(x) + 1.0),
    lambda x: tf.sqrt(tf.square(x) + 0.5),
    # ops whose NaN, inf and -0.0 results are easy to get wrong in a scalar snippet
    tf.sign,
    lambda x: tf.floor(x * 2.5),
    lambda x: tf.round(x * 2.5),
    tf.nn.relu6,
    tf.nn.leaky_relu,
    tf.nn.elu,
    tf.nn.softplus,
    lambda x: tf.sqrt(x),
    lambda x: tf.log(x),
]
BINARY: list[Callable[[Any, Any], Any]] = [
    tf.add,
    tf.subtract,
    tf.multiply,
    tf.maximum,
    tf.minimum,
    lambda x, y: x / (tf.square(y) + 1.0),
    lambda x, y: tf.where(x > y, x, y * 2.0),
    lambda x, y: tf.cast(tf.less(x, y), tf.float64),
    tf.floordiv,
    tf.mod,
    lambda x, y: tf.pow(tf.abs(x), y),
    lambda x, y: tf.cast(tf.not_equal(x, y), tf.float64),
]


def _twins(x: Any, y: Any, choose: Callable[[list], Any]) -> list[Any]:
    """Two ops on the same inputs that differ in one attribute or in operand order."""
    r = len(x.shape)
    pairs = [
        (lambda: x - y, lambda: y - x),
        (lambda: x / (tf.abs(y) + 1.0), lambda: y / (tf.abs(x) + 1.0)),
        (lambda: tf.cast(x < y, tf.float64), lambda: tf.cast(y < x, tf.float64)),
        (lambda: tf.where(x > y, x, y), lambda: tf.where(x > y, y, x)),
        (lambda: tf.reduce_max(x), lambda: tf.reduce_min(x)),
    ]
    if r:
        pairs.append((lambda: tf.nn.softmax(x, axis=0), lambda: tf.nn.softmax(x, axis=-1)))
        pairs.append((lambda: x[..., :1], lambda: x[..., -1:]))  # the last dim is known
    if r == 2:
        pairs += [
            (lambda: tf.reduce_sum(x, 0), lambda: tf.reduce_sum(x, 1)),
            (lambda: tf.reduce_sum(x, 1), lambda: tf.reduce_sum(x, 1, keepdims=True)),
            (lambda: tf.reduce_mean(x, 0), lambda: tf.reduce_mean(x, 1)),
            (
                lambda: tf.cast(tf.argmax(x, 1), tf.float64),
                lambda: tf.cast(tf.argmin(x, 1), x.dtype),
            ),
        ]
        if None not in x.shape:  # concat's gradient needs static sizes on its axis
            pairs.append((lambda: tf.concat([x, x * 2.0], 0), lambda: tf.concat([x, x * 2.0], 1)))
    if x.shape == (3, 3):
        pairs += [
            (lambda: x, lambda: tf.transpose(x)),
            (lambda: tf.matmul(x, x), lambda: tf.matmul(x, x, transpose_a=True)),
            (lambda: tf.matmul(x, x, transpose_b=True), lambda: tf.matmul(x, tf.transpose(x))),
        ]
    return [build() for build in choose(pairs)]


def _reduce(x: Any, choose: Callable[[list], Any]) -> Any:
    # over an empty axis: sum 0, mean nan, prod 1, max -inf, min inf, logsumexp -inf
    axis = choose([None, *range(-len(x.shape), len(x.shape))])
    ops = [tf.reduce_sum, tf.reduce_mean, tf.reduce_prod, tf.reduce_max, tf.reduce_min]
    if axis is not None and x.shape[axis] is not None:  # never empty: NumPy would raise
        # the index of the first NaN, or else of the first extreme
        ops += [_index_of(tf.argmax), _index_of(tf.argmin)]
    return choose([*ops, tf.reduce_logsumexp])(x, axis, keepdims=choose([False, True]))


def _index_of(arg: Callable[..., Any]) -> Callable[..., Any]:
    """argmax or argmin as a float64 reduction (keepdims: an axis of size 1 kept)."""

    def reduce(x: Any, axis: int, keepdims: bool) -> Any:
        index = tf.cast(arg(x, axis), tf.float64)
        return tf.expand_dims(index, axis) if keepdims else index

    return reduce


@dataclass
class RandomGraph:
    """Every node of a random graph, its placeholders, and feeds for a value family."""

    nodes: list[Any]
    data: list[Any]  # the four data placeholders
    made: list[Any]  # the ops the generator applied (the loss weights each one)
    weights: list[Any]  # a placeholder per made op: its weight in the loss

    @property
    def inputs(self) -> list[Any]:
        return self.data + self.weights

    def feeds(self, values: str, seed: int = 0) -> dict[Any, np.ndarray]:
        rng = np.random.default_rng(seed)
        batch = 0 if values == "empty" else BATCH
        feeds = {p: edge_values(values, shape_of(p, batch), rng) for p in self.data}
        outs = reference.evaluate(self.made, feeds)
        feeds.update(
            (w, rng.standard_normal(np.shape(v))) for w, v in zip(self.weights, outs, strict=True)
        )
        return feeds


def random_graph(choose: Callable[[list], Any], steps: int) -> RandomGraph:
    """Random float64 ops over fixed placeholders, with the gradients of a weighted loss."""
    a = tf.placeholder(tf.float64, [None, 3])
    b = tf.placeholder(tf.float64, [3])
    c = tf.placeholder(tf.float64, [])
    m = tf.placeholder(tf.float64, [3, 3])
    pool = [a, b, c, m, tf.constant(0.5, tf.float64), tf.constant([1.0, -2.0, 0.25], tf.float64)]
    sources = len(pool)
    for _ in range(steps):
        kinds = ["unary", "binary", "twin", "twin", "reduce", "matmul", "softmax", "shared", "cond"]
        kind = choose(kinds)
        x = choose(pool)
        y = choose([p for p in pool if _broadcastable(x, p)])
        if kind == "unary":
            pool.append(choose(UNARY)(x))
        elif kind == "binary":
            pool.append(choose(BINARY)(x, y))
        elif kind == "twin":
            pool += _twins(x, y, choose)
        elif kind == "reduce" and x.shape:
            pool.append(_reduce(x, choose))
        elif kind == "matmul" and len(x.shape) == 2 and x.shape[1] == 3:
            pool.append(tf.matmul(x, choose([m, tf.transpose(m)])))
        elif kind == "softmax" and x.shape:
            pool.append(tf.log(tf.nn.softmax(x)))
        elif kind == "cond":  # only the branch taken runs (c is NaN: the false one)
            pool.append(_cond(c > 0.0, x, y, choose(UNARY), choose(UNARY)))
        elif kind == "shared":  # the same op on the same input again: a CSE target
            redo = {"Tanh": tf.tanh, "Sin": tf.sin, "Square": tf.square, "Abs": tf.abs}
            twin = choose([p for p in pool if p.op.type in redo] or [x])
            if twin.op.type in redo:
                pool.append(twin + redo[twin.op.type](twin.op.inputs[0]))
    made = pool[sources:] or pool[:1]
    weights = [tf.placeholder(tf.float64, o.shape) for o in made]
    loss = tf.add_n([tf.reduce_sum(o * w) for o, w in zip(made, weights, strict=True)])
    data = [a, b, c, m]
    grads = [g for g in tf.gradients(loss, data) if g is not None]
    every = Graph.from_outputs([*made, loss, *grads], data + weights).nodes
    nodes = [n for n in every if n.type is not None and n.opdef.name != "placeholder"]
    return RandomGraph(nodes, data, made, weights)


def _cond(pred: Any, x: Any, y: Any, f: Callable, g: Callable) -> Any:
    """f(x) where pred holds, else g(x) + sum(y): each branch reads tensors from outside."""
    return tf.cond(pred, lambda: f(x), lambda: g(x) + tf.reduce_sum(y))


def _broadcastable(a: Any, b: Any) -> bool:
    try:
        np.broadcast_shapes(shape_of(a, 2), shape_of(b, 2))
        return True
    except ValueError:
        return False


def assert_close(got: Any, want: Any, what: str, scale: float = 0.0, rtol: float = 1e-9) -> None:
    """Values agree to `rtol`, relative to their own size or to `scale` (the size of the
    values they were computed from: a sum of huge terms keeps only their absolute precision)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = want[np.isfinite(want)]
    scale = max(scale, float(np.abs(finite).max()) if finite.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12 + rtol * scale, err_msg=what)
