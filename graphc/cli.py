"""The command line: `python -m graphc <command>` (also the `graphc` script).

Commands:
  cache info [--dir D]    where the compile cache is, how many modules, how big
  cache clear [--dir D]   delete every compiled module graphc cached there
  export SCRIPT:NAME DEST [--overwrite]
                          run SCRIPT (a .py file, or a module name), take its NAME (an
                          Executable, or a function of no arguments returning one) and
                          export it as the package folder DEST (graphc.export)

Invariants: each command prints what it did to stdout and returns 0, or prints the
problem to stderr and returns 1; nothing here runs a graph.
"""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys
from collections.abc import Sequence

from graphc.codegen import compile as modules
from graphc.errors import GraphcError
from graphc.executable import Executable


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


def _export(args: argparse.Namespace) -> int:
    script, _, name = args.source.rpartition(":")
    if not script or not name:
        print(f"graphc export: expected SCRIPT:NAME, got {args.source!r}", file=sys.stderr)
        return 1
    if script.endswith(".py"):
        namespace = runpy.run_path(script, run_name="__graphc_export__")
    else:
        namespace = vars(importlib.import_module(script))
    if name not in namespace:
        print(f"graphc export: {script} defines no {name!r}", file=sys.stderr)
        return 1
    value = namespace[name]
    exe = value() if callable(value) and not isinstance(value, Executable) else value
    if not isinstance(exe, Executable):
        what = f"{name} is not an Executable (what make_callable returns)"
        print(f"graphc export: {what}", file=sys.stderr)
        return 1
    path = exe.export(args.dest, overwrite=args.overwrite)
    print(f"exported {name} to {path}")
    return 0


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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (OSError, GraphcError) as exc:
        print(f"graphc {args.command}: {exc}", file=sys.stderr)
        return 1
