"""Every built-in environment's probe, run in its built tree (what ``assay env check`` does).

The trees are those of the machine's store (``ASSAY_ENVIRONMENTS_DIR``), where
``assay env build`` and the backends find them. A tree the store already has is
used as it is, so with every built-in built (``assay env build`` and their names,
as scripts/setup.sh does) this module takes about half a minute; a missing one is
built first, as ``assay env build`` would (one to two minutes each).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.config import get_settings
from assay.sandbox.envs.builtin import BUILTIN_SPECS, builtin_source
from assay.sandbox.envs.check import run_probe
from assay.sandbox.envs.debian import DebianBuilder
from assay.sandbox.envs.plan import BuildPlan, plan
from assay.sandbox.envs.resolve import store_from_settings
from assay.sandbox.envs.store import EnvironmentStore

pytestmark = [pytest.mark.slow, pytest.mark.envbuild]

NAMES = sorted(BUILTIN_SPECS)
BUILD_TIMEOUT_S = 1800


def _plan(name: str) -> BuildPlan:
    source = builtin_source(name)
    assert source is not None
    return plan(source)


@pytest.fixture(scope="module")
def store() -> EnvironmentStore:
    return store_from_settings(get_settings())


def _tree(store: EnvironmentStore, name: str) -> Path:
    """The built tree of ``name``: the store's, else built now (as ``assay env build``)."""
    planned = _plan(name)
    found = store.lookup(planned.key, touch=False)
    if found is not None:
        return found
    builder = store.builder
    assert isinstance(builder, DebianBuilder)
    missing = builder.missing_tools()
    if missing or not os.access(store.root.parent, os.W_OK):
        pytest.fail(
            f"{name} is not built in {store.root}, and building it needs root and "
            f"{', '.join(missing) or 'the tools it has'}: run `assay env build {name}` as root "
            "(scripts/setup.sh --dev installs mmdebstrap), or deselect with -m 'not envbuild'",
            pytrace=False,
        )
    return store.ensure(planned).rootfs


@pytest.mark.timeout(BUILD_TIMEOUT_S)
@pytest.mark.parametrize("name", NAMES)
def test_the_probe_compiles_and_runs_a_program_as_the_student(
    store: EnvironmentStore, name: str
) -> None:
    planned = _plan(name)
    done = run_probe(_tree(store, name), planned.probe, planned.env)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output
    assert "42" in output  # every probe's program prints hello 42 and says so


@pytest.mark.timeout(BUILD_TIMEOUT_S)
def test_probes_fail_where_their_toolchain_is_missing(store: EnvironmentStore) -> None:
    """In the bash tree (no compilers, no pytest) every other probe fails: none is vacuous."""
    bash = _tree(store, "bash")
    for name in NAMES:
        planned = _plan(name)
        done = run_probe(bash, planned.probe, planned.env, timeout_s=30)
        assert (done.returncode == 0) == (name == "bash"), (name, done.stdout[-500:])
