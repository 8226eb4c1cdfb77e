"""The native-messaging host the browser extension talks to: it keys copied code at once and
spools only line keys, chat families and token estimates, never text, URLs or titles.

Chrome's wire format is a 4-byte native-order (little-endian here) length, then UTF-8 JSON,
in both directions. Every message gets one reply, `{"ok": true}` or `{"ok": false, "error"}`,
and a bad message never ends the host: only end of input does.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from worktally.client import paths
from worktally.client.browser.paste_match import FAMILIES, TOOL
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import AISession, ChatSnippet, TokenUsage
from worktally.client.capture.spool import Spool
from worktally.client.errors import SpoolError

log = logging.getLogger(__name__)

HOST_NAME = "dev.worktally.host"
# Chrome refuses to deliver a host reply above 1 MB; requests are held to the same limit,
# which no copied code block reaches.
MAX_MESSAGE_BYTES = 1024 * 1024
_LENGTH = struct.Struct("<I")
_SKIP_CHUNK = 64 * 1024
# The extension's per-tab id (crypto.randomUUID()); anything else could smuggle text in.
_SESSION = re.compile(r"^[0-9A-Za-z-]{8,64}$")
# Token estimates above this are not a chat message (a page bug or a forged message).
MAX_TOKENS = 10_000_000
MAX_SEQ = 1_000_000


class MessageError(ValueError):
    """A message the host cannot use; its text is sent back as the error."""


@dataclass(frozen=True)
class Frame:
    """One framed message read from the browser: its JSON, or why it was unusable."""

    message: dict[str, Any] | None
    error: str | None = None


def read_frame(stream: BinaryIO) -> Frame | None:
    """The next message, or None at end of input (a frame cut short also ends the input)."""
    header = _read_exact(stream, _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        # Read past the body in small pieces, so the next frame still lines up.
        if not _skip(stream, length):
            return None
        return Frame(None, f"message of {length} bytes is over the {MAX_MESSAGE_BYTES} limit")
    body = _read_exact(stream, length)
    if body is None:
        return None
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Frame(None, "message is not UTF-8 JSON")
    if not isinstance(message, dict):
        return Frame(None, "message is not a JSON object")
    return Frame(message)


def write_frame(stream: BinaryIO, reply: dict[str, Any]) -> None:
    body = json.dumps(reply, separators=(",", ":")).encode("utf-8")
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _skip(stream: BinaryIO, size: int) -> bool:
    left = size
    while left:
        chunk = stream.read(min(left, _SKIP_CHUNK))
        if not chunk:
            return False
        left -= len(chunk)
    return True


def _field(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MessageError(f"field {name!r} is missing or has the wrong type")
    return value


class BrowserHost:
    """Turns extension messages into spool records (one batch per message)."""

    def __init__(self, keyer: LineKeyer, spool: Spool) -> None:
        self.keyer = keyer
        self.spool = spool

    def handle(self, message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """Validate and record one message; returns the reply for the browser."""
        ts = time.time() if now is None else now
        kind = _field(message, "type", str)
        family = _field(message, "family", str)
        if family not in FAMILIES:
            raise MessageError("unknown chat family")
        tab = _field(message, "session", str)
        if not _SESSION.match(tab):
            raise MessageError("field 'session' must be the tab's random id")
        if paths.paused_flag().exists():
            return {"ok": True, "paused": True}
        session_id = f"{TOOL}:{tab}"
        session = AISession(session_id=session_id, tool=TOOL, kind="chat", repo_id=None,
                            started_at=ts, ended_at=ts, has_cwd=False, ts=ts)
        if kind == "copy":
            keys = tuple(self.keyer.keys_of_text(_field(message, "text", str)))
            # Only the keys go on; the text ends with this function.
            records: list[Any] = [session]
            if keys:
                records.append(ChatSnippet(session_id=session_id, family=family, keys=keys,
                                           ts=ts))
            self.spool.write(records)
            return {"ok": True, "keys": len(keys)}
        if kind in ("prompt", "response"):
            tokens = _field(message, "tokens", int)
            seq = _field(message, "seq", int)
            if not 0 <= tokens <= MAX_TOKENS or not 0 <= seq <= MAX_SEQ:
                raise MessageError("fields 'tokens' and 'seq' are out of range")
            usage = TokenUsage(
                usage_id=f"{TOOL}:{tab}:{seq}", session_id=session_id, tool=TOOL,
                model=f"{family}-estimate",
                input_tokens=tokens if kind == "prompt" else 0,
                output_tokens=tokens if kind == "response" else 0,
                origin="browser-estimate", ts=ts,
            )
            self.spool.write([session, usage])
            return {"ok": True}
        raise MessageError("unknown message type")


def serve(stdin: BinaryIO, stdout: BinaryIO, host: BrowserHost) -> int:
    """Answer messages until end of input; returns how many were recorded."""
    recorded = 0
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return recorded
        if frame.message is None:
            log.warning("refused a browser message: %s", frame.error)
            write_frame(stdout, {"ok": False, "error": frame.error})
            continue
        try:
            reply = host.handle(frame.message)
        except MessageError as exc:
            log.warning("refused a browser message: %s", exc)
            reply = {"ok": False, "error": str(exc)}
        except SpoolError as exc:
            # A full or unwritable disk: tell the extension, keep serving.
            log.error("could not spool a browser message: %s", exc)
            reply = {"ok": False, "error": str(exc)}
        else:
            recorded += 1
        write_frame(stdout, reply)
