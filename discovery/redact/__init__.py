"""Observed exchange to stored exchange: the secret boundary.

The only code that ever holds a raw secret: credential detection, keyed fingerprints and
redacted forms, the sensitive-data scan of body prefixes. What leaves this package carries
fingerprints, redacted forms and non-secret facts only (docs/architecture.md).
"""
