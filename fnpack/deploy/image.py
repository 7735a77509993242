"""``fnpack image``: build (and push) a function's image through the Docker Engine API.

The image is the base image + ``spec.build.commands`` + the decoded ``functionSourceCode`` as the handler
module under ``/opt/nuclio`` (see ``fnpack.deploy.dockerfile``). After a push, ``with_image`` rewrites the
config to deploy that image (``spec.image``, ``spec.build.codeEntryType: image``) instead of building.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from rich.console import Console

from fnpack.deploy import dockerfile
from fnpack.deploy.config import function_name, handler_module, load_function, source_code
from fnpack.deploy.errors import DeployError

_RUNTIME_RE = re.compile(r"^python(?::(3\.\d+))?$")
DEFAULT_PYTHON = "3.11"
BUILD_TRIGGERS = ("functionSourceCode", "path", "image")  # any of these in spec.build makes nuclio build
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ImageResult:
    """The built image: its tag, its id, and (after a push) the registry digest."""

    tag: str
    image_id: str | None
    digest: str | None = None
    pushed: bool = False


def default_base_image(config: dict) -> str:
    """``spec.build.baseImage`` when set, else the slim Python image of ``spec.runtime``."""
    spec = config.get("spec") or {}
    base = (spec.get("build") or {}).get("baseImage")
    if base:
        return str(base)
    runtime = str(spec.get("runtime") or "python")
    match = _RUNTIME_RE.match(runtime)
    if not match:
        raise DeployError(f"spec.runtime {runtime!r} is not a Python runtime; pass --base-image")
    return f"python:{match.group(1) or DEFAULT_PYTHON}-slim"


def write_context(config: dict, directory: Path, *, base_image: str, processor_image: str | None) -> str:
    """Lay out the build context (Dockerfile, handler/, function.yaml) in ``directory``; return the Dockerfile."""
    source = source_code(config)
    if source is None:
        image = (config.get("spec") or {}).get("image")
        already = f" (it already deploys the image {image})" if image else ""
        raise DeployError(f"the function has no spec.build.functionSourceCode to put in the image{already}")
    module, _ = handler_module(config)
    handler_file = directory / "handler" / (module.replace(".", "/") + ".py")
    handler_file.parent.mkdir(parents=True, exist_ok=True)
    handler_file.write_bytes(source)
    embedded = copy.deepcopy(config)
    embedded.pop("status", None)
    embedded.get("spec", {}).get("build", {}).pop("functionSourceCode", None)  # it is the file next to it
    (directory / "function.yaml").write_text(yaml.safe_dump(embedded, sort_keys=False), encoding="utf-8")
    commands = (config.get("spec", {}).get("build") or {}).get("commands") or []
    text = dockerfile.render(
        name=function_name(config),
        handler=config.get("spec", {}).get("handler") or f"{module}:handler",
        base_image=base_image,
        commands=[str(c) for c in commands],
        processor_image=processor_image,
    )
    (directory / "Dockerfile").write_text(text, encoding="utf-8")
    return text


def build_image(
    function: Any,
    tag: str,
    *,
    base_image: str | None = None,
    processor_image: str | None = None,
    push: bool = False,
    network_mode: str | None = None,
    pull: bool = False,
    docker_client: Any = None,
    docker_host: str | None = None,
    console: Console | None = None,
) -> ImageResult:
    """Build the function's image tagged ``tag``, streaming the build output; push it when asked.

    ``processor_image`` (e.g. ``dockerfile.onbuild_image("1.13.0")``) adds nuclio's processor so the image
    runs under nuclio as ``spec.image``; None builds the handler-only image.
    """
    console = console or Console(highlight=False, soft_wrap=True)
    config = load_function(function)
    base = base_image or default_base_image(config)
    client = docker_client or _docker_client(docker_host)
    with tempfile.TemporaryDirectory(prefix="fnpack-image-") as tmp:
        write_context(config, Path(tmp), base_image=base, processor_image=processor_image)
        console.print(f"building image {tag} from {base} for function {function_name(config)}", markup=False)
        try:
            chunks = client.api.build(
                path=tmp,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=pull,
                network_mode=network_mode,
                decode=True,
            )
            image_id = _stream_build(chunks, console)
        except DeployError:
            raise
        except Exception as exc:  # docker.errors.* and transport errors
            raise DeployError(f"image build failed: {_docker_reason(exc)}")
    result = ImageResult(tag=tag, image_id=image_id)
    if push:
        result.digest = push_image(client, tag, console)
        result.pushed = True
    return result


def push_image(client: Any, tag: str, console: Console) -> str | None:
    """Push ``tag``; returns the registry digest. Registry credentials come from ``docker login``."""
    from docker.utils import parse_repository_tag

    repository, image_tag = parse_repository_tag(tag)
    console.print(f"pushing {tag}", markup=False)
    try:
        chunks = client.api.push(repository, tag=image_tag or "latest", stream=True, decode=True)
        return _stream_push(chunks, console)
    except DeployError:
        raise
    except Exception as exc:
        raise DeployError(f"push of {tag} failed: {_docker_reason(exc)}")


def with_image(config: dict, image: str) -> dict:
    """A copy of ``config`` that deploys the prebuilt ``image``.

    nuclio builds whenever ``spec.build`` has ``functionSourceCode``, ``path`` or ``image``, whatever the
    ``codeEntryType`` (``functionBuildRequired`` in its platform code), so those go: the source and the
    build commands' results are in the image. Keep the original file (``--output``) to rebuild.
    """
    out = copy.deepcopy(config)
    out.pop("status", None)
    spec = out.setdefault("spec", {})
    spec["image"] = image
    build = spec.setdefault("build", {})
    for key in BUILD_TRIGGERS:
        build.pop(key, None)
    build.pop("commands", None)
    build["codeEntryType"] = "image"
    return out


def _stream_build(chunks: Iterable[dict], console: Console) -> str | None:
    image_id = None
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(chunk.get("error") or detail.get("message") or "unknown error")
            raise DeployError(f"image build failed: {' '.join(message.split())}")
        text = chunk.get("stream")
        if text:
            if not console.is_terminal:
                text = _ANSI_RE.sub("", text)  # the daemon colours RUN stderr; keep CI logs plain
            console.out(text, end="", highlight=False)
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
    return image_id


def _stream_push(chunks: Iterable[dict], console: Console) -> str | None:
    digest = None
    shown: set[tuple[str, str]] = set()
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(chunk.get("error") or detail.get("message") or "unknown error")
            raise DeployError(f"push failed: {' '.join(message.split())}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = aux["Digest"]
        status = chunk.get("status")
        if status and not chunk.get("progressDetail", {}).get("current"):
            key = (str(chunk.get("id", "")), status)
            if key not in shown:  # one line per layer and phase, not one per progress tick
                shown.add(key)
                prefix = f"{chunk['id']}: " if chunk.get("id") else ""
                console.out(f"{prefix}{status}", highlight=False)
    return digest


def _docker_client(docker_host: str | None) -> Any:
    try:
        import docker
    except ImportError:
        raise DeployError("image builds need the docker package: pip install 'fnpack[docker]'")
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host)
        else:
            client = docker.from_env()
        client.ping()
    except Exception as exc:
        where = docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        match = re.search(r"(?:\[Errno -?\d+\] |\w+Error\(\d+, ')([^'\")]+)", str(exc))
        reason = match.group(1) if match else _docker_reason(exc)
        raise DeployError(
            f"cannot reach the Docker Engine at {where} ({reason}); is dockerd running? (--docker-host, DOCKER_HOST)"
        )
    return client


def _docker_reason(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return " ".join(text.split())[:300] or type(exc).__name__
