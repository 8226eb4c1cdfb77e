"""The weekly private report: metrics from the local store, DP noise, budget ledger, upload."""
