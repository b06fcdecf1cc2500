"""Revision scripts: the original's two revisions, then ours on top."""
