"""Frames to observed exchanges: link/IP/TCP decoding, defragmentation, TCP reassembly, each
connection's protocol (HTTP/1.x, TLS ClientHello), request targets and bounded bodies.

The lowest layer (docs/architecture.md): it imports nothing of ``discovery`` but the shared
vocabulary (``models``, ``stats``, ``errors``). Raw values, secrets included, pass through here
untouched; ``discovery.redact`` is where they are let go.
"""
