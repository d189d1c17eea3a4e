"""`chok admin serve`: hand bundles over on the local network, by link and QR code."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

import click

from chok.cli.output import emit_json, info
from chok.errors import UsageError
from chok.home import subdir
from chok.provision import handover, qr, service
from chok.provision.server import BundleServer, Offer, lan_address, parse_duration


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@click.command("serve")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: any free port).")
@click.option("--host", help="Address in the links (default: this machine's LAN address).")
@click.option("--bind", help="Address to listen on (default: --host if it is an address).")
@click.option("--ttl", default="15m", show_default=True, help="How long each link works.")
@click.option(
    "--qr-dir",
    type=click.Path(path_type=Path),
    help="Where to write the PNG/SVG QR codes (default: $CHOK_HOME/serve).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the outcome as JSON on stdout (links and QR codes go to stderr).",
)
def serve_cmd(
    names: tuple[str, ...],
    port: int,
    host: str | None,
    bind: str | None,
    ttl: str,
    qr_dir: Path | None,
    as_json: bool,
) -> None:
    """Offer NAMEs' bundles (default: everyone's) once each, by encrypted link.

    Each person gets a link (and its QR code) that works once and expires;
    its secret part never crosses the network. On their machine:
    `chok join 'LINK'`. Stops by itself when every bundle was fetched or
    expired, or on Ctrl-C.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    ttl_s = parse_duration(ttl)
    chosen = list(names) or [u.name for u in service.list_users() if not u.revoked]
    if not chosen:
        raise UsageError("nobody to serve: add people with `chok admin add-user NAME`")
    bundles = [service.get_bundle(name) for name in dict.fromkeys(chosen)]
    host = host or lan_address()
    bind = bind or (host if _is_ip(host) else "0.0.0.0")
    say = info if as_json else click.echo

    def on_event(offer: Offer) -> None:
        if offer.state == "fetched":
            say(f"{offer.user}: bundle fetched by {offer.fetched_from}")
        else:
            say(f"{offer.user}: link expired, not fetched")

    server = BundleServer(bind, port, ttl_s, on_event)
    images_dir = qr_dir or subdir("serve")
    written: list[Path] = []
    try:
        server.start()
        for bundle, record in bundles:
            offer = server.offer(record.name, handover.seal(bundle.to_zip()), host)
            written += qr.write_images(offer.link, images_dir, f"{record.name}-link")
            say(f"\n{record.name}: chok join '{offer.link}'")
            say(qr.terminal(offer.link))
        say(f"QR codes also in {images_dir} (deleted when this stops)")
        say(f"serving on {bind}:{server.port} for {ttl}; Ctrl-C to stop")
        offers = server.wait()
    finally:
        server.stop()
        for path in written:
            path.unlink(missing_ok=True)
        if qr_dir is None:
            with contextlib.suppress(OSError):
                images_dir.rmdir()  # only when empty
    if as_json:
        emit_json([o.summary() for o in offers])
        return
    fetched = sum(1 for o in offers if o.state == "fetched")
    click.echo(f"done: {fetched} of {len(offers)} bundles fetched")
