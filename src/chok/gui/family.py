"""The family for the desktop app: members and their dots, display names,
heard-by, the channels the admin lets this person use, and the archive setting.

``FamilyModel`` runs chok's ``FamilyService`` (its own thread) and turns what
it reads into signals on the UI thread. One per window, whatever the channel.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from chok import profiles
from chok.channel import access, family
from chok.channel.archive import ArchiveResult, archive_channel
from chok.channel.family_service import FamilyService
from chok.channel.session import ChannelSession
from chok.channel.store import Store
from chok.gui.tasks import TaskRunner, UiCaller
from chok.profiles import Profile
from chok.protocol.client_config import ChannelConfig
from chok.protocol.heard import HeardIndex

ARCHIVE_KEY = "archive"  # per profile in chok's state file: keep every recording here
PRESENCE_REDRAW_MS = 15_000  # "online" turns into "last seen" without any record arriving


class FamilyModel(QObject):
    membersChanged = Signal(list)  # list[family.Member], by user name
    heardChanged = Signal()
    namesChanged = Signal()
    channelsChanged = Signal(list)  # list[ChannelConfig]: what the admin lets us use now
    message = Signal(str, bool)
    archived = Signal(object)  # ArchiveResult

    def __init__(self, profile: Profile, announce: bool = True) -> None:
        super().__init__()
        self.profile = profile
        self.store = Store.for_profile(profile)
        self.ui = UiCaller(self)
        self.tasks = TaskRunner(self, max_threads=2)
        self.names = family.Names.of_store(self.store)
        self.members: list[family.Member] = family.members(self.store)
        self.service = FamilyService(
            profile, self.store, on_change=self._changed_elsewhere, announce=announce
        )
        self._archiving = False
        self._closed = False
        self._redraw = QTimer(self)
        self._redraw.setInterval(PRESENCE_REDRAW_MS)
        self._redraw.timeout.connect(self._members)

    def start(self) -> None:
        self.service.start()
        self._redraw.start()

    # -- what the family says ----------------------------------------------------------

    def _changed_elsewhere(self, kinds: set[str]) -> None:
        """(Family thread) something arrived: reread it on the UI thread."""
        self.ui.post(lambda: self._changed(kinds))

    def _changed(self, kinds: set[str]) -> None:
        if "members" in kinds:
            self.names = family.Names.of_store(self.store)
            self._members()
            self.namesChanged.emit()
        if "heard" in kinds:
            self.heardChanged.emit()
        if "access" in kinds:
            self.channelsChanged.emit(list(self.channels()))

    def _members(self) -> None:
        self.members = family.members(self.store, int(time.time() * 1000))
        self.membersChanged.emit(self.members)

    def channels(self) -> list[ChannelConfig]:
        return list(access.effective(self.profile, self.store).config.channels)

    def heard_index(self, channel: int) -> HeardIndex:
        return family.heard_index(self.store, channel)

    def name(self, user: str, recorded: str | None = None) -> str:
        return self.names.of(user, recorded)

    @property
    def my_name(self) -> str | None:
        return family.display_name_of(self.profile, self.store)

    # -- what this person does -------------------------------------------------------------

    def heard(self, channel: int, first: int, last: int) -> None:
        self.service.heard(channel, first, last)

    def set_display_name(self, name: str) -> None:
        def done(shown: str) -> None:
            self.names = family.Names.of_store(self.store)
            self.namesChanged.emit()
            self._members()
            self.message.emit(f"the family now sees you as {shown}", False)

        self.tasks.run(
            lambda: family.set_display_name(self.profile, self.store, name),
            done,
            lambda why: self.message.emit(f"could not change your name: {why}", True),
        )

    @property
    def archive_enabled(self) -> bool:
        return profiles.recall(self.profile.name, ARCHIVE_KEY) is True

    def set_archive(self, enabled: bool) -> None:
        profiles.remember(self.profile.name, ARCHIVE_KEY, enabled)

    def archive(self, session: ChannelSession) -> None:
        """Keep what is new on this channel, if the person wants an archive (one at a time)."""
        if not self.archive_enabled or self._archiving or self._closed:
            return
        self._archiving = True

        def done(result: ArchiveResult) -> None:
            self._archiving = False
            self.archived.emit(result)

        def failed(why: str) -> None:
            self._archiving = False
            self.message.emit(f"could not archive: {why}", True)

        self.tasks.run(lambda: archive_channel(session, self.store), done, failed)

    def close(self, wait_ms: int = 5000) -> None:
        if self._closed:
            return
        self._closed = True
        self._redraw.stop()
        self.service.stop(wait_ms / 1000)  # says "offline" before the app goes
        self.blockSignals(True)
        self.tasks.shutdown(wait_ms)
        self.ui.closed = True
