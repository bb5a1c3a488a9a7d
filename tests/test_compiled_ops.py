"""Compiled (Numba) results against the reference executor, for every op case.

Cases are compiled in a few shared graphs (module-scoped), since each Numba
compile costs seconds; each case is still its own test item.
"""

import numpy as np
import pytest
from op_cases import ALL, input_dtype, make_input

import graphc as tf

CHUNKS = 6
TOL = {"float16": 1e-3, "float32": 2e-5, "float64": 1e-11}


def _chunk_of(index: int) -> int:
    return index * CHUNKS // len(ALL)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cache = tmp_path_factory.mktemp("graphc-cache")
    out = {}
    for chunk in range(CHUNKS):
        cases = [(i, c) for i, c in enumerate(ALL) if _chunk_of(i) == chunk]
        g = tf.Graph()
        rng = np.random.default_rng(chunk)
        feeds, fetches = {}, {}
        with g.as_default():
            for i, case in cases:
                arrays = [make_input(k, s, input_dtype(k, case.dtype), rng) for k, s in case.inputs]
                nodes = [tf.placeholder(a.dtype, a.shape) for a in arrays]
                feeds.update(zip(nodes, arrays, strict=True))
                fetches[i] = case.build(*nodes)
        with tf.Session(g, target="numpy") as ref, tf.Session(g, cache_dir=cache) as cpu:
            want = ref.run(fetches, feeds)
            got = cpu.run(fetches, feeds)
        for i in want:
            out[i] = (got[i], want[i])
    return out


@pytest.mark.parametrize("index", range(len(ALL)), ids=[c.name for c in ALL])
def test_compiled_matches_reference(results, index):
    got, want = results[index]
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=TOL[got.dtype.name], atol=TOL[got.dtype.name])
    else:
        np.testing.assert_array_equal(got, want)
