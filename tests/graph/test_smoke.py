import fnpack


def test_sync_chain_through_mock_server():
    fn = fnpack.new_function("models")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(name="double", handler="(event * 2)").to(name="inc", handler="(event + 1)")
    assert fn.to_mock_server().test(body=5) == 11


def test_async_chain_with_responder():
    fn = fnpack.new_function("models")
    graph = fn.set_topology("flow", engine="async")
    graph.to(name="double", handler="(event * 2)").to(name="inc", handler="(event + 1)").respond()
    server = fn.to_mock_server()
    assert server.test(body=5) == 11
    server.wait_for_completion()
