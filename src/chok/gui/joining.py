"""Joining from the app: a bundle file, or a one-time link from `chok admin serve`.

Pure logic (no Qt), run on a worker thread: what the person dropped, pasted
or picked becomes a ``Bundle`` checked like `chok join` checks it
(``profiles.check_bundle``), or a ``BadBundleError`` whose text
says what is wrong in words a person understands.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from chok import profiles
from chok.errors import BadBundleError, UsageError
from chok.protocol.bundle import Bundle, read_bundle
from chok.provision import handover

MAX_BUNDLE_BYTES = 4 << 20


def as_path(text: str) -> Path | None:
    """A local file named by a path or a file:// URL; None for a link."""
    text = text.strip().strip('"').strip("'")
    if not text or handover.is_link(text):
        return None
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(text).expanduser()


def bundle_from_text(text: str) -> Bundle:
    """A pasted or dropped text: a one-time link, or a path to a bundle file."""
    text = text.strip().strip('"').strip("'")
    if not text:
        raise BadBundleError("paste the join link or the path of your .chok file first")
    if handover.is_link(text):
        data = handover.fetch(handover.parse_link(text))
        return profiles.check_bundle(read_bundle(data, "the downloaded bundle"))
    path = as_path(text)
    assert path is not None
    return bundle_from_file(path)


def bundle_from_file(path: Path) -> Bundle:
    try:
        if not path.is_file():
            raise BadBundleError(f"there is no file {path}")
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BadBundleError(f"{path.name} is far too large to be a chok bundle")
        data = path.read_bytes()
    except OSError as exc:
        raise BadBundleError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return profiles.check_bundle(read_bundle(data, path.name))


class NameTaken(UsageError):
    """A profile with the bundle's name exists for someone else."""


def install(bundle: Bundle, replace: bool) -> profiles.Profile:
    try:
        return profiles.install(bundle, None, force=replace)
    except UsageError as exc:
        if "already exists" in exc.message and not replace:
            raise NameTaken(
                f"this computer already has a profile named '{bundle.user}' "
                "for another person or cluster"
            ) from exc
        raise
