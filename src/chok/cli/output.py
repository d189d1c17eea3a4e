"""Printing for the CLI: human lines or JSON, and one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from chok.protocol.display import json_text


def json_dumps(data: Any, indent: int | None = None) -> str:
    """JSON with the exact strings, unsafe characters (bidi, invisible) as escapes."""
    return json_text(json.dumps(data, ensure_ascii=False, indent=indent, default=str))


def emit_json(data: Any) -> None:
    click.echo(json_dumps(data, indent=2))


def info(line: str) -> None:
    """Progress and notes go to stderr so stdout stays clean for scripts."""
    click.echo(line, err=True)


def warn(message: str) -> None:
    click.echo(f"chok: warning: {message}", err=True)


def fail(message: str, code: int) -> None:
    click.echo(f"chok: error: {message}", err=True)
    sys.exit(code)


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
