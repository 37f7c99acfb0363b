"""Pure science: numpy/scipy functions with no I/O (see ARCHITECTURE.md)."""
