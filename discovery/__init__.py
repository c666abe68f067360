"""Everything from bytes to evidence: sources, parsing, credentials, templating, the case file.

Headless: never imports ``textual`` or ``ir_console``.
"""
