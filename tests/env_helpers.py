"""A scripted environment builder and store helpers for tests that need no root."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assay.errors import EnvironmentBuildError
from assay.sandbox.envs.buildlog import BuildLog
from assay.sandbox.envs.plan import BuildPlan, plan
from assay.sandbox.envs.spec import SpecSource, parse_spec
from assay.sandbox.envs.store import EnvironmentStore


@dataclass
class ScriptedBuilder:
    """Writes ``rootfs/marker`` after ``delay_s``; fails when the plan's apt says so."""

    counter: Path
    delay_s: float = 0.0

    @property
    def name(self) -> str:
        return "scripted"

    def build(self, plan: BuildPlan, target: Path, log: BuildLog, base_rootfs: Path | None) -> None:
        with self.counter.open("a") as count:
            count.write(f"{plan.name}\n")
        log.step("scripted build")
        target.mkdir()
        if base_rootfs is not None:
            (target / "base").write_text((base_rootfs / "marker").read_text())
        time.sleep(self.delay_s)
        log.line("some output")
        if "fail" in plan.apt:
            (target / "half-made").write_text("x")
            raise EnvironmentBuildError("the scripted step failed")
        if "oserror" in plan.apt:
            raise PermissionError(13, "Permission denied", str(target))
        (target / "marker").write_text(plan.key)


def plan_named(name: str, *apt: str, base: str = "bookworm") -> BuildPlan:
    spec = parse_spec({"name": name, "apt": list(apt), "base": base}, origin="test")
    return plan(SpecSource(spec, None, "test"))


def scripted_store(tmp_path: Path, delay_s: float = 0.0) -> EnvironmentStore:
    return EnvironmentStore(tmp_path / "store", ScriptedBuilder(tmp_path / "count", delay_s))


def age(store: EnvironmentStore, key: str, days: float) -> str:
    """Pretend ``key`` was last used ``days`` ago; the time written."""
    meta = store.meta(key)
    assert meta is not None
    past = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    store._write_meta(store.root / key, replace(meta, last_used=past))
    return past


def builds(tmp_path: Path) -> list[str]:
    path = tmp_path / "count"
    return path.read_text().split() if path.exists() else []
