"""Registration point for commands of the experiment, report and calibration layers."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the commands whose layers are installed."""
    _ = group
