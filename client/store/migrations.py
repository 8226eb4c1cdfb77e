"""Every schema change of the local DuckDB, in order. Append; never edit a shipped step."""

from __future__ import annotations

import duckdb

from worktally.client.store.transaction import transaction

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
            -- The sealed bytes, kept so a resend is byte-identical (HPKE sealing is
            -- randomised), with the enrolled client they were signed for.
            envelope BLOB,
            envelope_client_id VARCHAR,
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
    (
        6,
        """
        -- Numeric facts only OTLP reports: lines added/removed, commits, tool-reported cost.
        CREATE TABLE otlp_counts (
            count_id VARCHAR PRIMARY KEY,
            tool VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value BIGINT NOT NULL,
            window_start TIMESTAMPTZ NOT NULL,
            window_end TIMESTAMPTZ NOT NULL,
            cumulative BOOLEAN NOT NULL
        );
        -- Token usage with each request counted once across sources. An OTLP api_request
        -- row is dropped when a transcript row has its request id (transcript ids end in
        -- ':<requestId>'), or, lacking one, the same session, model and token counts within
        -- 60 s. A token.usage metric row is dropped once its session has any per-request row.
        CREATE VIEW token_usage_effective AS
        WITH per_request AS (
            SELECT *, regexp_extract(usage_id, '[^:]*$') AS request_id
            FROM token_usage WHERE origin NOT IN ('otlp', 'otlp-metric')
        )
        SELECT * EXCLUDE (request_id) FROM per_request
        UNION ALL
        SELECT t.* FROM token_usage t
        WHERE t.origin = 'otlp'
          AND NOT EXISTS (
              SELECT 1 FROM per_request p
              WHERE t.usage_id LIKE '%:req:%' AND p.tool = t.tool
                AND p.request_id = regexp_extract(t.usage_id, '[^:]*$'))
          AND NOT EXISTS (
              SELECT 1 FROM per_request p
              WHERE p.tool = t.tool AND p.session_id = t.session_id AND p.model = t.model
                AND p.input_tokens = t.input_tokens AND p.output_tokens = t.output_tokens
                AND p.cache_creation_tokens = t.cache_creation_tokens
                AND p.cache_read_tokens = t.cache_read_tokens
                AND abs(epoch(p.ts) - epoch(t.ts)) <= 60)
        UNION ALL
        SELECT t.* FROM token_usage t
        WHERE t.origin = 'otlp-metric'
          AND NOT EXISTS (
              SELECT 1 FROM token_usage o
              WHERE o.origin <> 'otlp-metric' AND o.tool = t.tool
                AND o.session_id = t.session_id);
        """,
    ),
    (
        4,
        """
        -- How far each AI tool's transcript has been imported. file_key is a keyed label of
        -- the transcript's path (never the path); head_key a keyed label of its first bytes,
        -- so a replaced file is read again from the start. state is the parser's JSON state
        -- (keyed ids, line keys, counters and byte offsets only).
        CREATE TABLE import_files (
            file_key VARCHAR PRIMARY KEY,
            tool VARCHAR NOT NULL,
            inode BIGINT NOT NULL,
            head_key VARCHAR NOT NULL,
            read_to BIGINT NOT NULL,
            state VARCHAR NOT NULL,
            malformed_lines BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    (
        2,
        """
        -- How far the external-edit scan has read each repo's HEAD and stash reflogs, so a
        -- checkout, reset or stash since the last scan re-baselines instead of emitting.
        CREATE TABLE watch_state (
            repo_id VARCHAR PRIMARY KEY,
            head_reflog_bytes BIGINT NOT NULL,
            stash_reflog_bytes BIGINT NOT NULL,
            scanned_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    (
        7,
        """
        -- Line keys of code copied from an AI chat in the browser (never the text, URL or
        -- title): one row per keyed line, so a later bulk paste of that line can be linked.
        CREATE TABLE chat_snippets (
            event_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            family VARCHAR NOT NULL,
            line_key BIGINT NOT NULL,
            ts TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX chat_snippets_key ON chat_snippets (line_key);
        """,
    ),
    (
        8,
        """
        -- Committed lines are ai, ai_modified (AI text a person changed), human (typed while
        -- observed), bulk, external or unknown (not observed at all). Before this step a line
        -- that matched no edit was stored as human; only a typed edit recorded before its
        -- commit makes a line human, so the others become unknown here.
        ALTER TABLE commits ADD COLUMN ai_modified_lines INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE commits ADD COLUMN unknown_lines INTEGER NOT NULL DEFAULT 0;
        UPDATE commit_lines SET source = 'unknown'
        WHERE source = 'human' AND NOT EXISTS (
            SELECT 1 FROM edit_lines AS e JOIN commits AS c
                 ON c.repo_id = commit_lines.repo_id AND c.sha = commit_lines.sha
            WHERE e.line_key = commit_lines.line_key AND e.source = 'typed'
              AND e.ts < c.committed_at + INTERVAL 1 SECOND);
        UPDATE commits SET unknown_lines = u.n, human_lines = commits.human_lines - u.n
        FROM (SELECT repo_id, sha, count(*) AS n FROM commit_lines WHERE source = 'unknown'
              GROUP BY repo_id, sha) AS u
        WHERE commits.repo_id = u.repo_id AND commits.sha = u.sha;
        """,
    ),
    (
        10,
        """
        -- Report schema v2: one report per (cohort, release window), made once and kept, so
        -- every retry and resend is byte-identical and the window's ε is spent once. The
        -- true (clipped) values stay here for the developer's own `report log`; what left is
        -- `body`: sealed shares (secure mode) or the sealed noised vector (local mode).
        CREATE TABLE report_windows (
            cohort VARCHAR NOT NULL,
            window_kind VARCHAR NOT NULL,
            window_label VARCHAR NOT NULL,
            budget_year INTEGER NOT NULL,
            mode VARCHAR NOT NULL,
            schema_version INTEGER NOT NULL,
            epsilon DOUBLE NOT NULL,
            client_id VARCHAR NOT NULL,
            report_id VARCHAR NOT NULL,
            true_values BIGINT[] NOT NULL,
            sent_values BIGINT[],
            body BLOB NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            accepted_at TIMESTAMPTZ,
            PRIMARY KEY (cohort, window_kind, window_label)
        );
        """,
    ),
    (
        20,
        """
        -- A tool's own per-session token account (origin 'summary', e.g. Copilot CLI's
        -- session.shutdown modelMetrics) counts only for a session that has no finer row
        -- from any source: the per-request rows of the same requests replace it. Otherwise
        -- as step 6.
        CREATE OR REPLACE VIEW token_usage_effective AS
        WITH per_request AS (
            SELECT *, regexp_extract(usage_id, '[^:]*$') AS request_id
            FROM token_usage WHERE origin NOT IN ('otlp', 'otlp-metric', 'summary')
        )
        SELECT * EXCLUDE (request_id) FROM per_request
        UNION ALL
        SELECT t.* FROM token_usage t
        WHERE t.origin = 'otlp'
          AND NOT EXISTS (
              SELECT 1 FROM per_request p
              WHERE t.usage_id LIKE '%:req:%' AND p.tool = t.tool
                AND p.request_id = regexp_extract(t.usage_id, '[^:]*$'))
          AND NOT EXISTS (
              SELECT 1 FROM per_request p
              WHERE p.tool = t.tool AND p.session_id = t.session_id AND p.model = t.model
                AND p.input_tokens = t.input_tokens AND p.output_tokens = t.output_tokens
                AND p.cache_creation_tokens = t.cache_creation_tokens
                AND p.cache_read_tokens = t.cache_read_tokens
                AND abs(epoch(p.ts) - epoch(t.ts)) <= 60)
        UNION ALL
        SELECT t.* FROM token_usage t
        WHERE t.origin = 'otlp-metric'
          AND NOT EXISTS (
              SELECT 1 FROM token_usage o
              WHERE o.origin NOT IN ('otlp-metric', 'summary') AND o.tool = t.tool
                AND o.session_id = t.session_id)
        UNION ALL
        SELECT t.* FROM token_usage t
        WHERE t.origin = 'summary'
          AND NOT EXISTS (
              SELECT 1 FROM token_usage o
              WHERE o.origin <> 'summary' AND o.tool = t.tool AND o.session_id = t.session_id);
        """,
    ),
    (
        30,
        """
        -- Lines that git-ai's notes (refs/notes/ai, authorship/3.0.0) attest in your commits:
        -- one row per keyed line, `ai` (with the note's tool, model and session) or `human`
        -- (a known human). ts is the noted commit's time, so a later commit with the same
        -- key matches, as an edit would. Names, emails, paths and text are never stored.
        CREATE TABLE git_ai_lines (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            line_key BIGINT NOT NULL,
            source VARCHAR NOT NULL,
            tool VARCHAR,
            kind VARCHAR,
            model VARCHAR,
            session_id VARCHAR,
            ts TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX git_ai_lines_key ON git_ai_lines (line_key);
        -- Every note worktally read or wrote, by commit: a note read again only when its
        -- blob changes; status says what was done with it (read, written, not_yours, ...).
        CREATE TABLE git_ai_notes (
            repo_id VARCHAR NOT NULL,
            sha VARCHAR NOT NULL,
            note_blob VARCHAR,
            status VARCHAR NOT NULL,
            ai_lines INTEGER NOT NULL,
            human_lines INTEGER NOT NULL,
            processed_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (repo_id, sha)
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
    """Apply every pending step, each in its own transaction; returns the highest version."""
    version = current_version(con)
    # Steps are numbered by owner and may land out of order, so apply each missing number
    # rather than only those above the highest applied one.
    applied = {int(row[0]) for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for number, sql in sorted(MIGRATIONS):
        if number in applied:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
        # A late lower step must not lower the reported version below one applied earlier.
        version = max(version, number)
    return version
