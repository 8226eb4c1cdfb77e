"""Entry point of one import child process (`python -m worktally.client.importers.parse_child`).

Kept apart from `workers.py` so that the classes the child pickles keep their real module name.
"""

from __future__ import annotations

from worktally.client.importers.workers import main

if __name__ == "__main__":
    main()
