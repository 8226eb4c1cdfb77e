"""DAP's media types (`application/ppm-dap;message=...`) and how a request names its task."""

from __future__ import annotations

BASE = "application/ppm-dap"
HPKE_CONFIG_LIST = f"{BASE};message=hpke-config-list"
UPLOAD_REQ = f"{BASE};message=upload-req"
UPLOAD_ERRORS = f"{BASE};message=upload-errors"
AGGREGATION_JOB_INIT_REQ = f"{BASE};message=aggregation-job-init-req"
AGGREGATION_JOB_RESP = f"{BASE};message=aggregation-job-resp"
AGGREGATE_SHARE_REQ = f"{BASE};message=aggregate-share-req"
AGGREGATE_SHARE = f"{BASE};message=aggregate-share"
COLLECTION_JOB_REQ = f"{BASE};message=collection-job-req"
COLLECTION_JOB_RESP = f"{BASE};message=collection-job-resp"
# Not a DAP message: the task file a leader hands a helper (JSON, secrets inside).
PROBLEM = "application/problem+json"
ERROR_URN = "urn:ietf:params:ppm:dap:error:"


def matches(content_type: str | None, expected: str) -> bool:
    """Whether a Content-Type header names `expected` (parameters order-insensitive,
    whitespace ignored, extra `version=` parameter allowed as DAP permits)."""
    if not content_type:
        return False

    def parts(value: str) -> tuple[str, frozenset[str]]:
        items = [p.strip().lower() for p in value.split(";") if p.strip()]
        params = frozenset(p for p in items[1:] if not p.startswith("version="))
        return (items[0] if items else ""), params

    return parts(content_type) == parts(expected)
