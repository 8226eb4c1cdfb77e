"""Secure mode: the leader and helper of DAP draft-18 over Prio3, in one program.

`tasks` (provisioning), `upload` (leader), `jobs` (helper) and `driver` (leader) for
aggregation, `batches` (both), `collection` and `aggregate_shares` (collection at the leader
and the helper), `collector` (opening the shares into a release), `routes` (HTTP), and
`model` (the report schema, noise and estimates seam).
"""
