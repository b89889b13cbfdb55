"""``assay sandbox run`` and ``assay sandbox check``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assay.cli.console import err, fail
from assay.errors import AssayError, ConfigError
from assay.sandbox import CheckStatus, RunResult, Sandbox, Termination, parse_size
from assay.sandbox.backends import BACKENDS, get_backend
from assay.sandbox.environments import ENVIRONMENTS, find_environment
from assay.sandbox.spec import format_size

app = typer.Typer(
    help="Run commands in a sandbox and check this host's isolation.", no_args_is_help=True
)

EXIT_TIME_LIMIT = 124
EXIT_OTHER_LIMIT = 125

BackendOpt = Annotated[
    str, typer.Option("--backend", "-b", help=f"Sandbox backend: {', '.join(BACKENDS)}.")
]
EnvironmentOpt = Annotated[
    str,
    typer.Option(
        "--environment",
        "-e",
        help=f"Runtime environment: {', '.join(ENVIRONMENTS)}, or the path of a spec "
        "(built first if it is not in the store).",
    ),
]


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env takes KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _stdin(value: str | None) -> bytes | Path | None:
    if value is None:
        return None
    if value == "-":
        return sys.stdin.buffer.read()
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"--stdin: no such file: {value}")
    return path


def exit_status(result: RunResult) -> int:
    """The shell status ``assay sandbox run`` exits with."""
    if result.termination is Termination.EXITED:
        return result.exit_code or 0
    if result.termination is Termination.SIGNALED:
        return 128 + (result.signal or 0)
    if result.timed_out:
        return EXIT_TIME_LIMIT
    return EXIT_OTHER_LIMIT


def _summary(result: RunResult) -> str:
    verdict = result.termination.value
    if result.termination is Termination.EXITED:
        verdict = f"exited with status {result.exit_code}"
    elif result.termination is Termination.SIGNALED:
        verdict = f"killed by {result.signal_name}"
    truncated = [
        n
        for n, t in (("stdout", result.stdout_truncated), ("stderr", result.stderr_truncated))
        if t
    ]
    parts = [
        f"[bold]{verdict}[/]",
        f"cpu {result.cpu_time_s:.3f} s",
        f"wall {result.wall_time_s:.3f} s",
        f"peak memory {format_size(result.peak_memory_bytes)}",
    ]
    if truncated:
        parts.append(f"{' and '.join(truncated)} truncated")
    return " · ".join(parts)


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    backend: BackendOpt = "native",
    environment: EnvironmentOpt = "python3",
    cpu_time: Annotated[float | None, typer.Option(help="CPU time limit, seconds.")] = None,
    wall_time: Annotated[float | None, typer.Option(help="Wall time limit, seconds.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory limit, e.g. 256m.")] = None,
    pids: Annotated[int | None, typer.Option(help="Process/thread limit.")] = None,
    output: Annotated[str | None, typer.Option(help="Limit per output stream.")] = None,
    file_size: Annotated[str | None, typer.Option(help="Largest file, e.g. 16m.")] = None,
    workspace_size: Annotated[str | None, typer.Option(help="Workspace size.")] = None,
    open_files: Annotated[int | None, typer.Option(help="Open file limit.")] = None,
    directory: Annotated[
        list[Path] | None,
        typer.Option(
            "--dir",
            help="Copy this host directory's contents into the workspace "
            "(links are copied as links, never followed).",
        ),
    ] = None,
    stdin: Annotated[str | None, typer.Option(help="Standard input file, - for ours.")] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE; replaces the environment's defaults (repeatable)."),
    ] = None,
    network: Annotated[bool, typer.Option(help="Allow network access.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run CMD in a fresh sandbox: assay sandbox run [OPTIONS] -- CMD [ARGS...]

    Exit status: the program's own, 128+N if killed by signal N, 124 for a time
    limit, 125 for a memory or output limit, 3 if the sandbox failed.
    """
    try:
        runtime = find_environment(environment)
        limits = runtime.default_limits.replace(
            cpu_time_s=cpu_time,
            wall_time_s=wall_time,
            memory_bytes=parse_size(memory) if memory else None,
            pids=pids,
            output_bytes=parse_size(output) if output else None,
            file_size_bytes=parse_size(file_size) if file_size else None,
            workspace_bytes=parse_size(workspace_size) if workspace_size else None,
            open_files=open_files,
        )
        run_env = {**runtime.env, **_env_pairs(env or [])}
        for source in directory or []:
            if not source.is_dir():
                raise ConfigError(f"--dir: not a directory: {source}")
        stdin_source = _stdin(stdin)
        with Sandbox(runtime, backend=backend, limits=limits, network=network) as box:
            if directory:
                box.add_files(*directory)
            result = box.run(command, stdin=stdin_source, env=run_env)
    except AssayError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))
        raise typer.Exit(exit_status(result))
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    err.print(_summary(result), highlight=False)
    raise typer.Exit(exit_status(result))


@app.command()
def check(
    backend: BackendOpt = "native",
    environment: EnvironmentOpt = "python3",
) -> None:
    """Try each isolation feature on this host and show what is enforced."""
    console = Console()
    try:
        items = get_backend(backend).check(find_environment(environment))
    except AssayError as exc:
        raise fail(exc) from exc
    table = Table(title=f"Sandbox isolation: {backend} backend, {environment} environment")
    table.add_column("feature")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    styles = {CheckStatus.OK: "green", CheckStatus.WARN: "yellow", CheckStatus.FAIL: "bold red"}
    for item in items:
        table.add_row(item.feature, f"[{styles[item.status]}]{item.status.value}[/]", item.detail)
    console.print(table)
    failed = [item for item in items if item.status is CheckStatus.FAIL]
    if failed:
        err.print("[bold red]Isolation is not achievable here; nothing will run.[/]")
        for item in failed:
            if item.fix:
                err.print(f"  [bold]{item.feature}[/]: {item.fix}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]All {len(items)} checks passed.[/]")
