"""DAP draft-18 for worktally's secure mode: messages, HPKE, tasks and the client's helpers.

Shared by the client and both aggregators; like the rest of `wire/` it imports nothing from
the client beyond `wire`. Start with `task.TaskConfig` (what everyone agrees on),
`client.build_report` / `client.sign_upload` (the client), and the message classes in
`messages` (upload) and `aggregation` (aggregation jobs and collection). Every malformed
input raises `DapError`, a `WireError`.
"""

from __future__ import annotations

from worktally.client.wire.dap.codec import DapError, b64url, from_b64url

__all__ = ["DapError", "b64url", "from_b64url"]
