"""The registered repositories and every call to git."""
