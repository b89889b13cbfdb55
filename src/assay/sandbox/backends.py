"""Backend registry: names to implementations, loaded on first use."""

from __future__ import annotations

import importlib
import threading

from assay.errors import UnknownBackendError
from assay.sandbox.base import SandboxBackend

# name -> "module:attribute"; the docker SDK is only imported when asked for.
BACKENDS = {
    "native": "assay.sandbox.native.backend:BwrapBackend",
    "docker": "assay.sandbox.docker.backend:DockerBackend",
}
DEFAULT_BACKEND = "native"

_instances: dict[str, SandboxBackend] = {}
_lock = threading.Lock()


def get_backend(name: str = DEFAULT_BACKEND) -> SandboxBackend:
    """The shared backend instance for ``name``."""
    with _lock:
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
