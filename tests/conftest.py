"""Fixtures shared by the Python tests."""

import pytest

from relucourse.training import torch_threads


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """The tests train tiny models, which run fastest on one thread (also on a busy machine)."""
    with torch_threads(1):
        yield
