"""deploy/systemd's units: valid for systemd, and consistent with the worker's drain
and the sandbox's needs (docs/deploy.md, systemd)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assay.config import Settings, unknown_settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_ASSAY = "/opt/assay/bin/assay"  # where the units expect it (docs/deploy.md)
ANALYZE = shutil.which("systemd-analyze")


def directives(path: Path) -> dict[str, list[str]]:
    """KEY -> values, in order, of a unit file or drop-in (sections not told apart)."""
    found: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def seconds(value: str) -> float:
    assert value.endswith("s"), value
    return float(value.removesuffix("s"))


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """The units as installed, ExecStart pointing at this test's `assay` (verify checks
    that the program exists), worker instance 1 next to its template."""
    target = tmp_path / "units"
    shutil.copytree(UNITS, target)
    here = str(Path(sys.executable).with_name("assay"))
    for unit in target.glob("*.service"):
        unit.write_text(unit.read_text().replace(INSTALLED_ASSAY, here))
    (target / "assay-worker@1.service").symlink_to("assay-worker@.service")
    return target


def verify(unit_dir: Path, *units: str) -> subprocess.CompletedProcess[str]:
    if ANALYZE is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package: scripts/setup.sh --dev)")
    return subprocess.run(
        [ANALYZE, "verify", *(f"./{u}" for u in units)],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_units_verify_cleanly(unit_dir: Path) -> None:
    done = verify(unit_dir, "assay-worker@1.service", "assay-server.service")
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).strip() == ""  # warnings (unknown keys) count


def test_verify_catches_a_mistake(unit_dir: Path) -> None:
    """The check above can fail: systemd-analyze names an unknown key and a bad value."""
    dropin = unit_dir / "assay-server.service.d" / "unprivileged.conf"
    dropin.write_text(dropin.read_text() + "KillMode=sideways\nDelegat=yes\n")
    done = verify(unit_dir, "assay-server.service")
    assert "sideways" in done.stderr
    assert "Unknown key 'Delegat'" in done.stderr


def test_the_worker_drains_before_systemd_kills_it() -> None:
    worker = directives(UNITS / "assay-worker@.service")
    assert worker["KillSignal"] == ["SIGTERM"]  # what `assay worker` drains on
    # SIGTERM to the worker only: its sandboxed programs must not be killed by the stop
    assert worker["KillMode"] == ["mixed"]
    drain_s = Settings().worker_stop_timeout_s
    assert seconds(worker["TimeoutStopSec"][0]) >= drain_s + 15


@pytest.mark.parametrize("unit", ["assay-worker@.service", "assay-server.service"])
def test_units_that_sandbox_keep_what_the_sandbox_needs(unit: str) -> None:
    found = directives(UNITS / unit)
    assert found["User"] == ["root"]
    assert found["Delegate"] == ["yes"]  # the jobs' cgroups
    for breaks_the_sandbox in (
        "RestrictNamespaces",
        "ProtectControlGroups",
        "ProtectKernelTunables",
        "PrivateDevices",
        "MemoryDenyWriteExecute",
        "SystemCallFilter",
        "PrivateNetwork",
        "DynamicUser",
    ):
        assert breaks_the_sandbox not in found, f"{unit}: {breaks_the_sandbox}"
    assert found["EnvironmentFile"] == ["/etc/assay/assay.env"]


def test_the_unprivileged_server_is_hardened(unit_dir: Path) -> None:
    if ANALYZE is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package: scripts/setup.sh --dev)")
    done = subprocess.run(
        [ANALYZE, "security", "--offline=true", "./assay-server.service"],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1]
    exposure = float(last.split(": ", 1)[1].split()[0])
    assert exposure < 3.0, last  # systemd's scale: 0 (locked down) to 10 (exposed)


def test_the_example_environment_file_names_only_settings() -> None:
    example = UNITS / "assay.env.example"
    assert unknown_settings({"ASSAY_CONFIG_FILE": str(example)}) == []
    assert "ASSAY_DATABASE_URL" in directives(example)
