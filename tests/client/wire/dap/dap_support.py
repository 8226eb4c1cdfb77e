"""Shared builders for the DAP wire tests: a task, HPKE keys, and Hypothesis strategies."""

from __future__ import annotations

from hypothesis import strategies as st

from worktally.client.wire.dap.aggregation import (
    AggregateShare,
    AggregateShareReq,
    AggregationJobInitReq,
    AggregationJobResp,
    BatchMode,
    CollectionJobReq,
    CollectionJobResp,
    Interval,
    PingPong,
    PingPongType,
    Query,
    ReportShare,
    VerifyInit,
    VerifyResp,
    VerifyRespType,
)
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import (
    Extension,
    HpkeCiphertext,
    HpkeConfig,
    HpkeConfigList,
    PlaintextInputShare,
    Report,
    ReportError,
    ReportMetadata,
    ReportUploadStatus,
    UploadErrors,
    UploadRequest,
)
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.vdaf import Entry

ENTRIES = (Entry(1), Entry(1000, gate=0), Entry(1000, gate=0), Entry(500))


def make_task(collector: HpkeKeyPair | None = None, **changes: object) -> TaskConfig:
    fields: dict[str, object] = dict(
        cohort="team", leader_url="http://127.0.0.1:8470", helper_url="http://127.0.0.1:8471",
        window_kind="quarter", epsilon_release=4.0, noise_copies=1, k_min=10,
        schema_version=2, entries=ENTRIES, chunk_length=3,
        collector_hpke=(collector or HpkeKeyPair.generate(1)).config)
    fields.update(changes)
    return TaskConfig(**fields)  # type: ignore[arg-type]


small = st.binary(min_size=0, max_size=40)
nonempty = st.binary(min_size=1, max_size=40)
ids16 = st.binary(min_size=16, max_size=16)
u8s = st.integers(0, 255)
u16s = st.integers(0, 2**16 - 1)
u64s = st.integers(0, 2**64 - 1)

extensions = st.lists(st.builds(Extension, u16s, small), max_size=3).map(tuple)
configs = st.builds(HpkeConfig, u8s, u16s, u16s, u16s, nonempty)
config_lists = st.lists(configs, min_size=1, max_size=4, unique_by=lambda c: c.id).map(
    lambda cs: HpkeConfigList(tuple(cs)))
ciphertexts = st.builds(HpkeCiphertext, u8s, nonempty, nonempty)
metadata = st.builds(ReportMetadata, ids16, u64s, extensions)
reports = st.builds(Report, metadata, small, ciphertexts, ciphertexts)
uploads = st.lists(reports, min_size=1, max_size=3).map(lambda r: UploadRequest(tuple(r)))
report_errors = st.sampled_from(list(ReportError))
upload_errors = st.lists(st.builds(ReportUploadStatus, ids16, report_errors),
                         max_size=3).map(lambda s: UploadErrors(tuple(s)))
plaintext_shares = st.builds(PlaintextInputShare, extensions, nonempty)
ping_pongs = st.one_of(
    st.builds(PingPong, st.just(PingPongType.INITIALIZE), st.just(b""), small),
    st.builds(PingPong, st.just(PingPongType.CONTINUE), small, small),
    st.builds(PingPong, st.just(PingPongType.FINISH), small, st.just(b"")),
)
verify_inits = st.builds(VerifyInit, st.builds(ReportShare, metadata, small, ciphertexts),
                         nonempty)
job_inits = st.builds(AggregationJobInitReq, u8s, small, extensions,
                      st.lists(verify_inits, max_size=3).map(tuple))
verify_resps = st.one_of(
    st.builds(VerifyResp, ids16, st.just(VerifyRespType.CONTINUE), nonempty),
    st.builds(VerifyResp, ids16, st.just(VerifyRespType.FINISH)),
    st.builds(VerifyResp, ids16, st.just(VerifyRespType.REJECT), st.just(b""), report_errors),
)
job_resps = st.lists(verify_resps, max_size=3).map(lambda v: AggregationJobResp(tuple(v)))
queries = st.builds(Query, st.sampled_from(list(BatchMode)), small)
collection_reqs = st.builds(CollectionJobReq, queries, small, extensions)
share_reqs = st.builds(AggregateShareReq, collection_reqs, queries, u64s,
                       st.binary(min_size=32, max_size=32))
shares = st.builds(AggregateShare, ciphertexts)
collection_resps = st.builds(CollectionJobResp, u64s, st.builds(Interval, u64s, u64s),
                             ciphertexts, ciphertexts)
