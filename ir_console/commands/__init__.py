"""One module per command (or command group); imported only when that command runs."""
