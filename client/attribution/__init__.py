"""From keys to outcomes: commit attribution, survival, session outcomes and pricing."""
