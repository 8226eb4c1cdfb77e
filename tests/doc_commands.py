"""The `worktally` and `worktally-aggregator` command lines shown in Markdown, and whether the
real click CLIs accept them (parsed, never run).

Where command lines come from:
- fenced blocks tagged sh, bash, shell, console or zsh: every simple command (split at pipes,
  `&&`, `||` and `;`, after `\\` continuations, `#` comments, a `$ ` prompt and `VAR=value`
  prefixes are handled) whose program is one of ours. These are lines people paste, so they
  must parse completely, required options included.
- inline code spans that start with the program's name. A span that is only a command path
  (`worktally repos add` in a sentence) names the command: it must exist, but its required
  parameters are not demanded. Anything more is parsed completely.

Synopsis notation is read as in the command reference: `[X]` is optional, so the line must
parse both with and without X; `A | B` (spaced) and `a|b` (unspaced, binding tighter) are
alternatives, and each must parse. Placeholders (ALL-CAPS words such as `FILE.html` or
`YYYY-Www`, `<angle text>`, `$VARIABLES`) stand for any valid value of the parameter they
fill; literal values are checked by the parameter's type, except that example paths need not
exist. `...` after a word is dropped.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any

import click

SHELL_FENCES = {"sh", "bash", "shell", "console", "zsh"}
MAX_VARIANTS = 4096
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w-]*)")
# A code span may wrap lines but not cross a paragraph.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n\s*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(?:[-.][A-Za-z0-9_]+)*|<[^<>]+>|.*\$.*")
_ASSIGNMENTS = re.compile(r"""(?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"[^"]*"|\S)*\s+)*""")
_REDIRECT = re.compile(r"\d*(?:>>?|<)(?:&\d+)?")


@functools.cache
def programs() -> dict[str, click.Command]:
    from worktally.aggregator.cli import cli as aggregator
    from worktally.client.cli import cli as client

    return {"worktally": client, "worktally-aggregator": aggregator}


@dataclass(frozen=True)
class DocCommand:
    """One command line found in a Markdown file."""

    where: str  # file:line
    text: str  # as written, synopsis notation included
    strict: bool  # from a shell block: must parse completely

    def problem(self) -> str | None:
        """Why the CLI refuses this line (in one of its readings), or None."""
        try:
            readings = variants(self.text)
        except ValueError as exc:
            return f"cannot read the line: {exc}"
        for argv in readings:
            found = parse_problem(argv, self.strict)
            if found:
                return f"{' '.join(argv)}: {found}"
        return None

    def __str__(self) -> str:
        return f"{self.where}: `{self.text}`"


def is_placeholder(word: str) -> bool:
    return bool(_PLACEHOLDER.fullmatch(word))


# --- Finding command lines in Markdown -------------------------------------------------------


def find_commands(markdown: str, source: str) -> list[DocCommand]:
    """Every command line of ours in a Markdown text, with its `source:line`."""
    found: list[DocCommand] = []
    prose: list[str] = []  # the text outside fences, blank where fences were (keeps line numbers)
    fence: str | None = None
    shell = False
    pending, pending_line = "", 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence, shell = opening.group(1), opening.group(2).lower() in SHELL_FENCES
            prose.append("")
            continue
        if fence is not None:
            prose.append("")
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
                if pending:  # a block that ends in a continuation
                    found += _commands_in(pending, f"{source}:{pending_line}", strict=True)
                    pending = ""
            elif shell:
                if not pending:
                    pending_line = number
                pending += line.strip().removeprefix("$ ")
                if pending.endswith("\\"):  # a continuation: the next line joins this one
                    pending = pending[:-1].rstrip() + " "
                    continue
                found += _commands_in(pending, f"{source}:{pending_line}", strict=True)
                pending = ""
            continue
        prose.append(line)
    text = "\n".join(prose)
    for match in _CODE_SPAN.finditer(text):
        span = " ".join(match.group(2).split())
        line_number = text.count("\n", 0, match.start()) + 1
        if _program(_without_assignments(span)):
            found += _commands_in(span, f"{source}:{line_number}", strict=False)
    return found


def _without_assignments(command: str) -> str:
    """`command` without leading `VAR=value` words (the shell's environment prefix)."""
    match = _ASSIGNMENTS.match(command)
    return command[match.end():] if match else command


def _program(command: str) -> str | None:
    first = command.split(None, 1)[0] if command.strip() else ""
    return first if first in programs() else None


def _commands_in(shell_text: str, where: str, strict: bool) -> list[DocCommand]:
    out = []
    for segment in split_commands(shell_text):
        command = _without_assignments(segment)
        if _program(command):
            out.append(DocCommand(where, command, strict))
    return out


