"""TF1's initializers (`tf.*_initializer`, `tf.initializers.*`): objects called as
`init(shape, dtype=None, partition_info=None)` that build a tensor of that shape.

They are what `get_variable(initializer=...)` calls. The formulas are TF1's
(`init_ops`): variance scaling divides `scale` by `fan_in`, `fan_out` or their mean
(`compute_fans`: a conv kernel's fans are its receptive field times its in- or
out-channels) and draws from a normal truncated at two standard deviations
(stddev `sqrt(scale) / 0.87962566103423978`, so the samples have variance
`scale`), an untruncated normal (stddev `sqrt(scale)`), or a uniform on
`[-sqrt(3 scale), sqrt(3 scale)]`; glorot_uniform is its fan_avg uniform,
`limit = sqrt(6 / (fan_in + fan_out))`.

Invariants: an initializer holds only Python values; each call builds new ops in
the default graph. Random initializers are random ops with the initializer's `seed`
as op seed, so a graph seed and an op seed reproduce the same values (TF1's rule).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphc.compat import missing_names
from graphc.errors import InvalidArgumentError
from graphc.ir import Node
from graphc.ops import random as random_ops
from graphc.ops import shape as shape_ops
from graphc.ops import state as state_ops
from graphc.types import DType, as_dtype, float32
from graphc.variables import (
    global_variables_initializer,
    local_variables_initializer,
    variables_initializer,
)

# std of a standard normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2))
TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as TF1: a scalar 1 and 1, a vector its length
    twice, a matrix (in, out), a conv kernel (..., in, out) times its receptive field."""
    shape = [int(d) for d in shape]
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _float_dtype(dtype: Any) -> DType:
    dtype = as_dtype(dtype)
    if not dtype.is_floating:
        raise InvalidArgumentError(f"Expected floating point type, got {dtype.name}.")
    return dtype


class Initializer:
    """Base class: `init(shape, dtype=None, partition_info=None)` returns a tensor."""

    dtype: DType = float32

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Node:
        return self._build(_shape_list(shape), as_dtype(self.dtype if dtype is None else dtype))

    def _build(self, shape: list[int], dtype: DType) -> Node:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)


def _shape_list(shape: Any) -> list[int]:
    dims = [shape] if isinstance(shape, int | np.integer) else list(shape)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0:
            raise InvalidArgumentError(
                f"an initializer needs a fully known shape of ints >= 0, got {list(dims)}"
            )
    return [int(d) for d in dims]


