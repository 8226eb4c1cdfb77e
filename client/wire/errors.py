"""The root of worktally's exceptions, and the wire format's own: bad periods and envelopes.

This module depends on nothing, so both the client (`worktally.client.errors` builds its
hierarchy on `WorktallyError`) and the aggregator share one root without importing each
other's internals.
"""

from __future__ import annotations


class WorktallyError(Exception):
    """Base class for errors shown to the user as a one-line message, on either side."""


class WireError(WorktallyError):
    """Data that does not have the form the wire format defines."""


class PeriodError(WireError):
    """A report period written in a form that is not a valid period."""


class MeasurementError(WireError):
    """A secure report's values (or its noise parameters) that the schema cannot accept."""
