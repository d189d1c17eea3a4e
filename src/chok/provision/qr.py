"""QR codes of bundle links (segno): for the terminal, and PNG/SVG files.

A link's QR code carries its secret key, so the image files are written
0600 and ``chok admin serve`` deletes them when it stops.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno

from chok.home import write_private


def terminal(link: str) -> str:
    """The QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(link, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def write_images(link: str, directory: Path, stem: str) -> list[Path]:
    """Write STEM.png and STEM.svg (0600) and return their paths."""
    code = segno.make(link, error="m")
    paths = []
    for kind, scale in (("png", 8), ("svg", 8)):
        buf = io.BytesIO()
        code.save(buf, kind=kind, scale=scale, border=4)
        path = directory / f"{stem}.{kind}"
        write_private(path, buf.getvalue())
        paths.append(path)
    return paths
