"""Differential fuzzing: optimized graphs against unoptimized ones, values and gradients.

Hypothesis drives the reference-level property (cheap, many examples); one
seeded batch of random graphs is compiled with Numba (one compile) and
checked against the reference executor. Set GRAPHC_FUZZ_EXAMPLES to run more
examples by hand.
"""

import os
import random

import numpy as np
from graph_checks import random_graph
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as tf
import passes
from graphc import reference
from graphc.graph import Graph

EXAMPLES = int(os.environ.get("GRAPHC_FUZZ_EXAMPLES", "60"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data(), steps=st.integers(2, 14))
def test_optimized_graph_matches_unoptimized(data, steps):
    with tf.Graph().as_default():
        outputs, inputs, feeds = random_graph(lambda opts: data.draw(st.sampled_from(opts)), steps)
        graph = Graph.from_outputs(outputs, inputs)
        optimized, report = passes.optimize(graph)
    want = reference.evaluate(list(graph.outputs), feeds)
    got = reference.evaluate(list(optimized.outputs), feeds)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    assert len(optimized.nodes) <= len(graph.nodes) + 2 * len(report.changes("fusion"))


def test_compiled_random_graphs_match_reference(tmp_path):
    rng = random.Random(1234)
    g = tf.Graph()
    fetches, feeds = [], {}
    with g.as_default():
        for _ in range(int(os.environ.get("GRAPHC_FUZZ_COMPILED", "12"))):
            outputs, _, graph_feeds = random_graph(rng.choice, rng.randint(3, 12))
            fetches += outputs
            feeds.update(graph_feeds)
    with tf.Session(g, target="numpy") as ref, tf.Session(g, cache_dir=tmp_path) as cpu:
        want, got = ref.run(fetches, feeds), cpu.run(fetches, feeds)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
