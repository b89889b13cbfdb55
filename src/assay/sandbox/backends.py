"""Backend registry: names to implementations, loaded on first use.

``make_backend(name, settings)`` makes a backend configured by ``settings``: the
platform makes its one backend so, from the settings its entry point read.
``get_backend(name)`` is the process's shared instance for callers that name a
backend (``Sandbox("python3", backend="docker")``, the compat layer, the sandbox
commands): the library's own door, so it reads the settings (``get_settings``)
when it makes one.

A forked child keeps the shared instances (each resets itself, see
``assay.sandbox.forks``) with a new lock: a thread of the parent may have held it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from assay.config import Settings, get_settings
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


def make_backend(name: str, settings: Settings) -> SandboxBackend:
    """A new backend ``name`` configured by ``settings``."""
    return _factory(name)(settings)


def get_backend(name: str = DEFAULT_BACKEND) -> SandboxBackend:
    """The shared backend instance for ``name`` (made from ``get_settings()``)."""
    with _guard.lock:
        if name not in _instances:
            _instances[name] = make_backend(name, get_settings())
        return _instances[name]


def _factory(name: str) -> Callable[[Settings], SandboxBackend]:
    """The class method that makes backend ``name`` from settings (imported on use)."""
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(BACKENDS)
        raise UnknownBackendError(f"unknown sandbox backend {name!r}; known: {known}") from None
    module_name, _, attr = target.partition(":")
    factory: Callable[[Settings], SandboxBackend] = getattr(
        importlib.import_module(module_name), attr
    ).from_settings
    return factory
