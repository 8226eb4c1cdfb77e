"""The local DuckDB: connection hardening, ordered migrations, spool drain and queries."""
