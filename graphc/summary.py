"""`graphc.summary`: TF1's `tf.summary`: scalars and histograms written as TensorBoard events.

Design. graphc has no string dtype, and a summary's value, the serialized bytes of a
`Summary` protocol buffer, is nothing a backend computes. So a summary is not an op:
`scalar` and `histogram` return a `SummaryTensor`, a `graphc.feeds.HostValue` naming
the numeric tensor it reads. `Session.run` (and the executables of `make_callable`)
fetch that tensor with the rest of the run, compiled as usual, and the summary
serializes its value in Python after the run (`feeds.flatten` is the one seam). An op
with a bytes output would instead need a non-numeric tensor type that every pass,
backend and the code generator would have to carry or skip.

Invariants:
- Importing graphc does not import tensorboardX: it is imported when the first summary
  or FileWriter is made, and its absence raises ImportError naming the extra
  (`pip install graphc[tensorboard]`).
- A summary's value is the serialized bytes of one `Summary`. A merged summary's value
  is the concatenation of its inputs' values, which protobuf parses as one `Summary`
  holding all their values (a repeated field's entries concatenate), as TF1's
  MergeSummary gives.
- Tags and names follow TF1's `summary_scope`: the name (with a family,
  `family/name`) in the current name scope, made unique as an op name is (the name is
  reserved: a later op or summary of that name gets `_1`); with a family the tag is
  `family/<that unique name>`.
- A summary is added to its collections (default `GraphKeys.SUMMARIES`) of the graph of
  the tensor it reads; `merge_all` merges a collection in the order it was filled.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np

from graphc.compat import missing_names
from graphc.errors import InvalidArgumentError
from graphc.feeds import HostValue
from graphc.graph import Graph, GraphKeys, get_collection, get_default_graph
from graphc.ir import SESSION, Node
from graphc.ops import convert

_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")
_EXTRA_HINT = "pip install graphc[tensorboard]"


def _tensorboardx(module: str = "summary") -> ModuleType:
    """`tensorboardX.<module>`, imported on first use; ImportError naming the extra."""
    try:
        return importlib.import_module(f"tensorboardX.{module}")
    except ImportError as exc:
        raise ImportError(
            "tf.summary writes TensorBoard event files with tensorboardX, which is not "
            f"installed: {_EXTRA_HINT}"
        ) from exc


def clean_tag(name: str) -> str:
    """TF1's clean_tag: characters outside `[-/\\w.]` become '_', leading '/' go."""
    return _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")


