"""Names across formats: worktally's tool names against git-ai's, and models as models.dev ids.

git-ai names a tool by its preset (`claude`, `gemini`, `github-copilot-cli`); worktally by its
importer (`claude-code`, `gemini-cli`, `copilot-cli`). Mapping both ways keeps a tool's lines
under one name whichever side recorded them. Anything else passes through, cleaned.
"""

from __future__ import annotations

import re

TO_GIT_AI = {
    "claude-code": "claude",
    "gemini-cli": "gemini",
    "copilot-cli": "github-copilot-cli",
    "copilot": "github-copilot",
}
FROM_GIT_AI = {theirs: ours for ours, theirs in TO_GIT_AI.items()}
UNKNOWN = "unknown"
MAX_NAME = 64
MAX_MODEL = 128
_NAME = re.compile(r"[^a-z0-9._-]+")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
# Model name prefixes and their models.dev provider, for Agent Trace's `provider/model`.
_PROVIDERS = (
    ("claude", "anthropic"), ("gpt", "openai"), ("o1", "openai"), ("o3", "openai"),
    ("o4", "openai"), ("codex", "openai"), ("chatgpt", "openai"), ("gemini", "google"),
    ("grok", "xai"), ("deepseek", "deepseek"), ("mistral", "mistral"),
    ("codestral", "mistral"), ("devstral", "mistral"),
)


def clean_tool(name: str) -> str:
    """A tool name as worktally stores it: lower case, [a-z0-9._-], at most 64 characters."""
    cleaned = _NAME.sub("-", name.strip().lower()).strip("-")[:MAX_NAME]
    return cleaned or UNKNOWN


def tool_from_git_ai(name: str) -> str:
    cleaned = clean_tool(name)
    return FROM_GIT_AI.get(cleaned, cleaned)


def tool_to_git_ai(name: str | None) -> str:
    cleaned = clean_tool(name or UNKNOWN)
    return TO_GIT_AI.get(cleaned, cleaned)


def clean_model(model: str | None) -> str | None:
    """A model name worth keeping (printable, no spaces, bounded), else None."""
    if not model or model == UNKNOWN or len(model) > MAX_MODEL or not _PRINTABLE.match(model):
        return None
    return model


def model_id(model: str | None) -> str | None:
    """The models.dev id (`anthropic/claude-…`) when the provider is plain from the name."""
    cleaned = clean_model(model)
    if cleaned is None or "/" in cleaned:
        return cleaned
    lower = cleaned.lower()
    for prefix, provider in _PROVIDERS:
        if lower.startswith(prefix):
            return f"{provider}/{cleaned}"
    return cleaned
