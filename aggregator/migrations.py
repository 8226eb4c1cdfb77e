"""Every schema change of the aggregator's DuckDB, in order. Append; never edit a shipped step."""

from __future__ import annotations

import duckdb

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        -- Only SHA-256 digests of bearer and enrollment tokens are kept.
        CREATE TABLE tokens (
            token_sha256 VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            cohort VARCHAR,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE cohorts (
            name VARCHAR PRIMARY KEY,
            roster_size INTEGER NOT NULL,
            epsilon DOUBLE NOT NULL,
            delta DOUBLE NOT NULL,
            mechanism VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE clients (
            client_id VARCHAR PRIMARY KEY,
            cohort VARCHAR NOT NULL,
            public_key BLOB NOT NULL UNIQUE,
            enrolled_at TIMESTAMPTZ NOT NULL
        );
        -- Who has reported for which period, never what: values go straight into `sums`.
        CREATE TABLE receipts (
            client_id VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            idempotency_key VARCHAR NOT NULL UNIQUE,
            nonce VARCHAR NOT NULL UNIQUE,
            envelope_sha256 VARCHAR NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (client_id, period)
        );
        CREATE TABLE sums (
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            total BIGINT NOT NULL,
            PRIMARY KEY (cohort, period, metric)
        );
        CREATE TABLE contributions (
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (cohort, period)
        );
        CREATE TABLE releases (
            release_id INTEGER PRIMARY KEY,
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            released_at TIMESTAMPTZ NOT NULL,
            released_by VARCHAR NOT NULL,
            n INTEGER NOT NULL,
            roster_size INTEGER NOT NULL,
            k_min INTEGER NOT NULL,
            min_contributors INTEGER NOT NULL,
            epsilon DOUBLE NOT NULL,
            delta DOUBLE NOT NULL,
            mechanism VARCHAR NOT NULL,
            schema_version INTEGER NOT NULL,
            UNIQUE (cohort, period)
        );
        CREATE TABLE release_figures (
            release_id INTEGER NOT NULL,
            metric VARCHAR NOT NULL,
            total BIGINT NOT NULL,
            noise_variance DOUBLE NOT NULL,
            PRIMARY KEY (release_id, metric)
        );
        CREATE TABLE holds (
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            held_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (cohort, period)
        );
        CREATE TABLE audit_log (
            ts TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            cohort VARCHAR,
            period VARCHAR,
            detail VARCHAR NOT NULL
        );
        """,
    ),
    (
        2,
        """
        -- Secure mode (DAP). Private HPKE keys live in files beside the database; this table
        -- holds the public configs, so /hpke_config can list several (rotation).
        CREATE TABLE hpke_keys (
            config_id INTEGER NOT NULL,
            purpose VARCHAR NOT NULL,          -- 'aggregator' or 'collector'
            config BLOB NOT NULL,              -- the encoded HpkeConfig
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (purpose, config_id)
        );
        -- One task per secure cohort. The leader keeps the bearer token it sends the helper;
        -- the helper keeps only its digest.
        CREATE TABLE dap_tasks (
            task_id BLOB PRIMARY KEY,
            cohort VARCHAR NOT NULL UNIQUE,
            config BLOB NOT NULL,
            verify_key BLOB NOT NULL,
            leader_token VARCHAR,
            leader_token_sha256 VARCHAR NOT NULL,
            helper_hpke BLOB,                  -- leader: the helper's HpkeConfigList
            created_at TIMESTAMPTZ NOT NULL
        );
        -- "k means k people": a roster of slots, one-use expiring tokens bound to a slot.
        CREATE TABLE enrollment_slots (
            cohort VARCHAR NOT NULL,
            slot INTEGER NOT NULL,
            client_id VARCHAR,                 -- the slot's current key; NULL until enrolled
            PRIMARY KEY (cohort, slot)
        );
        CREATE TABLE slot_tokens (
            token_sha256 VARCHAR PRIMARY KEY,
            cohort VARCHAR NOT NULL,
            slot INTEGER NOT NULL,
            issued_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            used_at TIMESTAMPTZ,
            superseded BOOLEAN NOT NULL
        );
        ALTER TABLE clients ADD COLUMN slot INTEGER;
        ALTER TABLE clients ADD COLUMN revoked_at TIMESTAMPTZ;
        -- Leader: who reported for which batch (slot, window), never what.
        CREATE TABLE dap_receipts (
            task_id BLOB NOT NULL,
            report_id BLOB NOT NULL,
            window_label VARCHAR NOT NULL,
            slot INTEGER NOT NULL,
            report_sha256 BLOB NOT NULL,
            state VARCHAR NOT NULL,            -- pending, aggregated or rejected
            received_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (task_id, report_id)
        );
        -- Leader: sealed reports until an aggregation job has consumed them.
        CREATE TABLE dap_pending (
            task_id BLOB NOT NULL,
            report_id BLOB NOT NULL,
            window_label VARCHAR NOT NULL,
            report BLOB NOT NULL,
            job_id BLOB,
            PRIMARY KEY (task_id, report_id)
        );
        -- Helper: report ids already aggregated (replay protection).
        CREATE TABLE dap_seen (
            task_id BLOB NOT NULL,
            report_id BLOB NOT NULL,
            PRIMARY KEY (task_id, report_id)
        );
        -- Both: one bucket per batch; the aggregate share is wiped once collected.
        CREATE TABLE dap_batches (
            task_id BLOB NOT NULL,
            window_label VARCHAR NOT NULL,
            agg_share BLOB,
            report_count BIGINT NOT NULL,
            checksum BLOB NOT NULL,
            collected BOOLEAN NOT NULL,
            PRIMARY KEY (task_id, window_label)
        );
        -- Leader: its request until done. Helper: the response to replay to a repeat.
        CREATE TABLE dap_jobs (
            task_id BLOB NOT NULL,
            job_id BLOB NOT NULL,
            window_label VARCHAR NOT NULL,
            request BLOB,
            response BLOB,
            state VARCHAR NOT NULL,            -- leader: sent or done; helper: done
            attempts INTEGER NOT NULL,
            last_error VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (task_id, job_id)
        );
        -- Both: a batch's collection, kept so that asking again gives the same sealed answer.
        CREATE TABLE dap_collections (
            task_id BLOB NOT NULL,
            window_label VARCHAR NOT NULL,
            request BLOB NOT NULL,             -- leader: CollectionJobReq; helper: its request
            report_count BIGINT NOT NULL,
            checksum BLOB NOT NULL,
            leader_share BLOB,                 -- leader: its sealed (noised) aggregate share
            helper_share BLOB,                 -- the helper's encoded AggregateShare
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (task_id, window_label)
        );
        -- Releases of either mode keep their figures as estimates with intervals.
        ALTER TABLE releases ADD COLUMN mode VARCHAR DEFAULT 'local';
        ALTER TABLE releases ADD COLUMN noise_copies INTEGER DEFAULT 0;
        CREATE TABLE release_estimates (
            release_id INTEGER NOT NULL,
            metric VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            value DOUBLE NOT NULL,
            raw DOUBLE NOT NULL,
            low DOUBLE NOT NULL,
            high DOUBLE NOT NULL,
            half_width DOUBLE NOT NULL,
            informative BOOLEAN NOT NULL,
            n INTEGER NOT NULL,
            people_needed INTEGER,
            PRIMARY KEY (release_id, metric)
        );
        """,
    ),
    (
        3,
        """
        -- Local mode moves to report schema 2 with a secure task's policy shape: a release
        -- window, ε per release, δ = 0, discrete Laplace, and its own k. Schema-1 cohorts
        -- released per ISO week under the deployment's k. (A secure cohort's task config
        -- stays the authority for its own policy.)
        ALTER TABLE cohorts ADD COLUMN window_kind VARCHAR;
        ALTER TABLE cohorts ADD COLUMN k_min INTEGER;
        UPDATE cohorts SET window_kind = 'week',
            k_min = (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'k_min');
        -- The cohort-wide enrollment token goes: one token could enroll any number of keys.
        -- Keys it enrolled hold no roster slot; they are revoked (their people enroll again
        -- with a personal token), and the audit log says so.
        DELETE FROM tokens WHERE role = 'enroll';
        INSERT INTO audit_log
            SELECT current_timestamp, 'migration', 'revoke', cohort, NULL,
                   'a key enrolled with the retired cohort-wide token'
            FROM clients WHERE slot IS NULL AND revoked_at IS NULL;
        UPDATE clients SET revoked_at = current_timestamp
            WHERE slot IS NULL AND revoked_at IS NULL;
        -- Schema 1's running sums cannot be released as schema 2 (its metrics are gone) and
        -- must not mix with schema 2's, so they are dropped with their counts. Earlier
        -- releases, and their figures, stay as they were.
        DELETE FROM sums;
        DELETE FROM contributions;
        """,
    ),
    (
        4,
        """
        -- Operators act while the server runs: cohorts can be retired, tokens revoked, keys
        -- revoked by an admin (not only replaced by a reissued slot), and the client is told
        -- which.
        ALTER TABLE cohorts ADD COLUMN retired_at TIMESTAMPTZ;
        ALTER TABLE slot_tokens ADD COLUMN revoked_at TIMESTAMPTZ;
        ALTER TABLE clients ADD COLUMN revoke_reason VARCHAR;  -- replaced, admin, retired
        UPDATE clients SET revoke_reason = CASE WHEN slot IS NULL THEN 'migration'
            ELSE 'replaced' END WHERE revoked_at IS NOT NULL;
        -- Local mode keeps each accepted report sealed (under its window's key, a file
        -- beside the database) until the window is released; nothing is summed before.
        -- `sums` and `contributions` keep only what was summed before this step.
        CREATE TABLE local_reports (
            cohort VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            client_id VARCHAR NOT NULL,
            sealed BLOB NOT NULL,
            received_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    (
        5,
        """
        -- HPKE keys rotate: a new aggregator key each month (`dap/keys.py`); a key that is
        -- no longer current is kept until nothing sealed to it can still need opening.
        ALTER TABLE hpke_keys ADD COLUMN key_window VARCHAR;
        ALTER TABLE hpke_keys ADD COLUMN retired_at TIMESTAMPTZ;
        """,
    ),
    (
        6,
        """
        -- Browser sessions of the HTML pages (`web_auth.py`): the cookie holds a random id,
        -- never the token; only the id's digest is kept, with the role it stands for.
        CREATE TABLE web_sessions (
            session_sha256 VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            token_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every step newer than the stored version, each in its own transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for version, sql in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
        except BaseException:
            # The same rule as every other write: nothing half-applied, nothing left open.
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        current = version
    return current