class Zeros(Initializer):
    """All zeros (`tf.zeros_initializer`)."""

    def __init__(self, dtype: Any = float32) -> None:
        self.dtype = as_dtype(dtype)

    def _build(self, shape: list[int], dtype: DType) -> Node:
        return shape_ops.zeros(shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Ones(Zeros):
    """All ones (`tf.ones_initializer`)."""

    def _build(self, shape: list[int], dtype: DType) -> Node:
        return shape_ops.ones(shape, dtype)


class Constant(Initializer):
    """`value` (a scalar, list or array) in the requested shape, as TF1's constant_v1:
    a scalar fills the shape; a shorter list is padded with its last element; a longer
    one raises; with `verify_shape`, the shapes must be equal."""

    def __init__(self, value: Any = 0, dtype: Any = float32, verify_shape: bool = False) -> None:
        if not (np.isscalar(value) or isinstance(value, list | tuple | np.ndarray)):
            raise InvalidArgumentError(
                f"Invalid type for initial value: {type(value).__name__} (expected Python "
                "scalar, list or tuple of values, or numpy.ndarray)."
            )
        self.value, self.dtype, self._verify = value, as_dtype(dtype), verify_shape

    def __call__(
        self, shape: Any, dtype: Any = None, partition_info: Any = None, verify_shape: Any = None
    ) -> Node:
        dims = _shape_list(shape)
        dtype = as_dtype(self.dtype if dtype is None else dtype)
        verify = self._verify if verify_shape is None else verify_shape
        return state_ops.constant(self._filled(dims, verify), dtype=dtype)

    def _filled(self, dims: list[int], verify: bool) -> np.ndarray:
        flat = np.asarray(self.value)
        needed = math.prod(dims)
        if verify and flat.shape != tuple(dims):
            raise InvalidArgumentError(f"Expected Tensor's shape: {tuple(dims)}, got {flat.shape}.")
        flat = flat.reshape(-1)
        if flat.size > needed:
            raise InvalidArgumentError(
                f"Too many elements provided. Needed at most {needed}, but received {flat.size}"
            )
        if flat.size == 0 and needed:
            raise InvalidArgumentError(f"no value to fill shape {dims} with")
        padded = np.concatenate([flat, np.repeat(flat[-1:], needed - flat.size)])
        return padded.reshape(dims)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, "dtype": self.dtype.name, "verify_shape": self._verify}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval) (maxval None: 1 for floats; required for ints)."""

    def __init__(
        self, minval: Any = 0.0, maxval: Any = None, seed: int | None = None, dtype: Any = float32
    ) -> None:
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, as_dtype(dtype)

    def _build(self, shape: list[int], dtype: DType) -> Node:
        return random_ops.random_uniform(shape, self.minval, self.maxval, dtype, seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {
            "minval": self.minval,
            "maxval": self.maxval,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class RandomNormal(Initializer):
    """Normal with `mean` and `stddev`."""

    _draw = staticmethod(random_ops.random_normal)

    def __init__(
        self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None, dtype: Any = float32
    ) -> None:
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, _float_dtype(dtype)

    def _build(self, shape: list[int], dtype: DType) -> Node:
        return self._draw(shape, self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "stddev": self.stddev,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class TruncatedNormal(RandomNormal):
    """Normal with `mean` and `stddev`, values beyond two stddevs redrawn (so the samples'
    standard deviation is 0.8796 `stddev`)."""

    _draw = staticmethod(random_ops.truncated_normal)


class VarianceScaling(Initializer):
    """Samples of variance `scale / n`, n the fan_in, fan_out or their mean (`mode`), from a
    truncated normal, an untruncated normal or a uniform (`distribution`), as TF1."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        dtype: Any = float32,
    ) -> None:
        if not scale > 0.0:
            raise InvalidArgumentError(f"`scale` must be positive float, got {scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise InvalidArgumentError(f"Invalid `mode` argument: {mode!r}")
        kind = distribution.lower() if isinstance(distribution, str) else distribution
        if kind not in ("normal", "uniform", "truncated_normal", "untruncated_normal"):
            raise InvalidArgumentError(f"Invalid `distribution` argument: {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, kind
        self.seed, self.dtype = seed, _float_dtype(dtype)

    def variance(self, shape: Any) -> float:
        """scale / max(1, n): the variance of the samples for a weight of `shape`."""
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        return self.scale / max(1.0, n[self.mode])

    def _build(self, shape: list[int], dtype: DType) -> Node:
        variance = self.variance(shape)
        if self.distribution in ("normal", "truncated_normal"):  # TF1 reads "normal" so
            stddev = math.sqrt(variance) / TRUNCATED_STDDEV
            return random_ops.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(variance), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * variance)
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class GlorotUniform(VarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Xavier)."""

    def __init__(self, seed: int | None = None, dtype: Any = float32) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(GlorotUniform):
    """Truncated normal of variance 2 / (fan_in + fan_out) (Xavier)."""

    def __init__(self, seed: int | None = None, dtype: Any = float32) -> None:
        VarianceScaling.__init__(self, 1.0, "fan_avg", "truncated_normal", seed, dtype)


def he_normal(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def lecun_normal(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def lecun_uniform(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


# TF1's lowercase names: `tf.zeros_initializer()`, `tf.initializers.zeros()`, ...
zeros_initializer = zeros = Zeros
ones_initializer = ones = Ones
constant_initializer = constant = Constant
random_uniform_initializer = random_uniform = RandomUniform
random_normal_initializer = random_normal = RandomNormal
truncated_normal_initializer = truncated_normal = TruncatedNormal
variance_scaling_initializer = variance_scaling = VarianceScaling
glorot_uniform_initializer = glorot_uniform = GlorotUniform
glorot_normal_initializer = glorot_normal = GlorotNormal

# `tf.initializers.global_variables()` and its kin
global_variables = global_variables_initializer
local_variables = local_variables_initializer
variables = variables_initializer

__getattr__ = missing_names(__name__, "tf.initializers")  # a TF1 name graphc lacks says so
