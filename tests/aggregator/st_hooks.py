"""schemathesis hooks for the aggregator's OpenAPI: DAP's binary media types are opaque bytes."""

from __future__ import annotations

import schemathesis

from worktally.client.wire.dap import media

for _type in (media.UPLOAD_REQ, media.COLLECTION_JOB_REQ, media.AGGREGATION_JOB_INIT_REQ,
              media.AGGREGATE_SHARE_REQ):
    schemathesis.serializer.alias(_type, "application/octet-stream")