class SummaryTensor(HostValue):
    """What a summary function returns: fetch it to get serialized `Summary` bytes.

    `name` is TF1's tensor name (`<op name>:0`), `tag` the series name TensorBoard shows.
    """

    def __init__(self, op_name: str, tag: str, tensors: tuple[Any, ...], graph: Graph) -> None:
        self.op_name, self.tag, self.tensors, self.graph = op_name, tag, tensors, graph

    @property
    def name(self) -> str:
        return f"{self.op_name}:0"

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> bytes:
        """Runs this summary in `session` or the default session (TF1's `Tensor.eval`)."""
        return (session or SESSION["default"]()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<graphc.summary.{type(self).__name__} '{self.name}' tag='{self.tag}'>"


class Scalar(SummaryTensor):
    """A scalar summary: its value is a `Summary` with one `simple_value`."""

    def value(self, values: list[Any]) -> bytes:
        array = np.asarray(values[0])
        if array.ndim != 0:  # a tensor of unknown shape that turned out not scalar
            raise InvalidArgumentError(
                f"tags and values not the same shape: [] != {list(array.shape)} (tag '{self.tag}')"
            )
        return _tensorboardx().scalar(self.tag, float(array)).SerializeToString()


class Histogram(SummaryTensor):
    """A histogram summary over TF1's default buckets (powers of 1.1 from 1e-12 to 1e20)."""

    def value(self, values: list[Any]) -> bytes:
        array = np.asarray(values[0], np.float64).reshape(-1)
        if not np.all(np.isfinite(array)):
            raise InvalidArgumentError(f"Nan in summary histogram for: {self.op_name}")
        if array.size == 0:  # TF1 writes an empty histogram; tensorboardX cannot
            return _tensorboardx("proto.summary_pb2").Summary().SerializeToString()
        summary = _tensorboardx().histogram(self.tag, array, bins=_tf_bucket_edges())
        return summary.SerializeToString()


class Merged(SummaryTensor):
    """Several summaries as one: the concatenation of their serialized bytes."""

    def value(self, values: list[Any]) -> bytes:
        return b"".join(values)


_BUCKET_EDGES: list[float] = []


def _tf_bucket_edges() -> list[float]:
    """TF1's default histogram bucket limits (histogram.cc), as edges for np.histogram."""
    if not _BUCKET_EDGES:
        positive, v = [], 1e-12
        while v < 1e20:
            positive.append(v)
            v *= 1.1
        _BUCKET_EDGES.extend([-x for x in reversed(positive)] + [0.0] + positive)
    return _BUCKET_EDGES


def _summary_names(graph: Graph, name: str, family: str | None) -> tuple[str, str]:
    """(op name, tag) as TF1's summary_scope makes them (see the module's invariants)."""
    name = clean_tag(name)
    family = clean_tag(family) if family is not None else None
    op_name = graph.unique_name(name if family is None else f"{family}/{name}")
    return op_name, op_name if family is None else f"{family}/{op_name}"


def _register(summary: SummaryTensor, collections: Iterable[Any] | None) -> SummaryTensor:
    _tensorboardx()  # fail when the summary is built, not at the first run
    summary.graph.add_to_collections(
        list(collections) if collections is not None else [GraphKeys.SUMMARIES], summary
    )
    return summary


def _tensor(value: Any, function: str) -> Node:
    """`value` as a tensor (a constant for Python values); an op without output raises."""
    node = convert(value)
    if node.type is None:
        raise InvalidArgumentError(
            f"tf.summary.{function} needs a tensor; '{node.op_name}' is an op without output"
        )
    return node


def scalar(
    name: str, tensor: Any, collections: Iterable[Any] | None = None, family: str | None = None
) -> SummaryTensor:
    """A summary of one real number: fetching it gives a serialized `Summary` (TF1's)."""
    node = _tensor(tensor, "scalar")
    if node.type.shape is not None and node.type.shape != ():
        raise InvalidArgumentError(
            f"tf.summary.scalar('{name}') needs a scalar tensor; '{node.name}' has shape "
            f"{list(node.type.shape)}"
        )
    op_name, tag = _summary_names(node.graph, name, family)
    return _register(Scalar(op_name, tag, (node,), node.graph), collections)


def histogram(
    name: str, values: Any, collections: Iterable[Any] | None = None, family: str | None = None
) -> SummaryTensor:
    """A histogram summary of `values` (any shape; non-finite values fail the run, as TF1)."""
    node = _tensor(values, "histogram")
    op_name, tag = _summary_names(node.graph, name, family)
    return _register(Histogram(op_name, tag, (node,), node.graph), collections)


def merge(
    inputs: Iterable[Any], collections: Iterable[Any] | None = None, name: str | None = None
) -> SummaryTensor:
    """One summary holding the values of all `inputs` (summaries), as TF1's merge."""
    inputs = list(inputs)
    for item in inputs:
        if not isinstance(item, SummaryTensor):
            raise TypeError(
                f"tf.summary.merge takes summaries (from tf.summary.scalar, histogram or "
                f"merge), got {item!r}: graphc has no string tensors"
            )
    graph = inputs[0].graph if inputs else get_default_graph()
    op_name = f"{graph.unique_name(name or 'Merge')}/MergeSummary"
    merged = Merged(op_name, op_name, tuple(inputs), graph)
    if collections:
        graph.add_to_collections(list(collections), merged)
    return merged


def merge_all(
    key: str = GraphKeys.SUMMARIES, scope: str | None = None, name: str | None = None
) -> SummaryTensor | None:
    """All summaries of collection `key` (of the default graph) merged; None if there are
    none, as TF1's."""
    summaries = get_collection(key, scope=scope)
    return merge(summaries, name=name) if summaries else None


def to_graph_def(graph: Graph) -> Any:
    """A `GraphDef` of `graph` for TensorBoard: each op's name, type, inputs and control
    inputs (`^name`), in creation order, with its output's dtype (`T`) and static shape
    (`_output_shapes`, unknown dims -1), which TensorBoard's Graphs tab shows on edges."""
    graph_pb2 = _tensorboardx("proto.graph_pb2")
    node_def_pb2 = _tensorboardx("proto.node_def_pb2")
    nodes = []
    for op in graph.get_operations():
        node = node_def_pb2.NodeDef(
            name=op.name,
            op=op.type,
            input=[n.op_name for n in op.inputs] + [f"^{c.name}" for c in op.control_inputs],
        )
        if op.node.type is not None:
            _describe_output(node, op.node.type.dtype.name, op.node.type.shape)
        nodes.append(node)
    return graph_pb2.GraphDef(node=nodes)


def _describe_output(node: Any, dtype: str, shape: tuple | None) -> None:
    """Sets a NodeDef's `T` and `_output_shapes` attrs (TF's names for them)."""
    attr_pb2 = _tensorboardx("proto.attr_value_pb2")
    shape_pb2 = _tensorboardx("proto.tensor_shape_pb2")
    types_pb2 = _tensorboardx("proto.types_pb2")
    enum = "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(
        dtype, dtype.upper()
    )
    if enum in types_pb2.DataType.DESCRIPTOR.values_by_name:
        node.attr["T"].CopyFrom(attr_pb2.AttrValue(type=types_pb2.DataType.Value(enum)))
    if shape is None:
        proto = shape_pb2.TensorShapeProto(unknown_rank=True)
    else:
        dims = [shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d) for d in shape]
        proto = shape_pb2.TensorShapeProto(dim=dims)
    shapes = attr_pb2.AttrValue(list=attr_pb2.AttrValue.ListValue(shape=[proto]))
    node.attr["_output_shapes"].CopyFrom(shapes)


