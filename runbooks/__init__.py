"""Runbook format, engine, actions and audit log. Headless: never imports ``textual`` or ``ir_console``."""
