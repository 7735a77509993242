"""A real dockerd (and a local registry) for image tests, started with flags that leave the host alone.

dockerd runs with ``--bridge=none --iptables=false --ip-forward=false --ip-masq=false`` and its own
data root, exec root, pidfile and unix socket, never the defaults (they rewrite the host's network).
Nothing can be pulled here, so the base image is imported from a tarball holding a static busybox, and
the push target is Distribution's registry binary (Debian ``docker-registry``) on 127.0.0.1.
Each helper raises ``Unavailable`` with the reason when its component cannot start; tests skip on it.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BUSYBOX_APPLETS = ("sh", "cat", "echo", "ls", "mkdir", "test", "true")


class Unavailable(Exception):
    """The component cannot start in this sandbox; the message says why."""


@dataclass
class Daemon:
    host: str
    client: object
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        try:
            self.client.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                # dockerd runs in its own session: its group is it, its containerd and the shims we made
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            shutil.rmtree(self.root, ignore_errors=True)


def start_dockerd(timeout: float = 30.0) -> Daemon:
    """Start a private dockerd and wait (with a deadline) until it answers a ping."""
    try:
        import docker
    except ImportError:
        raise Unavailable("the docker Python package is not installed (pip install 'fnpack[docker]')")
    dockerd = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None
    )
    if dockerd is None:
        raise Unavailable("dockerd is not installed (Debian docker.io; `make system-deps` installs it)")
    if os.geteuid() != 0:
        raise Unavailable("dockerd needs root here")
    root = Path(tempfile.mkdtemp(prefix="fnd-", dir="/tmp"))  # short: unix socket paths are <108 bytes
    host = f"unix://{root}/docker.sock"
    log_path = root / "dockerd.log"
    cmd = [
        dockerd,
        "--bridge=none",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        f"--data-root={root}/data",
        f"--exec-root={root}/exec",
        f"--pidfile={root}/docker.pid",
        f"--host={host}",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the classic builder: no BuildKit daemon state
        )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(f"dockerd exited with {process.returncode}: {' | '.join(tail)}")
        try:
            client = docker.DockerClient(base_url=host, timeout=120)  # asks the daemon its API version
            client.ping()
            return Daemon(host=host, client=client, root=root, process=process)
        except Exception as exc:
            if time.monotonic() > deadline:
                Daemon(host=host, client=_Closed(), root=root, process=process).stop()
                raise Unavailable(f"dockerd did not answer within {timeout:g}s ({type(exc).__name__})")
        time.sleep(0.1)


class _Closed:
    def close(self) -> None:
        pass


def import_busybox_image(client, repository: str = "fnpack-test/busybox", tag: str = "static") -> str:
    """Import a one-layer base image (static busybox + its applets) from a tarball made here."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise Unavailable("busybox is not installed (Debian busybox-static; `make system-deps` installs it)")
    with open(busybox, "rb") as fh:
        binary = fh.read()
    if _is_dynamic(busybox):
        raise Unavailable(f"{busybox} is dynamically linked; a FROM-scratch base image needs busybox-static")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "tmp", "etc", "opt"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    with tempfile.NamedTemporaryFile(suffix=".tar") as tmp:
        tmp.write(buf.getvalue())
        tmp.flush()
        client.api.import_image(src=tmp.name, repository=repository, tag=tag)
    return f"{repository}:{tag}"


def _is_dynamic(path: str) -> bool:
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "not a dynamic executable" not in (out.stdout + out.stderr)


@dataclass
class Registry:
    address: str  # host:port, as it goes into an image tag
    process: subprocess.Popen
    root: Path

    def tags(self, repository: str) -> list[str]:
        resp = requests.get(f"http://{self.address}/v2/{repository}/tags/list", timeout=10)
        return resp.json().get("tags") or [] if resp.status_code == 200 else []

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_registry(timeout: float = 20.0) -> Registry:
    """Distribution's registry on 127.0.0.1 (dockerd treats 127.0.0.0/8 registries as insecure: plain HTTP)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise Unavailable("docker-registry is not installed (Debian docker-registry; `make system-deps`)")
    root = Path(tempfile.mkdtemp(prefix="fnreg-", dir="/tmp"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root}/data}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    with open(root / "registry.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "serve", str(root / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registry = Registry(address=f"127.0.0.1:{port}", process=process, root=root)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = (root / "registry.log").read_text(errors="replace").strip().splitlines()[-2:]
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(f"docker-registry exited with {process.returncode}: {' | '.join(tail)}")
        try:
            if requests.get(f"http://{registry.address}/v2/", timeout=2).status_code == 200:
                return registry
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            registry.stop()
            raise Unavailable(f"docker-registry did not answer within {timeout:g}s")
        time.sleep(0.05)
