"""Parsing aiEdit/paste params and pairing signals with changes in either order."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import pytest

from worktally.client.config import CaptureConfig
from worktally.lsp.options import ServerOptions, parse_options
from worktally.lsp.positions import Pos
from worktally.lsp.signals import (
    InvalidSignalError,
    Signal,
    SignalMatcher,
    parse_ai_edit,
    parse_paste,
)
from worktally.lsp.tracker import DocumentTracker

URI = "file:///w/a.py"
RANGE = {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}}
GOOD = {"uri": URI, "range": RANGE, "tool": "copilot", "kind": "completion", "model": "m1"}


def test_parse_ai_edit() -> None:
    signal = parse_ai_edit(GOOD)
    assert (signal.start, signal.end) == (Pos(1, 0), Pos(3, 0))
    assert signal.attribution.source == "ai"
    assert (signal.attribution.tool, signal.attribution.kind, signal.attribution.model) == (
        "copilot", "completion", "m1")
    assert signal.lines.first == 1 and signal.lines.last == 2  # ends at column 0 of line 3


def test_parse_accepts_pygls_namedtuples() -> None:
    # pygls delivers untyped params as namedtuples, nested.
    pos = namedtuple("Object", ["line", "character"])
    rng = namedtuple("Object", ["start", "end"])
    params = namedtuple("Object", ["uri", "range"])(URI, rng(pos(0, 0), pos(0, 4)))
    signal = parse_paste(params)
    assert signal.attribution.source == "bulk" and signal.attribution.kind == "paste"
    assert signal.end == Pos(0, 4)


def _with(**changes: Any) -> dict[str, Any]:
    params = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            params.pop(key)
        else:
            params[key] = value
    return params


@pytest.mark.parametrize(
    "params",
    [
        None, [], "text", _with(uri=...), _with(uri=7), _with(uri=""), _with(range=...),
        _with(range=[1, 2]), _with(range={"start": {"line": 0, "character": 0}}),
        _with(range={"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}),
        _with(range={"start": {"line": True, "character": 0}, "end": {"line": 1, "character": 0}}),
        _with(range={"start": {"line": 5, "character": 0}, "end": {"line": 4, "character": 0}}),
        _with(kind="autocomplete"), _with(kind=...), _with(tool=...), _with(tool="t" * 101),
        _with(model=3),
    ],
)
def test_bad_ai_edit_params_are_rejected_with_a_reason(params: Any) -> None:
    with pytest.raises(InvalidSignalError) as info:
        parse_ai_edit(params)
    assert str(info.value)


def _change(tracker: DocumentTracker, at: Pos, text: str) -> Any:
    return tracker.apply_change(at, at, text, 0.0, 2)


BLOCK = "alpha()\nbeta()\n"


def _signal(start: Pos, end: Pos) -> Signal:
    return parse_ai_edit({**GOOD, "range": {
        "start": {"line": start.line, "character": start.character},
        "end": {"line": end.line, "character": end.character}}})


def test_signal_after_its_change_matches_at_once() -> None:
    matcher, tracker = SignalMatcher(2.0), DocumentTracker(3)
    change = _change(tracker, Pos(1, 0), BLOCK)
    assert matcher.on_change(change, 10.0) == []
    assert matcher.on_signal(_signal(Pos(1, 0), Pos(3, 0)), 10.5)


def test_signal_before_its_change_waits_for_it_and_keystrokes_do_not_take_it() -> None:
    matcher, tracker = SignalMatcher(2.0), DocumentTracker(3)
    signal = _signal(Pos(1, 0), Pos(3, 0))
    assert not matcher.on_signal(signal, 10.0)
    assert matcher.on_change(_change(tracker, Pos(1, 0), "x"), 10.1) == []
    # The keystroke moved the insert point by one column; the block still overlaps.
    assert matcher.on_change(_change(tracker, Pos(1, 0), BLOCK), 10.2) == [signal]
    assert matcher.pending == []


def test_signal_too_old_or_unmatched_expires() -> None:
    matcher, tracker = SignalMatcher(2.0), DocumentTracker(3)
    change = _change(tracker, Pos(1, 0), BLOCK)
    matcher.on_change(change, 10.0)
    assert not matcher.on_signal(_signal(Pos(1, 0), Pos(3, 0)), 12.5)  # 2.5 s later
    assert matcher.due(15.0) == []
    assert matcher.pending == []


def test_near_miss_after_a_change_applies_by_fallback() -> None:
    matcher, tracker = SignalMatcher(2.0, fallback_s=0.2), DocumentTracker(3)
    matcher.on_change(_change(tracker, Pos(1, 0), BLOCK), 10.0)
    sloppy = _signal(Pos(1, 0), Pos(2, 6))  # a client that reports a slightly wrong end
    assert not matcher.on_signal(sloppy, 10.1)
    assert matcher.due(10.2) == []
    assert matcher.due(10.4) == [sloppy]
    assert matcher.pending == []


def test_options_overlay_and_warn() -> None:
    defaults = ServerOptions()
    options, warnings = parse_options(
        {"settleMs": 50, "flushIntervalMs": 5, "typedMaxChars": "3", "bogus": 1,
         "registerWorkspaceFolders": False},
        defaults,
    )
    assert options.settle_ms == 50
    assert options.flush_interval_ms == defaults.flush_interval_ms
    assert options.typed_max_chars == defaults.typed_max_chars
    assert options.register_workspace_folders is False
    assert len(warnings) == 3
    assert parse_options([1], defaults) == (
        defaults, ["initializationOptions must be an object; using defaults"])
    assert parse_options(None, defaults) == (defaults, [])


def test_options_default_to_the_capture_config() -> None:
    capture = CaptureConfig(typed_max_chars=5, flush_interval_ms=100, settle_ms=300)
    options = ServerOptions.from_config(capture)
    assert (options.typed_max_chars, options.flush_interval_ms, options.settle_ms) == (5, 100, 300)
