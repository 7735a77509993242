"""SIGKILL a worker under load: HTTP answers every request and serves again after the restart; a Kafka
stream loses no message (at-least-once) and the duplicates the redelivery causes are counted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from kafka_broker import Broker

import fnpack
from fnpack.emulator import serve
from fnpack.package.function import write_function

from .conftest import INFER, assert_serving, report, wait_for
from .load import LoadResult, run_load

pytestmark = pytest.mark.reliability


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def test_sigkill_a_worker_during_http_load(router_yaml, request):
    with serve(router_yaml, workers=2, log_level="info", backoff=(0.05, 1.0)) as fn:
        victim = fn.worker_pids()[0]
        result = LoadResult()
        marks: dict[str, float] = {}

        async def scenario() -> None:
            stop = asyncio.Event()
            load = asyncio.create_task(
                run_load(fn.url + INFER, None, 16, timeout=20, stop=stop, result=result)
            )
            await _until(lambda: result.statuses[200] >= 300, 30, "load to build up")
            os.kill(victim, signal.SIGKILL)
            marks["killed"], marks["answered_before"] = time.monotonic(), result.answered

            def restarted() -> bool:
                pids = fn.worker_pids()
                return len(pids) == 2 and victim not in pids

            await _until(lambda: restarted(), 30, "the killed worker to be restarted")
            marks["restarted"] = time.monotonic()
            after = result.statuses[200]
            await _until(lambda: result.statuses[200] >= after + 300, 30, "requests served after the restart")
            stop.set()
            await asyncio.wait_for(load, 30)  # every client got its last answer: nothing hung

        asyncio.run(scenario())
        assert_serving(fn)
        assert victim not in fn.worker_pids()
    restart_ms = (marks["restarted"] - marks["killed"]) * 1000
    report(request, "http kill", f"{result.answered} requests, statuses {dict(result.statuses)}, "
           f"worker back in {restart_ms:.0f} ms")  # fmt: skip
    assert not result.errors, result.errors[:5]  # every in-flight request got an HTTP answer
    assert result.answered == result.sent
    assert set(result.statuses) <= {200, 503}, result.bodies_5xx[:5]
    assert result.statuses[503] <= 1  # only the event the killed worker held
    assert not result.wrong, result.wrong[:5]


# --- Kafka ------------------------------------------------------------------------------------------


def record(event):
    """The one step of the stream function: append the message to this worker's file, then return."""
    body = event.decode() if isinstance(event, bytes) else str(event)
    with open(os.path.join(os.environ["OUT_DIR"], f"seen-{os.getpid()}.jsonl"), "a") as fp:
        fp.write(json.dumps({"v": body, "pid": os.getpid()}) + "\n")
    time.sleep(float(os.environ.get("DELAY", "0")))
    return body


def _seen(out: Path) -> list[dict]:
    rows = []
    for path in out.glob("seen-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:  # a line cut by the SIGKILL
                pass
    return rows


def _stream_function(broker: Broker, topic: str, group: str, out: Path, target: Path) -> str:
    fn = fnpack.new_function("kill-stream")
    fn.set_topology("flow", engine="sync").to(name="record", handler=record)
    fn.add_kafka_trigger(
        broker.bootstrap, topic, group, max_workers=2, session_timeout="1s", heartbeat_interval="300ms"
    )
    fn.spec.triggers.pop("http", None)
    fn.set_envs({"OUT_DIR": str(out), "DELAY": "0.001"})
    return write_function(fn.build(), str(target))


@pytest.mark.kafka
def test_sigkill_a_worker_during_a_kafka_stream_loses_nothing(kafka_broker, tmp_path, request):
    messages = 2000
    topic = kafka_broker.create_topic(partitions=4)
    group = f"kill-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out"
    out.mkdir()
    path = _stream_function(kafka_broker, topic, group, out, tmp_path / "function.yaml")
    ids = [f"m-{i}" for i in range(messages)]
    kafka_broker.produce(topic, [i.encode() for i in ids], spread=4)
    with serve(path) as fn:
        [trigger] = fn.emulator.triggers.values()
        rows = wait_for(lambda: len(_seen(out)) >= 300 and _seen(out), timeout=30, what="processing")
        victim = rows[-1]["pid"]  # a worker busy with messages
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: {r["v"] for r in _seen(out)} >= set(ids), timeout=60, what=f"all {messages} messages"
        )
        wait_for(
            lambda: sum(max(0, o) for o in kafka_broker.committed(group, topic, 4)) == messages,
            timeout=30,
            what="every offset committed",
        )
        pids = fn.worker_pids()
        assert victim not in pids and len(pids) == 2
        redelivered = trigger.redelivered
    rows = _seen(out)
    values = [r["v"] for r in rows]
    duplicates = len(values) - len(set(values))
    report(request, "kafka kill", f"{messages} messages, 0 lost, {duplicates} processed twice "
           f"(redelivered after the kill: {redelivered})")  # fmt: skip
    assert set(values) == set(ids)  # at-least-once: nothing lost
    assert any(r["pid"] == victim for r in rows)  # the victim really was processing
