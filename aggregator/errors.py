"""One exception tree: every error the product raises on purpose is an AggregatorError.

Messages are written for users: they say what went wrong and what to do about it.
"""


class AggregatorError(Exception):
    """Base of every error raised by the aggregator on purpose."""


class ConfigError(AggregatorError):
    """A configuration or source-definition file is wrong; the message names file and field."""


class FetchError(AggregatorError):
    """A source could not be fetched; `reason` is a short machine-friendly tag."""

    def __init__(self, message: str, reason: str = "error", status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status


class ParseError(AggregatorError):
    """A fetched document could not be turned into entries at all."""


class StorageError(AggregatorError):
    """The database could not be opened, migrated or written."""
