"""Isolated, limited execution of untrusted code."""

from assay.sandbox.base import CheckItem, CheckStatus, SandboxBackend
from assay.sandbox.environments import ENVIRONMENTS, Environment, get_environment
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import Limits, OutputPolicy, RunSpec, parse_size

__all__ = [
    "ENVIRONMENTS",
    "CheckItem",
    "CheckStatus",
    "Environment",
    "Limits",
    "OutputPolicy",
    "RunResult",
    "RunSpec",
    "Sandbox",
    "SandboxBackend",
    "Termination",
    "get_environment",
    "parse_size",
]
