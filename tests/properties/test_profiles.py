"""The hypothesis profiles: derandomized by default, many more examples under ``make fuzz``."""

from __future__ import annotations

import os

from hypothesis import settings


def test_the_profile_comes_from_the_environment() -> None:
    current = settings()
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        assert current.max_examples >= 5000
        assert current.deadline is None
    else:
        assert current.derandomize
        assert current.max_examples <= 100
