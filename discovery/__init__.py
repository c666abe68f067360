"""Everything from bytes to evidence: sources, parsing, credentials, templating, the case file.

Headless: never imports ``textual`` or ``ir_console``.
"""

from discovery import compiled as _compiled

_compiled.choose()  # the compiled build, or the sources when it is stale or IR_CONSOLE_PURE=1
