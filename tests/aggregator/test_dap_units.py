"""Secure mode's parts in process: task policy, upload checks, the helper's job checks, and
the provisional noise model's exact tails."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.dap.batches import bucket
from worktally.aggregator.dap.driver import Driver
from worktally.aggregator.dap.jobs import handle_job
from worktally.aggregator.dap.keys import AGGREGATOR, config_list, load_keys
from worktally.aggregator.dap.model import model_for
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import (
    HelperPolicy,
    Task,
    accept_task,
    check_leader_token,
    check_policy,
    create_task,
    read_task_file,
    task_file,
)
from worktally.aggregator.dap.upload import upload
from worktally.aggregator.enrollment import enroll, issue_tokens
from worktally.aggregator.errors import (
    AuthError,
    Conflict,
    DapProblem,
    Forbidden,
    PolicyViolation,
)
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.aggregation import AggregationJobInitReq
from worktally.client.wire.dap.client import build_report, sign_upload
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import (
    HpkeConfig,
    HpkeConfigList,
    ReportError,
    UploadRequest,
)
from worktally.client.wire.dap.window import last_ended, window_of
from worktally.client.wire.measurement import SECURE_METRICS
from worktally.client.wire.measurement import vdaf as measurement_vdaf

# The real clock: the helper's handler checks report times against it.
NOW = dt.datetime.now(dt.UTC)
WINDOW = last_ended("quarter", NOW)


@dataclass
class Pair:
    leader: AggregatorStore
    helper: AggregatorStore
    task: Task
    helper_task: Task
    helper_hpke: HpkeConfigList
    leader_ids: set[int]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    leader_data, helper_data = DataDir(tmp_path / "l"), DataDir(tmp_path / "h")
    init_data_dir(leader_data, ReleasePolicy(), "leader")
    init_data_dir(helper_data, ReleasePolicy(), "helper")
    leader, helper = open_store(leader_data), open_store(helper_data)
    helper_hpke = config_list(load_keys(helper, helper_data, AGGREGATOR))
    task = create_task(leader, leader_data, cohort="team", roster=12,
                       leader_url="http://127.0.0.1:1", helper_url="http://127.0.0.1:2",
                       helper_hpke=helper_hpke)
    helper_task = accept_task(helper, task_file(task), HelperPolicy())
    yield Pair(leader, helper, task, helper_task, helper_hpke,
               set(load_keys(leader, leader_data, AGGREGATOR)))
    leader.close()
    helper.close()


def _client(pair: Pair) -> tuple[str, Ed25519PrivateKey]:
    (token,) = issue_tokens(pair.leader, "team")
    key = Ed25519PrivateKey.generate()
    return enroll(pair.leader, token.token, key.public_key().public_bytes_raw()).client_id, key


def _upload(pair: Pair, client: tuple[str, Ed25519PrivateKey], body: bytes) -> ReportError | None:
    outcome = upload(pair.leader, pair.task, pair.leader_ids, body, client[0],
                     sign_upload(client[1], pair.task.task_id, body), NOW)
    return outcome.errors[0].error if outcome.errors else None


def _body(pair: Pair, window: str = WINDOW, now: dt.datetime = NOW) -> bytes:
    return build_report(pair.task.config, [1, 5, 5, 0, 0, 9, 9, 9], _leader_configs(pair),
                        pair.helper_hpke, now=now, window=window)[1]


def _leader_configs(pair: Pair) -> HpkeConfigList:
    with pair.leader.transaction() as con:
        raw = con.execute("SELECT config FROM hpke_keys WHERE purpose = 'aggregator'").fetchone()
    assert raw is not None
    return HpkeConfigList((HpkeConfig.decode(bytes(raw[0])),))


# --- task policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "why"), [
    ({"epsilon_release": 5.0}, "above this helper's maximum"),
    ({"window_kind": "month", "epsilon_release": 2.0}, "per person per year"),
    ({"k_min": 5}, "below this helper's minimum"),
    ({"roster_cap": 9}, "no batch could ever be released"),  # a legacy task
])
def test_a_helper_refuses_tasks_outside_its_policy(pair: Pair, change: dict[str, object],
                                                   why: str) -> None:
    config = dataclasses.replace(pair.task.config, **change)
    with pytest.raises(PolicyViolation, match=why):
        check_policy(config, HelperPolicy())


def test_weekly_releases_fit_the_yearly_cap_only_when_small(pair: Pair) -> None:
    check_policy(dataclasses.replace(pair.task.config, window_kind="week",
                                     epsilon_release=0.3), HelperPolicy())


def test_task_files_are_checked(pair: Pair) -> None:
    good = task_file(pair.task)
    assert accept_task(pair.helper, good, HelperPolicy()).task_id == pair.task.task_id
    with pytest.raises(PolicyViolation, match="format"):
        read_task_file({**good, "format": "other"})
    with pytest.raises(PolicyViolation, match="does not match"):
        read_task_file({**good, "task_id": b64url(bytes(32))})
    with pytest.raises(PolicyViolation, match="malformed"):
        read_task_file({**good, "task_config": "AAAA"})
    with pytest.raises(PolicyViolation, match="leader_auth_token"):
        read_task_file({**good, "leader_auth_token": 7})
    wide = dataclasses.replace(pair.task.config, entries=(
        *pair.task.config.entries[:5], dataclasses.replace(pair.task.config.entries[5],
                                                           bound=50000),
        *pair.task.config.entries[6:]))
    widened = {**good, "task_config": b64url(wide.encoded), "task_id": b64url(wide.task_id)}
    with pytest.raises(PolicyViolation, match="widens"):
        read_task_file(widened)
    with pytest.raises(Conflict):
        accept_task(pair.helper, {**good, "leader_auth_token": "e" * 64}, HelperPolicy())


def test_the_helper_checks_the_leaders_token(pair: Pair) -> None:
    assert pair.task.leader_token is not None
    check_leader_token(pair.helper_task, pair.task.leader_token)
    for token in (None, "", "e" * 64):
        with pytest.raises(AuthError):
            check_leader_token(pair.helper_task, token)


# --- upload --------------------------------------------------------------------------------


def test_upload_checks_each_report(pair: Pair) -> None:
    client = _client(pair)
    future = window_of("quarter", NOW + dt.timedelta(days=120))
    assert _upload(pair, client, _body(pair, future)) is ReportError.REPORT_TOO_EARLY
    ahead = _body(pair, now=NOW + dt.timedelta(hours=2))
    assert _upload(pair, client, ahead) is ReportError.REPORT_TOO_EARLY
    (report,) = UploadRequest.decode(_body(pair)).reports
    old_key = dataclasses.replace(report, leader_encrypted_input_share=dataclasses.replace(
        report.leader_encrypted_input_share, config_id=99))
    assert _upload(pair, client, UploadRequest((old_key,)).encode()) is \
        ReportError.OUTDATED_CONFIG
    assert _upload(pair, client, _body(pair)) is None
    with pytest.raises(DapProblem, match="at most 16"):
        _upload(pair, client, UploadRequest((report,) * 17).encode())
    with pytest.raises(DapProblem, match="UploadRequest"):
        _upload(pair, client, b"\x00garbage")


def test_upload_authenticates_the_client(pair: Pair) -> None:
    client_id, key = _client(pair)
    body = _body(pair)
    with pytest.raises(AuthError):
        upload(pair.leader, pair.task, pair.leader_ids, body, None, None, NOW)
    with pytest.raises(Forbidden, match="not enrolled"):
        upload(pair.leader, pair.task, pair.leader_ids, body, "nobody",
               sign_upload(key, pair.task.task_id, body), NOW)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(Forbidden, match="signature"):
        upload(pair.leader, pair.task, pair.leader_ids, body, client_id,
               sign_upload(other, pair.task.task_id, body), NOW)
    with pytest.raises(Forbidden, match="signature"):
        upload(pair.leader, pair.task, pair.leader_ids, body, client_id,
               sign_upload(key, bytes(32), body), NOW)


# --- the helper's job checks -----------------------------------------------------------------


@pytest.mark.parametrize(("request_", "kind"), [
    (AggregationJobInitReq(0, b"", (), ()), "invalidMessage"),
    (AggregationJobInitReq(1, b"", (), ()), "invalidMessage"),
    (AggregationJobInitReq(0, b"x", (), ()), "invalidAggregationParameter"),
])
def test_the_helper_refuses_malformed_jobs(pair: Pair, request_: AggregationJobInitReq,
                                           kind: str) -> None:
    with pytest.raises(DapProblem) as raised:
        handle_job(pair.helper, pair.helper_task, {}, request_.encode(), NOW)
    assert raised.value.kind == kind
    with pytest.raises(DapProblem) as garbage:
        handle_job(pair.helper, pair.helper_task, {}, b"\x00\x00", NOW)
    assert garbage.value.kind == "invalidMessage"


# --- the schema-2 model ----------------------------------------------------------------------


def test_the_schema_2_model_is_the_measurement_module() -> None:
    model = model_for(2)
    assert model.metrics == SECURE_METRICS
    assert model.entries == tuple(measurement_vdaf().flp.valid.entries)  # type: ignore[attr-defined]
    assert len(model.draw_noise(4.0)) == 8
    with pytest.raises(PolicyViolation):
        model_for(99)


def test_schema_2_estimates_come_from_the_noise_model() -> None:
    model = model_for(2)
    truth = [12, 12 * 300, 12 * 100, 10, 10 * 400, 12 * 1000, 12 * 50, 12 * 40]
    estimates = {e.metric: e for e in model.estimates(truth, 16, 4.0, 1)}
    assert estimates["ai_active"].value == 12
    assert estimates["shipped_token_share_pm"].value == pytest.approx(300)
    assert estimates["ai_line_share_pm"].value == pytest.approx(400)
    assert estimates["ai_tokens_k_per_week"].value == pytest.approx(750)
    for e in estimates.values():
        assert e.low <= e.value <= e.high and e.n == 16
    with pytest.raises(PolicyViolation):
        model.estimates(truth, 0, 4.0, 1)


# --- the whole pipeline in process ---------------------------------------------------------


class _InProcessHelper(HelperClient):
    """The leader's client for the helper, handing requests to the helper's handler."""

    def __init__(self, pair: Pair, keys: dict[int, HpkeKeyPair]) -> None:
        super().__init__()
        self.pair, self.keys = pair, keys

    def post_job(self, helper_url: str, task_id: bytes, token: str, body: bytes) -> bytes:
        check_leader_token(self.pair.helper_task, token)
        return handle_job(self.pair.helper, self.pair.helper_task, self.keys, body).response


def test_a_job_whose_every_report_is_rejected_commits_nothing(pair: Pair,
                                                             tmp_path: Path) -> None:
    client = _client(pair)
    (report,) = UploadRequest.decode(_body(pair)).reports
    ct = report.helper_encrypted_input_share
    broken = dataclasses.replace(report, helper_encrypted_input_share=dataclasses.replace(
        ct, payload=bytes([ct.payload[0] ^ 1]) + ct.payload[1:]))
    assert _upload(pair, client, UploadRequest((broken,)).encode()) is None
    helper_keys = load_keys(pair.helper, DataDir(tmp_path / "h"), AGGREGATOR)
    leader_keys = load_keys(pair.leader, DataDir(tmp_path / "l"), AGGREGATOR)
    driver = Driver(pair.leader, leader_keys, _InProcessHelper(pair, helper_keys), interval=0)
    result = driver.run_once()
    assert (result.jobs_done, result.aggregated) == (1, 0)
    assert result.rejected == {"hpke_decrypt_error": 1}
    for store in (pair.leader, pair.helper):
        with store.transaction() as con:
            stored = bucket(con, pair.task.config.vdaf(), pair.task.task_id, WINDOW)
            assert con.execute("SELECT count(*) FROM dap_pending").fetchone() == (0,)
        assert stored.report_count == 0 and stored.agg_share == [0] * 8
    # The slot may send a good report instead; it is counted.
    assert _upload(pair, client, _body(pair)) is None
    assert driver.run_once().aggregated == 1
