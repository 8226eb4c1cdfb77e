"""Bad reports over real HTTP: tampered shares, a malicious client with an out-of-range value,
a report for a collected batch; and no stored trace of any person's vector. Each test ends
with the stored aggregates: only the honest reports are in them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from dap_harness import (
    WINDOW,
    Secure,
    SecureClient,
    aggregate_now,
    combined,
    enroll_all,
    measurement,
    provision,
    release,
    stored_buckets,
    truth,
)

from worktally.aggregator.provisioning import open_store
from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.client import report_time, seal_report, upload_headers
from worktally.client.wire.dap.messages import (
    ReportError,
    ReportMetadata,
    UploadErrors,
    UploadRequest,
)
from worktally.client.wire.dap.window import window_extension
from worktally.client.wire.vdaf import BoundedVec, Field128

pytestmark = pytest.mark.slow


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[Secure]:
    pair = provision(tmp_path)
    yield pair
    pair.stop()


def _honest(secure: Secure, clients: list[SecureClient]) -> list[list[int]]:
    vectors = []
    for i, client in enumerate(clients):
        _, body = client.report(measurement(i))
        assert client.upload(secure.leader.url, body).status_code == 200
        vectors.append(measurement(i))
    return vectors


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_tampered_shares_are_rejected_and_nothing_of_them_is_counted(secure: Secure) -> None:
    clients = enroll_all(secure, 13)
    vectors = _honest(secure, clients[:10])
    # A client whose helper ciphertext was altered (signed after the change): the leader
    # cannot tell, the helper cannot open it.
    _, body = clients[10].report(measurement(50))
    (report,) = UploadRequest.decode(body).reports
    helper_ct = report.helper_encrypted_input_share
    bad_helper = dataclasses.replace(report, helper_encrypted_input_share=dataclasses.replace(
        helper_ct, payload=_flip(helper_ct.payload, 5)))
    assert clients[10].upload(secure.leader.url,
                              UploadRequest((bad_helper,)).encode()).status_code == 200
    # A public share altered: both seals are bound to it, so the leader's own share does
    # not open either and the report never reaches the helper.
    _, body = clients[11].report(measurement(51))
    (report,) = UploadRequest.decode(body).reports
    bad_public = dataclasses.replace(report, public_share=_flip(report.public_share, 3))
    assert clients[11].upload(secure.leader.url,
                              UploadRequest((bad_public,)).encode()).status_code == 200
    # Altered in transit, after signing: the signature no longer matches.
    _, body = clients[12].report(measurement(52))
    headers = upload_headers(clients[12].client_id, clients[12].key, secure.task.task_id, body)
    transit = httpx.post(f"{secure.leader.url}/tasks/{b64url(secure.task.task_id)}/reports",
                         content=_flip(body, len(body) - 3), headers=headers, timeout=30)
    assert transit.status_code == 403
    result = aggregate_now(secure)
    assert result["aggregated"] == 10
    assert result["rejected"] == {"hpke_decrypt_error": 2}
    secure.stop()
    total, count = combined(secure)
    assert (total, count) == (truth(vectors), 10)


def _malicious_body(client: SecureClient, encoded: list[int]) -> bytes:
    """What a dishonest client can always send: any encoded vector, with an honest proof."""
    task = client.task
    vdaf = task.vdaf()
    report_id = os.urandom(16)
    metadata = ReportMetadata(report_id, report_time(task, dt.datetime.now(dt.UTC)),
                              (window_extension(WINDOW),))
    public, shares = vdaf.shard_encoded(task.ctx, encoded, report_id,
                                        os.urandom(vdaf.RAND_SIZE))
    report = seal_report(task, metadata, vdaf.encode_public_share(public),
                         [vdaf.encode_input_share(s) for s in shares], client.leader_hpke,
                         client.helper_hpke)
    return UploadRequest((report,)).encode()


@pytest.mark.parametrize("attack", ["volume_over_its_bound", "share_without_its_flag",
                                    "a_flag_of_two"])
def test_a_malicious_client_with_an_out_of_range_value_is_rejected_by_both(
        secure: Secure, attack: str) -> None:
    clients = enroll_all(secure, 11)
    vectors = _honest(secure, clients[:10])
    circuit = secure.task.vdaf().flp.valid
    assert isinstance(circuit, BoundedVec)
    p = Field128.MODULUS
    if attack == "volume_over_its_bound":
        # ai_tokens_k_per_week (bound 5000): every bit set and the first "bit" = 3 → 5002.
        encoded = circuit.encode([1, 500, 0, 1, 10, 5000, 0, 0])
        encoded[circuit.offsets[5]] = 3
    elif attack == "share_without_its_flag":
        # shipped share 700 while ai_active is 0: a person with no denominator.
        encoded = circuit.encode([1, 700, 0, 0, 0, 0, 0, 0])
        encoded[circuit.offsets[0]] = 0
    else:
        encoded = circuit.encode([1, 0, 0, 0, 0, 0, 0, 0])
        encoded[circuit.offsets[0]] = 2
    assert circuit.truncate(encoded) != measurement(0) and all(0 <= x < p for x in encoded)
    body = _malicious_body(clients[10], encoded)
    assert clients[10].upload(secure.leader.url, body).status_code == 200
    result = aggregate_now(secure)
    assert result["aggregated"] == 10 and result["rejected"] == {"vdaf_verify_error": 1}
    secure.stop()
    total, count = combined(secure)
    assert (total, count) == (truth(vectors), 10)


def test_a_report_for_a_collected_batch_is_refused(secure: Secure) -> None:
    clients = enroll_all(secure, 12)
    vectors = _honest(secure, clients[:10])
    assert release(secure).status_code == 201
    _, late = clients[10].report(measurement(60))
    refused = clients[10].upload(secure.leader.url, late)
    assert refused.status_code == 409
    assert UploadErrors.decode(refused.content).statuses[0].error is ReportError.BATCH_COLLECTED
    secure.stop()
    leader, helper = stored_buckets(secure)
    assert leader.collected and helper.collected
    assert leader.report_count == helper.report_count == len(vectors) == 10


def test_no_party_stores_a_persons_vector(secure: Secure) -> None:
    clients = enroll_all(secure, 10)
    vectors = _honest(secure, clients[:9])
    planted = [1, 977, 613, 1, 431, 4987, 499, 487]
    report_id, body = clients[9].report(planted)
    (report,) = UploadRequest.decode(body).reports
    assert clients[9].upload(secure.leader.url, body).status_code == 200
    assert aggregate_now(secure)["aggregated"] == 10
    secure.stop()
    vdaf = secure.task.vdaf()
    plaintext = Field128.encode_vec(planted)
    secrets = {"the planted vector": plaintext,
               "its leader ciphertext": report.leader_encrypted_input_share.payload,
               "its helper ciphertext": report.helper_encrypted_input_share.payload}
    for server in (secure.leader, secure.helper):
        store = open_store(server.data)
        try:
            with store.transaction() as con:
                assert con.execute("SELECT count(*) FROM dap_pending").fetchone() == (0,)
                assert con.execute("SELECT count(*) FROM dap_jobs WHERE request IS NOT NULL"
                                   ).fetchone() == (0,)
                blobs = _all_blobs(con)
        finally:
            store.close()
        for blob in blobs:
            for what, secret in secrets.items():
                assert secret not in blob, f"{server.role} stores {what}"
            if len(blob) == len(plaintext):
                assert vdaf.decode_agg_share(blob) != planted
        for path in server.data.root.iterdir():
            if path.name.startswith("aggregator.duckdb"):
                raw = path.read_bytes()
                for what, secret in secrets.items():
                    assert secret not in raw, f"{server.role}'s {path.name} holds {what}"
    total, count = combined(secure)
    assert (total, count) == (truth([*vectors, planted]), 10)
    assert report_id not in plaintext


def _all_blobs(con: duckdb.DuckDBPyConnection) -> list[bytes]:
    """Every BLOB and VARCHAR value in every table, as bytes."""
    out = []
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'main'").fetchall()]
    for table in tables:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND "
            "data_type IN ('BLOB', 'VARCHAR')", [table]).fetchall()]
        for column in columns:
            for (value,) in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall():
                if value is not None:
                    out.append(bytes(value) if isinstance(value, bytes | bytearray)
                               else str(value).encode())
    return out
