"""The cuda target's tests run on numba's CUDA simulator, in their own pytest run:
`NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda` (`make test` runs it after the main suite),
since the variable must be set before numba is imported. tests/conftest.py leaves
this folder out of any run without it. On a machine with an NVIDIA GPU,
`GRAPHC_CUDA_TESTS=device pytest tests/cuda` runs the same tests there."""

import os

simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
assert simulated or os.environ.get("GRAPHC_CUDA_TESTS") == "device", (
    "run with NUMBA_ENABLE_CUDASIM=1, or GRAPHC_CUDA_TESTS=device on a GPU"
)


def pytest_configure(config):
    # the op cases wrap integers on purpose: NumPy scalars (the simulator's) warn
    config.addinivalue_line("filterwarnings", "ignore:overflow encountered:RuntimeWarning")
