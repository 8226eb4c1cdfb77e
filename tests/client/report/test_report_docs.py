"""docs/privacy.md must show the budget and accuracy the code actually uses."""

from __future__ import annotations

from pathlib import Path

from worktally.client.report import accuracy
from worktally.client.wire import schema

PRIVACY = Path(__file__).resolve().parents[3] / "docs" / "privacy.md"


def test_privacy_page_tables_match_the_schema() -> None:
    text = PRIVACY.read_text(encoding="utf-8")
    for table in (accuracy.budget_table(), accuracy.accuracy_table(), accuracy.contrast_table()):
        assert table in text, "re-run `python -m worktally.client.report.accuracy` and paste"
    assert f"ε = {schema.DEFAULT_EPSILON:g}, δ = {schema.DEFAULT_DELTA:g}" in text


def test_every_payload_field_is_listed() -> None:
    from dataclasses import fields

    from worktally.client.wire.envelope import ReportPayload

    text = PRIVACY.read_text(encoding="utf-8")
    for field in fields(ReportPayload):
        assert f"`{field.name}`" in text, field.name
