"""Shared fixtures: every test starts with a fresh default graph."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import graphc


@pytest.fixture(autouse=True)
def fresh_graph():
    graphc.reset_default_graph()
    yield
    graphc.reset_default_graph()
