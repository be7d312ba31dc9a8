"""The ``windmaker`` command line (Typer)."""
