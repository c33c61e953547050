"""What every command shares: the context object and the expected-error handler."""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import click

from generator.config import Config, load_config
from generator.errors import GateError, UserError

# Failures a user can act on. Anything else is a bug and keeps its traceback.
EXPECTED = (UserError, GateError)


class Context:
    def __init__(self, debug: bool, config_path: Path | None):
        self.debug = debug
        self.config_path = config_path

    @functools.cached_property
    def config(self) -> Config:
        return load_config(self.config_path)


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
