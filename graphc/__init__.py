"""graphc: a static-graph compiler for Python with TensorFlow 1's API.

`import graphc as tf` runs TF1-style scripts: build a graph of placeholders,
variables and ops, take `gradients`, and run it in a `Session`. This module
holds the public names only.
"""

from graphc import errors, losses, nn, test, train
from graphc._version import __version__
from graphc.autodiff import gradients, jvp
from graphc.executable import Executable, optimize
from graphc.graph import (
    Graph,
    control_dependencies,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
from graphc.ir import Node as Tensor
from graphc.ir import Operation
from graphc.ops import fused as _fused_ops  # registers the fused-kernel ops
from graphc.ops.casts import saturate_cast, to_double, to_float, to_int32, to_int64
from graphc.ops.elementwise import (
    abs,
    add,
    add_n,
    cast,
    ceil,
    clip_by_value,
    cos,
    div,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floordiv,
    greater,
    greater_equal,
    identity,
    is_finite,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    stop_gradient,
    subtract,
    tanh,
    where,
    zeros_like,
)
from graphc.ops.index import concat, gather, one_hot, slice, split, stack, unstack
from graphc.ops.linalg import einsum, matmul, tensordot
from graphc.ops.random import random_normal, random_uniform, set_random_seed, truncated_normal
from graphc.ops.reduce import (
    arg_max,
    arg_min,
    argmax,
    argmin,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
)
from graphc.ops.scan import cumsum
from graphc.ops.shape import (
    broadcast_to,
    expand_dims,
    fill,
    ones,
    pad,
    rank,
    reshape,
    shape,
    size,
    squeeze,
    tile,
    transpose,
    zeros,
)
from graphc.ops.shape import range_ as range
from graphc.ops.state import constant, group, no_op, placeholder
from graphc.ops.truth import count_nonzero, reduce_all, reduce_any
from graphc.session import InteractiveSession, Session, get_default_session
from graphc.types import (
    DType,
    as_dtype,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
)
from graphc.types import bool_ as bool
from graphc.variables import (
    Variable,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    trainable_variables,
    variables_initializer,
)

sub = subtract
mul = multiply
truediv = divide
realdiv = divide
floor_div = floordiv
floormod = mod


def get_collection(key: str) -> list:
    """The default graph's collection `key`."""
    return get_default_graph().get_collection(key)


def add_to_collection(key: str, value: object) -> None:
    get_default_graph().add_to_collection(key, value)


def log_sigmoid(x: object) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return negative(nn.softplus(negative(x)))
