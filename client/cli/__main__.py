"""`python -m worktally.client.cli` runs the CLI (tests and editors use it next to the venv)."""

from worktally.client.cli import main

main()
