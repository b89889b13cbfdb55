"""A state directory the sandbox user cannot reach (an ancestor it may not search,
such as /root or pytest's 0700 base): said once at start, by ``assay sandbox check``,
and by every run, with the directory and the fix, instead of bubblewrap's
"Can't find source path" on each run and a warning per failed anchor."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.config import Settings
from assay.errors import SandboxUnavailableError
from assay.sandbox import Sandbox
from assay.sandbox.base import CheckStatus
from assay.sandbox.environments import get_environment
from assay.sandbox.envs.resolve import store_from_settings
from assay.sandbox.native.backend import BwrapBackend
from helpers import require_backend

pytestmark = pytest.mark.native


@pytest.fixture
def closed_state() -> Iterator[tuple[Path, Path]]:
    """A state directory below a 0700 directory (made by this test under /tmp)."""
    require_backend("native")
    closed = Path(tempfile.mkdtemp(prefix="assay-closed-", dir="/tmp"))  # 0700
    yield closed, closed / "state"
    shutil.rmtree(closed, ignore_errors=True)


def test_an_unreachable_state_directory_is_named_once_and_by_every_run(
    closed_state: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    closed, state = closed_state
    backend = BwrapBackend(Settings(state_dir=state))
    try:
        with caplog.at_level(logging.ERROR, logger="assay.sandbox.native.backend"):
            with Sandbox("python3", backend=backend) as box:
                box.write_file("kept.txt", b"files still work\n")  # nothing runs: unaffected
                assert box.read_file("kept.txt", max_bytes=100) == b"files still work\n"
                for _ in range(2):
                    with pytest.raises(SandboxUnavailableError) as caught:
                        box.run(["true"])
                    assert str(closed) in caught.value.message
                    assert caught.value.fix and f"chmod o+x {closed}" in caught.value.fix
            with Sandbox("python3", backend=backend) as box, pytest.raises(SandboxUnavailableError):
                box.run(["true"], network=True)  # the bubblewrap path says the same
        said = [r for r in caplog.records if str(closed) in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in caplog.records]
        assert backend._anchors == {}  # no pool retrying a bubblewrap that must fail
    finally:
        backend.shutdown()


def test_sandbox_check_reports_the_directory_and_the_fix(
    closed_state: tuple[Path, Path],
) -> None:
    closed, state = closed_state
    backend = BwrapBackend(Settings(state_dir=state))
    try:
        items = {item.feature: item for item in backend.check()}
    finally:
        backend.shutdown()
    item = items["state directory (reachable by the sandbox user)"]
    assert item.status is CheckStatus.FAIL
    assert str(closed) in item.detail and f"chmod o+x {closed}" in item.fix


def test_an_unreachable_environment_store_is_named_with_its_fix(tmp_path: Path) -> None:
    """The tree is bound by path as the sandbox user too: a store below a directory it
    cannot search fails every sandbox with the directory and the setting to change."""
    closed = Path(tempfile.mkdtemp(prefix="assay-closed-store-"))  # 0700
    try:
        store = closed / "environments"
        tree = store_from_settings(Settings()).ensure(get_environment("python3").plan).rootfs
        (store / get_environment("python3").key).mkdir(parents=True)
        for name in ("spec.json", "meta.json"):
            shutil.copy(tree.parent / name, store / get_environment("python3").key / name)
        subprocess.run(  # hard links: a copy in no time, on the same file system
            ["cp", "-al", str(tree), str(store / get_environment("python3").key / "rootfs")],
            check=True,
        )
        backend = BwrapBackend(Settings(environments_dir=store))
        try:
            with pytest.raises(SandboxUnavailableError) as caught:
                Sandbox("python3", backend=backend).open()
            assert str(closed) in caught.value.message
            assert "ASSAY_ENVIRONMENTS_DIR" in (caught.value.fix or "")
        finally:
            backend.shutdown()
    finally:
        shutil.rmtree(closed)
