"""A restricted expression language for ``url_expression`` / ``body_expression``.

The reference evaluates these strings with Python ``eval`` on request data. Here an expression is
parsed with :mod:`ast` and only a whitelist is accepted: names given by the caller (``event``,
``endpoint``), field access with constant keys (``event["a"]["b"]``, ``event[0]``), string
concatenation with ``+``, f-strings, and str/number/bool/None/list/dict literals. Anything else (calls,
attributes, comprehensions, lambdas, operators other than ``+``) is rejected when the graph is built.
The accepted tree is compiled into plain closures: nothing is ever passed to ``eval`` or ``exec``.
"""

from __future__ import annotations

from ..graph.errors import GraphError


class ExpressionError(GraphError):
    """An expression uses something outside the whitelist (raised at graph init)."""


class FieldError(KeyError):
    """A field the expression reads is missing from the event."""

    def __str__(self) -> str:
        return self.args[0]


def compile_expression(text: str, names: tuple[str, ...] = ("event",), what: str = "expression"):
    """``text`` -> a function ``f(**values)`` evaluating it; :class:`ExpressionError` when not allowed."""
    import ast  # lazy: only graphs with expressions pay for the parser

    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{what} must be a non-empty string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{what} {text!r} is not a valid expression: {exc.msg}")
    evaluate = _compile(tree.body, set(names), text, what)
    return lambda **values: evaluate(values)


def _reject(node, text: str, what: str, why: str = ""):
    kind = type(node).__name__
    detail = f" ({why})" if why else ""
    raise ExpressionError(
        f'{what} {text!r}: {kind} is not allowed{detail}; use field access like event["a"]["b"], '
        "string concatenation with +, f-strings and literals"
    )


def _compile(node, names: set, text: str, what: str):
    import ast

    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            _reject(node, text, what, "only str, number, bool and None constants")
        value = node.value
        return lambda env: value

    if isinstance(node, ast.Name):
        if node.id not in names:
            _reject(node, text, what, f"unknown name '{node.id}', available: {', '.join(sorted(names))}")
        name = node.id
        return lambda env: env[name]

    if isinstance(node, ast.Subscript):
        key_node = node.slice
        if not isinstance(key_node, ast.Constant) or not isinstance(key_node.value, (str, int)):
            _reject(node, text, what, "subscripts must be constant strings or integers")
        key = key_node.value
        target = _compile(node.value, names, text, what)

        def subscript(env):
            container = target(env)
            try:
                return container[key]
            except (KeyError, IndexError, TypeError):
                raise FieldError(f"{what} {text!r}: the event has no field {key!r}") from None

        return subscript

    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add):
            _reject(node, text, what, "the only operator is + (string concatenation)")
        left = _compile(node.left, names, text, what)
        right = _compile(node.right, names, text, what)

        def concat(env):
            a, b = left(env), right(env)
            if not isinstance(a, str) or not isinstance(b, str):
                raise TypeError(
                    f"{what} {text!r}: + joins strings, got {type(a).__name__} and {type(b).__name__}"
                )
            return a + b

        return concat

    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append((True, value.value))
            elif isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, ord("s")):
                    _reject(value, text, what, "f-string conversions and format specs are not allowed")
                parts.append((False, _compile(value.value, names, text, what)))
            else:
                _reject(value, text, what)

        def template(env):
            return "".join(part if literal else str(part(env)) for literal, part in parts)

        return template

    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_compile(item, names, text, what) for item in node.elts]
        return lambda env: [item(env) for item in items]

    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            _reject(node, text, what, "dict unpacking")
        keys = [_compile(key, names, text, what) for key in node.keys]
        values = [_compile(value, names, text, what) for value in node.values]
        return lambda env: {k(env): v(env) for k, v in zip(keys, values)}

    _reject(node, text, what)
