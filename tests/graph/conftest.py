import pytest

import fnpack


@pytest.fixture
def new_flow():
    """A factory: ``new_flow(engine)`` -> (function, graph)."""

    def make(engine="sync", name="tests"):
        fn = fnpack.new_function(name)
        return fn, fn.set_topology("flow", engine=engine)

    return make
