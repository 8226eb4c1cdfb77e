"""Every setting, one frozen dataclass per section, each key with its default and its rule.

`docs/configuration.md` documents each key; a test fails when one is undocumented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from worktally.client.config.rules import Bounds, HttpUrl, setting
from worktally.client.wire.privacy import DEFAULT_EPSILON_CEILING, DELTA, YEARLY_EPSILON_CAP


@dataclass(frozen=True)
class CaptureConfig:
    # An insert of at most this many characters, on one line, counts as typed.
    typed_max_chars: int = setting(2, Bounds(1))
    # How often the language server hands settled edits to its spool writer.
    flush_interval_ms: int = setting(250, Bounds(10))
    # An edit waits this long before it is keyed, so a late worktally/aiEdit still counts.
    settle_ms: int = setting(1000, Bounds(0))
    # The watcher skips files larger than this.
    max_file_bytes: int = setting(2_000_000, Bounds(1))


@dataclass(frozen=True)
class AttributionConfig:
    # AI lines still present at HEAD this many days after their commit count as surviving
    # (0 checks at the next sync, as the demo does).
    survival_days: int = setting(14, Bounds(0))
    # A session is `shipped` if its lines reach a commit within this many days.
    commit_window_days: int = setting(7, Bounds(0))
    # On registering a repo, commits this many days old are still attributed.
    history_days: int = setting(30, Bounds(0))


@dataclass(frozen=True)
class ReportConfig:
    # The leader (or the single aggregator) this install may enroll with; empty: any.
    aggregator_url: str = setting("", HttpUrl())
    # The helper your privacy office runs, from them rather than from the org's admin;
    # enrollment refuses a secure cohort whose helper is another. Empty: any.
    helper_url: str = setting("", HttpUrl())
    cohort: str = ""
    # The most ε one release may spend; enrollment refuses a cohort asking more.
    epsilon: float = setting(DEFAULT_EPSILON_CEILING, Bounds(0, YEARLY_EPSILON_CAP,
                                                             low_open=True))
    delta: float = setting(DELTA, Bounds(0, 1, high_open=True))
    # The most ε spent per budget year over every release; it can only be lowered.
    yearly_epsilon_cap: float = setting(YEARLY_EPSILON_CAP, Bounds(0, YEARLY_EPSILON_CAP,
                                                                   low_open=True))


@dataclass(frozen=True)
class OtlpConfig:
    enabled: bool = True
    # 0 picks a free port.
    port: int = setting(4319, Bounds(0, 65535))
    max_body_bytes: int = setting(4_000_000, Bounds(1))
    # A gzip body may not inflate beyond this (protects against gzip bombs).
    max_decompressed_bytes: int = setting(32_000_000, Bounds(1))
    # Answer 401 to any export without `Authorization: Bearer <secret>` (the secret that
    # `worktally otlp env` prints). Off by default: exporters set up before it existed,
    # and tools that cannot send a header (Gemini CLI), keep working.
    require_secret: bool = False


@dataclass(frozen=True)
class ImportConfig:
    # One switch per AI tool whose own logs are imported (see docs/developer.md).
    claude_code: bool = True
    codex: bool = True
    gemini_cli: bool = True
    opencode: bool = True
    copilot_cli: bool = True
    amp: bool = True
    droid: bool = True
    qwen_code: bool = True
    aider: bool = True
    # Extra folders (or files) per tool, read besides the tool's default locations.
    claude_dirs: tuple[str, ...] = ()
    codex_dirs: tuple[str, ...] = ()
    gemini_dirs: tuple[str, ...] = ()
    opencode_dirs: tuple[str, ...] = ()
    copilot_dirs: tuple[str, ...] = ()
    amp_dirs: tuple[str, ...] = ()
    droid_dirs: tuple[str, ...] = ()
    qwen_dirs: tuple[str, ...] = ()
    aider_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    otlp: OtlpConfig = field(default_factory=OtlpConfig)
    importers: ImportConfig = field(default_factory=ImportConfig)
