"""Environments built for real: mmdebstrap, apt, pip and bubblewrap, as root.

One small environment (bookworm minbase + ``hello`` + pip ``six`` + a file) is
built once per session, by two ``assay env build`` processes started together:
that build is also the test of concurrent builds. Every other build here derives
from it (a copy plus one step) or fails early, so the module costs about one
minute. Missing tools fail the tests with the fix; they are never skipped.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.errors import EnvironmentBuildError
from assay.sandbox.envs.builtin import builtin_source
from assay.sandbox.envs.check import run_probe
from assay.sandbox.envs.debian import DebianBuilder
from assay.sandbox.envs.plan import BuildPlan, compute_key, plan
from assay.sandbox.envs.spec import SpecSource, load_spec
from assay.sandbox.envs.store import EnvironmentStore

pytestmark = [pytest.mark.slow, pytest.mark.envbuild]

ASSAY = Path(sys.executable).with_name("assay")
DEB_CACHE = Path("/var/cache/assay/rootfs/debs")
SMALL_SPEC = """\
name = "tiny"
description = "bookworm minbase, hello, six"
apt = ["hello"]
pip = ["six"]
probe = ["sh", "-c", "hello && python -c 'import six; print(six.__version__)' && id -u"]

[files]
"/etc/assay-motd" = "built by a test\\n"
"/opt/tool/run.sh" = { source = "run.sh", mode = 0o755 }
"""


@dataclass(frozen=True)
class Built:
    store: EnvironmentStore
    plan: BuildPlan
    spec_dir: Path
    outputs: tuple[str, str]


def _builder() -> DebianBuilder:
    return DebianBuilder(deb_cache=DEB_CACHE if os.access(DEB_CACHE.parent, os.W_OK) else None)


def _require_tools() -> None:
    missing = _builder().missing_tools()
    if missing:
        pytest.fail(
            f"environment builds need {', '.join(missing)}: run scripts/setup.sh --dev as root, "
            "or deselect these tests with -m 'not envbuild'",
            pytrace=False,
        )


def _assay(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSAY_ENVIRONMENT_DEB_CACHE": str(DEB_CACHE)}
    return subprocess.run(
        [str(ASSAY), *args], capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The small environment, built by two processes at once into a fresh store."""
    _require_tools()
    spec_dir = tmp_path_factory.mktemp("tiny-spec")
    (spec_dir / "environment.toml").write_text(SMALL_SPEC)
    (spec_dir / "run.sh").write_text("#!/bin/sh\necho tool ran\n")
    root = tmp_path_factory.mktemp("envstore")
    args = ("env", "build", str(spec_dir), "--store", str(root))
    env = {**os.environ, "ASSAY_ENVIRONMENT_DEB_CACHE": str(DEB_CACHE)}
    procs = [
        subprocess.Popen(
            [str(ASSAY), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = tuple(p.communicate(timeout=900)[0] for p in procs)
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    store = EnvironmentStore(root, _builder())
    return Built(store, plan(load_spec(spec_dir)), spec_dir, (outputs[0], outputs[1]))


def _derived(built: Built, tmp_path: Path, text: str, setup: str | None = None) -> BuildPlan:
    """A plan deriving from the small environment (``base = "tiny"``)."""
    (tmp_path / "environment.toml").write_text(f'base = "tiny"\n{text}')
    if setup is not None:
        (tmp_path / "setup.sh").write_text(setup)
    tiny = SpecSource(built.plan.source.spec, built.spec_dir, built.plan.source.origin)

    def resolve(name: str) -> SpecSource | None:
        return tiny if name == "tiny" else builtin_source(name)

    return plan(load_spec(tmp_path), resolve_base=resolve)


def _assert_nothing_left(store: EnvironmentStore, key: str) -> None:
    assert not (store.root / key).exists()
    assert not list(store.root.glob(f".build-{key}-*"))
    assert not list(store.root.glob(".stage-*"))


def test_two_concurrent_builds_build_once_and_both_get_the_tree(built: Built) -> None:
    said = sorted("built by another process while this one waited" in o for o in built.outputs)
    assert said == [False, True], built.outputs
    assert any(": built in " in out for out in built.outputs)
    assert [m.key for m in built.store.entries()] == [built.plan.key]
    assert not list(built.store.root.glob(".build-*"))
    log = (built.store.root / built.plan.key / "build.log").read_text()
    assert log.count("==> [") >= 5
    assert log.count("mmdebstrap bookworm") == 1


def test_store_entry_layout_and_key(built: Built) -> None:
    entry = built.store.root / built.plan.key
    assert sorted(p.name for p in entry.iterdir()) == [
        "build.log",
        "meta.json",
        "rootfs",
        "spec.json",
    ]
    assert compute_key(json.loads((entry / "spec.json").read_bytes())) == built.plan.key
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["name"] == "tiny"
    assert meta["builder"] == "mmdebstrap"
    assert 50 * 2**20 < meta["size_bytes"] < 600 * 2**20
    assert meta["build_seconds"] > 1
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755


def test_the_tree_has_the_spec_and_no_setuid_bits_or_devices(built: Built) -> None:
    rootfs = built.store.root / built.plan.key / "rootfs"
    assert (rootfs / "usr/bin/hello").is_file()
    assert list((rootfs / "opt/assay/venv/lib").glob("python3*/site-packages/six.py"))
    assert (rootfs / "etc/assay-motd").read_text() == "built by a test\n"
    assert stat.S_IMODE((rootfs / "opt/tool/run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((rootfs / "work").stat().st_mode) == 0o1777
    assert "student:x:1000:1000:" in (rootfs / "etc/passwd").read_text()
    assert not (rootfs / "run/assay-build").exists()
    assert (rootfs / "etc/resolv.conf").read_text() == ""
    assert not list((rootfs / "var/lib/apt/lists").glob("*Packages*"))
    for directory, _dirs, names in os.walk(rootfs):
        for name in names:
            mode = os.lstat(os.path.join(directory, name)).st_mode
            assert not mode & (stat.S_ISUID | stat.S_ISGID), os.path.join(directory, name)
            assert stat.S_ISREG(mode) or stat.S_ISLNK(mode), os.path.join(directory, name)
    log = (built.store.root / built.plan.key / "build.log").read_text()
    assert "stripped setuid/setgid: /usr/bin/passwd" in log


def test_probe_runs_as_the_student_without_network(built: Built) -> None:
    rootfs = built.store.lookup(built.plan.key)
    assert rootfs is not None
    done = run_probe(rootfs, built.plan.probe, built.plan.env)
    assert done.returncode == 0, done.stdout
    assert done.stdout.decode().split() == ["Hello,", "world!", "1.17.0", "1000"]
    net = run_probe(
        rootfs,
        ("python3", "-c", "import socket; socket.create_connection(('deb.debian.org', 80), 3)"),
        built.plan.env,
    )
    assert net.returncode != 0
    write = run_probe(rootfs, ("touch", "/etc/x"), built.plan.env)
    assert write.returncode != 0
    assert b"Read-only file system" in write.stdout or b"Permission denied" in write.stdout


def test_a_second_build_is_a_cache_hit_in_under_a_second(built: Built) -> None:
    started = time.monotonic()
    outcome = built.store.ensure(built.plan)
    assert outcome.cached
    assert time.monotonic() - started < 1.0
    proc = _assay("env", "build", str(built.spec_dir), "--store", str(built.store.root))
    assert proc.returncode == 0, proc.stderr
    assert "built already (cache hit in" in proc.stdout
    check = _assay("env", "check", str(built.spec_dir), "--store", str(built.store.root))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Hello, world!" in check.stdout


def test_a_derived_environment_runs_its_setup_script_as_root(built: Built, tmp_path: Path) -> None:
    setup = "#!/bin/sh\nset -e\nid -u > /opt/setup-ran-as\nmkdir -p /usr/local/bin\n" \
        "printf '#!/bin/sh\\necho derived\\n' > /usr/local/bin/derived\n" \
        "chmod 4755 /usr/local/bin/derived\n"  # fmt: skip
    derived = _derived(built, tmp_path, 'setup = "setup.sh"\nprobe = "derived"\n', setup)
    assert derived.base is not None
    assert derived.base.key == built.plan.key
    outcome = built.store.ensure(derived)
    assert not outcome.cached
    assert (outcome.rootfs / "opt/setup-ran-as").read_text() == "0\n"
    assert stat.S_IMODE((outcome.rootfs / "usr/local/bin/derived").stat().st_mode) == 0o755
    done = run_probe(outcome.rootfs, derived.probe, derived.env)
    assert done.stdout == b"derived\n"
    listed = _assay("env", "list", "--store", str(built.store.root))
    assert derived.key[:12] in listed.stdout
    dry = _assay("env", "gc", "--days", "0", "--dry-run", "--store", str(built.store.root))
    assert f"would remove {derived.name} ({derived.key[:12]})" in dry.stdout
    assert (built.store.root / derived.key).is_dir()
    removed = _assay("env", "rm", derived.key[:10], "--store", str(built.store.root))
    assert removed.returncode == 0, removed.stderr
    _assert_nothing_left(built.store, derived.key)
    assert built.store.lookup(built.plan.key) is not None


def test_a_failing_setup_script_gives_its_status_and_log_and_leaves_nothing(
    built: Built, tmp_path: Path
) -> None:
    derived = _derived(built, tmp_path, 'setup = "setup.sh"\n', "echo about to fail\nexit 3\n")
    with pytest.raises(EnvironmentBuildError) as caught:
        built.store.ensure(derived)
    message = caught.value.message
    assert "the setup script failed with status 3" in message
    assert "about to fail" in message
    assert caught.value.log_path == str(built.store.failed_log(derived.key))
    assert "about to fail" in Path(caught.value.log_path).read_text()
    _assert_nothing_left(built.store, derived.key)


def test_a_setup_script_past_its_timeout_is_killed(built: Built, tmp_path: Path) -> None:
    text = 'setup = "setup.sh"\nsetup_timeout_s = 2\n'
    derived = _derived(built, tmp_path, text, "echo sleeping\nsleep 60\n")
    started = time.monotonic()
    with pytest.raises(EnvironmentBuildError, match="ran longer than 2 s"):
        built.store.ensure(derived)
    assert time.monotonic() - started < 40
    _assert_nothing_left(built.store, derived.key)


def test_an_unknown_apt_package_is_named(built: Built, tmp_path: Path) -> None:
    derived = _derived(built, tmp_path, 'apt = ["assay-no-such-package"]\n')
    with pytest.raises(EnvironmentBuildError) as caught:
        built.store.ensure(derived)
    assert "Debian package assay-no-such-package is not in bookworm" in caught.value.message
    assert "Unable to locate package" in Path(caught.value.log_path or "").read_text()
    _assert_nothing_left(built.store, derived.key)


def test_an_unknown_apt_package_fails_the_bootstrap_too(built: Built, tmp_path: Path) -> None:
    (tmp_path / "environment.toml").write_text('apt = ["assay-no-such-package"]\n')
    proc = _assay("env", "build", str(tmp_path), "--store", str(built.store.root))
    assert proc.returncode == 3
    assert "Debian package assay-no-such-package is not in bookworm" in proc.stderr
    assert "build log:" in proc.stderr
    key = plan(load_spec(tmp_path)).key
    assert built.store.failed_log(key).is_file()
    _assert_nothing_left(built.store, key)


def test_an_unknown_pip_package_is_named(built: Built, tmp_path: Path) -> None:
    derived = _derived(built, tmp_path, 'pip = ["assay-no-such-distribution"]\n')
    with pytest.raises(EnvironmentBuildError) as caught:
        built.store.ensure(derived)
    assert "pip package assay-no-such-distribution was not found" in caught.value.message
    _assert_nothing_left(built.store, derived.key)


def test_pip_into_the_system_interpreter(built: Built, tmp_path: Path) -> None:
    derived = _derived(built, tmp_path, 'pip = ["toml==0.10.2"]\npip_target = "system"\n')
    assert "python3-pip" in derived.apt
    outcome = built.store.ensure(derived)
    code = "import toml, sys; print(toml.__version__, sys.prefix)"
    done = run_probe(outcome.rootfs, ("/usr/bin/python3", "-c", code), derived.env)
    assert done.stdout == b"0.10.2 /usr\n", done.stdout
    assert derived.env["VIRTUAL_ENV"] == "/opt/assay/venv"  # the base's venv still leads PATH
    built.store.remove(derived.key)


CONFINED_SETUP = """\
#!/bin/sh
set -u
out=/opt/confined
mkdir -p "$out"
cat /proc/self/uid_map > "$out/uid_map"
touch "$out/owned" && chown 100:101 "$out/owned"
apt-get update -q && apt-get install -y -q --no-install-recommends iproute2 || exit 10
/opt/assay/venv/bin/python -m pip install -q idna || exit 11
for host in {hosts}; do
    /opt/assay/venv/bin/python - "$host" {port} <<'PY' >> "$out/connect"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=5).close()
    print(host, "connected")
except OSError as exc:
    print(host, "failed:", exc.strerror or exc)
PY
done
python3 -c 'import os; os.setuid(100000)' > "$out/setuid" 2>&1; echo "status $?" >> "$out/setuid"
ip link add assay-probe type dummy > "$out/link" 2>&1; echo "status $?" >> "$out/link"
unshare --user --map-root-user ip route del default > "$out/route" 2>&1
echo "status $?" >> "$out/route"
limit=$(cat /proc/sys/kernel/printk_ratelimit)  # a global sysctl, written with its own value
(echo "$limit" > /proc/sys/kernel/printk_ratelimit) > "$out/sysctl" 2>&1
echo "status $?" >> "$out/sysctl"
unshare --user --map-root-user --mount mount -o remount,rw /proc/sys > "$out/remount" 2>&1
echo "status $?" >> "$out/remount"
exit 0
"""


def _host_addresses() -> list[str]:
    shown = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, check=True)
    return [
        info["local"]
        for link in json.loads(shown.stdout)
        for info in link.get("addr_info", [])
        if not info["local"].startswith("127.")
    ]


def test_a_setup_script_is_confined_to_namespaces_of_its_own(built: Built, tmp_path: Path) -> None:
    """uid map, no host capability, no host network; apt and pip still work in the same build."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))  # noqa: S104 - the host's loopback and its other addresses
    server.listen(16)
    server.setblocking(False)
    port = server.getsockname()[1]
    hosts = ["127.0.0.1", "10.0.2.2", *_host_addresses()]
    setup = CONFINED_SETUP.format(hosts=" ".join(hosts), port=port)
    derived = _derived(built, tmp_path, 'setup = "setup.sh"\n', setup)
    try:
        outcome = built.store.ensure(derived)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection reached the host
    finally:
        server.close()
    out = outcome.rootfs / "opt/confined"
    assert (out / "uid_map").read_text().split() == ["0", "0", "65536"]
    owned = (out / "owned").stat()
    assert (owned.st_uid, owned.st_gid) == (100, 101)  # the tree's owners are the host's ids
    assert (outcome.rootfs / "usr/bin/ip").is_file()  # apt-get install in the setup script
    assert list((outcome.rootfs / "opt/assay/venv/lib").glob("python3*/site-packages/idna"))
    connects = (out / "connect").read_text().splitlines()
    assert len(connects) == len(hosts)
    assert not [line for line in connects if "connected" in line], connects
    assert "Invalid argument" in (out / "setuid").read_text()  # no uid beyond the map
    assert "Operation not permitted" in (out / "link").read_text()
    # root of a nested user namespace holds CAP_NET_ADMIN there, not over the build network
    assert "Operation not permitted" in (out / "route").read_text()
    assert "Read-only file system" in (out / "sysctl").read_text()
    assert "status 0" not in (out / "remount").read_text()
    built.store.remove(derived.key)
