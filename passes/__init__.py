"""Graph rewrite passes for graphc (installed beside it as the top-level package `passes`).

Each pass is a pure function `Graph -> Graph`; returning the same object means
"no change". The built-in passes are `GraphPass` values: called, they are such a
function; `.apply(graph)` also returns their changes, one line each, which the
report shows. `default_pipeline()` is the `Pipeline` value `optimize` runs:
simplify, constant folding, CSE and DCE to a fixed point, then fusion. A user
may pass an edited Pipeline or any list of passes, including their own plain
functions (reported with node counts only) or GraphPasses.

This package depends on `graphc.ir`, `graphc.ops` and `graphc.reference`;
`graphc` imports it only lazily, when a Session or `graphc.optimize` needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphc.graph import Graph
from passes.constant_fold import fold_constants
from passes.cse import eliminate_common_subexpressions
from passes.dce import eliminate_dead_code
from passes.fuse import fuse_elementwise
from passes.manager import GraphPass, Pipeline, Report, graph_pass
from passes.rewrite import rewrite, rewrite_with_changes
from passes.simplify import simplify

# SPEC names for the passes (each a GraphPass: callable as Graph -> Graph)
constant_folding = fold_constants
cse = eliminate_common_subexpressions
dce = eliminate_dead_code
fusion = fuse_elementwise


def default_pipeline() -> Pipeline:
    """The passes `optimize` runs by default: simplify, constant folding, CSE and DCE to
    a fixed point, then fusion."""
    return Pipeline(
        cleanup=(
            ("simplify", simplify),
            ("constant_folding", fold_constants),
            ("cse", eliminate_common_subexpressions),
            ("dce", eliminate_dead_code),
        ),
        final=(("fusion", fuse_elementwise),),
    )


def optimize(graph: Graph, passes: Pipeline | Sequence[Any] | None = None) -> tuple[Graph, Report]:
    """Runs `passes` and returns (graph, report).

    `passes` is a Pipeline (None: `default_pipeline()`) or a list of passes, run once in
    order.
    """
    report = Report()
    pipeline = default_pipeline() if passes is None else Pipeline.of(passes)
    return pipeline.run(graph, report), report


__all__ = [
    "GraphPass",
    "Pipeline",
    "Report",
    "constant_folding",
    "cse",
    "dce",
    "default_pipeline",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "fold_constants",
    "fuse_elementwise",
    "fusion",
    "graph_pass",
    "optimize",
    "rewrite",
    "rewrite_with_changes",
    "simplify",
]
