"""The asyncio engine: fan-out, merge, responder, ack, awaitables, drain, errors (reference 1.9, 1.15)."""

import asyncio
import threading
import time

import pytest

from fnpack.graph import DROP, DummyStream


def inc(x):
    return x + 1


def test_no_responder_acknowledges_with_the_event_id(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="a", handler=inc)
    server = fn.to_mock_server()
    assert server.test(body=1, event_id="ev-1") == {"id": "ev-1"}


def test_engine_none_means_async(new_flow):
    fn, graph = new_flow(None)
    graph.to(name="a", handler=inc)
    assert fn.to_mock_server().test(body=1, event_id="x") == {"id": "x"}


def test_responder_result_is_returned(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="a", handler=inc).to(name="b", handler=inc).respond()
    assert fn.to_mock_server().test(body=1) == 3


def test_responder_with_downstream_steps_still_responds(new_flow):
    seen = []
    fn, graph = new_flow("async")
    first = graph.to(name="a", handler=lambda body: {"v": body}).respond()
    first.to(name="later", handler=lambda body: seen.append(dict(body)) or body.update(v=-1) or body)
    server = fn.to_mock_server()
    assert server.test(body=5) == {"v": 5}  # later steps' changes do not leak into the response
    server.wait_for_completion()
    assert seen == [{"v": 5}]


def test_fan_out_and_merge_join_branches_of_one_event(new_flow):
    fn, graph = new_flow("async")
    start = graph.to(name="start", handler="(event)")
    start.to(name="plus", handler="(event + 1)")
    start.to(name="times", handler="(event * 10)")
    graph.add_step("fnpack.serving.merger.Merge", name="merge", after=["plus", "times"]).respond()
    server = fn.to_mock_server()
    assert server.test(body=3) == [4, 30]
    assert server.test(body=5) == [6, 50]


def test_fan_out_branches_get_independent_bodies(new_flow):
    fn, graph = new_flow("async")
    start = graph.to(name="start", handler="(event)")

    def set_a(body):
        body["a"] = 1
        return body

    def set_b(body):
        body["b"] = 2
        return body

    start.to(name="a", handler=set_a)
    start.to(name="b", handler=set_b)
    graph.add_step("fnpack.serving.merger.Merge", name="merge", after=["a", "b"]).respond()
    assert fn.to_mock_server().test(body={"x": 0}) == [{"x": 0, "a": 1}, {"x": 0, "b": 2}]


def test_mlrun_class_names_load(new_flow):
    fn, graph = new_flow("async")
    start = graph.to(name="start", handler="(event)")
    start.to(name="p", handler="(event + 1)")
    start.to(name="q", handler="(event + 2)")
    graph.add_step("mlrun.serving.merger.Merge", name="m", after=["p", "q"]).respond()
    assert fn.to_mock_server().test(body=0) == [1, 2]


def test_bare_serving_class_names_resolve(new_flow):
    fn, graph = new_flow("async")
    start = graph.to(name="start", handler="(event)")
    start.to(name="p", handler="(event + 1)")
    start.to(name="q", handler="(event + 2)")
    graph.add_step("Merge", name="m", after=["p", "q"]).respond()
    assert fn.to_mock_server().test(body=0) == [1, 2]


def test_merge_by_key_path_across_events_and_max_behind(new_flow):
    fn, graph = new_flow("async")
    graph.to("fnpack.serving.merger.Merge", name="m", key_path="k", expected_num_events=2, max_behind=2)
    out = []
    graph["m"].to(name="out", handler=lambda body: out.append(body) or body)
    server = fn.to_mock_server()
    for k in ("a", "b", "c"):  # three partial keys: "a" is dropped (max_behind=2)
        server.test(body={"k": k, "n": 1})
    server.test(body={"k": "a", "n": 2})  # late part of a dropped key: ignored
    server.test(body={"k": "b", "n": 2})
    server.wait_for_completion()
    assert out == [[{"k": "b", "n": 1}, {"k": "b", "n": 2}]]


def test_async_def_steps_are_awaited(new_flow):
    async def slow(x):
        await asyncio.sleep(0.001)
        return x * 10

    fn, graph = new_flow("async")
    graph.to(name="slow", handler=slow).to(name="inc", handler=inc).respond()
    server = fn.to_mock_server()
    assert [server.test(body=i) for i in range(5)] == [1, 11, 21, 31, 41]


def test_async_steps_of_different_events_overlap(new_flow):
    """Without a responder, events with awaiting steps are in flight concurrently (bounded)."""
    state = {"now": 0, "peak": 0}
    release = threading.Event()

    async def held(x):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        while not release.is_set():
            await asyncio.sleep(0.001)
        state["now"] -= 1
        return x

    fn, graph = new_flow("async")
    fn.spec.parameters["max_in_flight"] = 4
    graph.to(name="held", handler=held)
    server = fn.to_mock_server()
    for i in range(4):
        assert server.test(body=i, event_id=str(i)) == {"id": str(i)}
    deadline = time.monotonic() + 5
    while state["peak"] < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert state["peak"] == 4
    assert server.plan.in_flight == 4
    release.set()
    server.wait_for_completion(timeout=5)
    assert server.plan.in_flight == 0


