"""Reading files, role inference and dataset versions."""
