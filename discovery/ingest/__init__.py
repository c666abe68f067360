"""Putting inputs into the case: files (any format, read in child processes when that pays) and
live capture, each converted at the secret boundary and written in batches, then analysed
(docs/architecture.md)."""
