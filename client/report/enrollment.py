"""Enrollment: this install's Ed25519 key, traded with a one-use token for a roster slot.

What the leader answers is checked before anything is saved: a secure cohort's task config
must hash to its task id and match this client's report schema; the helper's HPKE keys are
fetched from the helper itself (the leader could otherwise hand us a key of its own and
read both shares); the cohort's ε per release must fit the developer's limits. The key and
the enrollment are 0600 files under WORKTALLY_HOME, never rows of the database.
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
from worktally.client.config import Config, ReportConfig
from worktally.client.errors import BudgetExceededError, EnrollmentError
from worktally.client.report.budget import check_policy
from worktally.client.wire import measurement
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.codec import b64url, from_b64url
from worktally.client.wire.dap.messages import HpkeConfigList
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.privacy import Mechanism
from worktally.client.wire.vdaf import Entry
from worktally.client.wire.windows import WINDOWS_PER_YEAR, WindowKind

HTTP_TIMEOUT_S = 10.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
TASK_ID_SIZE = 32


@dataclass(frozen=True)
class Enrollment:
    """What enrollment established; `epsilon` is what each release of the cohort spends."""

    url: str
    client_id: str
    cohort: str
    mode: str  # secure | local
    slot: int | None
    schema_version: int
    epsilon: float
    delta: float
    mechanism: str
    window_kind: str
    enrolled_at: float
    # Local mode: the aggregator's raw X25519 key (base64).
    aggregator_public_key: str = ""
    # Secure mode: the task and both aggregators' HPKE configs (base64url), the helper's
    # fetched from the helper itself.
    task_config: str = ""
    leader_hpke: str = ""
    helper_hpke: str = ""
    helper_url: str = ""

    @property
    def secure(self) -> bool:
        return self.mode == "secure"

    def task(self) -> TaskConfig:
        return TaskConfig.decode(base64.urlsafe_b64decode(_padded(self.task_config)))

    def hpke_configs(self) -> tuple[HpkeConfigList, HpkeConfigList]:
        return (HpkeConfigList.decode(base64.urlsafe_b64decode(_padded(self.leader_hpke))),
                HpkeConfigList.decode(base64.urlsafe_b64decode(_padded(self.helper_hpke))))

    @property
    def aggregator_key_bytes(self) -> bytes:
        return base64.b64decode(self.aggregator_public_key)

    def describe(self) -> str:
        where = f"with the helper at {self.helper_url}" if self.secure else "(local mode)"
        return (f"cohort {self.cohort} at {self.url} {where}: one report per "
                f"{self.window_kind}, each release spends ε={self.epsilon:g}")


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


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


def _field(answer: dict[str, Any], name: str, kind: type) -> Any:
    value = answer.get(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
        raise EnrollmentError(f"the aggregator's enrollment answer has no valid {name!r}")
    return value


def _expected_entries() -> tuple[Entry, ...]:
    return tuple(Entry(m.bound, measurement.gate_index(m)) for m in measurement.SECURE_METRICS)


def check_task(task: TaskConfig, task_id_b64: str, cohort: str) -> None:
    """The task must be the one its id names, for this cohort, in this client's schema."""
    try:
        task_id = from_b64url(task_id_b64, TASK_ID_SIZE, "task id")
    except DapError as exc:
        raise EnrollmentError(f"the task id is malformed: {exc}") from exc
    if task.task_id != task_id:
        raise EnrollmentError("the task config does not hash to its task id; refusing it")
    if task.cohort != cohort:
        raise EnrollmentError(f"the task is for cohort {task.cohort}, not {cohort}")
    if task.schema_version != measurement.SCHEMA_VERSION or \
            tuple(task.entries) != _expected_entries():
        raise EnrollmentError(
            f"the cohort's report (schema {task.schema_version}) is not this client's "
            f"(schema {measurement.SCHEMA_VERSION}); upgrade worktally (or the "
            "aggregators) so they match")


def fetch_hpke(url: str, client: httpx.Client) -> bytes:
    """An aggregator's own HpkeConfigList, from the aggregator itself."""
    try:
        response = client.get(f"{check_url(url)}/hpke_config")
    except httpx.HTTPError as exc:
        raise EnrollmentError(f"could not reach {url} for its HPKE keys: {exc}") from exc
    if response.status_code != 200:
        raise EnrollmentError(f"{url} did not give its HPKE keys ({response.status_code})")
    try:
        HpkeConfigList.decode(response.content)
    except DapError as exc:
        raise EnrollmentError(f"{url} answered with no valid HPKE config: {exc}") from exc
    return response.content


