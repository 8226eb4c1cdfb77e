"""One exception hierarchy for the developer side; messages say what to do next."""

from __future__ import annotations

from worktally.client.wire.errors import WorktallyError

__all__ = [
    "AgentBusyError", "BudgetExceededError", "ConfigError", "EnrollmentError", "GitError",
    "ImportFormatError", "SpoolError", "UploadError", "WorktallyError",
]


class ConfigError(WorktallyError):
    """The config file or an option is invalid."""


class AgentBusyError(WorktallyError):
    """Another process owns the local database."""


class SpoolError(WorktallyError):
    """A spool batch could not be written or read."""


class GitError(WorktallyError):
    """A git command failed or timed out."""


class BudgetExceededError(WorktallyError):
    """Sending a report would spend more privacy budget than configured."""


class EnrollmentError(WorktallyError):
    """Enrolling with an aggregator failed, or this install is not enrolled."""


class UploadError(WorktallyError):
    """A report could not be delivered, or the aggregator refused it."""


class ImportFormatError(WorktallyError):
    """An AI tool's log could not be read."""
