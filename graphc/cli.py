"""The command line: `python -m graphc <command>` (also the `graphc` script).

Commands:
  cache info [--dir D]    where the compile cache is, how many modules, how big
  cache clear [--dir D]   delete every compiled module graphc cached there
  export SCRIPT:NAME DEST [--overwrite]
                          run SCRIPT (a .py file, or a module name), take its NAME (an
                          Executable, or a function of no arguments returning one) and
                          export it as the package folder DEST (graphc.export)
  (each SCRIPT:NAME below may also be a graph file written by graph.save)
  inspect SCRIPT:NAME     the graph's text form, its ops counted by type, its parameters
  optimize SCRIPT:NAME [--details]
                          what the passes do to it (the report; every change with
                          --details) and the optimized graph
  source SCRIPT:NAME      the Python module the cpu target generates for it
  viz SCRIPT:NAME -o OUT [--collapse SCOPE ...] [--optimized]
      [--backprop FEEDS.npz [--loss NAME] [--checkpoint PATH]]
                          draw NAME (a Graph, Session, Executable, tensor or op, a
                          BackpropView, or a function of no arguments returning one) to
                          OUT: .html, .dot, or .svg/.png/.pdf through Graphviz (graphc.viz);
                          after the passes; or its backprop view with these feeds

Invariants: each command prints what it did to stdout and returns 0, or prints the
problem to stderr and returns 1; nothing here runs a graph (SCRIPT runs as Python does).
"""

from __future__ import annotations

import argparse
import importlib
import os
import runpy
import sys
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from graphc import viz
from graphc.codegen import compile as modules
from graphc.errors import GraphcError
from graphc.executable import Executable, optimize
from graphc.graph import Graph
from graphc.ir import Node, Operation
from graphc.saved_graph import load_graph
from graphc.saver import Saver
from graphc.session import Session


def _size(n: int) -> str:
    """A byte count for people: bytes below 1 KiB, then KiB below 1 MiB, then MiB."""
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KiB" if n < 2**20 else f"{n / 2**20:.1f} MiB"


def _cache(args: argparse.Namespace) -> int:
    if args.action == "info":
        info = modules.info(args.dir)
        print(f"cache folder: {info.root}")
        print(f"modules: {info.modules}, {_size(info.bytes)}")
        print(
            f"kept under {_size(info.max_bytes)} (${modules.ENV_CACHE_MAX_MB}), "
            "least recently used deleted first"
        )
        return 0
    count = modules.clear(args.dir)
    root = modules.info(args.dir).root
    print(f"deleted {count} compiled module{'' if count == 1 else 's'} from {root}")
    return 0


class _Refused(Exception):
    """A command's one-line complaint about its arguments."""


def _load(source: str) -> Any:
    """The value `NAME` in `SCRIPT:NAME` (a function of no arguments is called), or the
    graph saved in the file `source` (graph.save, tf.train.export_meta_graph)."""
    if os.path.isfile(source) and not source.endswith(".py"):
        return load_graph(source)
    script, _, name = source.rpartition(":")
    if not script or not name:
        raise _Refused(f"expected SCRIPT:NAME, got {source!r}")
    if script.endswith(".py"):
        namespace = runpy.run_path(script, run_name="__graphc_cli__")
    else:
        namespace = vars(importlib.import_module(script))
    if name not in namespace:
        raise _Refused(f"{script} defines no {name!r}")
    value = namespace[name]
    drawable = (Executable, Graph, Node, Operation, viz.BackpropView)
    if callable(value) and not isinstance(value, drawable) and not hasattr(value, "graph"):
        value = value()
    return value


def _export(args: argparse.Namespace) -> int:
    exe = _load(args.source)
    if not isinstance(exe, Executable):
        raise _Refused(f"{args.source} is not an Executable (what make_callable returns)")
    path = exe.export(args.dest, overwrite=args.overwrite)
    print(f"exported {args.source.rpartition(':')[2]} to {path}")
    return 0


def _graph_and_fetches(value: Any) -> tuple[Graph, list[Node]]:
    """What a command works on: a graph and the tensors to compute (a tensor or op: its
    graph cut at it; a graph or session: every op nothing else reads)."""
    if isinstance(value, Operation):
        value = value.node
    if isinstance(value, Node):
        return value.graph, [value]
    graph = value if isinstance(value, Graph) else getattr(value, "graph", None)
    if not isinstance(graph, Graph):
        raise _Refused(f"expected a graph, session, step, tensor or op, got {type(value).__name__}")
    read = {id(x) for n in graph.nodes for x in (*n.inputs, *n.control_inputs)}
    return graph, [n for n in graph.nodes if id(n) not in read]


