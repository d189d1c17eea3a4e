"""`chok demo`: the whole walkie-talkie on the embedded broker, for a newcomer.

Two people are provisioned and joined; bob tunes in; alice talks (a shipped
speech sample, in real time); bob hears it live and saves it, reacts, the
timeline is shown, and bob replays the recording. Every step says what it does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chok import profiles
from chok.audio.base import AudioOutput, FileInput, NullOutput
from chok.channel.capture import Capture
from chok.channel.live import Event, TalkEnded, TalkStarted
from chok.channel.push_to_talk import talk_once
from chok.channel.reactions import toggle_reaction
from chok.channel.recorder import SaveDir
from chok.channel.replay import replay_frames
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession, open_session
from chok.channel.talk import Talker, TalkResult
from chok.channel.timeline import Entry, load_timeline
from chok.codec import OpusDecoder, sample_speech_path
from chok.errors import ChokError
from chok.home import subdir
from chok.protocol.bundle import read_bundle
from chok.protocol.display import safe_emoji, safe_text, seconds_text
from chok.provision import local, registry

Say = Callable[[str], None]
PEOPLE = ("bob", "alice")  # alice joins last: she is the default profile afterwards


@dataclass
class DemoResult:
    bootstrap: str
    saved: list[Path] = field(default_factory=list)
    entry: Entry | None = None
    tune_in_ms: float = 0.0
    first_frame_ms: float | None = None


def _profile(name: str, say: Say) -> profiles.Profile:
    """Provision and join NAME, reusing an earlier demo's certificate."""
    if registry.load().user(name) is not None and name in profiles.names():
        say(f"  {name}: already provisioned and joined (reused)")
        return profiles.load(name)
    bundle, record = local.add_user(name, None, force=True)
    profile = profiles.install(read_bundle(bundle.to_zip()), name, force=True)
    say(f"  {name}: certificate issued, ACLs on channels {record.channels}, bundle joined")
    return profile


def run_demo(say: Say, speaker: AudioOutput | None = None) -> DemoResult:
    say("1. starting the local Kafka broker (mTLS, ACLs) and creating the channels")
    init = local.init([], 2, lambda line: say(f"   {line}"))
    result = DemoResult(init.bootstrap)
    say(
        f"   broker at {init.bootstrap}; channels: "
        + ", ".join(f"{c.number} {c.name}" for c in init.channels)
    )
    say("2. provisioning two people")
    bob_profile, alice_profile = (_profile(name, say) for name in PEOPLE)
    bob, alice = open_session(bob_profile), open_session(alice_profile)
    saver = SaveDir(subdir("demo"))
    heard = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, TalkStarted):
            say(f"   bob hears: {event.talker} is talking...")
        path = saver.feed(event)
        if isinstance(event, TalkEnded):
            say(f"   bob heard {event.talker} for {event.duration_ms / 1000:.1f} s")
        if path is not None:
            result.saved.append(path)
            heard.set()

    say("3. bob tunes in to channel 1")
    service = ListenService(bob, on_event=on_event).start()
    result.tune_in_ms = (service.tune_in_s or 0) * 1000
    say(f"   tuned in in {result.tune_in_ms:.0f} ms")
    try:
        say("4. alice talks (a speech sample, in real time)")
        talk = _talk_sample(alice)
        if not heard.wait(30):
            raise ChokError("bob did not hear alice within 30 s")
    finally:
        service.stop()
    say(f"   saved what bob heard: {result.saved[-1]}")
    assert talk.transmission is not None
    tx_id = talk.transmission.start_offset
    say("5. bob reacts with 👍")
    toggle_reaction(bob, tx_id, "👍")
    say("6. the timeline of channel 1 (newest first)")
    for entry in load_timeline(bob).entries[:5]:
        tx = entry.transmission
        # Channel 1 is everyone's: what others wrote is shown safely.
        reactions = " ".join(f"{safe_emoji(e)}{len(n)}" for e, n in entry.reactions.items())
        who, length = safe_text(tx.user_id, 16), seconds_text(tx.duration_ms, "s")
        say(f"   {entry.id:>6}  {who:<8} {length:>6}  {reactions}")
    result.entry = load_timeline(bob).find(tx_id)
    say(f"7. bob replays recording {tx_id}")
    result.first_frame_ms = _replay(bob, result.entry, speaker or NullOutput())
    say(f"   first frame decoded {result.first_frame_ms:.0f} ms after asking")
    return result


def _talk_sample(alice: ChannelSession) -> TalkResult:
    """One press that lasts as long as the sample: chok talk --file's way."""
    source = Capture(lambda: FileInput(sample_speech_path(), realtime=True))
    return talk_once(source, lambda: Talker(alice))


def _replay(session: ChannelSession, entry: Entry, speaker: AudioOutput) -> float:
    decoder = OpusDecoder(entry.transmission.frame_ms)
    began = time.monotonic()
    first: float | None = None
    with speaker:
        for frame in replay_frames(session, entry.transmission):
            pcm = decoder.decode(frame.packet)
            if first is None:
                first = (time.monotonic() - began) * 1000
            speaker.write(pcm)
        speaker.drain(30)
    return first or 0.0
