"""The bundle hand-over: sealing, the link format, the once-only server (loopback only)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from chok.errors import BadBundleError, PortInUseError, UsageError
from chok.provision import handover
from chok.provision.server import BundleServer, parse_duration

PAYLOAD = b"PK\x03\x04 pretend this is a bundle zip with -----BEGIN PRIVATE KEY-----"


def _no_proxy_get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_seal_and_open_round_trip() -> None:
    sealed = handover.seal(PAYLOAD)
    link = handover.parse_link(sealed.link("127.0.0.1", 8080))
    assert link.token == sealed.token and link.key == sealed.key
    assert handover.open_sealed(sealed.blob, link) == PAYLOAD


def test_link_format() -> None:
    sealed = handover.seal(PAYLOAD)
    url = sealed.link("192.0.2.10", 8080)
    base, _, fragment = url.partition("#")
    assert base == f"http://192.0.2.10:8080/bundle/{sealed.token}"
    assert len(sealed.token) == 22 and len(fragment) == 43
    assert "[2001:db8::1]:80/" in sealed.link("2001:db8::1", 80)
    # What is actually requested never holds the key.
    assert fragment not in handover.parse_link(url).url


def test_ciphertext_holds_nothing_readable() -> None:
    sealed = handover.seal(PAYLOAD)
    assert b"PRIVATE KEY" not in sealed.blob and b"PK\x03\x04" not in sealed.blob
    assert sealed.blob.startswith(handover.MAGIC)


def test_wrong_key_or_tampering_fails_cleanly() -> None:
    sealed = handover.seal(PAYLOAD)
    other = handover.seal(PAYLOAD)
    wrong_key = handover.parse_link(
        f"http://h:1/bundle/{sealed.token}#{other.link('h', 1).split('#')[1]}"
    )
    with pytest.raises(BadBundleError, match="could not be decrypted"):
        handover.open_sealed(sealed.blob, wrong_key)
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    with pytest.raises(BadBundleError, match="could not be decrypted"):
        handover.open_sealed(bytes(flipped), handover.parse_link(sealed.link("h", 1)))
    # A blob only opens under the token it was sealed for.
    swapped = handover.parse_link(
        f"http://h:1/bundle/{other.token}#{sealed.link('h', 1).split('#')[1]}"
    )
    with pytest.raises(BadBundleError):
        handover.open_sealed(sealed.blob, swapped)
    with pytest.raises(BadBundleError, match="not answer with a chok bundle"):
        handover.open_sealed(b"<html>hello</html>", handover.parse_link(sealed.link("h", 1)))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ftp://h/bundle/x#y", "not a chok bundle link"),
        ("http://h:1/other/AAAAAAAAAAAAAAAAAAAAAA#x", "path"),
        ("http://h:1/bundle/AAAAAAAAAAAAAAAAAAAAAA", "lacks its secret"),
        ("http://h:1/bundle/AAAAAAAAAAAAAAAAAAAAAA#short", "secret part is damaged"),
        ("http://h:1/bundle/AAAA#" + "A" * 43, "address is damaged"),
    ],
)
def test_bad_links(text: str, words: str) -> None:
    with pytest.raises(BadBundleError, match=words):
        handover.parse_link(text)


def _serve(ttl: float) -> tuple[BundleServer, handover.Sealed, str, list[str]]:
    events: list[str] = []
    server = BundleServer("127.0.0.1", 0, ttl, lambda o: events.append(f"{o.user}:{o.state}"))
    sealed = handover.seal(PAYLOAD)
    link = server.offer("alice", sealed, "127.0.0.1").link
    server.start()
    return server, sealed, link, events


def test_server_hands_a_bundle_out_once() -> None:
    server, _sealed, link, events = _serve(60)
    try:
        assert handover.fetch(handover.parse_link(link)) == PAYLOAD
        assert _no_proxy_get(link.split("#")[0]) == (410, b"")
        with pytest.raises(BadBundleError, match="already used or has expired"):
            handover.fetch(handover.parse_link(link))
        port = server.port
        assert _no_proxy_get(f"http://127.0.0.1:{port}/bundle/{'B' * 22}")[0] == 404
        assert _no_proxy_get(f"http://127.0.0.1:{port}/")[0] == 404
        offers = server.wait(deadline_s=5)
        assert [o.summary() for o in offers] == [
            {"user": "alice", "state": "fetched", "fetched_from": "127.0.0.1"}
        ]
        assert events == ["alice:fetched"]
    finally:
        server.stop()


def test_racing_requests_get_the_bundle_once() -> None:
    server, _, link, _ = _serve(60)
    results: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda: results.append(_no_proxy_get(link.split("#")[0])[0]))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results) == [200] + [410] * 7
    finally:
        server.stop()


def test_unfetched_link_expires_and_server_stops_by_itself() -> None:
    server, _, link, events = _serve(0.5)
    try:
        began = time.monotonic()
        offers = server.wait(deadline_s=10)
        assert time.monotonic() - began < 5
        assert [o.state for o in offers] == ["expired"]
        assert events == ["alice:expired"]
        assert _no_proxy_get(link.split("#")[0])[0] == 410
    finally:
        server.stop()


def test_server_reports_a_busy_port() -> None:
    first = BundleServer("127.0.0.1", 0, 60)
    try:
        with pytest.raises(PortInUseError, match=f"port {first.port}"):
            BundleServer("127.0.0.1", first.port, 60)
    finally:
        first.stop()


def test_fetch_from_a_dead_server_is_a_clear_error() -> None:
    server = BundleServer("127.0.0.1", 0, 60)
    port = server.port
    server.stop()
    link = handover.seal(PAYLOAD).link("127.0.0.1", port)
    with pytest.raises(BadBundleError, match="cannot reach the bundle server"):
        handover.fetch(handover.parse_link(link), timeout=5)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5m", "0", "2d", "25h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
