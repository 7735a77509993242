"""Kafka trigger bench: messages/s through a 1-step handler in the emulator vs a bare confluent-kafka loop.

Same Tansu broker, same topic contents, same run. Rates are measured from the first message handled to
the last (the consumer-group join is excluded on both sides). Target (DESIGN.md): at least 50% of bare.
Usage: python bench/kafka.py [--messages 200000] [--workers 1]
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import sys
import time
import uuid
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# keep bench/ off sys.path: bench/kafka.py and bench/http.py must not shadow real packages
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load("_fnpack_bench_common", _HERE / "_common.py")
broker_mod = _load("_fnpack_bench_broker", _HERE.parent / "tests" / "kafka_broker.py")

# the one step both sides run per message
STEP = """
def step(body):
    return {"n": len(body)}
"""

HANDLER = (
    STEP
    + """

def handler(context, event):
    return step(event.body)
"""
)


def bare_loop(bootstrap: str, topic: str, n: int, commit: bool = True) -> dict[str, Any]:
    from confluent_kafka import Consumer, TopicPartition

    namespace: dict[str, Any] = {}
    exec(STEP, namespace)
    step = namespace["step"]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **broker_mod.FAST_GROUP,
        }
    )
    consumer.subscribe([topic])
    got = 0
    first = None
    deadline = time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        batch = consumer.consume(1000, 0.5)
        if batch and first is None:
            first = time.perf_counter()
        last: dict[int, int] = {}
        for m in batch:
            if m.error() is None:
                step(m.value())
                got += 1
                last[m.partition()] = m.offset()
        if last and commit:  # commit after handling, as the trigger does
            consumer.commit(
                offsets=[TopicPartition(topic, p, o + 1) for p, o in last.items()], asynchronous=False
            )
    elapsed = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    return {"messages": got, "seconds": elapsed, "msgs_per_s": got / elapsed if elapsed else 0.0}


def emulator_run(bootstrap: str, topic: str, n: int, workers: int) -> dict[str, Any]:
    from fnpack.emulator import serve

    config = {
        "apiVersion": "nuclio.io/v1",
        "kind": "Function",
        "metadata": {"name": "kbench"},
        "spec": {
            "runtime": "python:3.11",
            "handler": "kbench:handler",
            "build": {"functionSourceCode": base64.b64encode(HANDLER.encode()).decode()},
            "triggers": {
                "stream": {
                    "kind": "kafka-cluster",
                    "maxWorkers": workers,
                    "attributes": {
                        "brokers": [bootstrap],
                        "topics": [topic],
                        "consumerGroup": f"emu-{uuid.uuid4().hex[:6]}",
                        "initialOffset": "earliest",
                        "sessionTimeout": "1s",
                        "heartbeatInterval": "300ms",
                    },
                }
            },
        },
    }
    with serve(config, log_level="error") as fn:
        trigger = fn.emulator.triggers["stream"]
        deadline = time.monotonic() + 300
        first = None
        while trigger.processed < n and time.monotonic() < deadline:
            if first is None and trigger.processed:
                first = time.perf_counter()
            time.sleep(0.001)
        elapsed = time.perf_counter() - (first or time.perf_counter())
        got = trigger.processed
    return {"messages": got, "seconds": elapsed, "msgs_per_s": got / elapsed if elapsed else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--workers", type=int, default=1, help="emulator workers (the topic gets that many partitions)"
    )
    parser.add_argument("--size", type=int, default=100, help="message size in bytes (default 100)")
    args = parser.parse_args()

    with broker_mod.tansu_broker() as broker:
        topic = broker.create_topic(partitions=args.workers)
        payload = b"x" * args.size
        t0 = time.perf_counter()
        broker.produce(topic, [payload] * args.messages, spread=args.workers)
        print(
            f"produced {args.messages} messages of {args.size} B in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        results = {
            "bare loop, no commits": bare_loop(broker.bootstrap, topic, args.messages, commit=False),
            "bare confluent-kafka loop": bare_loop(broker.bootstrap, topic, args.messages),
            f"fnpack emulator, {args.workers} worker{'s' * (args.workers > 1)}": emulator_run(
                broker.bootstrap, topic, args.messages, args.workers
            ),
        }
    bare = results["bare confluent-kafka loop"]["msgs_per_s"]
    rows = []
    for name, r in results.items():
        r["ratio_to_bare"] = r["msgs_per_s"] / bare if bare else 0.0
        rows.append([name, r["messages"], r["seconds"], r["msgs_per_s"], f"{r['ratio_to_bare']:.0%}"])
    common.print_table(
        f"Kafka (Tansu), {args.messages} x {args.size} B, 1-step handler; 'vs bare' is against the loop that "
        "commits after each batch (at-least-once, like the trigger)",
        ["consumer", "messages", "seconds", "msgs/s", "vs bare"],
        rows,
    )
    print(f"\nemulator vs bare loop committing per batch: {rows[-1][-1]} (target >= 50%)")
    path = common.write_results("kafka", {"messages": args.messages, "size": args.size, "results": results})
    print(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
