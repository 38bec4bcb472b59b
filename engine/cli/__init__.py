"""The `hotline` command line: one click group, one module per command group, no business logic."""
