"""The two-function stream pipeline end to end: HTTP into the parent, Kafka to the child, results
read from the output topic. Events/s from the first request to the last result, with a bare
confluent-kafka produce + consume of the same number of messages on the same broker as the baseline.

Run: ``.venv/bin/python bench/pipeline.py [--events N]`` (starts its own Tansu broker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]
sys.path.insert(0, str(_HERE.parent))
sys.path.insert(0, str(_HERE.parent / "tests"))
sys.path.insert(0, str(_HERE.parent / "examples"))

import stream_pipeline  # noqa: E402
from _util import print_table, write_results  # noqa: E402
from kafka_broker import tansu_broker  # noqa: E402

from fnpack.emulator import serve  # noqa: E402
from fnpack.package.function import write_function  # noqa: E402


def consume(broker, topic: str, expected: int, timeout: float) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 1000,
            "heartbeat.interval.ms": 300,
        }
    )
    consumer.subscribe([topic])
    got, deadline = 0, time.monotonic() + timeout
    try:
        while got < expected and time.monotonic() < deadline:
            got += sum(1 for m in consumer.consume(500, 0.2) if not m.error())
    finally:
        consumer.close()
    return got


async def post_all(url: str, events: int, concurrency: int) -> int:
    import aiohttp

    ok = 0
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(i):
            nonlocal ok
            async with sem, session.post(url, json={"sensor": f"s{i % 8}", "value": i % 100}) as resp:
                await resp.read()
                ok += resp.status == 200

        await asyncio.gather(*(one(i) for i in range(events)))
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    n = args.events
    with tansu_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        for topic in ("readings", "alerts", "errors", "bare"):
            broker.create_topic(topic)
        fn = stream_pipeline.build(brokers=broker.bootstrap, fast_group=True)
        parent = write_function(fn.build(namespace=vars(stream_pipeline)), f"{tmp}/function.yaml")
        child = write_function(
            fn.build(namespace=vars(stream_pipeline), current_function="scorer"),
            f"{tmp}/pipeline-scorer.yaml",
        )
        with serve(child), serve(parent, workers=2) as front:
            asyncio.run(post_all(front.url, 20, 4))  # warm up, and the child has joined its group
            consume(broker, "alerts", 20, 60)
            start = time.perf_counter()
            accepted = asyncio.run(post_all(front.url, n, args.concurrency))
            arrived = consume(broker, "alerts", 20 + n, 300) - 20
            pipeline_rate = arrived / (time.perf_counter() - start)

        start = time.perf_counter()
        broker.produce("bare", [json.dumps({"sensor": "s", "value": i}).encode() for i in range(n)])
        bare_arrived = consume(broker, "bare", n, 120)
        bare_rate = bare_arrived / (time.perf_counter() - start)

    rows = [
        [
            "pipeline: HTTP -> parent -> kafka -> child -> kafka",
            pipeline_rate,
            f"{accepted}/{n} accepted, {arrived} arrived",
        ],
        ["bare confluent-kafka produce + consume", bare_rate, f"{bare_arrived} arrived"],
    ]
    print_table(f"two-function pipeline, end to end ({n} events)", ["path", "events/s", "check"], rows)
    data = {
        "pipeline_events_per_s": pipeline_rate,
        "bare_events_per_s": bare_rate,
        "events": n,
        "arrived": arrived,
    }
    print(f"\nwrote {write_results('pipeline', data)}")
    return 0 if arrived == n else 1


if __name__ == "__main__":
    sys.exit(main())
