"""``input_path`` / ``result_path``: read and write a dotted path in an event body."""

from __future__ import annotations


def split_path(path: str | list | None) -> tuple[str, ...]:
    """``"a.b\\.c"`` -> ``("a", "b.c")``; dots are escaped with a backslash."""
    if not path:
        return ()
    if isinstance(path, (list, tuple)):
        return tuple(str(p) for p in path)
    parts, current, escaped = [], [], False
    for char in path:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return tuple(parts)


def get_in(body, keys: tuple[str, ...]):
    """The value at ``keys`` in ``body``; ``None`` when a key is missing or the body is not a mapping."""
    if not keys:
        return body
    if not hasattr(body, "__getitem__"):
        raise TypeError("input_path parameter supports only dict-like event bodies")
    value = body
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
        if value is None:
            return None
    return value


def update_in(body, keys: tuple[str, ...], result):
    """``body`` with ``result`` written at ``keys`` (intermediate dicts created); the new body.

    Without keys, or when the body is empty, the result replaces the body.
    """
    if not keys or not body:
        return result
    if not hasattr(body, "__setitem__"):
        raise TypeError("result_path parameter supports only dict-like event bodies")
    target = body
    for key in keys[:-1]:
        nxt = target.get(key) if isinstance(target, dict) else None
        if not isinstance(nxt, dict):
            nxt = {}
            target[key] = nxt
        target = nxt
    target[keys[-1]] = result
    return body
