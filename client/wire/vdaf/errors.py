"""The one exception the VDAF layer raises for rejected reports and malformed messages."""

from __future__ import annotations


class VdafError(ValueError):
    """A report, message or parameter was rejected; the message names the step.

    Every failure the aggregators can meet on untrusted input (a proof that does not
    verify, a joint-randomness mismatch, bytes of the wrong length, a field element above
    the modulus) is raised as this class, never as IndexError or AssertionError, so a
    caller needs exactly one `except` to turn a bad report into a rejection.
    """
