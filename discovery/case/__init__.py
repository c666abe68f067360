"""The case file: the SQLite store and its schema, the batched exchange writer, the audit log,
the blocklist, and the "analysis pending" mark (docs/architecture.md)."""
