"""Errors a user can act on: each says what is wrong, where (file and line, or config key), and
the fix. Pipelines print the message alone, without a traceback."""

from __future__ import annotations


class NmtBottleneckError(Exception):
    """Base class: an error caused by input or configuration, not by a bug."""


class DataError(NmtBottleneckError):
    """A corpus file or dataset is missing, malformed or unusable."""


class ConfigError(NmtBottleneckError):
    """A configuration key or value is unknown or invalid."""


class HubUnreachableError(DataError):
    """The Hugging Face Hub could not be reached."""