def test_wait_for_completion_really_drains(new_flow):
    done = []

    async def work(x):
        await asyncio.sleep(0.002)
        done.append(x)
        return x

    fn, graph = new_flow("async")
    graph.to(name="work", handler=work)
    server = fn.to_mock_server()
    for i in range(20):
        server.test(body=i)
    server.wait_for_completion(timeout=10)
    assert sorted(done) == list(range(20))


def test_error_without_responder_reaches_the_caller(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="a", handler=inc).to(name="bad", handler="(1 / 0)")
    server = fn.to_mock_server()
    with pytest.raises(
        RuntimeError, match=r"failed \(400\): ZeroDivisionError: division by zero \(step bad\)"
    ):
        server.test(body=1)
    assert server.test(body=1, silent=True, get_body=False).status_code == 400


def test_async_error_with_responder_reaches_the_caller(new_flow):
    async def fail(x):
        await asyncio.sleep(0)
        raise KeyError("missing")

    fn, graph = new_flow("async")
    graph.to(name="fail", handler=fail).to(name="out", handler=inc).respond()
    server = fn.to_mock_server()
    resp = server.test(body=1, silent=True, get_body=False)
    assert resp.status_code == 400
    assert resp.body == "KeyError: 'missing' (step fail)"
    server.wait_for_completion()


def test_error_after_the_response_is_raised_by_wait_for_completion(new_flow):
    async def late_fail(x):
        await asyncio.sleep(0)
        raise ValueError("too late")

    errors = DummyStream()
    fn, graph = new_flow("async")
    graph.to(name="a", handler=inc).respond().to(name="late", handler=late_fail)
    server = fn.to_mock_server()
    server.error_stream_pusher = errors
    assert server.test(body=1) == 2
    with pytest.raises(RuntimeError, match="too late"):
        server.wait_for_completion(timeout=5)
    assert errors.event_list[0]["source"] == "late"
    assert errors.event_list[0]["message"] == "ValueError: too late"
    server.wait_for_completion(timeout=5)  # errors are reported once


def test_drop_ends_a_branch_and_the_caller_gets_the_ack(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="filter", handler=lambda body: body if body > 0 else DROP).to(
        name="out", handler=inc
    ).respond()
    server = fn.to_mock_server()
    assert server.test(body=1) == 2
    assert server.test(body=-1, event_id="e") == {"id": "e"}


def test_multiple_start_steps_all_run(new_flow):
    seen = []
    fn, graph = new_flow("async")
    graph.add_step(name="one", handler=lambda b: seen.append(("one", b)) or b)
    graph.add_step(name="two", handler=lambda b: seen.append(("two", b)) or b)
    fn.to_mock_server().test(body=1)
    assert sorted(seen) == [("one", 1), ("two", 1)]


def test_terminated_event_is_the_response_in_async(new_flow):
    def early(event):
        event.terminated = True
        event.body = {"early": True}
        return event

    fn, graph = new_flow("async")
    graph.to(name="e", handler=early, full_event=True).to(name="never", handler="(1/0)").respond()
    assert fn.to_mock_server().test(body=1) == {"early": True}


def test_close_stops_the_loop(new_flow):
    async def work(x):
        return x

    fn, graph = new_flow("async")
    graph.to(name="w", handler=work).respond()
    server = fn.to_mock_server()
    assert server.test(body=3) == 3
    server.close()
    assert server.test(body=4) == 4  # a closed server restarts its loop on demand
    server.close()


def test_background_errors_are_bounded_and_counted(new_flow):
    async def late_fail(x):
        raise ValueError(f"late {x}")

    fn, graph = new_flow("async")
    graph.to(name="a", handler="(event)").respond().to(name="late", handler=late_fail)
    server = fn.to_mock_server()
    for i in range(150):
        server.test(body=i)
    with pytest.raises(RuntimeError, match=r"late 0 \(step late\) \(and 149 more\)"):
        server.wait_for_completion(timeout=10)
    assert len(server.plan.delayed_errors) == 0


def test_busy_engine_gives_each_start_branch_its_own_event(new_flow):
    seen = []
    gate = threading.Event()

    async def hold(x):
        while not gate.is_set():
            await asyncio.sleep(0.001)
        return x

    def tag(name):
        def step(body):
            seen.append((body["n"], name, id(body)))
            return body

        return step

    fn, graph = new_flow("async")
    graph.add_step(name="hold", handler=hold)
    graph.add_step(name="one", handler=tag("one"))
    graph.add_step(name="two", handler=tag("two"))
    server = fn.to_mock_server()
    server.test(body={"n": 0})  # "hold" keeps the loop busy: the next event goes to the loop
    server.test(body={"n": 1})
    gate.set()
    server.wait_for_completion(timeout=10)
    assert sorted((n, name) for n, name, _ in seen) == [(0, "one"), (0, "two"), (1, "one"), (1, "two")]
    for n in (0, 1):  # the branches of one event never share a body
        assert len({body_id for m, _, body_id in seen if m == n}) == 2
