"""A real local HTTP server for remote-step tests: records requests, can be flaky, slow or failing."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.fail_first = 0  # answer 500 to this many requests first
        self.status = 200
        self.delay = 0.0

    def reset(self):
        self.__init__()


class _Handler(BaseHTTPRequestHandler):
    recorder: Recorder

    def log_message(self, *args):  # keep test output clean
        pass

    def _handle(self):
        rec = self.server.recorder
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with rec.lock:
            rec.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": raw.decode(),
                }
            )
            rec.in_flight += 1
            rec.peak_in_flight = max(rec.peak_in_flight, rec.in_flight)
            failing = rec.fail_first > 0
            if failing:
                rec.fail_first -= 1
        try:
            if rec.delay:
                time.sleep(rec.delay)
            status = 500 if failing else rec.status
            if self.path.startswith("/status/"):
                status = int(self.path.split("/")[2])
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode()
            payload = json.dumps({"path": self.path, "method": self.command, "got": parsed}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)
        finally:
            with rec.lock:
                rec.in_flight -= 1

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture(scope="module")
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.recorder = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def remote(http_server):
    http_server.recorder.reset()
    return http_server
