"""The Docker Engine API as the backend uses it; the one place docker errors are mapped.

Container and image requests go through the docker SDK's low-level client;
the per-run exec requests and limit updates through ``rawhttp`` (faster, and
the exec stream is never buffered by an HTTP library).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

import docker
import docker.errors
import requests

from assay.errors import SandboxError, SandboxUnavailableError
from assay.sandbox.docker.rawhttp import UnixHTTP

logger = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"
API_TIMEOUT_S = 60
IMPORT_TIMEOUT_S = 1800
DAEMON_FIX = "start dockerd (see docs/docker.md) or set DOCKER_HOST to a local unix socket"


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Translate docker SDK and HTTP errors into ``SandboxError``."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise SandboxError(f"{action}: not found: {_explain(exc)}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise SandboxError(f"{action}: {_explain(exc)}") from exc


@contextmanager
def _image_missing(image: str) -> Iterator[None]:
    """The backend imports an environment's image before its first container, so a
    missing one was removed behind its back."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise SandboxUnavailableError(
            f"the image {image} is not in the Docker daemon (removed since this process "
            "imported it?)",
            fix="assay image build",
        ) from exc


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


@dataclass(frozen=True)
class ExecInfo:
    running: bool
    exit_code: int | None
    pid: int


def _daemon_address(docker_host: str | None) -> str:
    """The local socket path of the daemon; remote daemons cannot be used."""
    host = docker_host or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    parts = urlsplit(host)
    if parts.scheme == "unix":
        return parts.path
    raise SandboxUnavailableError(
        f"DOCKER_HOST={host} is not a local unix socket; the Docker backend reads the "
        "containers' cgroups on this host, so it needs a daemon on this host",
        fix="unset DOCKER_HOST or point it at unix:///var/run/docker.sock",
    )


SDK_POOL_SIZE = 128


