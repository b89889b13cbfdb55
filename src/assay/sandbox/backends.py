"""Backend registry: names to implementations, loaded on first use.

A forked child keeps the shared instances (each resets itself, see
``assay.sandbox.forks``) with a new lock: a thread of the parent may have held it.
"""

from __future__ import annotations

import importlib
import threading

from assay.errors import UnknownBackendError
from assay.sandbox import forks
from assay.sandbox.base import SandboxBackend

# name -> "module:attribute"; the docker SDK is only imported when asked for.
BACKENDS = {
    "native": "assay.sandbox.native.backend:BwrapBackend",
    "docker": "assay.sandbox.docker.backend:DockerBackend",
}
DEFAULT_BACKEND = "native"

_instances: dict[str, SandboxBackend] = {}


class _Guard:
    """The lock around ``_instances``, made anew in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        forks.register(self)

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()


_guard = _Guard()


def get_backend(name: str = DEFAULT_BACKEND) -> SandboxBackend:
    """The shared backend instance for ``name``."""
    with _guard.lock:
        return _instance(name)


def _instance(name: str) -> SandboxBackend:
    if name not in _instances:
        try:
            target = BACKENDS[name]
        except KeyError:
            known = ", ".join(BACKENDS)
            raise UnknownBackendError(f"unknown sandbox backend {name!r}; known: {known}") from None
        module_name, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        _instances[name] = cls()
    return _instances[name]
