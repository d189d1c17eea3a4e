"""Handing a bundle over the local network: encrypted, once, with the key in the link.

Link format (version 1)::

    http://HOST:PORT/bundle/TOKEN#KEY

- ``TOKEN``: 16 random bytes, base64url without padding (22 characters). It
  names the offer; it is unguessable, but an eavesdropper sees it.
- ``KEY``: 32 random bytes, base64url without padding (43 characters), the
  AES-256-GCM key. It sits in the URL *fragment*, which HTTP clients never
  send, so it exists only in the link (terminal, QR code) and never on the
  wire.
- The server answers ``GET /bundle/TOKEN`` once with the sealed bundle::

      "CHOK-BUNDLE-1\\n" | nonce (12 bytes) | AES-256-GCM(KEY, nonce, zip, aad)

  where ``aad`` is the magic line followed by the token, so a sealed bundle
  opens only under the link it was made for. A person who watches the
  network gets the ciphertext and the token, never a key; someone who
  tampers with the answer makes decryption fail instead of planting a
  bundle of their own.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chok.errors import BadBundleError

MAGIC = b"CHOK-BUNDLE-1\n"
PATH_PREFIX = "/bundle/"
TOKEN_BYTES = 16
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_SEALED_BYTES = 4 << 20
FETCH_TIMEOUT_S = 20.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str, size: int, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadBundleError(f"the link's {what} is damaged: copy the whole link") from exc
    if len(raw) != size:
        raise BadBundleError(f"the link's {what} is damaged: copy the whole link")
    return raw


def _aad(token: str) -> bytes:
    return MAGIC + token.encode()


@dataclass(frozen=True)
class Sealed:
    """One offer: its token, its key and the bytes the server hands out."""

    token: str
    key: bytes
    blob: bytes

    def link(self, host: str, port: int) -> str:
        return f"http://{_url_host(host)}:{port}{PATH_PREFIX}{self.token}#{_b64(self.key)}"


def seal(bundle_zip: bytes) -> Sealed:
    token = _b64(secrets.token_bytes(TOKEN_BYTES))
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    blob = MAGIC + nonce + AESGCM(key).encrypt(nonce, bundle_zip, _aad(token))
    return Sealed(token, key, blob)


def _url_host(host: str) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


@dataclass(frozen=True)
class Link:
    url: str  # without the fragment: what is actually requested
    token: str
    key: bytes


def is_link(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def parse_link(text: str) -> Link:
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadBundleError("not a chok bundle link (expected http://HOST:PORT/bundle/...)")
    if not parts.path.startswith(PATH_PREFIX):
        raise BadBundleError("not a chok bundle link (its path is not /bundle/...)")
    token = parts.path[len(PATH_PREFIX) :]
    _unb64(token, TOKEN_BYTES, "address")
    if not parts.fragment:
        raise BadBundleError("the link lacks its secret part (after '#'): copy the whole link")
    key = _unb64(parts.fragment, KEY_BYTES, "secret part")
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return Link(url, token, key)


def open_sealed(blob: bytes, link: Link) -> bytes:
    """The bundle zip inside a sealed blob; BadBundleError when it does not open."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise BadBundleError("the server did not answer with a chok bundle")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(link.key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], _aad(link.token))
    except InvalidTag as exc:
        raise BadBundleError(
            "the bundle could not be decrypted: the link is damaged or the answer was altered"
        ) from exc


def fetch(link: Link, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """Download a sealed bundle (the fragment is never sent) and open it."""
    # No proxies: the bundle server is on the local network, and a proxy has
    # no business seeing even the ciphertext.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    where = urllib.parse.urlsplit(link.url).netloc
    try:
        with opener.open(link.url, timeout=timeout) as response:
            blob = response.read(MAX_SEALED_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            raise BadBundleError(
                "this link was already used or has expired", hint="ask your admin for a new one"
            ) from exc
        raise BadBundleError(f"the bundle server at {where} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise BadBundleError(
            f"cannot reach the bundle server at {where}",
            hint="is `chok admin serve` still running, and are you on the same network?",
        ) from exc
    if len(blob) > MAX_SEALED_BYTES:
        raise BadBundleError("the bundle server sent far more than a bundle")
    return open_sealed(blob, link)