def _connectable(socket_path: str) -> None:
    """Connect to the daemon's socket once (raising ``OSError`` if nobody listens)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(API_TIMEOUT_S)
        probe.connect(socket_path)


class DockerAPI:
    """A connection to the local Docker daemon."""

    def __init__(self, docker_host: str | None = None) -> None:
        self.socket_path = _daemon_address(docker_host)
        try:
            _connectable(self.socket_path)  # else the SDK leaks its socket when it fails
            self.client = docker.APIClient(
                base_url=f"unix://{self.socket_path}",
                version="auto",
                timeout=API_TIMEOUT_S,
                # Many sessions at once (an exam peak) share this client: a pool of
                # the SDK's default 10 connections overflows and churns sockets.
                max_pool_size=SDK_POOL_SIZE,
            )
            self.client.ping()
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise SandboxUnavailableError(
                f"the Docker daemon at {self.socket_path} is not reachable: {_explain(exc)}",
                fix=DAEMON_FIX,
            ) from exc
        self.version = str(self.client.api_version)
        self.http = UnixHTTP(self.socket_path, self.version)

    def close(self) -> None:
        self.http.close()
        self.client.close()

    # -- images and containers -----------------------------------------------
    def image_exists(self, image: str) -> bool:
        with docker_errors(f"look up image {image}"):
            return bool(self.client.images(name=image, quiet=True))

    def image_info(self, image: str) -> dict[str, Any] | None:
        """``docker image inspect``, or None when there is no such image."""
        try:
            return dict(self.client.inspect_image(image))  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound:
            return None
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxError(f"inspect image {image}: {_explain(exc)}") from exc

    def images_labelled(self, label: str) -> list[dict[str, Any]]:
        """Images carrying ``label`` (``key`` or ``key=value``)."""
        with docker_errors("list images"):
            return [dict(i) for i in self.client.images(filters={"label": label})]

    def import_image(self, tar_stream: IO[bytes], image: str, changes: Sequence[str]) -> str:
        """``docker import`` of a tar stream as ``image`` (``repository:tag``); its id.

        On a client of its own without a read timeout: the daemon answers only when
        it has unpacked the whole layer, which takes longer than any API call."""
        repository, _, tag = image.rpartition(":")
        client = docker.APIClient(
            base_url=f"unix://{self.socket_path}", version=self.version, timeout=IMPORT_TIMEOUT_S
        )
        try:
            with docker_errors(f"import image {image}"):
                answer = client.import_image(
                    src=tar_stream,
                    repository=repository,
                    tag=tag,
                    changes=list(changes),
                    stream_src=True,
                )
        finally:
            client.close()
        image_id = ""
        for line in str(answer).splitlines():
            try:
                status = json.loads(line)
            except ValueError:
                continue
            if isinstance(status, dict) and status.get("error"):
                raise SandboxError(f"import image {image}: {status['error']}")
            if isinstance(status, dict) and str(status.get("status", "")).startswith("sha256:"):
                image_id = str(status["status"])
        return image_id

    def remove_image(self, image: str) -> None:
        """``docker rmi`` (the tag, and the image when no other tag names it)."""
        with docker_errors(f"remove image {image}"):
            self.client.remove_image(image)

    def create_container(
        self,
        image: str,
        command: Sequence[str],
        *,
        user: str,
        host_config: Mapping[str, Any],
        labels: Mapping[str, str],
        network: bool,
    ) -> str:
        with docker_errors(f"create a container of {image}"), _image_missing(image):
            created = self.client.create_container(
                image,
                list(command),
                user=user,
                host_config=dict(host_config),
                labels=dict(labels),
                network_disabled=not network,
                hostname="sandbox",
                working_dir="/",
            )
        return str(created["Id"])

    def host_config(self, **options: Any) -> dict[str, Any]:
        with docker_errors("build a host config"):
            return dict(self.client.create_host_config(**options))

    def start(self, container_id: str) -> None:
        with docker_errors("start the sandbox container"):
            self.client.start(container_id)

    def inspect(self, container_id: str) -> dict[str, Any]:
        with docker_errors("inspect the sandbox container"):
            return dict(self.client.inspect_container(container_id))

    def remove(self, container_id: str) -> None:
        """Kill and remove a container; already gone is fine."""
        try:
            self.client.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if "already in progress" in _explain(exc):
                return
            raise SandboxError(f"remove container {container_id[:12]}: {_explain(exc)}") from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxError(f"remove container {container_id[:12]}: {_explain(exc)}") from exc

    def update_limits(self, container_id: str, *, memory_bytes: int, pids: int) -> None:
        """Change memory (swap off) and pids limits of a running container."""
        # The SDK's update_container has no pids limit, so post the documented body.
        body = {"Memory": memory_bytes, "MemorySwap": memory_bytes, "PidsLimit": pids}
        self.http.request("POST", f"/containers/{container_id}/update", body)

    def list_labelled(self, *labels: str) -> list[dict[str, Any]]:
        """Containers, running or not, carrying every one of ``labels`` (``key=value``)."""
        with docker_errors("list sandbox containers"):
            found = self.client.containers(all=True, filters={"label": list(labels)})
            return [dict(c) for c in found]

    # -- exec ------------------------------------------------------------------
    def exec_create(
        self,
        container_id: str,
        argv: Sequence[str],
        *,
        user: str,
        stdin: bool,
        workdir: str = "/work",
        tty: bool = False,
    ) -> str:
        body = {
            "AttachStdin": stdin,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": tty,
            "Privileged": False,
            "User": user,
            "WorkingDir": workdir,
            "Cmd": list(argv),
        }
        created = self.http.request("POST", f"/containers/{container_id}/exec", body)
        return str(created["Id"])

    def exec_inspect(self, exec_id: str) -> ExecInfo:
        info = self.http.request("GET", f"/exec/{exec_id}/json")
        code = info.get("ExitCode")
        return ExecInfo(
            bool(info.get("Running")),
            None if code is None else int(code),
            int(info.get("Pid") or 0),
        )

    def exec_start(self, exec_id: str, *, tty: bool = False) -> tuple[socket.socket, bytes]:
        """Start an exec; its raw stream (multiplexed unless ``tty``) and any bytes already read."""
        return self.http.hijack(f"/exec/{exec_id}/start", {"Detach": False, "Tty": tty})
