"""Every built-in environment's probe (a real program compiled and run) passes on
both backends, through the sandbox itself: the row `assay sandbox check
--environment X` shows (``probes.environment_probe``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assay.sandbox.backends import get_backend
from assay.sandbox.base import CheckStatus
from assay.sandbox.environments import ENVIRONMENTS, Environment
from assay.sandbox.probes import environment_probe
from helpers import require_backend

pytestmark = [pytest.mark.slow, pytest.mark.envbuild]


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_every_built_in_environments_probe_passes(backend_name: str, name: str) -> None:
    environment = ENVIRONMENTS[name]
    require_backend(backend_name, environment)
    item = environment_probe(get_backend(backend_name), environment)
    assert item.status is CheckStatus.OK, item


def test_a_failing_probe_says_what_failed_and_how_to_check(backend_name: str) -> None:
    python3 = ENVIRONMENTS["python3"]
    source = python3.plan.source
    spec = source.spec.model_copy(update={"probe": ("sh", "-c", "echo no compiler >&2; exit 3")})
    # The probe is not part of the key: the same tree, another probe.
    broken = Environment(replace(python3.plan, source=replace(source, spec=spec)))
    assert broken.key == python3.key
    require_backend(backend_name)
    item = environment_probe(get_backend(backend_name), broken)
    assert item.status is CheckStatus.FAIL
    assert "exit 3" in item.detail and "no compiler" in item.detail, item
    assert item.fix == "assay env check python3"
