"""Defaults of autograder-sandbox 6.x and the environment variables that change them.

Read when a sandbox is made, never at import time.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from assay.sandbox.environments import DEFAULT_ENVIRONMENT, DOCKER_REPOSITORY, ENVIRONMENTS

SANDBOX_USERNAME = "autograder"
SANDBOX_HOME_DIR_NAME = "/work"
"""Where the workspace is inside an Assay sandbox (6.x: ``/home/autograder``)."""
SANDBOX_WORKING_DIR_NAME = "/work"
"""The working directory of commands (6.x: ``/home/autograder/working_dir``)."""

DEFAULT_DOCKER_IMAGE = "eecsautograder/ubuntu22:latest"
DEFAULT_PIDS_LIMIT = 512
DEFAULT_MEM_LIMIT = "4g"
DEFAULT_BACKEND = "native"


def docker_image() -> str:
    return os.environ.get("SANDBOX_DOCKER_IMAGE", DEFAULT_DOCKER_IMAGE)


def pids_limit() -> int:
    value = os.environ.get("SANDBOX_PIDS_LIMIT")
    if value is None:
        return DEFAULT_PIDS_LIMIT
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"SANDBOX_PIDS_LIMIT must be an integer, got {value!r}") from None


def memory_limit() -> str:
    return os.environ.get("SANDBOX_MEM_LIMIT", DEFAULT_MEM_LIMIT)


def cpu_core_limit() -> Decimal | None:
    value = os.environ.get("SANDBOX_CPU_CORE_LIMIT")
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"SANDBOX_CPU_CORE_LIMIT must be a number, got {value!r}") from None


def backend() -> str:
    return os.environ.get("ASSAY_COMPAT_BACKEND", DEFAULT_BACKEND)


def environment(image: str) -> str:
    """The Assay environment for a Docker image name.

    ``ASSAY_COMPAT_ENVIRONMENT`` wins; then Assay's image of a built-in environment
    (``Environment.docker_image``, ``assay-env:<key prefix>``) names it, as does the
    older form ``assay-<env>:<tag>``; anything else gets the default environment.
    """
    chosen = os.environ.get("ASSAY_COMPAT_ENVIRONMENT")
    if chosen:
        return chosen
    reference = image.rsplit("/", 1)[-1]
    repository, _, tag = reference.partition(":")
    if repository == DOCKER_REPOSITORY:
        for name, env in ENVIRONMENTS.items():
            if tag and env.docker_image == f"{DOCKER_REPOSITORY}:{tag}":
                return name
        return DEFAULT_ENVIRONMENT
    name = repository.removeprefix("assay-")
    if repository.startswith("assay-") and name in ENVIRONMENTS:
        return name
    return DEFAULT_ENVIRONMENT
