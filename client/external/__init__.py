"""Edits nobody typed in an editor: the file watcher, the on-disk scan and git's ignore rules."""
