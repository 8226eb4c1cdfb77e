"""Enrollment with an aggregator: this install's Ed25519 signing key and the cohort's terms.

The private key and the enrollment state are 0600 files under WORKTALLY_HOME, never rows of
the database. Enrollment refuses a cohort that asks for more ε or δ than the local budget.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.client import paths
from worktally.client.config import ReportConfig
from worktally.client.errors import BudgetExceededError, EnrollmentError
from worktally.client.report.ledger import BUDGET_SLACK, Budget
from worktally.client.wire.schema import MECHANISMS, SCHEMA_VERSION

HTTP_TIMEOUT_S = 10.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class Enrollment:
    """What the aggregator told us at enrollment; the cohort's ε/δ is what each report spends."""

    url: str
    client_id: str
    cohort: str
    aggregator_public_key: str  # base64 raw X25519
    schema_version: int
    epsilon: float
    delta: float
    mechanism: str
    period: str
    enrolled_at: float

    @property
    def aggregator_key_bytes(self) -> bytes:
        return base64.b64decode(self.aggregator_public_key)


def signing_key_path() -> Path:
    return paths.home() / "report-signing.key"


def enrollment_path() -> Path:
    return paths.home() / "enrollment.json"


def check_url(url: str) -> str:
    """Only https leaves the machine; plain http is allowed to loopback (tests, the demo)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url.rstrip("/")
    raise EnrollmentError(
        f"{url!r} is not an https URL; use https:// (plain http only to 127.0.0.1)"
    )


def check_cohort_budget(enrollment: Enrollment, budget: Budget) -> None:
    """Refuse a cohort whose per-period ε or δ exceeds what this person allows locally."""
    if enrollment.epsilon > budget.epsilon + BUDGET_SLACK:
        raise BudgetExceededError(
            f"cohort {enrollment.cohort} asks for ε={enrollment.epsilon:g} per period but your "
            f"local budget is report.epsilon={budget.epsilon:g}; ask your privacy officer, or "
            "raise report.epsilon in config.toml if you accept it"
        )
    if enrollment.delta > budget.delta + BUDGET_SLACK:
        raise BudgetExceededError(
            f"cohort {enrollment.cohort} asks for δ={enrollment.delta:g} per period but your "
            f"local budget is report.delta={budget.delta:g}; ask your privacy officer"
        )


def _number(answer: dict[str, Any], name: str) -> float:
    value = answer.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EnrollmentError(f"the aggregator's enrollment answer has no valid {name!r}")
    return float(value)


def _text(answer: dict[str, Any], name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        raise EnrollmentError(f"the aggregator's enrollment answer has no valid {name!r}")
    return value


def parse_answer(url: str, answer: Any) -> Enrollment:
    """Validate the aggregator's enrollment answer against what this client can do."""
    if not isinstance(answer, dict):
        raise EnrollmentError("the aggregator's enrollment answer is not a JSON object")
    version = answer.get("schema_version")
    if version != SCHEMA_VERSION:
        raise EnrollmentError(
            f"the aggregator speaks report schema {version!r}, this client {SCHEMA_VERSION}; "
            "upgrade worktally (or the aggregator) so they match"
        )
    mechanism = _text(answer, "mechanism")
    if mechanism not in MECHANISMS:
        raise EnrollmentError(f"the cohort asks for noise {mechanism!r}; this client supports "
                              f"{', '.join(MECHANISMS)}")
    key = _text(answer, "aggregator_public_key")
    try:
        raw_key = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnrollmentError("the aggregator's public key is not base64") from exc
    if len(raw_key) != 32:
        raise EnrollmentError("the aggregator's public key is not a raw X25519 key")
    epsilon, delta = _number(answer, "epsilon"), _number(answer, "delta")
    if not epsilon > 0 or not 0 <= delta < 1:
        raise EnrollmentError("the cohort's ε must be positive and its δ in [0, 1)")
    return Enrollment(
        url=url, client_id=_text(answer, "client_id"), cohort=_text(answer, "cohort"),
        aggregator_public_key=key, schema_version=SCHEMA_VERSION, epsilon=epsilon,
        delta=delta, mechanism=mechanism, period=_text(answer, "period"),
        enrolled_at=time.time(),
    )


def check_expected(enrollment: Enrollment, expected: ReportConfig) -> None:
    """Apply the guards an org may pre-set in config.toml: aggregator URL, cohort, period."""
    if expected.aggregator_url and check_url(expected.aggregator_url) != enrollment.url:
        raise EnrollmentError(
            f"config.toml allows only the aggregator {expected.aggregator_url}; enroll there, "
            "or change report.aggregator_url"
        )
    if expected.cohort and expected.cohort != enrollment.cohort:
        raise EnrollmentError(
            f"this token is for cohort {enrollment.cohort}, but report.cohort is "
            f"{expected.cohort}; ask your admin for the right token"
        )
    if enrollment.period != expected.period:
        raise EnrollmentError(
            f"the cohort reports per {enrollment.period!r}; this client reports per "
            f"{expected.period!r} (report.period)"
        )


def enroll(url: str, token: str, expected: ReportConfig,
           client: httpx.Client | None = None) -> Enrollment:
    """Create a fresh key pair, enroll it with the team's enrollment token, and save both (0600).

    Nothing is saved unless the cohort's terms fit the local budget and config guards.
    """
    base = check_url(url)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    body = {"token": token, "public_key": base64.b64encode(public).decode()}
    http = client or httpx.Client(timeout=HTTP_TIMEOUT_S)
    try:
        response = http.post(f"{base}/v1/enroll", json=body)
    except httpx.HTTPError as exc:
        raise EnrollmentError(f"could not reach the aggregator at {base}: {exc}; check the URL "
                              "and your network, then retry") from exc
    finally:
        if client is None:
            http.close()
    if response.status_code >= 400:
        raise EnrollmentError(
            f"the aggregator refused the enrollment ({response.status_code}: "
            f"{error_detail(response)}); ask for a fresh token"
        )
    try:
        answer = response.json()
    except ValueError as exc:
        raise EnrollmentError("the aggregator's enrollment answer is not JSON") from exc
    enrollment = parse_answer(base, answer)
    check_expected(enrollment, expected)
    check_cohort_budget(enrollment, Budget(expected.epsilon, expected.delta))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    paths.write_private(signing_key_path(), pem)
    paths.write_private(enrollment_path(), json.dumps(asdict(enrollment), indent=2).encode())
    return enrollment


def error_detail(response: httpx.Response) -> str:
    """The aggregator's `detail` message, or the start of its body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:200]
    return str(data)[:200]


def load_enrollment() -> Enrollment:
    try:
        raw = json.loads(enrollment_path().read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EnrollmentError("this install is not enrolled; run `worktally enroll URL TOKEN` "
                              "with the token your admin gave you") from exc
    except (OSError, ValueError) as exc:
        raise EnrollmentError(f"enrollment.json is unreadable ({exc}); enroll again") from exc
    try:
        return Enrollment(**raw)
    except TypeError as exc:
        raise EnrollmentError("enrollment.json is from another version; enroll again") from exc


def load_signing_key() -> Ed25519PrivateKey:
    try:
        data = signing_key_path().read_bytes()
    except FileNotFoundError as exc:
        raise EnrollmentError("the report signing key is missing; enroll again") from exc
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise EnrollmentError("report-signing.key is not an Ed25519 key; enroll again")
    return key
