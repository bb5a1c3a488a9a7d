"""Graph rewrite passes for graphc (installed beside it as the top-level package `passes`).

Each pass is a pure function `Graph -> Graph`; returning the same object means
"no change". `default_pipeline()` lists the named passes `optimize` runs:
simplify, constant folding, CSE and DCE to a fixed point, then fusion. A user
may pass any list of passes, including their own functions.

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
from passes.manager import Report, note, run_pass, run_to_fixed_point
from passes.rewrite import rewrite
from passes.simplify import simplify

# SPEC names for the passes (each a Graph -> Graph function)
constant_folding = fold_constants
cse = eliminate_common_subexpressions
dce = eliminate_dead_code
fusion = fuse_elementwise

CLEANUP = (
    ("simplify", simplify),
    ("constant_folding", fold_constants),
    ("cse", eliminate_common_subexpressions),
    ("dce", eliminate_dead_code),
)


def default_pipeline() -> list[tuple[str, Any]]:
    """The passes `optimize` runs by default, in order."""
    return [*CLEANUP, ("fusion", fuse_elementwise)]


def optimize(graph: Graph, passes: Sequence[Any] | None = None) -> tuple[Graph, Report]:
    """Runs `passes` (default: the default pipeline) and returns (graph, report).

    The default pipeline runs its cleanup passes to a fixed point (at most 8
    rounds) and fusion once at the end; a user list runs once, in order.
    """
    report = Report()
    if passes is None:
        graph = run_to_fixed_point(graph, CLEANUP, report)
        return run_pass("fusion", fuse_elementwise, graph, report, [n for n, _ in CLEANUP]), report
    return run_to_fixed_point(graph, passes, report, max_rounds=1), report


__all__ = [
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
    "note",
    "optimize",
    "rewrite",
    "simplify",
]
