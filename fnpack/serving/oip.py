"""Open Inference Protocol (KServe v2 / Triton) tensor codec, apart from models and transport.

Requests carry ``inputs: [{name, shape, datatype, data}]`` (data in JSON, or raw little-endian bytes
after the JSON header with the binary-tensor extension); responses carry ``outputs`` in the same
form. Decoding validates every tensor and raises :class:`BadRequestError` naming the field.
Standard library only: numpy arrays are accepted as outputs but numpy is never imported here.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Iterable

from ..graph.errors import BadRequestError

# datatype -> (kind, struct format char, min, max); kind is "bool", "int", "float" or "bytes"
DATATYPES: dict[str, tuple[str, str, Any, Any]] = {
    "BOOL": ("bool", "?", None, None),
    "INT8": ("int", "b", -(2**7), 2**7 - 1),
    "INT16": ("int", "h", -(2**15), 2**15 - 1),
    "INT32": ("int", "i", -(2**31), 2**31 - 1),
    "INT64": ("int", "q", -(2**63), 2**63 - 1),
    "UINT8": ("int", "B", 0, 2**8 - 1),
    "UINT16": ("int", "H", 0, 2**16 - 1),
    "UINT32": ("int", "I", 0, 2**32 - 1),
    "UINT64": ("int", "Q", 0, 2**64 - 1),
    "FP16": ("float", "e", -65504.0, 65504.0),
    "FP32": ("float", "f", -3.4028234663852886e38, 3.4028234663852886e38),
    "FP64": ("float", "d", None, None),
    "BYTES": ("bytes", "", None, None),
}
_DATATYPE_LIST = ", ".join(DATATYPES)

# numpy dtype (kind, itemsize) -> datatype, for outputs given as arrays
_NUMPY_DATATYPES = {
    ("b", 1): "BOOL",
    ("i", 1): "INT8",
    ("i", 2): "INT16",
    ("i", 4): "INT32",
    ("i", 8): "INT64",
    ("u", 1): "UINT8",
    ("u", 2): "UINT16",
    ("u", 4): "UINT32",
    ("u", 8): "UINT64",
    ("f", 2): "FP16",
    ("f", 4): "FP32",
    ("f", 8): "FP64",
}

DEFAULT_OUTPUT_NAME = "output0"
BINARY_HEADER = "inference-header-content-length"


class Tensor:
    """One decoded tensor: ``data`` is flat (row-major); :meth:`to_nested` reshapes it."""

    __slots__ = ("name", "datatype", "shape", "data", "parameters")

    def __init__(
        self, name: str, datatype: str, shape: list[int], data: list, parameters: dict | None = None
    ):
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
        self.parameters = parameters

    def to_nested(self) -> Any:
        """The data as nested lists of ``shape`` (a 0-d tensor gives its single value)."""
        return reshape(self.data, self.shape)

    def as_numpy(self):
        """The data as a numpy array of the tensor's dtype (needs numpy)."""
        import numpy as np

        dtype = {"BOOL": np.bool_, "BYTES": np.object_}.get(self.datatype) or self.datatype.lower().replace(
            "fp", "float"
        )
        return np.array(self.data, dtype=dtype).reshape(self.shape)

    def to_dict(self) -> dict:
        out = {"name": self.name, "datatype": self.datatype, "shape": list(self.shape), "data": self.data}
        if self.parameters:
            out["parameters"] = self.parameters
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Tensor) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.datatype}, shape={self.shape})"


