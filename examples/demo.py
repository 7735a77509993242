"""`make demo`: build the example graphs and send them real requests, printing each answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow_basics


def show(label: str, server, body) -> None:
    print(f"\n> {label}\n  request:  {json.dumps(body)}")
    print(f"  response: {json.dumps(server.test(body=body))}")


def main() -> int:
    print("fnpack demo: the order-scoring flow (async engine: fan-out, merge, error handler), in-process")
    server = flow_basics.build().to_mock_server()
    for label, body in [
        ("small order", {"items": [{"price": 30, "qty": 2}, {"price": 5}]}),
        ("large order", {"items": [{"price": 300}]}),
        ("bad order (caught by the error handler)", {"no": "items"}),
    ]:
        show(label, server, body)
    response = server.test(body=b"{not json", content_type="application/json", silent=True, get_body=False)
    print(f"\n> malformed JSON\n  status {response.status_code}: {response.body}")
    server.wait_for_completion()
    return 0


if __name__ == "__main__":
    sys.exit(main())
