"""The developer-side half of worktally: capture, local store, attribution and reports."""
