"""``fnpack show``: a serving graph as indented text, or as Graphviz dot / SVG."""

from __future__ import annotations

import json
import shutil
import subprocess

from .errors import BuildError


def _describe(step: dict) -> str:
    kind = step.get("kind") or "task"
    if kind == "queue":
        return f"queue → {step.get('path') or '(pass-through)'}"
    parts = []
    class_name = step.get("class_name")
    if class_name:
        args = step.get("class_args") or {}
        shown = ", ".join(f"{k}={json.dumps(v, default=str)[:40]}" for k, v in args.items())
        parts.append(f"{class_name}({shown})")
    elif kind == "router":
        parts.append("ModelRouter()")
    if step.get("handler"):
        parts.append(f"handler {step['handler']}")
    for key in ("function", "on_error", "input_path", "result_path"):
        if step.get(key):
            parts.append(f"{key}={step[key]}")
    if step.get("full_event"):
        parts.append("full_event")
    if step.get("responder"):
        parts.append("responder")
    label = "router " if kind == "router" else ("error handler " if kind == "error_step" else "")
    return label + " ".join(parts)


def _ordered(steps: dict) -> list[str]:
    """Steps in dependency order (those without ``after`` first), stable otherwise."""
    done: list[str] = []
    pending = list(steps)
    while pending:
        progressed = False
        for name in list(pending):
            after = steps[name].get("after") or []
            if all(a in done or a not in steps for a in after):
                done.append(name)
                pending.remove(name)
                progressed = True
        if not progressed:  # a cycle: show the rest as is
            done.extend(pending)
            break
    return done


def graph_text(graph: dict | None, title: str = "") -> str:
    """The graph as indented text: the topology line, then one line per step or route."""
    if not graph:
        return f"{title}: no graph"
    lines = []
    if graph.get("kind") == "router":
        lines.append(f"{title}: router topology — {_describe(graph)}")
        for key, route in (graph.get("routes") or {}).items():
            lines.append(f"  route {key}: {_describe(route)}")
        return "\n".join(lines)
    engine = graph.get("engine") or "async"
    lines.append(f"{title}: flow topology, {engine} engine")
    steps = graph.get("steps") or {}
    for name in _ordered(steps):
        step = steps[name]
        after = step.get("after") or []
        arrow = f"  (after {', '.join(after)})" if after else ""
        lines.append(f"  {name}: {_describe(step)}{arrow}")
        for key, route in (step.get("routes") or {}).items():
            lines.append(f"    route {key}: {_describe(route)}")
    return "\n".join(lines)


def _dot_id(name: str) -> str:
    return json.dumps(name)


def graph_dot(graph: dict | None, title: str = "graph") -> str:
    """Graphviz dot source for the graph (routes as a cluster inside their router)."""
    out = [f"digraph {_dot_id(title)} {{", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    if not graph:
        out.append("}")
        return "\n".join(out)
    if graph.get("kind") == "router":
        out.append('  "router" [label="router", shape=diamond];')
        for key, route in (graph.get("routes") or {}).items():
            out.append(f"  {_dot_id('route:' + key)} [label={_dot_id(key + chr(10) + _describe(route))}];")
            out.append(f'  "router" -> {_dot_id("route:" + key)};')
    else:
        out.append('  "_start" [label="start", shape=circle];')
        steps = graph.get("steps") or {}
        for name in _ordered(steps):
            step = steps[name]
            shape = (
                "diamond" if step.get("kind") == "router" else "cds" if step.get("kind") == "queue" else "box"
            )
            label = f"{name}\n{_describe(step)}"
            out.append(f"  {_dot_id(name)} [label={_dot_id(label)}, shape={shape}];")
            after = [a for a in step.get("after") or [] if a in steps]
            for parent in after or ["_start"]:
                out.append(f"  {_dot_id(parent)} -> {_dot_id(name)};")
            if step.get("on_error"):
                out.append(f"  {_dot_id(name)} -> {_dot_id(step['on_error'])} [style=dashed, label=error];")
            for key in step.get("routes") or {}:
                route_id = _dot_id(f"{name}:{key}")
                out.append(f"  {route_id} [label={_dot_id(key)}, shape=ellipse];")
                out.append(f"  {_dot_id(name)} -> {route_id} [style=dotted];")
    out.append("}")
    return "\n".join(out)


def graph_svg(graph: dict | None, title: str = "graph") -> str:
    """SVG through Graphviz's ``dot`` program (a clear error when it is not installed)."""
    dot = shutil.which("dot")
    if dot is None:
        raise BuildError(
            "--format svg needs Graphviz: install the 'graphviz' package (apt/brew), or use --format dot"
        )
    done = subprocess.run(
        [dot, "-Tsvg"], input=graph_dot(graph, title), capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise BuildError(f"dot failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return done.stdout
