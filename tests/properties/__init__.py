"""Property-based and fuzz tests (issue 11): fast variants run in ``make test``; the
``test_fuzz_*`` variants are marked slow and run many more examples under ``make fuzz``."""
