"""`make demo`: build the example model router into a nuclio function, run it in the local emulator
with two worker processes, send it real HTTP requests and print each answer, then stop.

Then the order-scoring flow (async engine: fan-out, merge, error handler) runs in-process through the
mock server, the way unit tests use it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import flow_basics  # noqa: E402

from fnpack.emulator import serve  # noqa: E402


def http(method: str, url: str, body=None, content_type: str = "application/json") -> tuple[int, str]:
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def show(method: str, base: str, path: str, body=None, note: str = "") -> None:
    status, text = http(method, base + path, body)
    try:
        text = json.dumps(json.loads(text))
    except ValueError:
        pass
    sent = (
        ""
        if body is None
        else f"  {body if isinstance(body, str) else json.dumps(body) if not isinstance(body, bytes) else body.decode()}"
    )
    print(f"\n> {method} {path}{sent}{'   # ' + note if note else ''}")
    print(f"  {status}  {text}")


def emulator_demo(workdir: Path) -> None:
    target = workdir / "function.yaml"
    command = [
        sys.executable,
        "-m",
        "fnpack.cli",
        "build",
        f"{HERE / 'model_router.py'}:build",
        "-o",
        str(target),
    ]
    print("$ fnpack build examples/model_router.py:build -o function.yaml")
    subprocess.run(command, check=True)
    size = target.stat().st_size
    print(
        f"  wrote a self-contained function.yaml ({size / 1024:.0f} KB: graph, classes and fnpack runtime embedded)"
    )
    print("\n$ fnpack run function.yaml --workers 2   (in-process: fnpack.emulator.serve)")
    with serve(str(target), workers=2) as fn:
        base = fn.url
        print(f"  serving at {base} with worker pids {fn.worker_pids()}")
        show("GET", base, "/v2/models/", note="list the models")
        show("GET", base, "/v2/health", note="server health")
        show("POST", base, "/v2/models/iris/infer", {"inputs": [[5.0, 3.4, 1.5, 0.2], [6.7, 3.0, 5.2, 2.3]]})
        show("POST", base, "/v2/models/price/versions/v1/infer", {"inputs": [[100, 2], [80, 1]]})
        show(
            "POST",
            base,
            "/v2/models/iris/infer",
            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [6.0, 2.9, 4.5, 1.5]}]},
            note="Open Inference Protocol tensor",
        )
        show("GET", base, "/v2/models/iris/ready")
        show("POST", base, "/v2/models/iris/infer", b"{not json", note="bad JSON")
        show("POST", base, "/v2/models/nope/infer", {"inputs": [[1]]}, note="unknown model")
        show(
            "POST",
            base,
            "/v2/models/iris/infer",
            {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2]}]},
            note="tensor shape does not match its data",
        )
    print("\n  emulator stopped (workers drained)")


def mock_server_demo() -> None:
    print("\nThe order-scoring flow, in-process with fn.to_mock_server():")
    server = flow_basics.build().to_mock_server()
    for body in (
        {"items": [{"price": 30, "qty": 2}, {"price": 5}]},
        {"items": [{"price": 300}]},
        {"no": "items"},
    ):
        print(f"\n> server.test(body={json.dumps(body)})")
        print(f"  {json.dumps(server.test(body=body))}")
    server.close()


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with the workers' log lines
    with tempfile.TemporaryDirectory(prefix="fnpack-demo-") as workdir:
        emulator_demo(Path(workdir))
    mock_server_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
