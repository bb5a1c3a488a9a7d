"""Small data sets bundled with graphc (nothing is downloaded). See README.md for sources."""

from __future__ import annotations

import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits: images (uint8 0..16, (1797, 8, 8)) and labels (0..9)."""
    with np.load(os.path.join(_HERE, "digits.npz")) as data:
        return data["images"], data["labels"]


def digits_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Digits as float32 rows in [0, 1], shuffled and split: x_train, y_train, x_test, y_test."""
    images, labels = load_digits()
    order = np.random.default_rng(seed).permutation(len(labels))
    x = (images.reshape(len(labels), 64) / 16.0).astype(np.float32)[order]
    y = labels.astype(np.int64)[order]
    n_test = int(len(y) * test_fraction)
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]
