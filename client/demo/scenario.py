"""Who does what in the demo: a seeded, deterministic plan per developer (never any noise).

`random.Random(seed)` only chooses the scenario (how many sessions, lines and tokens); the
differential-privacy noise is added later by worktally itself, with OpenDP.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# The cohort that turns its AI use into shipped code, and the one that burns tokens in
# sessions with no code outcome ("tokenmaxxing").
SHIPPING_COHORT = "platform"
TOKENMAXXING_COHORT = "growth"
COHORTS = (SHIPPING_COHORT, TOKENMAXXING_COHORT)
MODEL = "claude-sonnet-4-5-20250929"
BASE_FILE = "src/base.py"
BASE_TEXT = 'def base_entry(config):\n    return config.get("base_entry_value")\n'


@dataclass(frozen=True)
class Canaries:
    """Unique strings planted in code, prompts and names, which must never leave a machine."""

    code: str
    ai_code: str
    prompt: str
    file: str
    repo: str

    @classmethod
    def from_token(cls, token: str) -> Canaries:
        return cls(code=f"{token}codeline", ai_code=f"{token}aicode",
                   prompt=f"{token}prompttext", file=f"{token}filename",
                   repo=f"{token}reponame")

    def all(self) -> tuple[str, ...]:
        return (self.code, self.ai_code, self.prompt, self.file, self.repo)


@dataclass(frozen=True)
class TokenUse:
    """One API request's usage as Claude Code logs it."""

    input_tokens: int
    output_tokens: int
    cache_creation: int
    cache_read: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation + self.cache_read


@dataclass(frozen=True)
class FileWrite:
    """A `Write` of a new file (relative to the repo), or an `Edit` appending to one."""

    relpath: str
    content: str
    appends_to: str = ""  # for an Edit: the existing text the new lines follow


@dataclass(frozen=True)
class AgentSession:
    """One Claude Code session: in the repo (maybe writing files) or outside any repo."""

    session_id: str
    in_repo: bool
    prompt: str
    requests: tuple[TokenUse, ...]
    writes: tuple[FileWrite, ...] = ()

    @property
    def tokens(self) -> int:
        return sum(r.total for r in self.requests)


@dataclass(frozen=True)
class EditorPlan:
    """One editor session on one new file: typed lines, an AI completion, a bulk insert."""

    relpath: str
    typed: str
    ai_block: str
    bulk_block: str


@dataclass(frozen=True)
class DeveloperPlan:
    name: str
    cohort: str
    email: str
    repo_dir: str
    sessions: tuple[AgentSession, ...]
    editor: EditorPlan

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.sessions)

    @property
    def shipped_tokens(self) -> int:
        return sum(s.tokens for s in self.sessions if s.writes)


def _code_block(rng: random.Random, stem: str, lines: int, marker: str) -> str:
    """`lines` distinct, non-trivial Python lines; every line names `stem` so none repeats."""
    out = [f"def {stem}(value):"]
    for i in range(1, max(lines - 1, 1)):
        out.append(f"    {stem}_step{i} = value * {rng.randint(2, 97)} + {i}")
    out.append(f'    return {stem}_step1, "{marker}"' if marker else f"    return {stem}_step1")
    return "\n".join(out) + "\n"


def _requests(rng: random.Random, count: int, cache_read: tuple[int, int],
              output: tuple[int, int]) -> tuple[TokenUse, ...]:
    return tuple(
        TokenUse(rng.randint(10, 200), rng.randint(*output), rng.randint(1_000, 6_000),
                 rng.randint(*cache_read))
        for _ in range(count)
    )


