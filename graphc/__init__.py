"""graphc: a static-graph compiler for Python with TensorFlow 1's API.

`import graphc as tf` runs TF1-style scripts: build a graph of placeholders,
variables and ops, take `gradients`, and run it in a `Session`. This module
holds the public names only.
"""

from graphc import app as app  # tf.app.run, tf.app.flags
from graphc import (
    debugging,
    errors,
    initializers,
    layers,
    losses,
    metrics,
    nn,
    summary,
    test,
    train,
    viz,
)
from graphc import flags as flags
from graphc import gfile as gfile
from graphc import tf_io as io
from graphc import tf_logging as logging
from graphc._version import __version__
from graphc.autodiff import gradients, jvp
from graphc.clip import clip_by_global_norm, clip_by_norm, global_norm
from graphc.compat import missing_names as _missing_names
from graphc.config import (  # accepted by Session and run; docs/tf1-compat.md: what is honoured
    ConfigProto,
    GPUOptions,
    GraphOptions,
    OptimizerOptions,
    RunMetadata,
    RunOptions,
)
from graphc.executable import Executable, optimize
from graphc.graph import (
    Graph,
    GraphKeys,
    add_to_collection,
    add_to_collections,
    control_dependencies,
    get_collection,
    get_collection_ref,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
from graphc.initializers import (
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from graphc.ir import Node as Tensor
from graphc.ir import Operation
from graphc.ops import collective as _collective_ops  # registers allreduce (graphc.distributed)
from graphc.ops import fused as _fused_ops  # registers the fused-kernel ops
from graphc.ops.asserts import (
    Assert,
    assert_equal,
    assert_greater,
    assert_greater_equal,
    assert_less,
    assert_less_equal,
    assert_negative,
    assert_non_negative,
    assert_non_positive,
    assert_none_equal,
    assert_positive,
    check_numerics,
)
from graphc.ops.casts import saturate_cast, to_double, to_float, to_int32, to_int64
from graphc.ops.control import case, cond
from graphc.ops.elementwise import (
    abs,
    add,
    add_n,
    cast,
    ceil,
    clip_by_value,
    cos,
    div,
    div_no_nan,
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
from graphc.ops.gather_nd import gather_nd
from graphc.ops.index import concat, gather, one_hot, slice, split, stack, unstack
from graphc.ops.linalg import einsum, matmul, tensordot
from graphc.ops.printing import Print, print
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
from graphc.ops.state import constant, group, no_op, placeholder, placeholder_with_default
from graphc.ops.truth import count_nonzero, reduce_all, reduce_any
from graphc.saved_graph import load_graph
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
from graphc.variable_scope import (
    AUTO_REUSE,
    VariableScope,
    get_local_variable,
    get_variable,
    get_variable_scope,
    no_regularizer,
    variable_scope,
)
from graphc.variables import (
    Variable,
    all_variables,
    assign,
    assign_add,
    assign_sub,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    initialize_local_variables,
    local_variables,
    local_variables_initializer,
    model_variables,
    moving_average_variables,
    trainable_variables,
    variables_initializer,
)

sub = subtract
mul = multiply
truediv = divide
realdiv = divide
floor_div = floordiv
floormod = mod

__getattr__ = _missing_names(__name__, "tf")  # a TF1 name graphc lacks says so


def log_sigmoid(x: object) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return negative(nn.softplus(negative(x)))
