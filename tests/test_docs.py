"""Every CLI command and every config key must be documented (the sqlite-utils rule), and every
command line the documentation shows must be one the CLI accepts (see doc_commands.py)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from doc_commands import DocCommand, find_commands

from worktally.client import config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _command_paths(group: click.Group, prefix: str) -> list[str]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        out.append(path)
        if isinstance(command, click.Group):
            out.extend(_command_paths(command, path))
    return out


def _all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_the_three_users_and_architecture_have_pages() -> None:
    for page in ("developer.md", "privacy.md", "admin.md", "architecture.md"):
        assert (DOCS / page).is_file(), f"docs/{page} is missing"


@pytest.mark.parametrize("program", ["worktally", "worktally-aggregator"])
def test_every_command_is_documented(program: str) -> None:
    if program == "worktally":
        from worktally.client.cli import cli as group
    else:
        module = pytest.importorskip("worktally.aggregator.cli")
        group = module.cli
    cli_doc = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in _command_paths(group, program) if f"`{p}" not in cli_doc]
    assert not missing, f"undocumented commands in docs/cli.md: {missing}"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in config.all_keys() if f"`{key}`" not in text]
    assert not missing, f"undocumented config keys in docs/configuration.md: {missing}"


def _documented_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        found += find_commands(page.read_text(encoding="utf-8"), str(page.relative_to(ROOT)))
    return found


def test_every_documented_command_line_parses() -> None:
    commands = _documented_commands()
    # The finder itself must keep working: the pages show far more than a handful.
    assert len([c for c in commands if c.strict]) > 20
    assert len([c for c in commands if c.text.startswith("worktally-aggregator ")]) > 10
    failing = [f"{command}\n    {problem}" for command in commands
               if (problem := command.problem())]
    assert not failing, "documented command lines the CLI refuses:\n" + "\n".join(failing)


def _one(markdown: str) -> DocCommand:
    found = find_commands(markdown, "t.md")
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("markdown", "complaint"),
    [
        ("`worktally cofnig list`", "No such command"),
        ("`worktally status --jsn`", "No such option"),
        ("`worktally repos add PATH extra`", "unexpected extra argument"),
        ("`worktally me [--week]`", "requires an argument"),
        ("`worktally forget (--all | --bogus)`", "No such option"),
        ("`worktally browser install [--browser chromium|firefox]`", "'firefox' is not one of"),
        ("`worktally demo --workers 99`", "99 is not in the range"),
        ("`worktally-aggregator cohort add web --roster many --data DIR`", "not a valid integer"),
        ("`worktally-aggregator dashboard --out x.html`", "Missing option '--data'"),
        ("```sh\nworktally repos add\n```", "Missing argument 'PATH'"),
        ("```sh\nWORKTALLY_HOME=demo-home worktally sttus\n```", "No such command"),
        ("```bash\nworktally status --json | jq . && worktally sync --bogus\n```", "--bogus"),
        ("```sh\nworktally-aggregator release --data DIR \\\n  --cohort web\n```",
         "Missing option '--period'"),
        ("```console\n$ worktally config set\n```", "Missing argument 'KEY'"),
    ],
)
def test_the_checker_refuses_a_bad_line(markdown: str, complaint: str) -> None:
    problems = [command.problem() for command in find_commands(markdown, "t.md")]
    assert any(complaint in (problem or "") for problem in problems), problems


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("then `worktally repos add` and", "worktally repos add"),
        ("```sh\nworktally me --week 2026-W48   # your week\n```", "worktally me --week 2026-W48"),
        ("```console\n$ worktally status\n```", "worktally status"),
        ("`worktally report send --week <this week>`", "worktally report send --week <this week>"),
        ("```sh\nWORKTALLY_HOME=demo-home worktally status --json | jq .today\n```",
         "worktally status --json"),
        ("```sh\nworktally-aggregator hold --data DIR --cohort web \\\n"
         "  --period 2026-W48 --reason \"team of 3\"\n```",
         "worktally-aggregator hold --data DIR --cohort web --period 2026-W48 "
         '--reason "team of 3"'),
        ("`worktally browser install [--browser chromium|chrome] [--user-data-dir DIR]`",
         "worktally browser install [--browser chromium|chrome] [--user-data-dir DIR]"),
        ("`worktally forget (--all | --before YYYY-MM-DD) [--yes]`",
         "worktally forget (--all | --before YYYY-MM-DD) [--yes]"),
        ("`worktally config set report.epsilon -1`", "worktally config set report.epsilon -1"),
        ("```sh\nworktally --version\n```", "worktally --version"),
    ],
)
def test_the_checker_accepts_good_lines(markdown: str, text: str) -> None:
    command = _one(markdown)
    assert command.text == text
    assert command.problem() is None


def test_prose_and_other_languages_are_not_command_lines() -> None:
    markdown = "\n".join([
        "`worktally.duckdb` holds it; `worktally/aiEdit` marks it; `worktally: Pause recording`.",
        "```toml", 'command = "worktally"', "worktally lsp --bogus", "```",
        "```", "worktally-aggregator (one DuckDB owner)", "```",
        "```sh", "pipx install worktally   # worktally status --bogus", "```",
    ])
    assert find_commands(markdown, "t.md") == []


def test_synopsis_readings() -> None:
    from doc_commands import variants

    assert variants("worktally forget (--all | --before D) [--yes]") == [
        ["worktally", "forget", "--all"], ["worktally", "forget", "--all", "--yes"],
        ["worktally", "forget", "--before", "D"], ["worktally", "forget", "--before", "D", "--yes"],
    ]
    assert variants("worktally lsp [-v|-vv]") == [
        ["worktally", "lsp"], ["worktally", "lsp", "-v"], ["worktally", "lsp", "-vv"]]
    assert variants("worktally x --out FILE ... 2>&1 > log") == [
        ["worktally", "x", "--out", "FILE"]]
