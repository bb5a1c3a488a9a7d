"""Differential fuzzing: every node of random graphs, optimized against unoptimized and
compiled against the reference executor, over edge-case values.

Hypothesis drives the reference-level property (cheap, many examples): the
optimized graph must give every node's value and every gradient of the
unoptimized one, except where a jump (a comparison, floor, argmax, ...) flips because
the two graphs round its inputs differently: that node and what is computed from it
(`_flipped`). One seeded batch of random graphs (one per value family) is
compiled with Numba with passes on and off, fetching every node, and once more
fetching only the final values (so fusion forms whole kernels); each is checked
against the reference executor. Set GRAPHC_FUZZ_EXAMPLES / GRAPHC_FUZZ_COMPILED
to run more examples by hand.
"""

import os
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from random_graphs import OVERFLOWING, VALUE_KINDS, assert_close, random_graph

import graphc as tf
import passes
from graphc import reference
from graphc.graph import Graph

EXAMPLES = int(os.environ.get("GRAPHC_FUZZ_EXAMPLES", "120"))
COMPILED_GRAPHS = int(os.environ.get("GRAPHC_FUZZ_COMPILED", "4"))


def _label(node) -> str:
    return f"node {node.op_name} ({node.opdef.name}, attrs {dict(node.attrs)})"


def _finals(nodes):
    """The nodes no other node uses."""
    used = {id(x) for n in nodes for x in n.inputs}
    return [n for n in nodes if id(n) not in used]


def _finite_max(value) -> float:
    """The largest magnitude among the finite entries of `value` (0 if none)."""
    value = np.abs(np.asarray(value, dtype=float))
    return float(value.max(initial=0.0, where=np.isfinite(value)))


def _as_written(nodes, feeds):
    """Per node (as written): the largest finite magnitude among its value and its
    ancestors' (the scale its rounding errors follow), and whether any of them overflowed."""
    scale = {id(p): _finite_max(v) for p, v in feeds.items()}
    overflowed = set()
    for node, value in zip(nodes, reference.evaluate(nodes, feeds), strict=True):
        value = np.asarray(value, dtype=float)
        ancestors = [scale.get(id(x), 0.0) for x in node.inputs]
        scale[id(node)] = max([_finite_max(value), *ancestors])
        if not np.isfinite(value).all() or any(id(x) in overflowed for x in node.inputs):
            overflowed.add(id(node))
    return scale, overflowed


# Ops whose value jumps where a float input crosses a boundary (a comparison, an integer
# part, the position of an extreme): where the optimized graph rounds such an input
# differently, they may legitimately differ by the jump (floordiv by a denominator that
# is 1e-17 in one graph and 0 in the other)
JUMPS = {
    "argmax",
    "argmin",
    "ceil",
    "equal",
    "floor",
    "floordiv",
    "greater",
    "greater_equal",
    "in_top_k",
    "less",
    "less_equal",
    "mod",
    "not_equal",
    "round",
    "sign",
}


def _jumps(node) -> bool:
    floating = node.dtype.is_floating
    cast = node.opdef.name == "cast" and node.inputs[0].dtype.is_floating and not floating
    return node.opdef.name in JUMPS or cast


def _flipped(nodes, got, want) -> set[int]:
    """The jumps among `nodes` (in topological order, every one fetched) whose value
    differs between the two graphs where their inputs differ only by rounding (not bit
    for bit: a larger difference fails at the input), and everything computed from them."""
    values = {id(n): (g, w) for n, g, w in zip(nodes, got, want, strict=True)}

    def differ(x) -> bool:
        return id(x) in values and not np.array_equal(*values[id(x)], equal_nan=True)

    flipped: set[int] = set()
    for node in nodes:
        below = any(id(x) in flipped for x in node.inputs)
        jumped = _jumps(node) and differ(node) and any(differ(x) for x in node.inputs)
        if below or jumped:
            flipped.add(id(node))
    return flipped


def _both(nodes, inputs, feeds):
    """The optimized graph's values of `nodes`, the graph as written's, and the report."""
    graph = Graph.from_outputs(nodes, inputs)
    optimized, report = passes.optimize(graph)
    want = reference.evaluate(list(graph.outputs), feeds)
    got = reference.evaluate(list(optimized.outputs), feeds)
    return got, want, (graph, optimized, report)


def _check_optimized(nodes, both, scale, skip, values):
    """The optimized graph gives every output of the graph as written (except `skip`);
    `both` is `_both(nodes, ...)`."""
    got, want, (graph, optimized, report) = both
    for node, g, w in zip(nodes, got, want, strict=True):
        if id(node) not in skip:
            what = f"optimized {_label(node)} differs ({values} values)"
            assert_close(g, w, what, scale[id(node)])
    assert len(optimized.nodes) <= len(graph.nodes) + 2 * len(report.changes("fusion"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data(), steps=st.integers(2, 14), values=st.sampled_from(VALUE_KINDS))
def test_optimized_graph_matches_unoptimized(data, steps, values):
    with tf.Graph().as_default():
        choose = lambda opts: data.draw(st.sampled_from(opts))  # noqa: E731
        graph = random_graph(choose, steps)
    feeds = graph.feeds(values)
    # every node fetched (nothing can hide behind a sum), then only the last ones
    # (so fusion and DCE see whole chains)
    scale, overflowed = _as_written(graph.nodes, feeds)
    # huge values overflow naive forms that passes compute stably (log of a softmax)
    skip = overflowed if values in OVERFLOWING else set()
    every = _both(graph.nodes, graph.inputs, feeds)
    skip = skip | _flipped(graph.nodes, *every[:2])
    _check_optimized(graph.nodes, every, scale, skip, values)
    finals = _finals(graph.nodes)
    _check_optimized(finals, _both(finals, graph.inputs, feeds), scale, skip, values)


@pytest.fixture(scope="module")
def compiled_batch(tmp_path_factory):
    """Random graphs compiled three ways, each run on every value family."""
    rng = random.Random(1234)
    g = tf.Graph()
    with g.as_default():
        graphs = [random_graph(rng.choice, rng.randint(3, 8)) for _ in range(COMPILED_GRAPHS)]
    nodes = [n for r in graphs for n in r.nodes]
    inputs = [p for r in graphs for p in r.inputs]
    finals = _finals(nodes)
    cache = tmp_path_factory.mktemp("fuzz-cache")
    configs = {"passes": (nodes, None), "no-passes": (nodes, []), "finals": (finals, None)}
    results = {}
    for config, (fetch, pipeline) in configs.items():
        optimized, _ = passes.optimize(Graph.from_outputs(fetch, inputs), pipeline)
        with tf.Session(g, passes=pipeline, cache_dir=cache) as sess:
            for i, values in enumerate(VALUE_KINDS):
                feeds = {p: v for r in graphs for p, v in r.feeds(values, seed=i).items()}
                want = reference.evaluate(list(optimized.outputs), feeds)
                results[config, values] = (fetch, sess.run(fetch, feeds), want)
    return results


@pytest.mark.compiled
@pytest.mark.parametrize("values", VALUE_KINDS)
@pytest.mark.parametrize("config", ["passes", "no-passes", "finals"])
def test_compiled_random_graphs_match_reference(compiled_batch, config, values):
    # each configuration against the reference executor running the same optimized graph
    # (test_optimized_graph_matches_unoptimized checks optimized against unoptimized)
    fetch, got, want = compiled_batch[config, values]
    for node, g, w in zip(fetch, got, want, strict=True):
        assert_close(g, w, f"compiled ({config}, {values} values) {_label(node)} differs")
