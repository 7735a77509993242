"""An aiohttp load client for the reliability tests and ``scripts/soak.py``: N requests at concurrency C."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

SETOSA, VIRGINICA = [5.0, 3.4, 1.5, 0.2], [6.7, 3.0, 5.2, 2.3]
# request i sends row i % 2 and must get back class EXPECTED[i % 2]: a mixed-up answer is caught
BODIES = [json.dumps({"inputs": [row]}).encode() for row in (SETOSA, VIRGINICA)]
EXPECTED = [[0], [2]]
JSON = {"Content-Type": "application/json"}
BAD_BODY = b'{"inputs": [[1, 2'  # truncated JSON: must be a 400, every time


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    ids: set = field(default_factory=set)
    bad: int = 0  # malformed requests sent on purpose (bad_every)
    wrong: list = field(default_factory=list)  # another request's result, or a bad request not answered 400
    errors: list = field(default_factory=list)  # no HTTP answer at all (reset, timeout: a hung request)
    bodies_5xx: list = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0


async def run_load(
    url: str,
    requests: int | None = None,
    concurrency: int = 64,
    timeout: float = 30.0,
    stop: asyncio.Event | None = None,
    result: LoadResult | None = None,
    bad_every: int = 0,
    track_ids: bool = True,
) -> LoadResult:
    """POST infer requests to ``url`` until ``requests`` were sent or ``stop`` is set.

    With ``bad_every=k`` every k-th request is malformed JSON and must get a 400 (the error path runs too).
    ``track_ids=False`` does not keep every answer's event id (a long soak would grow by them).
    """
    result = result or LoadResult()
    counter = iter(range(requests)) if requests is not None else _forever()
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async def client(session: aiohttp.ClientSession) -> None:
        for i in counter:
            if stop is not None and stop.is_set():
                return
            result.sent += 1
            bad = bool(bad_every) and i % bad_every == bad_every - 1
            try:
                async with session.post(
                    url, data=BAD_BODY if bad else BODIES[i % 2], headers=JSON
                ) as response:
                    body = await response.read()
                    result.statuses[response.status] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                result.errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                continue
            if bad:
                result.bad += 1
                if response.status != 400:
                    result.wrong.append((i, response.status, body[:200]))
            elif response.status == 200:
                answer = json.loads(body)
                if track_ids:
                    result.ids.add(answer["id"])
                if answer["outputs"] != EXPECTED[i % 2]:
                    result.wrong.append((i, answer))
            elif response.status >= 500:
                result.bodies_5xx.append(body.decode("utf-8", "replace")[:200])

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


def _forever():
    i = 0
    while True:
        yield i
        i += 1
