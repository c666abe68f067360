"""The user's surfaces: the ``ir-console`` CLI and the Textual console."""

__version__ = "0.1.0"