def split_commands(text: str) -> list[str]:
    """`text` cut into simple commands at top-level `|`, `||`, `&&` and `;`, with `#` comments
    removed. A `|` inside synopsis brackets is an alternative, not a pipe."""
    commands, current = [], []
    depth, quote, i = 0, "", 0
    while i < len(text):
        char = text[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            break
        elif depth == 0 and (char in "|;" or text.startswith("&&", i)):
            commands.append("".join(current))
            current = []
            i += 2 if text.startswith(("&&", "||"), i) else 1
            continue
        current.append(char)
        i += 1
    commands.append("".join(current))
    return [c.strip() for c in commands if c.strip()]


# --- Synopsis notation -> argument lists ----------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "[", "]", "(", ")", "alt" (spaced |) or "tight" (unspaced |)
    text: str = ""


def _lex(command: str) -> list[_Token]:
    tokens: list[_Token] = []
    word: list[str] = []
    has_word = False
    i = 0

    def end_word() -> None:
        nonlocal has_word
        if has_word:
            tokens.append(_Token("word", "".join(word)))
        word.clear()
        has_word = False

    while i < len(command):
        char = command[i]
        if char in "'\"":
            close = command.find(char, i + 1)
            if close < 0:
                raise ValueError(f"unbalanced {char} in {command!r}")
            word.append(command[i + 1:close])
            has_word = True
            i = close + 1
            continue
        if char == "<" and not has_word and (match := re.match(r"<[^<>\s][^<>]*>", command[i:])):
            word.append(match.group(0))  # <angle text> is one placeholder word
            has_word = True
            i += match.end()
            continue
        if char == "\\" and i + 1 < len(command):
            word.append(command[i + 1])
            has_word = True
            i += 2
            continue
        if char.isspace() or char in "[]()|":
            end_word()
            if char == "|":
                spaced = command[i - 1:i].isspace() or command[i + 1:i + 2].isspace()
                tokens.append(_Token("alt" if spaced else "tight"))
            elif not char.isspace():
                tokens.append(_Token(char))
            i += 1
            continue
        word.append(char)
        has_word = True
        i += 1
    end_word()
    return tokens


class _Synopsis:
    """Recursive descent over the tokens; each rule returns every reading as a word list."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at].kind if self.at < len(self.tokens) else None

    def alternatives(self) -> list[list[str]]:
        readings = self.sequence()
        while self.peek() == "alt":
            self.at += 1
            readings += self.sequence()
        return readings

    def sequence(self) -> list[list[str]]:
        readings: list[list[str]] = [[]]
        while self.peek() in ("word", "[", "("):
            parts = self.tight()
            readings = [a + b for a, b in itertools.product(readings, parts)]
            if len(readings) > MAX_VARIANTS:
                raise ValueError("too many readings of one synopsis")
        return readings

    def tight(self) -> list[list[str]]:
        readings = self.atom()
        while self.peek() == "tight":
            self.at += 1
            readings += self.atom()
        return readings

    def atom(self) -> list[list[str]]:
        token = self.tokens[self.at]
        self.at += 1
        if token.kind == "word":
            return [[token.text]]
        closing = "]" if token.kind == "[" else ")"
        inner = self.alternatives()
        if self.peek() != closing:
            raise ValueError(f"unbalanced {token.kind} in synopsis")
        self.at += 1
        return [[], *inner] if token.kind == "[" else inner


def variants(command: str) -> list[list[str]]:
    """Every reading of a synopsis as an argument list, placeholders kept as written."""
    parser = _Synopsis(_lex(command))
    readings = parser.alternatives()
    if parser.peek() is not None:
        raise ValueError(f"cannot read synopsis {command!r}")
    out = []
    for reading in readings:
        argv = []
        words = iter(reading)
        for word in words:
            if _REDIRECT.fullmatch(word):  # `> file`, `2>&1`: the shell's, not the command's
                if "&" not in word:
                    next(words, None)
                continue
            if word != "...":
                argv.append(word.removesuffix("..."))
        out.append(argv)
    return out


# --- Parsing with the real CLI --------------------------------------------------------------


class _DocValue(click.ParamType):
    """A parameter's own type, except that a placeholder stands for any valid value and an
    example path need not exist on this machine."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name
        self.is_composite = inner.is_composite
        self.arity = inner.arity

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and is_placeholder(value):
            return value
        inner = self.inner
        if isinstance(inner, click.Path) and inner.exists:
            inner = copy.copy(inner)
            inner.exists = False
        return inner.convert(value, param, ctx)


def _lenient(command: click.Command) -> click.Command:
    clone = copy.copy(command)
    clone.params = []
    for param in command.params:
        if isinstance(param, click.Option) and (param.is_flag or param.count):
            clone.params.append(param)  # a flag's type says it is a flag: leave it alone
        else:
            param = copy.copy(param)
            param.type = _DocValue(param.type)
            clone.params.append(param)
    return clone


def _names_a_command(command: click.Command, args: list[str]) -> bool:
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            return False
        command = command.commands[arg]
    return True


def parse_problem(argv: list[str], strict: bool) -> str | None:
    """click's complaint about `argv` (program first), or None; nothing is run."""
    program, *args = argv
    command = programs()[program]
    if not strict and _names_a_command(command, args):
        return None
    try:
        _parse(command, program, args, None)
    except click.exceptions.Exit:  # --help or --version: click would print and stop
        return None
    except click.UsageError as exc:
        return exc.format_message()
    return None


def _parse(command: click.Command, name: str, args: list[str],
           parent: click.Context | None) -> None:
    if not isinstance(command, click.Group):
        _lenient(command).make_context(name, list(args), parent=parent)
        return
    ctx = command.make_context(name, list(args), parent=parent)
    # click 8 keeps the subcommand's name apart from its arguments; click 9 will not.
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    if rest:
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None
        _parse(sub, sub_name, sub_args, ctx)
