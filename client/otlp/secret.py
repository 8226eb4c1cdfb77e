"""The per-install secret an exporter shows the OTLP receiver, and how the receiver checks it.

Loopback keeps remote hosts and the Host check keeps web pages out; the secret keeps out
the machine's other local users, who can reach 127.0.0.1 too. It lives in a 0600 file in
WORKTALLY_HOME, is made once, and is sent as `Authorization: Bearer <secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote, unquote

from worktally.client import paths
from worktally.client.errors import WorktallyError

SECRET_FILE = "otlp.secret"
PREFIX = "wtotlp_"
# 32 random bytes as hex: no character that needs quoting in a header, a URL or a shell.
_FORMAT = re.compile(r"^wtotlp_[0-9a-f]{64}$")
HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"


def secret_path() -> Path:
    return paths.home() / SECRET_FILE


def load_or_create(path: Path | None = None) -> str:
    """The secret, made (0600) on first use; every later call returns the same one."""
    target = path or secret_path()
    try:
        return _read(target)
    except FileNotFoundError:
        pass
    paths.ensure_private_dir(target.parent)
    fresh = PREFIX + secrets.token_hex(32)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, paths.FILE_MODE)
    try:
        os.write(fd, fresh.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, unlike rename, never replaces: of two processes creating it at once, one
        # wins, and nobody can read a half-written file.
        os.link(tmp, target)
    except FileExistsError:
        return _read(target)
    finally:
        tmp.unlink()
    return fresh


def _read(path: Path) -> str:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not _FORMAT.match(text):
        raise WorktallyError(
            f"{path.name} in the worktally home is not an OTLP secret; delete it, then run "
            "`worktally otlp env` for a new one and restart the agent"
        )
    paths.private_file(path)
    return text


def authorized(header: str | None, secret: str) -> bool:
    """Whether an Authorization header carries `secret` as a Bearer token.

    Compared as SHA-256 digests with hmac.compare_digest: the time taken says nothing
    about how much of a guess was right, nor about the secret's length.
    """
    if header is None:
        return False
    # An SDK that does not URL-decode OTEL_EXPORTER_OTLP_HEADERS sends `Bearer%20...`.
    scheme, _, token = unquote(header).strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
    expected = hashlib.sha256(secret.encode()).digest()
    return hmac.compare_digest(given, expected)


def headers_env_value(secret: str) -> str:
    """The value of OTEL_EXPORTER_OTLP_HEADERS: W3C-baggage-like `key=value`, value
    percent-encoded (the space after Bearer becomes %20), as the OTLP exporter spec says."""
    return "Authorization=" + quote(f"Bearer {secret}", safe="")
