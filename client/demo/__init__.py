"""`worktally demo`: a simulated team runs the real programs end to end on loopback.

Two cohorts of developers (each with their own home, git repo and AI transcripts) use a real
`worktally lsp`, sync, enroll and report to a real aggregator, which then releases the week.
"""
