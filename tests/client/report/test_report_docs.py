"""docs/privacy.md must show the fields, budget and accuracy the code actually uses."""

from __future__ import annotations

from pathlib import Path

from worktally.client.wire import measurement
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.privacy_tables import page_sections

PRIVACY = Path(__file__).resolve().parents[3] / "docs" / "privacy.md"


def test_privacy_page_shows_exactly_the_generated_tables() -> None:
    text = PRIVACY.read_text(encoding="utf-8")
    for section in page_sections():
        assert section in text, ("re-run `python -m worktally.client.wire.privacy_tables` "
                                 "and paste its output into docs/privacy.md")


def test_every_field_and_the_yearly_cap_are_on_the_page() -> None:
    text = PRIVACY.read_text(encoding="utf-8")
    for name in measurement.METRIC_NAMES:
        assert f"`{name}`" in text, name
    assert f"{YEARLY_EPSILON_CAP:g} per person per year" in text


def test_the_check_notices_a_changed_number() -> None:
    """The test above is not vacuous: a page with one number changed fails it."""
    text = PRIVACY.read_text(encoding="utf-8")
    section = page_sections()[0]
    tampered = text.replace(section, section.replace("55%", "56%"))
    assert section not in tampered
