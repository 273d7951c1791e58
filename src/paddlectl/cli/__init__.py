"""The Typer layer: one module per command or command group. Each parses, calls one core function, renders."""