class FileWriter:
    """Writes summaries and the graph to a TensorBoard event file in `logdir` (TF1's).

    Events go through tensorboardX's event file writer, which queues them and flushes
    every `flush_secs`, when `max_queue` are pending, and on `flush()` and `close()`.
    """

    def __init__(
        self,
        logdir: Any,
        graph: Graph | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
    ) -> None:
        writer = _tensorboardx("writer")
        self._events = _tensorboardx("proto.event_pb2")
        self._writer = writer.FileWriter(str(logdir), max_queue, flush_secs, filename_suffix or "")
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def get_logdir(self) -> str:
        return self._writer.get_logdir()

    def add_summary(self, summary: Any, global_step: int | None = None) -> None:
        """Adds a `Summary`: the bytes a fetched summary gives, or a `Summary` proto."""
        if isinstance(summary, bytes | bytearray | np.bytes_):
            proto = _tensorboardx("proto.summary_pb2").Summary()
            proto.ParseFromString(bytes(summary))
            summary = proto
        self.add_event(self._events.Event(summary=summary), global_step)

    def add_graph(
        self, graph: Graph | None, global_step: int | None = None, graph_def: Any = None
    ) -> None:
        """Adds the graph (op names, types and inputs: see `to_graph_def`) for TensorBoard."""
        proto = graph_def if graph_def is not None else to_graph_def(graph)
        self.add_event(self._events.Event(graph_def=proto.SerializeToString()), global_step)

    def add_event(self, event: Any, global_step: int | None = None) -> None:
        """Adds an `Event` proto, stamped with the wall time and `global_step`."""
        self._writer.add_event(event, global_step, time.time())

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the file; `reopen()` starts a new one."""
        self._writer.close()

    def reopen(self) -> None:
        self._writer.reopen()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_WRITERS: dict[str, FileWriter] = {}  # FileWriterCache's writers, by log directory


class FileWriterCache:
    """One FileWriter per log directory, shared (TF1's `tf.summary.FileWriterCache`)."""

    @staticmethod
    def get(logdir: Any) -> FileWriter:
        """The writer of `logdir`, made (with the default graph) on first use."""
        key = str(logdir)
        if key not in _WRITERS:
            _WRITERS[key] = FileWriter(key, graph=get_default_graph())
        return _WRITERS[key]

    @staticmethod
    def clear() -> None:
        """Closes and forgets every cached writer."""
        for writer in _WRITERS.values():
            writer.close()
        _WRITERS.clear()


__all__ = [
    "FileWriter",
    "FileWriterCache",
    "histogram",
    "merge",
    "merge_all",
    "scalar",
]
__getattr__ = missing_names(__name__, "tf.summary")  # a TF1 name graphc lacks says so
