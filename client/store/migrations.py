"""Every schema change of the local DuckDB, in order. Append; never edit a shipped step."""

from __future__ import annotations

import duckdb

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE edits (
            event_id VARCHAR PRIMARY KEY,
            ts TIMESTAMPTZ NOT NULL,
            repo_id VARCHAR,
            file_id VARCHAR NOT NULL,
            language VARCHAR,
            source VARCHAR NOT NULL,
            tool VARCHAR,
            kind VARCHAR,
            model VARCHAR,
            session_id VARCHAR,
            line_count INTEGER NOT NULL,
            origin VARCHAR NOT NULL
        );
        -- One row per keyed line of an edit; denormalised so attribution is one join.
        CREATE TABLE edit_lines (
            event_id VARCHAR NOT NULL,
            line_key BIGINT NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            source VARCHAR NOT NULL,
            tool VARCHAR,
            kind VARCHAR,
            session_id VARCHAR,
            file_id VARCHAR,
            repo_id VARCHAR
        );
        CREATE TABLE drained_batches (
            batch_id VARCHAR PRIMARY KEY,
            drained_at TIMESTAMPTZ NOT NULL,
            records INTEGER NOT NULL
        );
        CREATE TABLE commits (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            committed_at TIMESTAMPTZ NOT NULL,
            is_merge BOOLEAN NOT NULL,
            lines_added INTEGER NOT NULL,
            ai_lines INTEGER NOT NULL,
            bulk_lines INTEGER NOT NULL,
            external_lines INTEGER NOT NULL,
            human_lines INTEGER NOT NULL,
            reachable BOOLEAN NOT NULL DEFAULT TRUE,
            processed_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (repo_id, sha)
        );
        -- Commits seen but not ours (other authors): remembered so they are not re-read.
        CREATE TABLE skipped_commits (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            PRIMARY KEY (repo_id, sha)
        );
        CREATE TABLE commit_lines (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            line_key BIGINT NOT NULL,
            source VARCHAR NOT NULL,
            tool VARCHAR,
            kind VARCHAR,
            session_id VARCHAR
        );
        CREATE TABLE survival (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            checked_at TIMESTAMPTZ NOT NULL,
            days INTEGER NOT NULL,
            ai_lines INTEGER NOT NULL,
            ai_surviving INTEGER NOT NULL,
            PRIMARY KEY (repo_id, sha)
        );
        -- The last keyed state of a work-tree file, for the watcher's external-edit diff.
        CREATE TABLE file_snapshots (
            repo_id VARCHAR NOT NULL,
            file_id VARCHAR NOT NULL,
            keys BIGINT[] NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (repo_id, file_id)
        );
        CREATE TABLE ai_sessions (
            session_id VARCHAR PRIMARY KEY,
            tool VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            repo_id VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ NOT NULL,
            has_cwd BOOLEAN NOT NULL
        );
        CREATE TABLE token_usage (
            usage_id VARCHAR PRIMARY KEY,
            session_id VARCHAR NOT NULL,
            tool VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cache_creation_tokens BIGINT NOT NULL,
            cache_read_tokens BIGINT NOT NULL,
            is_sidechain BOOLEAN NOT NULL,
            origin VARCHAR NOT NULL
        );
        CREATE INDEX edit_lines_key ON edit_lines (line_key);
        CREATE INDEX commit_lines_commit ON commit_lines (repo_id, sha);
        """,
    ),
    (
        3,
        """
        -- The privacy budget ledger: one noised vector per (cohort, period), made once and
        -- reused by every preview, retry and resend, so a period's budget is spent once.
        CREATE TABLE report_ledger (
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            schema_version INTEGER NOT NULL,
            client_id VARCHAR NOT NULL,
            epsilon DOUBLE NOT NULL,
            delta DOUBLE NOT NULL,
            mechanism VARCHAR NOT NULL,
            noised_values BIGINT[] NOT NULL,
            nonce VARCHAR NOT NULL,
            idempotency_key VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            accepted_at TIMESTAMPTZ,
            PRIMARY KEY (cohort, period)
        );
        -- Every upload attempt ever made, with the exact values it carried.
        CREATE TABLE report_uploads (
            attempted_at TIMESTAMPTZ NOT NULL,
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            epsilon DOUBLE NOT NULL,
            delta DOUBLE NOT NULL,
            status VARCHAR NOT NULL,
            http_status INTEGER,
            sent_values BIGINT[] NOT NULL,
            detail VARCHAR
        );
        """,
    ),
]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at "
        "TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every pending step, each in its own transaction; returns the final version."""
    version = current_version(con)
    # Steps are numbered by owner and may land out of order, so apply each missing number
    # rather than only those above the highest applied one.
    applied = {int(row[0]) for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for number, sql in sorted(MIGRATIONS):
        if number in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        version = number
    return version
