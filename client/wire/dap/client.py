"""The client's side of the wire: shard a measurement into a sealed report, and sign the upload.

DAP leaves client authentication to the deployment. worktally's leader needs it (one report
per enrolled person per batch), so an upload carries two headers: `Worktally-Client` (the id
the client got at enrollment) and `Worktally-Signature`, base64 of an Ed25519 signature over
`"worktally upload v1" || task_id || body`. The signature covers the task, so a body signed
for one cohort cannot be replayed into another.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from worktally.client.wire.dap.codec import DapError
from worktally.client.wire.dap.hpke import choose_config, seal_input_share
from worktally.client.wire.dap.media import UPLOAD_REQ
from worktally.client.wire.dap.messages import (
    REPORT_ID_SIZE,
    HpkeConfig,
    HpkeConfigList,
    InputShareAad,
    PlaintextInputShare,
    Report,
    ReportMetadata,
    Role,
    UploadRequest,
)
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dap.window import last_ended, window_bounds, window_extension
from worktally.client.wire.vdaf import Prio3, VdafError

SIGNATURE_DOMAIN = b"worktally upload v1"
CLIENT_HEADER = "Worktally-Client"
SIGNATURE_HEADER = "Worktally-Signature"
SIGNATURE_SIZE = 64


def build_report(task: TaskConfig, measurement: Sequence[int],
                 leader_hpke: HpkeConfig | HpkeConfigList,
                 helper_hpke: HpkeConfig | HpkeConfigList, vdaf: Prio3[Any, Any] | None = None,
                 now: dt.datetime | None = None, *,
                 window: str | None = None) -> tuple[bytes, bytes]:
    """Shard `measurement`, seal one share to each aggregator; `(report_id, UploadRequest)`.

    `window` is the release window the measurement covers (default: the last one of the
    task's kind that has ended at `now`). The report id is fresh from os.urandom and is also
    the VDAF nonce, as DAP requires.
    """
    vdaf = vdaf or task.vdaf()
    now = now or dt.datetime.now(dt.UTC)
    label = window or last_ended(task.window_kind, now)
    window_bounds(task.window_kind, label)
    report_id = os.urandom(REPORT_ID_SIZE)
    metadata = ReportMetadata(report_id, report_time(task, now), (window_extension(label),))
    try:
        public, shares = vdaf.shard(task.ctx, list(measurement), report_id,
                                    os.urandom(vdaf.RAND_SIZE))
    except VdafError as exc:
        raise DapError(f"the measurement does not fit the report: {exc}") from exc
    report = seal_report(task, metadata, vdaf.encode_public_share(public),
                         [vdaf.encode_input_share(s) for s in shares], leader_hpke, helper_hpke)
    return report_id, UploadRequest((report,)).encode()


def report_time(task: TaskConfig, now: dt.datetime) -> int:
    """DAP time: whole `time_precision` units since the epoch, rounded down."""
    return int(now.timestamp()) // task.time_precision


def seal_report(task: TaskConfig, metadata: ReportMetadata, public_share: bytes,
                input_shares: Sequence[bytes], leader_hpke: HpkeConfig | HpkeConfigList,
                helper_hpke: HpkeConfig | HpkeConfigList) -> Report:
    """Seal already-encoded input shares (leader's first) into a Report.

    Split from `build_report` so tests can seal what a dishonest client would send.
    """
    if len(input_shares) != 2:
        raise DapError("a report has exactly two input shares: the leader's and the helper's")
    aad = InputShareAad(task.task_id, task.encoded, metadata, public_share)
    sealed = [seal_input_share(_config(cfg), role, aad, PlaintextInputShare((), share))
              for cfg, role, share in ((leader_hpke, Role.LEADER, input_shares[0]),
                                       (helper_hpke, Role.HELPER, input_shares[1]))]
    return Report(metadata, public_share, sealed[0], sealed[1])


def sign_upload(private_key: Ed25519PrivateKey, task_id: bytes, body: bytes) -> str:
    """The `Worktally-Signature` header value for an upload body."""
    signature = private_key.sign(SIGNATURE_DOMAIN + task_id + body)
    return base64.b64encode(signature).decode()


def upload_headers(client_id: str, private_key: Ed25519PrivateKey, task_id: bytes,
                   body: bytes) -> dict[str, str]:
    """Every header of an upload: media type, client id and signature."""
    return {"Content-Type": UPLOAD_REQ, CLIENT_HEADER: client_id,
            SIGNATURE_HEADER: sign_upload(private_key, task_id, body)}


def verify_upload(public_key: Ed25519PublicKey, task_id: bytes, body: bytes,
                  signature_b64: str) -> None:
    """Raise DapError unless `signature_b64` is the client's signature over this upload."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DapError("Worktally-Signature is not base64") from exc
    if len(signature) != SIGNATURE_SIZE:
        raise DapError("Worktally-Signature is not an Ed25519 signature")
    try:
        public_key.verify(signature, SIGNATURE_DOMAIN + task_id + body)
    except InvalidSignature as exc:
        raise DapError("the upload's signature does not match the enrolled key") from exc


def _config(cfg: HpkeConfig | HpkeConfigList) -> HpkeConfig:
    return choose_config(cfg) if isinstance(cfg, HpkeConfigList) else cfg
