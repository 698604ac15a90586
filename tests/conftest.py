"""Fixtures shared by the whole suite; the helpers themselves live in tests/helpers (on the path)."""

import pytest


@pytest.fixture
def chain(tmp_path):
    """An Application with 4 registered validators, initialised and one block in."""
    from apphelpers import Chain

    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    yield c
    c.app.close()
