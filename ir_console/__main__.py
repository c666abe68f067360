"""``python -m ir_console``."""

from ir_console.cli import main

if __name__ == "__main__":
    main()
