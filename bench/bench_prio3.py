"""Prio3 cost for worktally's report (BoundedVec): client shard time, and verify+aggregate
throughput per core at the leader and at the helper, against opening HPKE envelopes alone.

Run: python bench/bench_prio3.py [--reports 400] [--runs 5]. Reports are sharded and encoded
before the aggregator clocks start; each aggregator then does, per report, exactly its own
work: decode its input share and the public share, verify_init, encode its verifier share,
decode the peer's, verifier_shares_to_message, verify_next and agg_update. Throughput is
reports per CPU-second of this single-threaded process (so "per core"), median of the runs;
the HPKE baseline opens one ~1 KB sealed share per report with the suite of
worktally.client.wire.envelope, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.client.wire.vdaf import BoundedVec, Entry, Prio3, bounded_vec

TARGET_REPORTS_PER_S = 500
CTX = b"worktally/report/v1"
# The weekly report's shape: a flag, counts up to 20000, two share metrics gated by the
# flag, and four small counters.
ENTRIES = [Entry(1), Entry(20000), Entry(1000, gate=0), Entry(1500), Entry(1000, gate=0),
           Entry(1500), Entry(30), Entry(30), Entry(30), Entry(30)]
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)

Report = tuple[bytes, bytes, list[bytes]]  # nonce, public share, input shares (encoded)


def measurement(i: int) -> list[int]:
    flag = i % 3 != 0
    return [int(flag), (i * 37) % 20001, (i * 11) % 1001 if flag else 0, (i * 13) % 1501,
            (i * 17) % 1001 if flag else 0, (i * 19) % 1501, i % 31, (i + 1) % 31,
            (i + 2) % 31, (i + 3) % 31]


def cpu_seconds(work: Callable[[], None]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def shard_all(vdaf: Prio3[Any, Any], count: int) -> tuple[list[Report], float]:
    reports: list[Report] = []

    def work() -> None:
        for i in range(count):
            nonce = os.urandom(vdaf.NONCE_SIZE)
            public, inputs = vdaf.shard(CTX, measurement(i), nonce, os.urandom(vdaf.RAND_SIZE))
            reports.append((nonce, vdaf.encode_public_share(public),
                            [vdaf.encode_input_share(s) for s in inputs]))

    return reports, cpu_seconds(work) / count


def peer_verifier_shares(vdaf: Prio3[Any, Any], key: bytes, reports: list[Report],
                         agg_id: int) -> list[bytes]:
    out = []
    for nonce, public, inputs in reports:
        _, share = vdaf.verify_init(key, CTX, agg_id, None, nonce,
                                    vdaf.decode_public_share(public),
                                    vdaf.decode_input_share(agg_id, inputs[agg_id]))
        out.append(vdaf.encode_verifier_share(share))
    return out


def aggregator_rate(vdaf: Prio3[Any, Any], key: bytes, reports: list[Report], agg_id: int,
                    peer: list[bytes]) -> float:
    """Reports per CPU-second for aggregator `agg_id` (0 leader, 1 helper)."""
    def work() -> None:
        agg = vdaf.agg_init(None)
        for (nonce, public, inputs), peer_share in zip(reports, peer, strict=True):
            state, mine = vdaf.verify_init(key, CTX, agg_id, None, nonce,
                                           vdaf.decode_public_share(public),
                                           vdaf.decode_input_share(agg_id, inputs[agg_id]))
            vdaf.encode_verifier_share(mine)  # what it sends to the peer
            theirs = vdaf.decode_verifier_share(peer_share)
            shares = [mine, theirs] if agg_id == 0 else [theirs, mine]
            message = vdaf.verifier_shares_to_message(CTX, None, shares)
            agg = vdaf.agg_update(None, agg, vdaf.verify_next(CTX, state, message))

    return len(reports) / cpu_seconds(work)


def hpke_open_rate(count: int, size: int = 1024) -> float:
    key = X25519PrivateKey.generate()
    public = key.public_key()
    sealed = [_SUITE.encrypt(os.urandom(size), public, info=b"bench") for _ in range(count)]

    def work() -> None:
        for blob in sealed:
            _SUITE.decrypt(blob, key, info=b"bench")

    return count / cpu_seconds(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    vdaf = bounded_vec(ENTRIES)
    key = os.urandom(vdaf.VERIFY_KEY_SIZE)
    shard_ms, leader, helper, hpke_rates = [], [], [], []
    for _ in range(args.runs):
        reports, per_report = shard_all(vdaf, args.reports)
        shard_ms.append(per_report * 1000)
        from_helper = peer_verifier_shares(vdaf, key, reports, 1)
        from_leader = peer_verifier_shares(vdaf, key, reports, 0)
        leader.append(aggregator_rate(vdaf, key, reports, 0, from_helper))
        helper.append(aggregator_rate(vdaf, key, reports, 1, from_leader))
        hpke_rates.append(hpke_open_rate(args.reports))
    sizes = reports[0]
    med = statistics.median
    circuit = vdaf.flp.valid
    assert isinstance(circuit, BoundedVec)
    print(f"report: {len(ENTRIES)} entries, {vdaf.MEAS_LEN} encoded elements, chunk length "
          f"{circuit.chunk_length}, proof {vdaf.PROOF_LEN} elements (Field128)")
    print(f"bytes: public share {len(sizes[1])}, leader share {len(sizes[2][0])}, "
          f"helper share {len(sizes[2][1])}")
    print(f"reports per run: {args.reports}, runs: {args.runs} (medians, CPU time)")
    print(f"client shard        : {med(shard_ms):8.3f} ms/report")
    print(f"HPKE open alone     : {med(hpke_rates):8.0f} reports/s per core")
    for name, rates in (("leader", leader), ("helper", helper)):
        rate = med(rates)
        verdict = "meets" if rate >= TARGET_REPORTS_PER_S else "MISSES"
        print(f"{name} verify+agg   : {rate:8.0f} reports/s per core  "
              f"({med(hpke_rates) / rate:.1f}x the cost of an HPKE open; "
              f"{verdict} the {TARGET_REPORTS_PER_S}/s target)")


if __name__ == "__main__":
    main()