def _inspect(args: argparse.Namespace) -> int:
    value = _load(args.source)
    if isinstance(value, Executable):
        graph = value.graph  # the optimized one
    else:
        graph = Graph.from_outputs(_graph_and_fetches(value)[1])
    print(graph.as_text())
    counts = Counter(n.opdef.type_name for n in graph.nodes)
    print(f"{len(graph.nodes)} ops: " + ", ".join(f"{t} {c}" for t, c in counts.most_common()))
    variables = [n for n in graph.nodes if n.opdef.name == "variable"]
    size = sum(int(np.prod(v.type.shape)) for v in variables if v.type.shape is not None)
    print(f"{len(variables)} variables, {size} parameters")
    return 0


def _optimize(args: argparse.Namespace) -> int:
    value = _load(args.source)
    if isinstance(value, Executable):
        optimized, report = value.graph, value.report
    else:
        _, fetches = _graph_and_fetches(value)
        optimized, report = optimize(fetches)
    print(report.details() if args.details else report)
    print(optimized.as_text())
    return 0


def _source(args: argparse.Namespace) -> int:
    value = _load(args.source)
    if not isinstance(value, Executable):
        graph, fetches = _graph_and_fetches(value)
        cut = Graph.from_outputs(fetches)
        feeds = [n for n in cut.nodes if n.opdef.name == "placeholder"]
        value = Session(graph=graph, target="cpu").make_callable(fetches, feeds)
    print(value.source, end="")
    return 0


def _viz(args: argparse.Namespace) -> int:
    value = _load(args.source)
    if args.backprop is not None:
        value = _backprop_view(value, args)
    elif args.optimized and not isinstance(value, Executable):
        _, fetches = _graph_and_fetches(value)
        graph, report = optimize(fetches)
        value = SimpleNamespace(graph=graph, report=report)  # drawn as a step's graph
    fetches = None
    if isinstance(value, Node | Operation):
        value, fetches = value.graph, value
    path = viz.render(value, args.out, fetches=fetches, collapse=args.collapse)
    print(f"wrote {path}")
    return 0


def _backprop_view(value: Any, args: argparse.Namespace) -> viz.BackpropView:
    """One evaluation of the loss (NAME, or --loss in NAME's graph) with the feeds in the
    .npz --backprop (keys: tensor names), variables initialized or restored from
    --checkpoint, on the reference executor (nothing to compile)."""
    graph, fetches = _graph_and_fetches(value)
    if not args.loss and not isinstance(value, Node):
        raise _Refused("name the loss: SCRIPT:LOSS, or --loss NAME for a graph")
    loss = graph.get_tensor_by_name(_tensor_name(args.loss)) if args.loss else fetches[0]
    with np.load(args.backprop, allow_pickle=False) as stored:
        feeds = {graph.get_tensor_by_name(_tensor_name(k)): stored[k] for k in stored.files}
    sess = Session(graph=graph, target="numpy")
    if args.checkpoint:
        Saver(graph.get_collection("variables")).restore(sess, args.checkpoint)
    else:
        sess.run(list(graph.initializers.values()))
    return viz.backprop(sess, loss, feeds)


def _tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="graphc", description="graphc's command line")
    commands = top.add_subparsers(dest="command", required=True)
    cache = commands.add_parser("cache", help="the compile cache: where, how big; clear it")
    cache.add_argument("action", choices=("info", "clear"))
    where = "the cache folder (default: $GRAPHC_CACHE_DIR, else ~/.cache/graphc)"
    cache.add_argument("--dir", help=where)
    cache.set_defaults(run=_cache)
    export = commands.add_parser("export", help="write a step as a package without graphc")
    export.add_argument("source", help="SCRIPT:NAME, NAME an Executable or a function making one")
    export.add_argument("dest", help="the package folder to write (its name is the package's)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing DEST")
    export.set_defaults(run=_export)
    for name, run, about in (
        ("inspect", _inspect, "the graph as text, its ops by type and its parameter count"),
        ("optimize", _optimize, "what the optimization passes do to a graph"),
        ("source", _source, "the code the cpu target generates (nothing is compiled)"),
    ):
        command = commands.add_parser(name, help=about)
        command.add_argument("source", help="SCRIPT:NAME, NAME a graph, session, step or tensor")
        command.set_defaults(run=run)
        if name == "optimize":
            command.add_argument("--details", action="store_true", help="list every change")
    draw = commands.add_parser("viz", help="draw a graph, an optimized step or a backprop view")
    draw.add_argument("source", help="SCRIPT:NAME, NAME a Graph, Session, Executable, tensor...")
    draw.add_argument("-o", "--out", required=True, help="the file: .html, .dot, .svg, .png, .pdf")
    draw.add_argument("--collapse", nargs="*", default=[], help="name scopes drawn as one box")
    draw.add_argument("--optimized", action="store_true", help="draw the graph after the passes")
    draw.add_argument(
        "--backprop", metavar="FEEDS.npz", help="the backprop view, fed these arrays by name"
    )
    draw.add_argument("--loss", help="with --backprop on a graph: the loss tensor's name")
    draw.add_argument("--checkpoint", help="with --backprop: restore the variables from it")
    draw.set_defaults(run=_viz)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (OSError, GraphcError, _Refused) as exc:
        print(f"graphc {args.command}: {exc}", file=sys.stderr)
        return 1
