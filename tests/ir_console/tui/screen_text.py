"""Read what a running app put on the terminal: the rendered strips' text and styles."""

from __future__ import annotations

from textual.app import App
from textual.strip import Strip


def strips(app: App[object]) -> list[Strip]:
    """The composed lines of the current screen (what the terminal is sent)."""
    return app.screen._compositor.render_strips()


def screen_lines(app: App[object]) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in strips(app)]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))
