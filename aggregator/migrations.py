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
