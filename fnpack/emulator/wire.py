"""The frame format between the trigger process and its worker processes.

A frame is ``<u32 header length><u32 body length><JSON header><raw body>`` (little endian). The header
is a small JSON object whose ``k`` key names the frame kind; the body travels as raw bytes, never
pickled. Stdlib only: this module is copied next to the user's handler and imported by the worker.
"""

from __future__ import annotations

import json
import struct
from typing import Any

PREFIX = struct.Struct("<II")
PREFIX_SIZE = PREFIX.size

# frame kinds
EVENT = "e"  # trigger -> worker: one event to handle
REPLY = "r"  # worker -> trigger: the handler's response to the last event
BATCH = "b"  # trigger -> worker: stream events to handle one after the other (bodies concatenated)
BATCH_REPLY = "rb"  # worker -> trigger: status and headers per event of the batch (no bodies)
READY = "ready"  # worker -> trigger: module imported and init_context done
FATAL = "fatal"  # worker -> trigger: could not start (import / init_context failed)
CONTROL = "ctl"  # worker -> trigger: control message (explicit stream ack)

_encode_checked = json.JSONEncoder(separators=(",", ":"), default=str).encode
try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

if _c_make_encoder is not None:
    # the C encoder json.JSONEncoder.encode builds on every call, built once (same output: compact,
    # ASCII, default=str); no circular-reference bookkeeping: a cycle hits the recursion limit instead,
    # and is then encoded again the usual way for the usual error
    _c_encode = _c_make_encoder(
        None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def _dumps(obj: Any) -> str:
        try:
            return "".join(_c_encode(obj, 0))
        except RecursionError:
            return _encode_checked(obj)

else:  # pragma: no cover
    _dumps = _encode_checked

_decode = json.JSONDecoder().decode


def _loads(raw: bytes) -> Any:
    return _decode(raw.decode("utf-8"))  # frames are ASCII JSON: no encoding detection needed


def encode(header: dict[str, Any], body: bytes = b"") -> list[bytes]:
    """Frame ``header`` and ``body`` as a list of buffers for ``writelines``/``sendmsg``."""
    raw = _dumps(header).encode()
    return [PREFIX.pack(len(raw), len(body)) + raw, body] if body else [PREFIX.pack(len(raw), 0) + raw]


class FrameReader:
    """Incremental decoder: feed it bytes as they arrive, get back complete ``(header, body)`` frames.

    With ``shared_headers``, small headers seen before (a handler's replies repeat theirs) are decoded
    once and the same dict is handed out again: the caller must treat headers as read-only.
    """

    __slots__ = ("_buf", "_cache")

    def __init__(self, shared_headers: bool = False) -> None:
        self._buf = bytearray()
        self._cache: dict[bytes, dict[str, Any]] | None = {} if shared_headers else None

    def _header(self, raw: bytes) -> dict[str, Any]:
        cache = self._cache
        if cache is None or len(raw) > 256:
            return _loads(raw)
        header = cache.get(raw)
        if header is None:
            header = _loads(raw)
            if len(cache) >= 256:
                cache.clear()
            cache[raw] = header
        return header

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        buf = self._buf
        if not buf and len(data) >= PREFIX_SIZE:
            # the common case: exactly one whole frame, nothing buffered (no copy into the buffer)
            hlen, blen = PREFIX.unpack_from(data)
            hend = PREFIX_SIZE + hlen
            if hend + blen == len(data):
                return [(self._header(bytes(data[PREFIX_SIZE:hend])), bytes(data[hend:]))]
        buf += data
        frames = []
        start = 0
        size = len(buf)
        while size - start >= PREFIX_SIZE:
            hlen, blen = PREFIX.unpack_from(buf, start)
            end = start + PREFIX_SIZE + hlen + blen
            if end > size:
                break
            hstart = start + PREFIX_SIZE
            header = self._header(bytes(buf[hstart : hstart + hlen]))
            frames.append((header, bytes(buf[hstart + hlen : end])))
            start = end
        if start:
            del buf[:start]
        return frames
