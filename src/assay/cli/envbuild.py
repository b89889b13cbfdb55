"""Making sure an environment's tree is built, with progress: ``assay env build`` and
``assay image build`` both show a build this way."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from assay.cli.console import err
from assay.sandbox.envs.buildlog import BuildEvent
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.store import BuildOutcome, EnvironmentStore, Source
from assay.sandbox.spec import format_size

DETAIL_WIDTH = 70


def ensure_tree(store: EnvironmentStore, plan: BuildPlan, out: Console) -> BuildOutcome:
    """The built tree of ``plan`` (built now, with progress, if the store lacks it);
    prints where it came from, its time, size, key and path."""
    started = time.monotonic()
    if store.lookup(plan.key, touch=False) is not None:
        outcome = store.ensure(plan)
    else:
        outcome = build_with_progress(store, plan)
    seconds = time.monotonic() - started
    size = format_size(outcome.meta.size_bytes)
    if outcome.source is Source.STORE:
        what = f"built already (cache hit in {seconds * 1000:.0f} ms)"
    elif outcome.source is Source.WAITED:
        what = f"built by another process while this one waited ({seconds:.1f} s)"
    elif outcome.source is Source.FETCHED:
        what = f"fetched in {seconds:.1f} s"
    else:
        what = f"built in {seconds:.1f} s"
    out.print(f"{plan.name}: {what}, {size}, key {plan.key}", highlight=False, soft_wrap=True)
    out.print(f"rootfs: {outcome.rootfs}", highlight=False, soft_wrap=True)
    return outcome


def build_with_progress(store: EnvironmentStore, plan: BuildPlan) -> BuildOutcome:
    """``store.ensure(plan)`` showing each step as it starts and the latest output line."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[env]}[/]"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(event: BuildEvent) -> None:
            if event.environment not in tasks:
                tasks[event.environment] = progress.add_task("", env=event.environment, total=None)
            task = tasks[event.environment]
            if event.detail:
                detail = escape(event.detail[:DETAIL_WIDTH])
                progress.update(task, description=f"{escape(event.step[:40])}: {detail}")
            else:
                progress.update(task, description=escape(event.step))
                progress.console.print(f"{event.environment}: {escape(event.step)}",
                                       highlight=False)  # fmt: skip

        try:
            return store.ensure(plan, report)
        finally:
            for task in tasks.values():
                progress.update(task, total=1, completed=1)
