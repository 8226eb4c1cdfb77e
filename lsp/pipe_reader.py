"""stdin read by the event loop itself, for pygls's message loop.

pygls 2.1 reads stdin through a thread pool, one hand-off per header line and per body, so
three thread round trips for every message; at one didChange per keystroke that is most of
what a server spends. When stdin is a pipe (as editors start servers) the event loop can
watch it directly; anything else (a file, a terminal) keeps pygls's own reader.
"""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO

log = logging.getLogger(__name__)

# The longest header line accepted (pygls's headers are a few dozen bytes).
LINE_LIMIT = 1 << 20


class PipeReader:
    """pygls's AsyncReader over an asyncio stream: end of input reads as b""."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream

    async def readline(self) -> bytes:
        return await self.stream.readline()

    async def readexactly(self, n: int) -> bytes:
        # Buffered input reads without suspending; one pass of the loop per message lets
        # the tasks of earlier messages (an async request handler) run first, as they do
        # behind pygls's thread hops.
        await asyncio.sleep(0)
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            return exc.partial


async def pipe_reader(stdin: BinaryIO) -> PipeReader | None:
    """A reader of `stdin` on the running loop, or None when stdin is not a pipe."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
    except (ValueError, OSError) as exc:  # a regular file or a terminal
        log.debug("stdin is not a pipe (%s); reading it through threads", exc)
        return None
    return PipeReader(stream)
