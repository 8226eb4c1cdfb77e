"""Parsing and writing git-ai's authorship/3.0.0 note text (no git, no database)."""

from __future__ import annotations

import pytest
from git_ai_support import (
    human_key,
    legacy_key,
    note_text,
    session_id,
    session_key,
    session_record,
)

from worktally.client.interop import git_ai_format
from worktally.client.interop.git_ai_format import Agent, NoteFormatError, Verdict

CANARY = "zqxcanary"
IDENTITY = f"Canary {CANARY} <{CANARY}@example.invalid>"


def _mixed_note() -> str:
    claude = session_key("claude", "conv-1", "a")
    return note_text(
        [("src/main.rs", [(claude, "1-10,15-20"), (human_key(IDENTITY), "11-14")]),
         ("src/my file.rs", [(legacy_key("cursor", "old"), "1-3")])],
        base="7734793b756b3921c88db5375a8c156e9532447b",
        sessions={session_id("claude", "conv-1"): session_record(
            "claude", "conv-1", "claude-sonnet-4-5", human_author=f"{CANARY}@example.invalid",
            team=f"{CANARY}-team")},
        humans={human_key(IDENTITY): IDENTITY},
        prompts={legacy_key("cursor", "old"): {
            "agent_id": {"tool": "cursor", "id": "old", "model": "gpt-4"},
            "human_author": IDENTITY, "total_additions": 3, "total_deletions": 0,
            "accepted_lines": 3, "overriden_lines": 0}})


def test_a_mixed_note_parses_to_agents_humans_and_files():
    note = git_ai_format.parse(_mixed_note())
    assert note.base_commit_sha == "7734793b756b3921c88db5375a8c156e9532447b"
    assert [f.path for f in note.files] == ["src/main.rs", "src/my file.rs"]
    assert note.agents[session_id("claude", "conv-1")] == Agent(
        "claude", "conv-1", "claude-sonnet-4-5")
    assert note.agents[legacy_key("cursor", "old")] == Agent("cursor", "old", "gpt-4")
    assert note.humans == {human_key(IDENTITY)}
    # Names, emails and custom attributes are not carried into the parsed note at all.
    assert CANARY not in repr(note)
    main = git_ai_format.resolve(note, note.files[0], line_count=25)
    assert {n for n, v in main.items() if v.source == "ai"} == {*range(1, 11), *range(15, 21)}
    assert {n for n, v in main.items() if v == Verdict("human")} == set(range(11, 15))
    assert 21 not in main  # untracked
    legacy = git_ai_format.resolve(note, note.files[1], line_count=2)
    assert sorted(legacy) == [1, 2]  # clipped to the file's length


def test_a_later_entry_wins_and_an_unresolvable_key_says_nothing():
    claude, orphan_human = session_key("claude", "c", "t1"), human_key("Nobody <n@x>")
    text = note_text(
        [("a.py", [(human_key(IDENTITY), "1-6"), (claude, "2-3"), (orphan_human, "5"),
                   (session_key("codex", "missing", "t"), "6"), ("zz_weird", "1")])],
        base="b" * 40, sessions={session_id("claude", "c"): session_record("claude", "c", "m")},
        humans={human_key(IDENTITY): IDENTITY})
    note = git_ai_format.parse(text)
    lines = git_ai_format.resolve(note, note.files[0], line_count=10)
    assert {n: v.source for n, v in lines.items()} == {
        1: "human", 2: "ai", 3: "ai", 4: "human", 5: "human", 6: "human"}


def test_sessions_and_humans_may_be_absent_and_kind_comes_from_worktally_s_attribute():
    text = note_text([("a.py", [(legacy_key("codex", "x"), "1")])], base="c" * 40,
                     prompts={legacy_key("codex", "x"): {"agent_id": {
                         "tool": "codex", "id": "x", "model": "gpt-5"}}})
    assert git_ai_format.parse(text).humans == frozenset()
    tagged = note_text([("a.py", [(session_key("x", "y", "z"), "1")])], base="c" * 40,
                       sessions={session_id("x", "y"): session_record(
                           "x", "y", "m", **{"worktally.kind": "completion"})})
    assert git_ai_format.parse(tagged).agents[session_id("x", "y")].kind == "completion"


@pytest.mark.parametrize(("text", "complaint"), [
    ("a.py\n  h_0123456789abcd 1-2\n{}", "no '---'"),
    ("a.py\n  h_0123456789abcd 1-2\n---\nnot json", "not JSON"),
    ("a.py\n  h_0123456789abcd 1-2\n---\n[]", "not a JSON object"),
    ('---\n{"schema_version": "authorship/2.0.0", "base_commit_sha": "", "prompts": {}}',
     "schema_version"),
    ('  h_0123456789abcd 1-2\n---\n{"schema_version": "authorship/3.0.0"}', "before any file"),
    ('a.py\n  h_0123456789abcd\n---\n{"schema_version": "authorship/3.0.0"}', "no line ranges"),
    ('a.py\n  h_0123456789abcd 2-1\n---\n{"schema_version": "authorship/3.0.0"}', "ranges"),
    ('a.py\n  h_0123456789abcd 1\n---\n{"schema_version": "authorship/3.0.0", "sessions": 3}',
     "sessions"),
])
def test_malformed_notes_are_refused(text, complaint):
    with pytest.raises(NoteFormatError, match=complaint):
        git_ai_format.parse(text)


def test_render_then_parse_keeps_every_attestation_and_quotes_paths_with_spaces():
    key = session_key("claude", "c", "t")
    text = git_ai_format.render(
        [("dir/with space.py", [(key, [(1, 4), (9, 9)])]), ("---", [(key, [(2, 2)])])],
        {"schema_version": "authorship/3.0.0", "base_commit_sha": "d" * 40, "prompts": {},
         "sessions": {session_id("claude", "c"): session_record("claude", "c", "m")}})
    assert text.splitlines()[:4] == ['"dir/with space.py"', f"  {key} 1-4,9", '"---"',
                                     f"  {key} 2"]
    assert text.splitlines()[4] == "---"
    note = git_ai_format.parse(text)
    assert [(f.path, f.entries[0].ranges) for f in note.files] == [
        ("dir/with space.py", ((1, 4), (9, 9))), ("---", ((2, 2),))]
    with pytest.raises(ValueError):
        git_ai_format.render([('say "hi".py', [(key, [(1, 1)])])], {})
