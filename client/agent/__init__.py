"""The local agent: the only owner of the DuckDB, fed by the spool, asked over a Unix socket."""
