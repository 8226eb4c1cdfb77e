"""Test launcher: one real aggregator (leader or helper) under uvicorn, with test seams.

Run as a subprocess by dap_harness.py. It builds the same app `worktally-aggregator serve`
does, passing what only tests need: a known noise draw that logs each call (so a test can
count draws), a driver period, and for the helper an optional gate that holds aggregation-job
answers after the helper has committed them (to crash the leader "mid-job").
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from worktally.aggregator import clock
from worktally.aggregator.app import create_app
from worktally.aggregator.settings import LOOPBACK_HOSTS, DataDir
from worktally.client.wire.dap.task import TaskConfig

GATE_DEADLINE_S = 60.0


def noise_source(spec: str, log: Path | None) -> Callable[[TaskConfig], list[int]]:
    """`zeros` or `const:v0,v1,...`: the same vector each call; each call is logged."""
    values = [] if spec == "zeros" else [int(v) for v in spec.split(":", 1)[1].split(",")]

    def draw(config: TaskConfig) -> list[int]:
        if log is not None:
            with log.open("a") as out:
                out.write(f"{config.cohort}\n")
        return values or [0] * len(config.entries)

    return draw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--noise", default="zeros")
    parser.add_argument("--noise-log", type=Path)
    parser.add_argument("--driver-interval", type=float, default=0.0)
    parser.add_argument("--hold-gate", type=Path, help="helper: hold job answers while it exists")
    parser.add_argument("--hold-marker", type=Path, help="written when an answer is held")
    parser.add_argument("--clock-offset", type=float, default=0.0)
    args = parser.parse_args()
    clock.set_offset(args.clock_offset)
    app = create_app(DataDir(args.data), list(LOOPBACK_HOSTS), role=args.role,
                     noise=noise_source(args.noise, args.noise_log),
                     driver_interval=args.driver_interval)
    if args.hold_gate is not None:
        gate, marker = args.hold_gate, args.hold_marker

        @app.middleware("http")
        async def hold(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            response = await call_next(request)
            if request.url.path.endswith("/aggregation_jobs") and gate.exists():
                if marker is not None:
                    marker.write_text("held\n")
                deadline = time.monotonic() + GATE_DEADLINE_S
                while gate.exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # the test removes the gate; deadline bounds it
            return response

    uvicorn.run(app, host="127.0.0.1", port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
