"""Shared fixtures: every test starts with a fresh default graph.

Under CI (CI=true) hypothesis runs derandomized, so a submission's tests are
reproducible; run locally (or with GRAPHC_FUZZ_EXAMPLES=2000) to explore.
"""

import os
import sys

import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

import graphc

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def fresh_graph():
    graphc.reset_default_graph()
    yield
    graphc.reset_default_graph()
