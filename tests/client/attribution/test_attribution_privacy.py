"""Canaries in code, file names and the repo name must never reach the database or logs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from attribution_support import KEYER, numbered, open_db, record, repo_for

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.attribution.survival import update_survival
from worktally.client.config import AttributionConfig, Config
from worktally.client.external.scanner import scan

CANARY = "zqxcanary"
CFG = Config(attribution=AttributionConfig(survival_days=0))


def test_no_name_or_code_is_stored_or_logged(tmp_path, git_repo, caplog, worktally_home: Path):
    repo = git_repo(f"{CANARY}_repo")
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    code = [f"{CANARY}_secret_{i} = {i}" for i in range(3)]
    with caplog.at_level(logging.DEBUG):
        record(con, "ai", code[:2], tool="codex", repo_id=rp.repo_id)
        repo.commit(files={f"{CANARY}_dir/{CANARY}_file.py": "\n".join(code)})
        scan(con, KEYER, rp, CFG)
        repo.write(f"{CANARY}_dir/{CANARY}_new.py", "\n".join(numbered(CANARY, 2)))
        assert scan(con, KEYER, rp, CFG) == 2
        assert attribute_new_commits(con, KEYER, rp, CFG) == 1
        assert update_survival(con, KEYER, rp, CFG, time.time() + 1) == 1
    tables = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR' AND table_schema = 'main'"
    ).fetchall()
    assert tables
    for table, column in tables:
        hits = con.execute(
            f'SELECT count(*) FROM "{table}" WHERE "{column}" ILIKE ?', [f"%{CANARY}%"]
        ).fetchone()
        assert hits == (0,), f"{table}.{column} holds a canary"
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in loud if CANARY in m]
