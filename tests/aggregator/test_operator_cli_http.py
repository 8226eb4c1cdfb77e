"""Every admin and officer action while the server runs, through the real CLI in client mode
(`worktally-aggregator --url URL --token-file FILE ...`) against a real server on loopback:
cohorts (add, list, roster, retire), tokens (issue, list, expire, revoke), clients (count,
revoke), windows (list, with their states) and releases, holds, and the audit log, which names
the token that acted. Each change is checked by what a client then gets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aggregator_harness import (
    WINDOW,
    EnrolledClient,
    Server,
    enroll,
    enroll_client,
    post_report,
    start_server,
    values,
)
from click.testing import CliRunner

from worktally.aggregator.cli import cli
from worktally.aggregator.operations import OPERATIONS
from worktally.aggregator.provisioning import init_data_dir
from worktally.aggregator.settings import DataDir, ReleasePolicy

pytestmark = pytest.mark.slow


class Org:
    """A running aggregator and the two token files its operators keep."""

    def __init__(self, root: Path) -> None:
        self.data = DataDir(root / "agg")
        dep = init_data_dir(self.data, ReleasePolicy(k_min=2, min_contributors=2))
        self.admin_file, self.officer_file = root / "admin.token", root / "officer.token"
        self.admin_file.write_text(dep.admin_token + "\n")
        self.officer_file.write_text(dep.officer_token + "\n")
        self.admin_id = hashlib.sha256(dep.admin_token.encode()).hexdigest()[:8]
        self.officer_id = hashlib.sha256(dep.officer_token.encode()).hexdigest()[:8]
        self.server: Server = start_server(self.data, root / "home")

    def run(self, *args: str, officer: bool = False, ok: bool = True) -> Any:
        token = self.officer_file if officer else self.admin_file
        result = CliRunner().invoke(cli, ["--url", self.server.url, "--token-file", str(token),
                                          *args, "--json"])
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output)
        assert result.exit_code == 1, result.output
        return result.output


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    running = Org(tmp_path)
    yield running
    running.server.stop()


def test_cohorts_tokens_and_clients_while_serving(org: Org) -> None:
    added = org.run("cohort", "add", "web", "--roster", "4", "--k", "2")
    assert (added["cohort"], added["mode"], added["roster_size"]) == ("web", "local", 4)
    issued = org.run("tokens", "issue", "web", "--count", "4", "--days", "7")["tokens"]
    assert [t["slot"] for t in issued] == [1, 2, 3, 4]
    listed = org.run("tokens", "list", "web")["tokens"]
    assert [t["state"] for t in listed] == ["unused"] * 4
    assert all(t["token"] not in json.dumps(listed) for t in issued), "tokens are shown once"

    expired = org.run("tokens", "expire", "web", "--slot", "2", "--days", "0")
    assert expired["state"] == "expired"
    assert enroll(org.server.url, issued[1]["token"]).status_code == 401
    assert org.run("tokens", "revoke", "web", "--slot", "3")["revoked"] == 1
    refused = enroll(org.server.url, issued[2]["token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    first = enroll_client(org.server.url, issued[0]["token"])
    fourth = enroll_client(org.server.url, issued[3]["token"])
    counts = org.run("clients", "count", "web")["cohorts"][0]
    assert (counts["live_keys"], counts["slots_issued"], counts["unused_tokens"]) == (2, 4, 0)
    assert [t["state"] for t in org.run("tokens", "list", "web")["tokens"]] == [
        "used", "expired", "revoked", "used"]

    # A smaller roster leaves slot 4 over it: its reports are refused, saying so.
    change = org.run("cohort", "roster", "web", "--roster", "3")
    assert (change["roster_before"], change["roster"], change["live_keys_over_roster"]) == (
        4, 3, 1)
    over = post_report(org.server.url, fourth.sealed(values(4)))
    assert over.status_code == 403 and over.json()["reason"] == "over_roster"
    org.run("cohort", "roster", "web", "--roster", "4")
    assert post_report(org.server.url, fourth.sealed(values(4))).status_code == 201
    # A reissued slot's new enrollment replaces the slot's key: the old one is refused.
    (slot4,) = org.run("tokens", "issue", "web", "--slot", "4")["tokens"]
    enroll_client(org.server.url, slot4["token"])
    replaced = post_report(org.server.url, fourth.sealed(values(4), period=_previous()))
    assert replaced.status_code == 403 and replaced.json()["reason"] == "key_replaced"

    org.run("clients", "revoke", "web", "--slot", "1")
    revoked = post_report(org.server.url, first.sealed(values(1)))
    assert revoked.status_code == 403 and revoked.json()["reason"] == "key_revoked"
    assert org.run("clients", "count", "web")["cohorts"][0]["live_keys"] == 1
    # Reissuing the slot lets its person back in, with a new key.
    (again,) = org.run("tokens", "issue", "web", "--slot", "1")["tokens"]
    back = enroll_client(org.server.url, again["token"])
    assert post_report(org.server.url, back.sealed(values(1))).status_code == 201

    retired = org.run("cohort", "retire", "web")
    assert retired["keys_revoked"] == 2  # slot 1's new key and slot 4's
    closed = post_report(org.server.url, back.sealed(values(1), period=_previous()))
    assert closed.status_code == 403 and closed.json()["reason"] == "cohort_retired"
    refused_issue = org.run("tokens", "issue", "web", ok=False)
    assert "retired" in refused_issue
    (web,) = org.run("cohort", "list")["cohorts"]
    assert web["retired"] is True and web["live_keys"] == 0

    audit = org.run("audit", "--cohort", "web")["entries"]
    actions = [(e["action"], e["actor"]) for e in audit]
    by_admin = f"admin token {org.admin_id} via API"
    for action in ("cohort-add", "tokens-issue", "token-expiry", "token-revoke", "roster",
                   "client-revoke", "cohort-retire"):
        assert (action, by_admin) in actions, action
    assert sum(1 for a, _ in actions if a == "enroll") == 4
    assert ("client-revoke", "client (slot 4's enrollment token)") in actions, \
        "a re-enrolled slot's old key is revoked, and said so"
    officer_view = org.run("audit", "--action", "roster", officer=True)["entries"]
    assert [e["detail"] for e in officer_view] == [
        "roster 4 -> 3; 1 live keys in slots over 3 are refused from now on", "roster 3 -> 4"]


def _previous() -> str:
    from aggregator_harness import PREVIOUS

    return PREVIOUS


def _report(org: Org, token: str, i: int, period: str = WINDOW) -> EnrolledClient:
    client = enroll_client(org.server.url, token)
    assert post_report(org.server.url, client.sealed(values(i), period)).status_code == 201
    return client


def test_windows_holds_and_releases_while_serving(org: Org) -> None:
    org.run("cohort", "add", "ops", "--roster", "5", "--k", "2")
    tokens = [t["token"] for t in org.run("tokens", "issue", "ops", "--count", "5")["tokens"]]
    for i in range(3):
        _report(org, tokens[i], i)
    windows = {w["window"]: w for w in org.run("windows", "list", "ops")["windows"]}
    assert windows[WINDOW]["state"] == "ended" and windows[WINDOW]["reports"] == 3
    assert windows[WINDOW]["accepts_reports"] is True
    (current,) = [w for w in windows.values() if w["state"] == "open"]
    assert current["accepts_reports"] is True and current["reports"] == 0

    # Holds are the officer's, on every path: the admin's token is refused.
    as_admin = org.run("hold", "--cohort", "ops", "--period", WINDOW, "--reason", "x", ok=False)
    assert "officer" in as_admin
    org.run("hold", "--cohort", "ops", "--period", WINDOW, "--reason", "team of 3",
            officer=True)
    assert org.run("holds", officer=True)["holds"][0]["reason"] == "team of 3"
    states = {w["window"]: w for w in org.run("windows", "list")["windows"]}
    assert states[WINDOW]["state"] == "held" and states[WINDOW]["hold_reason"] == "team of 3"
    held = org.run("release", "--cohort", "ops", "--period", WINDOW, ok=False)
    assert "on hold" in held
    org.run("unhold", "--cohort", "ops", "--period", WINDOW, officer=True)
    early = org.run("release", "--cohort", "ops", "--period", current["window"], ok=False)
    assert "has not ended" in early

    released = org.run("release", "--cohort", "ops", "--period", WINDOW)
    assert released["n"] == 3
    assert released["released_by"] == f"admin token {org.admin_id} via API"
    after = {w["window"]: w for w in org.run("windows", "list", "ops")["windows"]}
    assert after[WINDOW]["state"] == "released" and after[WINDOW]["accepts_reports"] is False
    late = post_report(org.server.url, enroll_client(org.server.url, tokens[3]).sealed(values(4)))
    assert late.status_code == 409 and late.json()["reason"] == "window_released"
    summary = org.run("summary")
    assert [(r["cohort"], r["period"], r["n"]) for r in summary["cohorts"]] == [
        ("ops", WINDOW, 3)]

    entries = org.run("audit", "--cohort", "ops", "--period", WINDOW, officer=True)["entries"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("hold", f"officer token {org.officer_id} via API"),
        ("unhold", f"officer token {org.officer_id} via API"),
        ("release", f"admin token {org.admin_id} via API")]


def test_the_client_mode_says_what_is_wrong(org: Org, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.token"
    wrong.write_text("f" * 64)
    result = CliRunner().invoke(cli, ["--url", org.server.url, "--token-file", str(wrong),
                                      "cohort", "list"])
    assert result.exit_code == 1 and "unknown token" in result.output
    both = CliRunner().invoke(cli, ["--url", org.server.url, "--token-file",
                                    str(org.admin_file), "cohort", "list", "--data",
                                    str(org.data.root)])
    assert both.exit_code == 1 and "not both" in both.output
    down = CliRunner().invoke(cli, ["--url", "http://127.0.0.1:9", "--token-file",
                                    str(org.admin_file), "cohort", "list"])
    assert down.exit_code == 1 and "could not reach" in down.output
    busy = CliRunner().invoke(cli, ["cohort", "list", "--data", str(org.data.root)])
    assert busy.exit_code == 1 and "HTTP API" in busy.output


def test_every_operation_has_its_route(org: Org) -> None:
    paths = httpx.get(f"{org.server.url}/openapi.json", timeout=10).json()["paths"]
    for name, op in OPERATIONS.items():
        if "leader" in op.served_by:
            assert op.method.lower() in paths.get(op.path, {}), f"{name}: {op.method} {op.path}"
