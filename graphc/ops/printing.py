"""TF1's printing ops: `tf.print` (PrintV2) and `tf.Print`, writing tensors' values when a
run executes them.

Both are one effectful op without output whose text both targets make with the same
function, `emit` (the compiled step calls it from an `objmode` block), so they print
the same bytes. `tf.print` runs when fetched or through `control_dependencies`, as in
TF1; `tf.Print` returns its input under such a dependency, so using the result prints.
Formats, as TF1's: `tf.print` writes its inputs separated by `sep`, arrays as NumPy
does with the first and last `summarize` entries of long axes; `tf.Print` writes
`message` and then each tensor as `[v1 v2 v3...]`, its first `summarize` values (floats
as `%g`), and stops after `first_n` runs of the op (counted per op name in a process,
where TF1 counts per session).
"""

from __future__ import annotations

from typing import Any

from graphc.graph import get_default_graph
from graphc.ir import Node, Operation
from graphc.ops import Fusion, checking, convert, defop
from graphc.ops.elementwise import identity
from graphc.printer import STREAMS, emit


def _print_numpy(ctx: Any, node: Node, *values: Any) -> None:
    emit(node.op_name, *(node.attrs[k] for k in ATTRS), *values)


print_op = defop(
    "print",
    "PrintV2",
    Fusion.OPAQUE,
    infer=lambda *values, **attrs: None,
    numpy=_print_numpy,
    differentiable=False,
    stateful=True,  # it counts its runs (first_n) under its name
    effectful=True,
)
ATTRS = ("first_n", "summarize", "style", "stream", "parts")  # emit's arguments after the key


def print(
    *inputs: Any,
    output_stream: Any = None,
    summarize: int = 3,
    sep: str = " ",
    end: str = "\n",
    name: str | None = None,
) -> Operation:
    """An op writing `inputs` (strings as they are, tensors formatted) to standard error,
    or to `output_stream` (sys.stdout or sys.stderr), when a run executes it."""
    stream = _stream(output_stream)
    with checking("PrintV2", name):
        tensors = [convert(x) for x in inputs if not isinstance(x, str)]
    parts: list[str | None] = []
    for k, x in enumerate(inputs):
        parts += [sep] if k else []
        parts.append(x if isinstance(x, str) else None)
    node = _node(tensors, "v2", stream, tuple([*parts, end]), -1, summarize, name or "PrintV2")
    return node.graph.operation(node)


def Print(
    input_: Any,
    data: Any,
    message: str | None = None,
    first_n: int | None = None,
    summarize: int | None = None,
    name: str | None = None,
) -> Node:
    """`input_`, once `message` and each `data` tensor have been written to standard error
    (TF1's tf.Print: at most `first_n` times, `summarize` values of each, default 3)."""
    graph = get_default_graph()
    with checking("Print", name):
        x, tensors = convert(input_), [convert(d) for d in data]
    parts = (message or "", *(None for _ in tensors), "\n")
    n = -1 if first_n is None else int(first_n)
    with graph.name_scope(name or "Print"):
        node = _node(tensors, "v1", "stderr", parts, n, summarize or 3, "Print")
        with graph.control_dependencies([node]):
            return identity(x)


def _node(
    tensors: list[Node],
    style: str,
    stream: str,
    parts: tuple,
    first_n: int,
    summarize: int,
    name: str,
) -> Node:
    attrs = {"first_n": first_n, "summarize": int(summarize), "style": style, "stream": stream}
    return print_op(*tensors, parts=parts, name=name, **attrs)


def _stream(output_stream: Any) -> str:
    for label, stream in STREAMS.items():
        if (output_stream is None and label == "stderr") or output_stream is stream():
            return label
    raise NotImplementedError(
        f"tf.print writes to sys.stderr or sys.stdout; got output_stream={output_stream!r}"
    )