def parse_answer(url: str, answer: Any, expected: ReportConfig,
                 client: httpx.Client) -> Enrollment:
    """Validate the leader's answer against this client and its config; fetch the helper's
    keys from the helper. Nothing is saved here."""
    if not isinstance(answer, dict):
        raise EnrollmentError("the aggregator's enrollment answer is not a JSON object")
    cohort = _field(answer, "cohort", str)
    mode = answer.get("mode", "local")
    if _field(answer, "mechanism", str) != Mechanism.DISCRETE_LAPLACE:
        raise EnrollmentError(f"the cohort asks for noise {answer['mechanism']!r}; this "
                              f"client supports {Mechanism.DISCRETE_LAPLACE.value}")
    kind = _field(answer, "period", str)
    if kind not in {k.value for k in WindowKind}:
        raise EnrollmentError(f"the cohort releases per {kind!r}; this client knows "
                              f"{', '.join(k.value for k in WindowKind)}")
    slot = answer.get("slot")
    common = dict(
        url=url, client_id=_field(answer, "client_id", str), cohort=cohort,
        slot=slot if isinstance(slot, int) else None,
        schema_version=measurement.SCHEMA_VERSION,
        epsilon=_field(answer, "epsilon", float), delta=float(answer.get("delta") or 0.0),
        mechanism=Mechanism.DISCRETE_LAPLACE.value, window_kind=kind,
        enrolled_at=time.time())
    if answer.get("schema_version") != measurement.SCHEMA_VERSION:
        raise EnrollmentError(
            f"the aggregator speaks report schema {answer.get('schema_version')!r}, this "
            f"client {measurement.SCHEMA_VERSION}; upgrade so they match")
    if mode == "local":
        key = _field(answer, "aggregator_public_key", str)
        try:
            raw = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EnrollmentError("the aggregator's public key is not base64") from exc
        if len(raw) != 32:
            raise EnrollmentError("the aggregator's public key is not a raw X25519 key")
        return Enrollment(mode="local", aggregator_public_key=key, **common)
    if mode != "secure":
        raise EnrollmentError(f"unknown report mode {mode!r}; upgrade worktally")
    try:
        task = TaskConfig.decode(_blob(answer, "task_config"))
        HpkeConfigList.decode(_blob(answer, "leader_hpke_configs"))
    except DapError as exc:
        raise EnrollmentError(f"the secure cohort's task is malformed: {exc}") from exc
    check_task(task, _field(answer, "task_id", str), cohort)
    if expected.helper_url and check_url(expected.helper_url) != task.helper_url.rstrip("/"):
        raise EnrollmentError(
            f"config.toml allows only the helper {expected.helper_url}, but this cohort's "
            f"helper is {task.helper_url}; ask your privacy officer")
    helper = fetch_hpke(task.helper_url, client)
    if answer.get("helper_hpke_configs"):
        # The helper's keys rotate, so the leader's copy may be a little behind; but every
        # key it offers must be one the helper publishes, or the leader could read both.
        published = {c.encode() for c in HpkeConfigList.decode(helper).configs}
        try:
            offered = HpkeConfigList.decode(_blob(answer, "helper_hpke_configs")).configs
        except DapError as exc:
            raise EnrollmentError(f"the leader's copy of the helper's keys is malformed: "
                                  f"{exc}") from exc
        if any(c.encode() not in published for c in offered):
            raise EnrollmentError(
                "the leader handed over a helper key the helper does not publish; refusing, "
                "since a report sealed to it could be read by the leader")
    if task.epsilon_release != common["epsilon"]:
        raise EnrollmentError("the leader's ε per release differs from its task's")
    return Enrollment(mode="secure", task_config=b64url(task.encoded),
                      leader_hpke=str(answer["leader_hpke_configs"]),
                      helper_hpke=b64url(helper), helper_url=task.helper_url, **common)


def _blob(answer: dict[str, Any], name: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(_padded(_field(answer, name, str)))
    except (binascii.Error, ValueError) as exc:
        raise EnrollmentError(f"the enrollment answer's {name!r} is not base64url") from exc


def check_expected(enrollment: Enrollment, expected: ReportConfig) -> str | None:
    """The guards a developer (or their org) may set in config.toml; returns a warning."""
    if expected.aggregator_url and check_url(expected.aggregator_url) != enrollment.url:
        raise EnrollmentError(
            f"config.toml allows only the aggregator {expected.aggregator_url}; enroll there, "
            "or change report.aggregator_url")
    if expected.cohort and expected.cohort != enrollment.cohort:
        raise EnrollmentError(
            f"this token is for cohort {enrollment.cohort}, but report.cohort is "
            f"{expected.cohort}; ask your admin for the right token")
    if enrollment.epsilon > expected.epsilon:
        raise BudgetExceededError(
            f"cohort {enrollment.cohort} spends ε={enrollment.epsilon:g} per release, more "
            f"than your report.epsilon={expected.epsilon:g}; ask your privacy officer")
    if enrollment.delta > expected.delta:
        raise BudgetExceededError(
            f"cohort {enrollment.cohort} spends δ={enrollment.delta:g} per release; your "
            f"report.delta is {expected.delta:g}")
    return check_policy(enrollment.epsilon,
                        WINDOWS_PER_YEAR[WindowKind(enrollment.window_kind)],
                        Config(report=expected))


def enroll(url: str, token: str, expected: ReportConfig,
           client: httpx.Client | None = None) -> tuple[Enrollment, str | None]:
    """Make a key pair, enroll it with a personal token, check everything, then save (0600).

    Returns the enrollment and a warning (or None). Nothing is saved unless every check
    passes.
    """
    base = check_url(url)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    body = {"token": token, "public_key": base64.b64encode(public).decode()}
    http = client or httpx.Client(timeout=HTTP_TIMEOUT_S)
    try:
        try:
            response = http.post(f"{base}/v1/enroll", json=body)
        except httpx.HTTPError as exc:
            raise EnrollmentError(f"could not reach the aggregator at {base}: {exc}; check "
                                  "the URL and your network, then retry") from exc
        if response.status_code >= 400:
            raise EnrollmentError(
                f"the aggregator refused the enrollment ({response.status_code}: "
                f"{error_detail(response)}); ask your admin for a fresh token")
        try:
            answer = response.json()
        except ValueError as exc:
            raise EnrollmentError("the aggregator's enrollment answer is not JSON") from exc
        enrollment = parse_answer(base, answer, expected, http)
    finally:
        if client is None:
            http.close()
    warning = check_expected(enrollment, expected)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    paths.write_private(signing_key_path(), pem)
    paths.write_private(enrollment_path(), json.dumps(asdict(enrollment), indent=2).encode())
    return enrollment, warning


def error_detail(response: httpx.Response) -> str:
    """The aggregator's `detail` message, or the start of its body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:200]
    return str(data)[:200]


def is_enrolled() -> bool:
    return enrollment_path().exists()


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
