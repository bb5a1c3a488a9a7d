"""Shared fixtures: every test starts with a fresh default graph; `target` and `sess`
run a test on both targets.

Under CI (CI=true) hypothesis runs derandomized, so a submission's tests are
reproducible; run locally (or with GRAPHC_FUZZ_EXAMPLES=2000) to explore.
"""

import os
import sys

import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

# The cpu target interprets a step whose code is not cached until another process has
# compiled it (Session's fast_start). Tests of compiled code must run compiled code from
# the first step: here sessions compile in-process, unless a test asks for fast_start
# (tests/test_compile_ahead.py tests that default and its tiers).
os.environ["GRAPHC_FAST_START"] = "0"

import graphc

if f"{os.sep}mutants{os.sep}" in graphc.__file__:  # under mutmut (make mutation)
    import mutmut

    # its trampolines sit between the test and graphc: not the user's op site
    graphc.ir._LIBRARY_DIRS += (os.path.dirname(mutmut.__file__),)

# tests/cuda runs on numba's CUDA simulator, which must be chosen before numba is imported:
# `make test` runs it as a pytest run of its own (NUMBA_ENABLE_CUDASIM=1); on a machine with
# a GPU, GRAPHC_CUDA_TESTS=device runs it there
CUDA_TESTS = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or os.environ.get("GRAPHC_CUDA_TESTS")
collect_ignore = [] if CUDA_TESTS else ["cuda"]

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(params=["numpy", "cpu"])
def target(request):
    """Each target in turn: the reference executor ("numpy") and the compiled one ("cpu")."""
    return request.param


@pytest.fixture
def sess(target, tmp_path_factory):
    """A session on `target`, its compiled code cached once for the whole test run."""
    cache = tmp_path_factory.getbasetemp() / "graphc-cache"
    with graphc.Session(target=target, cache_dir=cache) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_graph():
    graphc.reset_default_graph()
    yield
    graphc.reset_default_graph()


# Modules whose every test compiles with Numba; elsewhere a test compiles when a
# parameter is the "cpu" target, or it is marked @pytest.mark.compiled itself.
COMPILED_MODULES = {
    "test_cache",
    "test_compiled",
    "test_compiled_ops",
    "test_examples",
    "test_random_compiled",
}


def pytest_collection_modifyitems(items):
    for item in items:
        params = getattr(item, "callspec", None)
        on_cpu = params is not None and "cpu" in params.params.values()
        if item.module.__name__ in COMPILED_MODULES or on_cpu:
            item.add_marker(pytest.mark.compiled)
