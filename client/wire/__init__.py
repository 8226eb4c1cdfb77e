"""The wire format both sides import: the report schema and the signed, sealed envelope."""
