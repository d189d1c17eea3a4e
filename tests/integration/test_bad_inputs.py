# ruff: noqa: E501  (a table reads best one case per line)
"""The bad-input table (issue 9): every command, fed what a person or a script
gets wrong, answers with one line on stderr and the exit code docs/usage.md
documents, never a traceback, and leaves no file behind in CHOK_HOME or the
output folders.

Most cases need no broker: they run against a person whose broker address
is closed (so a case that wrongly connects fails with exit 6) and against an
admin home whose registry knows channels and people. The cases that need the
real broker are grouped around the session ``cluster`` fixture. Each group
runs its processes four at a time (tests/bad_inputs.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from chok import pki
from chok.codec import write_wav
from chok.protocol.bundle import Bundle
from chok.protocol.client_config import ChannelConfig, ClientConfig
from chok.provision import local, registry, service
from tests.bad_inputs import Bench, Case, Outcome, case, check, plant_profile
from tests.conftest import LocalCluster, run_chok
from tests.fs_helpers import SmallDisk, can_mount, small_disk
from tests.provision_helpers import unique

NOW = dt.datetime.now(dt.UTC)
LINK_TOKEN = "A" * 22
LINK_KEY = "B" * 43
SPEECH = "{files}/tone.wav"


def _person_cases() -> list[Case]:
    p = {"home": "person"}
    listen = ("listen", "--no-play")
    talk = ("talk", "--file", SPEECH)
    return [
        case("timeline-since-bad", "timeline", "--since", "5x", code=2, words="--since", **p),
        case("timeline-since-negative", "timeline", "--since", "-1h", code=2, words="--since", **p),
        case("channel-not-member", "timeline", "-c", "9", code=7, words="not a member", **p),
        case("channel-zero", "timeline", "-c", "0", code=2, words="channel", **p),
        case("channel-negative", "timeline", "-c", "-3", code=2, words="channel", **p),
        case("channel-text", "timeline", "-c", "one", code=2, words="one", **p),
        case("channel-huge", "listen", "-c", "9" * 20, code=2, words="channel", **p),
        case("listen-timeout-nan", *listen, "--timeout", "nan", code=2, words="--timeout", **p),
        case("listen-timeout-inf", *listen, "--timeout", "inf", code=2, words="--timeout", **p),
        case("listen-timeout-negative", *listen, "--timeout", "-5", code=2, words="--timeout", **p),
        case("listen-timeout-zero", *listen, "--timeout", "0", code=2, words="--timeout", **p),
        case("listen-timeout-huge", *listen, "--timeout", "1e12", code=2, words="--timeout", **p),
        case("listen-timeout-text", *listen, "--timeout", "soon", code=2, words="soon", **p),
        case("listen-count-zero", *listen, "--count", "0", code=2, words="--count", **p),
        case("listen-count-negative", *listen, "--count", "-2", code=2, words="--count", **p),
        case("listen-count-text", *listen, "--count", "two", code=2, words="two", **p),
        case("listen-count-huge", *listen, "--count", "9" * 30, code=2, words="--count", **p),
        case("listen-save-a-file", *listen, "--save", SPEECH, code=2, words="--save", **p),
        case("listen-save-read-only", *listen, "--save", "{ro}/saves", code=4, words="read-only", **p),
        case("listen-save-read-only-dir", *listen, "--save", "{ro}/drop", code=4, words="read-only", **p),
        case("talk-seconds-zero", "talk", "--seconds", "0", code=2, words="--seconds", **p),
        case("talk-seconds-negative", "talk", "--seconds", "-1", code=2, words="--seconds", **p),
        case("talk-seconds-nan", "talk", "--seconds", "nan", code=2, words="--seconds", **p),
        case("talk-seconds-inf", "talk", "--seconds", "inf", code=2, words="--seconds", **p),
        case("talk-seconds-too-long", "talk", "--seconds", "3601", code=2, words="--seconds", **p),
        case("talk-file-and-seconds", *talk, "--seconds", "3", code=2, words="either", **p),
        case("talk-file-missing", "talk", "--file", "{files}/no.wav", code=8, words="not found", **p),
        case("talk-file-folder", "talk", "--file", "{files}", code=8, words="folder", **p),
        case("talk-file-garbage", "talk", "--file", "{files}/garbage.wav", code=8, words="FFmpeg", **p),
        case("talk-file-empty", "talk", "--file", "{files}/empty.wav", code=8, words="FFmpeg", **p),
        case("talk-file-text", "talk", "--file", "{files}/notes.txt", code=8, words="cannot read", **p),
        case("talk-frame-ms", *talk, "--frame-ms", "30", code=2, words="30", **p),
        case("talk-bitrate-text", *talk, "--bitrate", "fast", code=2, words="fast", **p),
        case("talk-bitrate-zero", *talk, "--bitrate", "0", code=2, words="--bitrate", **p),
        case("talk-bitrate-huge", *talk, "--bitrate", "9999999", code=2, words="--bitrate", **p),
        case("talk-wait-nan", *talk, "--wait", "nan", code=2, words="--wait", **p),
        case("talk-wait-negative", *talk, "--wait", "-1", code=2, words="--wait", **p),
        case("play-id-text", "play", "abc", code=2, words="abc", **p),
        case("play-id-negative", "play", "--", "-5", code=2, words="-5", **p),
        case("play-id-huge", "play", "9" * 25, code=2, words="9999", **p),
        case("play-out-mp3", "play", "1", "--out", "{out}/x.mp3", code=2, words=".wav", **p),
        case("play-out-missing-folder", "play", "1", "--out", "{out}/no/x.wav", code=2, words="does not exist", **p),
        case("export-mp3", "export", "1", "{out}/x.mp3", code=2, words=".wav", **p),
        case("export-no-suffix", "export", "1", "{out}/x", code=2, words=".wav", **p),
        case("export-missing-folder", "export", "1", "{out}/no/such/x.wav", code=2, words="does not exist", **p),
        case("export-read-only", "export", "1", "{ro}/drop/x.wav", code=4, words="read-only", **p),
        case("export-onto-a-folder", "export", "1", "{files}/folder.wav", code=2, words="folder", **p),
        case("export-id-text", "export", "x", "{out}/a.wav", code=2, words="x", **p),
        case("react-not-emoji", "react", "1", "smile", code=2, words="not a single emoji", **p),
        case("react-two-emoji", "react", "1", "👍👍", code=2, words="not a single emoji", **p),
        case("react-empty", "react", "1", "", code=2, words="not a single emoji", **p),
        case("react-bidi", "react", "1", "\u202e", code=2, words="not a single emoji", **p),
        case("react-escape", "react", "1", "\x1b[31m", code=2, words="not a single emoji", **p),
        case("react-too-long", "react", "1", "👨‍👩‍👧‍👦", code=2, words="not a single emoji", **p),
        case("react-id-text", "react", "one", "👍", code=2, words="one", **p),
        case("whoami-bad-option", "whoami", "--everything", code=2, words="--everything", **p),
        case("profile-traversal", "--profile", "../../etc", "whoami", code=2, words="profile name", **p),
        case("profile-ghost", "--profile", "ghost", "timeline", code=3, words="ghost", **p),
        case("join-other-identity", "join", "{files}/other-pat.chok", code=2, words="already exists", **p),
    ]  # fmt: skip


def _no_profile_cases() -> list[Case]:
    return [
        case("unknown-command", "frobnicate", code=2, words="frobnicate"),
        case("unknown-option", "talk", "--bogus", code=2, words="--bogus"),
        case("missing-argument", "play", code=2, words="ID"),
        case("whoami-no-profile", "whoami", code=3, words="chok join"),
        case("timeline-no-profile", "timeline", code=3, words="chok join"),
        case("listen-no-profile", "listen", "--no-play", code=3, words="chok join"),
        case("talk-no-profile", "talk", "--file", SPEECH, code=3, words="chok join"),
        case("play-no-profile", "play", "1", code=3, words="chok join"),
        case("export-no-profile", "export", "1", "{out}/a.wav", code=3, words="chok join"),
        case("react-no-profile", "react", "1", "like", code=3, words="chok join"),
        case("damaged-state", "profiles", code=3, words="damaged", home="damaged"),
        case("broker-bad-port", "broker", "start", "--port", "abc", code=2, words="abc"),
    ]


def _join_cases() -> list[Case]:
    f = "{files}"
    return [
        case("join-missing-file", "join", f"{f}/nope.chok", code=2, words="no such file"),
        case("join-a-folder", "join", f, code=2, words="directory"),
        case("join-not-zip", "join", f"{f}/not-zip.chok", code=2, words="not a zip"),
        case("join-empty-file", "join", f"{f}/empty.chok", code=2, words="not a zip"),
        *[
            case(f"join-lacks-{m}", "join", f"{f}/lacks-{m}.chok", code=2, words=f"lacks {m}")
            for m in ("kafka_config.json", "ca.pem", "client.pem", "client.key")
        ],
        case("join-bad-json", "join", f"{f}/bad-json.chok", code=2, words="kafka_config.json"),
        case("join-json-list", "join", f"{f}/json-list.chok", code=2, words="kafka_config.json"),
        case("join-no-broker", "join", f"{f}/no-broker.chok", code=2, words="brokerUrl"),
        case("join-bad-broker", "join", f"{f}/bad-broker.chok", code=2, words="brokerUrl"),
        case("join-no-channels", "join", f"{f}/no-channels.chok", code=2, words="channels"),
        case("join-cert-not-pem", "join", f"{f}/cert-not-pem.chok", code=2, words="client.pem"),
        case("join-key-not-pem", "join", f"{f}/key-not-pem.chok", code=2, words="client.key"),
        case("join-key-mismatch", "join", f"{f}/key-mismatch.chok", code=2, words="private key"),
        case("join-foreign-ca", "join", f"{f}/foreign-ca.chok", code=2, words="not issued by"),
        case("join-expired", "join", f"{f}/expired.chok", code=2, words="expired on"),
        case("join-not-yet-valid", "join", f"{f}/future.chok", code=2, words="not valid yet"),
        case("join-other-name", "join", f"{f}/other-name.chok", code=2, words="issued to"),
        case("join-huge-member", "join", f"{f}/huge.chok", code=2, words="implausibly large"),
        case("join-evil-user", "join", f"{f}/evil-user.chok", code=2, words="profile name"),
        case("join-bad-name", "join", f"{f}/good.chok", "--name", "a b", code=2, words="profile name"),
        case("join-stdin-not-link", "join", "-", code=2, words="standard input", stdin="hi\n"),
        case("join-link-no-key", "join", f"http://127.0.0.1:1/bundle/{LINK_TOKEN}", code=2, words="secret part"),
        case("join-link-bad-token", "join", "http://127.0.0.1:1/bundle/xyz#AAAA", code=2, words="damaged"),
        case("join-link-wrong-path", "join", "http://127.0.0.1:1/other#x", code=2, words="not a chok bundle link"),
        case("join-link-closed-port", "join", f"http://127.0.0.1:1/bundle/{LINK_TOKEN}#{LINK_KEY}", code=2, words="cannot reach"),
    ]  # fmt: skip


def _admin_cases() -> list[Case]:
    a = {"home": "admin"}
    add = ("admin", "add-user")
    names = {
        "space": ("al ice", "name"),
        "bang": ("bob!", "name"),
        "empty": ("", "empty"),
        "65-long": ("x" * 65, "64"),
        "dot": ("dan.o", "name"),
        "umlaut": ("ü", "name"),
        "dash-rf": ("-rf", "'-'"),
        "dash": ("-", "'-'"),
        "slash": ("a/b", "name"),
        "traversal": ("../x", "name"),
        "newline": ("a\nb", "name"),
        "reserved-admin": ("chok-admin", "reserved"),
        "reserved-anonymous": ("ANONYMOUS", "reserved"),
        "59-long": ("y" * 59, "too long"),
    }
    return [
        *[case(f"add-user-{k}", *add, "--", n, code=2, words=w, **a) for k, (n, w) in names.items()],
        case("add-user-existing", *add, "gina", code=2, words="already exists", **a),
        case("add-user-channels-zero", *add, "hal", "--channels", "0", code=2, words="--channels", **a),
        case("add-user-channels-text", *add, "hal", "--channels", "one", code=2, words="--channels", **a),
        case("add-user-channels-unknown", *add, "hal", "--channels", "7", code=2, words="no channel 7", **a),
        case("add-user-channels-empty", *add, "hal", "--channels", ",", code=2, words="--channels", **a),
        case("revoke-ghost", "admin", "revoke-user", "ghost", code=9, words="ghost", **a),
        case("get-bundle-ghost", "admin", "get-bundle", "ghost", code=9, words="ghost", **a),
        case("rotate-ghost", "admin", "rotate-user", "ghost", code=9, words="ghost", **a),
        case("grant-ghost", "admin", "grant", "ghost", "1", code=9, words="ghost", **a),
        case("grant-no-channel", "admin", "grant", "gina", "9", code=9, words="no channel", **a),
        case("deny-only-channel", "admin", "deny", "solo", "1", code=2, words="only channel", **a),
        case("deny-bad-name", "admin", "deny", "a b", "1", code=2, words="name", **a),
        case("add-channel-empty", "admin", "add-channel", "", code=2, words="channel name", **a),
        case("add-channel-digits", "admin", "add-channel", "123", code=2, words="digits", **a),
        case("add-channel-newline", "admin", "add-channel", "a\nb", code=2, words="printable", **a),
        case("add-channel-long", "admin", "add-channel", "c" * 65, code=2, words="64", **a),
        case("add-channel-duplicate", "admin", "add-channel", "main", code=2, words="already", **a),
        case("init-channels-zero", "admin", "init", "--channels", "0", code=2, words="--channels", **a),
        case("init-channels-51", "admin", "init", "--channels", "51", code=2, words="--channels", **a),
        case("init-kafka-no-config", "admin", "init", "--backend", "kafka", code=2, words="--admin-config", **a),
        case("init-aiven-no-project", "admin", "init", "--backend", "aiven", code=2, words="--project", **a),
        case("init-host-kafka", "admin", "init", "--backend", "kafka", "--admin-config", "{files}/x.properties", "--host", "h", code=2, words="--host", **a),
        case("init-kafka-missing-config", "admin", "init", "--backend", "kafka", "--admin-config", "{files}/none.properties", code=2, words="none.properties"),
        case("serve-bad-ttl", "admin", "serve", "--ttl", "forever", code=2, words="forever", **a),
        case("serve-bad-port", "admin", "serve", "--port", "abc", code=2, words="abc", **a),
        case("android-assets-ghost", "admin", "android-assets", "ghost", "{out}", code=9, words="ghost", **a),
    ]  # fmt: skip


def _disk_cases() -> list[Case]:
    ro = {"copy_home": False}
    return [
        case("ro-bare-join", "join", "{files}/good.chok", code=4, words="read-only", home="ro-bare", **ro),
        case("ro-person-join", "join", "{files}/good.chok", "--name", "again", code=4, words="read-only", home="ro-person", **ro),
        case("ro-admin-add-user", "admin", "add-user", "newbie", code=4, words="read-only", home="ro-admin", **ro),
        case("ro-admin-add-channel", "admin", "add-channel", "Kids", code=4, words="read-only", home="ro-admin", **ro),
        case("ro-admin-revoke", "admin", "revoke-user", "gina", code=4, words="read-only", home="ro-admin", **ro),
        case("full-join", "join", "{files}/good.chok", code=4, words="full", home="full", **ro),
    ]  # fmt: skip


OFFLINE_CASES = [*_no_profile_cases(), *_join_cases(), *_person_cases(), *_admin_cases()]
DISK_CASES = _disk_cases()


# -- preparation --------------------------------------------------------------------------


def _config(user: str | None, broker: str = "localhost:1", **extra: object) -> ClientConfig:
    extras: dict[str, object] = {"chokUser": user, "chokVersion": 1} if user else {}
    return ClientConfig(
        broker_url=broker,
        channels=[ChannelConfig.standard(1, "Main")],
        extras={**extras, **extra},
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _without(bundle: Bundle, key: str) -> bytes:
    config = json.loads(bundle.config.to_json())
    del config[key]
    return json.dumps(config).encode()


def _with_value(bundle: Bundle, key: str, value: object) -> bytes:
    return json.dumps({**json.loads(bundle.config.to_json()), key: value}).encode()


def _bundles(files: Path) -> None:
    ca = pki.create_ca()
    pat = pki.issue(ca, "pat")
    good = Bundle(_config("pat"), ca.cert_pem, pat.cert_pem, pat.key_pem)
    members = dict(
        zip(
            ("kafka_config.json", "ca.pem", "client.pem", "client.key"),
            (good.config.to_json(), good.ca_pem, good.cert_pem, good.key_pem),
            strict=True,
        )
    )

    def issued(cn: str, **kw: object) -> Bundle:
        other = pki.issue(ca, cn, **kw)  # type: ignore[arg-type]
        return replace(good, cert_pem=other.cert_pem, key_pem=other.key_pem)

    made = {
        "good": good.to_zip(),
        "not-zip": b"PK? not really",
        "empty": b"",
        "bad-json": _zip({**members, "kafka_config.json": b"{not json"}),
        "json-list": _zip({**members, "kafka_config.json": b"[1, 2]"}),
        "no-broker": _zip({**members, "kafka_config.json": _without(good, "brokerUrl")}),
        "bad-broker": _zip(
            {**members, "kafka_config.json": good.config.to_json().replace(b"localhost:1", b"x y")}
        ),
        "no-channels": _zip({**members, "kafka_config.json": _with_value(good, "channels", [])}),
        "cert-not-pem": _zip({**members, "client.pem": b"hello"}),
        "key-not-pem": _zip({**members, "client.key": b"hello"}),
        "key-mismatch": replace(good, key_pem=pki.issue(ca, "pat").key_pem).to_zip(),
        "foreign-ca": replace(good, ca_pem=pki.create_ca().cert_pem).to_zip(),
        "expired": issued("pat", not_before=NOW - dt.timedelta(days=9), days=1).to_zip(),
        "future": issued("pat", not_before=NOW + dt.timedelta(days=3)).to_zip(),
        "other-name": issued("bob").to_zip(),
        "huge": _zip({**members, "ca.pem": b"-----BEGIN CERTIFICATE-----" + b"A" * (2 << 20)}),
        "evil-user": replace(issued("../evil"), config=_config("../evil")).to_zip(),
        "other-pat": replace(good, config=_config("pat", broker="elsewhere:9093")).to_zip(),
    }
    for member in ("kafka_config.json", "ca.pem", "client.pem", "client.key"):
        made[f"lacks-{member}"] = _zip({k: v for k, v in members.items() if k != member})
    for name, data in made.items():
        (files / f"{name}.chok").write_bytes(data)
    plant = files.parent / "person"
    plant_profile(plant, good, "pat")


def _inputs(files: Path) -> None:
    t = np.arange(48000) / 48000
    write_wav(files / "tone.wav", (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16))
    (files / "garbage.wav").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    (files / "empty.wav").write_bytes(b"")
    (files / "notes.txt").write_text("not audio at all\n")
    (files / "folder.wav").mkdir()
    (files / "x.properties").write_text("bootstrap.servers=localhost:1\n")


def _admin_home(home: Path) -> None:
    from chok.home import write_atomic

    reg = registry.Registry(backend="local", bootstrap="localhost:1")
    reg.channels = [registry.ChannelRecord(1, "Main"), registry.ChannelRecord(2, "Secondary")]
    for name, channels in (("gina", [1, 2]), ("solo", [1])):
        reg.users.append(registry.UserRecord(name, channels, "2026-01-01", "2029-01-01", "ab"))
    write_atomic(home / "cluster" / "registry.json", json.dumps(asdict(reg)).encode())


def _prepare(root: Path, ro: SmallDisk, full: SmallDisk) -> Bench:
    files = root / "files"
    files.mkdir()
    _bundles(files)
    _inputs(files)
    (root / "damaged").mkdir()
    (root / "damaged" / "state.json").write_text('{"default": "pa')
    _admin_home(root / "admin")
    for source, target in ((root / "person", "person"), (root / "admin", "admin")):
        shutil.copytree(source, ro.path / target)
    (ro.path / "drop").mkdir()
    ro.read_only()
    (full.path / "home").mkdir()
    (full.path / "drop").mkdir()
    full.fill()
    homes = {
        "person": root / "person",
        "admin": root / "admin",
        "damaged": root / "damaged",
        "ro-person": ro.path / "person",
        "ro-admin": ro.path / "admin",
        "ro-bare": ro.path / "no-home",
        "full": full.path / "home",
    }
    places = {"files": files, "ro": ro.path, "full": full.path}
    return Bench(root, homes, places, watched=[ro.path, full.path, files])


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("bad-inputs")
    if not can_mount():
        pytest.skip("the read-only and full disks need root to mount")
    with small_disk(root / "ro", "1m") as ro, small_disk(root / "full", "128k") as full:
        yield _prepare(root, ro, full)


@pytest.fixture(scope="module")
def offline(bench: Bench) -> dict[str, Outcome]:
    return bench.run_all([*OFFLINE_CASES, *DISK_CASES])


@pytest.mark.parametrize("c", [*OFFLINE_CASES, *DISK_CASES], ids=lambda c: c.id)
def test_bad_input_without_a_broker(c: Case, offline: dict[str, Outcome]) -> None:
    check(c, offline[c.id])


def test_the_table_is_large_enough() -> None:
    assert len(OFFLINE_CASES) + len(DISK_CASES) + len(BROKER_CASES) >= 100
    ids = [c.id for c in (*OFFLINE_CASES, *DISK_CASES, *BROKER_CASES)]
    assert len(ids) == len(set(ids))


# -- cases that need the real broker ------------------------------------------------------

BROKER_CASES = [
    case("play-no-such-id", "play", "999999999", code=9, words="999999999", home="member"),
    case("export-no-such-id", "export", "999999999", "{out}/a.wav", code=9, words="999999999", home="member"),
    case("react-no-such-id", "react", "999999999", "👍", code=9, words="999999999", home="member"),
    case("play-huge-id", "play", str(2**63 - 1), code=9, words="9223372036854775807", home="member"),
    case("channel-of-someone-else", "timeline", "-c", "2", code=7, words="not a member", home="member"),
    case("export-wav-disk-full", "export", "{id}", "{nearly}/drop/a.wav", code=4, words="full", home="member"),
    case("export-ogg-disk-full", "export", "{id}", "{full}/drop/a.ogg", code=4, words="full", home="member"),
    case("play-out-disk-full", "play", "{id}", "--out", "{nearly}/drop/b.wav", code=4, words="full", home="member"),
    case("revoked-timeline", "timeline", code=7, words="revoked", home="revoked"),
    case("revoked-react", "react", "{id}", "👍", code=7, words="revoked", home="revoked"),
    case("revoked-talk", "talk", "--file", SPEECH, "--fast", code=7, words="revoked", home="revoked"),
    case("foreign-ca-timeline", "timeline", code=7, words="refused your certificate", home="foreign"),
    case("foreign-ca-listen", "listen", "--no-play", code=7, words="refused your certificate", home="foreign"),
    case("add-user-out-read-only", "admin", "add-user", "{newname}1", "--out", "{ro}/drop", code=4, words="read-only", home="admin-live", copy_home=False),
    case("add-user-out-full", "admin", "add-user", "{newname}2", "--out", "{full}/drop", code=4, words="full", home="admin-live", copy_home=False),
    case("add-user-out-missing", "admin", "add-user", "{newname}3", "--out", "{out}/no/x.chok", code=2, words="does not exist", home="admin-live", copy_home=False),
    case("get-bundle-out-read-only", "admin", "get-bundle", "{member}", "--out", "{ro}/drop", code=4, words="read-only", home="admin-live", copy_home=False),
    case("android-assets-read-only", "admin", "android-assets", "{member}", "{ro}/drop", code=4, words="read-only", home="admin-live", copy_home=False),
]  # fmt: skip


@pytest.fixture(scope="module")
def live(bench: Bench, cluster: LocalCluster) -> Iterator[dict[str, Outcome]]:
    member = unique("member")
    bundle, _ = local.add_user(member, [1], force=False)
    plant_profile(bench.root / "member", bundle, member)
    gone = unique("gone")
    revoked, _ = local.add_user(gone, [1], force=False)
    plant_profile(bench.root / "revoked", revoked, gone)
    service.revoke_user(gone)
    stranger = pki.issue(pki.create_ca(), member)
    plant_profile(bench.root / "foreign", replace(bundle, cert_pem=stranger.cert_pem,
                                                  key_pem=stranger.key_pem), member)  # fmt: skip
    said = run_chok("talk", "--file", str(bench.places["files"] / "tone.wav"), "--fast", "--json",
                    home=bench.root / "member")  # fmt: skip
    assert said.code == 0, said.err
    with small_disk(bench.root / "nearly", "64k") as nearly:
        (nearly.path / "drop").mkdir()
        nearly.fill(leave=24 * 1024)  # room for a part of the file, not all of it
        live_bench = Bench(
            bench.root / "live",
            {**bench.homes, "member": bench.root / "member", "revoked": bench.root / "revoked",
             "foreign": bench.root / "foreign", "admin-live": cluster.home},
            {**bench.places, "nearly": nearly.path, "id": str(json.loads(said.out)["id"]),
             "newname": unique("nobody"), "member": member},
            watched=[*bench.watched, nearly.path],
            home_roots={"admin-live": [cluster.home / "cluster", cluster.home / "profiles"]},
        )  # fmt: skip
        yield live_bench.run_all(BROKER_CASES)


@pytest.mark.broker
@pytest.mark.parametrize("c", BROKER_CASES, ids=lambda c: c.id)
def test_bad_input_with_the_broker(c: Case, live: dict[str, Outcome]) -> None:
    check(c, live[c.id])


# -- the documentation says what the table checks ------------------------------------------

USAGE = Path(__file__).resolve().parents[2] / "docs" / "usage.md"


def test_every_exit_code_of_the_table_is_in_the_usage_guide() -> None:
    import re

    documented = {int(n) for n in re.findall(r"^\| (\d+) \|", USAGE.read_text(), re.M)}
    used = {c.code for c in (*OFFLINE_CASES, *DISK_CASES, *BROKER_CASES)}
    assert used <= documented, used - documented


def test_the_usage_guide_gives_the_default_bitrate_of_talk_help() -> None:
    from chok.codec import DEFAULT_BITRATE

    shown = run_chok("talk", "--help").out
    assert f"[default: {DEFAULT_BITRATE};" in " ".join(shown.split())
    assert f"{DEFAULT_BITRATE} bit/s" in " ".join(USAGE.read_text().split())
