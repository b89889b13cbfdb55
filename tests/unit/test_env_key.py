"""Environment keys: what changes a key, what does not, and the inputs it reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from assay.errors import EnvironmentSpecError, UnknownEnvironmentError
from assay.sandbox.envs import plan as plan_module
from assay.sandbox.envs.builtin import builtin_source
from assay.sandbox.envs.plan import (
    BUILDER_VERSION,
    BuildPlan,
    canonical_bytes,
    compute_key,
    plan,
)
from assay.sandbox.envs.spec import PIP_VENV, SpecSource, load_spec


def _builtin(name: str) -> SpecSource:
    source = builtin_source(name)
    assert source is not None
    return source


def _plan(tmp_path: Path, text: str, **inputs: bytes) -> BuildPlan:
    for name, data in inputs.items():
        (tmp_path / name.replace("_", ".")).write_bytes(data)
    (tmp_path / "environment.toml").write_text(text)
    return plan(load_spec(tmp_path))


def test_the_key_is_the_sha256_of_the_canonical_document(tmp_path: Path) -> None:
    planned = _plan(tmp_path, 'apt = ["jq", "make", "jq"]\npip = ["six"]\n')
    document = planned.canonical()
    expected = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert planned.key == expected == compute_key(document)
    assert len(planned.key) == 64
    assert document["builder"] == BUILDER_VERSION
    assert document["apt"] == ["jq", "make", "python3-venv"]  # sorted, once, venv added
    assert document["base"] == {"suite": "bookworm"}
    assert document["platform"]["uid"] == 1000
    assert canonical_bytes(document) == canonical_bytes(json.loads(canonical_bytes(document)))


def test_order_repeats_and_run_settings_do_not_change_the_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _plan(tmp_path / "a", 'name = "one"\napt = ["make", "jq"]\npip = ["b", "a"]\n')
    two = _plan(
        tmp_path / "b",
        'name = "two"\ndescription = "x"\napt = ["jq", "make", "make"]\npip = ["a", "b"]\n'
        'probe = "false"\nsetup_timeout_s = 5\n[env]\nA = "1"\n[limits]\npids = 5\n',
    )
    assert one.key == two.key


@pytest.mark.parametrize(
    "change",
    [
        'apt = ["jq", "make", "curl"]\n',
        'apt = ["jq", "make=4.3-4.1"]\n',
        'apt = ["jq", "make"]\npip = ["six"]\n',
        'apt = ["jq", "make"]\npip = ["six"]\npip_target = "system"\n',
        'apt = ["jq", "make"]\nbase = "trixie"\n',
        'apt = ["jq", "make"]\n[files]\n"/etc/a" = "1"\n',
    ],
)
def test_what_the_tree_is_made_of_changes_the_key(tmp_path: Path, change: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _plan(tmp_path / "a", 'apt = ["jq", "make"]\n').key != _plan(tmp_path / "b", change).key


def test_file_contents_modes_and_the_setup_script_are_hashed(tmp_path: Path) -> None:
    text = 'setup = "setup.sh"\n[files."/opt/a"]\nsource = "a.txt"\n'
    first = _plan(tmp_path, text, setup_sh=b"echo 1\n", a_txt=b"one")
    assert first.files[0].data == b"one"
    assert first.setup == b"echo 1\n"
    assert first.canonical()["setup"] == hashlib.sha256(b"echo 1\n").hexdigest()
    assert _plan(tmp_path, text, setup_sh=b"echo 1\n", a_txt=b"one").key == first.key
    assert _plan(tmp_path, text, setup_sh=b"echo 2\n", a_txt=b"one").key != first.key
    assert _plan(tmp_path, text, setup_sh=b"echo 1\n", a_txt=b"two").key != first.key
    moded = text + "mode = 0o755\n"
    assert _plan(tmp_path, moded, setup_sh=b"echo 1\n", a_txt=b"one").key != first.key


def test_the_builder_version_and_the_architecture_are_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _plan(tmp_path, 'apt = ["jq"]\n').key
    monkeypatch.setattr(plan_module, "BUILDER_VERSION", "999")
    assert _plan(tmp_path, 'apt = ["jq"]\n').key != before
    monkeypatch.undo()
    monkeypatch.setattr(plan_module, "host_arch", lambda: "arm64")
    assert _plan(tmp_path, 'apt = ["jq"]\n').key != before


def test_a_derived_environment_carries_its_base_key(tmp_path: Path) -> None:
    python3 = plan(_builtin("python3"))
    derived = _plan(tmp_path, 'base = "python3"\napt = ["jq"]\npip = ["numpy"]\n')
    assert derived.base == python3
    assert derived.suite == "bookworm"
    assert derived.canonical()["base"] == {"key": python3.key}
    assert derived.apt == ("jq", "python3-venv")  # the base's packages are not repeated
    assert derived.probe == python3.probe
    assert derived.env["PATH"].startswith(f"{PIP_VENV}/bin:")
    assert derived.env["VIRTUAL_ENV"] == PIP_VENV
    assert derived.env["HOME"] == "/work"


def test_a_derived_environment_inherits_limits_and_overrides_some(tmp_path: Path) -> None:
    derived = _plan(tmp_path, 'base = "java"\n[limits]\npids = 200\n')
    assert derived.limits.pids == 200
    assert derived.limits.memory_bytes == 1024 * 2**20


def test_the_built_ins_have_stable_distinct_keys() -> None:
    plans = {name: plan(_builtin(name)) for name in ("python3", "c", "cpp", "java")}
    assert len({p.key for p in plans.values()}) == 4
    assert plans["python3"].key == plan(_builtin("python3")).key
    assert all(p.builtin for p in plans.values())


def test_an_unknown_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownEnvironmentError, match="base 'nodejs' is neither"):
        _plan(tmp_path, 'base = "nodejs"\n')


def test_inputs_must_exist_and_stay_inside_the_spec_directory(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match=r"setup: cannot read setup\.sh"):
        _plan(tmp_path, 'setup = "setup.sh"\n')
    (tmp_path / "link").symlink_to("/etc/hostname")
    with pytest.raises(EnvironmentSpecError, match="link leaves the spec's directory"):
        _plan(tmp_path, '[files."/etc/x"]\nsource = "link"\n')


def test_a_setup_script_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match="larger than 1 MiB"):
        _plan(tmp_path, 'setup = "setup.sh"\n', setup_sh=b"#" * (2**20 + 1))
