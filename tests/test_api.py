"""Every name SPEC.md §1-§3 promises exists under TF1's spelling."""

import pytest

import graphc as tf

TOP = [
    "Graph",
    "get_default_graph",
    "reset_default_graph",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool",
    "placeholder",
    "constant",
    "Variable",
    "global_variables_initializer",
    "variables_initializer",
    "global_variables",
    "trainable_variables",
    "name_scope",
    "control_dependencies",
    "group",
    "identity",
    "no_op",
    "stop_gradient",
    "set_random_seed",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "add",
    "subtract",
    "multiply",
    "divide",
    "floordiv",
    "mod",
    "negative",
    "abs",
    "sign",
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "rsqrt",
    "square",
    "pow",
    "maximum",
    "minimum",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "erf",
    "floor",
    "ceil",
    "round",
    "clip_by_value",
    "where",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "cast",
    "is_nan",
    "is_finite",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "reduce_logsumexp",
    "argmax",
    "argmin",
    "matmul",
    "tensordot",
    "einsum",
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "concat",
    "stack",
    "split",
    "tile",
    "pad",
    "broadcast_to",
    "gather",
    "one_hot",
    "slice",
    "shape",
    "size",
    "rank",
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "fill",
    "range",
    "gradients",
    "jvp",
    "Session",
    "InteractiveSession",
    "get_default_session",
]
NN = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "bias_add",
    "dropout",
    "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits",
    "l2_loss",
    "conv2d",
    "max_pool",
    "avg_pool",
    "in_top_k",
]
TRAIN = [
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "AdamOptimizer",
    "RMSPropOptimizer",
    "AdagradOptimizer",
    "get_or_create_global_step",
]


@pytest.mark.parametrize(
    ("module", "name"),
    [(tf, n) for n in TOP]
    + [(tf.nn, n) for n in NN]
    + [(tf.train, n) for n in TRAIN]
    + [(tf.losses, n) for n in ("mean_squared_error", "sparse_softmax_cross_entropy")]
    + [(tf.losses, "softmax_cross_entropy"), (tf.test, "compute_gradient_error")],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_spec_name_exists(module, name):
    assert callable(getattr(module, name)) or isinstance(getattr(module, name), tf.DType)


def test_optimizers_have_minimize_compute_apply():
    for name in TRAIN[:-1]:
        cls = getattr(tf.train, name)
        for method in ("minimize", "compute_gradients", "apply_gradients"):
            assert callable(getattr(cls, method))


def test_errors_derive_from_graphc_error():
    from graphc import errors

    for name in ("ShapeError", "DTypeError", "InvalidArgumentError", "FailedPreconditionError"):
        assert issubclass(getattr(errors, name), errors.GraphcError)
