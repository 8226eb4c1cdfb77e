"""Puts this folder on sys.path (pytest does that for a conftest's folder), so the tests in
the per-package folders below share the support modules here (agent_support, ...)."""
