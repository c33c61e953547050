"""Expected failures: shown to the user as one line, with an exit code."""


class UserError(Exception):
    """Bad input (config, arguments, files): exit code 2."""

    exit_code = 2


class AwsError(UserError):
    """AWS refused or failed a request (credentials, permissions, missing bucket or key): exit 3."""

    exit_code = 3


class GateError(Exception):
    """A template failed validation; nothing was written: exit code 1."""

    exit_code = 1
