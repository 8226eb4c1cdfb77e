"""The org service: enrollment, ingest, releases with intervals, admin summary, privacy review."""
