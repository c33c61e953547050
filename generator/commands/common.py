"""What every command shares: the context object, the shared options and the expected-error handler."""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
from pathlib import Path

import click

from generator.config import Config, load_config
from generator.errors import GateError, UserError

# Failures a user can act on. Anything else is a bug and keeps its traceback.
EXPECTED = (UserError, GateError)


class Context:
    def __init__(self, debug: bool, config_path: Path | None, allow_empty: bool = False):
        self.debug = debug
        self.config_path = config_path
        self.allow_empty = allow_empty

    @functools.cached_property
    def config(self) -> Config:
        return load_config(self.config_path, allow_empty=self.allow_empty)


def shared_options() -> list[click.Option]:
    """The options valid both before the command name (on the group) and after it."""
    return [
        click.Option(["--debug"], is_flag=True, help="Show tracebacks for errors."),
        click.Option(
            ["--config", "config_path"],
            # Not click's dir_okay=False: its refusal is a usage screen, not one line.
            type=click.Path(path_type=Path),
            default=None,
            help="Organisation configuration (YAML). Defaults build the committed templates.",
        ),
        click.Option(
            ["--allow-empty"],
            is_flag=True,
            help="Accept a configuration file that sets nothing (builds the defaults).",
        ),
    ]


def with_shared_options(command: click.Command) -> click.Command:
    """Give `command` the shared options too; given after the command name, they win.

    Done once for every registered command (cli.py), so `build --config x.yaml` and
    `--config x.yaml build` mean the same and no command declares them by hand.
    """
    own = {param.name for param in command.params}
    added = [option for option in shared_options() if option.name not in own]
    command.params.extend(added)
    names = {option.name for option in added}
    callback = command.callback

    @functools.wraps(callback)
    def callback_with_shared(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in names if name in kwargs}
        ctx = click.get_current_context()
        obj = ctx.find_object(Context)
        if obj is None:  # the command invoked on its own, without the group
            obj = ctx.obj = Context(False, None)
        if given.get("config_path") is not None:
            obj.config_path = given["config_path"]
        obj.debug = obj.debug or bool(given.get("debug"))
        obj.allow_empty = obj.allow_empty or bool(given.get("allow_empty"))
        obj.__dict__.pop("config", None)  # a config read before the override is stale
        return callback(*args, **kwargs)

    command.callback = callback_with_shared
    if command.short_help is None and command.help:
        # click cuts the listing at ~45 characters; the docstring's first line is the summary.
        command.short_help = inspect.cleandoc(command.help).split("\n\n")[0].replace("\n", " ")
    return command


def expected_errors(command):
    """Turn expected errors into one line on stderr and their exit code (--debug: traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context().find_object(Context)
        try:
            return command(*args, **kwargs)
        except EXPECTED as error:
            if ctx is not None and ctx.debug:
                traceback.print_exc()
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)

    return wrapper


pass_context = click.make_pass_decorator(Context)