class _PlanBuilder:
    def __init__(self, rng: random.Random, name: str, canaries: Canaries | None) -> None:
        self.rng = rng
        self.name = name
        self.canaries = canaries
        self.count = 0

    def stem(self, kind: str) -> str:
        self.count += 1
        return f"{self.name.replace('-', '_')}_{kind}{self.count}"

    def prompt(self, text: str) -> str:
        return f"{text} ({self.canaries.prompt})" if self.canaries else text

    def session_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def shipped(self, files: int, requests: int, cache_read: tuple[int, int],
                with_edit: bool) -> AgentSession:
        marker = self.canaries.ai_code if self.canaries else ""
        prefix = f"{self.canaries.file}_" if self.canaries else ""
        writes = [
            FileWrite(f"src/{prefix}{self.stem('mod')}.py",
                      _code_block(self.rng, self.stem("agent"), self.rng.randint(6, 16), marker))
            for _ in range(files)
        ]
        if with_edit:
            writes.append(FileWrite(BASE_FILE, _code_block(self.rng, self.stem("edit"), 5, ""),
                                    appends_to=BASE_TEXT))
        return AgentSession(self.session_id(), True, self.prompt("add the feature and tests"),
                            _requests(self.rng, max(requests, len(writes)), cache_read,
                                      (400, 3_000)),
                            tuple(writes))

    def talk(self, in_repo: bool, requests: int, cache_read: tuple[int, int]) -> AgentSession:
        text = "explain this module" if in_repo else "draft my weekly update"
        return AgentSession(self.session_id(), in_repo, self.prompt(text),
                            _requests(self.rng, requests, cache_read, (200, 4_000)))

    def editor(self) -> EditorPlan:
        marker = self.canaries.code if self.canaries else ""
        prefix = f"{self.canaries.file}_" if self.canaries else ""
        typed = f"{self.stem('typed')} = {self.rng.randint(10, 99)}\n"
        if marker:
            typed += f'{self.stem("typed")} = "{marker}"\n'
        return EditorPlan(
            relpath=f"src/{prefix}{self.stem('editor')}.py",
            typed=typed,
            ai_block=_code_block(self.rng, self.stem("completion"), self.rng.randint(3, 8),
                                 self.canaries.ai_code if self.canaries else ""),
            bulk_block=_code_block(self.rng, self.stem("pasted"), self.rng.randint(2, 4), ""),
        )


def _developer(rng: random.Random, cohort: str, index: int,
               canaries: Canaries | None) -> DeveloperPlan:
    name = f"{cohort}-{index:02d}"
    b = _PlanBuilder(rng, name, canaries)
    sessions: list[AgentSession] = []
    if cohort == SHIPPING_COHORT:
        for i in range(rng.randint(2, 4)):
            sessions.append(b.shipped(rng.randint(1, 3), rng.randint(2, 4), (10_000, 40_000),
                                      with_edit=i == 0))
        sessions += [b.talk(True, rng.randint(1, 2), (2_000, 8_000))
                     for _ in range(rng.randint(0, 2))]
        sessions += [b.talk(False, 1, (1_000, 5_000)) for _ in range(rng.randint(0, 1))]
    else:
        sessions.append(b.shipped(1, 1, (2_000, 6_000), with_edit=False))
        sessions += [b.talk(True, rng.randint(1, 2), (5_000, 15_000))
                     for _ in range(rng.randint(1, 2))]
        sessions += [b.talk(False, rng.randint(3, 6), (60_000, 150_000))
                     for _ in range(rng.randint(14, 28))]
    repo_dir = f"{name}-{canaries.repo}" if canaries else f"{name}-service"
    return DeveloperPlan(name, cohort, f"{name}@example.com", repo_dir, tuple(sessions),
                         b.editor())


def build_team(per_cohort: int, seed: int,
               canaries: Canaries | None = None) -> tuple[DeveloperPlan, ...]:
    """Every developer's plan; the same (size, seed, canaries) always gives the same team."""
    # Scenario choices only: privacy noise never comes from `random`.
    rng = random.Random(seed)
    return tuple(_developer(rng, cohort, i + 1, canaries)
                 for cohort in COHORTS for i in range(per_cohort))
