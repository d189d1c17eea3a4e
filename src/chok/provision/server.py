"""The bundle server of ``chok admin serve``: each sealed bundle once, until it expires.

An ``http.server`` in a background thread. ``GET /bundle/TOKEN`` answers the
sealed bundle the first time (200), then 410 Gone; unknown paths get 404 and
nothing is listed. An offer is marked fetched *before* its bytes are sent,
so two racing requests never both get it. The server keeps no log of paths
(the token would land in it) and stops by itself once every offer was
fetched or expired.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chok.errors import PortInUseError, UsageError
from chok.provision.handover import PATH_PREFIX, Sealed

DEFAULT_TTL_S = 15 * 60


@dataclass
class Offer:
    user: str
    sealed: Sealed
    link: str
    expires_at: float  # time.monotonic()
    state: str = "waiting"  # "waiting" | "fetched" | "expired"
    fetched_from: str | None = None

    def summary(self) -> dict[str, Any]:
        """What may be shown anywhere: no token, no key, no link."""
        return {"user": self.user, "state": self.state, "fetched_from": self.fetched_from}


Event = Callable[[Offer], None]


class BundleServer:
    def __init__(self, bind: str, port: int, ttl_s: float, on_event: Event | None = None) -> None:
        if ttl_s <= 0:
            raise UsageError("--ttl must be positive")
        self._ttl = ttl_s
        self._on_event = on_event or (lambda _offer: None)
        self._offers: dict[str, Offer] = {}
        self._changed = threading.Condition()
        try:
            self._httpd = ThreadingHTTPServer((bind, port), self._handler_class())
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise PortInUseError(
                    f"port {port} is already in use", hint="pick another with --port"
                ) from exc
            raise UsageError(f"cannot listen on {bind}:{port} ({exc.strerror})") from exc
        self._httpd.daemon_threads = True
        self._started = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def offer(self, user: str, sealed: Sealed, host: str) -> Offer:
        offer = Offer(user, sealed, sealed.link(host, self.port), time.monotonic() + self._ttl)
        with self._changed:
            self._offers[sealed.token] = offer
        return offer

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def wait(self, deadline_s: float | None = None) -> list[Offer]:
        """Block until every offer was fetched or expired (or deadline_s passed)."""
        stop_at = None if deadline_s is None else time.monotonic() + deadline_s
        with self._changed:
            while True:
                self._expire_locked()
                waiting = [o for o in self._offers.values() if o.state == "waiting"]
                if not waiting:
                    break
                now = time.monotonic()
                if stop_at is not None and now >= stop_at:
                    break
                wake = min(o.expires_at for o in waiting)
                if stop_at is not None:
                    wake = min(wake, stop_at)
                self._changed.wait(timeout=max(0.05, wake - now))
            return list(self._offers.values())

    def stop(self) -> None:
        if self._started:  # shutdown() would wait forever for a loop never begun
            self._httpd.shutdown()
        self._httpd.server_close()

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for offer in self._offers.values():
            if offer.state == "waiting" and now >= offer.expires_at:
                offer.state = "expired"
                self._on_event(offer)

    def _take(self, token: str, client: str) -> tuple[int, bytes]:
        with self._changed:
            self._expire_locked()
            offer = self._offers.get(token)
            if offer is None:
                return 404, b""
            if offer.state != "waiting":
                return 410, b""
            offer.state, offer.fetched_from = "fetched", client
            self._changed.notify_all()
        self._on_event(offer)
        return 200, offer.sealed.blob

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "chok"
            sys_version = ""

            def do_GET(self) -> None:
                status, body = 404, b""
                if self.path.startswith(PATH_PREFIX):
                    token = self.path[len(PATH_PREFIX) :].split("?", 1)[0]
                    status, body = server._take(token, self.client_address[0])
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines hold tokens: never logged

        return Handler


def lan_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # connect() on UDP only picks a route; 192.0.2.1 is a documentation address.
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '15m' or '1h'."""
    value = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(value[-1:])
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError as exc:
        raise UsageError(f"'{text}' is not a duration (e.g. 90s, 15m, 1h)") from exc
    if not 0 < seconds <= 24 * 3600:
        raise UsageError(f"'{text}' must be more than 0 and at most 24h")
    return seconds
