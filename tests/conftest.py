import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def chain(tmp_path):
    """An Application with 4 registered validators, initialised and one block in."""
    from apphelpers import Chain
    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    yield c
    c.app.close()
