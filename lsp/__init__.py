"""worktally's language server (`worktally lsp`) and its editor integrations (nvim/, vscode/)."""
