"""The leader's per-report VDAF steps (VDAF ping-pong, one round): open its own share and
start verification (`ping_pong_leader_init`), then finish with the helper's answer
(`ping_pong_leader_continued`). Pure functions over a task and its keys; no storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worktally.aggregator.dap.tasks import Task
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import (
    PingPong,
    PingPongType,
    ReportShare,
    VerifyInit,
    VerifyResp,
    VerifyRespType,
)
from worktally.client.wire.dap.hpke import (
    HpkeKeyPair,
    UnknownHpkeConfig,
    input_share_info,
    open_sealed,
)
from worktally.client.wire.dap.messages import (
    InputShareAad,
    PlaintextInputShare,
    Report,
    ReportError,
    Role,
)
from worktally.client.wire.vdaf import VdafError, VerifyState


@dataclass(frozen=True)
class LeaderStart:
    """A report the leader can send: its verify state (kept in memory only) and the
    VerifyInit for the helper (the report share plus the leader's verifier share)."""

    report_id: bytes
    state: VerifyState
    init: VerifyInit


def leader_start(task: Task, keys: dict[int, HpkeKeyPair],
                 report_bytes: bytes) -> LeaderStart | ReportError:
    """Open the leader's share and run verify_init; a ReportError if the report is bad."""
    try:
        report = Report.decode(report_bytes)
    except DapError:
        return ReportError.INVALID_MESSAGE
    meta = report.metadata
    aad = InputShareAad(task.task_id, task.config.encoded, meta, report.public_share)
    try:
        plain = open_sealed(keys, report.leader_encrypted_input_share,
                            input_share_info(Role.LEADER), aad.encode())
    except UnknownHpkeConfig:
        return ReportError.HPKE_UNKNOWN_CONFIG_ID
    except DapError:
        return ReportError.HPKE_DECRYPT_ERROR
    vdaf = task.config.vdaf()
    try:
        plaintext = PlaintextInputShare.decode(plain)
        if plaintext.private_extensions:
            return ReportError.INVALID_MESSAGE
        public = vdaf.decode_public_share(report.public_share)
        share = vdaf.decode_input_share(0, plaintext.payload)
    except (DapError, VdafError):
        return ReportError.INVALID_MESSAGE
    try:
        state, verifier_share = vdaf.verify_init(task.verify_key, task.config.ctx, 0, None,
                                                 meta.report_id, public, share)
    except VdafError:
        return ReportError.VDAF_VERIFY_ERROR
    outbound = PingPong(PingPongType.INITIALIZE,
                        verifier_share=vdaf.encode_verifier_share(verifier_share))
    init = VerifyInit(ReportShare(meta, report.public_share,
                                  report.helper_encrypted_input_share), outbound.encode())
    return LeaderStart(meta.report_id, state, init)


def leader_finish(task: Task, state: VerifyState, response: VerifyResp) -> list[int] | ReportError:
    """The leader's output share from the helper's answer, or why the report is rejected."""
    if response.type is VerifyRespType.REJECT:
        return response.error or ReportError.VDAF_VERIFY_ERROR
    if response.type is not VerifyRespType.CONTINUE:
        return ReportError.VDAF_VERIFY_ERROR
    vdaf: Any = task.config.vdaf()
    try:
        inbound = PingPong.decode(response.payload)
        if inbound.type is not PingPongType.FINISH:
            return ReportError.VDAF_VERIFY_ERROR
        message = vdaf.decode_verifier_message(inbound.verifier_message)
        out: list[int] = vdaf.verify_next(task.config.ctx, state, message)
    except (DapError, VdafError):
        return ReportError.VDAF_VERIFY_ERROR
    return out
