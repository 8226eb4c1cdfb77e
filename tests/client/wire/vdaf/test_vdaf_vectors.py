"""The draft's published test vectors, replayed byte for byte (copies in tests/fixtures/vdaf)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vdaf_support import FIXTURES

from worktally.client.wire.vdaf import Field128, run_vector_directory, run_vector_file
from worktally.client.wire.vdaf.xof import XofFixedKeyAes128, XofTurboShake128

PRIO3_FILES = sorted(FIXTURES.glob("Prio3*.json"))


def test_all_24_prio3_vector_files_are_present() -> None:
    assert len(PRIO3_FILES) == 24
    assert sum(1 for f in PRIO3_FILES if "_bad_" in f.name) == 8


def test_every_prio3_vector_file_passes() -> None:
    results = [r for r in run_vector_directory(FIXTURES) if r.name.startswith("Prio3")]
    failed = [(r.name, r.detail) for r in results if not r.passed]
    assert failed == []
    assert len(results) == 24


@pytest.mark.parametrize("name", ["XofTurboShake128", "XofFixedKeyAes128"])
def test_xof_vector_file(name: str) -> None:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    xof = {"XofTurboShake128": XofTurboShake128, "XofFixedKeyAes128": XofFixedKeyAes128}[name]
    seed, dst, binder = (bytes.fromhex(data[k]) for k in ("seed", "dst", "binder"))
    assert xof.derive_seed(seed, dst, binder).hex() == data["derived_seed"]
    vec = xof.expand_into_vec(Field128, seed, dst, binder, data["length"])
    assert Field128.encode_vec(vec).hex() == data["expanded_vec_field128"]
    assert run_vector_file(FIXTURES / f"{name}.json").passed


def test_xof_stream_is_continuous() -> None:
    """Squeezing in pieces gives the same stream as squeezing at once (draft `next`)."""
    for xof in (XofTurboShake128, XofFixedKeyAes128):
        seed = bytes(range(xof.SEED_SIZE))
        whole = xof(seed, b"dst", b"binder").next(100)
        pieces = xof(seed, b"dst", b"binder")
        assert b"".join(pieces.next(n) for n in (1, 15, 16, 17, 0, 51)) == whole


def _tampered(tmp_path: Path, source: str, edit: object) -> Path:
    data = json.loads((FIXTURES / source).read_text())
    edit(data)  # type: ignore[operator]
    path = tmp_path / source
    path.write_text(json.dumps(data))
    return path


def test_runner_fails_a_file_whose_expected_bytes_differ(tmp_path: Path) -> None:
    def flip(data: dict) -> None:
        share = data["reports"][0]["verifier_shares"][0][1]
        data["reports"][0]["verifier_shares"][0][1] = share[:-2] + (
            "00" if share[-2:] != "00" else "01")

    result = run_vector_file(_tampered(tmp_path, "Prio3Sum_0.json", flip))
    assert not result.passed and "verifier share 1 differs" in result.detail


def test_runner_fails_when_an_expected_rejection_does_not_happen(tmp_path: Path) -> None:
    """Replace the tampered report of a bad_* file by the good one: the step the file
    says must fail now succeeds, and the runner must call that a failure."""
    good = json.loads((FIXTURES / "Prio3Count_0.json").read_text())

    def untamper(data: dict) -> None:
        data["reports"] = good["reports"]

    result = run_vector_file(_tampered(tmp_path, "Prio3Count_bad_meas_share.json", untamper))
    assert not result.passed and "should have been rejected" in result.detail


def test_runner_skips_unknown_files_and_reports_garbage(tmp_path: Path) -> None:
    (tmp_path / "Poplar1_0.json").write_text("{}")
    (tmp_path / "Prio3Count_9.json").write_text("not json")
    (tmp_path / "Prio3Count_8.json").write_text('{"shares": 2}')
    by_name = {r.name: r for r in run_vector_directory(tmp_path)}
    assert by_name["Poplar1_0"].skipped and not by_name["Poplar1_0"].passed
    assert not by_name["Prio3Count_9"].passed and not by_name["Prio3Count_9"].skipped
    assert not by_name["Prio3Count_8"].passed and "malformed" in by_name["Prio3Count_8"].detail
