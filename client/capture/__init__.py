"""Capture: how an edit becomes line keys and records, and the spool producers write them to."""
