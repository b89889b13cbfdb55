"""``assay env list|rm|gc|check|publish`` on a store filled by a scripted builder (no root)."""

from __future__ import annotations

from pathlib import Path

from pytest import MonkeyPatch
from typer.testing import CliRunner

from assay.cli.env import app
from assay.config import get_settings
from assay.sandbox.envs.store import EnvironmentStore
from env_helpers import ScriptedBuilder, age, plan_named

runner = CliRunner()


def _filled(tmp_path: Path) -> EnvironmentStore:
    store = EnvironmentStore(tmp_path / "store", ScriptedBuilder(tmp_path / "count"))
    for name, package in (("old", "jq"), ("recent", "make")):
        store.ensure(plan_named(name, package))
    age(store, plan_named("old", "jq").key, 40)
    return store


def test_list_shows_built_ins_and_stored_environments(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    result = runner.invoke(app, ["list", "--store", str(store.root)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("python3" in line and "not built" in line and "built-in" in line for line in lines)
    old = plan_named("old", "jq").key
    assert any("old" in line and old[:12] in line and "40 days ago" in line for line in lines)


def test_gc_dry_run_then_gc_removes_only_the_unused(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    old, recent = plan_named("old", "jq").key, plan_named("recent", "make").key
    failed = store.failed_log("f" * 64)
    failed.parent.mkdir()
    failed.write_text("an old failure")
    args = ["gc", "--days", "30", "--store", str(store.root)]
    dry = runner.invoke(app, [*args, "--dry-run"], terminal_width=200)
    assert dry.exit_code == 0, dry.output
    assert f"would remove old ({old[:12]})" in dry.output
    assert recent[:12] not in dry.output
    assert (store.root / old).is_dir()
    done = runner.invoke(app, args, terminal_width=200)
    assert done.exit_code == 0, done.output
    assert f"removing old ({old[:12]})" in done.output
    assert not (store.root / old).exists()
    assert (store.root / recent).is_dir()
    assert failed.exists()  # written just now: younger than 30 days
    runner.invoke(app, ["gc", "--days", "0", "--store", str(store.root)])
    assert not failed.exists()
    assert [m.key for m in store.entries()] == []


def test_rm_by_key_prefix_and_errors(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    old = plan_named("old", "jq").key
    done = runner.invoke(app, ["rm", old[:8], "--store", str(store.root)], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert f"removed old ({old[:12]})" in done.output
    again = runner.invoke(app, ["rm", old[:8], "--store", str(store.root)], terminal_width=200)
    assert again.exit_code == 3
    assert "no stored environment key matches" in again.output
    builtin = runner.invoke(app, ["rm", "python3", "--store", str(store.root)])
    assert builtin.exit_code == 1
    assert "is not built" in builtin.output


def test_check_of_an_environment_not_built_says_how_to_build_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "java", "--store", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 3
    assert "java is not built; build it with: assay env build java" in result.output


def test_a_bad_spec_is_a_usage_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "environment.toml").write_text('aptt = ["jq"]\n')
    result = runner.invoke(app, ["build", str(tmp_path), "--store", str(tmp_path / "s")],
                           terminal_width=200)  # fmt: skip
    assert result.exit_code == 2
    assert "environment.toml: aptt: unknown key" in result.output
    assert not (tmp_path / "s").exists()


def test_publish_needs_the_shared_database(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    """On SQLite (one machine, no workers elsewhere) there is nowhere to publish to;
    publishing itself is exercised by the compose deployment's test (tests/deploy)."""
    monkeypatch.setenv("ASSAY_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{tmp_path / 'assay.db'}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(
            app, ["publish", "python3", "--store", str(tmp_path / "store")], terminal_width=200
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "publishing needs the platform's shared database" in result.output
    assert not (tmp_path / "store").exists()