class InferRequest:
    """A decoded OIP request: the input tensors, the requested outputs and the request parameters."""

    __slots__ = ("id", "inputs", "outputs", "parameters")

    def __init__(self, inputs: list[Tensor], outputs: list[dict], parameters: dict, request_id=None):
        self.id = request_id
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters

    def v2_inputs(self) -> Any:
        """What a V2 model's ``request["inputs"]`` gets: one tensor's nested data, or a list per tensor."""
        if len(self.inputs) == 1:
            return self.inputs[0].to_nested()
        return [tensor.to_nested() for tensor in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [out["name"] for out in self.outputs]


# --- shapes ----------------------------------------------------------------------------------------


def reshape(flat: list, shape: list[int]) -> Any:
    """Row-major nested lists of ``shape`` from a flat list."""
    if not shape:
        return flat[0] if flat else None
    if len(shape) == 1:
        return list(flat)
    rows = flat
    for dim in reversed(shape[1:]):
        rows = [rows[i : i + dim] for i in range(0, len(rows), dim)] if dim else []
    if not rows and shape[0]:
        rows = [_empty(shape[1:]) for _ in range(shape[0])]
    return rows


def _empty(shape: list[int]) -> list:
    if len(shape) == 1 or not shape[0]:
        return []
    return [_empty(shape[1:]) for _ in range(shape[0])]


def _product(shape: Iterable[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def flatten(value: Any, where: str) -> tuple[list[int], list]:
    """(shape, flat values) of a rectangular nested list; a scalar is shape ``[1]``."""
    if not isinstance(value, (list, tuple)):
        return [1], [value]
    shape = []
    probe: Any = value
    while isinstance(probe, (list, tuple)):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    flat = value
    for depth in range(len(shape) - 1):
        merged = []
        expected = shape[depth + 1]
        for item in flat:
            if not isinstance(item, (list, tuple)) or len(item) != expected:
                raise ValueError(f"{where} is not rectangular: expected shape {shape}")
            merged.extend(item)
        flat = merged
    if flat and isinstance(flat[0], (list, tuple)):
        raise ValueError(f"{where} is not rectangular: expected shape {shape}")
    for item in flat:
        if isinstance(item, (list, tuple)):
            raise ValueError(f"{where} is not rectangular: expected shape {shape}")
    return shape, list(flat)


# --- requests --------------------------------------------------------------------------------------


def is_tensor_request(body: Any) -> bool:
    """True when ``body`` is an OIP request (``inputs`` holds tensor objects, not plain rows)."""
    if body.__class__ is not dict:
        return False
    inputs = body.get("inputs")
    if inputs.__class__ is not list or not inputs:
        return False
    first = inputs[0]
    return first.__class__ is dict and "datatype" in first


def decode_request(body: dict) -> InferRequest:
    """Validate and decode an OIP request body (after :func:`decode_binary_body` for binary data)."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequestError('"inputs" must be a non-empty list of tensors')
    tensors = [decode_tensor(item, f"inputs[{i}]") for i, item in enumerate(inputs)]
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise BadRequestError(f"inputs: duplicate tensor names {names}")
    outputs = body.get("outputs") or []
    if not isinstance(outputs, list):
        raise BadRequestError('"outputs" must be a list of {"name": ...} objects')
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str) or not out["name"]:
            raise BadRequestError(f"outputs[{i}].name: expected a non-empty string, got {_show(out)}")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequestError('"parameters" must be an object')
    return InferRequest(tensors, outputs, parameters, body.get("id"))


def decode_tensor(item: Any, where: str) -> Tensor:
    """One validated :class:`Tensor` from its JSON object (``where`` names it in errors)."""
    if not isinstance(item, dict):
        raise BadRequestError(f"{where}: expected a tensor object, got {_show(item)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{where}.name: expected a non-empty string, got {_show(name)}")
    where = f"{where} ({printable(name)})"
    datatype = item.get("datatype")
    spec = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if spec is None:
        raise BadRequestError(
            f"{where}.datatype: unsupported datatype {_show(datatype)}, expected one of {_DATATYPE_LIST}"
        )
    shape = item.get("shape")
    if (
        not isinstance(shape, list)
        or any(dim.__class__ is not int or dim < 0 for dim in shape)  # bool is not int here
    ):
        raise BadRequestError(f"{where}.shape: expected a list of non-negative integers, got {_show(shape)}")
    if "data" not in item:
        raise BadRequestError(f"{where}.data: missing (binary tensors need the binary_data_size parameter)")
    data = item["data"]
    if not isinstance(data, list):
        raise BadRequestError(f"{where}.data: expected a list, got {_show(data)}")
    if data and isinstance(data[0], list):
        try:
            _, data = flatten(data, f"{where}.data")
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
    expected = _product(shape)
    if len(data) != expected:
        raise BadRequestError(f"{where}: shape {shape} needs {expected} values, data has {len(data)}")
    _check_values(data, datatype, spec, f"{where}.data")
    parameters = item.get("parameters")
    return Tensor(name, datatype, shape, data, parameters if isinstance(parameters, dict) else None)


def _check_values(data: list, datatype: str, spec: tuple, where: str) -> None:
    kind, _, low, high = spec
    if kind == "int":
        if not all(v.__class__ is int for v in data):
            bad = next(v for v in data if v.__class__ is not int)
            raise BadRequestError(f"{where}: {datatype} values must be integers, got {_show(bad)}")
        if data and (min(data) < low or max(data) > high):
            bad = next(v for v in data if v < low or v > high)
            raise BadRequestError(f"{where}: {bad} is out of range for {datatype} [{low}, {high}]")
    elif kind == "float":
        if not all(v.__class__ is float or v.__class__ is int for v in data):
            bad = next(v for v in data if v.__class__ is not float and v.__class__ is not int)
            raise BadRequestError(f"{where}: {datatype} values must be numbers, got {_show(bad)}")
        if low is not None:
            for v in data:
                if (v < low or v > high) and not math.isinf(v):
                    raise BadRequestError(f"{where}: {v} is out of range for {datatype}")
    elif kind == "bool":
        if not all(v is True or v is False for v in data):
            bad = next(v for v in data if v is not True and v is not False)
            raise BadRequestError(f"{where}: BOOL values must be true or false, got {_show(bad)}")
    else:
        if not all(v.__class__ is str or v.__class__ is bytes for v in data):
            bad = next(v for v in data if v.__class__ is not str and v.__class__ is not bytes)
            raise BadRequestError(f"{where}: BYTES values must be strings, got {_show(bad)}")


def printable(text: str) -> str:
    """``text`` as is, or its repr when it holds newlines or other control characters (one-line errors)."""
    return text if text.isprintable() else repr(text)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- binary tensor extension -------------------------------------------------------------------------


def binary_header_length(headers: dict | None) -> int | None:
    """The ``Inference-Header-Content-Length`` of a request, when it uses the binary extension."""
    if not headers:
        return None
    for key, value in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if name.lower() == BINARY_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                raise BadRequestError(
                    f"Inference-Header-Content-Length: expected an integer, got {_show(value)}"
                ) from None
    return None


def decode_binary_body(raw: bytes | bytearray | memoryview, header_length: int) -> dict:
    """The JSON request of a binary-extension body, with each binary input's ``data`` filled in."""
    raw = bytes(raw)
    if header_length < 0 or header_length > len(raw):
        raise BadRequestError(
            f"Inference-Header-Content-Length: {header_length} is outside the body ({len(raw)} bytes)"
        )
    try:
        body = json.loads(raw[:header_length])
    except ValueError as exc:
        raise BadRequestError(f"the JSON header of the binary request is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadRequestError('the JSON header of the binary request needs an "inputs" list')
    offset = header_length
    for i, item in enumerate(body["inputs"]):
        parameters = item.get("parameters") if isinstance(item, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        where = f"inputs[{i}] ({item.get('name')})"
        if size.__class__ is not int or size < 0 or offset + size > len(raw):
            raise BadRequestError(f"{where}.parameters.binary_data_size: {size} exceeds the request body")
        item["data"] = unpack(raw[offset : offset + size], item.get("datatype"), where)
        offset += size
    if offset != len(raw):
        raise BadRequestError(f"binary request has {len(raw) - offset} bytes not claimed by any input")
    return body


def unpack(chunk: bytes, datatype: Any, where: str) -> list:
    """Flat values from raw little-endian tensor bytes (BYTES: 4-byte length-prefixed items)."""
    spec = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if spec is None:
        raise BadRequestError(
            f"{where}.datatype: unsupported datatype {_show(datatype)}, expected one of {_DATATYPE_LIST}"
        )
    if spec[0] == "bytes":
        values, offset = [], 0
        while offset < len(chunk):
            if offset + 4 > len(chunk):
                raise BadRequestError(f"{where}: truncated BYTES element length")
            (length,) = struct.unpack_from("<I", chunk, offset)
            offset += 4
            if offset + length > len(chunk):
                raise BadRequestError(f"{where}: truncated BYTES element")
            item = chunk[offset : offset + length]
            offset += length
            try:
                values.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(item)
        return values
    size = struct.calcsize(spec[1])
    if len(chunk) % size:
        raise BadRequestError(f"{where}: {len(chunk)} bytes is not a whole number of {datatype} values")
    return list(struct.unpack(f"<{len(chunk) // size}{spec[1]}", chunk))


def pack(values: list, datatype: str) -> bytes:
    """Raw little-endian bytes of flat values (the inverse of :func:`unpack`)."""
    kind, char, _, _ = DATATYPES[datatype]
    if kind == "bytes":
        parts = []
        for value in values:
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            parts.append(struct.pack("<I", len(data)))
            parts.append(data)
        return b"".join(parts)
    return struct.pack(f"<{len(values)}{char}", *values)


# --- responses -------------------------------------------------------------------------------------


def encode_outputs(outputs: Any, requested: list[dict] | None = None) -> list[dict]:
    """OIP output tensors for a model's outputs.

    ``outputs`` may already be a list of tensor objects (validated, passed through); a dict maps
    output names to values; anything else is one output named after the first requested output
    (``output0`` when none was requested). Values are nested lists, scalars or numpy arrays.
    """
    requested_names = [out["name"] for out in requested or ()]
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) and "datatype" in outputs[0]:
        try:
            tensors = [decode_tensor(item, f"outputs[{i}]").to_dict() for i, item in enumerate(outputs)]
        except BadRequestError as exc:
            raise ValueError(f"the model returned an invalid output tensor: {exc}") from None
    elif isinstance(outputs, dict):
        tensors = [tensor_from_value(str(name), value) for name, value in outputs.items()]
    else:
        name = requested_names[0] if requested_names else DEFAULT_OUTPUT_NAME
        return [tensor_from_value(name, outputs)]
    if requested_names:
        by_name = {t["name"]: t for t in tensors}
        missing = [n for n in requested_names if n not in by_name]
        if missing:
            raise BadRequestError(
                f"outputs: the model has no output named {missing[0]!r}, it has {list(by_name)}"
            )
        tensors = [by_name[n] for n in requested_names]
    return tensors


def tensor_from_value(name: str, value: Any, datatype: str | None = None) -> dict:
    """An OIP tensor object for one output value (numpy arrays keep their dtype)."""
    if hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "tolist"):
        kind = value.dtype.kind
        datatype = datatype or _NUMPY_DATATYPES.get((kind, value.dtype.itemsize))
        if datatype is None and kind in "OSU":
            datatype = "BYTES"
        if datatype is None:
            raise ValueError(f"output {name!r}: numpy dtype {value.dtype} has no OIP datatype")
        shape = list(value.shape)
        flat = value.reshape(-1).tolist()
    else:
        if hasattr(value, "tolist"):
            value = value.tolist()
        shape, flat = flatten(value, f"output {name!r}")
        flat = [v.tolist() if hasattr(v, "tolist") else v for v in flat]
        datatype = datatype or infer_datatype(flat, name)
    if datatype == "BYTES":
        flat = [_text(v) for v in flat]
    return {"name": name, "datatype": datatype, "shape": shape, "data": flat}


def infer_datatype(flat: list, name: str = DEFAULT_OUTPUT_NAME) -> str:
    """The datatype of plain Python values: BOOL, INT64 (UINT64 above its range), FP64 or BYTES."""
    if not flat:
        return "FP64"
    if all(v is True or v is False for v in flat):
        return "BOOL"
    if all(v.__class__ is int for v in flat):
        return "UINT64" if max(flat) > 2**63 - 1 else "INT64"
    if all(v.__class__ is float or v.__class__ is int for v in flat):
        return "FP64"
    if all(v.__class__ is str or v.__class__ is bytes for v in flat):
        return "BYTES"
    kinds = sorted({type(v).__name__ for v in flat})
    raise ValueError(f"output {name!r} mixes value types {kinds}, cannot pick an OIP datatype")


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                "a BYTES output is not UTF-8 text, which the JSON tensor form cannot carry"
            ) from None
    return value if isinstance(value, str) else str(value)


def wants_binary(output_name: str, requested: list[dict], parameters: dict) -> bool:
    """Whether the client asked for ``output_name`` in binary (per output, else ``binary_data_output``)."""
    for out in requested:
        if out.get("name") == output_name:
            params = out.get("parameters")
            if isinstance(params, dict) and "binary_data" in params:
                return params["binary_data"] is True
            break
    return parameters.get("binary_data_output") is True


def binary_response(response: dict, request: InferRequest) -> tuple[bytes, int] | None:
    """The binary-extension body of ``response`` (JSON header + raw outputs) and its header length.

    None when the client asked for no binary output: the JSON response is then sent as is.
    """
    outputs = response.get("outputs")
    if not isinstance(outputs, list):
        return None
    chunks = []
    header_outputs = []
    for tensor in outputs:
        if not wants_binary(tensor["name"], request.outputs, request.parameters):
            header_outputs.append(tensor)
            continue
        raw = pack(tensor["data"], tensor["datatype"])
        chunks.append(raw)
        described = {k: v for k, v in tensor.items() if k != "data"}
        described["parameters"] = {**(tensor.get("parameters") or {}), "binary_data_size": len(raw)}
        header_outputs.append(described)
    if not chunks:
        return None
    header = json.dumps({**response, "outputs": header_outputs}, default=_json_default).encode()
    return header + b"".join(chunks), len(header)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
