"""`tf.io`: TF1's `tf.io.gfile`, the lowercase spellings of `tf.gfile`'s functions
(`exists`, `makedirs`, `glob`, `GFile`, ...); the same module as `tf.gfile`."""

from __future__ import annotations

from graphc import gfile
from graphc.compat import missing_names

__all__ = ["gfile"]

__getattr__ = missing_names(__name__, "tf.io")
