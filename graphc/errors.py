"""Every error graphc raises derives from `GraphcError`.

Errors raised while building a graph name the op and the user's file:line;
errors raised by `Session.run` name the tensor and are raised before anything
runs, so a failed run changes no variable.

The errors TF1 raises at run time keep TF1's names and status codes: each derives
from `OpError` and carries `error_code` (one of the constants below, TF1's values).
"""

from __future__ import annotations

from graphc.compat import missing_names

# TF1's status codes (tf.errors.OK ... tf.errors.UNAUTHENTICATED), with TF1's values.
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class GraphcError(Exception):
    """Base class of every graphc error."""


class OpError(GraphcError):
    """TF1's base of the errors that carry a status code (`error_code`)."""

    error_code: int = UNKNOWN
    node_def: object = None  # TF1's node_def and op: graphc names the op in the message
    op: object = None

    @property
    def message(self) -> str:
        """The error's message (TF1's `OpError.message`)."""
        return str(self)


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit an op (at op creation) or a placeholder (at feed time)."""


class DTypeError(GraphcError, TypeError):
    """Dtypes that do not fit an op, or a fed value that would lose information."""


class InvalidArgumentError(OpError, ValueError):
    """A bad argument at run time, such as an unfed placeholder (TF1's name)."""

    error_code = INVALID_ARGUMENT


class FailedPreconditionError(OpError, RuntimeError):
    """Reading a variable that was never initialized, or a file operation on a path of the
    wrong kind, such as a folder that is not empty (TF1's name)."""

    error_code = FAILED_PRECONDITION


class GraphMismatchError(GraphcError, ValueError):
    """Mixing tensors of different graphs, or fetching from another graph."""


class NotFoundError(OpError, FileNotFoundError):
    """A checkpoint, tensor or file that does not exist."""

    error_code = NOT_FOUND


class AlreadyExistsError(OpError, FileExistsError):
    """A file or folder that exists where a new one was to be made (TF1's name)."""

    error_code = ALREADY_EXISTS


class PermissionDeniedError(OpError, PermissionError):
    """A file the process may not read or write (or a GFile used against its mode)."""

    error_code = PERMISSION_DENIED


class ResourceExhaustedError(OpError):
    """The disk (or a quota) is full (TF1's name)."""

    error_code = RESOURCE_EXHAUSTED


class UnimplementedError(OpError, NotImplementedError):
    """An operation the platform does not support, such as a rename across devices."""

    error_code = UNIMPLEMENTED


class UnknownError(OpError):
    """An error that maps to no other status code (TF1's name)."""


class DataLossError(OpError, OSError):
    """A checkpoint (or saved graph) that is damaged, truncated or hostile: not a zip,
    a bad CRC, a pickled array, a bad .npy header, a size the file cannot hold. The
    message names the file and the member. An OSError, like `NotFoundError`, so one
    `except OSError` covers a checkpoint that is missing and one that is unreadable."""

    error_code = DATA_LOSS


class PassError(GraphcError, RuntimeError):
    """An optimization pass failed or returned an invalid graph."""


__getattr__ = missing_names(__name__, "tf.errors")  # a TF1 name graphc lacks says so
