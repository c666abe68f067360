"""Where the tests find the checkout and their fixtures, wherever a test module sits."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout
FIXTURES = ROOT / "tests" / "fixtures"
