"""Sub-commands whose module is imported only when that sub-command runs.

``assay --version`` or ``assay sandbox run`` should not pay for importing the web
app, SQLAlchemy and uvicorn that ``assay serve`` needs (about two seconds of CPU).
A group built by :func:`lazy_group` knows its sub-commands by a table of
``name -> LazyCommand("module:attribute", "short help")``: listings (``--help``,
shell completion of names) use the table's help; running a sub-command imports its
module then. The attribute is a ``typer.Typer`` (a sub-app) or a command function.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import typer

# typer (pinned) vendors its own click and exports no public name for its Command.
from typer._click import Command, Context
from typer.core import TyperCommand, TyperGroup


class LazyCommand(NamedTuple):
    target: str
    """``"package.module:attribute"``: a ``typer.Typer`` or a command function."""
    help: str
    """The short help shown in the parent's listing (tests keep it equal to the real one)."""


class _Placeholder(TyperCommand):
    """Stands in for a lazy sub-command in listings; never runs."""


class LazyGroup(TyperGroup):
    """A Typer group that loads the sub-commands in ``lazy_commands`` on first use."""

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = MappingProxyType({})

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        placeholders = {
            name: _Placeholder(name, help=c.help) for name, c in self.lazy_commands.items()
        }
        self.commands = {**placeholders, **self.commands}  # listed first, in table order

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and isinstance(self.commands.get(args[0]), _Placeholder):
            self.commands[args[0]] = load_command(args[0], self.lazy_commands[args[0]])
        return super().resolve_command(ctx, args)


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class for ``typer.Typer(cls=...)`` with these sub-commands."""

    class Group(LazyGroup):
        lazy_commands = MappingProxyType(dict(commands))

    return Group


def load_command(name: str, lazy: LazyCommand) -> Command:
    """Import ``lazy.target`` and make it a click command named ``name``."""
    module_name, _, attribute = lazy.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)  # as add_typer builds it
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command
