"""Maintenance commands, run as `uv run python -m app.commands.<name>`."""
