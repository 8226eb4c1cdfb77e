"""Neighbouring tools' attribution formats: git-ai's notes (read and write) and Agent Trace
records (write), each mapped to and from worktally's committed-line classes."""
