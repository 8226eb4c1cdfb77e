"""`worktally agent` as a real subprocess: status for the LSP, spool reaction, sync through it,
clean SIGTERM, exactly-once delivery across a SIGKILL mid-drain, and no canary in DB or logs.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_support import stop_agent

from worktally.client import config
from worktally.client.agent.control import ask
from worktally.client.agent.lock import AgentLock, holder_pid, is_held
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import EditEvent, RepoRegistration
from worktally.client.capture.spool import Spool
from worktally.client.store import db

CLI = [sys.executable, "-c", "from worktally.client.cli import main; main()"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    target = tmp_path / "home"
    monkeypatch.setenv("WORKTALLY_HOME", str(target))
    # Port 0: parallel agents (other tests, a developer's own) never fight over 4319.
    config.set_value("otlp.port", 0)
    return target


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def cli_json(*args: str) -> dict:
    out = cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def start_agent(*extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([*CLI, "agent", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def up() -> bool:
        assert proc.poll() is None, proc.communicate(timeout=10)[1]
        return ask({"cmd": "status"}, timeout=1.0) is not None

    wait_for(up, 30, "the agent to answer")
    return proc


@pytest.fixture
def agent(home) -> Iterator[subprocess.Popen[str]]:
    proc = start_agent("--sync-interval", "3600")
    yield proc
    stop_agent(proc)


def test_status_answers_the_language_server_contract(agent):
    answer = ask({"cmd": "status"}, timeout=1.0)
    assert answer is not None
    for source in ("typed", "ai", "bulk", "external"):
        assert answer[source] == 0
    assert answer["paused"] is False
    assert answer["agent"] is True
    assert answer["pid"] == agent.pid == holder_pid()


def test_new_batch_is_drained_without_a_sync(agent):
    Spool().write([EditEvent(source="typed", keys=(5, 6), file_id="f", line_count=2)])
    answer = wait_for(
        lambda: (a := ask({"cmd": "status"})) and a["edits_total"] == 1 and a,
        10, "the agent to drain the new batch",
    )
    assert answer["typed"] == 2
    assert Spool().pending() == []


def test_files_stay_private_while_the_agent_runs(agent, home):
    Spool().write([EditEvent(source="typed", keys=(9,), file_id="f", line_count=1)])
    wait_for(lambda: ask({"cmd": "status"})["edits_total"] == 1, 10, "the drain")
    assert (home / "agent.sock").exists()
    for path in [home, *home.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path.name} is {oct(mode)}"


def test_cli_goes_through_the_running_agent(agent, tmp_path):
    Spool().write([EditEvent(source="ai", keys=(1,), file_id="f", line_count=1, tool="codex",
                             kind="agent")])
    result = cli_json("sync")
    assert result["via"] == "agent"
    status = cli_json("status")
    assert status["agent"]["running"] is True and status["agent"]["pid"] == agent.pid
    assert status["today"]["ai"] == 1
    # The CLI never took the database: the agent held the lock the whole time.
    assert holder_pid() == agent.pid
    assert cli_json("commits") == []
    assert cli_json("me")["edit_lines"]["ai"] == 1


def test_agent_serves_otlp_on_loopback(agent):
    port = ask({"cmd": "status"})["otlp_port"]
    assert isinstance(port, int) and port > 0
    body = b'{"resourceMetrics": []}'
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (port, len(body), body))
        reply = sock.makefile("rb").readline()
    assert reply.startswith(b"HTTP/1.") and b" 200 " in reply


def test_watcher_feeds_external_edits(agent, tmp_path):
    repo = tmp_path / "watched"
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    (repo / "tool.py").write_text("def first_function(argument):\n    return argument\n")
    cli_json("repos", "add", str(repo))
    cli_json("sync")  # the first scan takes the file's current state as its baseline
    assert ask({"cmd": "status"})["watcher"] is True
    with (repo / "tool.py").open("a") as f:
        f.write("def written_by_a_script(value):\n    return value * 2\n")
    answer = wait_for(
        lambda: (a := ask({"cmd": "status"})) and a["external"] > 0 and a,
        20, "the watcher to report the external edit",
    )
    assert answer["external"] == 2


def test_a_second_agent_refuses_to_start(agent):
    second = cli("agent", timeout=60)
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert ask({"cmd": "status"})["pid"] == agent.pid


def test_sigterm_stops_cleanly(home):
    proc = start_agent()
    socket_file = home / "agent.sock"
    assert socket_file.exists()
    err = stop_agent(proc)
    assert proc.returncode == 0, err
    assert "agent stopped" in err
    assert not socket_file.exists()
    assert not is_held()


@pytest.mark.slow
def test_sigkill_mid_drain_loses_and_doubles_nothing(home):
    spool = Spool()
    n_batches, per_batch = 240, 300
    for b in range(n_batches):
        spool.write([EditEvent(source="typed", keys=(b, i), file_id="f", line_count=2)
                     for i in range(per_batch)])
    proc = subprocess.Popen([*CLI, "agent", "--sync-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        remaining = wait_for(
            lambda: (n := len(spool.pending())) < n_batches and n,
            60, "the agent to start draining",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    left = len(spool.pending())
    assert 0 < left <= remaining, "the kill must land while batches are still pending"
    result = cli_json("sync")
    assert result["via"] == "local"
    assert spool.pending() == []
    total = n_batches * per_batch
    with AgentLock():
        con = db.connect()
        edits, distinct = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM edits").fetchone()
        lines = con.execute("SELECT count(*) FROM edit_lines").fetchone()[0]
        batches = con.execute("SELECT count(*) FROM drained_batches").fetchone()[0]
        con.close()
    assert (edits, distinct, lines, batches) == (total, total, 2 * total, n_batches)


def test_canaries_never_reach_the_database_or_logs(home, tmp_path):
    canaries = ["wtcanaryrepoQ7X9", "wtcanaryfileZ3K8", "wtcanarycodeP5M2"]
    repo = tmp_path / f"src-{canaries[0]}"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    source = repo / f"{canaries[1]}.py"
    source.write_text(f"{canaries[2]} = compute_the_total(1, 2)\n")
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "-m", f"add {canaries[1]}"], check=True, timeout=30)
    proc = start_agent("--sync-interval", "3600", "-v")
    try:
        cli_json("repos", "add", str(repo))
        keyer = default_keyer()
        Spool().write([
            RepoRegistration(path=str(repo)),
            EditEvent(source="ai", keys=tuple(keyer.keys_of_text(source.read_text())),
                      file_id=keyer.label(source.name), repo_id=keyer.label(str(repo)),
                      line_count=1, tool="copilot", kind="completion"),
        ])
        source.write_text(source.read_text() + f"print({canaries[2]!r})\n")
        cli_json("sync")
    finally:
        stop_agent(proc)
    cli_json("sync")  # once more without the agent, so the CLI's own log is covered too
    assert canaries[0] in (home / "repos.json").read_text()  # the canary really was planted
    scanned = [home / "worktally.duckdb", *(home / "logs").iterdir()]
    wal = home / "worktally.duckdb.wal"
    if wal.exists():
        scanned.append(wal)
    for path in scanned:
        data = path.read_bytes()
        if path.parent.name == "logs":
            # DEBUG lines may name files on purpose (-v); INFO and above must not.
            data = b"\n".join(line for line in data.splitlines() if b" DEBUG " not in line)
        for canary in canaries:
            assert canary.encode() not in data, f"{canary} leaked into {path.name}"
