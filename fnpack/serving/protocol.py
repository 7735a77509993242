"""The V2 HTTP surface shared by routers and models: URL scheme, request bodies, server metadata.

Paths are ``/v2/models/<model>[/versions/<version>][/<op>]`` (route key ``model`` or
``model:version``), ``/v2/models`` (the model list), ``/v2/health/...`` and ``/v2`` (server
metadata). Bodies that are not already decoded are read as JSON, as an Open Inference Protocol
binary-extension request, or as an image (``image/*``).
"""

from __future__ import annotations

import io
import json
from typing import Any

from ..graph.errors import BadRequestError
from ..graph.event import Response
from .oip import binary_header_length, decode_binary_body

DEFAULT_URL_PREFIX = "/v2/models"
DEFAULT_HEALTH_PREFIX = "/v2/health"
PROTOCOL_VERSION = "v2"

_TEXT = (bytes, bytearray, memoryview, str)


def split_model_path(rest: str) -> tuple[str, str, str]:
    """``"m/versions/v/infer"`` -> ``("m", "v", "infer")``; ``"m/infer"`` -> ``("m", "", "infer")``."""
    parts = rest.split("/")
    model = parts[0]
    if len(parts) > 2 and parts[1] == "versions":
        return model, parts[2], "/".join(parts[3:])
    return model, "", "/".join(parts[1:])


def route_key(model: str, version: str) -> str:
    return f"{model}:{version}" if version else model


def decode_body(event, body: Any) -> Any:
    """A request body as data: JSON text, an OIP binary request, or an image; else a 400."""
    if body.__class__ not in _TEXT and not isinstance(body, _TEXT):
        return body
    header_length = binary_header_length(event.headers)
    if header_length is not None:
        raw = body.encode() if isinstance(body, str) else body
        return decode_binary_body(raw, header_length)
    try:
        return json.loads(body)
    except ValueError as exc:
        content_type = event.content_type or ""
        if content_type.startswith("image/"):
            data = body.encode() if isinstance(body, str) else bytes(body)
            return {"inputs": [io.BytesIO(data)]}
        raise BadRequestError(f"Unrecognized request format: the body is not JSON ({exc})") from None


def server_metadata(name: str) -> dict:
    """What ``GET /``, ``GET /v2`` and ``GET /v2/health/...`` return (reference shape)."""
    return {"name": name, "version": PROTOCOL_VERSION, "extensions": []}


def binary_reply(context, body: bytes, header_length: int):
    """An OIP binary-extension response: JSON header + raw tensors, header length in a header."""
    response_class = getattr(context, "Response", None) or Response
    return response_class(
        headers={"Inference-Header-Content-Length": str(header_length)},
        body=body,
        content_type="application/octet-stream",
        status_code=200,
    )
