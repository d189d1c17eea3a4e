"""`chok timeline`, `chok play`, `chok export`, `chok react`: the recordings."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import click

from chok.channel import family
from chok.channel.archive import entry_packets
from chok.channel.cache import TimelineCache
from chok.channel.family_service import write_heard
from chok.channel.incoming import FrameCheck
from chok.channel.reactions import toggle_reaction
from chok.channel.session import ChannelSession
from chok.channel.store import Store
from chok.channel.timeline import Entry, parse_since
from chok.cli.common import (
    RECORDING_ID,
    channel_option,
    device_option,
    json_option,
    profile_and_store,
    session_from,
)
from chok.cli.output import emit_json, info
from chok.codec import EXPORT_SUFFIXES, OpusDecoder, decode_packets, export
from chok.codec.tempo import Tempo, change_tempo, check_speed
from chok.errors import NotFoundError, UsageError
from chok.home import check_writable
from chok.protocol.display import (
    UNKNOWN,
    iso_time,
    moment_local,
    safe_emoji,
    seconds_text,
)
from chok.protocol.heard import HeardIndex
from chok.protocol.names import validate_emoji
from chok.protocol.people import shown


def entry_json(
    entry: Entry, names: family.Names | None = None, heard: HeardIndex | None = None
) -> dict[str, Any]:
    tx = entry.transmission
    names = names or family.Names()
    heard_by = heard.heard_by(tx.start_offset, tx.end_offset, tx.user_id) if heard else []
    return {
        "id": entry.id,
        "end_offset": tx.end_offset,
        "user": tx.user_id,
        "display_name": names.display(tx.user_id) or tx.display_name,
        "timestamp_ms": tx.timestamp_ms,
        "time": iso_time(tx.timestamp_ms),  # null when the record's time is no date
        "duration_ms": tx.duration_ms,
        "frames": tx.frames,
        "reactions": entry.reactions,
        "audio_available": entry.audio_available,
        "archived": entry.archived,
        "chok_client": tx.has_talk_details,
        "authenticity": entry.authenticity.status,
        "authenticity_reason": entry.authenticity.reason,
        "heard_by": heard_by,
        "heard_by_names": [names.of(user) for user in heard_by],
    }


#: How the human timeline marks an entry's authenticity (protocol.md, 9.8).
MARKS = {"verified": "\u2713", "unsigned": " ", "forged": "\u26a0"}


def _when(timestamp_ms: int) -> str:
    moment = moment_local(timestamp_ms)
    if moment is None:
        return UNKNOWN
    today = dt.datetime.now().date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M")


def _reactions_text(reactions: dict[str, list[str]]) -> str:
    return " ".join(f"{safe_emoji(emoji)}{len(names)}" for emoji, names in reactions.items())


@click.command("timeline")
@channel_option
@click.option(
    "--since",
    default="24h",
    show_default=True,
    metavar="1h|6h|24h|7d|all",
    help="How far back to look.",
)
@click.option(
    "--suspicious",
    is_flag=True,
    help="Also list forged recordings (someone else's signature, or none that holds).",
)
@json_option
@click.pass_obj
def timeline_cmd(
    obj: dict[str, Any], channel: int | None, since: str, suspicious: bool, as_json: bool
) -> None:
    """List the channel's recordings, newest first.

    ID is what `chok play`, `chok export` and `chok react` take. "expired"
    means the broker's retention has already removed that recording's audio.
    A check mark: signed by the person named (verified). No mark: not signed
    (the Android app, an older chok). Forged recordings (a signature that does
    not hold, or someone writing in another's name) are hidden unless you ask
    with --suspicious, and then marked with a warning sign.
    """
    window = parse_since(since)
    session = session_from(obj, channel)
    profile, store = profile_and_store(obj)
    began = time.monotonic()
    # The family's names and heard ranges are read beside the timeline, not after.
    people = threading.Thread(
        target=family.refresh_family, args=(profile.credentials, profile.user, store), daemon=True
    )
    people.start()
    timeline = TimelineCache(session, store).timeline(window)
    timeline.judge_all()
    took = time.monotonic() - began
    people.join(15)
    names, heard = family.Names.of_store(store), family.heard_index(store, session.number)
    if as_json:
        emit_json([entry_json(e, names, heard) for e in timeline.entries])
        return
    forged = [e for e in timeline.entries if e.authenticity.forged]
    listed = timeline.entries if suspicious else [e for e in timeline.entries if e not in forged]
    if not listed:
        click.echo(f"no recordings on channel {session.number} in the last {since}")
        return
    click.echo(f"{'ID':>8}    {'WHO':<16} {'WHEN':<16} {'LENGTH':>7}  REACTIONS / HEARD BY")
    for entry in listed:
        tx = entry.transmission
        audio = (
            ""
            if entry.audio_available
            else ("  (archived)" if entry.archived else "  (audio expired)")
        )
        by = heard.heard_by(tx.start_offset, tx.end_offset, tx.user_id)
        heard_text = f"  heard by {', '.join(shown(names.of(u), 16) for u in by)}" if by else ""
        who = shown(names.of(tx.user_id, tx.display_name), 16)
        verdict = entry.authenticity
        warning = f"  FORGED: {verdict.reason}" if verdict.forged else ""
        click.echo(
            f"{entry.id:>8}  {MARKS[verdict.status]} {who:<16} {_when(tx.timestamp_ms):<16} "
            f"{seconds_text(tx.duration_ms, 's'):>7}  "
            f"{_reactions_text(entry.reactions)}{heard_text}{audio}{warning}"
        )
    if forged and not suspicious:
        info(f"{len(forged)} suspicious recording(s) hidden: see them with --suspicious")
    info(f"{len(timeline.entries)} recording(s), loaded in {took * 1000:.0f} ms")


def _warn_if_forged(entry: Entry, reason: str | None) -> None:
    if reason is not None:
        who = entry.transmission.user_id
        info(f"warning: recording {entry.id} is forged ({reason}): it may not be {who}'s")


def _warn_about_audio(entry: Entry, check: FrameCheck) -> None:
    """Forged audio under a record that verified: a frame altered, added or dropped."""
    if not check.read:
        return  # played from this machine's archive: its frames are not read again
    record = entry.authenticity
    audio = check.verdict(record, entry.signed)
    if record.verified and audio.forged:
        _warn_if_forged(entry, audio.reason)


def _find(
    obj: dict[str, Any], channel: int | None, tx_id: int
) -> tuple[ChannelSession, Store, Entry]:
    session = session_from(obj, channel)
    _, store = profile_and_store(obj)
    entry = TimelineCache(session, store).timeline().find(tx_id)
    if not entry.audio_available and not entry.archived:
        raise NotFoundError(
            f"the audio of recording {tx_id} has expired (removed by the channel's retention)",
            hint="`chok archive` keeps recordings on this machine before they expire",
        )
    return session, store, entry


@click.command("play")
@click.argument("tx_id", metavar="ID", type=RECORDING_ID)
@channel_option
@device_option
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE (.wav/.ogg) instead.")
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    metavar="X",
    help="Play X times as fast, the pitch kept (1.5, 2; also for --out FILE.wav).",
)
@click.pass_obj
def play_cmd(
    obj: dict[str, Any],
    tx_id: int,
    channel: int | None,
    device: str | None,
    out: Path | None,
    speed: float,
) -> None:
    """Replay recording ID (only its own frames, even if someone talked over it).

    --speed 1.5 or 2 plays faster with the voice's pitch kept (libavfilter's
    atempo). With --out, a .wav is written at that speed; .ogg/.opus keep
    the exact packets and so only the recording's own speed.
    """
    check_speed(speed)
    if out is not None:
        if speed != 1.0 and out.suffix.lower() != ".wav":
            raise UsageError("--speed with --out needs a .wav file (.ogg keeps the exact packets)")
        _export(obj, channel, tx_id, out, speed)
        return
    from chok.audio import open_output

    session, store, entry = _find(obj, channel, tx_id)
    _warn_if_forged(entry, entry.authenticity.reason if entry.authenticity.forged else None)
    decoder = OpusDecoder(entry.transmission.frame_ms)
    check = FrameCheck()
    tempo = Tempo(speed)
    with open_output(device) as speaker:
        played = 0
        for packet in entry_packets(session, store, entry, check):
            speaker.write(tempo.process(decoder.decode(packet)))
            played += 1
        speaker.write(tempo.flush())
        speaker.drain()
    _warn_about_audio(entry, check)
    tx = entry.transmission
    write_heard(session, store, tx.start_offset, tx.end_offset)  # played to its end
    who = shown(family.Names.of_store(store).of(tx.user_id, tx.display_name))
    seconds = played * frame_seconds(entry)
    at = "" if speed == 1.0 else f" at {speed:g}x ({seconds / speed:.1f} s)"
    click.echo(f"played {who}'s {seconds:.1f} s{at}")


def frame_seconds(entry: Entry) -> float:
    return entry.transmission.frame_ms / 1000


def _export(
    obj: dict[str, Any], channel: int | None, tx_id: int, path: Path, speed: float = 1.0
) -> None:
    # Refuse a bad target before fetching anything.
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"cannot export to '{path.name}': use a .wav, .ogg or .opus file name")
    check_writable(path, "export to")
    session, store, entry = _find(obj, channel, tx_id)
    _warn_if_forged(entry, entry.authenticity.reason if entry.authenticity.forged else None)
    check = FrameCheck()
    packets = list(entry_packets(session, store, entry, check))
    if not packets:
        raise NotFoundError(f"recording {tx_id} has no audio frames on the broker")
    _warn_about_audio(entry, check)
    seconds = len(packets) * frame_seconds(entry)
    if speed != 1.0:
        pcm = change_tempo(decode_packets(packets, entry.transmission.frame_ms), speed)
        export(path, pcm)
        click.echo(f"wrote {path} ({seconds:.1f} s at {speed:g}x: {pcm.size / 48000:.1f} s)")
        return
    export(path, packets, frame_ms=entry.transmission.frame_ms)
    click.echo(f"wrote {path} ({len(packets)} frames, {seconds:.1f} s)")


@click.command("export")
@click.argument("tx_id", metavar="ID", type=RECORDING_ID)
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@channel_option
@click.pass_obj
def export_cmd(obj: dict[str, Any], tx_id: int, path: Path, channel: int | None) -> None:
    """Save recording ID to FILE: .ogg/.opus (the exact Opus packets) or .wav."""
    _export(obj, channel, tx_id, path)


SHORTCUTS = {"like": "👍", "love": "❤️", "heart": "❤️", "fire": "🔥"}


@click.command("react")
@click.argument("tx_id", metavar="ID", type=RECORDING_ID)
@click.argument("emoji")
@channel_option
@json_option
@click.pass_obj
def react_cmd(
    obj: dict[str, Any], tx_id: int, emoji: str, channel: int | None, as_json: bool
) -> None:
    """Toggle your EMOJI reaction (👍 ❤️ 🔥, or any emoji) on recording ID.

    \b
    Shortcuts: like = 👍, love = ❤️, fire = 🔥
    """
    emoji = validate_emoji(
        {"like": "👍", "love": "❤️", "heart": "❤️", "fire": "🔥"}.get(emoji, emoji)
    )
    session = session_from(obj, channel)
    result = toggle_reaction(session, tx_id, emoji)
    if result.map_problem is not None:
        info(result.map_problem)
    if as_json:
        emit_json({"id": tx_id, "emoji": emoji, "on": result.on, "reactions": result.reactions})
        return
    verb = "added" if result.on else "removed"
    now = _reactions_text(result.reactions) or "no reactions"
    click.echo(f"{verb} {safe_emoji(emoji)} on {tx_id}: {now}")
