"""HPKE seal/open with DAP's info strings and bound data, and the client's report and upload
signature."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from dap_support import make_task

from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import AggregateShareAad, CollectionJobReq
from worktally.client.wire.dap.client import (
    CLIENT_HEADER,
    SIGNATURE_HEADER,
    build_report,
    sign_upload,
    upload_headers,
    verify_upload,
)
from worktally.client.wire.dap.hpke import (
    HpkeKeyPair,
    HpkeOpenError,
    UnknownHpkeConfig,
    aggregate_share_info,
    choose_config,
    input_share_info,
    open_aggregate_share,
    open_input_share,
    seal_aggregate_share,
)
from worktally.client.wire.dap.media import UPLOAD_REQ, matches
from worktally.client.wire.dap.messages import (
    HpkeConfig,
    HpkeConfigList,
    InputShareAad,
    Report,
    Role,
    UploadRequest,
)
from worktally.client.wire.dap.window import report_window, window_query

NOW = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
LEADER, HELPER, COLLECTOR = (HpkeKeyPair.generate(i) for i in (1, 2, 3))


def _report(task_kwargs: dict[str, object] | None = None) -> tuple[object, Report]:
    task = make_task(COLLECTOR, **(task_kwargs or {}))
    _, body = build_report(task, [1, 400, 0, 250], LEADER.config, HELPER.config, now=NOW)
    (report,) = UploadRequest.decode(body).reports
    return task, report


def test_info_strings_are_the_drafts() -> None:
    assert input_share_info(Role.LEADER) == b"dap-18 input share\x01\x02"
    assert input_share_info(Role.HELPER) == b"dap-18 input share\x01\x03"
    assert aggregate_share_info(Role.HELPER) == b"dap-18 aggregate share\x03\x00"


def test_each_aggregator_opens_only_its_own_share() -> None:
    task, report = _report()
    aad = InputShareAad(task.task_id, task.encoded, report.metadata, report.public_share)
    vdaf = task.vdaf()
    leader = open_input_share(LEADER, Role.LEADER, aad, report.leader_encrypted_input_share)
    helper = open_input_share(HELPER, Role.HELPER, aad, report.helper_encrypted_input_share)
    assert vdaf.decode_input_share(0, leader.payload) and vdaf.decode_input_share(1, helper.payload)
    assert leader.private_extensions == ()
    with pytest.raises(UnknownHpkeConfig):
        open_input_share(LEADER, Role.LEADER, aad, report.helper_encrypted_input_share)
    with pytest.raises(HpkeOpenError):  # right key, wrong role in the info string
        open_input_share(HELPER, Role.LEADER, aad, report.helper_encrypted_input_share)
    assert report_window(report.metadata) == "2025-Q4"
    assert report.metadata.time == int(NOW.timestamp()) // task.time_precision


@pytest.mark.parametrize("field", ["task", "metadata", "public_share", "payload"])
def test_a_share_opens_only_under_the_data_it_was_sealed_with(field: str) -> None:
    task, report = _report()
    aad = InputShareAad(task.task_id, task.encoded, report.metadata, report.public_share)
    ciphertext = report.helper_encrypted_input_share
    if field == "task":
        other = make_task(COLLECTOR, epsilon_release=2.0)
        aad = InputShareAad(other.task_id, other.encoded, report.metadata, report.public_share)
    elif field == "metadata":
        aad = dataclasses.replace(aad, metadata=dataclasses.replace(report.metadata, time=1))
    elif field == "public_share":
        flipped = bytes([report.public_share[0] ^ 1]) + report.public_share[1:]
        aad = dataclasses.replace(aad, public_share=flipped)
    else:
        payload = bytes([ciphertext.payload[0] ^ 1]) + ciphertext.payload[1:]
        ciphertext = dataclasses.replace(ciphertext, payload=payload)
    with pytest.raises(HpkeOpenError):
        open_input_share(HELPER, Role.HELPER, aad, ciphertext)


def test_aggregate_share_seal_is_bound_to_the_collection_request() -> None:
    task = make_task(COLLECTOR)
    req = CollectionJobReq(window_query("2025-Q4"))
    aad = AggregateShareAad(task.task_id, task.encoded, req)
    sealed = seal_aggregate_share(COLLECTOR.config, Role.HELPER, aad, b"share")
    assert open_aggregate_share(COLLECTOR, Role.HELPER, aad, sealed) == b"share"
    with pytest.raises(HpkeOpenError):
        open_aggregate_share(COLLECTOR, Role.LEADER, aad, sealed)
    other = AggregateShareAad(task.task_id, task.encoded, CollectionJobReq(window_query("2026-Q1")))
    with pytest.raises(HpkeOpenError):
        open_aggregate_share(COLLECTOR, Role.HELPER, other, sealed)


def test_choose_config_skips_unsupported_suites() -> None:
    odd = HpkeConfig(9, 0x0010, 1, 1, b"k" * 65)
    assert choose_config(HpkeConfigList((odd, HELPER.config))) == HELPER.config
    with pytest.raises(DapError):
        choose_config(HpkeConfigList((odd,)))
    task = make_task(COLLECTOR)
    _, body = build_report(task, [0, 0, 0, 1], HpkeConfigList((odd, LEADER.config)),
                           HpkeConfigList((HELPER.config,)), now=NOW, window="2025-Q3")
    assert report_window(UploadRequest.decode(body).reports[0].metadata) == "2025-Q3"


def test_build_report_refuses_bad_input() -> None:
    task = make_task(COLLECTOR)
    with pytest.raises(DapError, match="does not fit"):
        build_report(task, [0, 5, 0, 1], LEADER.config, HELPER.config, now=NOW)  # flag 0
    with pytest.raises(DapError, match="window"):
        build_report(task, [0, 0, 0, 1], LEADER.config, HELPER.config, now=NOW,
                     window="2025-11")
    report_ids = {build_report(task, [0, 0, 0, 1], LEADER.config, HELPER.config, now=NOW)[0]
                  for _ in range(5)}
    assert len(report_ids) == 5 and all(len(r) == 16 for r in report_ids)


def test_upload_signature_covers_task_and_body() -> None:
    key = Ed25519PrivateKey.generate()
    task_id, body = bytes(range(32)), b"body"
    signature = sign_upload(key, task_id, body)
    verify_upload(key.public_key(), task_id, body, signature)
    for tid, data in ((bytes(32), body), (task_id, b"bodY")):
        with pytest.raises(DapError, match="does not match"):
            verify_upload(key.public_key(), tid, data, signature)
    with pytest.raises(DapError, match="not base64"):
        verify_upload(key.public_key(), task_id, body, "!!")
    with pytest.raises(DapError, match="not an Ed25519"):
        verify_upload(key.public_key(), task_id, body, "AAAA")
    headers = upload_headers("client-1", key, task_id, body)
    assert headers[CLIENT_HEADER] == "client-1" and headers["Content-Type"] == UPLOAD_REQ
    verify_upload(key.public_key(), task_id, body, headers[SIGNATURE_HEADER])


def test_media_type_matching() -> None:
    assert matches("application/ppm-dap; message=upload-req", UPLOAD_REQ)
    assert matches("application/ppm-dap;message=upload-req;version=18", UPLOAD_REQ)
    assert not matches("application/ppm-dap;message=upload-errors", UPLOAD_REQ)
    assert not matches(None, UPLOAD_REQ) and not matches("", UPLOAD_REQ)
