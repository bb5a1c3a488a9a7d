"""Every error graphc raises derives from `GraphcError`.

Errors raised while building a graph name the op and the user's file:line;
errors raised by `Session.run` name the tensor and are raised before anything
runs, so a failed run changes no variable.
"""

from __future__ import annotations


class GraphcError(Exception):
    """Base class of every graphc error."""


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit an op (at op creation) or a placeholder (at feed time)."""


class DTypeError(GraphcError, TypeError):
    """Dtypes that do not fit an op, or a fed value that would lose information."""


class InvalidArgumentError(GraphcError, ValueError):
    """A bad argument at run time, such as an unfed placeholder (TF1's name)."""


class FailedPreconditionError(GraphcError, RuntimeError):
    """Reading a variable that was never initialized (TF1's name)."""


class GraphMismatchError(GraphcError, ValueError):
    """Mixing tensors of different graphs, or fetching from another graph."""


class NotFoundError(GraphcError, FileNotFoundError):
    """A checkpoint or tensor that does not exist."""


class DataLossError(GraphcError, OSError):
    """A checkpoint (or saved graph) that is damaged, truncated or hostile: not a zip,
    a bad CRC, a pickled array, a bad .npy header, a size the file cannot hold. The
    message names the file and the member. An OSError, like `NotFoundError`, so one
    `except OSError` covers a checkpoint that is missing and one that is unreadable."""


class PassError(GraphcError, RuntimeError):
    """An optimization pass failed or returned an invalid graph."""
